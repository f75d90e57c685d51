//! Softmax and log-softmax over the last axis, `(rows, cols)`.
//!
//! Both subtract the row maximum first, so large logits do not overflow.

use crate::profile;

/// `y[r, :] = softmax(x[r, :])`.
pub fn softmax_forward(out: &mut [f32], x: &[f32], cols: usize) {
    let _p = profile::scope("softmax", 4 * x.len() as u64);
    for (y, x) in out.chunks_exact_mut(cols).zip(x.chunks_exact(cols)) {
        softmax_row(y, x);
    }
}

/// One row: `y = exp(x − max x) / Σ exp(x − max x)`. Shared with the fused attention.
#[inline]
pub fn softmax_row(y: &mut [f32], x: &[f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (o, &v) in y.iter_mut().zip(x) {
        *o = (v - max).exp();
        sum += *o;
    }
    let inv = 1.0 / sum;
    for o in y.iter_mut() {
        *o *= inv;
    }
}

/// `dx += y ⊙ (dy − Σ_j dy_j y_j)` per row (the softmax Jacobian `diag(y) − y yᵀ`).
pub fn softmax_backward(dx: &mut [f32], dout: &[f32], y: &[f32], cols: usize) {
    let _p = profile::scope("softmax.bwd", 4 * y.len() as u64);
    for ((dx, dy), y) in dx
        .chunks_exact_mut(cols)
        .zip(dout.chunks_exact(cols))
        .zip(y.chunks_exact(cols))
    {
        let dot: f32 = dy.iter().zip(y).map(|(a, b)| a * b).sum();
        for ((g, &d), &p) in dx.iter_mut().zip(dy).zip(y) {
            *g += p * (d - dot);
        }
    }
}

/// `y[r, :] = x[r, :] − logsumexp(x[r, :])`.
pub fn log_softmax_forward(out: &mut [f32], x: &[f32], cols: usize) {
    let _p = profile::scope("log_softmax", 4 * x.len() as u64);
    for (y, x) in out.chunks_exact_mut(cols).zip(x.chunks_exact(cols)) {
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = max + x.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v - lse;
        }
    }
}

/// `dx += dy − softmax(x) · Σ_j dy_j`, with softmax(x) = exp(y).
pub fn log_softmax_backward(dx: &mut [f32], dout: &[f32], y: &[f32], cols: usize) {
    let _p = profile::scope("log_softmax.bwd", 4 * y.len() as u64);
    for ((dx, dy), y) in dx
        .chunks_exact_mut(cols)
        .zip(dout.chunks_exact(cols))
        .zip(y.chunks_exact(cols))
    {
        let total: f32 = dy.iter().sum();
        for ((g, &d), &l) in dx.iter_mut().zip(dy).zip(y) {
            *g += d - l.exp() * total;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// softmax([0, ln 3]) = [1/4, 3/4]; huge logits do not overflow.
    #[test]
    fn softmax_by_hand_and_stable() {
        let mut y = [0.0; 4];
        softmax_forward(&mut y, &[0.0, 3f32.ln(), 1000.0, 1000.0], 2);
        assert!((y[0] - 0.25).abs() < 1e-7 && (y[1] - 0.75).abs() < 1e-7);
        assert_eq!(&y[2..], &[0.5, 0.5]);
        let mut l = [0.0; 2];
        log_softmax_forward(&mut l, &[0.0, 3f32.ln()], 2);
        assert!((l[0] - 0.25f32.ln()).abs() < 1e-6 && (l[1] - 0.75f32.ln()).abs() < 1e-6);
    }
}
