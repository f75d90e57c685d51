//! Short-time Fourier transform as torchaudio's `Spectrogram(n_fft=512, hop_length=160,
//! window=hann_window(512), center=True, pad_mode="reflect", power=2)`: periodic Hann
//! window, frames centred on samples `t·HOP` thanks to 256 samples of reflect padding on
//! each side, one-sided power spectrum of 257 bins.
//!
//! The 512-point real FFT is one 256-point complex FFT (rustfft) of the even/odd samples
//! packed as z[n] = x[2n] + i·x[2n+1], then split into the spectra of the two halves:
//!
//! ```text
//! E[k] = (Z[k] + conj Z[256−k]) / 2          (FFT of the even samples)
//! O[k] = (Z[k] − conj Z[256−k]) / 2i         (FFT of the odd samples)
//! X[k] = E[k] + e^{−2πik/512} · O[k],  k = 0..=256  (Z[256] = Z[0])
//! ```
//!
//! Its slow twin, a direct O(N²) DFT in f64, is in the tests.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::{HOP, N_BINS, N_FFT, PAD};
use crate::{Error, Result};

/// Half the FFT size: the length of the complex FFT actually run.
const HALF: usize = N_FFT / 2;

/// Number of STFT frames for `n` samples: 1 + ⌊n / HOP⌋ (centred frames; a 1 s clip of
/// 16 000 samples gives 101 frames).
pub fn frame_count(n: usize) -> usize {
    1 + n / HOP
}

/// The STFT's plan, window and twiddles, built once and shared (it is `Send + Sync`).
pub struct Stft {
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    /// e^{−2πik/512} for k in 0..256.
    twiddles: Vec<Complex<f32>>,
}

/// Per-call buffers for [`Stft::power_into`].
pub(super) struct Workspace {
    buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl Default for Stft {
    fn default() -> Self {
        Self::new()
    }
}

impl Stft {
    pub fn new() -> Stft {
        let fft = FftPlanner::new().plan_fft_forward(HALF);
        // Periodic Hann (torch.hann_window(512), periodic=True): 0.5 − 0.5·cos(2πn/512).
        let window = (0..N_FFT)
            .map(|n| (0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        let twiddles = (0..HALF)
            .map(|k| {
                let angle = -std::f64::consts::TAU * k as f64 / N_FFT as f64;
                Complex::new(angle.cos() as f32, angle.sin() as f32)
            })
            .collect();
        Stft {
            fft,
            window,
            twiddles,
        }
    }

    /// The 512-sample periodic Hann window.
    pub fn window(&self) -> &[f32] {
        &self.window
    }

    pub(super) fn workspace(&self) -> Workspace {
        Workspace {
            buf: vec![Complex::new(0.0, 0.0); HALF],
            scratch: vec![Complex::new(0.0, 0.0); self.fft.get_inplace_scratch_len()],
        }
    }

    /// Power spectrum |X[k]|², k = 0..=256, of `frame · window` (both 512 samples).
    pub(super) fn power_into(
        &self,
        frame: &[f32],
        window: &[f32],
        ws: &mut Workspace,
        power: &mut [f32],
    ) {
        assert!(
            frame.len() == N_FFT && window.len() == N_FFT && power.len() == N_BINS,
            "stft power_into: frame {} and window {} must be {N_FFT}, power {} must be {N_BINS}",
            frame.len(),
            window.len(),
            power.len()
        );
        for ((z, x), w) in ws
            .buf
            .iter_mut()
            .zip(frame.chunks_exact(2))
            .zip(window.chunks_exact(2))
        {
            *z = Complex::new(x[0] * w[0], x[1] * w[1]);
        }
        self.fft.process_with_scratch(&mut ws.buf, &mut ws.scratch);
        let z = &ws.buf;
        power[0] = (z[0].re + z[0].im).powi(2);
        power[HALF] = (z[0].re - z[0].im).powi(2);
        for k in 1..HALF {
            let a = z[k];
            let b = z[HALF - k].conj();
            let even = (a + b) * 0.5;
            let diff = (a - b) * 0.5;
            let odd = Complex::new(diff.im, -diff.re); // diff / i
            power[k] = (even + self.twiddles[k] * odd).norm_sqr();
        }
    }

    /// Power spectrogram of a signal: `frame_count(n) × 257`, frame-major. Needs at least
    /// `PAD + 1` = 257 samples (reflect padding cannot mirror a shorter signal).
    pub fn power_spectrogram(&self, x: &[f32]) -> Result<Vec<f32>> {
        check_length(x.len())?;
        let padded = reflect_pad(x);
        let frames = frame_count(x.len());
        let mut out = vec![0.0f32; frames * N_BINS];
        let mut ws = self.workspace();
        for (t, power) in out.chunks_exact_mut(N_BINS).enumerate() {
            self.power_into(
                &padded[t * HOP..t * HOP + N_FFT],
                &self.window,
                &mut ws,
                power,
            );
        }
        Ok(out)
    }
}

/// Refuses signals too short to reflect-pad (fewer than 257 samples, 16.1 ms at 16 kHz).
pub(super) fn check_length(n: usize) -> Result<()> {
    if n <= PAD {
        return Err(Error::invalid(format!(
            "STFT: {n} samples is too short; centred frames with reflect padding need at least \
             {} samples ({:.1} ms at 16 kHz)",
            PAD + 1,
            (PAD + 1) as f64 / 16.0
        )));
    }
    Ok(())
}

/// The signal with PAD samples mirrored on each side, excluding the edge sample itself
/// (torch's "reflect"): [x[256], …, x[1], x[0], …, x[n−1], x[n−2], …, x[n−257]].
/// Needs `x.len() > PAD`.
pub(super) fn reflect_pad(x: &[f32]) -> Vec<f32> {
    let n = x.len();
    debug_assert!(n > PAD);
    let mut padded = Vec::with_capacity(n + 2 * PAD);
    padded.extend(x[1..=PAD].iter().rev());
    padded.extend_from_slice(x);
    padded.extend(x[n - 1 - PAD..n - 1].iter().rev());
    padded
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The slow twin: |Σ_n x[n]·w[n]·e^{−2πikn/512}|² for k = 0..=256, in f64.
    pub(in crate::audio) fn power_direct(frame: &[f32], window: &[f32]) -> Vec<f64> {
        (0..N_BINS)
            .map(|k| {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (n, (&x, &w)) in frame.iter().zip(window).enumerate() {
                    let v = f64::from(x) * f64::from(w);
                    let angle = -std::f64::consts::TAU * (k * n % N_FFT) as f64 / N_FFT as f64;
                    re += v * angle.cos();
                    im += v * angle.sin();
                }
                re * re + im * im
            })
            .collect()
    }

    /// Mirror index for torch's reflect padding, written independently of `reflect_pad`.
    pub(in crate::audio) fn reflect_index(i: isize, n: usize) -> usize {
        let n = n as isize;
        let j = if i < 0 {
            -i
        } else if i >= n {
            2 * (n - 1) - i
        } else {
            i
        };
        j as usize
    }

    pub(in crate::audio) fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn real_fft_frame_equals_direct_dft() {
        let stft = Stft::new();
        let mut ws = stft.workspace();
        let mut power = vec![0.0f32; N_BINS];
        for seed in 0..3 {
            let frame = noise(N_FFT, seed);
            stft.power_into(&frame, stft.window(), &mut ws, &mut power);
            let want = power_direct(&frame, stft.window());
            let scale = want.iter().cloned().fold(0.0, f64::max);
            for (k, (&got, &w)) in power.iter().zip(&want).enumerate() {
                assert!(
                    (f64::from(got) - w).abs() < 1e-5 * scale,
                    "bin {k}: {got} vs {w}"
                );
            }
        }
    }

    #[test]
    fn spectrogram_equals_direct_dft_of_reflect_padded_frames() {
        let stft = Stft::new();
        let x = noise(1000, 42);
        let spec = stft.power_spectrogram(&x).unwrap();
        assert_eq!(spec.len(), frame_count(1000) * N_BINS);
        for t in [0, 3, 6] {
            let frame: Vec<f32> = (0..N_FFT)
                .map(|m| x[reflect_index((t * HOP + m) as isize - PAD as isize, x.len())])
                .collect();
            let want = power_direct(&frame, stft.window());
            let scale = want.iter().cloned().fold(0.0, f64::max);
            for (k, &w) in want.iter().enumerate() {
                let got = f64::from(spec[t * N_BINS + k]);
                assert!(
                    (got - w).abs() < 1e-5 * scale,
                    "frame {t} bin {k}: {got} vs {w}"
                );
            }
        }
    }

    #[test]
    fn window_is_periodic_hann() {
        let w = Stft::new().window().to_vec();
        assert_eq!(w[0], 0.0);
        assert!((w[256] - 1.0).abs() < 1e-7 && (w[128] - 0.5).abs() < 1e-7);
        assert!((w[1] - w[511]).abs() < 1e-7, "periodic: w[n] = w[512 − n]");
    }

    #[test]
    fn frame_counts_and_the_short_signal_limit() {
        for (n, frames) in [
            (257, 2),
            (300, 2),
            (16_000, 101),
            (16_159, 101),
            (16_160, 102),
        ] {
            assert_eq!(frame_count(n), frames, "{n} samples");
            assert_eq!(
                Stft::new().power_spectrogram(&noise(n, 1)).unwrap().len(),
                frames * N_BINS
            );
        }
        for n in [0, 1, 100, 256] {
            assert!(matches!(
                Stft::new().power_spectrogram(&vec![0.1; n]),
                Err(Error::Invalid(_))
            ));
        }
    }

    #[test]
    fn reflect_pad_mirrors_without_repeating_the_edge() {
        let x: Vec<f32> = (0..300).map(|i| i as f32).collect();
        let p = reflect_pad(&x);
        assert_eq!(p.len(), 300 + 2 * PAD);
        for (i, &v) in p.iter().enumerate() {
            assert_eq!(
                v,
                reflect_index(i as isize - PAD as isize, 300) as f32,
                "padded[{i}]"
            );
        }
        assert_eq!((p[0], p[PAD - 1], p[PAD]), (256.0, 1.0, 0.0));
        assert_eq!(p[p.len() - 1], (299 - 256) as f32);
    }
}
