//! The fast solver: the dense solver's iterates, computed through the per-bit structure of
//! the Gibbs kernel (see the module docs of [`super`] for the derivation and costs).
//!
//! The K bits are split into a low half (bits 0..kl, index l) and a high half
//! (bits kl..K, index h); bucket id k = h · 2^kl + l. For item n,
//!
//! ```text
//! s_nk/ε = smax_n + log A_n(h) + log C_n(l),      A, C ∈ (0, 1]
//! A_n(h) = exp(β q̂_H·b_h − β‖q̂_H‖₁),  C_n(l) likewise,  smax_n = β‖q̂_n‖₁,  β = 1/(ε√K)
//! ```
//!
//! so both Sinkhorn passes are one f32 GEMM each over the (2^kh × N) and (N × 2^kl)
//! tables, with every operand scaled into (0, 1] so that nothing that matters underflows.

use super::{Potentials, SinkhornConfig, log_bucket_target};
use crate::tensor::gemm::{Mat, gemm};

/// Per-item factor tables of the Gibbs kernel, built once per solve.
struct Tables {
    items: usize,
    kl: usize,
    kh: usize,
    /// (2^kh, N), h-major: A_n(h).
    a: Vec<f32>,
    /// (N, 2^kl), item-major: C_n(l).
    c: Vec<f32>,
    /// (N): max_k s_nk/ε = β‖q̂_n‖₁.
    smax: Vec<f64>,
}

impl Tables {
    fn new(qhat: &[f32], bits: usize, epsilon: f32) -> Tables {
        let items = qhat.len() / bits;
        let kl = bits / 2;
        let kh = bits - kl;
        let beta = 1.0 / (epsilon * (bits as f32).sqrt());
        let smax = qhat
            .chunks_exact(bits)
            .map(|q| beta as f64 * q.iter().map(|x| x.abs() as f64).sum::<f64>())
            .collect();

        // C: per item, doubling over the low bits (contiguous per item).
        let mut c = vec![0.0f32; items << kl];
        for (q, row) in qhat.chunks_exact(bits).zip(c.chunks_exact_mut(1 << kl)) {
            linear_half_table(&q[..kl], beta, row);
        }

        // A: the same doubling, but h-major so that every step is a contiguous sweep over
        // the N items: A(h + 2^j) = A(h) · exp(2β q̂_{kl+j}).
        let mut a = vec![0.0f32; items << kh];
        for (n, q) in qhat.chunks_exact(bits).enumerate() {
            a[n] = all_minus_exponent(&q[kl..], beta).exp();
        }
        let mut ratio = vec![0.0f32; items];
        for j in 0..kh {
            for (r, q) in ratio.iter_mut().zip(qhat.chunks_exact(bits)) {
                *r = (2.0 * beta * q[kl + j]).exp();
            }
            let w = 1 << j;
            let (lo, hi) = a.split_at_mut(w * items);
            for (dst, src) in hi[..w * items]
                .chunks_exact_mut(items)
                .zip(lo.chunks_exact(items))
            {
                for ((d, s), r) in dst.iter_mut().zip(src).zip(&ratio) {
                    *d = s * r;
                }
            }
        }
        Tables {
            items,
            kl,
            kh,
            a,
            c,
            smax,
        }
    }
}

/// β q̂·b − β‖q̂‖₁ for the all-minus sign vector b = (−1, …, −1): −2β Σ_{q̂_i > 0} q̂_i.
fn all_minus_exponent(q: &[f32], beta: f32) -> f32 {
    q.iter()
        .filter(|&&x| x > 0.0)
        .map(|&x| -2.0 * beta * x)
        .sum()
}

/// out[h] = exp(β q̂·b_h − β‖q̂‖₁) for the 2^len(q) sign vectors of `q`'s bits, by
/// doubling: setting bit j multiplies by exp(2β q̂_j). Every entry lies in (0, 1].
fn linear_half_table(q: &[f32], beta: f32, out: &mut [f32]) {
    out[0] = all_minus_exponent(q, beta).exp();
    for (j, &qj) in q.iter().enumerate() {
        let (w, r) = (1 << j, (2.0 * beta * qj).exp());
        let (lo, hi) = out.split_at_mut(w);
        hi[..w]
            .iter_mut()
            .zip(lo.iter())
            .for_each(|(d, s)| *d = s * r);
    }
}

/// The same table in the log domain: out[h] = β q̂·b_h − β‖q̂‖₁ ≤ 0.
fn log_half_table(q: &[f32], beta: f32, out: &mut [f32]) {
    out[0] = all_minus_exponent(q, beta);
    for (j, &qj) in q.iter().enumerate() {
        let (w, r) = (1 << j, 2.0 * beta * qj);
        let (lo, hi) = out.split_at_mut(w);
        hi[..w]
            .iter_mut()
            .zip(lo.iter())
            .for_each(|(d, s)| *d = s + r);
    }
}

/// Scratch buffers reused across passes.
struct Scratch {
    /// (2^kh, N): the column pass's left operand; the row pass's GEMM output.
    hn: Vec<f32>,
    /// (2^kh, 2^kl): the column pass's output G; the row pass's exp(v − rowmax).
    hl: Vec<f32>,
}

/// Column pass: v_k = log c − log Σ_n exp(u_n + s_nk/ε), clamped at 0 for capacities.
///
/// Σ_n exp(u_n + s_nk/ε) = Σ_n e^{ω_n} A_n(h) C_n(l), ω_n = u_n + smax_n. Row h of the left
/// operand X(h, n) = e^{ω_n} A_n(h) is divided by its maximum (formed in f64), so X ∈ [0, 1]
/// with a 1 in every row; the column sum of bucket (h, l) is then at least
/// min_n C_n(l) ≥ exp(−2β‖q̂_L‖₁), far above f32's underflow (see `MAX_KERNEL_EXPONENT`).
fn column_pass(t: &Tables, u: &[f64], log_c: f64, clamp: bool, s: &mut Scratch, v: &mut [f32]) {
    let (n, nh, nl) = (t.items, 1 << t.kh, 1 << t.kl);
    let omega: Vec<f64> = u.iter().zip(&t.smax).map(|(u, m)| u + m).collect();
    let omega_max = omega.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = omega.iter().map(|w| (w - omega_max).exp()).collect();
    let mut log_scale = vec![0.0f64; nh];
    for (h, scale) in log_scale.iter_mut().enumerate() {
        let (a, x) = (&t.a[h * n..(h + 1) * n], &mut s.hn[h * n..(h + 1) * n]);
        let row_max = a
            .iter()
            .zip(&e)
            .map(|(&a, e)| a as f64 * e)
            .fold(0.0, f64::max);
        let inv = 1.0 / row_max;
        x.iter_mut()
            .zip(a)
            .zip(&e)
            .for_each(|((x, &a), e)| *x = (a as f64 * e * inv) as f32);
        *scale = omega_max + row_max.ln();
    }
    gemm(nh, n, nl, 1.0, Mat::n(&s.hn), Mat::n(&t.c), 0.0, &mut s.hl);
    for (h, scale) in log_scale.iter().enumerate() {
        let row = h * nl..(h + 1) * nl;
        for (vk, &g) in v[row.clone()].iter_mut().zip(&s.hl[row]) {
            // ln in f32: ~1e-7 relative, far below the solver's agreement with the oracle.
            let x = log_c - scale - g.ln() as f64;
            *vk = if clamp { x.min(0.0) as f32 } else { x as f32 };
        }
    }
}

/// Row pass: u_n = log(1/N) − log Σ_k exp(s_nk/ε + v_k).
///
/// Σ_k = e^{smax_n + V*} Σ_h A_n(h) W(h) T(h, n), with V(h) = max_l v(h, l), V* = max_h V(h),
/// W(h) = e^{V(h) − V*} (f64), and T = E · Cᵀ the GEMM of E(h, l) = e^{v(h,l) − V(h)} ∈ (0, 1]
/// (a 1 in every row) with the item tables; T(h, n) ≥ min_l C_n(l) never underflows.
fn row_pass(t: &Tables, v: &[f32], s: &mut Scratch, u: &mut [f64]) {
    let (n, nh, nl) = (t.items, 1 << t.kh, 1 << t.kl);
    let mut vmax = vec![0.0f32; nh];
    for (h, vm) in vmax.iter_mut().enumerate() {
        let row = h * nl..(h + 1) * nl;
        *vm = v[row.clone()]
            .iter()
            .cloned()
            .fold(f32::NEG_INFINITY, f32::max);
        for (e, &vk) in s.hl[row.clone()].iter_mut().zip(&v[row]) {
            *e = (vk - *vm).exp();
        }
    }
    let v_star = vmax.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    gemm(nh, nl, n, 1.0, Mat::n(&s.hl), Mat::t(&t.c), 0.0, &mut s.hn);
    let mut acc = vec![0.0f64; n];
    for (h, &vm) in vmax.iter().enumerate() {
        let w = (vm as f64 - v_star).exp();
        let (a, tt) = (&t.a[h * n..(h + 1) * n], &s.hn[h * n..(h + 1) * n]);
        for ((acc, &a), &tt) in acc.iter_mut().zip(a).zip(tt) {
            *acc += w * (a as f64 * tt as f64);
        }
    }
    let log_r = -(n as f64).ln();
    for ((un, acc), smax) in u.iter_mut().zip(acc).zip(&t.smax) {
        *un = log_r - smax - v_star - acc.ln();
    }
}

/// The closed-form first row pass (v = 0): log Σ_k exp(s_nk/ε) = Σ_i log(2 cosh(β q̂_ni)).
fn first_row_pass(qhat: &[f32], bits: usize, epsilon: f32, u: &mut [f64]) {
    let beta = 1.0 / (epsilon as f64 * (bits as f64).sqrt());
    let log_r = -(u.len() as f64).ln();
    for (un, q) in u.iter_mut().zip(qhat.chunks_exact(bits)) {
        // log(2 cosh y) = |y| + log(1 + e^{−2|y|}), stable for large |y|.
        let log_z: f64 = q
            .iter()
            .map(|&x| {
                let y = (beta * x as f64).abs();
                y + (-2.0 * y).exp().ln_1p()
            })
            .sum();
        *un = log_r - log_z;
    }
}

/// Fast Sinkhorn: the same iterates as [`super::sinkhorn_dense`] (up to f32 rounding) for
/// O(N · 2^K) multiply-adds in GEMMs per pass and O(N · 2^{K/2} + 2^K) other work.
///
/// `qhat`: (N, K) unit rows (the batch, then the queue).
pub fn sinkhorn_factored(qhat: &[f32], bits: usize, cfg: &SinkhornConfig) -> Potentials {
    let n = super::check_items("sinkhorn_factored", qhat, bits, cfg);
    let tables = Tables::new(qhat, bits, cfg.epsilon);
    let (log_c, clamp) = log_bucket_target(cfg.marginal, n, bits);
    let (nh, nl) = (1usize << tables.kh, 1usize << tables.kl);
    let mut scratch = Scratch {
        hn: vec![0.0; nh * n],
        hl: vec![0.0; nh * nl],
    };
    let mut u = vec![0.0f64; n];
    let mut v = vec![0.0f32; 1 << bits];
    first_row_pass(qhat, bits, cfg.epsilon, &mut u);
    for it in 0..cfg.iterations {
        column_pass(&tables, &u, log_c, clamp, &mut scratch, &mut v);
        if it + 1 < cfg.iterations {
            row_pass(&tables, &v, &mut scratch, &mut u);
        }
    }
    Potentials {
        bits,
        epsilon: cfg.epsilon,
        u: u.into_iter().map(|x| x as f32).collect(),
        v,
    }
}

/// Lane count of the vectorised max; 8 f32 = one AVX register.
const LANES: usize = 8;

/// max_l (x[l] + y[l]) over equal-length slices, written so that it vectorises.
fn max_of_sum(x: &[f32], y: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; LANES];
    let (xc, yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let tail = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(a, b)| a + b);
    for (xs, ys) in xc.zip(yc) {
        for j in 0..LANES {
            let s = xs[j] + ys[j];
            m[j] = if s > m[j] { s } else { m[j] };
        }
    }
    m.into_iter().chain(tail).fold(f32::NEG_INFINITY, f32::max)
}

/// k*(x) = argmax_k (s_k(x)/ε + v_k) for each row of `qhat`, exactly, without scoring all
/// 2^K buckets in the common case.
///
/// s_k/ε = smax + log A(h) + log C(l), so the row h is bounded by
/// log A(h) + max_l log C(l) + max_l v(h, l). Rows are visited in decreasing bound and the search stops when the
/// bound falls below the best value found (the bound uses the same floating-point sums as
/// the values, so rounding cannot prune the true maximum). Ties go to the smaller id, as
/// in [`super::assign_dense`].
pub fn assign_factored(qhat: &[f32], potentials: &Potentials) -> Vec<u32> {
    let bits = potentials.bits;
    assert!(
        qhat.len().is_multiple_of(bits) && potentials.v.len() == 1 << bits,
        "assign_factored: q̂ has {} values for K = {bits}; v has {} buckets",
        qhat.len(),
        potentials.v.len()
    );
    let (kl, kh) = (bits / 2, bits - bits / 2);
    let (nh, nl) = (1usize << kh, 1usize << kl);
    let beta = 1.0 / (potentials.epsilon * (bits as f32).sqrt());
    let v = &potentials.v;
    let vmax: Vec<f32> = v
        .chunks_exact(nl)
        .map(|r| r.iter().cloned().fold(f32::NEG_INFINITY, f32::max))
        .collect();
    let (mut la, mut lc) = (vec![0.0f32; nh], vec![0.0f32; nl]);
    let mut order: Vec<(f32, usize)> = Vec::with_capacity(nh);
    qhat.chunks_exact(bits)
        .map(|q| {
            log_half_table(&q[..kl], beta, &mut lc);
            log_half_table(&q[kl..], beta, &mut la);
            let lc_max = lc.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            order.clear();
            order.extend((0..nh).map(|h| (la[h] + (lc_max + vmax[h]), h)));
            order.sort_unstable_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
            let mut best = (f32::NEG_INFINITY, usize::MAX);
            for &(bound, h) in &order {
                if bound < best.0 {
                    break;
                }
                let x = la[h] + max_of_sum(&lc, &v[h * nl..(h + 1) * nl]);
                if x > best.0 || (x == best.0 && h < best.1) {
                    best = (x, h);
                }
            }
            let h = best.1;
            // The first l attaining the row maximum (same sums as in `max_of_sum`).
            let row = &v[h * nl..(h + 1) * nl];
            let m = max_of_sum(&lc, row);
            let l = lc
                .iter()
                .zip(row)
                .position(|(a, b)| a + b == m)
                .expect("row maximum is attained");
            (h * nl + l) as u32
        })
        .collect()
}
