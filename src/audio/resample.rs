//! Band-limited resampling between any two integer rates: a Kaiser-windowed sinc low-pass,
//! evaluated polyphase.
//!
//! Sample rates are integers, so the ratio is always rational: `to / from = L / M` in
//! lowest terms. Output sample n sits at input time `t = n·M/L` (in input samples), so
//! `i = ⌊n·M/L⌋` and phase `p = n·M mod L`, and
//!
//! ```text
//! y[n] = Σ_{j=0}^{2K-1} x[i − K + 1 + j] · h(p/L + K − 1 − j)
//! h(τ) = (2·fc/fs_in) · sinc(2·fc·τ/fs_in) · kaiser(τ / (T·fs_in))     (τ in input samples)
//! ```
//!
//! With `L ≤ MAX_EXACT_PHASES` (every common rate: 44 100 → 16 000 is 160/441, 48 000 is
//! 1/3, 22 050 is 320/441, 8 000 is 2/1) the L rows of `h` are tabulated exactly. Larger L
//! (odd rates such as 44 056 Hz, L = 2000) use a table of `INTERP_PHASES` rows per input
//! sample and interpolate linearly between the two rows around `p/L`.
//!
//! The filter is zero-phase (symmetric about `t`), so output n is aligned with input time
//! `n·M/L` exactly; outside the signal the input is taken as 0.

use crate::{Error, Result};

/// Passband edge as a fraction of the lower of the two Nyquist frequencies:
/// 0.9875 × 8 kHz = 7.9 kHz when going to 16 kHz. Ripple there is below 0.001 dB.
const PASS_FRACTION: f64 = 0.9875;

/// Stopband edge as a fraction of the same Nyquist frequency: 1.05 × 8 kHz = 8.4 kHz.
/// Content between 8.0 and 8.4 kHz folds back into 7.6–8.0 kHz, attenuated by the
/// transition band; everything above 8.4 kHz is at least `ATTENUATION_DB` down.
const STOP_FRACTION: f64 = 1.05;

/// Stopband attenuation in dB.
const ATTENUATION_DB: f64 = 80.0;

/// Kaiser's β for `ATTENUATION_DB` > 50: 0.1102 · (A − 8.7) = 7.857.
const KAISER_BETA: f64 = 0.1102 * (ATTENUATION_DB - 8.7);

/// Up to this many phases the polyphase table is exact (at 44.1 kHz: 160 × 448 taps).
const MAX_EXACT_PHASES: u64 = 1024;

/// Rows per input sample of the interpolated table used beyond `MAX_EXACT_PHASES`.
/// Linear interpolation between rows 1/512 sample apart errs by < 1e-6 per tap.
const INTERP_PHASES: usize = 512;

/// A resampler from one rate to another, with its filter table built once.
#[derive(Clone, Debug)]
pub struct Resampler {
    from: u32,
    to: u32,
    /// `to / from = up / down` in lowest terms.
    up: u64,
    down: u64,
    /// K: the filter spans 2K input samples, K before and K after the output time.
    half_taps: usize,
    /// Row length of the table: 2K rounded up to a multiple of 8 (zeros at the end), so
    /// the dot product runs in whole SIMD vectors.
    taps: usize,
    kernel: Kernel,
}

#[derive(Clone, Debug)]
enum Kernel {
    /// `from == to`: a copy.
    Identity,
    /// `up` rows × `taps`; row p is the filter for phase p/up.
    Exact(Vec<f32>),
    /// (`INTERP_PHASES` + 1) rows × `taps`; row q is the filter for phase q/INTERP_PHASES.
    Interpolated(Vec<f32>),
}

/// Filter design shared by the fast path and its slow twin.
#[derive(Clone, Copy, Debug)]
struct Design {
    /// Cut-off (−6 dB point) over the input rate: fc / fs_in.
    cutoff: f64,
    /// Half-length of the window in input samples: T · fs_in.
    half_width: f64,
}

impl Design {
    fn new(from: u32, to: u32) -> Design {
        let nyquist = f64::from(from.min(to)) / 2.0;
        let pass = PASS_FRACTION * nyquist;
        let stop = STOP_FRACTION * nyquist;
        let cutoff_hz = 0.5 * (pass + stop);
        // Kaiser's length formula, N − 1 = (A − 7.95) / (2.285 · 2π · Δf / fs), in seconds:
        // the whole window spans (A − 7.95) / (2.285 · 2π · Δf), half of it on each side.
        let half_seconds =
            (ATTENUATION_DB - 7.95) / (2.0 * 2.285 * std::f64::consts::TAU * (stop - pass));
        Design {
            cutoff: cutoff_hz / f64::from(from),
            half_width: half_seconds * f64::from(from),
        }
    }

    /// The filter at offset τ input samples from the output time.
    fn tap(&self, tau: f64) -> f64 {
        let u = tau / self.half_width;
        if u.abs() >= 1.0 {
            return 0.0;
        }
        let window = bessel_i0(KAISER_BETA * (1.0 - u * u).sqrt()) / bessel_i0(KAISER_BETA);
        2.0 * self.cutoff * sinc(2.0 * self.cutoff * tau) * window
    }
}

impl Resampler {
    /// Builds the resampler; a 0 Hz rate is [`Error::Invalid`].
    pub fn new(from: u32, to: u32) -> Result<Resampler> {
        if from == 0 || to == 0 {
            return Err(Error::invalid(format!(
                "resample: {from} Hz → {to} Hz: rates must be > 0"
            )));
        }
        let g = gcd(u64::from(from), u64::from(to));
        let (up, down) = (u64::from(to) / g, u64::from(from) / g);
        if from == to {
            return Ok(Resampler {
                from,
                to,
                up,
                down,
                half_taps: 0,
                taps: 0,
                kernel: Kernel::Identity,
            });
        }
        let design = Design::new(from, to);
        let half_taps = design.half_width.ceil() as usize;
        // Taps past 2K sit beyond the window (|τ| > K), where `tap` is exactly 0.
        let taps = (2 * half_taps).next_multiple_of(8);
        let rows = if up <= MAX_EXACT_PHASES {
            up as usize
        } else {
            INTERP_PHASES + 1
        };
        let step = if up <= MAX_EXACT_PHASES {
            up as f64
        } else {
            INTERP_PHASES as f64
        };
        let mut table = vec![0.0f32; rows * taps];
        for (row, filter) in table.chunks_exact_mut(taps).enumerate() {
            let phase = row as f64 / step;
            for (j, w) in filter.iter_mut().enumerate() {
                *w = design.tap(phase + (half_taps as f64 - 1.0 - j as f64)) as f32;
            }
        }
        let kernel = if up <= MAX_EXACT_PHASES {
            Kernel::Exact(table)
        } else {
            Kernel::Interpolated(table)
        };
        Ok(Resampler {
            from,
            to,
            up,
            down,
            half_taps,
            taps,
            kernel,
        })
    }

    /// Input and output rates in Hz.
    pub fn rates(&self) -> (u32, u32) {
        (self.from, self.to)
    }

    /// Number of output samples for `n` input samples: ⌈n · to / from⌉, the outputs whose
    /// time falls inside the input.
    pub fn output_len(&self, n: usize) -> usize {
        ((n as u128 * u128::from(self.up)).div_ceil(u128::from(self.down))) as usize
    }

    /// Resamples a mono signal.
    pub fn process(&self, input: &[f32]) -> Vec<f32> {
        let (table, exact) = match &self.kernel {
            Kernel::Identity => return input.to_vec(),
            Kernel::Exact(table) => (table, true),
            Kernel::Interpolated(table) => (table, false),
        };
        let (k, taps) = (self.half_taps, self.taps);
        // padded[k + idx] = x[idx], zeros outside: the window for input index i starts at
        // x[i − K + 1] = padded[i + 1] and never leaves the buffer.
        let mut padded = vec![0.0f32; input.len() + taps];
        padded[k..k + input.len()].copy_from_slice(input);

        let n_out = self.output_len(input.len());
        let mut out = Vec::with_capacity(n_out);
        let (up, down) = (self.up, self.down);
        let (mut i, mut p) = (0usize, 0u64); // i = ⌊n·down/up⌋, p = n·down mod up
        for _ in 0..n_out {
            let x = &padded[i + 1..i + 1 + taps];
            let y = if exact {
                dot(x, &table[p as usize * taps..][..taps])
            } else {
                let pos = p as f64 * INTERP_PHASES as f64 / up as f64;
                let q = pos as usize;
                let alpha = (pos - q as f64) as f32;
                let below = dot(x, &table[q * taps..][..taps]);
                let above = dot(x, &table[(q + 1) * taps..][..taps]);
                below + alpha * (above - below)
            };
            out.push(y);
            p += down;
            i += (p / up) as usize;
            p %= up;
        }
        out
    }
}

/// Resamples a mono signal from one rate to another (see [`Resampler`]).
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    Ok(Resampler::new(from, to)?.process(input))
}

/// Length of `n` samples at `from` Hz resampled to `to` Hz: ⌈n · to / from⌉.
/// Panics if `from` is 0.
pub fn resampled_len(n: usize, from: u32, to: u32) -> usize {
    assert!(from > 0, "resampled_len: from rate is 0 Hz");
    (n as u128 * u128::from(to)).div_ceil(u128::from(from)) as usize
}

/// Σ a·b over two equal-length slices: AVX2 + FMA when the CPU has them, else the
/// portable loop (which is also the AVX2 path's twin in the tests).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA, checked just above.
        return unsafe { dot_avx2(a, b) };
    }
    dot_portable(a, b)
}

/// Σ a·b with eight independent accumulators, so the loop vectorises on any target.
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(
        a.len(),
        b.len(),
        "resample dot: lengths {} and {}",
        a.len(),
        b.len()
    );
    let mut acc = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// Σ a·b with four 8-lane FMA accumulators (32 products in flight hide the FMA latency).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    assert_eq!(
        a.len(),
        b.len(),
        "resample dot: lengths {} and {}",
        a.len(),
        b.len()
    );
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (k, sum) in acc.iter_mut().enumerate() {
            // SAFETY: i + 8k + 8 ≤ i + 32 ≤ n, so both 8-float loads are in bounds;
            // loadu has no alignment requirement.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_ps(pa.add(i + 8 * k)),
                    _mm256_loadu_ps(pb.add(i + 8 * k)),
                )
            };
            *sum = _mm256_fmadd_ps(x, y, *sum);
        }
        i += 32;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 ≤ n.
        let (x, y) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
        acc[0] = _mm256_fmadd_ps(x, y, acc[0]);
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds exactly 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    let tail: f32 = a[i..].iter().zip(&b[i..]).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// Modified Bessel function of the first kind, order 0: Σ_k ((x/2)^k / k!)².
fn bessel_i0(x: f64) -> f64 {
    let half = x / 2.0;
    let (mut term, mut sum, mut k) = (1.0f64, 1.0f64, 1.0f64);
    while term > 1e-17 * sum {
        term *= (half / k) * (half / k);
        sum += term;
        k += 1.0;
    }
    sum
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The slow twin: every output evaluates the windowed sinc afresh, in f64.
#[cfg(test)]
fn resample_direct(input: &[f32], from: u32, to: u32) -> Vec<f64> {
    if from == to {
        return input.iter().map(|&x| f64::from(x)).collect();
    }
    let design = Design::new(from, to);
    let k = design.half_width.ceil() as i64;
    (0..resampled_len(input.len(), from, to))
        .map(|n| {
            let t = n as f64 * f64::from(from) / f64::from(to);
            let i = t.floor() as i64;
            (i - k + 1..=i + k)
                .filter(|&idx| idx >= 0 && (idx as usize) < input.len())
                .map(|idx| f64::from(input[idx as usize]) * design.tap(t - idx as f64))
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    fn noise(n: usize, seed: u64) -> Vec<f32> {
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

    fn tone(freq: f64, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (TAU * freq * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn polyphase_matches_the_direct_windowed_sinc() {
        // 44 056 Hz has L = 2000 phases: the interpolated path. The rest are exact tables.
        for (from, tol) in [
            (44_100, 2e-6),
            (8_000, 2e-6),
            (22_050, 2e-6),
            (48_000, 2e-6),
            (44_056, 2e-5),
        ] {
            let x = noise(1500, u64::from(from));
            let fast = resample(&x, from, 16_000).unwrap();
            let slow = resample_direct(&x, from, 16_000);
            assert_eq!(fast.len(), slow.len(), "{from} Hz");
            let err = fast
                .iter()
                .zip(&slow)
                .map(|(&a, &b)| (f64::from(a) - b).abs())
                .fold(0.0, f64::max);
            assert!(err < tol, "{from} Hz: max error {err}");
        }
        let r = Resampler::new(44_056, 16_000).unwrap();
        assert!(matches!(r.kernel, Kernel::Interpolated(_)));
        assert!(matches!(
            Resampler::new(44_100, 16_000).unwrap().kernel,
            Kernel::Exact(_)
        ));
    }

    #[test]
    fn dot_product_paths_agree_on_awkward_lengths() {
        for n in (0..=70).chain([443, 444, 1000]) {
            let (a, b) = (noise(n, 1), noise(n, 2));
            let exact: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            let portable = dot_portable(&a, &b);
            assert!(
                (f64::from(portable) - exact).abs() < 1e-5,
                "portable, n = {n}"
            );
            assert!(
                (f64::from(dot(&a, &b)) - exact).abs() < 1e-5,
                "dispatched, n = {n}"
            );
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                let simd = unsafe { dot_avx2(&a, &b) };
                assert!((simd - portable).abs() < 1e-5, "avx2 vs portable, n = {n}");
            }
        }
    }

    #[test]
    fn lengths_and_identity() {
        assert_eq!(resampled_len(44_100, 44_100, 16_000), 16_000);
        assert_eq!(resampled_len(1, 44_100, 16_000), 1);
        assert_eq!(resampled_len(3, 48_000, 16_000), 1);
        assert_eq!(resampled_len(4, 48_000, 16_000), 2);
        assert_eq!(resampled_len(5, 8_000, 16_000), 10);
        let r = Resampler::new(44_100, 16_000).unwrap();
        assert_eq!(r.process(&[0.5; 441]).len(), 160);
        assert!(r.process(&[]).is_empty());
        let x = noise(100, 7);
        assert_eq!(resample(&x, 16_000, 16_000).unwrap(), x);
        assert!(matches!(Resampler::new(0, 16_000), Err(Error::Invalid(_))));
    }

    /// A sine keeps its frequency and amplitude: the output equals the sine sampled at
    /// 16 kHz (away from the edges, where the filter sees zeros).
    #[test]
    fn a_1khz_sine_survives_44k1_and_8k_to_16k() {
        for from in [44_100, 8_000] {
            let n = from as usize / 5; // 200 ms
            let y = resample(&tone(1000.0, from, n), from, 16_000).unwrap();
            assert_eq!(y.len(), 3200);
            let want = tone(1000.0, 16_000, 3200);
            let err = y[400..2800]
                .iter()
                .zip(&want[400..2800])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                err < 1e-3,
                "{from} Hz: max deviation from the ideal sine {err}"
            );
        }
    }

    /// 7.9 kHz (in the passband) is kept within 1 dB; 10 kHz (above Nyquist) loses ≥ 60 dB.
    #[test]
    fn passband_edge_kept_and_aliases_rejected() {
        let n = 44_100 / 5;
        let gain_db = |freq: f64| {
            let x = tone(freq, 44_100, n);
            let y = resample(&x, 44_100, 16_000).unwrap();
            20.0 * (rms(&y[500..2700]) / rms(&x)).log10()
        };
        let kept = gain_db(7_900.0);
        assert!(kept.abs() < 1.0, "7.9 kHz changed by {kept:.2} dB");
        let rejected = gain_db(10_000.0);
        assert!(rejected < -60.0, "10 kHz only {rejected:.1} dB down");
    }

    #[test]
    fn dc_passes_with_unit_gain_both_ways() {
        for (from, to) in [(44_100, 16_000), (8_000, 16_000), (11_025, 16_000)] {
            let y = resample(&vec![0.5; from as usize / 10], from, to).unwrap();
            let mid = &y[y.len() / 3..2 * y.len() / 3];
            assert!(mid.iter().all(|&v| (v - 0.5).abs() < 5e-4), "{from} → {to}");
        }
    }
}
