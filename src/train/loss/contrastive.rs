//! NT-Xent / InfoNCE in both directions: L_c on embeddings e, L_h on q̂ = q / ‖q‖.
//!
//! A batch holds B anchors `a` (B × D) and their positives `p` (B × D), rows already
//! L2-normalised, and optionally M hard negatives `h` (M × D). Logits are dot products
//! over the temperature τ. The loss averages two cross-entropies:
//!
//! ```text
//! row i    (anchor a_i → which positive?):   target a_i·p_i among
//!          { a_i·p_j : all j }  ∪  { a_i·h_m : all m }  [∪ { a_i·a_j : j ≠ i }]
//! column j (positive p_j → which anchor?):   target a_j·p_j among
//!          { a_i·p_j : all i }                          [∪ { p_j·p_k : k ≠ j }]
//! loss = ½ (mean_i CE_row(i) + mean_j CE_col(j))
//! ```
//!
//! Negatives. By default a row's negatives are the *other view* only (the B × B matrix
//! a·pᵀ): this is the loss of the authors' later code (`anupsingh15/AFP-NF`,
//! `pre_trainer.py`: `exp(a·pᵀ/τ)`, cross-entropy over rows), made symmetric as DESIGN §4
//! asks ("both directions"). `same_view_negatives = true` adds the same-view items
//! (a_i·a_j, p_j·p_k, diagonal excluded), which makes the loss exactly SimCLR's NT-Xent over
//! the 2B × 2B matrix minus its diagonal, as NAFP (Chang et al. 2021) trains; the mean over
//! 2B rows there equals ½(mean over anchor rows + mean over positive rows) here.
//!
//! Hard negatives (same track, shifted by ≥ 100 ms) are one shared pool: every anchor row
//! sees all M of them. They do not enter the column direction (they are negatives *for the
//! anchors*); pass M = 0 rows to turn them off.
//!
//! Gradient (fused softmax + cross-entropy, as in llm.c): for every logit of a row,
//! ∂CE/∂logit = softmax − onehot(target). The forward pass folds both directions into one
//! matrix per logit family, so the backward pass is at most three GEMMs per input.

use crate::tensor::gemm::{Mat, gemm};

/// Settings of the contrastive loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NtXentConfig {
    /// τ: logits are cosine similarities / τ. DESIGN §4 default 0.1.
    pub temperature: f32,
    /// Add same-view negatives (SimCLR/NAFP form). Default false (AFP-NF form).
    pub same_view_negatives: bool,
}

impl Default for NtXentConfig {
    fn default() -> Self {
        NtXentConfig {
            temperature: 0.1,
            same_view_negatives: false,
        }
    }
}

/// What [`nt_xent_backward`] needs: ∂loss/∂logits for dloss = 2B (so entries are plain
/// softmax − onehot sums), one matrix per logit family.
#[derive(Clone, Debug)]
pub struct NtXentCache {
    batch: usize,
    dim: usize,
    hard: usize,
    inv_tau: f32,
    /// (B, B): (P_row − I) + (P_col − I) over the cross-view logits a_i·p_j.
    g_ap: Vec<f32>,
    /// (B, B) symmetric: P_aa + P_aaᵀ over same-view anchor logits; empty if not used.
    g_aa: Vec<f32>,
    /// (B, B) symmetric: P_pp + P_ppᵀ over same-view positive logits; empty if not used.
    g_pp: Vec<f32>,
    /// (B, M): softmax of anchor rows over the hard negatives; empty if M = 0.
    g_ah: Vec<f32>,
}

/// Softmax cross-entropy of one row of logits given as several slices, the target being
/// `target` (a value that also appears in one slice). Writes the softmax into `out`
/// (same layout as `parts`) and returns −log softmax(target).
fn cross_entropy_parts(parts: &[&[f32]], target: f32, out: &mut [&mut [f32]]) -> f32 {
    let max = parts
        .iter()
        .flat_map(|s| s.iter())
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let mut sum = 0.0f32;
    for (src, dst) in parts.iter().zip(out.iter_mut()) {
        for (x, y) in src.iter().zip(dst.iter_mut()) {
            *y = (x - max).exp();
            sum += *y;
        }
    }
    let inv = 1.0 / sum;
    out.iter_mut()
        .for_each(|d| d.iter_mut().for_each(|y| *y *= inv));
    sum.ln() + max - target
}

/// Forward: returns the loss and the cache for [`nt_xent_backward`].
///
/// `a`, `p`: (B, D); `hard`: (M, D), M ≥ 0 (may be empty). B ≥ 1.
pub fn nt_xent_forward(
    a: &[f32],
    p: &[f32],
    hard: &[f32],
    batch: usize,
    dim: usize,
    cfg: &NtXentConfig,
) -> (f32, NtXentCache) {
    let (b, d) = (batch, dim);
    assert!(
        b >= 1 && d >= 1 && a.len() == b * d && p.len() == b * d && hard.len().is_multiple_of(d),
        "nt_xent_forward: anchors {} and positives {} must be (B={b}, D={d}), hard negatives {} \
         a multiple of D",
        a.len(),
        p.len(),
        hard.len()
    );
    assert!(
        cfg.temperature > 0.0,
        "nt_xent_forward: temperature {} must be > 0",
        cfg.temperature
    );
    let m = hard.len() / d;
    let inv_tau = 1.0 / cfg.temperature;

    // Logits. (B, B) cross view, optional (B, B) same view, (B, M) hard negatives.
    let mut s_ap = vec![0.0; b * b];
    gemm(b, d, b, inv_tau, Mat::n(a), Mat::t(p), 0.0, &mut s_ap);
    // Same-view logits with the diagonal (an item against itself) masked to −∞, so that
    // its softmax entry is exactly 0.
    let same = |x: &[f32]| {
        let mut s = vec![0.0; b * b];
        gemm(b, d, b, inv_tau, Mat::n(x), Mat::t(x), 0.0, &mut s);
        (0..b).for_each(|i| s[i * b + i] = f32::NEG_INFINITY);
        s
    };
    let (s_aa, s_pp) = if cfg.same_view_negatives {
        (same(a), same(p))
    } else {
        (vec![], vec![])
    };
    let mut s_ah = vec![0.0; b * m];
    gemm(b, d, m, inv_tau, Mat::n(a), Mat::t(hard), 0.0, &mut s_ah);

    let mut g_ap = vec![0.0; b * b];
    let mut g_aa = vec![0.0; s_aa.len()];
    let mut g_pp = vec![0.0; s_pp.len()];
    let mut g_ah = vec![0.0; b * m];
    let mut total = 0.0f64;
    // Row i of an optional (B, B) same-view matrix: empty when not in use.
    let row_of = |s: &[f32], i: usize| {
        if s.is_empty() {
            0..0
        } else {
            i * b..(i + 1) * b
        }
    };

    // Row direction: anchor i against every positive, hard negative [and other anchor].
    for i in 0..b {
        let (rb, rm, rs) = (i * b..(i + 1) * b, i * m..(i + 1) * m, row_of(&s_aa, i));
        total += cross_entropy_parts(
            &[&s_ap[rb.clone()], &s_ah[rm.clone()], &s_aa[rs.clone()]],
            s_ap[i * b + i],
            &mut [&mut g_ap[rb], &mut g_ah[rm], &mut g_aa[rs]],
        ) as f64;
        g_ap[i * b + i] -= 1.0;
    }

    // Column direction: positive j against every anchor [and other positive]. The
    // column of s_ap is gathered so that the softmax sees contiguous slices.
    let mut col = vec![0.0; b];
    let mut p_col = vec![0.0; b];
    for j in 0..b {
        col.iter_mut()
            .enumerate()
            .for_each(|(i, c)| *c = s_ap[i * b + j]);
        let rs = row_of(&s_pp, j);
        total += cross_entropy_parts(
            &[&col, &s_pp[rs.clone()]],
            s_ap[j * b + j],
            &mut [&mut p_col, &mut g_pp[rs]],
        ) as f64;
        for i in 0..b {
            g_ap[i * b + j] += p_col[i];
        }
        g_ap[j * b + j] -= 1.0;
    }

    // a_i·a_j appears in row i and in row j: the gradient of the symmetric logit is the
    // sum of both softmax entries.
    for g in [&mut g_aa, &mut g_pp] {
        if g.is_empty() {
            continue;
        }
        for i in 0..b {
            for j in i + 1..b {
                let s = g[i * b + j] + g[j * b + i];
                g[i * b + j] = s;
                g[j * b + i] = s;
            }
        }
    }

    let loss = (total / (2 * b) as f64) as f32;
    (
        loss,
        NtXentCache {
            batch: b,
            dim: d,
            hard: m,
            inv_tau,
            g_ap,
            g_aa,
            g_pp,
            g_ah,
        },
    )
}

/// Backward: accumulates (`+=`) ∂loss/∂a, ∂loss/∂p, ∂loss/∂hard scaled by `dloss`.
///
/// Same inputs as the forward call that produced `cache`; `da`, `dp`: (B, D),
/// `dhard`: (M, D).
#[allow(clippy::too_many_arguments)]
pub fn nt_xent_backward(
    a: &[f32],
    p: &[f32],
    hard: &[f32],
    cache: &NtXentCache,
    dloss: f32,
    da: &mut [f32],
    dp: &mut [f32],
    dhard: &mut [f32],
) {
    let (b, d, m) = (cache.batch, cache.dim, cache.hard);
    assert!(
        a.len() == b * d
            && p.len() == b * d
            && hard.len() == m * d
            && da.len() == b * d
            && dp.len() == b * d
            && dhard.len() == m * d,
        "nt_xent_backward: cache is for B={b}, D={d}, M={m}; got a {}, p {}, hard {}, da {}, \
         dp {}, dhard {}",
        a.len(),
        p.len(),
        hard.len(),
        da.len(),
        dp.len(),
        dhard.len()
    );
    // ∂loss/∂logit = dloss / (2B) · g; ∂logit/∂input = other input / τ.
    let scale = dloss / (2 * b) as f32 * cache.inv_tau;
    gemm(b, b, d, scale, Mat::n(&cache.g_ap), Mat::n(p), 1.0, da);
    gemm(b, b, d, scale, Mat::t(&cache.g_ap), Mat::n(a), 1.0, dp);
    if !cache.g_aa.is_empty() {
        gemm(b, b, d, scale, Mat::n(&cache.g_aa), Mat::n(a), 1.0, da);
        gemm(b, b, d, scale, Mat::n(&cache.g_pp), Mat::n(p), 1.0, dp);
    }
    gemm(b, m, d, scale, Mat::n(&cache.g_ah), Mat::n(hard), 1.0, da);
    gemm(m, b, d, scale, Mat::t(&cache.g_ah), Mat::n(a), 1.0, dhard);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Rows of uniform noise, L2-normalised (the loss accepts any vectors; unit rows are
    /// what it sees in training).
    fn unit_rows(rng: &mut StdRng, rows: usize, dim: usize) -> Vec<f32> {
        let mut x: Vec<f32> = (0..rows * dim)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        for r in x.chunks_mut(dim) {
            let n = r.iter().map(|v| v * v).sum::<f32>().sqrt();
            r.iter_mut().for_each(|v| *v /= n);
        }
        x
    }

    fn dot(x: &[f64], y: &[f64]) -> f64 {
        x.iter().zip(y).map(|(a, b)| a * b).sum()
    }

    fn lse(x: &[f64]) -> f64 {
        let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
    }

    /// The slow twin: every logit list written out explicitly, in f64.
    fn naive_loss(
        a: &[f64],
        p: &[f64],
        h: &[f64],
        b: usize,
        d: usize,
        tau: f64,
        same: bool,
    ) -> f64 {
        let row = |x: &[f64], i: usize| x[i * d..(i + 1) * d].to_vec();
        let m = h.len() / d;
        let mut total = 0.0;
        for i in 0..b {
            let ai = row(a, i);
            let mut logits: Vec<f64> = (0..b).map(|j| dot(&ai, &row(p, j)) / tau).collect();
            logits.extend((0..m).map(|k| dot(&ai, &row(h, k)) / tau));
            if same {
                logits.extend(
                    (0..b)
                        .filter(|&j| j != i)
                        .map(|j| dot(&ai, &row(a, j)) / tau),
                );
            }
            total += lse(&logits) - dot(&ai, &row(p, i)) / tau;
        }
        for j in 0..b {
            let pj = row(p, j);
            let mut logits: Vec<f64> = (0..b).map(|i| dot(&row(a, i), &pj) / tau).collect();
            if same {
                logits.extend(
                    (0..b)
                        .filter(|&k| k != j)
                        .map(|k| dot(&pj, &row(p, k)) / tau),
                );
            }
            total += lse(&logits) - dot(&row(a, j), &pj) / tau;
        }
        total / (2 * b) as f64
    }

    fn widen(x: &[f32]) -> Vec<f64> {
        x.iter().map(|&v| v as f64).collect()
    }

    /// Forward against the f64 twin, and the analytic gradient against central differences
    /// of the twin (step 1e-5 in f64: truncation and rounding errors both ≲ 1e-9).
    fn check(b: usize, d: usize, m: usize, same: bool, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (a, p, h) = (
            unit_rows(&mut rng, b, d),
            unit_rows(&mut rng, b, d),
            unit_rows(&mut rng, m, d),
        );
        let cfg = NtXentConfig {
            temperature: 0.1,
            same_view_negatives: same,
        };
        let (loss, cache) = nt_xent_forward(&a, &p, &h, b, d, &cfg);
        let tau = cfg.temperature as f64;
        let (a64, p64, h64) = (widen(&a), widen(&p), widen(&h));
        let want = naive_loss(&a64, &p64, &h64, b, d, tau, same);
        assert!(
            (loss as f64 - want).abs() < 1e-4 * want.abs().max(1.0),
            "loss {loss} vs {want}"
        );

        let dloss = 0.7f32;
        let (mut da, mut dp, mut dh) = (vec![0.0; b * d], vec![0.0; b * d], vec![0.0; m * d]);
        nt_xent_backward(&a, &p, &h, &cache, dloss, &mut da, &mut dp, &mut dh);
        let step = 1e-5;
        for (which, grad) in [(0, &da), (1, &dp), (2, &dh)] {
            for (k, &g) in grad.iter().enumerate() {
                let eval = |delta: f64| {
                    let (mut a, mut p, mut h) = (a64.clone(), p64.clone(), h64.clone());
                    [&mut a, &mut p, &mut h][which][k] += delta;
                    naive_loss(&a, &p, &h, b, d, tau, same)
                };
                let fd = dloss as f64 * (eval(step) - eval(-step)) / (2.0 * step);
                assert!(
                    (g as f64 - fd).abs() < 1e-4 + 1e-3 * fd.abs(),
                    "B={b} D={d} M={m} same={same}: input {which} elem {k}: analytic {g} vs fd {fd}"
                );
            }
        }
    }

    #[test]
    fn nt_xent_cross_view_matches_twin_and_finite_differences() {
        check(1, 3, 0, false, 1);
        check(5, 4, 0, false, 2);
    }

    #[test]
    fn nt_xent_same_view_matches_twin_and_finite_differences() {
        check(2, 3, 0, true, 3);
        check(5, 4, 0, true, 4);
    }

    #[test]
    fn nt_xent_hard_negatives_match_twin_and_finite_differences() {
        check(6, 3, 3, false, 5);
        check(4, 5, 2, true, 6);
    }

    /// The same-view form is SimCLR's loss over the 2B × 2B similarity matrix with its
    /// diagonal removed (rows 0..B are anchors, B..2B positives, target i ↔ i ± B).
    #[test]
    fn nt_xent_same_view_equals_simclr_2b_matrix() {
        let (b, d) = (6, 5);
        let mut rng = StdRng::seed_from_u64(7);
        let (a, p) = (unit_rows(&mut rng, b, d), unit_rows(&mut rng, b, d));
        let cfg = NtXentConfig {
            temperature: 0.2,
            same_view_negatives: true,
        };
        let (loss, _) = nt_xent_forward(&a, &p, &[], b, d, &cfg);
        let z: Vec<f64> = widen(&a).into_iter().chain(widen(&p)).collect();
        let zr = |i: usize| &z[i * d..(i + 1) * d];
        let mut total = 0.0;
        for i in 0..2 * b {
            let logits: Vec<f64> = (0..2 * b)
                .filter(|&j| j != i)
                .map(|j| dot(zr(i), zr(j)) / 0.2)
                .collect();
            total += lse(&logits) - dot(zr(i), zr((i + b) % (2 * b))) / 0.2;
        }
        let want = total / (2 * b) as f64;
        assert!((loss as f64 - want).abs() < 1e-5, "{loss} vs SimCLR {want}");
    }

    #[test]
    fn nt_xent_backward_accumulates() {
        let (b, d, m) = (4, 3, 2);
        let mut rng = StdRng::seed_from_u64(8);
        let (a, p, h) = (
            unit_rows(&mut rng, b, d),
            unit_rows(&mut rng, b, d),
            unit_rows(&mut rng, m, d),
        );
        let (_, cache) = nt_xent_forward(&a, &p, &h, b, d, &NtXentConfig::default());
        let (mut da, mut dp, mut dh) = (vec![0.0; b * d], vec![0.0; b * d], vec![0.0; m * d]);
        nt_xent_backward(&a, &p, &h, &cache, 1.0, &mut da, &mut dp, &mut dh);
        let once = (da.clone(), dp.clone(), dh.clone());
        nt_xent_backward(&a, &p, &h, &cache, 1.0, &mut da, &mut dp, &mut dh);
        for (twice, once) in [(&da, &once.0), (&dp, &once.1), (&dh, &once.2)] {
            for (x, y) in twice.iter().zip(once) {
                assert!((x - 2.0 * y).abs() <= 1e-6 * y.abs().max(1.0));
            }
        }
    }

    #[test]
    #[should_panic(expected = "nt_xent_forward")]
    fn nt_xent_rejects_mismatched_shapes() {
        nt_xent_forward(&[0.0; 6], &[0.0; 4], &[], 2, 3, &NtXentConfig::default());
    }
}
