//! The f32 tensor and its CPU ops.
//!
//! A [`Tensor`] is a contiguous, row-major block of `f32` with a shape. The ops are plain
//! functions over slices, written as `x_forward` / `x_backward` pairs side by side (after
//! karpathy/llm.c): forward writes its output (and any cache backward needs, such as layer
//! norm's mean and reciprocal standard deviation); backward only accumulates (`+=`) into
//! the gradients of its inputs. The tape in [`crate::autograd`] strings them together.
//!
//! Every op records itself in [`crate::profile`] under its name (`"layer_norm"`) and its
//! backward under `"<name>.bwd"`.

pub mod attention;
pub mod broadcast;
pub mod elementwise;
pub mod gemm;
pub mod layernorm;
pub mod linear;
pub mod matmul;
pub mod normalize;
pub mod parallel;
pub mod reduce;
pub mod shape;
pub mod softmax;
pub mod vecops;

use rand::Rng;

/// A contiguous, row-major f32 tensor. A shape of `[]` is a scalar (one element).
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// Number of elements of a tensor of this shape (1 for the scalar shape `[]`).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Tensor {
    /// A tensor of `shape` over `data`. Panics if `data.len()` is not the shape's element count.
    pub fn new(shape: &[usize], data: Vec<f32>) -> Self {
        assert_eq!(
            numel(shape),
            data.len(),
            "Tensor::new: shape {shape:?} needs {} elements, got {}",
            numel(shape),
            data.len()
        );
        Tensor {
            shape: shape.to_vec(),
            data,
        }
    }

    /// All zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, 0.0)
    }

    /// Every element `value`.
    pub fn full(shape: &[usize], value: f32) -> Self {
        Tensor {
            shape: shape.to_vec(),
            data: vec![value; numel(shape)],
        }
    }

    /// A scalar (shape `[]`).
    pub fn scalar(value: f32) -> Self {
        Tensor {
            shape: Vec::new(),
            data: vec![value],
        }
    }

    /// Element `i` (row-major flat index) is `f(i)`.
    pub fn from_fn(shape: &[usize], f: impl FnMut(usize) -> f32) -> Self {
        Tensor {
            shape: shape.to_vec(),
            data: (0..numel(shape)).map(f).collect(),
        }
    }

    /// Independent normal samples with mean 0 and standard deviation `std` (Box–Muller).
    pub fn randn(shape: &[usize], std: f32, rng: &mut impl Rng) -> Self {
        Self::from_fn(shape, |_| std * standard_normal(rng))
    }

    /// Independent samples, uniform in `[lo, hi)`.
    pub fn uniform(shape: &[usize], lo: f32, hi: f32, rng: &mut impl Rng) -> Self {
        Self::from_fn(shape, |_| lo + (hi - lo) * rng.random::<f32>())
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// Number of dimensions (0 for a scalar).
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The single element of a one-element tensor. Panics otherwise.
    pub fn item(&self) -> f32 {
        assert_eq!(
            self.data.len(),
            1,
            "Tensor::item: shape {:?} is not one element",
            self.shape
        );
        self.data[0]
    }

    /// The same data under another shape with the same element count.
    pub fn reshape(self, shape: &[usize]) -> Self {
        assert_eq!(
            numel(shape),
            self.data.len(),
            "reshape: {:?} -> {shape:?} changes the element count",
            self.shape
        );
        Tensor {
            shape: shape.to_vec(),
            data: self.data,
        }
    }

    /// Splits the shape into (rows, last dimension): `(…, C)` → `(∏…, C)`.
    /// Panics on a scalar.
    pub fn rows_cols(&self, op: &str) -> (usize, usize) {
        rows_cols(&self.shape, op)
    }

    /// `self += other`, elementwise, same shape.
    pub fn add_assign(&mut self, other: &Tensor) {
        assert_eq!(
            self.shape, other.shape,
            "add_assign: shapes {:?} and {:?}",
            self.shape, other.shape
        );
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
    }

    /// Largest absolute elementwise difference to a tensor of the same shape.
    pub fn max_abs_diff(&self, other: &Tensor) -> f32 {
        assert_eq!(
            self.shape, other.shape,
            "max_abs_diff: shapes {:?} and {:?}",
            self.shape, other.shape
        );
        self.data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }
}

/// `(…, C)` → `(∏…, C)`. Panics (naming `op`) on the scalar shape.
pub fn rows_cols(shape: &[usize], op: &str) -> (usize, usize) {
    let (&cols, lead) = shape
        .split_last()
        .unwrap_or_else(|| panic!("{op}: needs at least one dimension, got a scalar"));
    (numel(lead), cols)
}

/// One standard normal sample by the Box–Muller transform (rand 0.9 has no normal
/// distribution without `rand_distr`).
pub fn standard_normal(rng: &mut impl Rng) -> f32 {
    // u1 in (0, 1] so that ln(u1) is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn constructors_and_shapes() {
        let t = Tensor::from_fn(&[2, 3], |i| i as f32);
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.rows_cols("test"), (2, 3));
        assert_eq!(t.clone().reshape(&[3, 2]).data(), t.data());
        assert_eq!(Tensor::scalar(4.0).item(), 4.0);
        assert_eq!(Tensor::scalar(4.0).ndim(), 0);
    }

    #[test]
    #[should_panic(expected = "Tensor::new: shape [2, 3] needs 6 elements, got 5")]
    fn new_rejects_wrong_length() {
        Tensor::new(&[2, 3], vec![0.0; 5]);
    }

    #[test]
    fn randn_has_unit_variance() {
        let mut rng = StdRng::seed_from_u64(1);
        let t = Tensor::randn(&[20_000], 1.0, &mut rng);
        let mean = t.data().iter().sum::<f32>() / 20_000.0;
        let var = t.data().iter().map(|x| (x - mean).powi(2)).sum::<f32>() / 20_000.0;
        // Standard errors: 0.007 for the mean, 0.01 for the variance.
        assert!(mean.abs() < 0.04, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
