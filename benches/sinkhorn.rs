//! The balanced assignment (factored Sinkhorn vs the dense oracle) and the losses'
//! forward + backward, at training sizes.
//!
//! `cargo bench --no-default-features --bench sinkhorn`. Budget: a `small` training step of
//! 256 pairs takes ~0.3–0.5 s on 2 cores; the assignment should stay ≤ 15 % (~50 ms).
//! Throughput for the solvers is in kernel entries N · 2^K per bucket/item pass.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use earmark::train::loss::{
    NtXentConfig, balanced_hash_backward, balanced_hash_forward, nt_xent_backward, nt_xent_forward,
};
use earmark::train::sinkhorn::{
    BucketMarginal, SinkhornConfig, assign_dense, assign_factored, bucket_load, sign_bucket,
    sinkhorn_dense, sinkhorn_factored,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Batch size of a `small` training step (pairs).
const BATCH: usize = 256;
/// Queue lengths measured: none, 4 batches, 15 batches (SwAV's 3840).
const QUEUES: [usize; 3] = [0, 1024, 3840];

fn gaussian(rng: &mut StdRng) -> f32 {
    let (u, v): (f32, f32) = (rng.random(), rng.random());
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

/// Unit rows; with `centres > 0` drawn around that many random centres (collapsed codes).
fn unit_rows(rng: &mut StdRng, n: usize, dim: usize, centres: usize) -> Vec<f32> {
    let c: Vec<f32> = (0..centres.max(1) * dim).map(|_| gaussian(rng)).collect();
    let mut x = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let k = rng.random_range(0..centres.max(1));
        let (base, noise) = if centres > 0 { (1.0, 0.3) } else { (0.0, 1.0) };
        x.extend((0..dim).map(|i| base * c[k * dim + i] + noise * gaussian(rng)));
    }
    for r in x.chunks_mut(dim) {
        let n = r.iter().map(|v| v * v).sum::<f32>().sqrt();
        r.iter_mut().for_each(|v| *v /= n);
    }
    x
}

fn passes(cfg: &SinkhornConfig) -> u64 {
    2 * cfg.iterations as u64 - 1
}

/// The assignment of a batch of 256 against a queue at K = 16: factored and dense.
fn assignment_k16(c: &mut Criterion) {
    let bits = 16;
    let cfg = SinkhornConfig::default();
    let mut rng = StdRng::seed_from_u64(1);
    let mut g = c.benchmark_group("assign_k16");
    g.sample_size(10);
    for queue in QUEUES {
        let n = BATCH + queue;
        let q = unit_rows(&mut rng, n, bits, 0);
        g.throughput(Throughput::Elements(passes(&cfg) * ((n as u64) << bits)));
        g.bench_with_input(BenchmarkId::new("factored", n), &q, |b, q| {
            b.iter(|| {
                let p = sinkhorn_factored(black_box(q), bits, &cfg);
                assign_factored(&q[..BATCH * bits], &p)
            })
        });
    }
    // The dense oracle only without a queue: N · 2^K f64 exponentials per pass.
    let q = unit_rows(&mut rng, BATCH, bits, 0);
    g.bench_function(BenchmarkId::new("dense", BATCH), |b| {
        b.iter(|| {
            let p = sinkhorn_dense(black_box(&q), bits, &cfg);
            assign_dense(&q, &p)
        })
    });
    g.finish();
}

/// Cost growth of the factored solver with K (queue 1024) and with the iteration count.
fn factored_growth(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let mut g = c.benchmark_group("factored_growth");
    g.sample_size(10);
    let n = BATCH + 1024;
    for bits in [10, 12, 14, 16, 18] {
        let cfg = SinkhornConfig::default();
        let q = unit_rows(&mut rng, n, bits, 0);
        g.throughput(Throughput::Elements(passes(&cfg) * ((n as u64) << bits)));
        g.bench_with_input(BenchmarkId::new("bits_n1280", bits), &q, |b, q| {
            b.iter(|| {
                assign_factored(
                    &q[..BATCH * bits],
                    &sinkhorn_factored(black_box(q), bits, &cfg),
                )
            })
        });
    }
    let bits = 16;
    let q = unit_rows(&mut rng, n, bits, 0);
    for iterations in [1, 3, 5] {
        let cfg = SinkhornConfig {
            iterations,
            ..SinkhornConfig::default()
        };
        g.throughput(Throughput::Elements(passes(&cfg) * ((n as u64) << bits)));
        g.bench_with_input(
            BenchmarkId::new("iters_k16_n1280", iterations),
            &q,
            |b, q| {
                b.iter(|| {
                    assign_factored(
                        &q[..BATCH * bits],
                        &sinkhorn_factored(black_box(q), bits, &cfg),
                    )
                })
            },
        );
    }
    g.finish();
}

/// L_c (D = 128, with and without same-view and 256 hard negatives), L_h (D = K = 16) and
/// L_r, forward + backward at B = 256.
fn losses(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(3);
    let mut g = c.benchmark_group("loss_fwd_bwd_b256");
    for (name, dim, hard, same) in [
        ("nt_xent_d128", 128, 0, false),
        ("nt_xent_d128_same_view", 128, 0, true),
        ("nt_xent_d128_hard256", 128, 256, false),
        ("nt_xent_d16", 16, 0, false),
    ] {
        let (a, p, h) = (
            unit_rows(&mut rng, BATCH, dim, 0),
            unit_rows(&mut rng, BATCH, dim, 0),
            unit_rows(&mut rng, hard, dim, 0),
        );
        let cfg = NtXentConfig {
            same_view_negatives: same,
            ..NtXentConfig::default()
        };
        let (mut da, mut dp, mut dh) = (vec![0.0; a.len()], vec![0.0; p.len()], vec![0.0; h.len()]);
        g.bench_function(name, |b| {
            b.iter(|| {
                let (loss, cache) = nt_xent_forward(black_box(&a), &p, &h, BATCH, dim, &cfg);
                nt_xent_backward(&a, &p, &h, &cache, 1.0, &mut da, &mut dp, &mut dh);
                loss
            })
        });
    }
    let bits = 16;
    let (qx, qp) = (
        unit_rows(&mut rng, BATCH, bits, 0),
        unit_rows(&mut rng, BATCH, bits, 0),
    );
    let targets: Vec<u32> = qx.chunks(bits).map(sign_bucket).collect();
    let (mut dx, mut dp) = (vec![0.0; qx.len()], vec![0.0; qp.len()]);
    g.bench_function("balanced_hash_k16", |b| {
        b.iter(|| {
            let (loss, cache) = balanced_hash_forward(black_box(&qx), &qp, &targets, bits, 0.1);
            balanced_hash_backward(&cache, 1.0, &mut dx, &mut dp);
            loss
        })
    });
    g.finish();
}

/// Not a timing: how evenly the K = 16 assignment fills buckets (batch + queue 3840),
/// against plain argmax, printed once.
fn report_balance(_: &mut Criterion) {
    let bits = 16;
    let mut rng = StdRng::seed_from_u64(4);
    for (kind, centres) in [("isotropic", 0), ("clustered(8)", 8)] {
        let q = unit_rows(&mut rng, BATCH + 3840, bits, centres);
        let plain = bucket_load(&q.chunks(bits).map(sign_bucket).collect::<Vec<_>>());
        println!("balance K=16 N=4096 {kind}: argmax {plain:?}");
        for marginal in [BucketMarginal::Uniform, BucketMarginal::Capacity] {
            let cfg = SinkhornConfig {
                marginal,
                ..SinkhornConfig::default()
            };
            let t = Instant::now();
            let p = sinkhorn_factored(&q, bits, &cfg);
            let k = assign_factored(&q, &p);
            let moved = k
                .iter()
                .zip(q.chunks(bits))
                .filter(|(k, q)| **k != sign_bucket(q))
                .count();
            println!(
                "    {marginal:?}: {:?}, {:.0} % of items moved off sign(q) ({:.1} ms incl. assigning all N)",
                bucket_load(&k),
                100.0 * moved as f64 / k.len() as f64,
                t.elapsed().as_secs_f64() * 1e3
            );
        }
    }
}

criterion_group!(
    benches,
    report_balance,
    assignment_k16,
    factored_growth,
    losses
);
criterion_main!(benches);
