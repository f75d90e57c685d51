//! Log-mel spectrogram exactly as DESIGN.md §2 (torchaudio `MelSpectrogram(sample_rate=16000,
//! n_fft=512, hop_length=160, n_mels=64, f_min=0, f_max=8000, norm=None, mel_scale="htk")`
//! followed by `10·log10(max(p, 1e-10))`), after peak normalisation of the input.
//!
//! The filterbank is stored sparsely (each band is one run of consecutive bins, about 514
//! non-zero weights in all instead of 257 × 64); the dense matrix and a direct-DFT log-mel
//! are its slow twins in the tests.

use std::sync::OnceLock;

use super::stft::{check_length, reflect_pad};
use super::{
    HOP, LOG_FLOOR, MEL_F_MAX, MEL_F_MIN, N_BINS, N_FFT, N_MELS, SAMPLE_RATE, Stft, frame_count,
};
use crate::{Error, Result};

/// A log-mel spectrogram, frame-major: `data[t * N_MELS + band]`, in dB (≥ −100).
/// Frame t is centred on sample `t · HOP` of the 16 kHz signal.
#[derive(Clone, Debug, PartialEq)]
pub struct Mel {
    pub frames: usize,
    /// `frames × N_MELS` values.
    pub data: Vec<f32>,
}

impl Mel {
    /// The 64 bands of frame t.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.data[t * N_MELS..(t + 1) * N_MELS]
    }
}

/// HTK mel scale: 2595 · log10(1 + f / 700).
pub fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

/// Inverse of [`hz_to_mel`]: 700 · (10^(m / 2595) − 1).
pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// 64 triangular HTK mel filters over the 257 STFT bins (0–8000 Hz), peak 1, no area
/// normalisation: torchaudio's `melscale_fbanks(257, 0, 8000, 64, 16000, None, "htk")`.
#[derive(Clone, Debug)]
pub struct MelFilterbank {
    /// Per band: first bin with a non-zero weight, and the start of its weights.
    first_bin: [usize; N_MELS],
    offsets: [usize; N_MELS + 1],
    weights: Vec<f32>,
}

impl Default for MelFilterbank {
    fn default() -> Self {
        Self::new()
    }
}

impl MelFilterbank {
    pub fn new() -> MelFilterbank {
        // Band edges: N_MELS + 2 points evenly spaced in mel from f_min to f_max.
        let (m_min, m_max) = (hz_to_mel(MEL_F_MIN), hz_to_mel(MEL_F_MAX));
        let edges: Vec<f64> = (0..N_MELS + 2)
            .map(|i| mel_to_hz(m_min + (m_max - m_min) * i as f64 / (N_MELS + 1) as f64))
            .collect();
        let bin_hz = f64::from(SAMPLE_RATE) / N_FFT as f64; // 31.25 Hz
        let mut first_bin = [0; N_MELS];
        let mut offsets = [0; N_MELS + 1];
        let mut weights = Vec::new();
        for m in 0..N_MELS {
            // torchaudio's formulation: max(0, min(rising slope, falling slope)).
            let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
            let weight = |k: usize| {
                let f = k as f64 * bin_hz;
                let up = (f - lo) / (mid - lo);
                let down = (hi - f) / (hi - mid);
                up.min(down).max(0.0)
            };
            let bins: Vec<usize> = (0..N_BINS).filter(|&k| weight(k) > 0.0).collect();
            first_bin[m] = bins.first().copied().unwrap_or(0);
            weights.extend(bins.iter().map(|&k| weight(k) as f32));
            offsets[m + 1] = weights.len();
            debug_assert!(
                bins.windows(2).all(|w| w[1] == w[0] + 1),
                "band {m} is not one run"
            );
        }
        MelFilterbank {
            first_bin,
            offsets,
            weights,
        }
    }

    /// `mel[m] = Σ_k power[k] · fb[k][m]` over the band's run of bins.
    pub fn apply(&self, power: &[f32], mel: &mut [f32]) {
        assert!(
            power.len() == N_BINS && mel.len() == N_MELS,
            "mel filterbank apply: power {} must be {N_BINS}, mel {} must be {N_MELS}",
            power.len(),
            mel.len()
        );
        for (m, out) in mel.iter_mut().enumerate() {
            let w = &self.weights[self.offsets[m]..self.offsets[m + 1]];
            let p = &power[self.first_bin[m]..self.first_bin[m] + w.len()];
            *out = w.iter().zip(p).map(|(a, b)| a * b).sum();
        }
    }

    /// The dense matrix, bin-major like torchaudio's `fb`: `dense[k * N_MELS + m]`, 257 × 64.
    pub fn dense(&self) -> Vec<f32> {
        let mut fb = vec![0.0f32; N_BINS * N_MELS];
        for m in 0..N_MELS {
            let w = &self.weights[self.offsets[m]..self.offsets[m + 1]];
            for (j, &v) in w.iter().enumerate() {
                fb[(self.first_bin[m] + j) * N_MELS + m] = v;
            }
        }
        fb
    }
}

/// The log-mel front-end: STFT plan, window and filterbank built once. `Send + Sync`.
#[derive(Default)]
pub struct LogMel {
    stft: Stft,
    bank: MelFilterbank,
}

impl LogMel {
    pub fn new() -> LogMel {
        LogMel {
            stft: Stft::new(),
            bank: MelFilterbank::new(),
        }
    }

    /// Peak-normalises `samples` (16 kHz mono) and returns its log-mel spectrogram of
    /// [`frame_count`]`(n)` frames. The input is not modified (the 1/peak scale is folded
    /// into the window).
    ///
    /// Errors ([`Error::Invalid`]): fewer than 257 samples, a NaN or infinite sample, or a
    /// silent signal (every sample 0).
    pub fn compute(&self, samples: &[f32]) -> Result<Mel> {
        check_length(samples.len())?;
        let peak = checked_peak(samples)?;
        let window: Vec<f32> = self.stft.window().iter().map(|w| w / peak).collect();
        let padded = reflect_pad(samples);
        let frames = frame_count(samples.len());
        let mut data = vec![0.0f32; frames * N_MELS];
        let mut ws = self.stft.workspace();
        let mut power = [0.0f32; N_BINS];
        for (t, row) in data.chunks_exact_mut(N_MELS).enumerate() {
            self.stft.power_into(
                &padded[t * HOP..t * HOP + N_FFT],
                &window,
                &mut ws,
                &mut power,
            );
            self.bank.apply(&power, row);
            for v in row.iter_mut() {
                *v = 10.0 * v.max(LOG_FLOOR).log10();
            }
        }
        Ok(Mel { frames, data })
    }
}

/// [`LogMel::compute`] with a shared, lazily built front-end.
pub fn log_mel(samples: &[f32]) -> Result<Mel> {
    static FRONT_END: OnceLock<LogMel> = OnceLock::new();
    FRONT_END.get_or_init(LogMel::new).compute(samples)
}

/// Divides `samples` by their peak |x| in place and returns that peak.
/// Errors ([`Error::Invalid`]) on a NaN or infinite sample or a silent (all-zero) signal.
pub fn peak_normalise(samples: &mut [f32]) -> Result<f32> {
    let peak = checked_peak(samples)?;
    let scale = 1.0 / peak;
    samples.iter_mut().for_each(|x| *x *= scale);
    Ok(peak)
}

/// max |x|, refusing non-finite samples and silence (and an empty signal).
fn checked_peak(samples: &[f32]) -> Result<f32> {
    if let Some(i) = samples.iter().position(|x| !x.is_finite()) {
        return Err(Error::invalid(format!(
            "peak normalisation: sample {i} is {}; the signal must be finite",
            samples[i]
        )));
    }
    let peak = samples.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    if peak == 0.0 {
        return Err(Error::invalid(format!(
            "peak normalisation: the signal is silent ({} samples, all 0)",
            samples.len()
        )));
    }
    Ok(peak)
}

#[cfg(test)]
mod tests {
    use super::super::PAD;
    use super::super::stft::tests::{noise, power_direct, reflect_index};
    use super::*;

    /// Values of torchaudio's filterbank at (bin, band), from its formula run in float32
    /// (numpy replica of `melscale_fbanks(257, 0., 8000., 64, 16000, None, "htk")`).
    const TORCHAUDIO_FB: [(usize, usize, f32); 10] = [
        (1, 0, 0.875_591_64),
        (1, 1, 0.124_408_39),
        (2, 1, 0.797_227_1),
        (12, 10, 0.935_806),
        (55, 31, 0.981_900_7),
        (122, 47, 0.934_022_67),
        (245, 63, 0.959_430_1),
        (255, 63, 0.094_454_326),
        (2, 0, 0.0),
        (256, 63, 0.0),
    ];

    #[test]
    fn filterbank_matches_torchaudio_values() {
        let fb = MelFilterbank::new().dense();
        for (k, m, want) in TORCHAUDIO_FB {
            let got = fb[k * N_MELS + m];
            assert!(
                (got - want).abs() < 2e-5,
                "fb[{k}][{m}] = {got}, torchaudio {want}"
            );
        }
        assert!(
            (0..N_MELS).all(|m| fb[m] == 0.0),
            "0 Hz is the first edge: weight 0"
        );
    }

    /// Closed form: the triangle of band m rises from mel point m to m+1 and falls to m+2,
    /// with mel points at m · 2840.02 / 65 (hz_to_mel(8000) = 2840.02).
    #[test]
    fn filterbank_equals_closed_form_triangles() {
        let fb = MelFilterbank::new().dense();
        let mel_step = 2595.0 * (1.0f64 + 8000.0 / 700.0).log10() / 65.0;
        let edge = |i: usize| 700.0 * (10f64.powf(i as f64 * mel_step / 2595.0) - 1.0);
        for (k, m) in [
            (20, 12),
            (21, 12),
            (64, 34),
            (150, 50),
            (230, 62),
            (231, 62),
        ] {
            let f = k as f64 * 31.25;
            let (lo, mid, hi) = (edge(m), edge(m + 1), edge(m + 2));
            let want = if f <= lo || f >= hi {
                0.0
            } else if f <= mid {
                (f - lo) / (mid - lo)
            } else {
                (hi - f) / (hi - mid)
            };
            let got = f64::from(fb[k * N_MELS + m]);
            assert!(
                (got - want).abs() < 1e-6,
                "fb[{k}][{m}] = {got}, closed form {want}"
            );
        }
        assert!(fb.iter().all(|&w| (0.0..=1.0).contains(&w)));
    }

    #[test]
    fn sparse_apply_equals_dense_product() {
        let bank = MelFilterbank::new();
        let dense = bank.dense();
        let power: Vec<f32> = noise(N_BINS, 3).iter().map(|x| x * x).collect();
        let mut mel = [0.0f32; N_MELS];
        bank.apply(&power, &mut mel);
        for m in 0..N_MELS {
            let want: f32 = (0..N_BINS).map(|k| power[k] * dense[k * N_MELS + m]).sum();
            assert!(
                (mel[m] - want).abs() <= 1e-6 * want.max(1e-3),
                "band {m}: {} vs {want}",
                mel[m]
            );
        }
    }

    /// The slow twin of `LogMel::compute`: normalise, reflect-pad by index, direct DFT,
    /// dense filterbank, log, all in f64.
    fn log_mel_reference(x: &[f32]) -> Vec<f64> {
        let stft = Stft::new();
        let fb = MelFilterbank::new().dense();
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let frames = 1 + x.len() / HOP;
        let mut out = Vec::with_capacity(frames * N_MELS);
        for t in 0..frames {
            let frame: Vec<f32> = (0..N_FFT)
                .map(|n| x[reflect_index((t * HOP + n) as isize - PAD as isize, x.len())] / peak)
                .collect();
            let power = power_direct(&frame, stft.window());
            for m in 0..N_MELS {
                let p: f64 = (0..N_BINS)
                    .map(|k| power[k] * f64::from(fb[k * N_MELS + m]))
                    .sum();
                out.push(10.0 * p.max(1e-10).log10());
            }
        }
        out
    }

    #[test]
    fn log_mel_equals_the_direct_reference() {
        let x: Vec<f32> = noise(2000, 11).iter().map(|v| v * 0.3).collect();
        let mel = log_mel(&x).unwrap();
        let want = log_mel_reference(&x);
        assert_eq!((mel.frames, mel.data.len()), (13, want.len()));
        for (i, (&got, &w)) in mel.data.iter().zip(&want).enumerate() {
            assert!(
                (f64::from(got) - w).abs() < 1e-3,
                "frame {} band {}: {got} vs {w}",
                i / 64,
                i % 64
            );
        }
    }

    #[test]
    fn a_pure_tone_lights_the_band_that_contains_it() {
        let bank = MelFilterbank::new().dense();
        for freq in [440.0, 1000.0, 3000.0, 6500.0] {
            let x: Vec<f32> = (0..4000)
                .map(|i| (std::f64::consts::TAU * freq * i as f64 / 16_000.0).sin() as f32)
                .collect();
            let mel = log_mel(&x).unwrap();
            let row = mel.frame(12);
            let loudest = (0..N_MELS)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap();
            // The band whose triangle gives the tone's nearest bin the largest weight.
            let bin = (freq / 31.25f64).round() as usize;
            let want = (0..N_MELS)
                .max_by(|&a, &b| bank[bin * N_MELS + a].total_cmp(&bank[bin * N_MELS + b]))
                .unwrap();
            assert!(
                loudest.abs_diff(want) <= 1,
                "{freq} Hz: band {loudest}, expected {want}"
            );
            assert!(row[loudest] > row[(loudest + 20) % N_MELS] + 40.0);
        }
    }

    #[test]
    fn peak_normalisation_makes_level_irrelevant() {
        let x = noise(3000, 5);
        let loud: Vec<f32> = x.iter().map(|v| v * 0.9).collect();
        let quiet: Vec<f32> = x.iter().map(|v| v * 1e-3).collect();
        let (a, b) = (log_mel(&loud).unwrap(), log_mel(&quiet).unwrap());
        assert!(
            a.data
                .iter()
                .zip(&b.data)
                .all(|(p, q)| (p - q).abs() < 1e-3)
        );
        let mut y = vec![0.0, -0.5, 0.25];
        assert_eq!(peak_normalise(&mut y).unwrap(), 0.5);
        assert_eq!(y, vec![0.0, -1.0, 0.5]);
    }

    #[test]
    fn silent_non_finite_and_short_signals_are_errors() {
        let mut nan = noise(1000, 1);
        nan[500] = f32::NAN;
        let mut inf = noise(1000, 1);
        inf[7] = f32::NEG_INFINITY;
        for (x, what) in [
            (vec![0.0; 1000], "silent"),
            (nan, "sample 500 is NaN"),
            (inf, "sample 7 is -inf"),
            (noise(256, 2), "too short"),
            (vec![], "too short"),
        ] {
            match log_mel(&x) {
                Err(Error::Invalid(msg)) => assert!(msg.contains(what), "{msg}"),
                other => panic!("{what}: {other:?}"),
            }
        }
        assert_eq!(log_mel(&noise(257, 2)).unwrap().frames, 2);
    }
}
