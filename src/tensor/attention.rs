//! Multi-head scaled-dot-product self-attention as one fused op (no mask, no dropout).
//!
//! Input: packed `qkv (B, T, 3C)` with `C = H·Dh`; along the last axis the first C columns
//! are the queries, the next C the keys, the last C the values (PyTorch's `in_proj`
//! order), and head h owns columns `h·Dh .. (h+1)·Dh` of each. Per sequence b and head h:
//!
//! ```text
//! S = Q Kᵀ / √Dh          (T, T)
//! P = softmax_rows(S)     (T, T)   kept for backward: probs (B, H, T, T)
//! O = P V                 (T, Dh)  written to out (B, T, C) at the head's columns
//! ```
//!
//! The sequences are independent and run in parallel. With the encoder's T = 10 and
//! Dh = 16 the per-head products are tiny, so plain loops beat GEMM calls here; the cost is
//! 4·T²·C FLOPs per sequence, under 1 % of a layer's linear layers.

use super::parallel::par_items;
use super::vecops::dot;
use crate::profile;

/// Sizes of one attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnDims {
    /// Sequences (batch).
    pub b: usize,
    /// Tokens per sequence.
    pub t: usize,
    /// Heads.
    pub heads: usize,
    /// Dimension per head; C = heads · head_dim.
    pub head_dim: usize,
}

impl AttnDims {
    pub fn c(&self) -> usize {
        self.heads * self.head_dim
    }
    /// Multiply-adds ×2 of QKᵀ and PV, per call.
    fn flops(&self) -> u64 {
        4 * (self.b * self.t * self.t * self.c()) as u64
    }
    /// 1/√Dh.
    fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }
}

/// Writes `out (B, T, C)` and the attention probabilities `probs (B, H, T, T)`.
pub fn attention_forward(out: &mut [f32], probs: &mut [f32], qkv: &[f32], d: AttnDims) {
    let _p = profile::scope("attention", d.flops());
    let AttnDims {
        t,
        heads,
        head_dim: dh,
        ..
    } = d;
    let c = d.c();
    let scale = d.scale();
    let per_seq = (d.flops() / d.b.max(1) as u64) as usize;
    par_items(d.b, per_seq, [out, probs], |seqs, [out, probs]| {
        let mut s = vec![0.0f32; t];
        for (local, b) in seqs.enumerate() {
            let row = |i: usize| &qkv[(b * t + i) * 3 * c..(b * t + i + 1) * 3 * c];
            for h in 0..heads {
                let (qo, ko, vo) = (h * dh, c + h * dh, 2 * c + h * dh);
                for i in 0..t {
                    let q = &row(i)[qo..qo + dh];
                    for (j, sj) in s.iter_mut().enumerate() {
                        let k = &row(j)[ko..ko + dh];
                        *sj = scale * dot(q, k);
                    }
                    let p = &mut probs[((local * heads + h) * t + i) * t..][..t];
                    super::softmax::softmax_row(p, &s);
                    let o = &mut out[(local * t + i) * c + qo..][..dh];
                    o.fill(0.0);
                    for (j, &pj) in p.iter().enumerate() {
                        let v = &row(j)[vo..vo + dh];
                        for (od, &vd) in o.iter_mut().zip(v) {
                            *od += pj * vd;
                        }
                    }
                }
            }
        }
    });
}

/// Accumulates `dqkv (B, T, 3C)` from `dout (B, T, C)`, per sequence and head:
/// `dP = dO Vᵀ`, `dV += Pᵀ dO`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`, `dQ += dS K / √Dh`,
/// `dK += dSᵀ Q / √Dh`.
pub fn attention_backward(dqkv: &mut [f32], dout: &[f32], qkv: &[f32], probs: &[f32], d: AttnDims) {
    let _p = profile::scope("attention.bwd", 2 * d.flops());
    let AttnDims {
        t,
        heads,
        head_dim: dh,
        ..
    } = d;
    let c = d.c();
    let scale = d.scale();
    let per_seq = (2 * d.flops() / d.b.max(1) as u64) as usize;
    par_items(d.b, per_seq, [dqkv], |seqs, [dqkv]| {
        let mut ds = vec![0.0f32; t];
        for (local, b) in seqs.enumerate() {
            let row = |i: usize| &qkv[(b * t + i) * 3 * c..(b * t + i + 1) * 3 * c];
            for h in 0..heads {
                let (qo, ko, vo) = (h * dh, c + h * dh, 2 * c + h * dh);
                for i in 0..t {
                    let p = &probs[((b * heads + h) * t + i) * t..][..t];
                    let dout_i = &dout[(b * t + i) * c + qo..][..dh];
                    // dP[i, j] = dO_i · V_j, and dV_j += P[i, j] dO_i.
                    for (j, dsj) in ds.iter_mut().enumerate() {
                        let v = &row(j)[vo..vo + dh];
                        *dsj = dot(dout_i, v);
                        let dv = &mut dqkv[(local * t + j) * 3 * c + vo..][..dh];
                        for (g, &o) in dv.iter_mut().zip(dout_i) {
                            *g += p[j] * o;
                        }
                    }
                    // dS = P ⊙ (dP − Σ_j P dP), folded with the 1/√Dh of S.
                    let pdp = dot(p, &ds);
                    for (dsj, &pj) in ds.iter_mut().zip(p) {
                        *dsj = scale * pj * (*dsj - pdp);
                    }
                    // dQ_i += Σ_j dS[i, j] K_j ;  dK_j += dS[i, j] Q_i.
                    let q = &row(i)[qo..qo + dh];
                    for (j, &dsj) in ds.iter().enumerate() {
                        let k = &row(j)[ko..ko + dh];
                        let dq = &mut dqkv[(local * t + i) * 3 * c + qo..][..dh];
                        for (g, &kd) in dq.iter_mut().zip(k) {
                            *g += dsj * kd;
                        }
                        let dk = &mut dqkv[(local * t + j) * 3 * c + ko..][..dh];
                        for (g, &qd) in dk.iter_mut().zip(q) {
                            *g += dsj * qd;
                        }
                    }
                }
            }
        }
    });
}
