//! Variations of a recorded noise excerpt for training: a random colouring (spectral tilt
//! plus a peak or notch) and a second clip layered under the first. A few dozen recordings
//! then stand for many more backgrounds: the same rain through a wall, nearer, or with
//! a fan behind it. Used only for training pairs (`--vary-noise`), never for evaluation
//! queries, whose noise stays as recorded.

use rand::Rng;

use super::SAMPLE_RATE;
use super::mix::{SILENT_POWER, mean_power, peak_normalize};
use crate::audio::noise::Biquad;

/// Probability that an excerpt is coloured by [`colour`].
pub const COLOUR_PROBABILITY: f64 = 0.75;

/// Probability that a second clip is layered under the first by [`layer`].
pub const LAYER_PROBABILITY: f64 = 0.5;

/// Level of the layered clip relative to the first (mean power, dB), drawn uniformly.
pub const LAYER_LEVEL_DB: (f64, f64) = (-10.0, 0.0);

/// A value drawn log-uniformly from `lo..hi`.
fn log_uniform<R: Rng + ?Sized>(lo: f64, hi: f64, rng: &mut R) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi / lo).ln()).exp()
}

/// Filters `x` in place through a random tilt and a random peak or notch, then
/// peak-normalises it (the mix sets the level; only the shape matters).
///
/// The tilt splits `x` at a corner frequency, log-uniform in 150–3 000 Hz, with a one-pole
/// low-pass, and attenuates one side by a factor uniform in 0.05–1 (darker or brighter,
/// with equal probability: up to 26 dB of tilt). The peak adds `g` times a band-pass
/// (centre log-uniform in 100–6 000 Hz, Q uniform in 0.7–4) with `g` uniform in −0.9…3:
/// from a 20 dB notch to a 12 dB resonance.
pub fn colour<R: Rng + ?Sized>(x: &mut [f32], rng: &mut R) {
    let corner = log_uniform(150.0, 3000.0, rng);
    let keep = rng.random_range(0.05..1.0);
    let darker: bool = rng.random();
    let centre = log_uniform(100.0, 6000.0, rng);
    let q = rng.random_range(0.7..4.0);
    let gain = rng.random_range(-0.9..3.0);
    let k = 1.0 - (-std::f64::consts::TAU * corner / SAMPLE_RATE as f64).exp();
    let mut low = 0.0f64;
    let mut band = Biquad::bandpass(centre, q);
    for v in x.iter_mut() {
        let s = *v as f64;
        low += k * (s - low);
        let high = s - low;
        let tilted = if darker {
            low + keep * high
        } else {
            high + keep * low
        };
        *v = (tilted + gain * band.process(tilted)) as f32;
    }
    peak_normalize(x);
}

/// Adds `other` (same length as `x`) to `x` at a level relative to `x` drawn from
/// [`LAYER_LEVEL_DB`], then peak-normalises. Leaves `x` alone if either is silent.
pub fn layer<R: Rng + ?Sized>(x: &mut [f32], other: &[f32], rng: &mut R) {
    assert_eq!(x.len(), other.len(), "layer: clips of different lengths");
    let level_db = rng.random_range(LAYER_LEVEL_DB.0..LAYER_LEVEL_DB.1);
    let (p, q) = (mean_power(x), mean_power(other));
    if p <= SILENT_POWER || q <= SILENT_POWER {
        return;
    }
    let scale = (p / q * 10f64.powf(level_db / 10.0)).sqrt() as f32;
    for (v, &o) in x.iter_mut().zip(other) {
        *v += scale * o;
    }
    peak_normalize(x);
}
