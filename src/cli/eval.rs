//! `earmark eval`: hit rates under the paper's distortions (DESIGN.md §6), from queries it
//! builds from the indexed music, or from queries built elsewhere (`--truth CSV`).
//!
//! Outputs under `--out`: truth.csv, answers.csv, table.csv, results.json, the hit-rate
//! charts hit_rate_{noise,noise_reverb,reverb}.{svg,png} (and the rendered queries as WAV
//! with `--write-queries`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use earmark::audio::augment::Condition;
use earmark::audio::{SAMPLE_RATE, WavSample, load_mono_16k, write_wav};
use earmark::eval::table::{json_number, json_string};
use earmark::eval::truth::csv_field;
use earmark::eval::{
    Table, Truth, answer_query, condition_name, condition_param, eval_augmenter, judge,
    paper_conditions, parse_truth_csv, plan_queries, render_query, write_truth_csv,
};
use earmark::index::{Library, LshParams, Method, MinScore, SearchSettings, Searcher};
use earmark::plot::hit_rate::hit_rate_charts;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The library (built by `earmark index` from --music with the same model).
    #[arg(short = 'l', long)]
    library: PathBuf,
    /// The indexed root: the library's track paths are relative to it.
    #[arg(long, required_unless_present = "truth")]
    music: Option<PathBuf>,
    /// Noise recordings (any supported audio, recursively); generated noise if absent.
    #[arg(long)]
    noise: Option<PathBuf>,
    /// Room impulse responses; rooms generated at each RT60 if absent.
    #[arg(long)]
    rir: Option<PathBuf>,
    /// Score queries built elsewhere:
    /// `query_file,track,start_seconds,length,condition,param`.
    #[arg(long, conflicts_with_all = ["music", "noise", "rir"])]
    truth: Option<PathBuf>,
    /// Queries per cell (length × condition).
    #[arg(long, default_value_t = 20)]
    queries: usize,
    /// Query lengths, seconds.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,5")]
    lengths: Vec<f32>,
    /// Search methods: ht (hash table), lsh, exhaustive.
    #[arg(long, value_delimiter = ',', default_value = "ht,exhaustive")]
    methods: Vec<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long, default_value = "eval-out")]
    out: PathBuf,
    /// Also write the rendered queries as WAV files under OUT/queries.
    #[arg(long)]
    write_queries: bool,
    #[command(flatten)]
    model: super::model_choice::ModelArgs,
}

fn method(name: &str) -> anyhow::Result<Method> {
    match name {
        "ht" => Ok(Method::HashTable),
        "lsh" => Ok(Method::Lsh(LshParams::default())),
        "exhaustive" => Ok(Method::Exhaustive),
        other => bail!("unknown method `{other}` (expected ht, lsh or exhaustive)"),
    }
}

fn load_folder(dir: Option<&Path>) -> anyhow::Result<Vec<Vec<f32>>> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let files = earmark::train::data::list_audio(dir)?;
    if files.is_empty() {
        bail!("no audio files in {}", dir.display());
    }
    files
        .iter()
        .map(|f| load_mono_16k(f).with_context(|| format!("reading {}", f.display())))
        .collect()
}

fn progress(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} queries {per_sec} eta {eta}")
            .expect("a valid progress template"),
    );
    bar
}

/// Renders (or reads) query i's audio, 16 kHz mono.
type AudioOf = Box<dyn Fn(usize) -> anyhow::Result<Vec<f32>>>;

/// One scored query in answers.csv.
struct AnswerRow {
    truth: usize,
    method: usize,
    line: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let library = Library::open(&args.library, model.identity())
        .with_context(|| format!("opening library {}", args.library.display()))?;
    let methods = args
        .methods
        .iter()
        .map(|m| method(m))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let searchers: Vec<Searcher> = methods
        .iter()
        .map(|&m| Searcher::new(&library, m))
        .collect();
    // The paper's protocol scores the best answer at any score: top-1 hit rates, with no
    // no-match threshold (that trade-off is `earmark bench threshold`'s).
    let settings = SearchSettings {
        min_score: MinScore::NONE,
        ..SearchSettings::default()
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;

    // Ground truth, and a way to get each query's audio.
    let (truths, lengths, conditions, audio_of): (Vec<Truth>, Vec<f32>, Vec<Condition>, AudioOf) =
        match &args.truth {
            Some(csv) => {
                let text = std::fs::read_to_string(csv)
                    .with_context(|| format!("reading {}", csv.display()))?;
                let truths = parse_truth_csv(&text).with_context(|| csv.display().to_string())?;
                let base = csv.parent().unwrap_or(Path::new(".")).to_path_buf();
                let mut lengths: Vec<f32> = truths.iter().map(|t| t.length_s as f32).collect();
                lengths.sort_by(f32::total_cmp);
                lengths.dedup();
                let mut conditions: Vec<Condition> = paper_conditions();
                conditions.insert(0, Condition::Clean);
                conditions.retain(|c| truths.iter().any(|t| t.condition == *c));
                for t in &truths {
                    if !conditions.contains(&t.condition) {
                        conditions.push(t.condition);
                    }
                }
                let files: Vec<PathBuf> = truths.iter().map(|t| base.join(&t.query_file)).collect();
                let audio = move |i: usize| {
                    load_mono_16k(&files[i])
                        .with_context(|| format!("reading {}", files[i].display()))
                };
                (truths, lengths, conditions, Box::new(audio))
            }
            None => {
                let music = args
                    .music
                    .clone()
                    .expect("clap requires --music without --truth");
                let conditions = paper_conditions();
                let noises = load_folder(args.noise.as_deref())?;
                let rirs = load_folder(args.rir.as_deref())?;
                let augmenter = eval_augmenter(&conditions, noises, rirs, args.seed)?;
                eprintln!(
                    "loading {} tracks from {}",
                    library.tracks().len(),
                    music.display()
                );
                let tracks = library
                    .tracks()
                    .iter()
                    .map(|t| {
                        let path = music.join(&t.path);
                        load_mono_16k(&path).with_context(|| {
                            format!("reading {} (is --music the indexed root?)", path.display())
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let sizes: Vec<usize> = tracks.iter().map(Vec::len).collect();
                let plan =
                    plan_queries(&sizes, &args.lengths, &conditions, args.queries, args.seed)?;
                let truths: Vec<Truth> = plan
                    .iter()
                    .enumerate()
                    .map(|(i, q)| Truth {
                        query_file: if args.write_queries {
                            format!("queries/q{i:06}.wav")
                        } else {
                            format!("q{i:06}")
                        },
                        track: library.tracks()[q.track].path.clone(),
                        start_s: q.start_s(),
                        length_s: q.length_s(),
                        condition: q.condition,
                    })
                    .collect();
                if args.write_queries {
                    std::fs::create_dir_all(args.out.join("queries"))?;
                }
                let (out, write) = (args.out.clone(), args.write_queries);
                let audio = move |i: usize| -> anyhow::Result<Vec<f32>> {
                    let q = &plan[i];
                    let x = render_query(q, &tracks[q.track], &augmenter);
                    if write {
                        write_wav(
                            out.join(format!("queries/q{i:06}.wav")),
                            &x,
                            1,
                            SAMPLE_RATE,
                            WavSample::I16,
                        )?;
                    }
                    Ok(x)
                };
                (truths, args.lengths.clone(), conditions, Box::new(audio))
            }
        };
    std::fs::write(args.out.join("truth.csv"), write_truth_csv(&truths))?;

    let mut table = Table::new(lengths.clone(), args.methods.clone(), conditions.clone());
    let mut answers = Vec::new();
    let bar = progress(truths.len());
    for (i, truth) in truths.iter().enumerate() {
        let audio = audio_of(i)?;
        let l = lengths
            .iter()
            .position(|&x| (f64::from(x) - truth.length_s).abs() < 1e-3)
            .expect("lengths come from the truths");
        let c = conditions
            .iter()
            .position(|&c| c == truth.condition)
            .expect("conditions come from the truths");
        let true_track = library.find(&truth.track);
        for (m, searcher) in searchers.iter().enumerate() {
            let outcome = answer_query(&model, searcher, &settings, &audio)?;
            let verdict = judge(true_track, truth.start_s, outcome.hit);
            table.cell_mut(l, m, c).add(verdict, &outcome);
            let (track, start) = match outcome.hit {
                Some((t, s)) => (csv_field(&library.tracks()[t].path), format!("{s:.4}")),
                None => (String::new(), String::new()),
            };
            answers.push(AnswerRow {
                truth: i,
                method: m,
                line: format!(
                    "{},{},{},{:.4},{},{},{},{},{},{:.4},{},{},{},{:.4},{:.3},{:.3}",
                    csv_field(&truth.query_file),
                    args.methods[m],
                    csv_field(&truth.track),
                    truth.start_s,
                    truth.length_s,
                    condition_name(truth.condition),
                    condition_param(truth.condition),
                    track,
                    start,
                    outcome.score,
                    u8::from(verdict.strict),
                    u8::from(verdict.loose),
                    u8::from(verdict.track),
                    outcome.eval_percent,
                    outcome.embed_ms,
                    outcome.search_ms,
                ),
            });
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let mut csv = String::from(
        "query_file,method,track,start_seconds,length,condition,param,predicted_track,predicted_start_seconds,score,strict,loose,track_hit,eval_percent,embed_ms,search_ms\n",
    );
    answers.sort_by_key(|a| (a.truth, a.method));
    for a in &answers {
        csv.push_str(&a.line);
        csv.push('\n');
    }
    std::fs::write(args.out.join("answers.csv"), csv)?;
    std::fs::write(args.out.join("table.csv"), table.to_csv())?;
    let json = format!(
        "{{\n\"library\": {},\n\"model\": {},\n\"seed\": {},\n\"queries\": {},\n\"strict_window_s\": {},\n\"loose_window_s\": {},\n\"cells\": {}\n}}\n",
        json_string(&args.library.display().to_string()),
        json_string(&format!("{:016x}", model.identity())),
        args.seed,
        truths.len(),
        json_number(earmark::eval::STRICT_S),
        json_number(earmark::eval::LOOSE_S),
        table.to_json()
    );
    std::fs::write(args.out.join("results.json"), json)?;
    let charts: Vec<(String, earmark::plot::Chart)> = hit_rate_charts(&table)
        .into_iter()
        .map(|(stem, chart)| (stem.to_string(), chart))
        .collect();
    super::plot::write_all(&charts, &args.out)?;
    print!("{}", table.render(true));
    println!(
        "top-1 hit % (±50 ms); track% = right track; ms/q = search; written to {}",
        args.out.display()
    );
    Ok(())
}
