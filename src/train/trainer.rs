//! The training loop: Adam with warm-up + cosine decay, gradient clipping, the Sinkhorn
//! queue, and [`run`], which overlaps batch preparation (a producer thread) with the
//! optimiser steps.
//!
//! Everything that decides the next update is in a [`Trainer`] (model, Adam moments, queue,
//! step) and is saved by a checkpoint; batches are a pure function of (seed, step)
//! ([`BatchMaker::make`]). So a run stopped after step k and resumed from its checkpoint
//! computes exactly the same floats as an unbroken run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use crate::Result;
use crate::autograd::Tape;
use crate::model::Model;
use crate::train::data::BatchMaker;
use crate::train::objective::{Losses, ObjectiveConfig, PairBatch, objective};
use crate::train::optim::{Adam, AdamConfig, LrSchedule, clip_grad_norm};
use crate::train::sinkhorn::HashQueue;

/// Batches prepared ahead of the optimiser (bounded: memory stays at a few batches).
const PREFETCH: usize = 2;

/// Settings of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// Total optimiser steps.
    pub steps: u64,
    /// Peak learning rate (DESIGN §4 reference 1e-4; issue 5 default 5e-4 with warm-up).
    pub lr: f32,
    /// Warm-up steps (linear to the peak), then cosine decay to `final_lr` at `steps`.
    pub warmup: u64,
    pub final_lr: f32,
    /// Global gradient-norm clip.
    pub clip: f32,
    /// Rows of recent anchor q̂ kept for the balanced assignment.
    pub queue: usize,
    /// The run's seed (batches; the model's initialisation is the caller's).
    pub seed: u64,
    pub objective: ObjectiveConfig,
}

impl TrainConfig {
    /// Defaults for `steps` steps: lr 5e-4, 5 % warm-up, decay to 1 % of the peak, clip 1,
    /// a queue of 3840 rows (SwAV's), the default objective.
    pub fn new(steps: u64, seed: u64) -> TrainConfig {
        TrainConfig {
            steps,
            lr: 5e-4,
            warmup: (steps / 20).max(1),
            final_lr: 5e-6,
            clip: 1.0,
            queue: 3840,
            seed,
            objective: ObjectiveConfig::default(),
        }
    }

    pub fn schedule(&self) -> LrSchedule {
        LrSchedule {
            peak: self.lr,
            warmup: self.warmup,
            total: self.steps,
            final_lr: self.final_lr,
        }
    }
}

/// What one step did, for the log.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    /// The 1-based number of the step just taken.
    pub step: u64,
    pub lr: f32,
    pub losses: Losses,
    /// Gradient norm before clipping.
    pub grad_norm: f32,
    /// Wall time of the step (forward, backward, update), s.
    pub seconds: f64,
    /// Whether the update was skipped (non-finite loss or gradient).
    pub skipped: bool,
}

/// The full state of a run.
pub struct Trainer {
    pub model: Model,
    pub adam: Adam,
    pub queue: HashQueue,
    /// Rows ever pushed into the queue (fixes its ring-buffer cursor on resume).
    pub queue_pushed: u64,
    /// Steps taken so far.
    pub step: u64,
    pub config: TrainConfig,
}

impl Trainer {
    /// A fresh run on `model`.
    pub fn new(model: Model, config: TrainConfig) -> Trainer {
        let adam = Adam::new(AdamConfig::adam(), &model.params);
        let queue = HashQueue::new(model.config().k_bits, config.queue);
        Trainer {
            model,
            adam,
            queue,
            queue_pushed: 0,
            step: 0,
            config,
        }
    }

    /// One optimiser step on `batch`.
    ///
    /// # Panics
    /// If B exceeds the queue's capacity (a checkpoint could not restore such a queue).
    pub fn step(&mut self, batch: &PairBatch) -> StepStats {
        assert!(
            batch.pairs() <= self.queue.capacity(),
            "Trainer::step: B = {} pairs exceeds the queue of {} rows",
            batch.pairs(),
            self.queue.capacity()
        );
        let t0 = Instant::now();
        let lr = self.config.schedule().lr(self.step);
        let store = &mut self.model.params;
        store.zero_grad();
        let mut tape = Tape::new();
        let (loss, losses, qhat) = objective(
            &mut tape,
            &self.model.encoder,
            store,
            batch,
            &self.queue,
            &self.config.objective,
        );
        let mut skipped = !losses.total.is_finite();
        let mut norm = f32::NAN;
        if !skipped {
            tape.backward(&loss);
            tape.accumulate_param_grads(store);
            drop(tape);
            norm = clip_grad_norm(store, self.config.clip);
            skipped = !norm.is_finite();
        }
        if !skipped {
            let _p = crate::profile::scope("train.adam", 0);
            self.adam.step(store, lr);
        }
        self.queue.push(&qhat);
        self.queue_pushed += batch.pairs() as u64;
        self.step += 1;
        StepStats {
            step: self.step,
            lr,
            losses,
            grad_norm: norm,
            seconds: t0.elapsed().as_secs_f64(),
            skipped,
        }
    }
}

/// A run that [`run`] can drive: the CPU [`Trainer`], or a device's
/// (`gpu::GpuTrainer`, which exports its state to a [`Trainer`] for checkpoints).
pub trait Learner {
    /// Steps taken so far.
    fn steps_taken(&self) -> u64;
    /// The step to stop at (`TrainConfig::steps`).
    fn total_steps(&self) -> u64;
    /// One optimiser step on `batch`.
    fn learn(&mut self, batch: &PairBatch) -> Result<StepStats>;
}

impl Learner for Trainer {
    fn steps_taken(&self) -> u64 {
        self.step
    }

    fn total_steps(&self) -> u64 {
        self.config.steps
    }

    fn learn(&mut self, batch: &PairBatch) -> Result<StepStats> {
        Ok(self.step(batch))
    }
}

/// Callbacks of [`run`], called on the training thread with the learner `L`.
pub trait Observer<L: ?Sized = Trainer> {
    /// After every step.
    fn on_step(&mut self, trainer: &L, stats: &StepStats) -> Result<()>;
    /// Every `checkpoint_every` steps, when stopped, and at the end (write a checkpoint).
    fn on_checkpoint(&mut self, trainer: &L) -> Result<()>;
}

/// Trains until the learner's total steps or until `stop` is set (checked between steps),
/// with batches made by `maker` on a producer thread. `checkpoint_every` = 0 checkpoints
/// only at the end. Returns the number of steps taken in this call.
pub fn run<L: Learner + ?Sized>(
    trainer: &mut L,
    maker: &BatchMaker,
    checkpoint_every: u64,
    stop: &AtomicBool,
    observer: &mut dyn Observer<L>,
) -> Result<u64> {
    let (first, last) = (trainer.steps_taken(), trainer.total_steps());
    let halt = AtomicBool::new(false);
    let taken = std::thread::scope(|s| -> Result<u64> {
        let (tx, rx) = sync_channel::<PairBatch>(PREFETCH);
        let halt = &halt;
        s.spawn(move || {
            for step in first..last {
                if halt.load(Ordering::Relaxed) || tx.send(maker.make(step)).is_err() {
                    break;
                }
            }
        });
        let result = (|| {
            let mut taken = 0;
            for batch in rx.iter() {
                let stats = trainer.learn(&batch)?;
                taken += 1;
                observer.on_step(trainer, &stats)?;
                let stopping = stop.load(Ordering::Relaxed);
                let step = trainer.steps_taken();
                let due = checkpoint_every > 0 && step.is_multiple_of(checkpoint_every);
                if step == last || due || stopping {
                    observer.on_checkpoint(trainer)?;
                }
                if stopping {
                    break;
                }
            }
            Ok(taken)
        })();
        // Release the producer whether we finished, stopped or failed.
        halt.store(true, Ordering::Relaxed);
        drop(rx);
        result
    })?;
    Ok(taken)
}
