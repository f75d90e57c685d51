//! Data augmentation for contrastive training and for building distorted queries
//! (DESIGN §4, §6): background noise at an exact SNR, room reverb, both, time offsets,
//! and peak re-normalisation — on mono f32 audio at [`SAMPLE_RATE`] Hz.
//!
//! The recipe follows the authors' code (`anupsingh15/AFP-NF`, `utils/audio.py` and
//! `utils/dataset.py`): one of noise / reverb / noise + reverb per pair, uniformly; SNR
//! power-based over the clip; reverb aligned on the RIR's strongest sample; noise + reverb
//! reverberates the signal and the noise with the same RIR and then sets the SNR between
//! the two reverberant parts (so the SNR is measured *after* reverb, over the output
//! window); the result is peak-normalised to 1. Where no recorded noise or measured RIRs
//! are given, [`Augmenter::new`] generates them ([`noise`],
//! [`rir`](crate::audio::rir)).

mod convolve;
mod mix;
mod offset;
mod vary;

pub use convolve::{
    block_fft_len, direct_convolve, fft_convolve, fft_convolve_pair, reverberate, reverberate_pair,
};
pub use mix::{
    LOOP_CROSSFADE, SILENT_POWER, fit_noise, mean_power, mix_at_snr, peak_normalize, snr_db,
};
pub use offset::{cut_window, draw_shift};
pub use vary::{COLOUR_PROBABILITY, LAYER_LEVEL_DB, LAYER_PROBABILITY, colour, layer};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::audio::noise::{self, NoiseKind};
use crate::audio::rir::Rir;
use crate::{Error, Result};

/// Everything in the augmentation runs at the front-end's rate (DESIGN §2).
pub use crate::audio::SAMPLE_RATE;

/// Settings of the [`Augmenter`]. `Default` is the poster's recipe.
#[derive(Clone, Debug, PartialEq)]
pub struct AugmentConfig {
    /// SNRs (dB) drawn uniformly for noise and noise + reverb (default 0, 5, 10, 15, 20).
    pub snrs_db: Vec<f32>,
    /// Largest time offset of a positive (s), either way (default 0.05).
    pub max_shift_s: f32,
    /// RT60 range (s) of generated RIRs (default 0.2–0.8).
    pub rt60_range_s: (f32, f32),
    /// RIRs generated when none are given (default 200, spread evenly over the range).
    pub generated_rirs: usize,
    /// Noise clips generated per [`NoiseKind`] when none are given (default 2) ...
    pub generated_noises_per_kind: usize,
    /// ... each this long (s; default 10, looped or cut to fit).
    pub generated_noise_s: f32,
    /// Training pairs draw a noise clip with probability proportional to its length
    /// (every second of noise equally likely), not uniformly (every clip equally likely,
    /// the default): a folder of a hundred short effects then does not drown out a few
    /// long recordings. Evaluation conditions always draw uniformly.
    pub noise_by_duration: bool,
    /// Training pairs vary their noise excerpt: coloured with probability
    /// [`COLOUR_PROBABILITY`] ([`colour`]) and layered with a second clip with probability
    /// [`LAYER_PROBABILITY`] ([`layer`]). Evaluation conditions never do, and
    /// [`Augmenter::render`] of a positive's [`Distortion`] then gives its unvaried twin.
    pub vary_noise: bool,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            snrs_db: vec![0.0, 5.0, 10.0, 15.0, 20.0],
            max_shift_s: 0.05,
            rt60_range_s: (0.2, 0.8),
            generated_rirs: 200,
            generated_noises_per_kind: 2,
            generated_noise_s: 10.0,
            noise_by_duration: false,
            vary_noise: false,
        }
    }
}

/// One concrete distortion: which noise clip and RIR of an [`Augmenter`] and at which SNR.
/// Together with the RNG state it fixes the output, so it can be logged and replayed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distortion {
    /// Unchanged (apart from peak normalisation).
    Clean,
    /// Noise clip `noise` mixed at `snr_db`.
    Noise { noise: usize, snr_db: f32 },
    /// Reverberated with RIR `rir`.
    Reverb { rir: usize },
    /// Signal and noise clip `noise` both reverberated with RIR `rir`, then mixed at
    /// `snr_db` (measured on the reverberant signal and noise).
    NoiseReverb {
        noise: usize,
        rir: usize,
        snr_db: f32,
    },
}

/// An evaluation condition (the rows of the poster's table): the kind of distortion with
/// its level, but no particular clip or room. [`Augmenter::draw_condition`] picks those.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Condition {
    /// No distortion.
    Clean,
    /// Background noise at `snr_db`.
    Noise { snr_db: f32 },
    /// A room of reverberation time `rt60_s` (seconds).
    Reverb { rt60_s: f32 },
    /// Noise at `snr_db` (after reverb) in a room of `rt60_s`.
    NoiseReverb { snr_db: f32, rt60_s: f32 },
}

/// A positive of a training pair, as [`Augmenter::positive`] made it.
#[derive(Clone, Debug, PartialEq)]
pub struct Positive {
    /// The distorted, shifted window, (len,) samples, peak 1 (or silent).
    pub samples: Vec<f32>,
    /// What was applied.
    pub distortion: Distortion,
    /// Offset (samples) of the window from the anchor's start.
    pub shift: isize,
}

/// Holds the noise clips and RIRs and applies distortions, deterministically for a given
/// RNG state.
#[derive(Clone, Debug)]
pub struct Augmenter {
    config: AugmentConfig,
    noises: Vec<Vec<f32>>,
    /// Running sum of the noise clips' lengths (samples), for draws by duration.
    noise_ends: Vec<u64>,
    rirs: Vec<Rir>,
}

/// Relative RT60 tolerance within which [`Augmenter::draw_condition`] counts an RIR as
/// matching the condition.
const RT60_MATCH: f32 = 0.1;

impl Augmenter {
    /// An augmenter over the given noise clips and measured RIRs (mono, [`SAMPLE_RATE`] Hz).
    /// If `noises` is empty, `config.generated_noises_per_kind` clips of every
    /// [`NoiseKind`] are generated; if `rirs` is empty, `config.generated_rirs` RIRs with
    /// RT60 stratified over `config.rt60_range_s` are generated in random rooms; both from
    /// `seed`. Given RIRs are prepared with [`Rir::measured`].
    ///
    /// Errors (`Error::Invalid`) on an empty, non-finite or silent noise clip or RIR (the
    /// message names its index), or on a config that leaves nothing to draw from.
    pub fn new(
        config: AugmentConfig,
        noises: Vec<Vec<f32>>,
        rirs: Vec<Vec<f32>>,
        seed: u64,
    ) -> Result<Self> {
        validate(&config)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let noises = if noises.is_empty() {
            generated_noises(&config, &mut rng)
        } else {
            noises
        };
        for (i, clip) in noises.iter().enumerate() {
            if clip.is_empty()
                || !clip.iter().all(|v| v.is_finite())
                || mean_power(clip) <= SILENT_POWER
            {
                return Err(Error::invalid(format!(
                    "noise clip {i} is empty, silent or has non-finite samples"
                )));
            }
        }
        let rirs = if rirs.is_empty() {
            generated_rirs(&config, &mut rng)
        } else {
            let prepared = rirs.iter().enumerate().map(|(i, r)| {
                Rir::measured(r).map_err(|e| Error::invalid(format!("RIR {i}: {e}")))
            });
            prepared.collect::<Result<Vec<_>>>()?
        };
        let noise_ends = noises
            .iter()
            .scan(0u64, |end, clip| {
                *end += clip.len() as u64;
                Some(*end)
            })
            .collect();
        Ok(Augmenter {
            config,
            noises,
            noise_ends,
            rirs,
        })
    }

    /// The settings.
    pub fn config(&self) -> &AugmentConfig {
        &self.config
    }

    /// The noise clips, given or generated.
    pub fn noises(&self) -> &[Vec<f32>] {
        &self.noises
    }

    /// The prepared RIRs, given or generated.
    pub fn rirs(&self) -> &[Rir] {
        &self.rirs
    }

    /// The largest shift of a positive, in samples.
    pub fn max_shift(&self) -> usize {
        (self.config.max_shift_s * SAMPLE_RATE as f32).round() as usize
    }

    /// A random distortion for a training pair: noise, reverb or noise + reverb with equal
    /// probability, the SNR uniform over `snrs_db`, the RIR uniform, the clip uniform or
    /// (with `noise_by_duration`) in proportion to its length.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Distortion {
        let noise = self.draw_noise(rng);
        let rir = rng.random_range(0..self.rirs.len());
        let snr_db = self.config.snrs_db[rng.random_range(0..self.config.snrs_db.len())];
        match rng.random_range(0..3) {
            0 => Distortion::Noise { noise, snr_db },
            1 => Distortion::Reverb { rir },
            _ => Distortion::NoiseReverb { noise, rir, snr_db },
        }
    }

    /// A training noise clip: uniform, or (with `noise_by_duration`) in proportion to its
    /// length.
    fn draw_noise<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        if self.config.noise_by_duration {
            let total = self.noise_ends.last().copied().unwrap_or(0);
            let at = rng.random_range(0..total);
            self.noise_ends.partition_point(|&end| end <= at)
        } else {
            rng.random_range(0..self.noises.len())
        }
    }

    /// `len` samples of noise clip `noise` from a random start ([`fit_noise`]); for a
    /// training pair with `vary_noise`, coloured and layered as the config says.
    fn excerpt<R: Rng + ?Sized>(
        &self,
        noise: usize,
        len: usize,
        training: bool,
        rng: &mut R,
    ) -> Vec<f32> {
        let mut x = fit_noise(&self.noises[noise], len, rng);
        if training && self.config.vary_noise {
            if rng.random_bool(LAYER_PROBABILITY) {
                let other = fit_noise(&self.noises[self.draw_noise(rng)], len, rng);
                layer(&mut x, &other, rng);
            }
            if rng.random_bool(COLOUR_PROBABILITY) {
                colour(&mut x, rng);
            }
        }
        x
    }

    /// A distortion for an evaluation condition: a uniform noise clip, and a uniform RIR
    /// among those whose measured RT60 is within 10 % of the condition's (or, if none is,
    /// the closest one).
    pub fn draw_condition<R: Rng + ?Sized>(&self, condition: Condition, rng: &mut R) -> Distortion {
        let noise = rng.random_range(0..self.noises.len());
        match condition {
            Condition::Clean => Distortion::Clean,
            Condition::Noise { snr_db } => Distortion::Noise { noise, snr_db },
            Condition::Reverb { rt60_s } => Distortion::Reverb {
                rir: self.rir_near(rt60_s, rng),
            },
            Condition::NoiseReverb { snr_db, rt60_s } => Distortion::NoiseReverb {
                noise,
                rir: self.rir_near(rt60_s, rng),
                snr_db,
            },
        }
    }

    /// A uniform choice among the RIRs within [`RT60_MATCH`] of `rt60_s`, else the closest.
    fn rir_near<R: Rng + ?Sized>(&self, rt60_s: f32, rng: &mut R) -> usize {
        let gap = |r: &Rir| r.rt60_s.map_or(f32::INFINITY, |t| (t - rt60_s).abs());
        let close: Vec<usize> = (0..self.rirs.len())
            .filter(|&i| gap(&self.rirs[i]) <= RT60_MATCH * rt60_s)
            .collect();
        if close.is_empty() {
            (0..self.rirs.len())
                .min_by(|&a, &b| gap(&self.rirs[a]).total_cmp(&gap(&self.rirs[b])))
                .unwrap_or(0)
        } else {
            close[rng.random_range(0..close.len())]
        }
    }

    /// Applies `distortion` to `x` (n,) → (n,): see [`Augmenter::apply_with_context`]
    /// with no context (the reverb of `x` starts from silence).
    pub fn apply<R: Rng + ?Sized>(
        &self,
        distortion: &Distortion,
        x: &[f32],
        rng: &mut R,
    ) -> Vec<f32> {
        self.apply_with_context(distortion, x, 0, rng)
    }

    /// Applies `distortion` to the window `x[context..]` of `x` (n,), whose first `context`
    /// samples are the audio just before the window: reverb rings from them into the window
    /// as it would in a room. Returns (n − context,) samples, peak-normalised to 1. Noise
    /// is fitted to `x` with [`fit_noise`] (its start drawn from `rng`), reverberated with
    /// `x` in the noise + reverb case, and mixed at the SNR over the output window.
    ///
    /// Silence is left alone: if the (reverberant) window is silent (mean power ≤
    /// [`SILENT_POWER`]) it gets no noise — there is no level to set an SNR against — and no
    /// normalisation, and comes back silent (the training pipeline skips silent segments
    /// anyway, DESIGN §4). If the stretch of noise drawn is silent, nothing is added.
    /// Panics if `context > x.len()` or an index in `distortion` is out of range.
    pub fn apply_with_context<R: Rng + ?Sized>(
        &self,
        distortion: &Distortion,
        x: &[f32],
        context: usize,
        rng: &mut R,
    ) -> Vec<f32> {
        self.distort(distortion, x, context, false, rng)
    }

    /// [`Self::apply_with_context`], varying the noise excerpt if `training` (see
    /// [`AugmentConfig::vary_noise`]).
    fn distort<R: Rng + ?Sized>(
        &self,
        distortion: &Distortion,
        x: &[f32],
        context: usize,
        training: bool,
        rng: &mut R,
    ) -> Vec<f32> {
        assert!(
            context <= x.len(),
            "apply_with_context: context {context} longer than the input of {} samples",
            x.len()
        );
        let window = x.len() - context;
        // The clean part of the output, and the noise to mix into it at an SNR.
        let (signal, noise) = match *distortion {
            Distortion::Clean => (x[context..].to_vec(), None),
            Distortion::Noise { noise, snr_db } => (
                x[context..].to_vec(),
                Some((self.excerpt(noise, window, training, rng), snr_db)),
            ),
            Distortion::Reverb { rir } => {
                let rir = &self.rirs[rir];
                (
                    reverberate(x, &rir.samples, rir.direct).split_off(context),
                    None,
                )
            }
            Distortion::NoiseReverb { noise, rir, snr_db } => {
                let rir = &self.rirs[rir];
                let noise = self.excerpt(noise, x.len(), training, rng);
                let (mut wet, mut wet_noise) =
                    reverberate_pair(x, &noise, &rir.samples, rir.direct);
                (
                    wet.split_off(context),
                    Some((wet_noise.split_off(context), snr_db)),
                )
            }
        };
        if mean_power(&signal) <= SILENT_POWER {
            return signal;
        }
        let mut y = match noise {
            Some((noise, snr_db)) => mix_at_snr(&signal, &noise, snr_db).unwrap_or(signal),
            None => signal,
        };
        peak_normalize(&mut y);
        y
    }

    /// The positive for an anchor `audio[start .. start + len]`: a shift drawn by
    /// [`draw_shift`] within ±[`Self::max_shift`], a distortion drawn by [`Self::draw`]
    /// (its noise excerpt varied if [`AugmentConfig::vary_noise`]),
    /// and the shifted window distorted with as much preceding audio as the RIR's tail
    /// can reach as context (silence before the start of `audio`).
    pub fn positive<R: Rng + ?Sized>(
        &self,
        audio: &[f32],
        start: usize,
        len: usize,
        rng: &mut R,
    ) -> Positive {
        let shift = draw_shift(audio.len(), start, len, self.max_shift(), rng);
        let distortion = self.draw(rng);
        let samples =
            self.cut_and_distort(&distortion, audio, start as isize + shift, len, true, rng);
        Positive {
            samples,
            distortion,
            shift,
        }
    }

    /// `distortion` applied to `len` samples of `audio` from `start` (which may lie outside
    /// `audio`: see [`cut_window`]), with the RIR's tail length of preceding audio as
    /// reverb context. Use it to build distorted evaluation queries.
    pub fn render<R: Rng + ?Sized>(
        &self,
        distortion: &Distortion,
        audio: &[f32],
        start: isize,
        len: usize,
        rng: &mut R,
    ) -> Vec<f32> {
        self.cut_and_distort(distortion, audio, start, len, false, rng)
    }

    /// [`Self::render`], varying the noise if `training`.
    fn cut_and_distort<R: Rng + ?Sized>(
        &self,
        distortion: &Distortion,
        audio: &[f32],
        start: isize,
        len: usize,
        training: bool,
        rng: &mut R,
    ) -> Vec<f32> {
        let context = match *distortion {
            Distortion::Reverb { rir } | Distortion::NoiseReverb { rir, .. } => {
                self.rirs[rir].tail_len()
            }
            Distortion::Clean | Distortion::Noise { .. } => 0,
        };
        let x = cut_window(audio, start - context as isize, context + len);
        self.distort(distortion, &x, context, training, rng)
    }
}

fn validate(config: &AugmentConfig) -> Result<()> {
    let (lo, hi) = config.rt60_range_s;
    if config.snrs_db.is_empty() || !config.snrs_db.iter().all(|s| s.is_finite()) {
        return Err(Error::invalid("augmentation needs at least one finite SNR"));
    }
    if !config.max_shift_s.is_finite() || config.max_shift_s < 0.0 {
        return Err(Error::invalid(format!(
            "maximum shift must be ≥ 0 s, got {}",
            config.max_shift_s
        )));
    }
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
        return Err(Error::invalid(format!(
            "RT60 range must satisfy 0 < low ≤ high, got {lo}–{hi} s"
        )));
    }
    if config.generated_rirs == 0
        || config.generated_noises_per_kind == 0
        || !config.generated_noise_s.is_finite()
        || config.generated_noise_s <= 0.0
    {
        return Err(Error::invalid(
            "generated noise and RIR banks must not be empty (counts and clip length > 0)",
        ));
    }
    Ok(())
}

/// `generated_noises_per_kind` clips of every [`NoiseKind`], in [`NoiseKind::ALL`] order.
fn generated_noises(config: &AugmentConfig, rng: &mut StdRng) -> Vec<Vec<f32>> {
    let len = (config.generated_noise_s * SAMPLE_RATE as f32)
        .round()
        .max(1.0) as usize;
    let kinds = NoiseKind::ALL
        .iter()
        .flat_map(|&k| std::iter::repeat_n(k, config.generated_noises_per_kind));
    kinds.map(|kind| noise::generate(kind, len, rng)).collect()
}

/// `count` room impulse responses generated by the image-source method in random rooms,
/// RT60 stratified over `config.rt60_range_s`, from `seed`: a bank to add to measured
/// ones, which are usually too few to train on alone.
pub fn generate_room_bank(config: &AugmentConfig, count: usize, seed: u64) -> Vec<Vec<f32>> {
    let config = AugmentConfig {
        generated_rirs: count,
        ..config.clone()
    };
    let mut rng = StdRng::seed_from_u64(seed);
    generated_rirs(&config, &mut rng)
        .into_iter()
        .map(|r| r.samples)
        .collect()
}

/// `generated_rirs` RIRs in random rooms, RT60 target i drawn uniformly from the i-th of
/// that many equal slices of the range (stratified, so that every part of it is covered).
fn generated_rirs(config: &AugmentConfig, rng: &mut StdRng) -> Vec<Rir> {
    let (lo, hi) = config.rt60_range_s;
    let n = config.generated_rirs;
    (0..n)
        .map(|i| {
            let u: f32 = rng.random();
            Rir::generate(lo + (hi - lo) * (i as f32 + u) / n as f32, rng)
        })
        .collect()
}

#[cfg(test)]
mod tests;
