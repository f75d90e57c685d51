//! The row kernels against plain CPU references (f64), under every reduction flavour.

use super::*;
use crate::gpu::testing::{
    assert_close, assert_gradient, buffer, narrow, random, shared_gpu, weighted_sum, wide,
};
use crate::gpu::{Gpu, Reduction, RowConfig};

// ---- CPU references: forward and backward side by side; backward returns the
// ---- gradient contribution (the kernels add it to what dx held).

fn softmax_ref(x: &[f64], cols: usize) -> Vec<f64> {
    x.chunks(cols)
        .flat_map(|row| {
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
            row.iter().map(move |v| (v - m).exp() / s)
        })
        .collect()
}

fn softmax_backward_ref(y: &[f64], dy: &[f64], cols: usize) -> Vec<f64> {
    y.chunks(cols)
        .zip(dy.chunks(cols))
        .flat_map(|(y, dy)| {
            let d: f64 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
            y.iter().zip(dy).map(move |(y, dy)| y * (dy - d))
        })
        .collect()
}

fn log_softmax_ref(x: &[f64], cols: usize) -> Vec<f64> {
    softmax_ref(x, cols).iter().map(|p| p.ln()).collect()
}

fn log_softmax_backward_ref(y: &[f64], dy: &[f64], cols: usize) -> Vec<f64> {
    y.chunks(cols)
        .zip(dy.chunks(cols))
        .flat_map(|(y, dy)| {
            let s: f64 = dy.iter().sum();
            y.iter().zip(dy).map(move |(y, dy)| dy - y.exp() * s)
        })
        .collect()
}

/// (y, mean, rstd).
fn layernorm_ref(
    x: &[f64],
    gamma: &[f64],
    beta: &[f64],
    cols: usize,
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut y, mut mean, mut rstd) = (Vec::new(), Vec::new(), Vec::new());
    for row in x.chunks(cols) {
        let mu = row.iter().sum::<f64>() / cols as f64;
        let var = row.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / cols as f64;
        let r = 1.0 / (var + eps).sqrt();
        y.extend(
            row.iter()
                .enumerate()
                .map(|(c, v)| (v - mu) * r * gamma[c] + beta[c]),
        );
        mean.push(mu);
        rstd.push(r);
    }
    (y, mean, rstd)
}

/// (dx, dgamma, dbeta).
fn layernorm_backward_ref(
    x: &[f64],
    gamma: &[f64],
    dy: &[f64],
    cols: usize,
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (_, mean, rstd) = layernorm_ref(x, gamma, gamma, cols, eps);
    let (mut dx, mut dgamma, mut dbeta) = (Vec::new(), vec![0.0; cols], vec![0.0; cols]);
    for (r, (row, dyr)) in x.chunks(cols).zip(dy.chunks(cols)).enumerate() {
        let xhat: Vec<f64> = row.iter().map(|v| (v - mean[r]) * rstd[r]).collect();
        let g: Vec<f64> = dyr.iter().zip(gamma).map(|(d, g)| d * g).collect();
        let mean_g = g.iter().sum::<f64>() / cols as f64;
        let mean_gx = g.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / cols as f64;
        dx.extend((0..cols).map(|c| rstd[r] * (g[c] - mean_g - xhat[c] * mean_gx)));
        for c in 0..cols {
            dgamma[c] += dyr[c] * xhat[c];
            dbeta[c] += dyr[c];
        }
    }
    (dx, dgamma, dbeta)
}

/// (y, norm).
fn l2norm_ref(x: &[f64], cols: usize, eps: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut y, mut norm) = (Vec::new(), Vec::new());
    for row in x.chunks(cols) {
        let n = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        y.extend(row.iter().map(|v| v / n.max(eps)));
        norm.push(n);
    }
    (y, norm)
}

fn l2norm_backward_ref(x: &[f64], dy: &[f64], cols: usize, eps: f64) -> Vec<f64> {
    let (y, norm) = l2norm_ref(x, cols, eps);
    let mut dx = Vec::new();
    for (r, (yr, dyr)) in y.chunks(cols).zip(dy.chunks(cols)).enumerate() {
        let d: f64 = yr.iter().zip(dyr).map(|(a, b)| a * b).sum();
        if norm[r] > eps {
            dx.extend(yr.iter().zip(dyr).map(|(y, dy)| (dy - y * d) / norm[r]));
        } else {
            dx.extend(dyr.iter().map(|dy| dy / eps));
        }
    }
    dx
}

#[test]
fn references_match_finite_differences() {
    let cols = 4;
    let x = wide(&random(8, 10));
    let w = wide(&random(8, 11));
    let gamma = wide(&random(cols, 12));
    let beta = wide(&random(cols, 13));

    let y = softmax_ref(&x, cols);
    let f = |x: &[f64]| weighted_sum(&w, &softmax_ref(x, cols));
    assert_gradient("softmax", f, &x, &softmax_backward_ref(&y, &w, cols), 1e-6);

    let y = log_softmax_ref(&x, cols);
    let f = |x: &[f64]| weighted_sum(&w, &log_softmax_ref(x, cols));
    assert_gradient(
        "log_softmax",
        f,
        &x,
        &log_softmax_backward_ref(&y, &w, cols),
        1e-6,
    );

    let (dx, dgamma, dbeta) = layernorm_backward_ref(&x, &gamma, &w, cols, 1e-5);
    let f = |x: &[f64]| weighted_sum(&w, &layernorm_ref(x, &gamma, &beta, cols, 1e-5).0);
    assert_gradient("layernorm dx", f, &x, &dx, 1e-5);
    let f = |g: &[f64]| weighted_sum(&w, &layernorm_ref(&x, g, &beta, cols, 1e-5).0);
    assert_gradient("layernorm dgamma", f, &gamma, &dgamma, 1e-5);
    let f = |b: &[f64]| weighted_sum(&w, &layernorm_ref(&x, &gamma, b, cols, 1e-5).0);
    assert_gradient("layernorm dbeta", f, &beta, &dbeta, 1e-5);

    let f = |x: &[f64]| weighted_sum(&w, &l2norm_ref(x, cols, 1e-12).0);
    assert_gradient(
        "l2norm",
        f,
        &x,
        &l2norm_backward_ref(&x, &w, cols, 1e-12),
        1e-6,
    );
    // A row with norm below eps: the clamped branch is linear.
    let tiny: Vec<f64> = x.iter().map(|v| v * 1e-3).collect();
    let f = |x: &[f64]| weighted_sum(&w, &l2norm_ref(x, cols, 0.5).0);
    assert_gradient(
        "l2norm clamped",
        f,
        &tiny,
        &l2norm_backward_ref(&tiny, &w, cols, 0.5),
        1e-6,
    );
}

// ---- kernels against the references ----

/// (rows, cols): one row shorter than a workgroup, and many rows longer than one.
const SIZES: [(usize, usize); 2] = [(3, 5), (67, 130)];

/// The device's default row configuration and the subgroup-free fallback; with
/// `multi_subgroup`, also 32-wide subgroup workgroups (several subgroups per row on
/// lavapipe, whose subgroups have 8 lanes).
fn configs(gpu: &Gpu, multi_subgroup: bool) -> Vec<RowConfig> {
    let mut all = vec![
        gpu.default_rows(),
        RowConfig {
            reduction: Reduction::Workgroup,
            workgroup: 64,
        },
    ];
    if multi_subgroup && gpu.has_subgroups() {
        all.push(RowConfig {
            reduction: Reduction::Subgroup,
            workgroup: 32,
        });
    }
    all.dedup();
    all
}

#[test]
fn softmax_and_log_softmax_forward_backward() {
    let Some(gpu) = shared_gpu() else { return };
    for rows_config in configs(gpu, true) {
        for (seed, &(rows, cols)) in SIZES.iter().enumerate() {
            let seed = 100 + 10 * seed as u64;
            let n = rows * cols;
            // Logits spread over ±8, so that the max subtraction matters.
            let x: Vec<f32> = random(n, seed).iter().map(|v| 8.0 * v).collect();
            let dy = random(n, seed + 1);
            let dx0 = random(n, seed + 2);
            let (gx, gdy) = (buffer(gpu, &x), buffer(gpu, &dy));
            let (y, ly) = (buffer(gpu, &vec![0.0; n]), buffer(gpu, &vec![0.0; n]));
            let (dx, ldx) = (buffer(gpu, &dx0), buffer(gpu, &dx0));
            let mut batch = gpu.batch();
            batch.set_rows(rows_config);
            softmax_forward(&mut batch, rows, cols, &gx, &y).unwrap();
            softmax_backward(&mut batch, rows, cols, &y, &gdy, &dx).unwrap();
            log_softmax_forward(&mut batch, rows, cols, &gx, &ly).unwrap();
            log_softmax_backward(&mut batch, rows, cols, &ly, &gdy, &ldx).unwrap();
            batch.submit();

            let what = format!("{rows}×{cols} {rows_config:?}");
            let (xw, dyw) = (wide(&x), wide(&dy));
            let y_ref = softmax_ref(&xw, cols);
            let ly_ref = log_softmax_ref(&xw, cols);
            let plus = |a: &[f64]| {
                narrow(
                    &a.iter()
                        .zip(&dx0)
                        .map(|(a, b)| a + f64::from(*b))
                        .collect::<Vec<_>>(),
                )
            };
            assert_close(
                &format!("softmax {what}"),
                &y.read(gpu).unwrap(),
                &narrow(&y_ref),
                1e-4,
            );
            assert_close(
                &format!("log_softmax {what}"),
                &ly.read(gpu).unwrap(),
                &narrow(&ly_ref),
                1e-4,
            );
            let want = plus(&softmax_backward_ref(&y_ref, &dyw, cols));
            assert_close(
                &format!("softmax dx {what}"),
                &dx.read(gpu).unwrap(),
                &want,
                1e-4,
            );
            let want = plus(&log_softmax_backward_ref(&ly_ref, &dyw, cols));
            assert_close(
                &format!("log_softmax dx {what}"),
                &ldx.read(gpu).unwrap(),
                &want,
                1e-4,
            );
        }
    }
}

#[test]
fn layernorm_forward_backward() {
    let Some(gpu) = shared_gpu() else { return };
    let eps = 1e-5;
    for rows_config in configs(gpu, false) {
        for (seed, &(rows, cols)) in SIZES.iter().enumerate() {
            let seed = 200 + 10 * seed as u64;
            let n = rows * cols;
            // An offset mean, as activations have, tests the two-pass variance.
            let x: Vec<f32> = random(n, seed).iter().map(|v| 3.0 + 2.0 * v).collect();
            let (gamma, beta, dy) = (
                random(cols, seed + 1),
                random(cols, seed + 2),
                random(n, seed + 3),
            );
            let (dx0, dg0, db0) = (
                random(n, seed + 4),
                random(cols, seed + 5),
                random(cols, seed + 6),
            );
            let (gx, ggamma, gbeta, gdy) = (
                buffer(gpu, &x),
                buffer(gpu, &gamma),
                buffer(gpu, &beta),
                buffer(gpu, &dy),
            );
            let (y, mean, rstd) = (
                buffer(gpu, &vec![0.0; n]),
                buffer(gpu, &vec![0.0; rows]),
                buffer(gpu, &vec![0.0; rows]),
            );
            let (dx, dgamma, dbeta) = (buffer(gpu, &dx0), buffer(gpu, &dg0), buffer(gpu, &db0));
            let mut batch = gpu.batch();
            batch.set_rows(rows_config);
            layernorm_forward(
                &mut batch, rows, cols, eps, &gx, &ggamma, &gbeta, &y, &mean, &rstd,
            )
            .unwrap();
            layernorm_backward(
                &mut batch, rows, cols, &gx, &ggamma, &mean, &rstd, &gdy, &dx, &dgamma, &dbeta,
            )
            .unwrap();
            batch.submit();

            let what = format!("{rows}×{cols} {rows_config:?}");
            let (xw, gw) = (wide(&x), wide(&gamma));
            let (y_ref, mean_ref, rstd_ref) =
                layernorm_ref(&xw, &gw, &wide(&beta), cols, f64::from(eps));
            let (dx_ref, dg_ref, db_ref) =
                layernorm_backward_ref(&xw, &gw, &wide(&dy), cols, f64::from(eps));
            let plus = |a: &[f64], b: &[f32]| {
                narrow(
                    &a.iter()
                        .zip(b)
                        .map(|(a, b)| a + f64::from(*b))
                        .collect::<Vec<_>>(),
                )
            };
            assert_close(
                &format!("layernorm y {what}"),
                &y.read(gpu).unwrap(),
                &narrow(&y_ref),
                1e-4,
            );
            assert_close(
                &format!("layernorm mean {what}"),
                &mean.read(gpu).unwrap(),
                &narrow(&mean_ref),
                1e-4,
            );
            assert_close(
                &format!("layernorm rstd {what}"),
                &rstd.read(gpu).unwrap(),
                &narrow(&rstd_ref),
                1e-4,
            );
            assert_close(
                &format!("layernorm dx {what}"),
                &dx.read(gpu).unwrap(),
                &plus(&dx_ref, &dx0),
                1e-4,
            );
            assert_close(
                &format!("layernorm dgamma {what}"),
                &dgamma.read(gpu).unwrap(),
                &plus(&dg_ref, &dg0),
                1e-4,
            );
            assert_close(
                &format!("layernorm dbeta {what}"),
                &dbeta.read(gpu).unwrap(),
                &plus(&db_ref, &db0),
                1e-4,
            );
        }
    }
}

#[test]
fn l2norm_forward_backward_including_a_clamped_row() {
    let Some(gpu) = shared_gpu() else { return };
    let eps = 1e-3;
    for rows_config in configs(gpu, false) {
        for (seed, &(rows, cols)) in SIZES.iter().enumerate() {
            let seed = 300 + 10 * seed as u64;
            let n = rows * cols;
            let mut x = random(n, seed);
            // Row 1 has a norm below eps: the clamped branch.
            x[cols..2 * cols].iter_mut().for_each(|v| *v *= 1e-5);
            let (dy, dx0) = (random(n, seed + 1), random(n, seed + 2));
            let (gx, gdy, dx) = (buffer(gpu, &x), buffer(gpu, &dy), buffer(gpu, &dx0));
            let (y, norm) = (buffer(gpu, &vec![0.0; n]), buffer(gpu, &vec![0.0; rows]));
            let mut batch = gpu.batch();
            batch.set_rows(rows_config);
            l2norm_forward(&mut batch, rows, cols, eps, &gx, &y, &norm).unwrap();
            l2norm_backward(&mut batch, rows, cols, eps, &y, &norm, &gdy, &dx).unwrap();
            batch.submit();

            let what = format!("{rows}×{cols} {rows_config:?}");
            let xw = wide(&x);
            let (y_ref, norm_ref) = l2norm_ref(&xw, cols, f64::from(eps));
            let dx_ref = l2norm_backward_ref(&xw, &wide(&dy), cols, f64::from(eps));
            let want: Vec<f32> = narrow(
                &dx_ref
                    .iter()
                    .zip(&dx0)
                    .map(|(a, b)| a + f64::from(*b))
                    .collect::<Vec<_>>(),
            );
            assert_close(
                &format!("l2norm y {what}"),
                &y.read(gpu).unwrap(),
                &narrow(&y_ref),
                1e-4,
            );
            assert_close(
                &format!("l2norm norm {what}"),
                &norm.read(gpu).unwrap(),
                &narrow(&norm_ref),
                1e-4,
            );
            assert_close(
                &format!("l2norm dx {what}"),
                &dx.read(gpu).unwrap(),
                &want,
                1e-4,
            );
        }
    }
}
