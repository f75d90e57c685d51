//! `earmark train --music DIR --out MODEL`: trains a model (DESIGN §4) with a progress bar,
//! a CSV log (`MODEL.log.csv`), checkpoints (`MODEL.ckpt`) and exact `--resume`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use earmark::audio::augment::{AugmentConfig, Augmenter};
use earmark::audio::{N_MELS, SEGMENT_FRAMES, load_mono_16k};
use earmark::model::weights::Dtype;
use earmark::model::{Model, ModelConfig};
use earmark::train::checkpoint;
use earmark::train::data::{BatchConfig, BatchMaker, Corpus, Holdout, list_audio};
use earmark::train::log::CsvLog;
use earmark::train::trainer::{Observer, StepStats, TrainConfig, Trainer, run as train_run};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of music (searched recursively).
    #[arg(long)]
    music: PathBuf,
    /// Folder of background-noise recordings (generated noise otherwise).
    #[arg(long)]
    noise: Option<PathBuf>,
    /// Folder of room impulse responses (generated rooms otherwise).
    #[arg(long)]
    rir: Option<PathBuf>,
    /// Model preset: small or paper.
    #[arg(long, default_value = "small")]
    preset: String,
    /// Hash bits K (8–20).
    #[arg(long, default_value_t = 16)]
    k_bits: usize,
    /// Optimiser steps in total.
    #[arg(long, default_value_t = 10_000)]
    steps: u64,
    /// Pairs per batch.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Peak learning rate (after warm-up, then cosine decay).
    #[arg(long, default_value_t = 5e-4)]
    lr: f32,
    /// Warm-up steps (default 5 % of --steps).
    #[arg(long)]
    warmup: Option<u64>,
    /// Rows of recent hash outputs in the balanced assignment's queue (≥ --batch).
    #[arg(long, default_value_t = 3840)]
    queue: usize,
    /// Largest time shift of a positive, ms (either way).
    #[arg(long, default_value_t = 50.0)]
    shift_ms: f32,
    /// Add one hard negative per pair: the same track shifted by 100–500 ms.
    #[arg(long)]
    hard_negatives: bool,
    /// Weight λ_h of the hash contrastive loss.
    #[arg(long, default_value_t = 1.0)]
    lambda_h: f32,
    /// Weight λ_r of the balanced hash loss.
    #[arg(long, default_value_t = 1.0)]
    lambda_r: f32,
    /// Hold these tracks out (comma-separated names); default: 3 chosen by name hash.
    #[arg(long, value_delimiter = ',')]
    holdout: Vec<String>,
    /// Seed of the initialisation, the batches and the augmentation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write a checkpoint every N steps (and always at the end).
    #[arg(long, default_value_t = 500)]
    checkpoint_every: u64,
    /// Continue from a checkpoint written by an earlier run with the same settings.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Where to write the trained model (safetensors, f32).
    #[arg(long)]
    out: PathBuf,
}

/// Held-out tracks when --holdout is not given.
const DEFAULT_HOLDOUT: usize = 3;

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = ModelConfig::preset(&args.preset)?.with_k_bits(args.k_bits)?;
    anyhow::ensure!(
        args.batch >= 1 && args.steps >= 1,
        "--batch and --steps must be at least 1"
    );
    anyhow::ensure!(
        args.queue >= args.batch,
        "--queue ({}) must be at least --batch ({})",
        args.queue,
        args.batch
    );
    anyhow::ensure!(
        config.n_mels == N_MELS && config.segment_frames == SEGMENT_FRAMES,
        "the model's segment does not match the front-end's"
    );
    let holdout = if args.holdout.is_empty() {
        Holdout::Count(DEFAULT_HOLDOUT)
    } else {
        Holdout::Names(args.holdout.clone())
    };
    let warn = &mut |m: String| eprintln!("warning: {m}");
    let corpus = Corpus::load(&args.music, &holdout, warn)?;
    let hours: f64 = corpus
        .train
        .iter()
        .map(|t| t.samples.len() as f64)
        .sum::<f64>()
        / 16_000.0
        / 3600.0;
    eprintln!(
        "music: {} training tracks ({hours:.2} h), held out: {}",
        corpus.train.len(),
        corpus
            .holdout
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let augment = AugmentConfig {
        max_shift_s: args.shift_ms / 1000.0,
        ..AugmentConfig::default()
    };
    let augmenter = Augmenter::new(
        augment,
        read_folder(args.noise.as_deref())?,
        read_folder(args.rir.as_deref())?,
        args.seed,
    )?;
    let maker = BatchMaker::new(
        corpus.train,
        augmenter,
        BatchConfig {
            pairs: args.batch,
            hard_negatives: args.hard_negatives,
            seed: args.seed,
        },
    );

    let mut tc = TrainConfig::new(args.steps, args.seed);
    tc.lr = args.lr;
    tc.final_lr = args.lr / 100.0;
    tc.warmup = args.warmup.unwrap_or(tc.warmup);
    tc.queue = args.queue;
    tc.objective.lambda_h = args.lambda_h;
    tc.objective.lambda_r = args.lambda_r;
    let mut trainer = match &args.resume {
        Some(path) => {
            let t = checkpoint::load(path, tc)?;
            anyhow::ensure!(
                t.model.config() == &config,
                "{}: the checkpoint's model is not --preset {} with K = {}",
                path.display(),
                args.preset,
                args.k_bits
            );
            eprintln!("resuming at step {}", t.step);
            t
        }
        None => Trainer::new(Model::new(config, args.seed), tc),
    };

    let log_path = sibling(&args.out, ".log.csv");
    let bar = ProgressBar::new(args.steps);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .context("progress bar template")?,
    );
    bar.set_position(trainer.step);
    let mut observer = Progress {
        bar: bar.clone(),
        log: CsvLog::open(&log_path, args.resume.is_some())?,
        checkpoint: sibling(&args.out, ".ckpt"),
        out: args.out.clone(),
        started: std::time::Instant::now(),
        first_step: trainer.step,
    };
    let stop = AtomicBool::new(false);
    train_run(
        &mut trainer,
        &maker,
        args.checkpoint_every,
        &stop,
        &mut observer,
    )?;
    bar.finish();
    eprintln!(
        "model: {}  checkpoint: {}  log: {}",
        args.out.display(),
        observer.checkpoint.display(),
        log_path.display()
    );
    Ok(())
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Every audio file of an optional folder as 16 kHz mono; unreadable ones are errors (a
/// user who names a folder wants its files used).
fn read_folder(dir: Option<&Path>) -> anyhow::Result<Vec<Vec<f32>>> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let files = list_audio(dir)?;
    anyhow::ensure!(!files.is_empty(), "{}: no audio files", dir.display());
    Ok(files.iter().map(load_mono_16k).collect::<Result<_, _>>()?)
}

/// Progress bar, CSV log and checkpoints of a CLI run.
struct Progress {
    bar: ProgressBar,
    log: CsvLog,
    checkpoint: PathBuf,
    out: PathBuf,
    started: std::time::Instant,
    first_step: u64,
}

impl Observer for Progress {
    fn on_step(&mut self, _: &Trainer, s: &StepStats) -> earmark::Result<()> {
        self.log.write(s)?;
        let rate = (s.step - self.first_step) as f64 / self.started.elapsed().as_secs_f64();
        let l = &s.losses;
        self.bar.set_message(format!(
            "L_c {:.3} L_h {:.3} L_r {:.3} | {rate:.2} steps/s{}",
            l.l_c,
            l.l_h,
            l.l_r,
            if s.skipped {
                " (skipped: non-finite)"
            } else {
                ""
            }
        ));
        self.bar.set_position(s.step);
        Ok(())
    }

    fn on_checkpoint(&mut self, trainer: &Trainer) -> earmark::Result<()> {
        checkpoint::save(trainer, &self.checkpoint)?;
        trainer.model.save(&self.out, Dtype::F32)
    }
}
