//! The FE+HT network of DESIGN.md §3: patch embedding, post-LN Transformer encoder,
//! projector to an L2-normalised embedding, and the hash head.
//!
//! ```text
//! segment x (B, 100, 64) frame-major log-mel
//!   → (B, 10, 640)        10 patches of 10 frames × 64 bands (a reshape: patches are contiguous)
//!   → Linear → (B, 10, C) + sinusoidal positions (base 10000)
//!   → L × post-LN encoder layer (B, 10, C)
//!   → (B, 10·C) → Linear → LayerNorm → ReLU → Linear → LayerNorm → L2 normalise = e (B, 128)
//! e → Linear(512) → LayerNorm → ReLU → Linear(K) = q (B, K)
//! ```
//!
//! Norms in the projector and hash head: the reference uses BatchNorm; we use LayerNorm,
//! which is independent of the batch (identical in training and inference, and simpler on
//! the GPU). This is a documented deviation.

use rand::Rng;

use super::ModelConfig;
use crate::autograd::layers::{EncoderLayer, EncoderLayerConfig, LayerNorm, Linear};
use crate::autograd::{ParamStore, Tape, Var};
use crate::tensor::Tensor;

/// L2-normalisation epsilon for the embedding.
pub(crate) const L2_EPS: f32 = 1e-12;

/// The network's layers (parameter ids into a [`ParamStore`]).
#[derive(Clone, Debug)]
pub struct Encoder {
    pub config: ModelConfig,
    patch: Linear,
    /// Sinusoidal positions (T, C), fixed.
    positions: Tensor,
    layers: Vec<EncoderLayer>,
    proj1: Linear,
    proj_norm1: LayerNorm,
    proj2: Linear,
    proj_norm2: LayerNorm,
    hash1: Linear,
    hash_norm: LayerNorm,
    hash2: Linear,
}

/// What the network gives for a batch of segments.
pub struct Outputs {
    /// L2-normalised embeddings e (B, emb_dim).
    pub embedding: Var,
    /// Hash logits q (B, K); the bucket key is sign(q).
    pub hash: Var,
}

impl Encoder {
    /// Registers every parameter in `store` under the names
    /// `patch.*`, `encoder.layers.{i}.*`, `proj.{fc1,norm1,fc2,norm2}.*`,
    /// `hash.{fc1,norm,fc2}.*`, randomly initialised from `rng`.
    pub fn new(config: ModelConfig, store: &mut ParamStore, rng: &mut impl Rng) -> Self {
        let c = config.d_model;
        let layer_config = EncoderLayerConfig {
            d_model: c,
            heads: config.heads,
            d_ff: config.d_ff,
            eps: config.eps,
        };
        let patch = Linear::new(store, "patch", config.patch_len(), c, true, rng);
        let layers = (0..config.layers)
            .map(|i| EncoderLayer::new(store, &format!("encoder.layers.{i}"), layer_config, rng))
            .collect();
        let flat = config.tokens() * c;
        Encoder {
            config,
            patch,
            positions: sinusoidal_positions(config.tokens(), c),
            layers,
            proj1: Linear::new(store, "proj.fc1", flat, config.proj_hidden, true, rng),
            proj_norm1: LayerNorm::new(store, "proj.norm1", config.proj_hidden, config.eps),
            proj2: Linear::new(
                store,
                "proj.fc2",
                config.proj_hidden,
                config.emb_dim,
                true,
                rng,
            ),
            proj_norm2: LayerNorm::new(store, "proj.norm2", config.emb_dim, config.eps),
            hash1: Linear::new(
                store,
                "hash.fc1",
                config.emb_dim,
                config.hash_hidden,
                true,
                rng,
            ),
            hash_norm: LayerNorm::new(store, "hash.norm", config.hash_hidden, config.eps),
            hash2: Linear::new(
                store,
                "hash.fc2",
                config.hash_hidden,
                config.k_bits,
                true,
                rng,
            ),
        }
    }

    /// `segments (B, segment_len)` frame-major log-mel → embeddings and hash logits.
    pub fn forward(&self, tape: &mut Tape, store: &ParamStore, segments: &Var) -> Outputs {
        let cfg = &self.config;
        let b = segments.shape()[0];
        assert_eq!(
            segments.value().numel(),
            b * cfg.segment_len(),
            "Encoder::forward: segments {:?} are not (B, {})",
            segments.shape(),
            cfg.segment_len()
        );
        let (t, c) = (cfg.tokens(), cfg.d_model);
        let patches = tape.reshape(segments, &[b, t, cfg.patch_len()]); // (B, T, 640)
        let tokens = self.patch.forward(tape, store, &patches); // (B, T, C)
        let pos = tape.constant(self.positions.clone()); // (T, C), broadcast over B
        let mut x = tape.add(&tokens, &pos);
        for layer in &self.layers {
            x = layer.forward(tape, store, &x); // (B, T, C)
        }
        let flat = tape.reshape(&x, &[b, t * c]); // (B, T·C)
        let h = self.proj1.forward(tape, store, &flat); // (B, P)
        let h = self.proj_norm1.forward(tape, store, &h);
        let h = tape.relu(&h);
        let h = self.proj2.forward(tape, store, &h); // (B, E)
        let h = self.proj_norm2.forward(tape, store, &h);
        let embedding = tape.l2_normalize(&h, L2_EPS); // (B, E), unit rows
        let g = self.hash1.forward(tape, store, &embedding); // (B, 512)
        let g = self.hash_norm.forward(tape, store, &g);
        let g = tape.relu(&g);
        let hash = self.hash2.forward(tape, store, &g); // (B, K)
        Outputs { embedding, hash }
    }
}

/// Sinusoidal positions (Vaswani et al.): row t, column 2i = sin(t / 10000^(2i/C)),
/// column 2i+1 = cos(t / 10000^(2i/C)). Shape (T, C).
pub fn sinusoidal_positions(tokens: usize, width: usize) -> Tensor {
    Tensor::from_fn(&[tokens, width], |n| {
        let (t, j) = (n / width, n % width);
        let freq = 10000f64.powf(-((j - j % 2) as f64) / width as f64);
        let angle = t as f64 * freq;
        (if j % 2 == 0 { angle.sin() } else { angle.cos() }) as f32
    })
}
