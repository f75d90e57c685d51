//! The slow twin: log-domain Sinkhorn over the dense (N × 2^K) score matrix, in f64.
//!
//! Obviously correct and O(N · 2^K) exponentials per pass; the test oracle for
//! [`super::factored`], usable up to K ≈ 12.

use super::{Potentials, SinkhornConfig, bit_sign, log_bucket_target};

/// log Σ exp(x) over an iterator, stable; −∞ for an empty input.
fn log_sum_exp(x: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = x.clone().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + x.map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// The dense matrix s_nk / ε, (N, 2^K), row-major.
pub(super) fn scaled_scores(qhat: &[f32], bits: usize, epsilon: f32) -> Vec<f64> {
    let beta = 1.0 / (epsilon as f64 * (bits as f64).sqrt());
    let buckets = 1usize << bits;
    let mut out = Vec::with_capacity(qhat.len() / bits * buckets);
    for row in qhat.chunks_exact(bits) {
        for k in 0..buckets as u32 {
            let s: f64 = row
                .iter()
                .enumerate()
                .map(|(i, &q)| q as f64 * bit_sign(k, i) as f64)
                .sum();
            out.push(beta * s);
        }
    }
    out
}

/// Row pass: u_n = log(1/N) − log Σ_k exp(L_nk + v_k).
fn row_pass(l: &[f64], v: &[f64], u: &mut [f64]) {
    let buckets = v.len();
    let log_r = -(u.len() as f64).ln();
    for (n, un) in u.iter_mut().enumerate() {
        let row = &l[n * buckets..(n + 1) * buckets];
        *un = log_r - log_sum_exp(row.iter().zip(v).map(|(a, b)| a + b));
    }
}

/// Column pass: v_k = log c_k − log Σ_n exp(L_nk + u_n), clamped at 0 for capacities.
fn column_pass(l: &[f64], u: &[f64], log_c: f64, clamp: bool, v: &mut [f64]) {
    let buckets = v.len();
    for (k, vk) in v.iter_mut().enumerate() {
        let col = u.iter().enumerate().map(|(n, un)| l[n * buckets + k] + un);
        let x = log_c - log_sum_exp(col);
        *vk = if clamp { x.min(0.0) } else { x };
    }
}

/// Dense Sinkhorn with the same schedule as the fast solver (see the module docs of
/// [`super`]): u from v = 0, then `iterations` column passes with a row pass between two.
pub fn sinkhorn_dense(qhat: &[f32], bits: usize, cfg: &SinkhornConfig) -> Potentials {
    let n = super::check_items("sinkhorn_dense", qhat, bits, cfg);
    let l = scaled_scores(qhat, bits, cfg.epsilon);
    let (log_c, clamp) = log_bucket_target(cfg.marginal, n, bits);
    let mut u = vec![0.0; n];
    let mut v = vec![0.0; 1 << bits];
    row_pass(&l, &v, &mut u);
    for it in 0..cfg.iterations {
        column_pass(&l, &u, log_c, clamp, &mut v);
        if it + 1 < cfg.iterations {
            row_pass(&l, &v, &mut u);
        }
    }
    Potentials {
        bits,
        epsilon: cfg.epsilon,
        u: u.into_iter().map(|x| x as f32).collect(),
        v: v.into_iter().map(|x| x as f32).collect(),
    }
}

/// k*(x) = argmax_k (s_k(x)/ε + v_k) by scoring every bucket; ties go to the smaller id.
pub fn assign_dense(qhat: &[f32], potentials: &Potentials) -> Vec<u32> {
    let bits = potentials.bits;
    assert!(
        qhat.len().is_multiple_of(bits),
        "assign_dense: q̂ has {} values, not a multiple of K = {bits}",
        qhat.len()
    );
    let l = scaled_scores(qhat, bits, potentials.epsilon);
    let buckets = 1usize << bits;
    l.chunks_exact(buckets)
        .map(|row| {
            let mut best = (f64::NEG_INFINITY, 0u32);
            for (k, (s, v)) in row.iter().zip(&potentials.v).enumerate() {
                let x = s + *v as f64;
                if x > best.0 {
                    best = (x, k as u32);
                }
            }
            best.1
        })
        .collect()
}

/// The plan P_nk = exp(u_n + s_nk/ε + v_k), (N, 2^K), in f64: for tests and diagnostics.
pub fn plan_dense(qhat: &[f32], potentials: &Potentials) -> Vec<f64> {
    let bits = potentials.bits;
    let buckets = 1usize << bits;
    let mut l = scaled_scores(qhat, bits, potentials.epsilon);
    assert_eq!(
        l.len(),
        potentials.u.len() * buckets,
        "plan_dense: q̂ has {} rows, the potentials {}",
        l.len() / buckets,
        potentials.u.len()
    );
    for (row, &un) in l.chunks_exact_mut(buckets).zip(&potentials.u) {
        for (x, &vk) in row.iter_mut().zip(&potentials.v) {
            *x = (*x + un as f64 + vk as f64).exp();
        }
    }
    l
}
