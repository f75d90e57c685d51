//! Short-vector reductions written so that LLVM vectorises them.
//!
//! A plain `iter().sum()` over f32 is a chain of dependent adds (floating-point addition is
//! not associative, so the compiler must keep the order): 4 cycles per element. Keeping 8
//! independent partial sums, one per AVX lane, lets the loop run at SIMD width. The results
//! differ from the sequential sum only by rounding.

/// Partial sums kept: one 256-bit register of f32.
const LANES: usize = 8;

/// `Σ a_i b_i`.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ a_i`.
#[inline(always)]
pub fn sum(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = a.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for x in chunks {
        for l in 0..LANES {
            acc[l] += x[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against an f64 loop, over lengths 0..=67 (every remainder, several full chunks).
    #[test]
    fn dot_and_sum_match_f64_reference() {
        for n in 0..=67 {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.37).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 3 % 13) as f32 - 6.0) * 0.21).collect();
            let want_dot: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            let want_sum: f64 = a.iter().map(|&x| x as f64).sum();
            assert!((dot(&a, &b) as f64 - want_dot).abs() < 1e-4, "dot n={n}");
            assert!((sum(&a) as f64 - want_sum).abs() < 1e-4, "sum n={n}");
        }
    }
}
