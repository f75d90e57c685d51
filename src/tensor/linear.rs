//! Fully connected layer, `y = x · Wᵀ + b`, PyTorch's `nn.Linear` layout.
//!
//! Shapes: `x (N, I)` (any leading dims flattened into N), `W (O, I)`, `b (O)`, `y (N, O)`.

use super::gemm::{self, Mat, gemm};
use crate::profile;

/// `out (N, O) = x (N, I) · wᵀ (I, O) + bias (O)`.
pub fn linear_forward(
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    n: usize,
    i: usize,
    o: usize,
) {
    let _p = profile::scope("linear", gemm::flops(n, i, o));
    // Seed every row with the bias and let the GEMM accumulate onto it (beta = 1), so the
    // bias costs no extra pass over the output.
    let beta = match bias {
        Some(b) => {
            for row in out[..n * o].chunks_exact_mut(o) {
                row.copy_from_slice(&b[..o]);
            }
            1.0
        }
        None => 0.0,
    };
    gemm(n, i, o, 1.0, Mat::n(x), Mat::t(w), beta, out);
}

/// Accumulates the gradients of [`linear_forward`]:
/// `dx (N, I) += dout (N, O) · w (O, I)`, `dw (O, I) += doutᵀ (O, N) · x (N, I)`,
/// `dbias (O) += Σ_rows dout`. `None` skips a gradient that is not needed.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    dbias: Option<&mut [f32]>,
    dout: &[f32],
    x: &[f32],
    w: &[f32],
    n: usize,
    i: usize,
    o: usize,
) {
    let passes = dx.is_some() as u64 + dw.is_some() as u64;
    let _p = profile::scope("linear.bwd", passes * gemm::flops(n, i, o) + (n * o) as u64);
    if let Some(dx) = dx {
        gemm(n, o, i, 1.0, Mat::n(dout), Mat::n(w), 1.0, dx);
    }
    if let Some(dw) = dw {
        gemm(o, n, i, 1.0, Mat::t(dout), Mat::n(x), 1.0, dw);
    }
    if let Some(db) = dbias {
        for row in dout[..n * o].chunks_exact(o) {
            for (g, d) in db.iter_mut().zip(row) {
                *g += d;
            }
        }
    }
}
