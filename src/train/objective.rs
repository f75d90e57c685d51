//! The training objective of DESIGN §4 on the tape:
//!
//! ```text
//! [x; x⁺; h]  (2B + M, segment)  ──encoder──▶  e (·, E) unit rows,  q (·, K) logits
//! q̂ = q / ‖q‖
//! L_c = NT-Xent(e_x, e_x⁺; hard e_h)          (custom op over `nt_xent_forward/backward`)
//! L_h = NT-Xent(q̂_x, q̂_x⁺; hard q̂_h)
//! k*  = balanced assignment of q̂_x over (batch + queue), detached
//! L_r = balanced hash loss(q̂_x, q̂_x⁺; k*)    (custom op over `balanced_hash_forward/backward`)
//! L   = L_c + λ_h L_h + λ_r L_r
//! ```
//!
//! One encoder pass over all segments at once (the layers are batch-independent, so this
//! equals separate passes and makes bigger GEMMs). The hard negatives h (M ≥ 0 rows, the same
//! track shifted by ≥ 100 ms) only enter as negatives for the anchors.

use crate::autograd::{ParamStore, Tape, Var};
use crate::model::Encoder;
use crate::tensor::Tensor;
use crate::train::loss::{
    NtXentConfig, balanced_hash_backward, balanced_hash_forward, nt_xent_backward, nt_xent_forward,
};
use crate::train::sinkhorn::{HashQueue, SinkhornConfig, balanced_assignment};

/// ε of q̂ = q / max(‖q‖, ε): keeps a zero hash output finite (never reached in practice).
pub(crate) const QHAT_EPS: f32 = 1e-12;

/// Settings of the objective. `Default` is DESIGN §4: τ = 0.1 everywhere, λ_h = λ_r = 1,
/// SwAV's Sinkhorn (ε = 0.05, 3 iterations).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObjectiveConfig {
    /// NT-Xent settings shared by L_c and L_h.
    pub contrastive: NtXentConfig,
    /// τ of the bucket softmax in L_r.
    pub hash_temperature: f32,
    /// λ_h, the weight of L_h.
    pub lambda_h: f32,
    /// λ_r, the weight of L_r.
    pub lambda_r: f32,
    /// The balanced assignment's settings.
    pub sinkhorn: SinkhornConfig,
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig {
            contrastive: NtXentConfig::default(),
            hash_temperature: 0.1,
            lambda_h: 1.0,
            lambda_r: 1.0,
            sinkhorn: SinkhornConfig::default(),
        }
    }
}

/// A training batch: B anchors, their B positives, M hard negatives, each row one segment
/// (frame-major log-mel, `segment_len` floats).
#[derive(Clone, Debug, PartialEq)]
pub struct PairBatch {
    /// (B, segment_len)
    pub anchors: Tensor,
    /// (B, segment_len)
    pub positives: Tensor,
    /// (M, segment_len), M ≥ 0.
    pub hard: Tensor,
}

impl PairBatch {
    /// B, the number of pairs.
    pub fn pairs(&self) -> usize {
        self.anchors.shape()[0]
    }

    /// M, the number of hard negatives.
    pub fn hard_count(&self) -> usize {
        self.hard.shape()[0]
    }

    /// All segments stacked: anchors, positives, hard negatives, (2B + M, segment_len).
    pub fn stacked(&self) -> Tensor {
        let len = self.anchors.shape()[1];
        assert!(
            self.positives.shape() == self.anchors.shape() && self.hard.shape()[1] == len,
            "PairBatch: anchors {:?}, positives {:?} and hard negatives {:?} disagree",
            self.anchors.shape(),
            self.positives.shape(),
            self.hard.shape()
        );
        let rows = 2 * self.pairs() + self.hard_count();
        let mut data = Vec::with_capacity(rows * len);
        data.extend_from_slice(self.anchors.data());
        data.extend_from_slice(self.positives.data());
        data.extend_from_slice(self.hard.data());
        Tensor::new(&[rows, len], data)
    }
}

/// The encoder's outputs for a batch, split by role; every var on the caller's tape.
pub struct Encoded {
    /// Embeddings of anchors, positives, hard negatives: (B, E), (B, E), (M, E).
    pub e: [Var; 3],
    /// Unit hash directions q̂ of the same rows: (B, K), (B, K), (M, K).
    pub qhat: [Var; 3],
}

/// The loss values of one step (plain numbers, for logs).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Losses {
    /// L = L_c + λ_h L_h + λ_r L_r.
    pub total: f32,
    pub l_c: f32,
    pub l_h: f32,
    pub l_r: f32,
}

/// One encoder pass over the batch; slices the outputs by role and normalises q.
pub fn encode(
    tape: &mut Tape,
    encoder: &Encoder,
    store: &ParamStore,
    batch: &PairBatch,
) -> Encoded {
    let (b, m) = (batch.pairs(), batch.hard_count());
    let x = tape.input(batch.stacked()); // (2B + M, segment_len)
    let out = encoder.forward(tape, store, &x);
    let qhat = tape.l2_normalize(&out.hash, QHAT_EPS); // (2B + M, K)
    let bounds = [(0, b), (b, 2 * b), (2 * b, 2 * b + m)];
    let split = |tape: &mut Tape, v: &Var| bounds.map(|(lo, hi)| tape.slice(v, 0, lo, hi));
    Encoded {
        e: split(tape, &out.embedding),
        qhat: split(tape, &qhat),
    }
}

/// k*: the balanced assignment of the anchors' q̂ over the batch followed by `queue`
/// (no gradient flows through it). Push the anchors into the queue afterwards.
pub fn assign(encoded: &Encoded, queue: &HashQueue, cfg: &SinkhornConfig) -> Vec<u32> {
    let _p = crate::profile::scope("train.sinkhorn", 0);
    balanced_assignment(encoded.qhat[0].data(), queue, cfg)
}

/// L = L_c + λ_h L_h + λ_r L_r for the targets k* (B), as a scalar var, and its parts.
pub fn loss(
    tape: &mut Tape,
    encoded: &Encoded,
    targets: &[u32],
    cfg: &ObjectiveConfig,
) -> (Var, Losses) {
    let [ex, ep, eh] = &encoded.e;
    let [qx, qp, qh] = &encoded.qhat;
    let l_c = nt_xent(tape, ex, ep, eh, cfg.contrastive);
    let l_h = nt_xent(tape, qx, qp, qh, cfg.contrastive);
    let l_r = balanced_hash(tape, qx, qp, targets, cfg.hash_temperature);
    let wh = tape.scale(&l_h, cfg.lambda_h);
    let wr = tape.scale(&l_r, cfg.lambda_r);
    let total = tape.add(&l_c, &wh);
    let total = tape.add(&total, &wr);
    let losses = Losses {
        total: total.item(),
        l_c: l_c.item(),
        l_h: l_h.item(),
        l_r: l_r.item(),
    };
    (total, losses)
}

/// NT-Xent of anchors `a` (B, D) against positives `p` (B, D) with the hard negatives
/// `h` (M, D) as a custom op; output shape (1).
pub fn nt_xent(tape: &mut Tape, a: &Var, p: &Var, h: &Var, cfg: NtXentConfig) -> Var {
    let (b, d) = (a.shape()[0], a.shape()[1]);
    let (loss, cache) = {
        let _p = crate::profile::scope("nt_xent", 0);
        nt_xent_forward(a.data(), p.data(), h.data(), b, d, &cfg)
    };
    let (ac, pc, hc) = (a.clone(), p.clone(), h.clone());
    tape.custom(
        "nt_xent",
        &[a, p, h],
        Tensor::new(&[1], vec![loss]),
        move |dout, grads| {
            let mut bufs =
                [ac.shape(), pc.shape(), hc.shape()].map(|s| vec![0.0; s.iter().product()]);
            let [da, dp, dh] = &mut bufs;
            nt_xent_backward(
                ac.data(),
                pc.data(),
                hc.data(),
                &cache,
                dout.item(),
                da,
                dp,
                dh,
            );
            for (g, buf) in grads.iter_mut().zip(&bufs) {
                if let Some(g) = g.as_deref_mut() {
                    g.data_mut().iter_mut().zip(buf).for_each(|(g, d)| *g += d);
                }
            }
        },
    )
}

/// L_r of anchors `qx` (B, K) and positives `qp` (B, K) towards `targets` (B) as a custom
/// op; output shape (1).
pub fn balanced_hash(
    tape: &mut Tape,
    qx: &Var,
    qp: &Var,
    targets: &[u32],
    temperature: f32,
) -> Var {
    let bits = qx.shape()[1];
    let (loss, cache) = {
        let _p = crate::profile::scope("balanced_hash", 0);
        balanced_hash_forward(qx.data(), qp.data(), targets, bits, temperature)
    };
    tape.custom(
        "balanced_hash",
        &[qx, qp],
        Tensor::new(&[1], vec![loss]),
        move |dout, grads| {
            let n = cache_len(grads);
            let (mut dqx, mut dqp) = (vec![0.0; n], vec![0.0; n]);
            balanced_hash_backward(&cache, dout.item(), &mut dqx, &mut dqp);
            for (g, buf) in grads.iter_mut().zip([&dqx, &dqp]) {
                if let Some(g) = g.as_deref_mut() {
                    g.data_mut().iter_mut().zip(buf).for_each(|(g, d)| *g += d);
                }
            }
        },
    )
}

/// B·K of a balanced-hash backward, from whichever gradient buffer is present.
fn cache_len(grads: &[Option<&mut Tensor>]) -> usize {
    grads
        .iter()
        .flatten()
        .map(|g| g.numel())
        .next()
        .expect("balanced_hash backward: called with no gradient to fill")
}

/// The whole objective for one batch: encode, assign against `queue`, loss. Returns the
/// loss var, its parts and the anchors' q̂ (B, K) for the caller to push into the queue.
pub fn objective(
    tape: &mut Tape,
    encoder: &Encoder,
    store: &ParamStore,
    batch: &PairBatch,
    queue: &HashQueue,
    cfg: &ObjectiveConfig,
) -> (Var, Losses, Vec<f32>) {
    let encoded = encode(tape, encoder, store, batch);
    let targets = assign(&encoded, queue, &cfg.sinkhorn);
    let (l, losses) = loss(tape, &encoded, &targets, cfg);
    (l, losses, encoded.qhat[0].data().to_vec())
}
