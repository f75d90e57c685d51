//! Benchmarks of the `earmark-kernels` search kernels, on one thread.
//!
//! - `scan/<shape>/<dtype>/<isa>`: one 128-d query against n rows (GB/s of rows read).
//!   `read/<shape>` reads the same f32 bytes with a trivial vectorised xor: the single-
//!   thread memory bandwidth measured in the same run (≈ 23–24 GB/s on a quiet machine of
//!   this kind, PLATFORM.md), to quote the scans as a fraction of it.
//! - `probe/K16_first100`: the first 100 buckets of a K = 16 query, in score order.
//! - `topk/<n>/k<k>`: the k best of 10^5 scores, in one slice or in 100-score chunks.
//! - `votes/50x100`: tallying 50 query segments × 100 matches.
//!
//! The machine is shared: compare ratios from one run, not absolute times.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use earmark_kernels::Isa;
use earmark_kernels::dot::{
    quantize_i8, quantize_query_i16, scan_f16_with, scan_f32_with, scan_i8_with,
};
use earmark_kernels::half::f32_to_f16_slice;
use earmark_kernels::probe::{Probe, ProbeSlot, slots_for};
use earmark_kernels::topk::{TopK, top_k};
use earmark_kernels::votes::{Candidate, Match, VoteTally};

/// Embedding size (DESIGN.md: e ∈ S^127).
const D: usize = 128;

/// Scan shapes: (name, rows). 1024 × 128 f32 = 512 KiB stays in L2/L3; 10^6 × 128 f32 =
/// 512 MB (f16 256 MB, i8 128 MB) is far larger than any cache.
const SCAN_SHAPES: [(&str, usize); 2] = [("1k_in_cache", 1024), ("1m_out_of_cache", 1_000_000)];

/// Scores for top-k (an index scan over ~10^5 candidates).
const TOPK_SCORES: usize = 100_000;

/// Buckets probed per query segment in the probe bench.
const PROBE_BUCKETS: usize = 100;

/// A deterministic value in [−1, 1) from an integer (a 32-bit mix, no dependencies).
fn pseudo(i: usize) -> f32 {
    let mut x = (i as u32).wrapping_mul(0x9e37_79b9) ^ 0x85eb_ca6b;
    x ^= x >> 15;
    x = x.wrapping_mul(0x2c1b_3c6d);
    x ^= x >> 12;
    (x >> 8) as f32 / (1u32 << 23) as f32 - 1.0
}

fn bench_scans(c: &mut Criterion) {
    let query: Vec<f32> = (0..D).map(|i| pseudo(i + 7)).collect();
    for (shape, rows) in SCAN_SHAPES {
        let db: Vec<f32> = (0..rows * D).map(pseudo).collect();
        let mut db16 = vec![0u16; db.len()];
        f32_to_f16_slice(&db, &mut db16);
        let mut db8 = vec![0i8; db.len()];
        let scales: Vec<f32> = db
            .chunks_exact(D)
            .zip(db8.chunks_exact_mut(D))
            .map(|(row, q)| quantize_i8(row, q))
            .collect();
        let mut query16 = [0i16; D];
        let query_scale = quantize_query_i16(&query, &mut query16);
        let mut out = vec![0.0f32; rows];

        let mut group = c.benchmark_group(format!("scan/{shape}"));
        if rows > 100_000 {
            group.sample_size(10).warm_up_time(Duration::from_secs(1));
        }
        group.throughput(Throughput::BytesDecimal((db.len() * 4) as u64));
        group.bench_function("read_f32_bytes", |b| {
            b.iter(|| black_box(&db).iter().fold(0u32, |acc, x| acc ^ x.to_bits()))
        });
        for isa in Isa::available() {
            group.throughput(Throughput::BytesDecimal((db.len() * 4) as u64));
            group.bench_function(format!("f32/{}", isa.name()), |b| {
                b.iter(|| scan_f32_with(isa, black_box(&query), black_box(&db), &mut out))
            });
            group.throughput(Throughput::BytesDecimal((db16.len() * 2) as u64));
            group.bench_function(format!("f16/{}", isa.name()), |b| {
                b.iter(|| scan_f16_with(isa, black_box(&query), black_box(&db16), &mut out))
            });
            group.throughput(Throughput::BytesDecimal(
                (db8.len() + scales.len() * 4) as u64,
            ));
            group.bench_function(format!("i8/{}", isa.name()), |b| {
                b.iter(|| {
                    scan_i8_with(
                        isa,
                        black_box(&query16),
                        query_scale,
                        black_box(&db8),
                        &scales,
                        &mut out,
                    )
                })
            });
        }
        group.finish();
    }
}

fn bench_probe(c: &mut Criterion) {
    let logits: Vec<f32> = (0..16).map(|i| pseudo(i + 1000)).collect();
    let mut group = c.benchmark_group("probe");
    group.throughput(Throughput::Elements(PROBE_BUCKETS as u64));
    group.bench_function("K16_first100", |b| {
        let mut storage = [ProbeSlot::EMPTY; slots_for(PROBE_BUCKETS)];
        b.iter(|| {
            let probe = Probe::new(black_box(&logits), &mut storage);
            probe
                .take(PROBE_BUCKETS)
                .fold(0u32, |acc, (key, _)| acc ^ key)
        })
    });
    group.finish();
}

fn bench_top_k(c: &mut Criterion) {
    let scores: Vec<f32> = (0..TOPK_SCORES).map(pseudo).collect();
    let mut group = c.benchmark_group(format!("topk/{TOPK_SCORES}"));
    group.throughput(Throughput::Elements(TOPK_SCORES as u64));
    for k in [10, 100] {
        let mut buffer = vec![(0.0f32, 0u32); k];
        group.bench_function(format!("k{k}"), |b| {
            b.iter(|| top_k(black_box(&scores), &mut buffer))
        });
        group.bench_function(format!("k{k}_chunks100"), |b| {
            b.iter(|| {
                let mut top = TopK::new(&mut buffer);
                for (i, chunk) in black_box(&scores).chunks(100).enumerate() {
                    top.push_scores(chunk, (i * 100) as u32);
                }
                top.into_sorted().len()
            })
        });
    }
    group.finish();
}

fn bench_votes(c: &mut Criterion) {
    let (segments, per_segment) = (50usize, 100usize);
    let matches: Vec<Vec<Match>> = (0..segments)
        .map(|o| {
            (0..per_segment)
                .map(|m| {
                    let i = o * per_segment + m;
                    Match {
                        track: (i % 37) as u32,
                        segment: (i % 500) as u32,
                        similarity: pseudo(i),
                    }
                })
                .collect()
        })
        .collect();
    let mut buffer = vec![Candidate::EMPTY; segments * per_segment];
    let mut group = c.benchmark_group("votes");
    group.throughput(Throughput::Elements((segments * per_segment) as u64));
    group.bench_function(format!("{segments}x{per_segment}"), |b| {
        b.iter(|| {
            let mut tally = VoteTally::new(&mut buffer);
            for (o, m) in black_box(&matches).iter().enumerate() {
                tally.add(o as u32, m);
            }
            tally.tally()[0].votes
        })
    });
    group.finish();
}

criterion_group!(benches, bench_scans, bench_probe, bench_top_k, bench_votes);
criterion_main!(benches);
