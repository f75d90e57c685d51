//! `earmark bench threshold -l LIBRARY --unrelated DIR`: how the no-match threshold
//! (`earmark query --min-score`) trades missed answers for false ones.
//!
//! Two sets of distorted queries, built alike (random offsets, generated noise and rooms,
//! SNRs 0–20 dB): windows of the library's own tracks, and windows of music that is *not*
//! in the library (`--unrelated`). Both are searched exhaustively (every answer has a
//! score). For each threshold t the table gives the share of library queries answered
//! right with score ≥ t (what t keeps) and the share of unrelated queries answered with
//! score ≥ t (false matches t lets through), then suggests the smallest t whose false
//! matches are at most `--max-false` per cent.

use super::bench::{Distorted, HIT_TOLERANCE_S, distorted_queries};
use super::model_choice::ModelArgs;
use anyhow::{Context, bail};
use earmark::index::{Library, Method, MinScore, Query, SearchSettings, Searcher};
use std::path::PathBuf;

/// Thresholds tabulated: 0.20, 0.25, …, 0.95.
const THRESHOLDS: std::ops::RangeInclusive<u32> = 4..=19;
const THRESHOLD_STEP: f32 = 0.05;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(short, long, value_name = "LIBRARY")]
    library: PathBuf,
    /// Where the indexed audio lives (default: the library file's directory).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Music that is not in the library (searched recursively).
    #[arg(long, value_name = "DIR")]
    unrelated: PathBuf,
    /// Queries of each kind.
    #[arg(long, value_name = "N", default_value_t = 200)]
    queries: usize,
    /// Query length in seconds.
    #[arg(long, value_name = "S", default_value_t = 2.0)]
    seconds: f64,
    /// Largest acceptable share of false matches, per cent.
    #[arg(long, value_name = "PCT", default_value_t = 1.0)]
    max_false: f64,
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let library = Library::open(&args.library, model.identity())?;
    let root = match &args.root {
        Some(root) => root.clone(),
        None => args.library.parent().map(PathBuf::from).unwrap_or_default(),
    };
    let hop = library.config().hop;
    let durations: Vec<f64> = library.tracks().iter().map(|t| t.duration_s).collect();
    let own = distorted_queries(
        &durations,
        |t| {
            earmark::audio::load_mono_16k(root.join(&library.tracks()[t].path))
                .context("the library's audio (use --root DIR to say where it is)")
        },
        args.queries,
        args.seconds,
        args.seed,
        &model,
        hop,
    )?;

    let files = earmark::train::data::list_audio(&args.unrelated)?;
    let indexed: std::collections::HashSet<u64> =
        library.tracks().iter().map(|t| t.content_hash).collect();
    let mut unrelated_audio = Vec::new();
    for f in &files {
        let hash =
            super::index::hash_file(f).with_context(|| format!("reading {}", f.display()))?;
        if indexed.contains(&hash) {
            bail!(
                "{}: this file is in the library; --unrelated must hold other music",
                f.display()
            );
        }
        unrelated_audio.push(earmark::audio::load_mono_16k(f)?);
    }
    let durations: Vec<f64> = unrelated_audio
        .iter()
        .map(|a| a.len() as f64 / f64::from(earmark::audio::SAMPLE_RATE))
        .collect();
    let others = distorted_queries(
        &durations,
        |t| Ok(unrelated_audio[t].clone()),
        args.queries,
        args.seconds,
        args.seed ^ 0x5eed,
        &model,
        hop,
    )?;

    let searcher = Searcher::new(&library, Method::Exhaustive);
    let settings = SearchSettings {
        min_score: MinScore::NONE,
        ..SearchSettings::default()
    };
    // (score of the best answer, whether it is right) per query.
    let answer = |q: &Distorted| -> anyhow::Result<Option<(f32, bool)>> {
        let query = Query {
            embeddings: &q.embeddings,
            logits: &q.logits,
            hop,
        };
        Ok(searcher.search(&query, &settings)?.best().map(|h| {
            let right = h.track == q.track && (h.start_s - q.start_s).abs() <= HIT_TOLERANCE_S;
            (h.score, right)
        }))
    };
    let own: Vec<(f32, bool)> = own
        .iter()
        .map(answer)
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let others: Vec<f32> = others
        .iter()
        .map(answer)
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .map(|(score, _)| score)
        .collect();
    let right = own.iter().filter(|(_, r)| *r).count();
    println!(
        "{} library queries ({} answered right at any score) and {} unrelated queries of {} s \
         from {} files",
        own.len(),
        right,
        others.len(),
        args.seconds,
        files.len()
    );
    println!(
        "{:>9} {:>14} {:>14}",
        "min-score", "right kept %", "false match %"
    );
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    let mut suggestion = None;
    for i in THRESHOLDS {
        let t = i as f32 * THRESHOLD_STEP;
        let kept = own.iter().filter(|&&(s, r)| r && s >= t).count();
        let false_matches = others.iter().filter(|&&s| s >= t).count();
        let false_pct = pct(false_matches, others.len());
        if suggestion.is_none() && false_pct <= args.max_false {
            suggestion = Some((t, pct(kept, own.len())));
        }
        println!("{t:>9.2} {:>14.1} {false_pct:>14.1}", pct(kept, own.len()));
    }
    match suggestion {
        Some((t, kept)) => println!(
            "suggested --min-score {t:.2}: at most {}% false matches, {kept:.1}% of queries \
             answered right",
            args.max_false
        ),
        None => println!(
            "no threshold up to {:.2} keeps false matches at or under {}%",
            *THRESHOLDS.end() as f32 * THRESHOLD_STEP,
            args.max_false
        ),
    }
    Ok(())
}
