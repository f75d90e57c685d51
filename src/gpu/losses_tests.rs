//! The loss kernels against plain CPU references (f64).

use super::*;
use crate::gpu::testing::{
    assert_close, assert_gradient, buffer, narrow, normalised_rows, random, shared_gpu, wide,
};

// ---- NT-Xent ----

/// (lse over rows then columns, per-direction losses, mean loss) of S = za zpᵀ / τ.
fn ntxent_ref(za: &[f64], zp: &[f64], n: usize, dim: usize, tau: f64) -> (Vec<f64>, Vec<f64>, f64) {
    let s = |i: usize, j: usize| {
        (0..dim)
            .map(|d| za[i * dim + d] * zp[j * dim + d])
            .sum::<f64>()
            / tau
    };
    let lse = |v: Vec<f64>| {
        let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    };
    let mut lses: Vec<f64> = (0..n)
        .map(|i| lse((0..n).map(|j| s(i, j)).collect()))
        .collect();
    lses.extend((0..n).map(|j| lse((0..n).map(|i| s(i, j)).collect())));
    let losses: Vec<f64> = (0..2 * n).map(|i| lses[i] - s(i % n, i % n)).collect();
    let mean = losses.iter().sum::<f64>() / (2 * n) as f64;
    (lses, losses, mean)
}

/// (dza, dzp) for upstream gradient g on the mean loss: dS = g/(2n) (P + Q − 2I).
fn ntxent_backward_ref(
    za: &[f64],
    zp: &[f64],
    n: usize,
    dim: usize,
    tau: f64,
    g: f64,
) -> (Vec<f64>, Vec<f64>) {
    let (lse, _, _) = ntxent_ref(za, zp, n, dim, tau);
    let (mut dza, mut dzp) = (vec![0.0; n * dim], vec![0.0; n * dim]);
    for i in 0..n {
        for j in 0..n {
            let s = (0..dim)
                .map(|d| za[i * dim + d] * zp[j * dim + d])
                .sum::<f64>()
                / tau;
            let eye = if i == j { 2.0 } else { 0.0 };
            let ds = g / (2 * n) as f64 * ((s - lse[i]).exp() + (s - lse[n + j]).exp() - eye);
            for d in 0..dim {
                dza[i * dim + d] += ds * zp[j * dim + d] / tau;
                dzp[j * dim + d] += ds * za[i * dim + d] / tau;
            }
        }
    }
    (dza, dzp)
}

#[test]
fn ntxent_reference_backward_matches_finite_differences() {
    let (n, dim, tau, g) = (3, 4, 0.5, 1.5);
    let z = wide(&normalised_rows(&random(2 * n * dim, 30), dim));
    let (dza, dzp) = ntxent_backward_ref(&z[..n * dim], &z[n * dim..], n, dim, tau, g);
    let f = |z: &[f64]| g * ntxent_ref(&z[..n * dim], &z[n * dim..], n, dim, tau).2;
    assert_gradient("ntxent", f, &z, &[dza, dzp].concat(), 1e-6);
}

#[test]
fn ntxent_forward_backward_match_the_reference() {
    let Some(gpu) = shared_gpu() else { return };
    // A batch inside one workgroup, and one whose 2n rows and n² gradient elements
    // span several workgroups and GEMM tiles.
    for (n, dim, seed) in [(4, 8, 31), (70, 16, 32)] {
        let shape = NtXent {
            n,
            hard: 0,
            dim,
            tau: 0.1,
        };
        let za = normalised_rows(&random(n * dim, seed), dim);
        // Positives near their anchors, so that the loss is not uniform.
        let zp = normalised_rows(
            &za.iter()
                .zip(random(n * dim, seed + 1))
                .map(|(a, r)| a + 0.3 * r)
                .collect::<Vec<_>>(),
            dim,
        );
        let (dza0, dzp0) = (random(n * dim, seed + 2), random(n * dim, seed + 3));
        let (gza, gzp, dloss) = (buffer(gpu, &za), buffer(gpu, &zp), buffer(gpu, &[0.75]));
        let zeros = |len: usize| buffer(gpu, &vec![0.0; len]);
        let (logits, lse, losses, loss, dlogits) = (
            zeros(n * n),
            zeros(2 * n),
            zeros(2 * n),
            zeros(1),
            zeros(n * n),
        );
        let (dza, dzp) = (buffer(gpu, &dza0), buffer(gpu, &dzp0));
        let mut batch = gpu.batch();
        ntxent_forward(
            &mut batch, &shape, &gza, &gzp, &logits, &lse, &losses, &loss,
        )
        .unwrap();
        ntxent_backward(
            &mut batch, &shape, &gza, &gzp, &logits, &lse, &dloss, &dlogits, &dza, &dzp,
        )
        .unwrap();
        batch.submit();

        let (zaw, zpw) = (wide(&za), wide(&zp));
        let (lse_ref, losses_ref, loss_ref) = ntxent_ref(&zaw, &zpw, n, dim, 0.1);
        let (dza_ref, dzp_ref) = ntxent_backward_ref(&zaw, &zpw, n, dim, 0.1, 0.75);
        let plus = |a: &[f64], b: &[f32]| {
            narrow(
                &a.iter()
                    .zip(b)
                    .map(|(a, b)| a + f64::from(*b))
                    .collect::<Vec<_>>(),
            )
        };
        let what = format!("n = {n}, dim = {dim}");
        assert_close(
            &format!("ntxent lse {what}"),
            &lse.read(gpu).unwrap(),
            &narrow(&lse_ref),
            1e-4,
        );
        assert_close(
            &format!("ntxent losses {what}"),
            &losses.read(gpu).unwrap(),
            &narrow(&losses_ref),
            1e-4,
        );
        assert_close(
            &format!("ntxent loss {what}"),
            &loss.read(gpu).unwrap(),
            &[loss_ref as f32],
            1e-4,
        );
        assert_close(
            &format!("ntxent dza {what}"),
            &dza.read(gpu).unwrap(),
            &plus(&dza_ref, &dza0),
            1e-4,
        );
        assert_close(
            &format!("ntxent dzp {what}"),
            &dzp.read(gpu).unwrap(),
            &plus(&dzp_ref, &dzp0),
            1e-4,
        );
    }
}

/// With hard negatives the kernel computes the CPU training loss
/// (`train::loss::nt_xent_forward` / `nt_xent_backward`, cross-view negatives).
#[test]
fn ntxent_with_hard_negatives_matches_the_cpu_loss() {
    use crate::train::loss::{NtXentConfig, nt_xent_backward, nt_xent_forward};
    let Some(gpu) = shared_gpu() else { return };
    let (n, hard, dim, tau) = (5, 3, 8, 0.1);
    let shape = NtXent { n, hard, dim, tau };
    let za = normalised_rows(&random(n * dim, 35), dim);
    let zph = normalised_rows(&random((n + hard) * dim, 36), dim);
    let (gza, gzph, dloss) = (buffer(gpu, &za), buffer(gpu, &zph), buffer(gpu, &[0.5]));
    let zeros = |len: usize| buffer(gpu, &vec![0.0; len]);
    let c = n + hard;
    let (logits, lse, losses, loss, dlogits) = (
        zeros(n * c),
        zeros(2 * n),
        zeros(2 * n),
        zeros(1),
        zeros(n * c),
    );
    let (dza, dzph) = (zeros(n * dim), zeros(c * dim));
    let mut batch = gpu.batch();
    ntxent_forward(
        &mut batch, &shape, &gza, &gzph, &logits, &lse, &losses, &loss,
    )
    .unwrap();
    ntxent_backward(
        &mut batch, &shape, &gza, &gzph, &logits, &lse, &dloss, &dlogits, &dza, &dzph,
    )
    .unwrap();
    batch.submit();

    let cfg = NtXentConfig {
        temperature: tau,
        same_view_negatives: false,
    };
    let (zp, zh) = zph.split_at(n * dim);
    let (want, cache) = nt_xent_forward(&za, zp, zh, n, dim, &cfg);
    let (mut wa, mut wp, mut wh) = (
        vec![0.0; n * dim],
        vec![0.0; n * dim],
        vec![0.0; hard * dim],
    );
    nt_xent_backward(&za, zp, zh, &cache, 0.5, &mut wa, &mut wp, &mut wh);
    assert_close("ntxent+hard loss", &loss.read(gpu).unwrap(), &[want], 1e-4);
    assert_close("ntxent+hard dza", &dza.read(gpu).unwrap(), &wa, 1e-4);
    assert_close(
        "ntxent+hard d[zp; zh]",
        &dzph.read(gpu).unwrap(),
        &[wp, wh].concat(),
        1e-4,
    );
}

// ---- the bucket loss L_r ----

/// b_i ∈ {−1, +1}: bit i of the key.
fn sign(key: u32, bit: usize) -> f64 {
    if key >> bit & 1 == 1 { 1.0 } else { -1.0 }
}

fn log_sigmoid(z: f64) -> f64 {
    -(1.0 + (-z).exp()).ln()
}

/// Per-item L_r by the factorised formula.
fn hash_loss_ref(qa: &[f64], qp: &[f64], keys: &[u32], bits: usize, tau: f64) -> Vec<f64> {
    let c = 2.0 / (tau * (bits as f64).sqrt());
    (0..keys.len())
        .map(|r| {
            -0.5 * (0..bits)
                .map(|i| {
                    let b = sign(keys[r], i);
                    log_sigmoid(c * qa[r * bits + i] * b) + log_sigmoid(c * qp[r * bits + i] * b)
                })
                .sum::<f64>()
        })
        .collect()
}

/// (dqa, dqp) of g · mean_r L_r.
fn hash_loss_backward_ref(
    qa: &[f64],
    qp: &[f64],
    keys: &[u32],
    bits: usize,
    tau: f64,
    g: f64,
) -> (Vec<f64>, Vec<f64>) {
    let c = 2.0 / (tau * (bits as f64).sqrt());
    let n = keys.len() as f64;
    let grad = |q: &[f64]| -> Vec<f64> {
        (0..q.len())
            .map(|at| {
                let b = sign(keys[at / bits], at % bits);
                // d/dz log σ(z) = σ(−z).
                g / n * -0.5 * c * b / (1.0 + (c * q[at] * b).exp())
            })
            .collect()
    };
    (grad(qa), grad(qp))
}

#[test]
fn factorised_bucket_softmax_equals_the_full_softmax_over_all_buckets() {
    let (bits, tau) = (4, 0.3);
    let q = wide(&normalised_rows(&random(bits, 33), bits));
    let score =
        |k: u32| (0..bits).map(|i| q[i] * sign(k, i)).sum::<f64>() / (bits as f64).sqrt() / tau;
    let log_z = (0..1u32 << bits).map(|k| score(k).exp()).sum::<f64>().ln();
    for key in 0..1u32 << bits {
        let full = score(key) - log_z;
        // hash_loss_ref with the same q for anchor and positive is −log softmax.
        let factorised = -hash_loss_ref(&q, &q, &[key], bits, tau)[0];
        assert!(
            (full - factorised).abs() < 1e-12,
            "key {key}: {full} vs {factorised}"
        );
    }
}

#[test]
fn hash_loss_reference_backward_matches_finite_differences() {
    let (n, bits, tau, g) = (3, 5, 0.2, 2.0);
    let q = wide(&random(2 * n * bits, 34));
    let keys = [0b10110, 0b00001, 0b11111];
    let (dqa, dqp) = hash_loss_backward_ref(&q[..n * bits], &q[n * bits..], &keys, bits, tau, g);
    let f = |q: &[f64]| {
        g * hash_loss_ref(&q[..n * bits], &q[n * bits..], &keys, bits, tau)
            .iter()
            .sum::<f64>()
            / n as f64
    };
    assert_gradient("hash loss", f, &q, &[dqa, dqp].concat(), 1e-6);
}

#[test]
fn hash_loss_forward_backward_match_the_reference() {
    let Some(gpu) = shared_gpu() else { return };
    for (n, bits, seed) in [(3, 8, 35), (100, 16, 36)] {
        let shape = HashLoss { n, bits, tau: 0.1 };
        let qa = normalised_rows(&random(n * bits, seed), bits);
        let qp = normalised_rows(&random(n * bits, seed + 1), bits);
        let keys: Vec<u32> = random(n, seed + 2)
            .iter()
            .map(|v| ((v + 1.0) * 65536.0) as u32 & ((1 << bits) - 1))
            .collect();
        let (dqa0, dqp0) = (random(n * bits, seed + 3), random(n * bits, seed + 4));
        let (gqa, gqp, dloss) = (buffer(gpu, &qa), buffer(gpu, &qp), buffer(gpu, &[1.25]));
        let gkeys = GpuBuffer::from_slice(gpu, &keys).unwrap();
        let (losses, loss) = (buffer(gpu, &vec![0.0; n]), buffer(gpu, &[0.0]));
        let (dqa, dqp) = (buffer(gpu, &dqa0), buffer(gpu, &dqp0));
        let mut batch = gpu.batch();
        hash_loss_forward(&mut batch, &shape, &gqa, &gqp, &gkeys, &losses, &loss).unwrap();
        hash_loss_backward(&mut batch, &shape, &gqa, &gqp, &gkeys, &dloss, &dqa, &dqp).unwrap();
        batch.submit();

        let (qaw, qpw) = (wide(&qa), wide(&qp));
        let losses_ref = hash_loss_ref(&qaw, &qpw, &keys, bits, 0.1);
        let mean = losses_ref.iter().sum::<f64>() / n as f64;
        let (dqa_ref, dqp_ref) = hash_loss_backward_ref(&qaw, &qpw, &keys, bits, 0.1, 1.25);
        let plus = |a: &[f64], b: &[f32]| {
            narrow(
                &a.iter()
                    .zip(b)
                    .map(|(a, b)| a + f64::from(*b))
                    .collect::<Vec<_>>(),
            )
        };
        let what = format!("n = {n}, bits = {bits}");
        assert_close(
            &format!("hash losses {what}"),
            &losses.read(gpu).unwrap(),
            &narrow(&losses_ref),
            1e-4,
        );
        assert_close(
            &format!("hash loss {what}"),
            &loss.read(gpu).unwrap(),
            &[mean as f32],
            1e-4,
        );
        assert_close(
            &format!("hash dqa {what}"),
            &dqa.read(gpu).unwrap(),
            &plus(&dqa_ref, &dqa0),
            1e-4,
        );
        assert_close(
            &format!("hash dqp {what}"),
            &dqp.read(gpu).unwrap(),
            &plus(&dqp_ref, &dqp0),
            1e-4,
        );
    }
}
