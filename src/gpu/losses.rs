//! Host side of the training losses: NT-Xent (`shaders/ntxent.wgsl` around two GEMMs)
//! and the factorised bucket loss L_r (`shaders/hashloss.wgsl`). Each loss reduces
//! to its mean on the device; backward takes the loss's upstream gradient from a
//! one-element buffer, so a whole step needs no read-back.

use crate::error::Result;
use crate::gpu::batch::{Batch, assert_len, assert_no_alias, index_u32};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::elementwise::sum_all;
use crate::gpu::gemm::{Gemm, gemm};
use crate::gpu::shader::{Access, HASHLOSS, Kernel, NTXENT};

use Access::{Read, ReadWrite};

/// Invocations per workgroup of both loss shaders.
const WG: usize = 64;

static NTXENT_FORWARD: Kernel = Kernel {
    shader: &NTXENT,
    entry: "ntxent_forward",
    bindings: &[(1, Read), (2, ReadWrite), (3, ReadWrite)],
};
static NTXENT_BACKWARD: Kernel = Kernel {
    shader: &NTXENT,
    entry: "ntxent_backward",
    bindings: &[(1, Read), (4, Read), (5, Read), (6, ReadWrite)],
};
static HASHLOSS_FORWARD: Kernel = Kernel {
    shader: &HASHLOSS,
    entry: "hashloss_forward",
    bindings: &[(1, Read), (2, Read), (3, Read), (4, ReadWrite)],
};
static HASHLOSS_BACKWARD: Kernel = Kernel {
    shader: &HASHLOSS,
    entry: "hashloss_backward",
    bindings: &[
        (1, Read),
        (2, Read),
        (3, Read),
        (5, Read),
        (6, ReadWrite),
        (7, ReadWrite),
    ],
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct NtXentParams {
    n: u32,
    cols: u32,
    inv_count: f32,
}

/// NT-Xent over `n` pairs of L2-normalised `dim`-vectors z_a, z_p (n × dim each) and
/// `hard` hard negatives z_h (hard × dim) that only the anchors see: logits
/// S = z_a [z_p; z_h]ᵀ / τ (n × (n + hard)), loss = mean over both directions of
/// −log softmax at the positive (DESIGN.md §4: τ = 0.1). Negatives are the other
/// view's items of the batch (and, for the anchors, the hard ones): the CPU
/// `train::loss::nt_xent_forward` without same-view negatives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NtXent {
    pub n: usize,
    /// m ≥ 0, the hard negatives.
    pub hard: usize,
    pub dim: usize,
    pub tau: f32,
}

impl NtXent {
    /// c = n + hard, the columns of S.
    pub fn cols(&self) -> usize {
        self.n + self.hard
    }

    fn params(&self, op: &str) -> Result<NtXentParams> {
        index_u32(op, "n × (n + hard)", self.n * self.cols())?;
        Ok(NtXentParams {
            n: index_u32(op, "n", self.n)?,
            cols: index_u32(op, "n + hard", self.cols())?,
            inv_count: 1.0 / (2 * self.n) as f32,
        })
    }

    fn describe(&self) -> String {
        format!("n = {}, hard = {}, dim = {}", self.n, self.hard, self.dim)
    }
}

/// Forward: `zph` holds the positives then the hard negatives ((n + hard) × dim).
/// Writes `logits` (n × (n + hard)), the log-sum-exps `lse` (2n: rows then columns,
/// saved for the backward), the per-direction, per-item `losses` (2n) and their mean
/// `loss` (1). Records three dispatches (GEMM, log-sum-exps, mean).
#[allow(clippy::too_many_arguments)] // one buffer per saved or produced tensor
pub fn ntxent_forward(
    batch: &mut Batch<'_>,
    shape: &NtXent,
    za: &GpuBuffer,
    zph: &GpuBuffer,
    logits: &GpuBuffer,
    lse: &GpuBuffer,
    losses: &GpuBuffer,
    loss: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "ntxent_forward";
    let &NtXent { n, dim, tau, .. } = shape;
    let c = shape.cols();
    let params = shape.params(OP)?;
    let dims = shape.describe();
    for (name, b, len) in [
        ("za", za, n * dim),
        ("zph", zph, c * dim),
        ("logits", logits, n * c),
        ("lse", lse, 2 * n),
        ("losses", losses, 2 * n),
    ] {
        assert_len(OP, name, b.len(), len, &dims);
    }
    let all = [
        ("logits", logits.id()),
        ("lse", lse.id()),
        ("losses", losses.id()),
        ("za", za.id()),
        ("zph", zph.id()),
    ];
    assert_no_alias(OP, &all[..3], &all);
    gemm(
        batch,
        &Gemm::new(n, c, dim).trans_b().alpha(1.0 / tau),
        za,
        zph,
        None,
        logits,
    )?;
    let groups = batch.grid(OP, (2 * n).div_ceil(WG))?;
    batch.dispatch(
        &NTXENT_FORWARD,
        &[],
        &params,
        &[logits.raw(), lse.raw(), losses.raw()],
        groups,
    )?;
    sum_all(batch, params.inv_count, losses, loss)
}

/// Backward: with `dloss` (1) the gradient w.r.t. the mean loss, writes dS into the
/// scratch `dlogits` (n × (n + hard)) and accumulates `dza += dS [z_p; z_h] / τ` and
/// `dzph += dSᵀ z_a / τ` ((n + hard) × dim). Records three dispatches.
#[allow(clippy::too_many_arguments)] // one buffer per saved or produced tensor
pub fn ntxent_backward(
    batch: &mut Batch<'_>,
    shape: &NtXent,
    za: &GpuBuffer,
    zph: &GpuBuffer,
    logits: &GpuBuffer,
    lse: &GpuBuffer,
    dloss: &GpuBuffer,
    dlogits: &GpuBuffer,
    dza: &GpuBuffer,
    dzph: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "ntxent_backward";
    let &NtXent { n, dim, tau, .. } = shape;
    let c = shape.cols();
    let params = shape.params(OP)?;
    let dims = shape.describe();
    for (name, b, len) in [
        ("za", za, n * dim),
        ("zph", zph, c * dim),
        ("logits", logits, n * c),
        ("lse", lse, 2 * n),
        ("dloss", dloss, 1),
        ("dlogits", dlogits, n * c),
        ("dza", dza, n * dim),
        ("dzph", dzph, c * dim),
    ] {
        assert_len(OP, name, b.len(), len, &dims);
    }
    let all = [
        ("dlogits", dlogits.id()),
        ("dza", dza.id()),
        ("dzph", dzph.id()),
        ("za", za.id()),
        ("zph", zph.id()),
        ("logits", logits.id()),
        ("lse", lse.id()),
        ("dloss", dloss.id()),
    ];
    assert_no_alias(OP, &all[..3], &all);
    let groups = batch.grid(OP, (n * c).div_ceil(WG))?;
    batch.dispatch(
        &NTXENT_BACKWARD,
        &[],
        &params,
        &[logits.raw(), lse.raw(), dloss.raw(), dlogits.raw()],
        groups,
    )?;
    let scale = 1.0 / tau;
    gemm(
        batch,
        &Gemm::new(n, dim, c).alpha(scale).accumulate(),
        dlogits,
        zph,
        None,
        dza,
    )?;
    gemm(
        batch,
        &Gemm::new(c, dim, n).trans_a().alpha(scale).accumulate(),
        dlogits,
        za,
        None,
        dzph,
    )
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct HashLossParams {
    n: u32,
    bits: u32,
    coef: f32,
    inv_n: f32,
}

/// The bucket loss L_r (DESIGN.md §4) over `n` pairs of normalised hash logits
/// q̂_a, q̂_p (n × bits) with target buckets `keys` (n, u32 bit patterns: bit i set ⇔
/// b_i = +1), temperature τ: L = mean_r −½ Σ_i [log σ(c q̂_a,i b_i) + log σ(c q̂_p,i b_i)],
/// c = 2 / (τ √bits).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HashLoss {
    pub n: usize,
    pub bits: usize,
    pub tau: f32,
}

impl HashLoss {
    /// Keys are u32 bit patterns.
    pub const MAX_BITS: usize = 32;

    fn params(&self, op: &str) -> Result<HashLossParams> {
        assert!(
            (1..=Self::MAX_BITS).contains(&self.bits),
            "{op}: bits = {} is outside 1..={}",
            self.bits,
            Self::MAX_BITS
        );
        index_u32(op, "n × bits", self.n * self.bits)?;
        Ok(HashLossParams {
            n: index_u32(op, "n", self.n)?,
            bits: self.bits as u32,
            coef: 2.0 / (self.tau * (self.bits as f32).sqrt()),
            inv_n: 1.0 / self.n.max(1) as f32,
        })
    }

    fn check(&self, op: &str, qa: &GpuBuffer, qp: &GpuBuffer, keys: &GpuBuffer<u32>) {
        let dims = format!("n = {}, bits = {}", self.n, self.bits);
        assert_len(op, "qa", qa.len(), self.n * self.bits, &dims);
        assert_len(op, "qp", qp.len(), self.n * self.bits, &dims);
        assert_len(op, "keys", keys.len(), self.n, &dims);
    }
}

/// Forward: writes the per-item `losses` (n) and their mean `loss` (1).
pub fn hash_loss_forward(
    batch: &mut Batch<'_>,
    shape: &HashLoss,
    qa: &GpuBuffer,
    qp: &GpuBuffer,
    keys: &GpuBuffer<u32>,
    losses: &GpuBuffer,
    loss: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "hash_loss_forward";
    let params = shape.params(OP)?;
    shape.check(OP, qa, qp, keys);
    assert_len(OP, "losses", losses.len(), shape.n, "n");
    let all = [("losses", losses.id()), ("qa", qa.id()), ("qp", qp.id())];
    assert_no_alias(OP, &all[..1], &all);
    let groups = batch.grid(OP, shape.n.div_ceil(WG))?;
    batch.dispatch(
        &HASHLOSS_FORWARD,
        &[],
        &params,
        &[qa.raw(), qp.raw(), keys.raw(), losses.raw()],
        groups,
    )?;
    sum_all(batch, params.inv_n, losses, loss)
}

/// Backward: with `dloss` (1) the gradient w.r.t. the mean loss, accumulates the
/// gradients w.r.t. q̂_a and q̂_p into `dqa`, `dqp` (n × bits).
#[allow(clippy::too_many_arguments)] // one buffer per binding of the shader
pub fn hash_loss_backward(
    batch: &mut Batch<'_>,
    shape: &HashLoss,
    qa: &GpuBuffer,
    qp: &GpuBuffer,
    keys: &GpuBuffer<u32>,
    dloss: &GpuBuffer,
    dqa: &GpuBuffer,
    dqp: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "hash_loss_backward";
    let params = shape.params(OP)?;
    shape.check(OP, qa, qp, keys);
    assert_len(OP, "dloss", dloss.len(), 1, "1");
    assert_len(OP, "dqa", dqa.len(), shape.n * shape.bits, "n × bits");
    assert_len(OP, "dqp", dqp.len(), shape.n * shape.bits, "n × bits");
    let all = [
        ("dqa", dqa.id()),
        ("dqp", dqp.id()),
        ("qa", qa.id()),
        ("qp", qp.id()),
        ("dloss", dloss.id()),
    ];
    assert_no_alias(OP, &all[..2], &all);
    let groups = batch.grid(OP, (shape.n * shape.bits).div_ceil(WG))?;
    let buffers = [
        qa.raw(),
        qp.raw(),
        keys.raw(),
        dloss.raw(),
        dqa.raw(),
        dqp.raw(),
    ];
    batch.dispatch(&HASHLOSS_BACKWARD, &[], &params, &buffers, groups)
}

#[cfg(test)]
#[path = "losses_tests.rs"]
mod tests;
