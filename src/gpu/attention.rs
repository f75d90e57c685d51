//! Host side of `shaders/attention.wgsl`: fused multi-head self-attention over short
//! sequences, forward and backward side by side.

use crate::error::{Error, Result};
use crate::gpu::batch::{Batch, assert_len, assert_no_alias, index_u32};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::shader::{ATTENTION, Access, Kernel};

static FORWARD: Kernel = Kernel {
    shader: &ATTENTION,
    entry: "attention_forward",
    bindings: &[
        (1, Access::Read),
        (2, Access::ReadWrite),
        (3, Access::ReadWrite),
    ],
};
static BACKWARD: Kernel = Kernel {
    shader: &ATTENTION,
    entry: "attention_backward",
    bindings: &[
        (1, Access::Read),
        (4, Access::Read),
        (5, Access::Read),
        (6, Access::ReadWrite),
    ],
};

/// The shape of one attention call: `batch` sequences of `tokens` tokens, `heads`
/// heads of `head_dim` channels (C = heads · head_dim). Buffers (row-major):
/// qkv (batch, tokens, 3C) with q, k, v side by side; out (batch, tokens, C);
/// att (batch, heads, tokens, tokens). Scores are scaled by 1/√head_dim; no mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attention {
    pub batch: usize,
    pub tokens: usize,
    pub heads: usize,
    pub head_dim: usize,
}

impl Attention {
    /// Longest sequence the kernel handles: one invocation per token in a workgroup
    /// of 32 (earmark's segments have 10 tokens).
    pub const MAX_TOKENS: usize = 32;
    /// Widest head the kernel handles: K, V and dS of one head fit in 12 KiB of
    /// workgroup memory (the paper preset has 16 channels per head, small has 32).
    pub const MAX_HEAD_DIM: usize = 32;

    /// C = heads · head_dim.
    pub fn channels(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Multiply-adds of the forward pass: q·kᵀ and P·v, 2 · 2·T²·head_dim per head.
    pub fn forward_flops(&self) -> u64 {
        4 * (self.batch * self.heads * self.tokens * self.tokens * self.head_dim) as u64
    }

    fn params(&self, op: &str) -> Result<Params> {
        if self.tokens > Self::MAX_TOKENS || self.head_dim > Self::MAX_HEAD_DIM {
            return Err(Error::gpu(format!(
                "{op}: the fused attention kernel supports at most {} tokens and {} channels per \
                 head, got {} tokens × {} channels",
                Self::MAX_TOKENS,
                Self::MAX_HEAD_DIM,
                self.tokens,
                self.head_dim
            )));
        }
        index_u32(
            op,
            "batch · tokens · 3C",
            self.batch * self.tokens * 3 * self.channels(),
        )?;
        index_u32(
            op,
            "batch · heads · tokens²",
            self.batch * self.heads * self.tokens * self.tokens,
        )?;
        Ok(Params {
            batch: index_u32(op, "batch", self.batch)?,
            tokens: self.tokens as u32,
            heads: index_u32(op, "heads", self.heads)?,
            head_dim: self.head_dim as u32,
            scale: 1.0 / (self.head_dim as f32).sqrt(),
        })
    }

    fn lens(&self) -> (usize, usize, usize) {
        let bt = self.batch * self.tokens;
        (
            bt * 3 * self.channels(),
            bt * self.channels(),
            self.batch * self.heads * self.tokens * self.tokens,
        )
    }

    fn describe(&self) -> String {
        format!(
            "batch {} × tokens {} × heads {} × head_dim {}",
            self.batch, self.tokens, self.heads, self.head_dim
        )
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    batch: u32,
    tokens: u32,
    heads: u32,
    head_dim: u32,
    scale: f32,
}

/// Forward: `att = softmax(q kᵀ / √head_dim)` per head (saved for the backward),
/// `out = att · v`, heads concatenated. Overwrites `out` and `att`.
pub fn attention_forward(
    batch: &mut Batch<'_>,
    shape: &Attention,
    qkv: &GpuBuffer,
    out: &GpuBuffer,
    att: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "attention_forward";
    let params = shape.params(OP)?;
    let (qkv_len, out_len, att_len) = shape.lens();
    let dims = shape.describe();
    assert_len(OP, "qkv", qkv.len(), qkv_len, &dims);
    assert_len(OP, "out", out.len(), out_len, &dims);
    assert_len(OP, "att", att.len(), att_len, &dims);
    let all = [("qkv", qkv.id()), ("out", out.id()), ("att", att.id())];
    assert_no_alias(OP, &all[1..], &all);
    let groups = batch.grid(OP, shape.batch * shape.heads)?;
    batch.dispatch(
        &FORWARD,
        &[],
        &params,
        &[qkv.raw(), out.raw(), att.raw()],
        groups,
    )
}

/// Backward from the saved probabilities: accumulates the gradients of q, k and v
/// into `dqkv` (same layout as `qkv`).
pub fn attention_backward(
    batch: &mut Batch<'_>,
    shape: &Attention,
    qkv: &GpuBuffer,
    att: &GpuBuffer,
    dout: &GpuBuffer,
    dqkv: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "attention_backward";
    let params = shape.params(OP)?;
    let (qkv_len, out_len, att_len) = shape.lens();
    let dims = shape.describe();
    assert_len(OP, "qkv", qkv.len(), qkv_len, &dims);
    assert_len(OP, "att", att.len(), att_len, &dims);
    assert_len(OP, "dout", dout.len(), out_len, &dims);
    assert_len(OP, "dqkv", dqkv.len(), qkv_len, &dims);
    let all = [
        ("qkv", qkv.id()),
        ("att", att.id()),
        ("dout", dout.id()),
        ("dqkv", dqkv.id()),
    ];
    assert_no_alias(OP, &all[3..], &all);
    let groups = batch.grid(OP, shape.batch * shape.heads)?;
    batch.dispatch(
        &BACKWARD,
        &[],
        &params,
        &[qkv.raw(), att.raw(), dout.raw(), dqkv.raw()],
        groups,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::testing::{
        assert_close, assert_gradient, buffer, narrow, random, shared_gpu, weighted_sum, wide,
    };

    /// Index of q (part 0), k (1) or v (2), sequence b, token t, head h, channel d.
    fn at(s: &Attention, part: usize, b: usize, t: usize, h: usize, d: usize) -> usize {
        (b * s.tokens + t) * 3 * s.channels() + part * s.channels() + h * s.head_dim + d
    }

    /// (out, att) by the textbook loops.
    fn attention_ref(s: &Attention, qkv: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (t_n, hd) = (s.tokens, s.head_dim);
        let scale = 1.0 / (hd as f64).sqrt();
        let mut out = vec![0.0; s.batch * t_n * s.channels()];
        let mut att = vec![0.0; s.batch * s.heads * t_n * t_n];
        for b in 0..s.batch {
            for h in 0..s.heads {
                for t in 0..t_n {
                    let scores: Vec<f64> = (0..t_n)
                        .map(|j| {
                            (0..hd)
                                .map(|d| qkv[at(s, 0, b, t, h, d)] * qkv[at(s, 1, b, j, h, d)])
                                .sum::<f64>()
                                * scale
                        })
                        .collect();
                    let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let z: f64 = scores.iter().map(|v| (v - m).exp()).sum();
                    for j in 0..t_n {
                        let p = (scores[j] - m).exp() / z;
                        att[((b * s.heads + h) * t_n + t) * t_n + j] = p;
                        for d in 0..hd {
                            out[(b * t_n + t) * s.channels() + h * hd + d] +=
                                p * qkv[at(s, 2, b, j, h, d)];
                        }
                    }
                }
            }
        }
        (out, att)
    }

    /// dqkv by the chain rule through the same loops.
    fn attention_backward_ref(s: &Attention, qkv: &[f64], dout: &[f64]) -> Vec<f64> {
        let (t_n, hd) = (s.tokens, s.head_dim);
        let scale = 1.0 / (hd as f64).sqrt();
        let (_, att) = attention_ref(s, qkv);
        let mut dqkv = vec![0.0; qkv.len()];
        for b in 0..s.batch {
            for h in 0..s.heads {
                let p = |t: usize, j: usize| att[((b * s.heads + h) * t_n + t) * t_n + j];
                let g = |t: usize, d: usize| dout[(b * t_n + t) * s.channels() + h * hd + d];
                for t in 0..t_n {
                    let dp: Vec<f64> = (0..t_n)
                        .map(|j| (0..hd).map(|d| g(t, d) * qkv[at(s, 2, b, j, h, d)]).sum())
                        .collect();
                    let pdp: f64 = (0..t_n).map(|j| p(t, j) * dp[j]).sum();
                    for j in 0..t_n {
                        let ds = p(t, j) * (dp[j] - pdp);
                        for d in 0..hd {
                            dqkv[at(s, 0, b, t, h, d)] += scale * ds * qkv[at(s, 1, b, j, h, d)];
                            dqkv[at(s, 1, b, j, h, d)] += scale * ds * qkv[at(s, 0, b, t, h, d)];
                            dqkv[at(s, 2, b, j, h, d)] += p(t, j) * g(t, d);
                        }
                    }
                }
            }
        }
        dqkv
    }

    #[test]
    fn reference_backward_matches_finite_differences() {
        let s = Attention {
            batch: 1,
            tokens: 3,
            heads: 2,
            head_dim: 2,
        };
        let qkv = wide(&random(3 * 3 * s.channels(), 40));
        let w = wide(&random(3 * s.channels(), 41));
        let f = |x: &[f64]| weighted_sum(&w, &attention_ref(&s, x).0);
        assert_gradient(
            "attention",
            f,
            &qkv,
            &attention_backward_ref(&s, &qkv, &w),
            1e-6,
        );
    }

    fn check(s: Attention, seed: u64) {
        let Some(gpu) = shared_gpu() else { return };
        let (qkv_len, out_len, att_len) = s.lens();
        let qkv: Vec<f32> = random(qkv_len, seed).iter().map(|v| 2.0 * v).collect();
        let (dout, dqkv0) = (random(out_len, seed + 1), random(qkv_len, seed + 2));
        let (gqkv, gdout, dqkv) = (buffer(gpu, &qkv), buffer(gpu, &dout), buffer(gpu, &dqkv0));
        let (out, att) = (
            buffer(gpu, &vec![0.0; out_len]),
            buffer(gpu, &vec![0.0; att_len]),
        );
        let mut batch = gpu.batch();
        attention_forward(&mut batch, &s, &gqkv, &out, &att).unwrap();
        attention_backward(&mut batch, &s, &gqkv, &att, &gdout, &dqkv).unwrap();
        batch.submit();

        let (out_ref, att_ref) = attention_ref(&s, &wide(&qkv));
        let d_ref = attention_backward_ref(&s, &wide(&qkv), &wide(&dout));
        let want = narrow(
            &d_ref
                .iter()
                .zip(&dqkv0)
                .map(|(a, b)| a + f64::from(*b))
                .collect::<Vec<_>>(),
        );
        let what = s.describe();
        assert_close(
            &format!("attention out {what}"),
            &out.read(gpu).unwrap(),
            &narrow(&out_ref),
            1e-4,
        );
        assert_close(
            &format!("attention att {what}"),
            &att.read(gpu).unwrap(),
            &narrow(&att_ref),
            1e-4,
        );
        assert_close(
            &format!("attention dqkv {what}"),
            &dqkv.read(gpu).unwrap(),
            &want,
            1e-4,
        );
    }

    #[test]
    fn forward_and_backward_match_the_reference() {
        check(
            Attention {
                batch: 2,
                tokens: 3,
                heads: 2,
                head_dim: 4,
            },
            50,
        );
        // earmark's shape (10 tokens, 16-channel heads) and the kernel's maximum.
        check(
            Attention {
                batch: 3,
                tokens: 10,
                heads: 4,
                head_dim: 16,
            },
            60,
        );
        check(
            Attention {
                batch: 1,
                tokens: 32,
                heads: 1,
                head_dim: 32,
            },
            70,
        );
    }

    #[test]
    fn oversized_shapes_are_errors() {
        let Some(gpu) = shared_gpu() else { return };
        let s = Attention {
            batch: 1,
            tokens: 33,
            heads: 1,
            head_dim: 8,
        };
        let (qkv_len, out_len, att_len) = s.lens();
        let (qkv, out, att) = (
            buffer(gpu, &vec![0.0; qkv_len]),
            buffer(gpu, &vec![0.0; out_len]),
            buffer(gpu, &vec![0.0; att_len]),
        );
        let err = attention_forward(&mut gpu.batch(), &s, &qkv, &out, &att).unwrap_err();
        assert!(err.to_string().contains("at most 32 tokens"), "{err}");
    }
}
