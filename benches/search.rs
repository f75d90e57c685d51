//! Search speed and effort: the hash table (ours) at several probe budgets, p-stable LSH
//! at two settings, and the exhaustive scan, on one generated library.
//!
//! Library: 200 tracks × 1000 segments = 2·10^5 rows (5.6 h at a 100 ms hop), D = 128,
//! f16, K = 16 (65 536 buckets, ≈ 3 rows each). Embeddings from `earmark::index::synth`;
//! hash logits are a random projection of the embedding, so that buckets mean something
//! (sign random projections; learned hash codes should do better). Queries: 32 × 2 s
//! (11 segments) cut at starts off the grid, noise of norm 0.8 on each unit embedding
//! (cosine ≈ 0.78 to the true segment).
//!
//! Before timing, each setting prints its eval% (rows scored per query segment / rows),
//! segment recall (share of query segments whose best match is the exhaustive search's),
//! top-1 hit rate (right track, start within ±50 ms) and mean start error; the
//! exhaustive search also runs without the sub-grid refinement, to show what it does. Criterion reports time per
//! query segment (throughput in elements = query segments).
//!
//! `cargo bench --no-default-features --features earmark-kernels/std --bench search`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use earmark::index::synth::{Synth, SynthConfig};
use earmark::index::{
    Library, LibraryBuilder, LibraryConfig, LshParams, Method, Query, SearchSettings, Searcher,
};

/// The library's shape.
const TRACKS: usize = 200;
const SEGMENTS_PER_TRACK: usize = 1000;
const K: usize = 16;
/// Queries and their length in segments (2 s of audio at a 100 ms hop).
const QUERIES: usize = 32;
const QUERY_SEGMENTS: usize = 11;
/// Noise norm on each unit query embedding: cosine ≈ 0.78 to the true segment, hard
/// enough that the settings differ in hit rate.
const NOISE: f32 = 0.8;

/// One query with its ground truth.
struct Case {
    embeddings: Vec<f32>,
    logits: Vec<f32>,
    track: usize,
    start: f64,
}

fn generate() -> (Library, Vec<Case>) {
    let synth = Synth::new(SynthConfig {
        k: K,
        ..SynthConfig::default()
    });
    let mut builder = LibraryBuilder::new(LibraryConfig::new(0xbe_4c4, K as u32));
    let mut tracks = Vec::with_capacity(TRACKS);
    for t in 0..TRACKS {
        let e = synth.track(SEGMENTS_PER_TRACK, t as u64);
        let q = synth.logits(&e);
        let duration = 0.9 + 0.1 * SEGMENTS_PER_TRACK as f64;
        builder
            .add_track(&format!("t{t}.flac"), duration, t as u64, &e, &q)
            .expect("add");
        tracks.push(e);
    }
    let cases = (0..QUERIES)
        .map(|i| {
            let track = (i * 37 + 5) % TRACKS;
            // Starts off the grid, as real queries are.
            let start = ((i * 211) % (SEGMENTS_PER_TRACK - QUERY_SEGMENTS - 1)) as f64
                + 0.1 * (i % 10) as f64;
            let embeddings = synth.query(
                &tracks[track],
                start,
                QUERY_SEGMENTS,
                NOISE,
                1000 + i as u64,
            );
            let logits = synth.logits(&embeddings);
            Case {
                embeddings,
                logits,
                track,
                start,
            }
        })
        .collect();
    (builder.build(), cases)
}

fn query(case: &Case) -> Query<'_> {
    Query {
        embeddings: &case.embeddings,
        logits: &case.logits,
        hop: 10,
    }
}

/// Prints eval%, segment recall against `reference` (each case's per-segment best
/// (track, segment)) and the top-1 hit rate.
fn report(
    name: &str,
    searcher: &Searcher,
    settings: &SearchSettings,
    cases: &[Case],
    reference: &[Vec<(u32, u32)>],
) {
    let (mut eval, mut recalled, mut segments, mut hits) = (0.0, 0, 0, 0);
    // Start-time error of the answers on the right track, ms.
    let (mut error_ms, mut on_track) = (0.0, 0);
    for (case, best) in cases.iter().zip(reference) {
        let matched = searcher.matches(&query(case), settings);
        for (o, &r) in best.iter().enumerate() {
            recalled += usize::from(matched.of(o).first().map(|m| (m.track, m.segment)) == Some(r));
        }
        segments += best.len();
        let answer = searcher.search(&query(case), settings).expect("search");
        eval += answer.eval_percent;
        if let Some(hit) = answer.best().filter(|hit| hit.track == case.track) {
            let error = (hit.start_s - case.start * 0.1).abs();
            hits += usize::from(error <= 0.05);
            error_ms += 1000.0 * error;
            on_track += 1;
        }
    }
    println!(
        "{name:<28} eval% {:>8.4}  segment recall {:>5.1}%  top-1 hits {hits}/{}  \
         mean start error {:.1} ms",
        eval / cases.len() as f64,
        100.0 * recalled as f64 / segments as f64,
        cases.len(),
        error_ms / on_track.max(1) as f64
    );
}

fn search(c: &mut Criterion) {
    let (library, cases) = generate();
    let info = library.info();
    println!(
        "library: {} rows, K = {}, {} non-empty buckets, occupancy entropy {:.2} of {:.2} bits; \
         scans on {}",
        info.segments,
        info.k,
        info.nonempty_buckets,
        info.entropy_bits,
        info.entropy_ceiling_bits,
        earmark_kernels::Isa::detect().name()
    );
    let exhaustive = Searcher::new(&library, Method::Exhaustive);
    let defaults = SearchSettings::default();
    let reference: Vec<Vec<(u32, u32)>> = cases
        .iter()
        .map(|case| {
            let m = exhaustive.matches(&query(case), &defaults);
            (0..QUERY_SEGMENTS)
                .map(|o| (m.of(o)[0].track, m.of(o)[0].segment))
                .collect()
        })
        .collect();

    let mut settings: Vec<(String, Method, SearchSettings)> = [16, 64, 256, 1024]
        .into_iter()
        .map(|probes| {
            let s = SearchSettings {
                probe_budget: probes,
                ..defaults
            };
            (format!("ht/probes={probes}"), Method::HashTable, s)
        })
        .collect();
    for (k, tables, probes) in [(12, 8, 8), (10, 16, 16)] {
        let params = LshParams {
            k,
            tables,
            probes,
            ..LshParams::default()
        };
        let s = SearchSettings {
            candidate_budget: usize::MAX,
            ..defaults
        };
        settings.push((
            format!("lsh/k={k},L={tables},T={probes}"),
            Method::Lsh(params),
            s,
        ));
    }
    settings.push(("exhaustive".into(), Method::Exhaustive, defaults));
    // What the sub-grid refinement does: the same search with the start left on the grid.
    let coarse = SearchSettings {
        refine: false,
        ..defaults
    };
    settings.push(("exhaustive/no-refine".into(), Method::Exhaustive, coarse));

    let mut group = c.benchmark_group("search");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements((QUERIES * QUERY_SEGMENTS) as u64));
    for (name, method, s) in &settings {
        let searcher = Searcher::new(&library, *method);
        report(name, &searcher, s, &cases, &reference);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                for case in &cases {
                    black_box(searcher.search(&query(case), s).expect("search"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
