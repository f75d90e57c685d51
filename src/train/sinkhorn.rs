//! Balanced bucket assignment by Sinkhorn-Knopp in the log domain (DESIGN §4, the
//! poster's "balanced clustering objective"), and the queue of recent codes it runs over.
//!
//! # The problem
//!
//! N items (the batch, then a queue of recent q̂, SwAV-style) with unit hash directions
//! q̂_n ∈ R^K; 2^K buckets, bucket k the sign vector b_k ∈ {−1,+1}^K (bit i of the id set ⇔
//! b_{k,i} = +1, see [`bit_sign`]); scores s_nk = q̂_n·b_k/√K. The entropic relaxation
//!
//! ```text
//! max_P Σ P_nk s_nk − ε Σ P_nk log P_nk   s.t.  Σ_k P_nk = 1/N,  Σ_n P_nk = c_k
//! ```
//!
//! has the solution P_nk = exp(u_n + s_nk/ε + v_k). We run the schedule
//!
//! ```text
//! u ← row pass with v = 0          (closed form: log Σ_k e^{s_nk/ε} = Σ_i log 2cosh(q̂_ni/(ε√K)))
//! repeat `iterations` times:  v ← column pass;  u ← row pass (skipped after the last one)
//! k*(x) = argmax_k P_xk = argmax_k (s_xk/ε + v_k)       (u_x does not matter)
//! ```
//!
//! i.e. SwAV's (3 iterations, ε = 0.05), ending on the bucket side so that the returned
//! plan meets the bucket marginal exactly and the item marginal approximately; the argmax
//! needs no final item pass. k* is a constant for L_r (no gradient through it).
//!
//! # The cost problem, and the formulation chosen
//!
//! Dense, each pass is N·2^K exponentials: at K = 16 and N = 256 + 3840 that is 268 M per
//! pass, ~1.6 G for three iterations. [`sinkhorn_dense`] does exactly that (f64, the
//! oracle). [`sinkhorn_factored`] computes *the same iterates* with no truncation:
//!
//! - The Gibbs kernel is a product over bits, e^{s_nk/ε} = Π_i e^{β q̂_ni b_ki},
//!   β = 1/(ε√K). Split the bits into halves, k = (h, l): e^{s_nk/ε} = e^{smax_n} A_n(h)
//!   C_n(l) with per-item tables A (2^⌈K/2⌉ entries) and C (2^⌊K/2⌋), built by doubling
//!   (K exponentials per item).
//! - Column pass: Σ_n e^{u_n} A_n(h) C_n(l) for all (h, l) is the matrix product
//!   (e^u ⊙ A)ᵀ (2^⌈K/2⌉ × N) · C (N × 2^⌊K/2⌋): one f32 GEMM of N·2^K multiply-adds.
//! - Row pass: Σ_k e^{s_nk/ε + v_k} = e^{smax_n} Σ_h A_n(h) [E · C_nᵀ](h) with
//!   E(h, l) = e^{v(h,l)}: one GEMM of 2^K·N multiply-adds, then N·2^⌈K/2⌉ to finish.
//! - Exponentials and logarithms drop from N·2^K to O(N·K + N + 2^K) per pass; a GEMM
//!   multiply-add costs ~1/50 of a log-domain exponential on this hardware.
//! - Numerics: GEMM operands are rescaled per row (in f64) into (0, 1] with a 1 in every
//!   row, so each output's dominant term is at least e^{−2β‖q̂_half‖₁} ≥ e^{−2√(⌈K/2⌉/K)/ε};
//!   [`SinkhornConfig::validate`] keeps that above f32's underflow with margin
//!   (ε ≥ ~0.024 at K = 16). Potentials agree with the dense f64 oracle to ~1e-4.
//! - The assignment k* is exact too ([`assign_factored`]): rows h of the bucket grid are
//!   visited in decreasing upper bound log A(h) + max log C + max_l v(h, l), stopping when
//!   the bound drops below the best value; at worst B·2^K additions, usually far fewer.
//!
//! Cost: (2·iterations − 1) GEMMs of N·2^K multiply-adds + O(N·2^{K/2}) — it doubles with
//! every bit and grows linearly with the queue; memory O(N·2^{K/2} + 2^K). Measured CPU
//! time per assignment (3 iterations, one Zen 3 core, GEMM ≈ 3/4 of it), batch 256:
//!
//! | K  | queue 0 (N 256) | queue 1024 (N 1280) | queue 3840 (N 4096) |
//! |----|-----------------|---------------------|---------------------|
//! | 12 |                 | 2.1 ms              |                     |
//! | 14 |                 | 5.5 ms              |                     |
//! | 16 | 6.1 ms          | 16.6 ms             | 48 ms               |
//! | 18 |                 | 61 ms               | 177 ms              |
//!
//! The dense oracle at K = 16, N = 256 is ~450× slower than the factored solver
//! (`cargo bench --bench sinkhorn`, `assign_k16`).
//!
//! Alternatives weighed and not taken:
//! - *Restricting v to a product family* (v_k = Σ_i γ_i b_ki) keeps every pass closed form
//!   (O(N·K)), but it can only balance each bit's marginal (50/50 per bit); two clusters
//!   of codes can still share a bucket. Exact for a weaker constraint, not this one.
//! - *Truncating to each item's top-M buckets* (probe order): with the uniform marginal
//!   every bucket must receive 1/2^K, including the many that no item reaches in its top
//!   M, so truncation changes the problem and leaves no exactness claim; a certificate
//!   that the dropped mass cannot saturate a bucket costs as much as the dense pass for
//!   items whose codes have a few weak bits (their kernels spread over thousands of
//!   buckets).
//!
//! # Which bucket marginal
//!
//! The poster asks for E_x[A_k(x)] = 1/2^K. With N < 2^K items that is impossible for a
//! hard assignment; its natural integer reading is "no bucket holds more than ⌈N/2^K⌉
//! items". Two settings ([`BucketMarginal`]):
//! - `Uniform` (default; DESIGN §4, SwAV): c_k = 1/2^K. Every bucket must be filled, so an
//!   item's mass is spread over ≳ 2^K/N buckets and k* moves even isolated codes by a bit
//!   or two towards empty regions. At population level (the index holds ≫ 2^K segments)
//!   that is the right pressure — empty regions of the sample are under-filled regions of
//!   the code distribution — but for one sample it is noisy.
//! - `Capacity`: Σ_n P_nk ≤ ⌈N/2^K⌉/N, the LP whose ε → 0 limit is the max-score
//!   assignment with at most ⌈N/2^K⌉ items per bucket (totally unimodular). Potentials stay
//!   ≤ 0 (v_k = min(0, ·): exact dual coordinate ascent), only crowded buckets push items
//!   away and isolated codes keep k* = sign(q). When N is a multiple of 2^K the capacities
//!   leave no slack and the problem *is* `Uniform` (solved as such). At ε = 0.05 it is
//!   gentler (each item keeps ~1/4 of its mass in its best bucket, so two or three codes
//!   may share one), and it converges more slowly the less slack the capacities leave.
//!
//! Both run on the same exact solver; the tests measure both against plain argmax.

mod dense;
mod factored;
mod queue;
#[cfg(test)]
mod tests;

pub use dense::{assign_dense, plan_dense, sinkhorn_dense};
pub use factored::{assign_factored, sinkhorn_factored};
pub use queue::HashQueue;

use crate::{Error, Result};

/// Largest supported K: v holds 2^K potentials (64 MiB of f32 at K = 24).
pub const MAX_BITS: usize = 24;

/// The factored solver needs e^{−2√(⌈K/2⌉/K)/ε} ≥ e^{−60}: f32 underflows near e^{−87}, and
/// the remaining e^{−27} keeps sums of up to 2^24 dropped terms below 1e-4 of the result.
const MAX_KERNEL_EXPONENT: f32 = 60.0;

/// The sign b_{k,i} ∈ {−1, +1} of bit i of bucket `k`: +1 iff bit i of the id is set.
#[inline]
pub fn bit_sign(bucket: u32, i: usize) -> f32 {
    if (bucket >> i) & 1 == 1 { 1.0 } else { -1.0 }
}

/// The best-scoring bucket of a code, with the index's key convention (bit i set iff
/// q_i ≥ 0; see `earmark_kernels::probe::bucket_key`), so training and search agree.
pub use earmark_kernels::probe::bucket_key as sign_bucket;

/// The target bucket marginal of the transport plan; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketMarginal {
    /// Σ_n P_nk = 1/2^K for every bucket (the poster's constraint, SwAV's).
    Uniform,
    /// Σ_n P_nk ≤ ⌈N/2^K⌉/N: no bucket above its fair integer share.
    Capacity,
}

/// Settings of the balanced assignment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SinkhornConfig {
    /// ε, the entropic regularisation, in units of the score s = q̂·b/√K ∈ [−1, 1].
    /// SwAV's 0.05 (*reconstruction*, DESIGN §4).
    pub epsilon: f32,
    /// Number of bucket-side (column) passes; SwAV uses 3.
    pub iterations: usize,
    /// The target bucket marginal.
    pub marginal: BucketMarginal,
}

impl Default for SinkhornConfig {
    fn default() -> Self {
        SinkhornConfig {
            epsilon: 0.05,
            iterations: 3,
            marginal: BucketMarginal::Uniform,
        }
    }
}

impl SinkhornConfig {
    /// Smallest ε the factored solver accepts at K bits: 2√(⌈K/2⌉/K) / 60 (0.0236 at K = 16).
    pub fn min_epsilon(bits: usize) -> f32 {
        let half = bits.div_ceil(2) as f32;
        2.0 * (half / bits.max(1) as f32).sqrt() / MAX_KERNEL_EXPONENT
    }

    /// Checks user-supplied settings for K = `bits`.
    pub fn validate(&self, bits: usize) -> Result<()> {
        if !(1..=MAX_BITS).contains(&bits) {
            return Err(Error::invalid(format!(
                "hash bits K = {bits}: must be in 1..={MAX_BITS}"
            )));
        }
        let min = Self::min_epsilon(bits);
        if !(self.epsilon >= min && self.epsilon.is_finite()) {
            return Err(Error::invalid(format!(
                "Sinkhorn ε = {}: must be ≥ {min:.4} at K = {bits} (smaller values underflow f32)",
                self.epsilon
            )));
        }
        if self.iterations == 0 {
            return Err(Error::invalid("Sinkhorn iterations: must be ≥ 1"));
        }
        Ok(())
    }
}

/// Dual potentials of the plan P_nk = exp(u_n + s_nk/ε + v_k).
#[derive(Clone, Debug, PartialEq)]
pub struct Potentials {
    /// K.
    pub bits: usize,
    /// ε the plan was solved with.
    pub epsilon: f32,
    /// (N): item potentials, from the last item pass.
    pub u: Vec<f32>,
    /// (2^K): bucket potentials, from the last bucket pass.
    pub v: Vec<f32>,
}

/// (log c, clamp): the log bucket marginal and whether it is an upper bound.
///
/// Capacities that add up to exactly 1 (N a multiple of 2^K) leave no slack: every bucket
/// must be full, which is the uniform problem. It is solved as such, because the clamped
/// updates would reach the same plan only after thousands of iterations.
pub(crate) fn log_bucket_target(
    marginal: BucketMarginal,
    items: usize,
    bits: usize,
) -> (f64, bool) {
    let buckets = 1usize << bits;
    match marginal {
        BucketMarginal::Capacity if !items.is_multiple_of(buckets) => {
            ((items.div_ceil(buckets) as f64 / items as f64).ln(), true)
        }
        _ => (-(buckets as f64).ln(), false),
    }
}

/// Shape and setting checks shared by both solvers; returns N.
fn check_items(op: &str, qhat: &[f32], bits: usize, cfg: &SinkhornConfig) -> usize {
    if let Err(e) = cfg.validate(bits) {
        panic!("{op}: {e}");
    }
    assert!(
        !qhat.is_empty() && qhat.len().is_multiple_of(bits),
        "{op}: q̂ has {} values, expected (N ≥ 1, K = {bits})",
        qhat.len()
    );
    for (n, row) in qhat.chunks_exact(bits).enumerate() {
        let norm2: f32 = row.iter().map(|x| x * x).sum();
        assert!(
            (norm2 - 1.0).abs() < 1e-3,
            "{op}: q̂ row {n} has squared norm {norm2}, expected 1"
        );
    }
    qhat.len() / bits
}

/// The fast path end to end: solve over the batch followed by the queue, and return k*
/// for the batch rows (B, K). Push the batch into the queue afterwards if desired.
pub fn balanced_assignment(batch: &[f32], queue: &HashQueue, cfg: &SinkhornConfig) -> Vec<u32> {
    let bits = queue.bits();
    let mut items = Vec::with_capacity(batch.len() + queue.rows().len());
    items.extend_from_slice(batch);
    items.extend_from_slice(queue.rows());
    let potentials = sinkhorn_factored(&items, bits, cfg);
    assign_factored(batch, &potentials)
}

/// How evenly a hard assignment fills the buckets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketLoad {
    /// Buckets holding at least one item.
    pub distinct: usize,
    /// Items in the fullest bucket.
    pub max_load: usize,
    /// Entropy of the occupancy distribution, in bits (log2 N when all items differ).
    pub entropy_bits: f64,
}

/// Occupancy statistics of a list of bucket ids.
pub fn bucket_load(buckets: &[u32]) -> BucketLoad {
    let mut sorted = buckets.to_vec();
    sorted.sort_unstable();
    let n = sorted.len() as f64;
    let (mut distinct, mut max_load, mut entropy) = (0, 0, 0.0);
    for run in sorted.chunk_by(|a, b| a == b) {
        let p = run.len() as f64 / n;
        distinct += 1;
        max_load = max_load.max(run.len());
        entropy -= p * p.log2();
    }
    BucketLoad {
        distinct,
        max_load,
        entropy_bits: entropy,
    }
}
