//! Tests of the tape, every op's gradient, the fused attention and the encoder layer.

mod attention;
mod closed_form;
mod encoder;
mod ops;
mod tape;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::tensor::Tensor;

pub(super) fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Standard normal values.
pub(super) fn randn(shape: &[usize], rng: &mut StdRng) -> Tensor {
    Tensor::randn(shape, 1.0, rng)
}

/// Values in ±[0.2, 1.2]: at least 0.2 from ReLU's kink, far more than the 1e-2 step.
pub(super) fn away_from_zero(shape: &[usize], rng: &mut StdRng) -> Tensor {
    Tensor::from_fn(shape, |_| {
        let m = rng.random_range(0.2..1.2f32);
        if rng.random::<bool>() { m } else { -m }
    })
}

/// Values in [0.5, 2]: safe for log and as divisors.
pub(super) fn positive(shape: &[usize], rng: &mut StdRng) -> Tensor {
    Tensor::uniform(shape, 0.5, 2.0, rng)
}
