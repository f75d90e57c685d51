//! Host side of `shaders/balanced.wgsl`: the training objective's balanced bucket
//! assignment k* on the device, the same iterates as the CPU's
//! [`balanced_assignment`](crate::train::sinkhorn::balanced_assignment) (factored
//! solver, SwAV schedule) computed as dense log-domain passes over N items × 2^K buckets.

use crate::error::Result;
use crate::gpu::batch::{Batch, assert_len, index_u32};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::device::Gpu;
use crate::gpu::shader::{Access, BALANCED, Kernel};
use crate::train::sinkhorn::{SinkhornConfig, log_bucket_target};

use Access::{Read, ReadWrite};

/// Invocations per workgroup (WG in the shader).
const WG: usize = 64;

static TABLES: Kernel = Kernel {
    shader: &BALANCED,
    entry: "balanced_tables",
    bindings: &[(1, Read), (2, ReadWrite)],
};
static FIRST_ROWS: Kernel = Kernel {
    shader: &BALANCED,
    entry: "balanced_first_rows",
    bindings: &[(1, Read), (3, ReadWrite)],
};
static COLUMNS: Kernel = Kernel {
    shader: &BALANCED,
    entry: "balanced_columns",
    bindings: &[(2, ReadWrite), (3, ReadWrite), (4, ReadWrite)],
};
static ROWS: Kernel = Kernel {
    shader: &BALANCED,
    entry: "balanced_rows",
    bindings: &[(2, ReadWrite), (3, ReadWrite), (4, ReadWrite)],
};
static ARGMAX: Kernel = Kernel {
    shader: &BALANCED,
    entry: "balanced_argmax",
    bindings: &[(2, ReadWrite), (4, ReadWrite), (5, ReadWrite)],
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    items: u32,
    batch: u32,
    bits: u32,
    kl: u32,
    kh: u32,
    beta: f32,
    log_row: f32,
    log_col: f32,
    clamp: u32,
}

/// The scratch of one assignment for up to `capacity` items: the per-item score
/// tables and both potentials. Allocated once per run.
pub struct BalancedScratch {
    bits: usize,
    capacity: usize,
    /// (capacity, 2^kh + 2^kl).
    tables: GpuBuffer,
    /// (capacity): item potentials u.
    u: GpuBuffer,
    /// (2^K): bucket potentials v.
    v: GpuBuffer,
}

impl BalancedScratch {
    /// Buffers for assignments of up to `capacity` items at K = `bits`.
    pub fn new(gpu: &Gpu, bits: usize, capacity: usize) -> Result<Self> {
        let width = (1 << (bits - bits / 2)) + (1 << (bits / 2));
        Ok(BalancedScratch {
            bits,
            capacity,
            tables: GpuBuffer::zeros(gpu, capacity * width)?,
            u: GpuBuffer::zeros(gpu, capacity)?,
            v: GpuBuffer::zeros(gpu, 1 << bits)?,
        })
    }
}

/// Records the assignment of the first `batch` of the `items` rows of `qhat`
/// (items × K unit rows: the batch, then the queue) into `assign` (batch, u32 bucket
/// ids). Validates `cfg` first, as the CPU solver does.
///
/// Panics when the buffers' sizes disagree with `items`, `batch` and K.
pub fn balanced_assign(
    batch: &mut Batch<'_>,
    cfg: &SinkhornConfig,
    items: usize,
    qhat: &GpuBuffer,
    scratch: &BalancedScratch,
    assign: &GpuBuffer<u32>,
) -> Result<()> {
    const OP: &str = "balanced_assign";
    let bits = scratch.bits;
    cfg.validate(bits)?;
    let b = assign.len();
    assert!(
        1 <= b && b <= items && items <= scratch.capacity,
        "{OP}: {b} batch items of {items} items, scratch for {}",
        scratch.capacity
    );
    assert_len(
        OP,
        "qhat",
        qhat.len(),
        scratch.capacity * bits,
        "capacity × K",
    );
    let (kl, kh) = (bits / 2, bits - bits / 2);
    let (log_col, clamp) = log_bucket_target(cfg.marginal, items, bits);
    let params = Params {
        items: index_u32(OP, "items", items)?,
        batch: index_u32(OP, "batch", b)?,
        bits: bits as u32,
        kl: kl as u32,
        kh: kh as u32,
        beta: 1.0 / (cfg.epsilon * (bits as f32).sqrt()),
        log_row: -(items as f64).ln() as f32,
        log_col: log_col as f32,
        clamp: u32::from(clamp),
    };
    let width = (1 << kh) + (1 << kl);
    let s = scratch;
    let groups = batch.grid(OP, (items * width).div_ceil(WG))?;
    batch.dispatch(&TABLES, &[], &params, &[qhat.raw(), s.tables.raw()], groups)?;
    let groups = batch.grid(OP, items.div_ceil(WG))?;
    batch.dispatch(&FIRST_ROWS, &[], &params, &[qhat.raw(), s.u.raw()], groups)?;
    let potentials = [s.tables.raw(), s.u.raw(), s.v.raw()];
    for it in 0..cfg.iterations {
        let groups = batch.grid(OP, (1usize << bits).div_ceil(WG))?;
        batch.dispatch(&COLUMNS, &[], &params, &potentials, groups)?;
        if it + 1 < cfg.iterations {
            let groups = batch.grid(OP, items)?;
            batch.dispatch(&ROWS, &[], &params, &potentials, groups)?;
        }
    }
    let groups = batch.grid(OP, b)?;
    batch.dispatch(
        &ARGMAX,
        &[],
        &params,
        &[s.tables.raw(), s.v.raw(), assign.raw()],
        groups,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::testing::{normalised_rows, random, shared_gpu};
    use crate::train::sinkhorn::{
        BucketMarginal, HashQueue, assign_dense, balanced_assignment, sinkhorn_dense,
    };

    /// k* of `b` batch rows over a queue of `queued` rows, GPU against the CPU's fast
    /// path, with a scratch for `capacity` items (a queue that is not full yet).
    fn check(bits: usize, b: usize, queued: usize, capacity: usize, cfg: SinkhornConfig) {
        let Some(gpu) = shared_gpu() else { return };
        let rows = normalised_rows(&random((b + queued) * bits, 70 + bits as u64), bits);
        let (batch_rows, queue_rows) = rows.split_at(b * bits);
        let mut queue = HashQueue::new(bits, queued.max(1));
        queue.push(queue_rows);
        let want = balanced_assignment(batch_rows, &queue, &cfg);

        let mut padded = rows.clone();
        padded.resize(capacity * bits, 0.0);
        let qhat = GpuBuffer::from_slice(gpu, &padded).unwrap();
        let scratch = BalancedScratch::new(gpu, bits, capacity).unwrap();
        let assign = GpuBuffer::<u32>::zeros(gpu, b).unwrap();
        let mut batch = gpu.batch();
        balanced_assign(&mut batch, &cfg, b + queued, &qhat, &scratch, &assign).unwrap();
        batch.submit();
        assert_eq!(
            assign.read(gpu).unwrap(),
            want,
            "K = {bits}, B = {b}, queue {queued}, {cfg:?}"
        );
    }

    #[test]
    fn assignment_matches_the_cpu_solver() {
        let uniform = SinkhornConfig {
            epsilon: 0.1,
            ..SinkhornConfig::default()
        };
        // Odd K (unequal halves), a queue, and a scratch larger than the items.
        check(5, 6, 10, 20, uniform);
        // More buckets and items than one workgroup; the default ε.
        check(8, 70, 30, 100, SinkhornConfig::default());
        // The capacity marginal (clamped potentials), N not a multiple of 2^K.
        let capacity = SinkhornConfig {
            marginal: BucketMarginal::Capacity,
            ..uniform
        };
        check(6, 9, 20, 29, capacity);
    }

    /// The dense f64 oracle's potentials give the same k* (the CPU's fast path is
    /// itself checked against it in `train::sinkhorn`).
    #[test]
    fn assignment_matches_the_dense_oracle() {
        let Some(gpu) = shared_gpu() else { return };
        let (bits, n) = (4, 12);
        let cfg = SinkhornConfig::default();
        let rows = normalised_rows(&random(n * bits, 77), bits);
        let want = assign_dense(&rows, &sinkhorn_dense(&rows, bits, &cfg));
        let qhat = GpuBuffer::from_slice(gpu, &rows).unwrap();
        let scratch = BalancedScratch::new(gpu, bits, n).unwrap();
        let assign = GpuBuffer::<u32>::zeros(gpu, n).unwrap();
        let mut batch = gpu.batch();
        balanced_assign(&mut batch, &cfg, n, &qhat, &scratch, &assign).unwrap();
        batch.submit();
        assert_eq!(assign.read(gpu).unwrap(), want);
    }
}
