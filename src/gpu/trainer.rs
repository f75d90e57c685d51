//! The CPU [`Trainer`]'s optimiser step with every tensor resident on the device.
//!
//! ```text
//! segments [x; x⁺; h] (2B + M) ──GpuModel::forward──▶ e (2B+M, E), q (2B+M, K)
//! q̂ = q / ‖q‖                                           l2norm_forward
//! L_c = NT-Xent(e_x; [e_x⁺; e_h]),  L_h = NT-Xent(q̂_x; [q̂_x⁺; q̂_h])   ntxent_forward
//! k*  = balanced assignment of q̂_x over [batch; queue]   balanced_assign
//! L_r = hash loss(q̂_x, q̂_x⁺; k*)                         hash_loss_forward
//! backward of the losses (weights 1, λ_h, λ_r as the upstream gradients) → de, dq
//! GpuModel::backward(de, dq);  ‖g‖ (one read-back, with the three losses)
//! AdamW with the clip factor folded into the gradient;  push q̂_x into the queue
//! ```
//!
//! The functions, weights, schedule, clipping, skipping of non-finite steps and the
//! queue's storage order are the CPU [`Trainer::step`]'s, so that a run can move
//! between devices through [`GpuTrainer::from_trainer`] / [`GpuTrainer::to_trainer`]
//! (and so through checkpoints and `--resume`). Per step the host reads back four
//! scalars (the losses) and one value per parameter tensor (the gradient norm).

use std::time::Instant;

use crate::error::{Error, Result};
use crate::gpu::queue::GpuQueue;
use crate::gpu::{
    BalancedScratch, Gpu, GpuBuffer, GpuModel, HashLoss, NtXent, axpy, balanced_assign,
    hash_loss_backward, hash_loss_forward, l2norm_backward, l2norm_forward, ntxent_backward,
    ntxent_forward,
};
use crate::model::Model;
use crate::train::objective::{Losses, PairBatch, QHAT_EPS};
use crate::train::optim::{Adam, AdamConfig};
use crate::train::trainer::{Learner, StepStats, TrainConfig, Trainer};

/// A training run on the device: the [`GpuModel`] (parameters, gradients, moments),
/// the Sinkhorn queue and the step count.
pub struct GpuTrainer<'g> {
    gpu: &'g Gpu,
    model: GpuModel<'g>,
    optimiser: AdamConfig,
    queue: GpuQueue,
    /// Steps taken so far (skipped ones included, as on the CPU).
    step: u64,
    config: TrainConfig,
    /// The upstream gradients of L_c, L_h, L_r: 1, λ_h, λ_r (one element each).
    weights: [GpuBuffer; 3],
    work: Option<StepBuffers>,
}

impl<'g> GpuTrainer<'g> {
    /// A fresh run on `model`, as [`Trainer::new`].
    pub fn new(gpu: &'g Gpu, model: Model, config: TrainConfig) -> Result<Self> {
        Self::from_trainer(gpu, &Trainer::new(model, config))
    }

    /// Continues `trainer`'s run on the device: its parameters, Adam moments and step,
    /// queue and step count. Fails for settings without a GPU kernel (same-view
    /// negatives) or a Sinkhorn setting the solver rejects.
    pub fn from_trainer(gpu: &'g Gpu, trainer: &Trainer) -> Result<Self> {
        let config = trainer.config;
        let objective = &config.objective;
        if objective.contrastive.same_view_negatives {
            return Err(Error::invalid(
                "NT-Xent with same-view negatives has no GPU kernel; train it with --device cpu",
            ));
        }
        let bits = trainer.model.config().k_bits;
        objective.sinkhorn.validate(bits)?;
        let mut model = GpuModel::upload(gpu, &trainer.model)?;
        model.import_adam(&trainer.adam, &trainer.model.params);
        let queue = GpuQueue::upload(gpu, &trainer.queue, trainer.queue_pushed)?;
        let weights = [1.0, objective.lambda_h, objective.lambda_r];
        Ok(GpuTrainer {
            gpu,
            model,
            optimiser: trainer.adam.config,
            queue,
            step: trainer.step,
            config,
            weights: [
                GpuBuffer::from_slice(gpu, &weights[..1])?,
                GpuBuffer::from_slice(gpu, &weights[1..2])?,
                GpuBuffer::from_slice(gpu, &weights[2..])?,
            ],
            work: None,
        })
    }

    /// The run's whole state copied to the host, as a CPU [`Trainer`] (for
    /// checkpoints, validation, or continuing on the CPU).
    pub fn to_trainer(&self) -> Result<Trainer> {
        let mut model = Model::new(*self.model.config(), 0);
        self.model.download(&mut model)?;
        let mut adam = Adam::new(self.optimiser, &model.params);
        adam.import_state(&model.params, self.model.export_adam()?)
            .unwrap_or_else(|e| panic!("GpuTrainer::to_trainer: {e}"));
        let mut trainer = Trainer::new(model, self.config);
        trainer.adam = adam;
        trainer.queue = self.queue.download(self.gpu)?;
        trainer.queue_pushed = self.queue.pushed();
        trainer.step = self.step;
        Ok(trainer)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// One optimiser step on `batch`, [`Trainer::step`] on the device.
    ///
    /// # Panics
    /// If B exceeds the queue's capacity, as the CPU trainer.
    pub fn step(&mut self, batch: &PairBatch) -> Result<StepStats> {
        let (b, m) = (batch.pairs(), batch.hard_count());
        assert!(
            b <= self.queue.capacity(),
            "GpuTrainer::step: B = {b} pairs exceeds the queue of {} rows",
            self.queue.capacity()
        );
        let t0 = Instant::now();
        let lr = self.config.schedule().lr(self.step);
        let w = match self.work.take() {
            Some(w) if (w.b, w.m) == (b, m) => w,
            other => {
                drop(other); // free the old buffers before allocating new ones
                StepBuffers::new(self, b, m)?
            }
        };
        self.model.forward(batch.stacked().data())?;
        self.model.zero_grads();
        self.objective(&w)?;
        self.model.backward(&w.de, &w.dlogits)?;
        let scalars = w.scalars.read(self.gpu)?;
        self.work = Some(w);
        let [l_c, l_h, l_r] = [scalars[0], scalars[1], scalars[2]];
        // The CPU tape's order: (L_c + λ_h L_h) + λ_r L_r, in f32.
        let total =
            l_c + self.config.objective.lambda_h * l_h + self.config.objective.lambda_r * l_r;
        let losses = Losses {
            total,
            l_c,
            l_h,
            l_r,
        };
        let mut skipped = !total.is_finite();
        let mut norm = f32::NAN;
        if !skipped {
            norm = self.model.grad_norm()?;
            skipped = !norm.is_finite();
        }
        if !skipped {
            let clip = self.config.clip;
            // `clip_grad_norm`'s factor; the 1e-6 guards a vanishing norm (as PyTorch).
            let scale = if norm > clip {
                clip / (norm + 1e-6)
            } else {
                1.0
            };
            self.model.step(&self.optimiser, lr, scale)?;
        }
        self.step += 1;
        Ok(StepStats {
            step: self.step,
            lr,
            losses,
            grad_norm: norm,
            seconds: t0.elapsed().as_secs_f64(),
            skipped,
        })
    }

    /// Records and submits the objective on the last forward's outputs: the losses
    /// into `w.scalars`, their gradients into `w.de` and `w.dlogits`, and the anchors'
    /// q̂ pushed into the queue after the assignment has read it.
    fn objective(&mut self, w: &StepBuffers) -> Result<()> {
        let cfg = &self.config.objective;
        let (b, m) = (w.b, w.m);
        let rows = 2 * b + m;
        let (e, k) = (self.model.config().emb_dim, self.model.config().k_bits);
        let tau = cfg.contrastive.temperature;
        let ntxent = |dim| NtXent {
            n: b,
            hard: m,
            dim,
            tau,
        };
        let hash = HashLoss {
            n: b,
            bits: k,
            tau: cfg.hash_temperature,
        };
        let (embedding, logits) = (self.model.embeddings(), self.model.logits());
        let mut batch = self.gpu.batch();
        for g in [
            &w.de, &w.dqhat, &w.dlogits, &w.c.da, &w.c.dph, &w.h.da, &w.h.dph, &w.dqp,
        ] {
            batch.zero(g);
        }
        // Forward: q̂, the views by role, the losses.
        l2norm_forward(&mut batch, rows, k, QHAT_EPS, logits, &w.qhat, &w.qnorms)?;
        for (full, dim, pair) in [(embedding, e, &w.c), (&w.qhat, k, &w.h)] {
            batch.copy_range(full, 0, &pair.a, 0, b * dim);
            batch.copy_range(full, b * dim, &pair.ph, 0, (b + m) * dim);
        }
        batch.copy_range(&w.qhat, b * k, &w.qp, 0, b * k);
        for (pair, dim) in [(&w.c, e), (&w.h, k)] {
            ntxent_forward(
                &mut batch,
                &ntxent(dim),
                &pair.a,
                &pair.ph,
                &pair.logits,
                &pair.lse,
                &pair.losses,
                &pair.loss,
            )?;
        }
        // k* over [anchors; queue], then the anchors join the queue.
        batch.copy_range(&w.h.a, 0, &w.items, 0, b * k);
        let queued = self.queue.len();
        batch.copy_range(self.queue.rows(), 0, &w.items, b * k, queued * k);
        balanced_assign(
            &mut batch,
            &cfg.sinkhorn,
            b + queued,
            &w.items,
            &w.sinkhorn,
            &w.keys,
        )?;
        hash_loss_forward(
            &mut batch,
            &hash,
            &w.h.a,
            &w.qp,
            &w.keys,
            &w.r_losses,
            &w.l_r,
        )?;
        self.queue.push(&mut batch, &w.h.a, b);
        for (slot, loss) in [&w.c.loss, &w.h.loss, &w.l_r].into_iter().enumerate() {
            batch.copy_range(loss, 0, &w.scalars, slot, 1);
        }
        // Backward of L = L_c + λ_h L_h + λ_r L_r into de (2B+M, E) and dlogits (2B+M, K).
        let [w_c, w_h, w_r] = &self.weights;
        for (pair, dim, weight) in [(&w.c, e, w_c), (&w.h, k, w_h)] {
            ntxent_backward(
                &mut batch,
                &ntxent(dim),
                &pair.a,
                &pair.ph,
                &pair.logits,
                &pair.lse,
                weight,
                &pair.dlogits,
                &pair.da,
                &pair.dph,
            )?;
        }
        hash_loss_backward(
            &mut batch, &hash, &w.h.a, &w.qp, &w.keys, w_r, &w.h.da, &w.dqp,
        )?;
        for (pair, dim, full) in [(&w.c, e, &w.de), (&w.h, k, &w.dqhat)] {
            batch.copy_range(&pair.da, 0, full, 0, b * dim);
            batch.copy_range(&pair.dph, 0, full, b * dim, (b + m) * dim);
        }
        // dq̂ of the positives also gets L_r's part: rows B..2B of `dqp_rows` (zero elsewhere).
        batch.copy_range(&w.dqp, 0, &w.dqp_rows, b * k, b * k);
        axpy(&mut batch, 1.0, &w.dqp_rows, &w.dqhat)?;
        l2norm_backward(
            &mut batch, rows, k, QHAT_EPS, &w.qhat, &w.qnorms, &w.dqhat, &w.dlogits,
        )?;
        batch.submit();
        Ok(())
    }
}

impl Learner for GpuTrainer<'_> {
    fn steps_taken(&self) -> u64 {
        self.step
    }

    fn total_steps(&self) -> u64 {
        self.config.steps
    }

    fn learn(&mut self, batch: &PairBatch) -> Result<StepStats> {
        self.step(batch)
    }
}

/// One NT-Xent's buffers: the anchors' rows `a` (B, D), the positives' and hard
/// negatives' rows `ph` (B + M, D), logits and saved statistics, and gradients.
struct PairBuffers {
    a: GpuBuffer,
    ph: GpuBuffer,
    /// (B, B + M) and its gradient.
    logits: GpuBuffer,
    dlogits: GpuBuffer,
    /// (2B) each, and the mean (1).
    lse: GpuBuffer,
    losses: GpuBuffer,
    loss: GpuBuffer,
    da: GpuBuffer,
    dph: GpuBuffer,
}

impl PairBuffers {
    fn new(gpu: &Gpu, b: usize, m: usize, dim: usize) -> Result<Self> {
        let z = |n| GpuBuffer::zeros(gpu, n);
        Ok(PairBuffers {
            a: z(b * dim)?,
            ph: z((b + m) * dim)?,
            logits: z(b * (b + m))?,
            dlogits: z(b * (b + m))?,
            lse: z(2 * b)?,
            losses: z(2 * b)?,
            loss: z(1)?,
            da: z(b * dim)?,
            dph: z((b + m) * dim)?,
        })
    }
}

/// Everything a step at B pairs and M hard negatives needs besides the model.
struct StepBuffers {
    b: usize,
    m: usize,
    /// (2B + M, K) unit hash directions, their row norms (2B + M), their gradient.
    qhat: GpuBuffer,
    qnorms: GpuBuffer,
    dqhat: GpuBuffer,
    /// L_c on the embeddings, L_h on q̂.
    c: PairBuffers,
    h: PairBuffers,
    /// (B, K) the positives' q̂ and L_r's gradient for them.
    qp: GpuBuffer,
    dqp: GpuBuffer,
    /// (2B + M, K): zero except rows B..2B, where `dqp` is placed to be added to dq̂.
    dqp_rows: GpuBuffer,
    /// (B + capacity, K): the anchors, then the queue, as the assignment reads them.
    items: GpuBuffer,
    sinkhorn: BalancedScratch,
    /// (B) k*.
    keys: GpuBuffer<u32>,
    /// (B) L_r per pair, and its mean (1).
    r_losses: GpuBuffer,
    l_r: GpuBuffer,
    /// (3): L_c, L_h, L_r for the read-back.
    scalars: GpuBuffer,
    /// (2B + M, E) and (2B + M, K): the gradients handed to the model's backward.
    de: GpuBuffer,
    dlogits: GpuBuffer,
}

impl StepBuffers {
    fn new(t: &GpuTrainer<'_>, b: usize, m: usize) -> Result<Self> {
        let gpu = t.gpu;
        let (e, k) = (t.model.config().emb_dim, t.model.config().k_bits);
        let rows = 2 * b + m;
        let capacity = b + t.queue.capacity();
        let z = |n| GpuBuffer::zeros(gpu, n);
        Ok(StepBuffers {
            b,
            m,
            qhat: z(rows * k)?,
            qnorms: z(rows)?,
            dqhat: z(rows * k)?,
            c: PairBuffers::new(gpu, b, m, e)?,
            h: PairBuffers::new(gpu, b, m, k)?,
            qp: z(b * k)?,
            dqp: z(b * k)?,
            dqp_rows: z(rows * k)?,
            items: z(capacity * k)?,
            sinkhorn: BalancedScratch::new(gpu, k, capacity)?,
            keys: GpuBuffer::zeros(gpu, b)?,
            r_losses: z(b)?,
            l_r: z(1)?,
            scalars: z(3)?,
            de: z(rows * e)?,
            dlogits: z(rows * k)?,
        })
    }
}

#[cfg(test)]
#[path = "trainer_tests.rs"]
mod tests;
