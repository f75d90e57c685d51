//! Benchmarks of the `earmark-kernels` search kernels, on one thread.
//!
//! - `scan/<shape>/<rows>/<isa>`: one 128-d query against n rows (GB/s of rows read).
//!   `scan/<shape>/read_f32_bytes` reads the f32 rows with a vectorised xor (two streams): the
//!   single-thread memory bandwidth measured in the same run (≈ 23–24 GB/s on a quiet
//!   machine of this kind, PLATFORM.md), to quote the scans as a fraction of it.
//! - `probe/{heap,split}/K16_first<n>`: the first n buckets of a K = 16 query in score order,
//!   by the heap enumeration (`Probe`) and the split one (`SplitProbe`), n = 32 … 2048.
//! - `topk/<n>/k<k>`: the k best of 10^5 scores, in one slice or in 100-score chunks.
//! - `votes/50x100`: tallying 50 query segments × 100 matches.
//!
//! The machine is shared: compare ratios from one run, not absolute times. Because
//! criterion measures one function after another, neighbours' load drifts between them;
//! the out-of-cache scans are therefore also timed interleaved with the plain read
//! (`RATIO_ROUNDS` rounds, each timing the read and every scan once) and the median of
//! each scan's rate over the read's rate is printed first.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use earmark_kernels::Isa;
use earmark_kernels::dot::{
    quantize_i8, quantize_query_i16, scan_f16_with, scan_f32_with, scan_i8_with,
};
use earmark_kernels::half::f32_to_f16_slice;
use earmark_kernels::probe::{Probe, ProbeSlot, SplitProbe, SplitSlot, slots_for, split_slots_for};
use earmark_kernels::topk::{TopK, top_k};
use earmark_kernels::votes::{Candidate, Match, VoteTally};

/// Embedding size (DESIGN.md: e ∈ S^127).
const D: usize = 128;

/// Scan shapes: (name, rows). 1024 × 128 f32 = 512 KiB stays in L2/L3; 10^6 × 128 f32 =
/// 512 MB (f16 256 MB, i8 128 MB) is far larger than any cache.
const SCAN_SHAPES: [(&str, usize); 2] = [("1k_in_cache", 1024), ("1m_out_of_cache", 1_000_000)];

/// Scores for top-k (an index scan over ~10^5 candidates).
const TOPK_SCORES: usize = 100_000;

/// Buckets probed per query segment in the probe bench (LSH probes a few dozen per table,
/// the hash table hundreds to thousands).
const PROBE_BUCKETS: [usize; 4] = [32, 256, 1024, 2048];

/// Rounds of the interleaved read-vs-scan timing.
const RATIO_ROUNDS: usize = 11;

/// A deterministic value in [−1, 1) from an integer (a 32-bit mix, no dependencies).
fn pseudo(i: usize) -> f32 {
    let mut x = (i as u32).wrapping_mul(0x9e37_79b9) ^ 0x85eb_ca6b;
    x ^= x >> 15;
    x = x.wrapping_mul(0x2c1b_3c6d);
    x ^= x >> 12;
    (x >> 8) as f32 / (1u32 << 23) as f32 - 1.0
}

/// The row types a scan reads.
#[derive(Clone, Copy)]
enum Rows {
    F32,
    F16,
    I8,
}

impl Rows {
    const ALL: [Rows; 3] = [Rows::F32, Rows::F16, Rows::I8];

    fn name(self) -> &'static str {
        match self {
            Rows::F32 => "f32",
            Rows::F16 => "f16",
            Rows::I8 => "i8",
        }
    }
}

/// One query and n database rows of d = 128 in every stored form.
struct ScanData {
    query: Vec<f32>,
    query16: Vec<i16>,
    query_scale: f32,
    db: Vec<f32>,
    db16: Vec<u16>,
    db8: Vec<i8>,
    scales: Vec<f32>,
}

impl ScanData {
    fn new(rows: usize) -> ScanData {
        let query: Vec<f32> = (0..D).map(|i| pseudo(i + 7)).collect();
        let mut query16 = vec![0i16; D];
        let query_scale = quantize_query_i16(&query, &mut query16);
        let db: Vec<f32> = (0..rows * D).map(pseudo).collect();
        let mut db16 = vec![0u16; db.len()];
        f32_to_f16_slice(&db, &mut db16);
        let mut db8 = vec![0i8; db.len()];
        let scales = db
            .chunks_exact(D)
            .zip(db8.chunks_exact_mut(D))
            .map(|(row, q)| quantize_i8(row, q))
            .collect();
        ScanData {
            query,
            query16,
            query_scale,
            db,
            db16,
            db8,
            scales,
        }
    }

    /// Bytes one scan reads (rows, plus the scales for i8).
    fn bytes(&self, rows: Rows) -> u64 {
        let bytes = match rows {
            Rows::F32 => self.db.len() * 4,
            Rows::F16 => self.db16.len() * 2,
            Rows::I8 => self.db8.len() + self.scales.len() * 4,
        };
        bytes as u64
    }

    fn scan(&self, rows: Rows, isa: Isa, out: &mut [f32]) {
        match rows {
            Rows::F32 => scan_f32_with(isa, &self.query, black_box(&self.db), out),
            Rows::F16 => scan_f16_with(isa, &self.query, black_box(&self.db16), out),
            Rows::I8 => scan_i8_with(
                isa,
                &self.query16,
                self.query_scale,
                black_box(&self.db8),
                &self.scales,
                out,
            ),
        }
    }

    /// A plain read of the f32 rows, the bandwidth reference: XOR of their bits into 16
    /// independent lanes, from two streams (the two halves of the rows) like the scans'
    /// two adjacent rows, so that both get the same help from the hardware prefetcher.
    fn read(&self) -> u32 {
        let db = black_box(&self.db);
        let (first, second) = db.split_at(db.len() / 2 / 8 * 8);
        let mut lanes = [0u32; 16];
        for (a, b) in first.chunks_exact(8).zip(second.chunks_exact(8)) {
            for (lane, x) in lanes.iter_mut().zip(a.iter().chain(b)) {
                *lane ^= x.to_bits();
            }
        }
        // The values not covered by the loop: second's tail beyond first's length.
        let covered = first.len() - first.len() % 8;
        let rest = &second[covered..];
        let folded = lanes.iter().fold(0, |a, b| a ^ b);
        rest.iter().fold(folded, |a, x| a ^ x.to_bits())
    }
}

/// Seconds taken by `f`.
fn seconds(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

/// Prints, for each SIMD scan, the median over [`RATIO_ROUNDS`] of (scan GB/s) / (read
/// GB/s), each round timing the read and then every scan once.
fn print_interleaved_ratios(shape: &str, data: &ScanData, out: &mut [f32]) {
    let scans: Vec<(Rows, Isa)> = Isa::available()
        .filter(|&isa| isa != Isa::Scalar)
        .flat_map(|isa| Rows::ALL.map(|rows| (rows, isa)))
        .collect();
    let mut ratios = vec![Vec::new(); scans.len()];
    let mut read_rates = Vec::new();
    for _ in 0..RATIO_ROUNDS {
        let read_rate = data.bytes(Rows::F32) as f64
            / seconds(|| {
                black_box(data.read());
            });
        read_rates.push(read_rate);
        for (&(rows, isa), ratios) in scans.iter().zip(&mut ratios) {
            let rate = data.bytes(rows) as f64 / seconds(|| data.scan(rows, isa, out));
            ratios.push(rate / read_rate);
        }
    }
    let median = |xs: &mut Vec<f64>| {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    println!(
        "scan/{shape}: plain read {:.1} GB/s (median of {RATIO_ROUNDS}); scan GB/s ÷ read GB/s, interleaved:",
        median(&mut read_rates) / 1e9
    );
    for (&(rows, isa), ratios) in scans.iter().zip(&mut ratios) {
        println!("  {}/{}: {:.2}", rows.name(), isa.name(), median(ratios));
    }
}

fn bench_scans(c: &mut Criterion) {
    for (shape, rows) in SCAN_SHAPES {
        let data = ScanData::new(rows);
        let mut out = vec![0.0f32; rows];
        let out_of_cache = rows > 100_000;
        if out_of_cache {
            print_interleaved_ratios(shape, &data, &mut out);
        }
        let mut group = c.benchmark_group(format!("scan/{shape}"));
        if out_of_cache {
            group.sample_size(10).warm_up_time(Duration::from_secs(1));
        }
        group.throughput(Throughput::BytesDecimal(data.bytes(Rows::F32)));
        group.bench_function("read_f32_bytes", |b| b.iter(|| data.read()));
        for isa in Isa::available() {
            for kind in Rows::ALL {
                group.throughput(Throughput::BytesDecimal(data.bytes(kind)));
                group.bench_function(format!("{}/{}", kind.name(), isa.name()), |b| {
                    b.iter(|| data.scan(kind, isa, &mut out))
                });
            }
        }
        group.finish();
    }
}

fn bench_probe(c: &mut Criterion) {
    let logits: Vec<f32> = (0..16).map(|i| pseudo(i + 1000)).collect();
    let mut group = c.benchmark_group("probe");
    for n in PROBE_BUCKETS {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("heap/K16_first{n}"), |b| {
            let mut storage = vec![ProbeSlot::EMPTY; slots_for(n)];
            b.iter(|| {
                let probe = Probe::new(black_box(&logits), &mut storage);
                probe.take(n).fold(0u32, |acc, (key, _)| acc ^ key)
            })
        });
        group.bench_function(format!("split/K16_first{n}"), |b| {
            let mut storage = vec![SplitSlot::EMPTY; split_slots_for(16)];
            b.iter(|| {
                let probe = SplitProbe::new(black_box(&logits), &mut storage);
                probe.take(n).fold(0u32, |acc, (key, _)| acc ^ key)
            })
        });
    }
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
