//! The encoder, its heads, presets and weights I/O.
//!
//! A [`Model`] is a [`ModelConfig`], the [`Encoder`]'s layers and their parameters. It is
//! saved as safetensors with the config in the metadata (`earmark.*` keys), so a model
//! file is self-describing and inspectable from other tools.

mod config;
mod encoder;

pub use config::ModelConfig;
pub use encoder::{Encoder, Outputs, sinusoidal_positions};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::autograd::{ParamStore, Tape};
use crate::tensor::Tensor;

/// Segments per no-grad forward pass in [`Model::embed`]: large enough for GEMM
/// efficiency, small enough to keep activations (≈ 256 × 10 × 2048 floats) in cache-sized
/// chunks.
const EMBED_BATCH: usize = 256;

/// A network with its parameters.
pub struct Model {
    pub encoder: Encoder,
    pub params: ParamStore,
}

/// Embeddings and hash logits of `n` segments.
#[derive(Clone, Debug, Default)]
pub struct Embeddings {
    /// (n, emb_dim), unit rows.
    pub embeddings: Vec<f32>,
    /// (n, K); the bucket key of row i has bit j set iff logits[i·K + j] ≥ 0.
    pub logits: Vec<f32>,
    pub n: usize,
}

impl Model {
    /// A randomly initialised model (deterministic for `seed`).
    pub fn new(config: ModelConfig, seed: u64) -> Self {
        let mut params = ParamStore::new();
        let mut rng = StdRng::seed_from_u64(seed);
        let encoder = Encoder::new(config, &mut params, &mut rng);
        Model { encoder, params }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.encoder.config
    }

    /// Embeds `n` segments (n × segment_len floats, frame-major log-mel) without a tape,
    /// in batches.
    pub fn embed(&self, segments: &[f32]) -> Embeddings {
        let cfg = *self.config();
        let len = cfg.segment_len();
        assert_eq!(segments.len() % len, 0, "Model::embed: {} floats is not a whole number of segments of {len}", segments.len());
        let n = segments.len() / len;
        let _t = crate::profile::scope("model.embed", cfg.flops_per_segment() * n as u64);
        let mut out = Embeddings {
            embeddings: Vec::with_capacity(n * cfg.emb_dim),
            logits: Vec::with_capacity(n * cfg.k_bits),
            n,
        };
        for chunk in segments.chunks(EMBED_BATCH * len) {
            let b = chunk.len() / len;
            let mut tape = Tape::no_grad();
            let x = tape.input(Tensor::new(&[b, len], chunk.to_vec()));
            let o = self.encoder.forward(&mut tape, &self.params, &x);
            out.embeddings.extend_from_slice(o.embedding.data());
            out.logits.extend_from_slice(o.hash.data());
        }
        out
    }
}

#[cfg(test)]
mod tests;
