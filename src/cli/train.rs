//! `earmark train --music DIR --out MODEL`: trains a model (DESIGN §4) with a progress bar,
//! a CSV log (`MODEL.log.csv`), checkpoints (`MODEL.ckpt`) and exact `--resume`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

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

use super::device::DeviceArgs;
use earmark::train::validate::{Validation, validate, validation_conditions};

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
    /// Validate on the held-out tracks every N steps (and at the end); 0 = never.
    #[arg(long, default_value_t = 500)]
    validate_every: u64,
    /// Queries per validation condition.
    #[arg(long, default_value_t = 100)]
    val_queries: usize,
    /// Where to write the trained model (safetensors, f32).
    #[arg(long)]
    out: PathBuf,
    /// Checkpoints and --resume are the same on both devices.
    #[command(flatten)]
    device: DeviceArgs,
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
    let (noises, rirs) = (
        read_folder(args.noise.as_deref())?,
        read_folder(args.rir.as_deref())?,
    );
    // Validation draws its own rooms at the exact RT60s it tests, from a seed of its own,
    // so that it is the same at every step and across resumes.
    let val_augmenter = earmark::eval::queries::eval_augmenter(
        &validation_conditions(),
        noises.clone(),
        rirs.clone(),
        args.seed ^ VALIDATION_SEED,
    )?;
    let holdout: Vec<Vec<f32>> = corpus.holdout.iter().map(|t| t.samples.clone()).collect();
    let augmenter = Augmenter::new(augment, noises, rirs, args.seed)?;
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
    // The validation log follows the step log: continued on resume, restarted otherwise.
    let val_log = sibling(&args.out, ".val.csv");
    match args.resume {
        Some(_) => earmark::train::log::truncate_after(&val_log, trainer.step)?,
        None if val_log.exists() => {
            std::fs::remove_file(&val_log).map_err(|e| earmark::Error::io(&val_log, e))?
        }
        None => {}
    }
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
        log: CsvLog::open(&log_path, args.resume.is_some().then_some(trainer.step))?,
        checkpoint: sibling(&args.out, ".ckpt"),
        out: args.out.clone(),
        started: std::time::Instant::now(),
        first_step: trainer.step,
        last_step: args.steps,
        validation: (args.validate_every > 0 && !holdout.is_empty()).then_some(Validator {
            every: args.validate_every,
            queries: args.val_queries,
            seed: args.seed ^ VALIDATION_SEED,
            tracks: holdout,
            augmenter: val_augmenter,
            log: val_log,
        }),
    };
    install_interrupt_handler()?;
    let device = args.device.open()?;
    #[cfg(feature = "gpu")]
    if let Some(gpu) = &device.gpu {
        let mut on_gpu = earmark::gpu::GpuTrainer::from_trainer(gpu, &trainer)?;
        drop(trainer);
        train_run(
            &mut on_gpu,
            &maker,
            args.checkpoint_every,
            &STOP,
            &mut observer,
        )?;
        let step = on_gpu.steps();
        return finish(&bar, &args.out, &observer.checkpoint, &log_path, step);
    }
    #[cfg(not(feature = "gpu"))]
    let _ = device;
    train_run(
        &mut trainer,
        &maker,
        args.checkpoint_every,
        &STOP,
        &mut observer,
    )?;
    finish(
        &bar,
        &args.out,
        &observer.checkpoint,
        &log_path,
        trainer.step,
    )
}

/// The end of a run at `step`: stopped by Ctrl-C (an error naming the checkpoint to resume
/// from), or finished (the bar closed, and where everything went).
fn finish(
    bar: &ProgressBar,
    out: &Path,
    checkpoint: &Path,
    log: &Path,
    step: u64,
) -> anyhow::Result<()> {
    if STOP.load(Ordering::Relaxed) {
        bar.abandon();
        anyhow::bail!(
            "interrupted at step {step}: checkpoint {} written; continue with --resume {}",
            checkpoint.display(),
            checkpoint.display()
        );
    }
    bar.finish();
    eprintln!(
        "model: {}  checkpoint: {}  log: {}",
        out.display(),
        checkpoint.display(),
        log.display()
    );
    Ok(())
}

/// Set by the first Ctrl-C: the run finishes its step, writes a checkpoint and stops.
static STOP: AtomicBool = AtomicBool::new(false);

/// First Ctrl-C (SIGINT): stop after the current step with a checkpoint. A second one
/// exits at once, for a user who does not want to wait for the step.
fn install_interrupt_handler() -> anyhow::Result<()> {
    ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::Relaxed) {
            eprintln!("\ninterrupted again: exiting without a checkpoint");
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: writing a checkpoint after this step (Ctrl-C again to quit now)");
    })
    .context("installing the Ctrl-C handler")
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

/// Seed offset of the validation queries (any fixed value: it keeps them apart from the
/// training batches of the same `--seed`).
const VALIDATION_SEED: u64 = 0x7a1d_a7e5;

/// Held-out validation (issue 5): hit rates, bucket occupancy, bucket stability.
struct Validator {
    every: u64,
    queries: usize,
    seed: u64,
    tracks: Vec<Vec<f32>>,
    augmenter: Augmenter,
    /// `MODEL.val.csv`: step, then [`Validation::csv_row`].
    log: PathBuf,
}

impl Validator {
    fn run(&self, model: &Model, step: u64) -> earmark::Result<Validation> {
        let v = validate(
            model,
            &self.tracks,
            &self.augmenter,
            self.queries,
            self.seed,
        )?;
        use std::io::Write;
        let fresh = !self.log.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| earmark::Error::io(&self.log, e))?;
        let write = |f: &mut std::fs::File| -> std::io::Result<()> {
            if fresh {
                writeln!(f, "step,{}", Validation::csv_header())?;
            }
            writeln!(f, "{step},{}", v.csv_row())
        };
        write(&mut f).map_err(|e| earmark::Error::io(&self.log, e))?;
        Ok(v)
    }
}

/// Progress bar, CSV log, validation and checkpoints of a CLI run.
struct Progress {
    bar: ProgressBar,
    log: CsvLog,
    checkpoint: PathBuf,
    out: PathBuf,
    started: std::time::Instant,
    first_step: u64,
    last_step: u64,
    validation: Option<Validator>,
}

/// A run on either device as the observer needs it: its state on the host, for
/// validation and checkpoints (a copy from the device for a GPU run).
trait OnHost {
    fn with_host<R>(&self, f: impl FnOnce(&Trainer) -> earmark::Result<R>) -> earmark::Result<R>;
}

impl OnHost for Trainer {
    fn with_host<R>(&self, f: impl FnOnce(&Trainer) -> earmark::Result<R>) -> earmark::Result<R> {
        f(self)
    }
}

#[cfg(feature = "gpu")]
impl OnHost for earmark::gpu::GpuTrainer<'_> {
    fn with_host<R>(&self, f: impl FnOnce(&Trainer) -> earmark::Result<R>) -> earmark::Result<R> {
        f(&self.to_trainer()?)
    }
}

impl<T: OnHost> Observer<T> for Progress {
    fn on_step(&mut self, trainer: &T, s: &StepStats) -> earmark::Result<()> {
        self.log.write(s)?;
        if let Some(v) = &self.validation
            && (s.step.is_multiple_of(v.every) || s.step == self.last_step)
        {
            let result = trainer.with_host(|t| v.run(&t.model, s.step))?;
            let line = format!("step {}: {result}", s.step);
            // A hidden bar (stderr not a terminal, e.g. a nohup log) drops println.
            if self.bar.is_hidden() {
                eprintln!("{line}");
            } else {
                self.bar.println(line);
            }
        }
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

    fn on_checkpoint(&mut self, trainer: &T) -> earmark::Result<()> {
        trainer.with_host(|t| {
            checkpoint::save(t, &self.checkpoint)?;
            t.model.save(&self.out, Dtype::F32)
        })
    }
}
