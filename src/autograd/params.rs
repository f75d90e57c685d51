//! The parameter store: every trainable tensor, named by path
//! (`encoder.layers.3.attn.qkv.weight`), with its gradient, in registration order.
//!
//! Values sit behind an `Arc` so that a tape can read them without copying
//! ([`super::Tape::param`]); writing through [`ParamStore::value_mut`] while a tape still
//! holds a parameter copies it first (copy-on-write), so the tape keeps the value it saw.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::tensor::Tensor;

/// Handle to one parameter of a [`ParamStore`] (its index in registration order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub(crate) usize);

impl ParamId {
    /// Position in the store's order.
    pub fn index(self) -> usize {
        self.0
    }
}

struct Param {
    name: String,
    value: Arc<Tensor>,
    grad: Tensor,
}

/// Named parameters and their gradients, iterated in registration order.
#[derive(Default)]
pub struct ParamStore {
    params: Vec<Param>,
    by_name: HashMap<String, ParamId>,
}

/// Why [`ParamStore::import`] or [`ParamStore::load`] refused a tensor set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    /// A tensor names no parameter of the model.
    Unknown { name: String },
    /// A parameter has no tensor in the set.
    Missing { name: String },
    /// The same name appears twice in the set.
    Duplicate { name: String },
    /// A tensor's shape differs from the parameter's.
    Shape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// A tensor's data length is not its shape's element count.
    Length {
        name: String,
        shape: Vec<usize>,
        len: usize,
    },
    /// A tensor's content is unusable (e.g. a step count that is not a whole number).
    Value { name: String, problem: String },
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::Unknown { name } => {
                write!(f, "tensor `{name}` is not a parameter of this model")
            }
            ParamError::Missing { name } => write!(f, "parameter `{name}` is missing"),
            ParamError::Duplicate { name } => write!(f, "tensor `{name}` appears twice"),
            ParamError::Shape {
                name,
                expected,
                found,
            } => {
                write!(
                    f,
                    "parameter `{name}` has shape {expected:?}, the tensor has {found:?}"
                )
            }
            ParamError::Length { name, shape, len } => {
                write!(f, "tensor `{name}` of shape {shape:?} has {len} values")
            }
            ParamError::Value { name, problem } => write!(f, "tensor `{name}`: {problem}"),
        }
    }
}

impl std::error::Error for ParamError {}

impl ParamStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a parameter with its initial value (gradient zero). Panics if the name is
    /// already taken.
    pub fn add(&mut self, name: impl Into<String>, value: Tensor) -> ParamId {
        let name = name.into();
        let id = ParamId(self.params.len());
        assert!(
            !self.by_name.contains_key(&name),
            "ParamStore::add: `{name}` is already registered"
        );
        self.by_name.insert(name.clone(), id);
        let grad = Tensor::zeros(value.shape());
        self.params.push(Param {
            name,
            value: Arc::new(value),
            grad,
        });
        id
    }

    /// The parameter called `name`, if any.
    pub fn id(&self, name: &str) -> Option<ParamId> {
        self.by_name.get(name).copied()
    }

    /// Number of parameter tensors.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Total number of scalar parameters.
    pub fn num_elements(&self) -> usize {
        self.params.iter().map(|p| p.value.numel()).sum()
    }

    /// All ids, in registration order.
    pub fn ids(&self) -> impl Iterator<Item = ParamId> + use<> {
        (0..self.params.len()).map(ParamId)
    }

    pub fn name(&self, id: ParamId) -> &str {
        &self.params[id.0].name
    }

    pub fn shape(&self, id: ParamId) -> &[usize] {
        self.params[id.0].value.shape()
    }

    pub fn value(&self, id: ParamId) -> &Tensor {
        &self.params[id.0].value
    }

    /// The value, for writing (copy-on-write if a tape still shares it).
    pub fn value_mut(&mut self, id: ParamId) -> &mut Tensor {
        Arc::make_mut(&mut self.params[id.0].value)
    }

    pub(crate) fn value_arc(&self, id: ParamId) -> Arc<Tensor> {
        Arc::clone(&self.params[id.0].value)
    }

    pub fn grad(&self, id: ParamId) -> &Tensor {
        &self.params[id.0].grad
    }

    pub fn grad_mut(&mut self, id: ParamId) -> &mut Tensor {
        &mut self.params[id.0].grad
    }

    /// `(value, grad)` of one parameter, the value writable: what an optimiser needs.
    pub fn value_and_grad_mut(&mut self, id: ParamId) -> (&mut Tensor, &Tensor) {
        let p = &mut self.params[id.0];
        (Arc::make_mut(&mut p.value), &p.grad)
    }

    /// Sets every gradient to zero.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.grad.data_mut().fill(0.0);
        }
    }

    /// `(id, name, value, grad)` for every parameter, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &str, &Tensor, &Tensor)> {
        self.params
            .iter()
            .enumerate()
            .map(|(i, p)| (ParamId(i), p.name.as_str(), &*p.value, &p.grad))
    }

    /// `(name, shape, data)` of every parameter, in registration order: what a weights
    /// file writer needs.
    pub fn export(&self) -> impl Iterator<Item = (&str, &[usize], &[f32])> {
        self.params
            .iter()
            .map(|p| (p.name.as_str(), p.value.shape(), p.value.data()))
    }

    /// Replaces the value of the parameter called `name`. Its shape must match.
    pub fn import(
        &mut self,
        name: &str,
        shape: &[usize],
        data: Vec<f32>,
    ) -> Result<(), ParamError> {
        let id = self.id(name).ok_or_else(|| ParamError::Unknown {
            name: name.to_string(),
        })?;
        check_tensor(name, self.shape(id), shape, data.len())?;
        *self.value_mut(id) = Tensor::new(shape, data);
        Ok(())
    }

    /// Replaces every parameter's value from a complete set of named tensors: each
    /// parameter exactly once, nothing unknown, shapes equal. Checks the whole set before
    /// changing anything, so on error the store is untouched.
    pub fn load(
        &mut self,
        tensors: impl IntoIterator<Item = (String, Vec<usize>, Vec<f32>)>,
    ) -> Result<(), ParamError> {
        let mut slots: Vec<Option<Tensor>> = vec![None; self.params.len()];
        for (name, shape, data) in tensors {
            let id = self
                .id(&name)
                .ok_or_else(|| ParamError::Unknown { name: name.clone() })?;
            check_tensor(&name, self.shape(id), &shape, data.len())?;
            if slots[id.0].replace(Tensor::new(&shape, data)).is_some() {
                return Err(ParamError::Duplicate { name });
            }
        }
        if let Some(i) = slots.iter().position(Option::is_none) {
            return Err(ParamError::Missing {
                name: self.params[i].name.clone(),
            });
        }
        for (p, t) in self.params.iter_mut().zip(slots) {
            p.value = Arc::new(t.expect("checked above"));
        }
        Ok(())
    }
}

fn check_tensor(
    name: &str,
    expected: &[usize],
    shape: &[usize],
    len: usize,
) -> Result<(), ParamError> {
    if expected != shape {
        return Err(ParamError::Shape {
            name: name.to_string(),
            expected: expected.to_vec(),
            found: shape.to_vec(),
        });
    }
    if crate::tensor::numel(shape) != len {
        return Err(ParamError::Length {
            name: name.to_string(),
            shape: shape.to_vec(),
            len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> ParamStore {
        let mut s = ParamStore::new();
        s.add("b.weight", Tensor::full(&[2, 3], 1.0));
        s.add("a.bias", Tensor::full(&[3], 2.0));
        s
    }

    #[test]
    fn export_keeps_registration_order_and_load_round_trips() {
        let s = store();
        let names: Vec<_> = s.export().map(|(n, _, _)| n.to_string()).collect();
        assert_eq!(names, ["b.weight", "a.bias"]);
        let saved: Vec<_> = s
            .export()
            .map(|(n, sh, d)| {
                (
                    n.to_string(),
                    sh.to_vec(),
                    d.iter().map(|x| x + 1.0).collect(),
                )
            })
            .collect();
        let mut t = store();
        t.load(saved).unwrap();
        assert_eq!(t.value(t.id("b.weight").unwrap()).data(), &[2.0; 6]);
        assert_eq!(t.value(t.id("a.bias").unwrap()).data(), &[3.0; 3]);
        assert_eq!(t.num_elements(), 9);
    }

    #[test]
    fn load_rejects_bad_sets_without_changing_anything() {
        let mut s = store();
        let good =
            |n: &str, sh: &[usize]| (n.to_string(), sh.to_vec(), vec![0.0; sh.iter().product()]);
        let cases = [
            (
                vec![good("b.weight", &[2, 3])],
                ParamError::Missing {
                    name: "a.bias".into(),
                },
            ),
            (
                vec![good("b.weight", &[3, 2]), good("a.bias", &[3])],
                ParamError::Shape {
                    name: "b.weight".into(),
                    expected: vec![2, 3],
                    found: vec![3, 2],
                },
            ),
            (
                vec![
                    good("b.weight", &[2, 3]),
                    good("a.bias", &[3]),
                    good("c", &[1]),
                ],
                ParamError::Unknown { name: "c".into() },
            ),
            (
                vec![good("a.bias", &[3]), good("a.bias", &[3])],
                ParamError::Duplicate {
                    name: "a.bias".into(),
                },
            ),
            (
                vec![("a.bias".to_string(), vec![3], vec![0.0; 2])],
                ParamError::Length {
                    name: "a.bias".into(),
                    shape: vec![3],
                    len: 2,
                },
            ),
        ];
        for (set, want) in cases {
            assert_eq!(s.load(set).unwrap_err(), want);
        }
        assert_eq!(
            s.value(ParamId(0)).data(),
            &[1.0; 6],
            "a failed load must not change values"
        );
        assert!(
            s.import("a.bias", &[4], vec![0.0; 4])
                .unwrap_err()
                .to_string()
                .contains("has shape [3], the tensor has [4]")
        );
    }

    /// Threads may share one store for inference, each with its own tape.
    #[test]
    fn store_is_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<ParamStore>();
    }

    #[test]
    #[should_panic(expected = "`a.bias` is already registered")]
    fn duplicate_registration_panics() {
        store().add("a.bias", Tensor::zeros(&[1]));
    }
}
