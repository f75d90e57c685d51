//! The factored solver against the dense oracle; marginals at convergence; how evenly the
//! balanced assignment fills buckets compared with plain argmax.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn gaussian(rng: &mut StdRng) -> f32 {
    // Box–Muller; 1 − u keeps the logarithm finite.
    let (u, v): (f32, f32) = (rng.random(), rng.random());
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

fn normalise(rows: &mut [f32], bits: usize) {
    for r in rows.chunks_mut(bits) {
        let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        r.iter_mut().for_each(|x| *x /= n);
    }
}

/// Isotropic unit codes: what an untrained, uncollapsed hash head produces.
fn isotropic(rng: &mut StdRng, n: usize, bits: usize) -> Vec<f32> {
    let mut q: Vec<f32> = (0..n * bits).map(|_| gaussian(rng)).collect();
    normalise(&mut q, bits);
    q
}

/// Codes around a few centres: the collapsed regime that balancing must undo.
fn clustered(rng: &mut StdRng, n: usize, bits: usize, centres: usize) -> Vec<f32> {
    let c: Vec<f32> = (0..centres * bits).map(|_| gaussian(rng)).collect();
    let mut q = Vec::with_capacity(n * bits);
    for _ in 0..n {
        let k = rng.random_range(0..centres);
        q.extend((0..bits).map(|i| c[k * bits + i] + 0.3 * gaussian(rng)));
    }
    normalise(&mut q, bits);
    q
}

fn max_abs_diff(x: &[f32], y: &[f32]) -> f32 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

fn cfg(iterations: usize, marginal: BucketMarginal) -> SinkhornConfig {
    SinkhornConfig {
        epsilon: 0.05,
        iterations,
        marginal,
    }
}

#[test]
fn factored_potentials_equal_dense_at_every_iteration() {
    let mut rng = StdRng::seed_from_u64(21);
    // (K, N): odd and even K, tiny K, N ≈ 2^K and N ≪ 2^K.
    for (bits, n) in [
        (1, 3),
        (2, 5),
        (3, 8),
        (7, 128),
        (7, 9),
        (8, 256),
        (10, 1024),
        (10, 40),
    ] {
        let q = if n % 2 == 0 {
            clustered(&mut rng, n, bits, 3)
        } else {
            isotropic(&mut rng, n, bits)
        };
        for marginal in [BucketMarginal::Uniform, BucketMarginal::Capacity] {
            for iterations in 1..=3 {
                let c = cfg(iterations, marginal);
                let (fast, dense) = (
                    sinkhorn_factored(&q, bits, &c),
                    sinkhorn_dense(&q, bits, &c),
                );
                let (du, dv) = (
                    max_abs_diff(&fast.u, &dense.u),
                    max_abs_diff(&fast.v, &dense.v),
                );
                assert!(
                    du < 2e-5 && dv < 2e-5,
                    "K={bits} N={n} {marginal:?} it={iterations}: |Δu| {du}, |Δv| {dv}"
                );
            }
        }
    }
}

/// Row and column sums of the plan, scaled so that the targets are 1.
fn marginals(q: &[f32], p: &Potentials) -> (Vec<f64>, Vec<f64>) {
    let plan = plan_dense(q, p);
    let (n, buckets) = (p.u.len(), p.v.len());
    let rows = plan
        .chunks_exact(buckets)
        .map(|r| r.iter().sum::<f64>() * n as f64)
        .collect();
    let mut cols = vec![0.0; buckets];
    for r in plan.chunks_exact(buckets) {
        cols.iter_mut()
            .zip(r)
            .for_each(|(c, x)| *c += x * buckets as f64);
    }
    (rows, cols)
}

#[test]
fn converged_plans_meet_their_marginals() {
    let mut rng = StdRng::seed_from_u64(22);
    let bits = 8;
    // N < 2^K with slack (200) and N ≪ 2^K (24).
    for n in [200, 24] {
        let q = clustered(&mut rng, n, bits, 4);
        for marginal in [BucketMarginal::Uniform, BucketMarginal::Capacity] {
            let c = cfg(150, marginal);
            for p in [
                sinkhorn_factored(&q, bits, &c),
                sinkhorn_dense(&q, bits, &c),
            ] {
                let (rows, cols) = marginals(&q, &p);
                let row_err = rows.iter().map(|r| (r - 1.0).abs()).fold(0.0, f64::max);
                assert!(
                    row_err < 1e-3,
                    "N={n} {marginal:?}: item marginal off by {row_err}"
                );
                // Column targets relative to 1/2^K: 1 (uniform) or the capacity share.
                let cap = n.div_ceil(1 << bits) as f64 * (1 << bits) as f64 / n as f64;
                for (k, col) in cols.iter().enumerate() {
                    match marginal {
                        BucketMarginal::Uniform => {
                            assert!((col - 1.0).abs() < 1e-3, "bucket {k}: {col}")
                        }
                        BucketMarginal::Capacity => {
                            assert!(*col < cap * (1.0 + 1e-3), "bucket {k}: {col} > {cap}")
                        }
                    }
                }
                if marginal == BucketMarginal::Capacity {
                    // The clustered codes must have saturated some bucket, or the test
                    // would not exercise the constraint.
                    assert!(
                        cols.iter().any(|c| *c > cap * (1.0 - 1e-3)),
                        "N={n}: no bucket at capacity"
                    );
                }
            }
        }
    }
}

#[test]
fn capacity_without_slack_is_the_uniform_problem() {
    let mut rng = StdRng::seed_from_u64(23);
    let (bits, n) = (6, 128); // N = 2 · 2^K: capacity 2/N = 1/2^K, an equality.
    let q = clustered(&mut rng, n, bits, 3);
    let uni = sinkhorn_factored(&q, bits, &cfg(3, BucketMarginal::Uniform));
    let cap = sinkhorn_factored(&q, bits, &cfg(3, BucketMarginal::Capacity));
    assert_eq!(uni, cap);
}

#[test]
fn factored_assignment_equals_dense_on_the_same_potentials() {
    let mut rng = StdRng::seed_from_u64(24);
    for (bits, n) in [(1, 4), (5, 32), (8, 256), (9, 60)] {
        let q = clustered(&mut rng, n, bits, 3);
        let p = sinkhorn_dense(&q, bits, &cfg(3, BucketMarginal::Uniform));
        let (fast, dense) = (assign_factored(&q, &p), assign_dense(&q, &p));
        // Exact agreement, except where f32 and f64 rounding reorder a near-tie.
        let l = super::dense::scaled_scores(&q, bits, p.epsilon);
        let buckets = 1 << bits;
        for (i, (&f, &d)) in fast.iter().zip(&dense).enumerate() {
            let value = |k: u32| l[i * buckets + k as usize] + p.v[k as usize] as f64;
            assert!(
                f == d || (value(d) - value(f)).abs() < 1e-4,
                "K={bits} item {i}: {f} vs {d}"
            );
        }
        assert!(fast.iter().zip(&dense).filter(|(f, d)| f == d).count() * 100 >= 99 * n);
    }
}

#[test]
fn without_potentials_the_assignment_is_the_sign_bucket() {
    let mut rng = StdRng::seed_from_u64(25);
    let bits = 9;
    let q = isotropic(&mut rng, 50, bits);
    let p = Potentials {
        bits,
        epsilon: 0.05,
        u: vec![0.0; 50],
        v: vec![0.0; 1 << bits],
    };
    let want: Vec<u32> = q.chunks(bits).map(sign_bucket).collect();
    assert_eq!(assign_factored(&q, &p), want);
    assert_eq!(assign_dense(&q, &p), want);
}

/// Plain argmax (sign(q)) against the balanced assignment, on random codes.
#[test]
fn balanced_assignment_fills_buckets_more_evenly_than_argmax() {
    let mut rng = StdRng::seed_from_u64(26);
    let bits = 8;
    // N = 200 < 2^K = 256, so that `Capacity` keeps slack and differs from `Uniform`.
    let (batch, n) = (64, 200);
    for (kind, q) in [
        ("clustered", clustered(&mut rng, n, bits, 4)),
        ("isotropic", isotropic(&mut rng, n, bits)),
    ] {
        // The first 64 rows are the batch, the rest the queue; the statistics are over all
        // N items so that they are not dominated by sampling noise.
        let mut queue = HashQueue::new(bits, n - batch);
        queue.push(&q[batch * bits..]);
        let plain = bucket_load(&q.chunks(bits).map(sign_bucket).collect::<Vec<_>>());
        for marginal in [BucketMarginal::Uniform, BucketMarginal::Capacity] {
            let c = cfg(3, marginal);
            let p = sinkhorn_factored(&q, bits, &c);
            let balanced = bucket_load(&assign_factored(&q, &p));
            // The convenience wrapper gives the batch rows the same buckets.
            assert_eq!(
                balanced_assignment(&q[..batch * bits], &queue, &c),
                assign_factored(&q[..batch * bits], &p)
            );
            eprintln!("{kind} {marginal:?}: argmax {plain:?} -> balanced {balanced:?}");
            assert!(
                balanced.entropy_bits > plain.entropy_bits,
                "{kind} {marginal:?}"
            );
            assert!(balanced.max_load <= plain.max_load, "{kind} {marginal:?}");
            if kind == "clustered" {
                assert!(
                    balanced.distinct >= 2 * plain.distinct,
                    "{kind} {marginal:?}"
                );
                assert!(
                    2 * balanced.max_load <= plain.max_load,
                    "{kind} {marginal:?}"
                );
            }
        }
    }
}

#[test]
fn sign_bucket_is_the_best_scoring_bucket() {
    let q = [0.5f32, -0.1, 0.0, 0.8];
    let k = sign_bucket(&q);
    assert_eq!(k, 0b1101, "q_i = 0 maps to +1, as in the index");
    let score = |b: u32| {
        q.iter()
            .enumerate()
            .map(|(i, x)| x * bit_sign(b, i))
            .sum::<f32>()
    };
    assert!((0..16).all(|b| score(b) <= score(k)));
}

#[test]
fn bucket_load_counts_occupancy() {
    let load = bucket_load(&[3, 1, 3, 3, 7]);
    assert_eq!((load.distinct, load.max_load), (3, 3));
    let want = -(0.6f64 * 0.6f64.log2() + 2.0 * 0.2 * 0.2f64.log2());
    assert!((load.entropy_bits - want).abs() < 1e-12);
}

#[test]
fn config_validation_rejects_bad_settings() {
    let ok = SinkhornConfig::default();
    assert!(ok.validate(16).is_ok() && ok.validate(1).is_ok() && ok.validate(MAX_BITS).is_ok());
    assert!(ok.validate(0).is_err() && ok.validate(MAX_BITS + 1).is_err());
    assert!(
        SinkhornConfig {
            iterations: 0,
            ..ok
        }
        .validate(16)
        .is_err()
    );
    assert!(
        SinkhornConfig {
            epsilon: 0.02,
            ..ok
        }
        .validate(16)
        .is_err()
    );
    assert!(
        SinkhornConfig {
            epsilon: f32::NAN,
            ..ok
        }
        .validate(16)
        .is_err()
    );
    assert!((SinkhornConfig::min_epsilon(16) - 0.02357).abs() < 1e-4);
}

#[test]
#[should_panic(expected = "expected 1")]
fn solver_rejects_non_unit_rows() {
    sinkhorn_factored(&[1.0, 1.0], 2, &SinkhornConfig::default());
}
