//! Room impulse responses (RIRs) for reverberation: the [`Rir`] type, preparation of
//! measured responses, generation by the image-source method (`image`), and the
//! reverberation time by Schroeder integration (`decay`). All at
//! [`SAMPLE_RATE`](crate::audio::augment::SAMPLE_RATE) Hz.

mod decay;
mod image;

pub use decay::{DecayFit, energy_decay_db, estimate_rt60};
pub use image::{ImageMethod, SINC_HALF, SOUND_SPEED_M_S, Shoebox, image_source_rir};

use rand::Rng;

use crate::{Error, Result};

/// A room impulse response ready for [`reverberate`](crate::audio::augment::reverberate).
#[derive(Clone, Debug, PartialEq)]
pub struct Rir {
    /// The response, (m,) samples at [`SAMPLE_RATE`](crate::audio::augment::SAMPLE_RATE) Hz, scaled so that the direct path
    /// has magnitude 1.
    pub samples: Vec<f32>,
    /// Index of the direct path in `samples`; reverberation keeps it on the dry signal's
    /// sample positions. For a measured response it is the strongest sample (as in the
    /// authors' code); a generated one knows its true direct path, which reflections that
    /// arrive together (say floor and ceiling, when source and microphone heights add up to
    /// the room height) now and then exceed.
    pub direct: usize,
    /// Reverberation time (s) measured on `samples` by Schroeder integration (T20), or
    /// `None` if the response is too short or too noisy to show 25 dB of decay.
    pub rt60_s: Option<f32>,
}

/// Samples of a measured response kept before its direct path at most (2.5 ms: the
/// band-limited direct pulse rings ahead of its peak) ...
const MAX_PRE_ROLL: usize = 40;
/// ... of which those quieter than −40 dB re the peak are trimmed as leading silence.
const ONSET_LEVEL: f32 = 0.01;
/// The tail is cut where the energy still to come falls below −60 dB of the total.
const TAIL_FLOOR_DB: f64 = -60.0;

impl Rir {
    /// Prepares a measured response (any loader, already mono at [`SAMPLE_RATE`](crate::audio::augment::SAMPLE_RATE) Hz): the
    /// direct path is taken as the strongest sample; leading silence before it is trimmed
    /// (keeping at most 40 samples, 2.5 ms, from the first one above −40 dB re the
    /// peak); the tail is cut where the Schroeder decay curve falls below −60 dB; the
    /// direct path is scaled to magnitude 1 (polarity kept); and RT60 is measured.
    ///
    /// Errors (`Error::Invalid`) if `samples` is empty, holds a non-finite value, or is all
    /// zeros. A noise floor above −60 dB is not removed (no Lundeby iteration): such a
    /// response keeps its noisy tail and may get a long or `None` RT60.
    pub fn measured(samples: &[f32]) -> Result<Rir> {
        if samples.is_empty() {
            return Err(Error::invalid("room impulse response is empty"));
        }
        if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(format!(
                "room impulse response has a non-finite sample at index {i}"
            )));
        }
        let (peak_at, peak) =
            samples
                .iter()
                .map(|v| v.abs())
                .enumerate()
                .fold(
                    (0, 0.0f32),
                    |best, (i, a)| if a > best.1 { (i, a) } else { best },
                );
        if peak == 0.0 {
            return Err(Error::invalid(
                "room impulse response is silent (all zeros)",
            ));
        }
        let start = (peak_at.saturating_sub(MAX_PRE_ROLL)..=peak_at)
            .find(|&i| samples[i].abs() >= ONSET_LEVEL * peak)
            .unwrap_or(peak_at);
        let trimmed = &samples[start..];
        let end = energy_decay_db(trimmed)
            .iter()
            .position(|&db| db < TAIL_FLOOR_DB)
            .unwrap_or(trimmed.len());
        let samples: Vec<f32> = trimmed[..end].iter().map(|v| v / peak).collect();
        let direct = peak_at - start;
        let rt60_s = estimate_rt60(&samples[direct..], DecayFit::T20);
        Ok(Rir {
            samples,
            direct,
            rt60_s,
        })
    }

    /// A generated response of reverberation time `rt60_s` in a random shoebox room
    /// ([`Shoebox::random`], [`ImageMethod::default`]). Deterministic for the RNG state.
    pub fn generate<R: Rng + ?Sized>(rt60_s: f32, rng: &mut R) -> Rir {
        let room = Shoebox::random(rng);
        image_source_rir(&room, rt60_s, &ImageMethod::default(), rng)
    }

    /// Samples after the direct path: how much earlier sound the reverb of a window can
    /// still contain (`y[t]` draws on `x[t − tail_len() ..= t]`).
    pub fn tail_len(&self) -> usize {
        self.samples.len() - self.direct - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::augment::SAMPLE_RATE;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn measured_response_is_trimmed_cut_and_normalised() {
        let mut rng = StdRng::seed_from_u64(51);
        let clean = Rir::generate(0.4, &mut rng);
        // As if recorded: 300 samples of silence ahead, inverted polarity, scaled by 0.3, and
        // 1 s of silence behind.
        let recorded: Vec<f32> = std::iter::repeat_n(0.0, 300)
            .chain(clean.samples.iter().map(|v| -0.3 * v))
            .chain(std::iter::repeat_n(0.0, SAMPLE_RATE as usize))
            .collect();
        let rir = Rir::measured(&recorded).unwrap();
        assert!(rir.direct <= MAX_PRE_ROLL, "direct path at {}", rir.direct);
        assert_eq!(rir.samples[rir.direct], -1.0);
        assert!(
            rir.samples.len() <= rir.direct + clean.tail_len() + 1,
            "tail not cut: {}",
            rir.samples.len()
        );
        let (got, want) = (rir.rt60_s.unwrap(), clean.rt60_s.unwrap());
        assert!((got / want - 1.0).abs() < 0.02, "RT60 {got} vs {want}");
    }

    #[test]
    fn unusable_measured_responses_are_errors() {
        for (samples, problem) in [
            (vec![], "empty"),
            (vec![0.0, f32::NAN], "non-finite"),
            (vec![0.0; 8], "silent"),
        ] {
            let err = Rir::measured(&samples).unwrap_err().to_string();
            assert!(err.contains(problem), "{err}");
        }
    }
}
