//! Layer normalisation over the last axis with an affine weight and bias (PyTorch's
//! `nn.LayerNorm`): `y = (x − mean) · rstd · w + b`, `rstd = 1/√(var + eps)`, the variance
//! biased (divided by C). Rows run in parallel (see [`super::parallel`]).
//!
//! Shapes: `x, y (N, C)`, `w, b (C)`, cached `mean, rstd (N)`.

use super::parallel::par_items;
use super::vecops::{dot, sum};
use crate::profile;

/// Writes `out (N, C)` and caches `mean (N)` and `rstd (N)` for the backward pass.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_forward(
    out: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
    x: &[f32],
    w: &[f32],
    b: &[f32],
    c: usize,
    eps: f32,
) {
    let n = mean.len();
    let _p = profile::scope("layer_norm", 8 * (n * c) as u64);
    par_items(n, 8 * c, [out, mean, rstd], |rows, [out, mean, rstd]| {
        for (k, r) in rows.enumerate() {
            let xr = &x[r * c..(r + 1) * c];
            let m = sum(xr) / c as f32;
            // Centre into the output row, take the variance from it, then scale in place.
            let o = &mut out[k * c..(k + 1) * c];
            for (o, &v) in o.iter_mut().zip(xr) {
                *o = v - m;
            }
            let s = 1.0 / (dot(o, o) / c as f32 + eps).sqrt();
            for ((o, &wj), &bj) in o.iter_mut().zip(w).zip(b) {
                *o = *o * s * wj + bj;
            }
            mean[k] = m;
            rstd[k] = s;
        }
    });
}

/// Accumulates `dx (N, C)`, `dw (C)` and `db (C)` from `dout (N, C)`:
/// with `n̂ = (x − mean)·rstd` and `g = w ⊙ dy`,
/// `dx += rstd · (g − mean(g) − n̂ · mean(g ⊙ n̂))`, `dw += Σ_rows dy ⊙ n̂`, `db += Σ_rows dy`.
/// `None` skips a gradient.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward(
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
    dout: &[f32],
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    rstd: &[f32],
    c: usize,
) {
    let n = mean.len();
    let _p = profile::scope("layer_norm.bwd", 12 * (n * c) as u64);
    let mut scratch = Vec::new();
    let dx = match dx {
        Some(dx) => dx,
        None => {
            scratch.resize(n * c, 0.0);
            &mut scratch[..]
        }
    };
    // Each worker returns its partial (dw, db) sums; they are added in item order, so the
    // result does not depend on timing.
    let partials = par_items(n, 12 * c, [dx], |rows, [dx]| {
        let (mut pw, mut pb) = (vec![0.0f32; c], vec![0.0f32; c]);
        for (k, r) in rows.enumerate() {
            let (xr, dy) = (&x[r * c..(r + 1) * c], &dout[r * c..(r + 1) * c]);
            let (m, s) = (mean[r], rstd[r]);
            let (mut g_mean, mut gn_mean) = (0.0f32, 0.0f32);
            for j in 0..c {
                let norm = (xr[j] - m) * s;
                let g = w[j] * dy[j];
                g_mean += g;
                gn_mean += g * norm;
                pw[j] += dy[j] * norm;
                pb[j] += dy[j];
            }
            g_mean /= c as f32;
            gn_mean /= c as f32;
            for (j, d) in dx[k * c..(k + 1) * c].iter_mut().enumerate() {
                let norm = (xr[j] - m) * s;
                *d += s * (w[j] * dy[j] - g_mean - norm * gn_mean);
            }
        }
        (pw, pb)
    });
    let (mut dw, mut db) = (dw, db);
    for (pw, pb) in partials {
        for (dst, part) in [(dw.as_deref_mut(), pw), (db.as_deref_mut(), pb)] {
            if let Some(dst) = dst {
                for (g, p) in dst.iter_mut().zip(part) {
                    *g += p;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// 320 rows of 128 are enough work to split across threads; the same rows fed 8 at a
    /// time stay on one thread. Both give the same outputs, caches and gradients.
    #[test]
    fn threaded_rows_match_single_threaded_chunks() {
        let (n, c, eps) = (320, 128, 1e-5);
        let mut rng = StdRng::seed_from_u64(4);
        let x = Tensor::randn(&[n, c], 1.0, &mut rng);
        let w = Tensor::randn(&[c], 1.0, &mut rng);
        let b = Tensor::randn(&[c], 1.0, &mut rng);
        let dy = Tensor::randn(&[n, c], 1.0, &mut rng);
        let (mut y, mut mean, mut rstd) = (vec![0.0; n * c], vec![0.0; n], vec![0.0; n]);
        layernorm_forward(
            &mut y,
            &mut mean,
            &mut rstd,
            x.data(),
            w.data(),
            b.data(),
            c,
            eps,
        );
        let (mut dx, mut dw, mut db) = (vec![0.0; n * c], vec![0.0; c], vec![0.0; c]);
        layernorm_backward(
            Some(&mut dx),
            Some(&mut dw),
            Some(&mut db),
            dy.data(),
            x.data(),
            w.data(),
            &mean,
            &rstd,
            c,
        );

        let (mut y1, mut dx1, mut dw1, mut db1) = (
            vec![0.0; n * c],
            vec![0.0; n * c],
            vec![0.0; c],
            vec![0.0; c],
        );
        let rows = 8;
        for k in 0..n / rows {
            let r = k * rows * c..(k + 1) * rows * c;
            let (mut m, mut s) = (vec![0.0; rows], vec![0.0; rows]);
            layernorm_forward(
                &mut y1[r.clone()],
                &mut m,
                &mut s,
                &x.data()[r.clone()],
                w.data(),
                b.data(),
                c,
                eps,
            );
            assert_eq!(
                (&m[..], &s[..]),
                (
                    &mean[k * rows..(k + 1) * rows],
                    &rstd[k * rows..(k + 1) * rows]
                )
            );
            let (dxk, dyk, xk) = (&mut dx1[r.clone()], &dy.data()[r.clone()], &x.data()[r]);
            layernorm_backward(
                Some(dxk),
                Some(&mut dw1),
                Some(&mut db1),
                dyk,
                xk,
                w.data(),
                &m,
                &s,
                c,
            );
        }
        assert_eq!(y, y1);
        assert_eq!(dx, dx1);
        let close = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + x.abs()))
        };
        // dw, db: the same terms summed in another grouping.
        assert!(close(&dw, &dw1) && close(&db, &db1));
    }
}
