//! Gaussian samples for the LSH projections and the synthetic libraries (rand 0.9 has
//! no normal distribution without `rand_distr`).

use rand::Rng;

/// One N(0, 1) sample (Box–Muller; the second value of the pair is dropped).
pub(crate) fn standard_normal(rng: &mut impl Rng) -> f32 {
    // 1 − u lies in (0, 1], so the logarithm is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// Scales `v` to unit length (leaves a zero vector alone).
pub(crate) fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
