//! Batched matrix product with either side transposed: `C[b] = op(A[b]) · op(B[b])`.
//!
//! Shapes: `A` is `(batch, m, k)` (or `(batch, k, m)` when transposed), `B` is
//! `(batch, k, n)` (or `(batch, n, k)`), `C` is `(batch, m, n)`; `batch` may be 1.

use super::gemm::{self, Mat, gemm};
use crate::profile;

/// Sizes of one batched product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// Read `A` as `Aᵀ` (stored `k × m`).
    pub trans_a: bool,
    /// Read `B` as `Bᵀ` (stored `n × k`).
    pub trans_b: bool,
}

impl MatmulDims {
    fn flops(&self) -> u64 {
        self.batch as u64 * gemm::flops(self.m, self.k, self.n)
    }
}

/// `out (batch, m, n) = op(a) · op(b)`, one GEMM per batch item.
pub fn matmul_forward(out: &mut [f32], a: &[f32], b: &[f32], d: MatmulDims) {
    let _p = profile::scope("matmul", d.flops());
    let MatmulDims {
        batch,
        m,
        k,
        n,
        trans_a,
        trans_b,
    } = d;
    for i in 0..batch {
        let ai = &a[i * m * k..(i + 1) * m * k];
        let bi = &b[i * k * n..(i + 1) * k * n];
        let oi = &mut out[i * m * n..(i + 1) * m * n];
        gemm(
            m,
            k,
            n,
            1.0,
            Mat::with_trans(ai, trans_a),
            Mat::with_trans(bi, trans_b),
            0.0,
            oi,
        );
    }
}

/// Accumulates the gradients of [`matmul_forward`]: with `C = op(A)·op(B)`,
/// `d op(A) = dC · op(B)ᵀ` and `d op(B) = op(A)ᵀ · dC`, written back in each operand's
/// stored layout (so a transposed operand gets the transposed product). `None` skips an
/// input that needs no gradient.
pub fn matmul_backward(
    da: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
    dout: &[f32],
    a: &[f32],
    b: &[f32],
    d: MatmulDims,
) {
    let passes = da.is_some() as u64 + db.is_some() as u64;
    let _p = profile::scope("matmul.bwd", passes * d.flops());
    let MatmulDims {
        batch,
        m,
        k,
        n,
        trans_a,
        trans_b,
    } = d;
    if let Some(da) = da {
        for i in 0..batch {
            let dci = &dout[i * m * n..(i + 1) * m * n];
            let bi = &b[i * k * n..(i + 1) * k * n];
            let dai = &mut da[i * m * k..(i + 1) * m * k];
            if trans_a {
                // A stored (k, m): dA = op(B) · dCᵀ   (k×n · n×m)
                gemm(
                    k,
                    n,
                    m,
                    1.0,
                    Mat::with_trans(bi, trans_b),
                    Mat::t(dci),
                    1.0,
                    dai,
                );
            } else {
                // A stored (m, k): dA = dC · op(B)ᵀ   (m×n · n×k)
                gemm(
                    m,
                    n,
                    k,
                    1.0,
                    Mat::n(dci),
                    Mat::with_trans(bi, !trans_b),
                    1.0,
                    dai,
                );
            }
        }
    }
    if let Some(db) = db {
        for i in 0..batch {
            let dci = &dout[i * m * n..(i + 1) * m * n];
            let ai = &a[i * m * k..(i + 1) * m * k];
            let dbi = &mut db[i * k * n..(i + 1) * k * n];
            if trans_b {
                // B stored (n, k): dB = dCᵀ · op(A)   (n×m · m×k)
                gemm(
                    n,
                    m,
                    k,
                    1.0,
                    Mat::t(dci),
                    Mat::with_trans(ai, trans_a),
                    1.0,
                    dbi,
                );
            } else {
                // B stored (k, n): dB = op(A)ᵀ · dC   (k×m · m×n)
                gemm(
                    k,
                    m,
                    n,
                    1.0,
                    Mat::with_trans(ai, !trans_a),
                    Mat::n(dci),
                    1.0,
                    dbi,
                );
            }
        }
    }
}
