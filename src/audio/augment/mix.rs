//! Mixing noise into a signal at an exact signal-to-noise ratio, and peak normalisation.
//!
//! The SNR is power-based over the whole clip, as in the authors' code (`AFP-NF`,
//! `utils/audio.py`): the noise is scaled so that 10·log10(P_signal / P_noise) = SNR, where
//! P is the mean square over the clip.

use rand::Rng;

use crate::{Error, Result};

/// Mean-square power below which a clip counts as silent: an RMS of 1e-5 (−100 dB re full
/// scale), below the 16-bit quantisation step of 3e-5. Such a clip has no level to set an
/// SNR against; and rounding in f32 arithmetic (e.g. the ~1e-7 crosstalk of
/// [`fft_convolve_pair`](super::fft_convolve_pair)) must not pass for signal.
pub const SILENT_POWER: f64 = 1e-10;

/// Crossfade (samples) where a looped noise clip wraps around: 10 ms at 16 kHz, short
/// enough to keep the clip's texture, long enough to hide the seam. Clips shorter than four
/// crossfades use a quarter of their length.
pub const LOOP_CROSSFADE: usize = 160;

/// Mean square of `x`, in f64 (0 for an empty slice).
pub fn mean_power(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64
}

/// 10·log10(P_signal / P_noise) in dB. Infinite or NaN when a power is zero.
pub fn snr_db(signal: &[f32], noise: &[f32]) -> f64 {
    10.0 * (mean_power(signal) / mean_power(noise)).log10()
}

/// `len` samples of `noise`, starting at a random point. A clip at least `len` long is cut
/// at a uniformly random start; a shorter one is looped: its last
/// [`LOOP_CROSSFADE`] samples are crossfaded (equal power, sin/cos) into its first ones,
/// making a seamless period of `noise.len() − crossfade` samples that is read from a random
/// phase. Panics if `noise` is empty (the [`Augmenter`](super::Augmenter) rejects empty clips).
pub fn fit_noise<R: Rng + ?Sized>(noise: &[f32], len: usize, rng: &mut R) -> Vec<f32> {
    assert!(!noise.is_empty(), "fit_noise: empty noise clip");
    if noise.len() >= len {
        let start = rng.random_range(0..=noise.len() - len);
        return noise[start..start + len].to_vec();
    }
    let fade = LOOP_CROSSFADE.min(noise.len() / 4);
    let period = noise.len() - fade;
    let mut cycle = noise[..period].to_vec();
    for (j, c) in cycle.iter_mut().take(fade).enumerate() {
        // Uncorrelated noise keeps its power when the gains satisfy g_in² + g_out² = 1.
        let angle = std::f32::consts::FRAC_PI_2 * (j as f32 + 0.5) / fade as f32;
        *c = angle.sin() * *c + angle.cos() * noise[period + j];
    }
    let start = rng.random_range(0..period);
    (0..len).map(|t| cycle[(start + t) % period]).collect()
}

/// `signal + g·noise` with g chosen so that the SNR of the mix is exactly `snr_db`.
/// Shapes: signal (n,), noise (n,) → (n,). Errors (`Error::Invalid`) if either is silent
/// (mean power ≤ [`SILENT_POWER`]): there is no level to set the noise against, or no noise
/// to scale. Panics if the lengths differ (use [`fit_noise`] first).
pub fn mix_at_snr(signal: &[f32], noise: &[f32], snr_db: f32) -> Result<Vec<f32>> {
    assert_eq!(
        signal.len(),
        noise.len(),
        "mix_at_snr: signal ({}) and noise ({}) lengths differ",
        signal.len(),
        noise.len()
    );
    let p_signal = mean_power(signal);
    let p_noise = mean_power(noise);
    if p_signal <= SILENT_POWER {
        return Err(Error::invalid(format!(
            "cannot mix noise at {snr_db} dB SNR: the signal is silent"
        )));
    }
    if p_noise <= SILENT_POWER {
        return Err(Error::invalid(format!(
            "cannot mix noise at {snr_db} dB SNR: the noise is silent"
        )));
    }
    let gain = (p_signal / (p_noise * 10f64.powf(snr_db as f64 / 10.0))).sqrt();
    Ok(signal
        .iter()
        .zip(noise)
        .map(|(&s, &n)| (s as f64 + gain * n as f64) as f32)
        .collect())
}

/// Scales `x` so that its largest magnitude is 1, as the front-end does to every file
/// (DESIGN §2). An all-zero `x` is left as it is.
pub fn peak_normalize(x: &mut [f32]) {
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak > 0.0 {
        let scale = 1.0 / peak;
        for v in x {
            *v *= scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::noise::{NoiseKind, generate};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// The SNR of a mix, measured from its parts: the noise actually added is mix − signal.
    fn measured_snr(signal: &[f32], mix: &[f32]) -> f64 {
        let added: Vec<f32> = mix.iter().zip(signal).map(|(m, s)| m - s).collect();
        snr_db(signal, &added)
    }

    #[test]
    fn mixing_hits_the_snr_for_looped_and_cut_noise() {
        let mut rng = StdRng::seed_from_u64(21);
        let signal = generate(NoiseKind::Babble, 16_000, &mut rng);
        let short = generate(NoiseKind::HumClatter, 3_000, &mut rng);
        let long = generate(NoiseKind::Pink, 40_000, &mut rng);
        let mut worst = 0.0f64;
        for clip in [&short, &long] {
            for snr in [0.0f32, 5.0, 10.0, 15.0, 20.0] {
                let noise = fit_noise(clip, signal.len(), &mut rng);
                let mix = mix_at_snr(&signal, &noise, snr).unwrap();
                worst = worst.max((measured_snr(&signal, &mix) - snr as f64).abs());
            }
        }
        assert!(worst < 0.1, "worst SNR error {worst} dB");
    }

    #[test]
    fn silent_signal_or_noise_is_an_error_not_a_nan() {
        let sound = vec![0.5f32; 100];
        let silence = vec![0.0f32; 100];
        let err = mix_at_snr(&silence, &sound, 10.0).unwrap_err().to_string();
        assert!(err.contains("signal is silent"), "{err}");
        let err = mix_at_snr(&sound, &silence, 10.0).unwrap_err().to_string();
        assert!(err.contains("noise is silent"), "{err}");
    }

    #[test]
    fn fitted_noise_comes_from_the_clip_and_loops_seamlessly() {
        let mut rng = StdRng::seed_from_u64(22);
        let clip: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        // Cut: a contiguous run of the clip.
        let cut = fit_noise(&clip, 300, &mut rng);
        assert!(cut.windows(2).all(|w| w[1] == w[0] + 1.0) && cut[0] <= 700.0);
        // Looped: periodic, with a period of 1000 − 160 samples.
        let looped = fit_noise(&clip, 5000, &mut rng);
        assert_eq!(looped.len(), 5000);
        assert!(looped.iter().zip(&looped[840..]).all(|(a, b)| a == b));
        // Equal-power crossfade of white noise keeps the power through the seam.
        let white = generate(NoiseKind::White, 1000, &mut rng);
        let looped = fit_noise(&white, 200_000, &mut rng);
        let ratio = mean_power(&looped) / mean_power(&white);
        assert!((ratio - 1.0).abs() < 0.05, "power ratio {ratio}");
        // A clip shorter than four crossfades still loops.
        assert_eq!(fit_noise(&[1.0, -1.0, 0.5], 10, &mut rng).len(), 10);
    }

    #[test]
    fn peak_normalisation_scales_to_one_and_leaves_silence() {
        let mut x = vec![0.1f32, -0.4, 0.2];
        peak_normalize(&mut x);
        assert_eq!(x, vec![0.25, -1.0, 0.5]);
        let mut zeros = vec![0.0f32; 4];
        peak_normalize(&mut zeros);
        assert_eq!(zeros, vec![0.0; 4]);
    }
}
