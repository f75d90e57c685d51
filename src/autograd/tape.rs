//! The tape (a Wengert list) and its variables.
//!
//! A [`Var`] is a cheap handle (reference-counted) to a value computed once. When an op's
//! output needs a gradient, the tape records one entry: the input slots, the output slot,
//! and a backward closure that captures exactly what it needs (the input handles, the
//! output, cached statistics). [`Tape::backward`] walks the entries in reverse and lets
//! each closure accumulate into its inputs' gradients. Without grad ([`Tape::no_grad`]) no
//! entry is recorded and nothing is captured, so intermediate values are freed as soon as
//! the caller drops their handles.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::params::{ParamId, ParamStore};
use crate::tensor::Tensor;

/// A value on a tape. Clone it freely: clones share the value.
#[derive(Clone)]
pub struct Var(Rc<Node>);

struct Node {
    value: Arc<Tensor>,
    /// Index into the tape's gradient slots; `None` if no gradient flows to this value.
    slot: Option<usize>,
    /// The tape the slot belongs to (slots of another tape would point at wrong gradients).
    tape: u64,
}

impl Var {
    pub fn value(&self) -> &Tensor {
        &self.0.value
    }
    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }
    pub fn data(&self) -> &[f32] {
        self.0.value.data()
    }
    /// The value of a one-element var (a loss).
    pub fn item(&self) -> f32 {
        self.0.value.item()
    }
    /// Whether a gradient flows to this value in [`Tape::backward`].
    pub fn requires_grad(&self) -> bool {
        self.0.slot.is_some()
    }
    pub(crate) fn slot(&self) -> Option<usize> {
        self.0.slot
    }
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Var(shape {:?}, slot {:?})", self.shape(), self.slot())
    }
}

/// A backward closure: given the output's gradient, accumulate (`+=`) into the gradients
/// of the inputs, one per input in order; `None` for an input that needs no gradient.
type BackwardFn = Box<dyn FnOnce(&Tensor, &mut [Option<&mut Tensor>])>;

struct Entry {
    /// The op's name, for messages.
    op: &'static str,
    out: usize,
    inputs: Vec<Option<usize>>,
    backward: BackwardFn,
}

/// Records ops for reverse-mode differentiation (or, in no-grad mode, only computes).
pub struct Tape {
    /// Unique per tape, to catch a var carried over from another tape.
    id: u64,
    grad_enabled: bool,
    /// Shape of each gradient slot, to create a zero gradient on first use.
    shapes: Vec<Vec<usize>>,
    grads: Vec<Option<Tensor>>,
    entries: Vec<Entry>,
    /// Which slots hold which parameters.
    params: Vec<(usize, ParamId)>,
}

impl Default for Tape {
    fn default() -> Self {
        Self::new()
    }
}

impl Tape {
    /// A tape that records ops for [`Tape::backward`].
    pub fn new() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Tape {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            grad_enabled: true,
            shapes: Vec::new(),
            grads: Vec::new(),
            entries: Vec::new(),
            params: Vec::new(),
        }
    }

    /// A tape for inference: the same op calls, but nothing is recorded or kept.
    pub fn no_grad() -> Self {
        Tape {
            grad_enabled: false,
            ..Self::new()
        }
    }

    pub fn grad_enabled(&self) -> bool {
        self.grad_enabled
    }

    /// Number of recorded entries (0 in no-grad mode, and after [`Tape::backward`]).
    pub fn num_entries(&self) -> usize {
        self.entries.len()
    }

    fn new_slot(&mut self, shape: &[usize]) -> usize {
        self.shapes.push(shape.to_vec());
        self.grads.push(None);
        self.grads.len() - 1
    }

    fn var(&mut self, value: Arc<Tensor>, needs_grad: bool) -> Var {
        let slot = (needs_grad && self.grad_enabled).then(|| self.new_slot(value.shape()));
        Var(Rc::new(Node {
            value,
            slot,
            tape: self.id,
        }))
    }

    /// A value that receives no gradient (data, targets, fixed tables).
    pub fn constant(&mut self, value: Tensor) -> Var {
        self.var(Arc::new(value), false)
    }

    /// A network input: the same as [`Tape::constant`].
    pub fn input(&mut self, value: Tensor) -> Var {
        self.constant(value)
    }

    /// A leaf that receives a gradient (read it with [`Tape::grad`]); for tests and for
    /// gradients with respect to inputs.
    pub fn leaf(&mut self, value: Tensor) -> Var {
        self.var(Arc::new(value), true)
    }

    /// Parameter `id` of `store`, shared without copying. Its gradient reaches the store
    /// through [`Tape::accumulate_param_grads`].
    pub fn param(&mut self, store: &ParamStore, id: ParamId) -> Var {
        let v = self.var(store.value_arc(id), true);
        if let Some(slot) = v.slot() {
            self.params.push((slot, id));
        }
        v
    }

    /// Records an op: `out` computed from `inputs`; `make_backward` is called (with the
    /// output handle, so that backward may capture it) only when a gradient can flow,
    /// i.e. grad is enabled and some input requires grad.
    pub(crate) fn record<B>(
        &mut self,
        op: &'static str,
        inputs: &[&Var],
        out: Tensor,
        make_backward: impl FnOnce(&Var) -> B,
    ) -> Var
    where
        B: FnOnce(&Tensor, &mut [Option<&mut Tensor>]) + 'static,
    {
        let needs_grad = inputs.iter().any(|v| v.requires_grad());
        if needs_grad && self.grad_enabled {
            let foreign = inputs
                .iter()
                .any(|v| v.requires_grad() && v.0.tape != self.id);
            assert!(
                !foreign,
                "{op}: an input that requires grad was made on another tape"
            );
        }
        let out = self.var(Arc::new(out), needs_grad);
        if let Some(slot) = out.slot() {
            let backward = Box::new(make_backward(&out));
            self.entries.push(Entry {
                op,
                out: slot,
                inputs: inputs.iter().map(|v| v.slot()).collect(),
                backward,
            });
        }
        out
    }

    /// A custom op: `out` was computed by the caller from `inputs`; `backward(dout, grads)`
    /// must accumulate (`+=`) into `grads[i]`, the gradient of `inputs[i]` (same shape), or
    /// skip it when it is `None` (that input needs no gradient). The closure is dropped
    /// unused in no-grad mode. `name` appears in panic messages (a backward that changes
    /// a gradient's shape is caught and reported under it), and the backward is profiled
    /// as `"<name>.bwd"`; the caller profiles its own forward
    /// (`crate::profile::scope(name, flops)`).
    ///
    /// ```
    /// use earmark::autograd::Tape;
    /// use earmark::tensor::Tensor;
    /// let mut tape = Tape::new();
    /// let x = tape.leaf(Tensor::new(&[3], vec![1.0, 2.0, 3.0]));
    /// // y = Σ x², written as a plain slice function with its hand-derived gradient 2x.
    /// let y = Tensor::scalar(x.data().iter().map(|v| v * v).sum());
    /// let xc = x.clone();
    /// let y = tape.custom("sum_sq", &[&x], y, move |dy, grads| {
    ///     if let Some(g) = grads[0].as_deref_mut() {
    ///         for (g, v) in g.data_mut().iter_mut().zip(xc.data()) {
    ///             *g += dy.item() * 2.0 * v;
    ///         }
    ///     }
    /// });
    /// tape.backward(&y);
    /// assert_eq!(tape.grad(&x).unwrap().data(), &[2.0, 4.0, 6.0]);
    /// ```
    pub fn custom(
        &mut self,
        name: &'static str,
        inputs: &[&Var],
        out: Tensor,
        backward: impl FnOnce(&Tensor, &mut [Option<&mut Tensor>]) + 'static,
    ) -> Var {
        self.record(name, inputs, out, |_| {
            let bwd = backward_name(name);
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                let _p = crate::profile::scope(bwd, 0);
                backward(dout, grads);
            }
        })
    }

    /// Reverse pass from a one-element `loss`: seeds d loss = 1 and accumulates every
    /// gradient. The recorded entries are consumed (and their saved values freed); the
    /// gradients stay readable through [`Tape::grad`].
    pub fn backward(&mut self, loss: &Var) {
        assert_eq!(
            loss.value().numel(),
            1,
            "backward: the loss must have one element, got shape {:?}",
            loss.shape()
        );
        let seed = Tensor::full(loss.shape(), 1.0);
        self.backward_from(loss, seed);
    }

    /// Reverse pass from any `out`, seeded with `grad` (same shape as `out`).
    pub fn backward_from(&mut self, out: &Var, grad: Tensor) {
        assert_eq!(
            out.shape(),
            grad.shape(),
            "backward_from: output {:?} and seed {:?}",
            out.shape(),
            grad.shape()
        );
        assert!(
            out.0.tape == self.id,
            "backward: the output was made on another tape"
        );
        let slot = out
            .slot()
            .expect("backward: the output does not depend on anything that requires grad");
        put_grad(&mut self.grads, slot, grad);
        for entry in std::mem::take(&mut self.entries).into_iter().rev() {
            // No gradient reached this op's output: nothing to propagate.
            let Some(dout) = self.grads[entry.out].take() else {
                continue;
            };
            let mut bufs: Vec<Option<Tensor>> = entry
                .inputs
                .iter()
                .map(|s| {
                    s.map(|slot| {
                        self.grads[slot]
                            .take()
                            .unwrap_or_else(|| Tensor::zeros(&self.shapes[slot]))
                    })
                })
                .collect();
            {
                let mut refs: Vec<Option<&mut Tensor>> =
                    bufs.iter_mut().map(Option::as_mut).collect();
                (entry.backward)(&dout, &mut refs);
            }
            // Put the gradients back; an input used twice by one op got a fresh buffer the
            // second time, which is added here.
            for (slot, buf) in entry.inputs.iter().zip(bufs) {
                if let (Some(slot), Some(buf)) = (slot, buf) {
                    let want = &self.shapes[*slot];
                    assert_eq!(
                        buf.shape(),
                        want,
                        "backward of `{}` changed a gradient's shape",
                        entry.op
                    );
                    put_grad(&mut self.grads, *slot, buf);
                }
            }
            self.grads[entry.out] = Some(dout);
        }
    }

    /// The gradient of `v` after [`Tape::backward`]; `None` if `v` needs no gradient or
    /// none reached it.
    pub fn grad(&self, v: &Var) -> Option<&Tensor> {
        assert!(
            v.slot().is_none() || v.0.tape == self.id,
            "grad: the var was made on another tape"
        );
        v.slot().and_then(|s| self.grads[s].as_ref())
    }

    /// Adds the gradient of every parameter used on this tape to `store`'s gradients (so
    /// several tapes can accumulate into one step). Call after [`Tape::backward`].
    pub fn accumulate_param_grads(&self, store: &mut ParamStore) {
        for &(slot, id) in &self.params {
            if let Some(g) = &self.grads[slot] {
                store.grad_mut(id).add_assign(g);
            }
        }
    }
}

/// `"<name>.bwd"` as a `&'static str` for the profiler, made once per distinct name (a
/// program has a handful of custom ops, so the leaked strings are bounded).
fn backward_name(name: &'static str) -> &'static str {
    static NAMES: Mutex<Option<HashMap<&'static str, &'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    names
        .get_or_insert_with(HashMap::new)
        .entry(name)
        .or_insert_with(|| Box::leak(format!("{name}.bwd").into_boxed_str()))
}

fn put_grad(grads: &mut [Option<Tensor>], slot: usize, g: Tensor) {
    match &mut grads[slot] {
        Some(existing) => existing.add_assign(&g),
        empty => *empty = Some(g),
    }
}
