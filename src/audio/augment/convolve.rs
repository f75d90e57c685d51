//! Linear convolution and reverberation: FFT overlap-add (the fast path) and the direct
//! sum (its slow twin, the test oracle).
//!
//! The FFT path packs two real streams into one complex FFT: with z = a + i·b and a real
//! filter h, IFFT(FFT(z)·FFT(h)) = (a∗h) + i·(b∗h), and both convolutions are real, so the
//! real and imaginary parts come apart exactly. One signal is convolved as its two halves;
//! noise + reverb convolves the signal and the noise in the same pass.

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    /// One planner per thread: it keeps the plans (twiddle tables) it made, so that the
    /// thousands of same-sized convolutions of a training run plan once, not every call.
    static PLANNER: RefCell<FftPlanner<f32>> = RefCell::new(FftPlanner::new());
}

/// Forward and inverse complex FFTs of length `n`, from this thread's planner.
fn plans(n: usize) -> (Arc<dyn Fft<f32>>, Arc<dyn Fft<f32>>) {
    PLANNER.with_borrow_mut(|p| (p.plan_fft_forward(n), p.plan_fft_inverse(n)))
}

/// Full linear convolution by the direct sum, accumulated in f64: `y[t] = Σ_k x[t−k]·h[k]`.
/// Shapes: x (n,), h (m,) → y (n + m − 1,), or empty if either input is empty. O(n·m).
pub fn direct_convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    if x.is_empty() || h.is_empty() {
        return Vec::new();
    }
    let mut y = vec![0.0f64; x.len() + h.len() - 1];
    for (i, &xi) in x.iter().enumerate() {
        for (k, &hk) in h.iter().enumerate() {
            y[i + k] += xi as f64 * hk as f64;
        }
    }
    y.into_iter().map(|v| v as f32).collect()
}

/// Full linear convolution by FFT overlap-add; the same result as [`direct_convolve`] up
/// to f32 rounding. Shapes: x (n,), h (m,) → (n + m − 1,), empty if either is empty.
/// Cost O((n + m)·log m) with the block size picked by [`block_fft_len`].
pub fn fft_convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    if x.is_empty() || h.is_empty() {
        return Vec::new();
    }
    // The two halves of x ride in the real and imaginary parts of one complex stream.
    let mid = x.len().div_ceil(2);
    let (lo, hi) = fft_convolve_pair(&x[..mid], &x[mid..], h);
    let mut y = lo;
    y.resize(x.len() + h.len() - 1, 0.0);
    for (yi, v) in y[mid..].iter_mut().zip(hi) {
        *yi += v;
    }
    y
}

/// Convolves two real signals with the same real filter in one overlap-add pass.
/// Shapes: a (na,), b (nb,), h (m,) → (na + m − 1,) and (nb + m − 1,); an empty input
/// gives an empty output.
pub fn fft_convolve_pair(a: &[f32], b: &[f32], h: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let out_len = |n: usize| {
        if n == 0 || h.is_empty() {
            0
        } else {
            n + h.len() - 1
        }
    };
    let mut ya = vec![0.0f32; out_len(a.len())];
    let mut yb = vec![0.0f32; out_len(b.len())];
    let longest = a.len().max(b.len());
    if h.is_empty() || longest == 0 {
        return (ya, yb);
    }
    let n = block_fft_len(longest, h.len());
    let block = n - h.len() + 1;
    let (forward, inverse) = plans(n);
    let mut scratch = vec![
        Complex::default();
        forward
            .get_inplace_scratch_len()
            .max(inverse.get_inplace_scratch_len())
    ];

    let mut filter: Vec<Complex<f32>> = h.iter().map(|&v| Complex::new(v, 0.0)).collect();
    filter.resize(n, Complex::default());
    forward.process_with_scratch(&mut filter, &mut scratch);

    // rustfft's inverse is unnormalised: fold the 1/n into the filter spectrum.
    let scale = 1.0 / n as f32;
    for f in &mut filter {
        *f *= scale;
    }

    let mut buf = vec![Complex::default(); n];
    for start in (0..longest).step_by(block) {
        for (i, z) in buf.iter_mut().enumerate() {
            let t = start + i;
            let re = if i < block {
                a.get(t).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            let im = if i < block {
                b.get(t).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            *z = Complex::new(re, im);
        }
        forward.process_with_scratch(&mut buf, &mut scratch);
        for (z, f) in buf.iter_mut().zip(&filter) {
            *z *= f;
        }
        inverse.process_with_scratch(&mut buf, &mut scratch);
        for (y, z) in ya.iter_mut().skip(start).zip(&buf) {
            *y += z.re;
        }
        for (y, z) in yb.iter_mut().skip(start).zip(&buf) {
            *y += z.im;
        }
    }
    (ya, yb)
}

/// The overlap-add FFT length for a signal of `n` samples and a filter of `m`: the power of
/// two N ≥ m that minimises blocks · N·log2 N, with blocks = ⌈n / (N − m + 1)⌉. For a
/// 5 s signal (80 000) and a 1 s RIR (16 000) this is 65 536: 2 blocks.
pub fn block_fft_len(n: usize, m: usize) -> usize {
    let whole = (n + m - 1).next_power_of_two();
    let mut best = (f64::INFINITY, whole);
    let mut len = m.next_power_of_two();
    while len <= whole {
        let blocks = n.div_ceil(len - m + 1) as f64;
        let cost = blocks * len as f64 * (len as f64).log2();
        if cost < best.0 {
            best = (cost, len);
        }
        len *= 2;
    }
    best.1
}

/// Reverberates `x` with a room impulse response whose direct path is at index `direct`,
/// keeping the direct sound where it was: `y[t] = (x ∗ rir)[t + direct]`. Shapes: x (n,),
/// rir (m,) → y (n,). Sound before x's start is taken as silence; reverb that rings past
/// x's end is dropped. Panics if `direct` is not an index into `rir`.
pub fn reverberate(x: &[f32], rir: &[f32], direct: usize) -> Vec<f32> {
    assert!(
        direct < rir.len(),
        "reverberate: direct path {direct} outside the RIR of {} samples",
        rir.len()
    );
    if x.is_empty() {
        return Vec::new();
    }
    fft_convolve(x, rir)[direct..direct + x.len()].to_vec()
}

/// [`reverberate`] of two signals with the same RIR in one FFT pass (noise + reverb).
/// Shapes: a (na,), b (nb,) → (na,), (nb,).
pub fn reverberate_pair(a: &[f32], b: &[f32], rir: &[f32], direct: usize) -> (Vec<f32>, Vec<f32>) {
    assert!(
        direct < rir.len(),
        "reverberate_pair: direct path {direct} outside the RIR of {} samples",
        rir.len()
    );
    let (ya, yb) = fft_convolve_pair(a, b, rir);
    let keep = |y: Vec<f32>, n: usize| {
        if n == 0 {
            y
        } else {
            y[direct..direct + n].to_vec()
        }
    };
    (keep(ya, a.len()), keep(yb, b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, rng: &mut StdRng) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    fn assert_close(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-5 * scale, "{what}: [{i}] {g} vs {w}");
        }
    }

    #[test]
    fn fft_convolution_matches_the_direct_sum_over_awkward_lengths() {
        let mut rng = StdRng::seed_from_u64(11);
        for (n, m) in [
            (1, 1),
            (1, 7),
            (7, 1),
            (2, 3),
            (5, 64),
            (64, 5),
            (67, 67),
            (300, 129),
            (1000, 33),
            (1500, 1024),
        ] {
            let x = random(n, &mut rng);
            let h = random(m, &mut rng);
            assert_close(
                &fft_convolve(&x, &h),
                &direct_convolve(&x, &h),
                &format!("n {n}, m {m}"),
            );
        }
        assert!(fft_convolve(&[], &[1.0]).is_empty() && fft_convolve(&[1.0], &[]).is_empty());
    }

    #[test]
    fn paired_convolution_keeps_the_two_streams_apart() {
        let mut rng = StdRng::seed_from_u64(12);
        let (a, b, h) = (
            random(900, &mut rng),
            random(250, &mut rng),
            random(100, &mut rng),
        );
        let (ya, yb) = fft_convolve_pair(&a, &b, &h);
        assert_close(&ya, &direct_convolve(&a, &h), "a");
        assert_close(&yb, &direct_convolve(&b, &h), "b");
        let (ya, yb) = fft_convolve_pair(&a, &[], &h);
        assert_close(&ya, &direct_convolve(&a, &h), "a alone");
        assert!(yb.is_empty());
    }

    #[test]
    fn block_length_covers_the_filter_and_prefers_few_blocks() {
        assert_eq!(block_fft_len(80_000, 16_000), 65_536);
        assert_eq!(block_fft_len(10, 10), 16);
        for (n, m) in [(1, 1), (3, 100), (100_000, 129)] {
            assert!(block_fft_len(n, m) >= m);
        }
    }

    #[test]
    fn reverb_lands_the_direct_path_on_the_original_samples() {
        let mut rng = StdRng::seed_from_u64(13);
        let x = random(500, &mut rng);
        // A pure delayed impulse: the output is the input, scaled, not shifted.
        let mut rir = vec![0.0f32; 200];
        rir[37] = 0.5;
        let y = reverberate(&x, &rir, 37);
        assert_close(
            &y,
            &x.iter().map(|v| 0.5 * v).collect::<Vec<_>>(),
            "delayed impulse",
        );
        // An echo 40 samples after the direct path: y[t] = x[t] + 0.25·x[t − 40].
        rir[37] = 1.0;
        rir[77] = 0.25;
        let y = reverberate(&x, &rir, 37);
        let want: Vec<f32> = (0..x.len())
            .map(|t| x[t] + if t >= 40 { 0.25 * x[t - 40] } else { 0.0 })
            .collect();
        assert_close(&y, &want, "echo");
        let (ya, yb) = reverberate_pair(&x, &x[..100], &rir, 37);
        assert_close(&ya, &want, "pair a");
        assert_close(&yb, &want[..100], "pair b");
    }
}
