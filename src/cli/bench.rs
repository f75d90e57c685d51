//! `earmark bench search -l LIBRARY`: hit rate and speed of every search method on
//! distorted queries cut from the library's own audio.
//!
//! Queries: `--queries` windows of `--seconds` seconds, each from a random track at a
//! random sample offset (so almost always between two grid points), distorted by the
//! [`Augmenter`] with generated noise and room responses (clean, noise, reverb or both,
//! SNRs 0–20 dB). The audio is read from `--root` (default: the library's directory), under
//! the tracks' stored relative paths. A query is a hit when its best alignment, whatever
//! its score, is on the right track within ±50 ms of the true start; a near miss when it is
//! on the right track 50–150 ms off (one grid step: what the sub-grid refinement and a
//! 50 ms library hop, `earmark index --hop-ms 50`, are for). The exhaustive search runs
//! with and without refinement, so the table shows how many near misses refinement turns
//! into hits and what it costs; a library indexed at 50 ms, benchmarked the same way,
//! shows the other lever (the header gives the hop and the embeddings' size).

use super::model_choice::ModelArgs;
use anyhow::{Context, bail};
use earmark::audio::SAMPLE_RATE;
use earmark::audio::augment::{AugmentConfig, Augmenter};
use earmark::index::{Library, LshParams, Method, MinScore, Query, SearchSettings, Searcher};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::time::Instant;

/// A hit's start must be within this many seconds of the truth (DESIGN.md §6).
pub(super) const HIT_TOLERANCE_S: f64 = 0.05;

/// Silent windows drawn in a row before the queries give up (see [`distorted_queries`]).
const MAX_SILENT_DRAWS: usize = 1000;

/// A near miss: the right track, start off by more than a hit's tolerance but at most this.
const NEAR_TOLERANCE_S: f64 = 0.15;

/// Hash-table probe budgets swept (finest where the hit rate meets the exhaustive one's).
const HT_PROBES: [usize; 11] = [16, 64, 256, 384, 512, 640, 768, 896, 1024, 1536, 2048];

/// LSH settings swept: (k, L, w, probes per table), from fast to thorough. On the
/// development music everything from the third on comes within about a point of the
/// exhaustive search's hit rate, where the comparison with the hash table is made, so the
/// sweep is densest there: near that plateau a tenth of a point of hit rate can cost LSH a
/// third more time, and a sparse sweep would make the best matching setting an accident
/// of which settings were tried.
const LSH_SWEEP: [(usize, usize, f32, usize); 14] = [
    (12, 16, 1.5, 16),
    (16, 16, 2.0, 16),
    (12, 32, 1.5, 16),
    (14, 24, 2.0, 24),
    (16, 20, 2.0, 32),
    (16, 20, 2.5, 32),
    (16, 24, 2.0, 24),
    (16, 24, 2.5, 24),
    (16, 24, 2.0, 32),
    (16, 28, 2.0, 24),
    (16, 28, 2.0, 32),
    (16, 32, 2.0, 24),
    (16, 32, 2.0, 32),
    (16, 32, 2.5, 64),
];

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Hit rate, eval% and time per query segment of HT, LSH and exhaustive search.
    Search(SearchArgs),
    /// Scores of right answers and of answers to unrelated audio, to choose --min-score.
    Threshold(super::bench_threshold::Args),
}

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    #[arg(short, long, value_name = "LIBRARY")]
    library: PathBuf,
    /// Where the indexed audio lives (track paths are relative to it). Default: the
    /// library file's directory.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Number of distorted queries.
    #[arg(long, value_name = "N", default_value_t = 50)]
    queries: usize,
    /// Query length in seconds.
    #[arg(long, value_name = "S", default_value_t = 2.0)]
    seconds: f64,
    /// Seed of the query positions and distortions.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Passes over the queries per method; each query's time is its fastest pass, so that
    /// other work on a shared machine inflates the figures less.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    passes: u32,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Search(args) => search(args),
        Command::Threshold(args) => super::bench_threshold::run(args),
    }
}

/// An embedded query and where it came from.
#[derive(Debug)]
pub(super) struct Distorted {
    pub track: usize,
    pub start_s: f64,
    pub embeddings: Vec<f32>,
    pub logits: Vec<f32>,
    pub segments: usize,
}

fn search(args: SearchArgs) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let library = Library::open(&args.library, model.identity())?;
    let root = match &args.root {
        Some(root) => root.clone(),
        None => args.library.parent().map(PathBuf::from).unwrap_or_default(),
    };
    let started = Instant::now();
    let queries = make_queries(&args, &library, &model, &root)?;
    let embed_ms = started.elapsed().as_secs_f64() * 1e3 / queries.len().max(1) as f64;
    let segments: usize = queries.iter().map(|q| q.segments).sum();
    let config = library.config();
    println!(
        "{} queries of {} s ({} segments, {embed_ms:.1} ms per query to cut, distort and \
         embed) on {} tracks, {} segments every {} ms ({:.1} MB of {} embeddings)",
        queries.len(),
        args.seconds,
        segments,
        library.tracks().len(),
        library.rows(),
        config.hop * 10,
        (library.rows() * config.dtype.row_bytes(config.dim as usize)) as f64 / 1e6,
        config.dtype.name()
    );
    println!(
        "{:<11} {:<26} {:>7} {:>7} {:>9} {:>12} {:>9}",
        "method", "settings", "top-1", "near", "eval%", "µs/segment", "speed-up"
    );
    // Each method is bounded by its own settings (probes; k, L, w and probes), not by the
    // row budget that caps a query's work by default: on 5·10^5 rows (14 h) the default
    // 4 096 rows stopped both methods below the exhaustive search's hit rate, where they
    // are compared.
    let settings = SearchSettings {
        min_score: MinScore::NONE,
        candidate_budget: usize::MAX,
        ..SearchSettings::default()
    };
    let mut runs: Vec<(&str, String, Method, SearchSettings)> = vec![
        ("exhaustive", "refine".into(), Method::Exhaustive, settings),
        (
            "exhaustive",
            "no refinement".into(),
            Method::Exhaustive,
            SearchSettings {
                refine: false,
                ..settings
            },
        ),
    ];
    for probes in HT_PROBES {
        runs.push((
            "ht",
            format!("probes {probes}"),
            Method::HashTable,
            SearchSettings {
                probe_budget: probes,
                ..settings
            },
        ));
    }
    for (k, tables, width, probes) in LSH_SWEEP {
        let params = LshParams {
            k,
            tables,
            width,
            probes,
            ..LshParams::default()
        };
        runs.push((
            "lsh",
            format!("k {k} L {tables} w {width} p {probes}"),
            Method::Lsh(params),
            settings,
        ));
    }
    let mut exhaustive_us = None;
    let mut rows = Vec::new();
    for (name, label, method, settings) in runs {
        let searcher = Searcher::new(&library, method);
        let (mut hits, mut near, mut eval) = (0usize, 0usize, 0.0f64);
        let mut fastest = vec![f64::INFINITY; queries.len()];
        for pass in 0..args.passes {
            for (q, fastest) in queries.iter().zip(&mut fastest) {
                let query = Query {
                    embeddings: &q.embeddings,
                    logits: &q.logits,
                    hop: library.config().hop,
                };
                let started = Instant::now();
                let answer = searcher.search(&query, &settings)?;
                *fastest = fastest.min(started.elapsed().as_secs_f64());
                if pass > 0 {
                    continue;
                }
                eval += answer.eval_percent;
                if let Some(h) = answer.best()
                    && h.track == q.track
                {
                    let error = (h.start_s - q.start_s).abs();
                    hits += usize::from(error <= HIT_TOLERANCE_S);
                    near += usize::from(error > HIT_TOLERANCE_S && error <= NEAR_TOLERANCE_S);
                }
            }
        }
        let us = fastest.iter().sum::<f64>() * 1e6 / segments.max(1) as f64;
        let base = *exhaustive_us.get_or_insert(us);
        let hit_percent = 100.0 * hits as f64 / queries.len() as f64;
        println!(
            "{name:<11} {label:<26} {hit_percent:>6.1}% {:>6.1}% {:>9.3} {:>12.1} {:>8.1}×",
            100.0 * near as f64 / queries.len() as f64,
            eval / queries.len() as f64,
            us,
            base / us
        );
        rows.push((name, label, hit_percent, us));
    }
    print_equal_rate(&rows);
    Ok(())
}

/// How much slower LSH is than the hash table at a hit rate within a point of the
/// exhaustive search's (the and the paper's comparison), two ways: the fastest
/// setting of each that reaches it, and each method's frontier interpolated to it.
fn print_equal_rate(rows: &[(&str, String, f64, f64)]) {
    let Some(&(_, _, exhaustive, _)) = rows.iter().find(|r| r.0 == "exhaustive") else {
        return;
    };
    let target = exhaustive - 1.0;
    let points = |method: &str| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| r.0 == method)
            .map(|r| (r.2, r.3))
            .collect()
    };
    let fastest = |method: &str| {
        rows.iter()
            .filter(|r| r.0 == method && r.2 >= target - 1e-9)
            .min_by(|a, b| a.3.total_cmp(&b.3))
    };
    println!("\nat a hit rate within 1 point of exhaustive (≥ {target:.2}%):");
    match (fastest("ht"), fastest("lsh")) {
        (Some(ht), Some(lsh)) => println!(
            "  fastest settings reaching it: ht {} {:.1} µs ({:.2}%), lsh {} {:.1} µs ({:.2}%): \
             lsh/ht {:.2}×",
            ht.1,
            ht.3,
            ht.2,
            lsh.1,
            lsh.3,
            lsh.2,
            lsh.3 / ht.3
        ),
        _ => println!("  not reached by every method's settings"),
    }
    match (
        frontier_cost(&points("ht"), target),
        frontier_cost(&points("lsh"), target),
    ) {
        (Some(ht), Some(lsh)) => println!(
            "  on each method's frontier (settings mixed query by query): ht {ht:.1} µs, \
             lsh {lsh:.1} µs: lsh/ht {:.2}×",
            lsh / ht
        ),
        _ => println!("  beyond some method's frontier"),
    }
}

/// The least time per query segment at which a method reaches `target` hit rate, given
/// its settings' (hit rate, time) points: the lower convex hull of the points, evaluated
/// at `target` or beyond (running setting a on a share of the queries and b on the rest
/// reaches every point on the segment between them). `None` if no point reaches `target`.
fn frontier_cost(points: &[(f64, f64)], target: f64) -> Option<f64> {
    let mut sorted: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    // Lower hull, left to right (monotone chain).
    let mut hull: Vec<(f64, f64)> = Vec::new();
    for p in sorted {
        while let [.., a, b] = hull[..] {
            let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
            if cross > 0.0 {
                break;
            }
            hull.pop();
        }
        if hull.last().is_some_and(|last| last.0 == p.0) {
            continue; // same hit rate, slower (sorted by time within a rate)
        }
        hull.push(p);
    }
    let at_target = hull.windows(2).find_map(|w| {
        let (a, b) = (w[0], w[1]);
        (a.0 <= target && target <= b.0).then(|| a.1 + (b.1 - a.1) * (target - a.0) / (b.0 - a.0))
    });
    hull.iter()
        .filter(|p| p.0 >= target)
        .map(|p| p.1)
        .chain(at_target)
        .min_by(f64::total_cmp)
}

/// Cuts, distorts and embeds the benchmark's queries from the library's own audio.
fn make_queries(
    args: &SearchArgs,
    library: &Library,
    model: &earmark::model::Model,
    root: &std::path::Path,
) -> anyhow::Result<Vec<Distorted>> {
    let durations: Vec<f64> = library.tracks().iter().map(|t| t.duration_s).collect();
    let load = |track: usize| -> anyhow::Result<Vec<f32>> {
        let path = root.join(&library.tracks()[track].path);
        earmark::audio::load_mono_16k(&path)
            .context("the library's audio (use --root DIR to say where it is)")
    };
    distorted_queries(
        &durations,
        load,
        args.queries,
        args.seconds,
        args.seed,
        model,
        library.config().hop,
    )
}

/// `count` windows of `seconds` s, each from a random one of the tracks (given by their
/// `durations_s` and read by `load` when first drawn) at a random sample offset,
/// distorted by generated noise and rooms (noise, reverb or both, SNRs 0–20 dB), and
/// embedded at `hop` frames. Windows of digital silence are drawn again. Deterministic
/// for `seed`.
pub(super) fn distorted_queries(
    durations_s: &[f64],
    mut load: impl FnMut(usize) -> anyhow::Result<Vec<f32>>,
    count: usize,
    seconds: f64,
    seed: u64,
    model: &earmark::model::Model,
    hop: u32,
) -> anyhow::Result<Vec<Distorted>> {
    let len = (seconds * f64::from(SAMPLE_RATE)).round() as usize;
    let long_enough: Vec<usize> = (0..durations_s.len())
        .filter(|&t| durations_s[t] > seconds)
        .collect();
    if long_enough.is_empty() || seconds < 1.0 {
        bail!("no track is longer than the {seconds} s queries (queries need at least 1 s)");
    }
    let config = AugmentConfig {
        generated_rirs: 16,
        generated_noises_per_kind: 1,
        generated_noise_s: 4.0,
        ..AugmentConfig::default()
    };
    let augmenter = Augmenter::new(config, vec![], vec![], seed)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut audio: HashMap<usize, Vec<f32>> = HashMap::new();
    let mut queries = Vec::with_capacity(count);
    for _ in 0..count {
        // A window of digital silence (a track's lead-in, a silent track) identifies
        // nothing and cannot be embedded: draw another.
        let mut draws = 0;
        let (track, start) = loop {
            let track = long_enough[rng.random_range(0..long_enough.len())];
            let samples = match audio.entry(track) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(load(track)?),
            };
            let start = rng.random_range(0..samples.len().saturating_sub(len).max(1));
            let window = &samples[start..(start + len).min(samples.len())];
            if window.iter().any(|&x| x != 0.0) {
                break (track, start);
            }
            draws += 1;
            if draws == MAX_SILENT_DRAWS {
                bail!("{draws} windows of {seconds} s in a row were silent: is the audio silent?");
            }
        };
        let samples = &audio[&track];
        let distortion = augmenter.draw(&mut rng);
        let window = augmenter.render(&distortion, samples, start as isize, len, &mut rng);
        let e = model.embed_audio(&window, hop as usize)?;
        queries.push(Distorted {
            track,
            start_s: start as f64 / f64::from(SAMPLE_RATE),
            embeddings: e.embeddings,
            logits: e.logits,
            segments: e.n,
        });
    }
    Ok(queries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use earmark::model::{Model, ModelConfig};

    /// 3 s of audio whose first 2 s are digital silence, then a tone.
    fn lead_in() -> Vec<f32> {
        let rate = SAMPLE_RATE as usize;
        let tone = (0..rate).map(|i| (i as f32 * 0.07).sin() * 0.5);
        std::iter::repeat_n(0.0, 2 * rate).chain(tone).collect()
    }

    #[test]
    fn frontier_cost_interpolates_the_lower_hull() {
        // (hit %, µs): b lies above the segment a–c, so mixing a and c beats it.
        let points = [(50.0, 10.0), (55.0, 40.0), (60.0, 50.0), (61.0, 200.0)];
        let at = |t| frontier_cost(&points, t).unwrap();
        assert!((at(55.0) - 30.0).abs() < 1e-9, "{}", at(55.0));
        assert!((at(60.0) - 50.0).abs() < 1e-9);
        assert!((at(60.5) - 125.0).abs() < 1e-9);
        // Below every point: the fastest point, not an extrapolation.
        assert!((at(40.0) - 10.0).abs() < 1e-9);
        assert_eq!(frontier_cost(&points, 61.5), None);
        assert_eq!(frontier_cost(&[], 50.0), None);
        // A slower point is skipped by mixing its neighbours...
        let points = [(50.0, 10.0), (58.0, 100.0), (60.0, 20.0)];
        assert!((frontier_cost(&points, 55.0).unwrap() - 15.0).abs() < 1e-9);
        // ...and a faster point at a higher rate beats the hull at the target.
        let points = [(50.0, 100.0), (60.0, 20.0)];
        assert!((frontier_cost(&points, 55.0).unwrap() - 20.0).abs() < 1e-9);
        // Equal rates: the faster one counts.
        let points = [(50.0, 30.0), (50.0, 10.0), (60.0, 20.0)];
        assert!((frontier_cost(&points, 50.0).unwrap() - 10.0).abs() < 1e-9);
    }

    #[test]
    fn queries_are_never_cut_from_silence() {
        let model = Model::new(ModelConfig::SMALL, 1);
        let queries = distorted_queries(&[3.0], |_| Ok(lead_in()), 12, 1.0, 5, &model, 10).unwrap();
        assert_eq!(queries.len(), 12);
        // A 1 s window holds some of the tone only if it starts after 1 s.
        assert!(queries.iter().all(|q| q.start_s > 1.0 && q.segments == 1));

        let silent = |_| Ok(vec![0.0; 3 * SAMPLE_RATE as usize]);
        let err = distorted_queries(&[3.0], silent, 1, 1.0, 5, &model, 10).unwrap_err();
        assert!(err.to_string().contains("silent"), "{err}");
    }
}
