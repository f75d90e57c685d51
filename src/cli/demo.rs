//! `earmark demo`: the whole job on the small demo set shipped in the repository (`demo/`:
//! one-minute excerpts of four tracks held out of training, and three noise recordings).
//! It indexes the music in memory, cuts distorted queries at random offsets, identifies
//! them, and prints every answer beside the truth, with its timing — then shows that a
//! query of unrelated audio gets no match.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use earmark::audio::augment::Condition;
use earmark::audio::{SAMPLE_RATE, load_mono_16k};
use earmark::eval::{
    STRICT_S, Table, answer_query, eval_augmenter, judge, plan_queries, render_query,
};
use earmark::index::{LibraryBuilder, LibraryConfig, Method, SearchSettings, Searcher};
use earmark::train::data::list_audio;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The demo set: `music/` and `noise/` folders (default: the repository's `demo/`).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Distorted queries to identify (the conditions below, in turn).
    #[arg(long, default_value_t = 8)]
    queries: usize,
    /// Seed of the queries' tracks, offsets, noise and rooms.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    model: super::model_choice::ModelArgs,
}

/// The queries' (length s, condition), in turn: the paper's distortions, from easy to hard.
const QUERIES: [(f32, Condition); 8] = [
    (3.0, Condition::Clean),
    (3.0, Condition::Noise { snr_db: 10.0 }),
    (
        3.0,
        Condition::NoiseReverb {
            snr_db: 10.0,
            rt60_s: 0.5,
        },
    ),
    (5.0, Condition::Noise { snr_db: 0.0 }),
    (2.0, Condition::Reverb { rt60_s: 0.5 }),
    (1.0, Condition::Noise { snr_db: 20.0 }),
    (5.0, Condition::Reverb { rt60_s: 0.8 }),
    (2.0, Condition::Noise { snr_db: 5.0 }),
];

/// Seconds of unrelated audio (a noise recording alone) in the no-match query.
const UNRELATED_S: f64 = 3.0;

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = match args.dir {
        Some(dir) => dir,
        None => default_dir()?,
    };
    let model = args.model.load()?;
    let (music_dir, noise_dir) = (dir.join("music"), dir.join("noise"));
    if !music_dir.is_dir() || !noise_dir.is_dir() {
        bail!(
            "{}: not a demo set: it needs music/ and noise/ folders of audio",
            dir.display()
        );
    }
    let (music, noise_files) = (list_audio(&music_dir)?, list_audio(&noise_dir)?);
    if music.is_empty() || noise_files.is_empty() {
        bail!(
            "{}: the demo set needs audio in music/ and noise/",
            dir.display()
        );
    }

    // Index the music, in memory.
    let started = Instant::now();
    let config = LibraryConfig::new(model.identity(), model.config().k_bits as u32);
    let mut builder = LibraryBuilder::new(config);
    let mut tracks = Vec::with_capacity(music.len());
    for (i, path) in music.iter().enumerate() {
        let samples = load_mono_16k(path)?;
        let e = model.embed_audio(&samples, config.hop as usize)?;
        let name = track_name(&music_dir, path);
        let duration_s = samples.len() as f64 / f64::from(SAMPLE_RATE);
        builder.add_track(&name, duration_s, i as u64, &e.embeddings, &e.logits)?;
        tracks.push(samples);
    }
    let library = builder.build();
    let minutes: f64 = library.tracks().iter().map(|t| t.duration_s).sum::<f64>() / 60.0;
    println!(
        "indexed {} tracks of real music ({minutes:.1} min, {} segments) from {} in {:.1} s",
        library.tracks().len(),
        library.rows(),
        relative_to_cwd(&music_dir).display(),
        started.elapsed().as_secs_f64()
    );

    // Queries: each condition in turn, at a random track and offset (to the sample).
    let noises = noise_files
        .iter()
        .map(load_mono_16k)
        .collect::<Result<Vec<_>, _>>()?;
    let conditions: Vec<Condition> = QUERIES.iter().map(|&(_, c)| c).collect();
    let augmenter = eval_augmenter(&conditions, noises.clone(), Vec::new(), args.seed)?;
    let sizes: Vec<usize> = tracks.iter().map(Vec::len).collect();
    let searcher = Searcher::new(&library, Method::HashTable);
    let settings = SearchSettings::default();

    println!(
        "\n{:>3}  {:<22} {:<34} {:<42} {:>7}",
        "#", "query", "truth", "answer (score)", "ms"
    );
    let (mut hits, mut total_ms) = (0, 0.0);
    for i in 0..args.queries {
        let (length_s, condition) = QUERIES[i % QUERIES.len()];
        let seed = args.seed.wrapping_add(i as u64);
        let plan = plan_queries(&sizes, &[length_s], &[condition], 1, seed)?[0];
        let audio = render_query(&plan, &tracks[plan.track], &augmenter);
        let outcome = answer_query(&model, &searcher, &settings, &audio)?;
        let verdict = judge(Some(plan.track), plan.start_s(), outcome.hit);
        let ms = outcome.embed_ms + outcome.search_ms;
        total_ms += ms;
        hits += usize::from(verdict.strict);
        let truth = format!(
            "{} @ {:.3} s",
            library.tracks()[plan.track].path,
            plan.start_s()
        );
        let answer = match outcome.hit {
            Some((t, start_s)) => format!(
                "{} @ {start_s:.3} s ({:.2})",
                library.tracks()[t].path,
                outcome.score
            ),
            None => "no match".to_string(),
        };
        let mark = if verdict.strict {
            "hit"
        } else if verdict.track {
            "track right, start off"
        } else {
            "MISS"
        };
        println!(
            "{:>3}  {:<22} {truth:<34} {answer:<42} {ms:>7.1}  {mark}",
            i + 1,
            format!("{length_s} s {}", Table::column_label(condition)),
        );
    }

    // Unrelated audio: a noise recording alone must not be matched to any track.
    let noise = &noises[args.seed as usize % noises.len()];
    let len = ((UNRELATED_S * f64::from(SAMPLE_RATE)) as usize).min(noise.len());
    let outcome = answer_query(&model, &searcher, &settings, &noise[..len])?;
    let unrelated = match outcome.hit {
        None => "no match".to_string(),
        Some((t, start_s)) => format!(
            "{} @ {start_s:.3} s ({:.2})",
            library.tracks()[t].path,
            outcome.score
        ),
    };
    let name = track_name(&noise_dir, &noise_files[args.seed as usize % noises.len()]);
    println!(
        "{:>3}  {:<22} {:<34} {unrelated:<42} {:>7.1}  {}",
        "-",
        format!("{UNRELATED_S} s of noise"),
        format!("{name} (not music)"),
        outcome.embed_ms + outcome.search_ms,
        if outcome.hit.is_none() {
            "right"
        } else {
            "WRONG"
        }
    );
    println!(
        "\n{hits}/{} identified (right track, start within ±{:.0} ms); {:.1} ms per query on \
         average (embedding + search)",
        args.queries,
        STRICT_S * 1e3,
        total_ms / args.queries.max(1) as f64
    );
    Ok(())
}

/// The repository's `demo/` folder: next to the manifest this binary was built from, or
/// under the current directory.
fn default_dir() -> anyhow::Result<PathBuf> {
    let candidates = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("demo"),
        PathBuf::from("demo"),
    ];
    candidates
        .iter()
        .find(|d| d.join("music").is_dir())
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no demo set found (looked for {} and ./demo): pass --dir DIR with music/ \
                 and noise/ folders",
                candidates[0].display()
            )
        })
}

/// `path` relative to the current directory when it lies under it (for display).
fn relative_to_cwd(path: &Path) -> &Path {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(path)
}

/// `path` relative to `root`, `/`-separated.
fn track_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
