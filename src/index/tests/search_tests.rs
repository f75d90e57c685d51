//! Search on synthetic libraries: every method finds perturbed queries at their known
//! track and start; the fast paths equal their slow twins (exhaustive = brute force,
//! unlimited hash table = exhaustive); alignments stay inside tracks; the sub-grid
//! refinement finds half steps.

use std::collections::BTreeMap;

use earmark_kernels::votes::Match;

use super::fixtures::{Fixture, build, config, synth, tracks};
use crate::index::align::aligned_similarity;
use crate::index::synth::{Synth, SynthConfig};
use crate::index::{
    Dtype, Library, LshParams, Method, MinScore, Query, QueryVector, SearchSettings, Searcher,
    Windows,
};

const DIM: usize = 128;
const K: usize = 8;
/// Segments per test track (15 s at 100 ms).
const SEGMENTS: usize = 150;
/// Query segments (3 s of audio: 21 segments; 20 is close enough).
const QUERY: usize = 20;
/// Norm of the noise added to each query segment's unit embedding.
const NOISE: f32 = 0.5;

/// LSH settings for the small test library (3000 rows): coarser hashes than the default
/// so that buckets are not all singletons.
const SMALL_LSH: LshParams = LshParams {
    k: 8,
    tables: 6,
    width: 1.5,
    probes: 4,
    seed: 5,
};

struct Setup {
    synth: Synth,
    fixtures: Vec<Fixture>,
    library: Library,
}

fn setup(dtype: Dtype) -> Setup {
    let synth = synth(K);
    let fixtures = tracks(&synth, 20, &[SEGMENTS], 11);
    let library = build(config(K as u32, dtype), &fixtures);
    Setup {
        synth,
        fixtures,
        library,
    }
}

/// A query cut from track `t` at `start` (segments), with its logits.
fn query_of(s: &Setup, t: usize, start: f64, segments: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let e = s
        .synth
        .query(&s.fixtures[t].embeddings, start, segments, NOISE, seed);
    let q = s.synth.logits(&e);
    (e, q)
}

fn query<'a>(e: &'a [f32], q: &'a [f32]) -> Query<'a> {
    Query {
        embeddings: e,
        logits: q,
        hop: 10,
    }
}

#[test]
fn every_method_finds_perturbed_queries_at_their_track_and_start() {
    let s = setup(Dtype::F16);
    // 24 of the 256 buckets, about 10 % of the rows.
    let settings = SearchSettings {
        probe_budget: 24,
        ..SearchSettings::default()
    };
    for method in [
        Method::HashTable,
        Method::Lsh(SMALL_LSH),
        Method::Exhaustive,
    ] {
        let searcher = Searcher::new(&s.library, method);
        for i in 0..8 {
            let (t, start) = (i * 7 % 20, (i * 37) % (SEGMENTS - QUERY));
            let (e, q) = query_of(&s, t, start as f64, QUERY, i as u64);
            let answer = searcher.search(&query(&e, &q), &settings).unwrap();
            let hit = answer
                .best()
                .unwrap_or_else(|| panic!("{method:?}: query {i} unmatched"));
            assert_eq!(
                (hit.track, hit.start),
                (t, start as i64),
                "{method:?}: query {i}"
            );
            assert!(
                (hit.start_s - start as f64 * 0.1).abs() <= 0.05,
                "{method:?}: {hit:?}"
            );
            assert!(
                hit.score > 0.6 && hit.votes as usize >= QUERY / 2,
                "{method:?}: {hit:?}"
            );
            assert_eq!(answer.segments, QUERY);
            if method == Method::Exhaustive {
                assert_eq!(answer.eval_percent, 100.0);
            } else {
                assert!(
                    answer.eval_percent > 0.0 && answer.eval_percent < 25.0,
                    "{method:?} {answer:?}"
                );
            }
        }
    }
}

/// The slow twin of the exhaustive search: every similarity by a plain loop in f64, the
/// `top` best per segment, votes in a map, the best few rescored by a plain loop.
fn brute_force(
    library: &Library,
    e: &[f32],
    settings: &SearchSettings,
) -> Vec<(usize, i64, u32, f32)> {
    let n = e.len() / DIM;
    let value = |row: usize, j: usize| f64::from(library.embeddings().get(row * DIM + j));
    let dot = |o: usize, row: usize| {
        (0..DIM)
            .map(|j| f64::from(e[o * DIM + j]) * value(row, j))
            .sum::<f64>()
    };
    let mut votes: BTreeMap<(usize, i64), (u32, f64)> = BTreeMap::new();
    for o in 0..n {
        let mut all: Vec<(f64, usize)> =
            (0..library.rows()).map(|row| (dot(o, row), row)).collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(sim, row) in &all[..settings.top] {
            let (t, seg) = library.locate(row);
            let v = votes.entry((t, seg as i64 - o as i64)).or_default();
            v.0 += 1;
            v.1 += sim;
        }
    }
    let mut ranked: Vec<_> = votes.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1.0
            .cmp(&a.1.0)
            .then(b.1.1.total_cmp(&a.1.1))
            .then(a.0.cmp(&b.0))
    });
    let mut hits: Vec<(usize, i64, u32, f32)> = ranked[..settings.rescore.min(ranked.len())]
        .iter()
        .map(|&((t, start), (v, _))| {
            let aligned: f64 = (0..n)
                .filter_map(|o| {
                    library
                        .row(t, usize::try_from(start + o as i64).ok()?)
                        .map(|row| dot(o, row))
                })
                .sum();
            (t, start, v, (aligned / n as f64) as f32)
        })
        .collect();
    hits.sort_by(|a, b| b.3.total_cmp(&a.3).then(b.2.cmp(&a.2)));
    hits
}

#[test]
fn exhaustive_search_equals_a_brute_force_reference() {
    let s = setup(Dtype::F16);
    let settings = SearchSettings {
        refine: false,
        min_score: MinScore::NONE,
        ..SearchSettings::default()
    };
    let searcher = Searcher::new(&s.library, Method::Exhaustive);
    for i in 0..3 {
        let (e, q) = query_of(&s, 3 + i, 40.0, 8, 100 + i as u64);
        let hits = searcher.search(&query(&e, &q), &settings).unwrap().hits;
        let reference = brute_force(&s.library, &e, &settings);
        assert_eq!(hits.len(), reference.len());
        for (hit, (t, start, votes, score)) in hits.iter().zip(reference) {
            assert_eq!(
                (hit.track, hit.start, hit.votes),
                (t, start, votes),
                "query {i}"
            );
            assert!(
                (hit.score - score).abs() < 1e-5,
                "query {i}: {} vs {score}",
                hit.score
            );
        }
    }
}

fn matches(searcher: &Searcher, e: &[f32], q: &[f32], settings: &SearchSettings) -> Vec<Match> {
    searcher.matches(&query(e, q), settings).matches
}

#[test]
fn i8_rows_answer_as_f32_rows_do() {
    let (exact, small) = (setup(Dtype::F32), setup(Dtype::I8));
    let settings = SearchSettings {
        probe_budget: 24,
        ..SearchSettings::default()
    };
    for method in [Method::HashTable, Method::Exhaustive] {
        let (a, b) = (
            Searcher::new(&exact.library, method),
            Searcher::new(&small.library, method),
        );
        for i in 0..8u64 {
            let (t, start) = (
                (i * 5 % 20) as usize,
                ((i * 29) % (SEGMENTS - QUERY) as u64) as f64,
            );
            let (e, q) = query_of(&exact, t, start + 0.3, QUERY, i);
            let (x, y) = (
                a.search(&query(&e, &q), &settings).unwrap(),
                b.search(&query(&e, &q), &settings).unwrap(),
            );
            let (x, y) = (x.best().unwrap(), y.best().unwrap());
            assert_eq!(
                (x.track, x.start),
                (y.track, y.start),
                "{method:?}: query {i}"
            );
            assert!(
                (x.score - y.score).abs() < 2e-3,
                "{method:?}: {x:?} vs {y:?}"
            );
            assert!(
                (x.start_s - y.start_s).abs() < 0.01,
                "{method:?}: {x:?} vs {y:?}"
            );
        }
    }
}

#[test]
fn hash_table_with_unlimited_budget_equals_exhaustive() {
    for dtype in Dtype::ALL {
        let s = setup(dtype);
        let settings = SearchSettings::default().unlimited();
        let table = Searcher::new(&s.library, Method::HashTable);
        let exhaustive = Searcher::new(&s.library, Method::Exhaustive);
        let (e, q) = query_of(&s, 5, 17.0, 10, 9);
        let (a, b) = (
            matches(&table, &e, &q, &settings),
            matches(&exhaustive, &e, &q, &settings),
        );
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((x.track, x.segment), (y.track, y.segment));
            assert!((x.similarity - y.similarity).abs() < 1e-6);
        }
        let answer = table.search(&query(&e, &q), &settings).unwrap();
        assert_eq!(answer.eval_percent, 100.0);
        assert_eq!(
            answer.hits,
            exhaustive.search(&query(&e, &q), &settings).unwrap().hits
        );
    }
}

#[test]
fn budgets_bound_the_work() {
    let s = setup(Dtype::F16);
    let searcher = Searcher::new(&s.library, Method::HashTable);
    let (e, q) = query_of(&s, 2, 10.0, 10, 4);
    let scored = |settings: SearchSettings| searcher.matches(&query(&e, &q), &settings).scored;
    let base = SearchSettings::default();
    // One probe: exactly the home bucket of each segment.
    let home: Vec<usize> = q
        .chunks_exact(K)
        .map(|logits| {
            s.library
                .bucket(earmark_kernels::probe::bucket_key(logits))
                .len()
        })
        .collect();
    assert_eq!(
        scored(SearchSettings {
            probe_budget: 1,
            ..base
        }),
        home
    );
    // A candidate budget stops after the bucket that crosses it.
    let largest = s.library.bucket_sizes().max().unwrap();
    for n in scored(SearchSettings {
        candidate_budget: 30,
        ..base
    }) {
        assert!((30..30 + largest).contains(&n), "{n}");
    }
}

#[test]
fn alignment_never_crosses_a_track_boundary() {
    let s = setup(Dtype::F32);
    // Tracks 6 and 7 are consecutive in the library (their segments are numbered one
    // after the other). The query is the last 4 segments of track 6, then the first 8 of
    // track 7: on a global numbering one alignment would collect all 12 votes.
    let (a, b) = (&s.fixtures[6], &s.fixtures[7]);
    let mut e = s
        .synth
        .query(&a.embeddings, (SEGMENTS - 4) as f64, 4, 0.2, 1);
    e.extend(s.synth.query(&b.embeddings, 0.0, 8, 0.2, 2));
    let q = s.synth.logits(&e);
    let settings = SearchSettings {
        min_score: MinScore::Fixed(0.0),
        ..SearchSettings::default()
    };
    let answer = Searcher::new(&s.library, Method::Exhaustive)
        .search(&query(&e, &q), &settings)
        .unwrap();
    let best = answer.best().unwrap();
    assert_eq!((best.track, best.start), (7, -4), "{answer:?}");
    assert!(best.votes <= 8, "{best:?}");
    // The 4 segments hanging off the track's start count 0: the score is about 8/12 of
    // the in-track similarity.
    let inside = aligned_similarity(&s.library, &QueryVector::each(&e[4 * DIM..], DIM), 1, 7, 0);
    assert!(
        (best.score - inside * 8.0 / 12.0).abs() < 1e-5,
        "{} vs {inside}",
        best.score
    );
    let tail = answer
        .hits
        .iter()
        .find(|h| h.track == 6)
        .expect("track 6 is the second hit");
    assert_eq!(tail.start, (SEGMENTS - 4) as i64);
    assert!(tail.votes <= 4);
    assert!(answer.hits.iter().all(|h| h.votes <= 8));
}

/// A library of very smooth tracks (a 1 s segment shifted by 100 ms changes little), so
/// that a query between two grid points looks like their interpolation.
fn smooth_setup() -> Setup {
    let synth = Synth::new(SynthConfig {
        k: K,
        detail: 0.15,
        smooth: 10,
        ..SynthConfig::default()
    });
    let fixtures = tracks(&synth, 4, &[SEGMENTS], 21);
    let library = build(config(K as u32, Dtype::F32), &fixtures);
    Setup {
        synth,
        fixtures,
        library,
    }
}

#[test]
fn sub_grid_refinement_recovers_a_half_step() {
    let s = smooth_setup();
    let searcher = Searcher::new(&s.library, Method::Exhaustive);
    for (i, start) in [30.5, 71.5, 102.5, 55.25].into_iter().enumerate() {
        let e = s
            .synth
            .query(&s.fixtures[1].embeddings, start, QUERY, 0.05, i as u64);
        let q = s.synth.logits(&e);
        let found = |refine: bool| {
            let settings = SearchSettings {
                refine,
                ..SearchSettings::default()
            };
            let hit = *searcher
                .search(&query(&e, &q), &settings)
                .unwrap()
                .best()
                .unwrap();
            assert_eq!(hit.track, 1);
            hit
        };
        let (coarse, fine) = (found(false), found(true));
        assert_eq!(coarse.offset, 0.0);
        let coarse_error = (coarse.start as f64 - start).abs();
        let fine_error = (fine.start as f64 + f64::from(fine.offset) - start).abs();
        assert!(coarse_error >= 0.25, "start {start}: {coarse:?}");
        assert!(
            fine_error <= 0.15 && fine_error < coarse_error,
            "start {start}: {fine:?}"
        );
        assert!(
            (fine.start_s - start * 0.1).abs() <= 0.015,
            "start {start}: {fine:?}"
        );
    }
}

#[test]
fn weak_evidence_is_no_match() {
    let s = setup(Dtype::F16);
    let stranger = tracks(&s.synth, 1, &[60], 999).remove(0);
    let e = s.synth.query(&stranger.embeddings, 10.0, QUERY, NOISE, 3);
    let q = s.synth.logits(&e);
    for method in [Method::HashTable, Method::Exhaustive] {
        let searcher = Searcher::new(&s.library, method);
        let answer = searcher
            .search(&query(&e, &q), &SearchSettings::default())
            .unwrap();
        assert!(answer.best().is_none(), "{method:?}: {answer:?}");
        let all = SearchSettings {
            min_score: MinScore::NONE,
            ..SearchSettings::default()
        };
        let best = searcher.search(&query(&e, &q), &all).unwrap().hits[0].score;
        assert!(best < 0.2, "{method:?}: unrelated query scores {best}");
    }
}

#[test]
fn windows_follow_a_stream_across_tracks() {
    let s = setup(Dtype::F16);
    // 4 s of track 3 from 2.0 s, then 4 s of track 9 from 5.0 s, as one stream of
    // 100 ms segments.
    let mut e = s.synth.query(&s.fixtures[3].embeddings, 20.0, 40, NOISE, 1);
    e.extend(s.synth.query(&s.fixtures[9].embeddings, 50.0, 40, NOISE, 2));
    let q = s.synth.logits(&e);
    let searcher = Searcher::new(&s.library, Method::HashTable);
    let windows = Windows {
        every_s: 1.0,
        length_s: 2.0,
    };
    let answers = searcher
        .search_windows(&query(&e, &q), windows, &SearchSettings::default())
        .unwrap();
    // 80 segments = 8.9 s of audio: windows at 0..=6 s.
    assert_eq!(answers.len(), 7);
    for w in &answers {
        let hit = w.answer.best().expect("every window matches");
        // Windows starting at 0-2 s lie in track 3; from 4 s in track 9; the window at
        // 3 s straddles both.
        match w.offset_s as usize {
            0..=2 => assert_eq!(
                (hit.track, hit.start),
                (3, 20 + 10 * w.offset_s as i64),
                "{w:?}"
            ),
            4.. => assert_eq!(
                (hit.track, hit.start),
                (9, 50 + 10 * (w.offset_s as i64 - 4)),
                "{w:?}"
            ),
            _ => assert!(hit.track == 3 || hit.track == 9),
        }
    }
}

#[test]
fn a_library_at_a_finer_hop_answers_coarser_queries_and_bad_queries_are_errors() {
    // A library every 5 frames (50 ms); queries every 10 frames use every other segment.
    let synth = synth(K);
    let fixtures = tracks(&synth, 6, &[2 * SEGMENTS], 31);
    let cfg = crate::index::LibraryConfig {
        hop: 5,
        ..config(K as u32, Dtype::F16)
    };
    let library = build(cfg, &fixtures);
    let track = &fixtures[4].embeddings;
    let every_other: Vec<f32> = track
        .chunks_exact(DIM)
        .step_by(2)
        .flatten()
        .copied()
        .collect();
    // Query segment o is library segment 62 + 2o (3.1 s onwards) plus noise.
    let e = synth.query(&every_other, 31.0, QUERY, NOISE, 8);
    let q = synth.logits(&e);
    let searcher = Searcher::new(&library, Method::HashTable);
    let hit = *searcher
        .search(
            &Query {
                embeddings: &e,
                logits: &q,
                hop: 10,
            },
            &SearchSettings::default(),
        )
        .unwrap()
        .best()
        .unwrap();
    assert_eq!((hit.track, hit.start), (4, 62), "{hit:?}");
    assert!((hit.start_s - 3.1).abs() <= 0.025, "{hit:?}");
    let odd_hop = Query {
        embeddings: &e,
        logits: &q,
        hop: 7,
    };
    assert!(matches!(
        searcher.search(&odd_hop, &SearchSettings::default()),
        Err(crate::Error::Invalid(_))
    ));
}

#[test]
fn the_default_threshold_falls_with_query_length_to_its_5_s_value() {
    let t = |s: f64| MinScore::ByLength.for_seconds(s);
    // The measured points (MinScore's docs): never below one, at most 0.05 above.
    for (seconds, measured) in [(1.0, 0.80), (2.0, 0.65), (3.0, 0.60), (5.0, 0.50)] {
        assert!(
            (-0.005..0.055).contains(&(t(seconds) - measured)),
            "{seconds} s: {}",
            t(seconds)
        );
    }
    assert!(t(1.0) > t(1.5) && t(1.5) > t(3.0) && t(3.0) > t(5.0));
    assert_eq!(t(5.0), t(60.0));
    assert_eq!(t(0.5), t(1.0));
    assert_eq!(MinScore::Fixed(0.4).for_seconds(1.0), 0.4);
    assert_eq!(MinScore::NONE.for_seconds(3.0), f32::NEG_INFINITY);
}
