//! The encoder, its heads, presets and weights I/O.
//!
//! A [`Model`] is a [`ModelConfig`], the [`Encoder`]'s layers and their parameters. It is
//! saved as safetensors with the config in the metadata (`earmark.*` keys), so a model
//! file is self-describing and inspectable from other tools.

mod config;
mod encoder;
pub mod weights;

pub use config::ModelConfig;
#[cfg(feature = "gpu")]
pub(crate) use encoder::L2_EPS;
pub use encoder::{Encoder, Outputs, sinusoidal_positions};

use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::autograd::{ParamStore, Tape};
use crate::tensor::Tensor;
use crate::{Error, Result};
use weights::{Dtype, NamedTensor};

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
        assert_eq!(
            segments.len() % len,
            0,
            "Model::embed: {} floats is not a whole number of segments of {len}",
            segments.len()
        );
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

    /// Embeds 16 kHz mono audio: 1 s segments every `hop_frames` frames (10 = 100 ms) of
    /// its log-mel, each levelled as its own peak-normalised second
    /// ([`crate::audio::levelled_segments`]), then [`Model::embed`]. Audio shorter than one
    /// segment gives no rows. Errors on silent or non-finite audio.
    pub fn embed_audio(&self, samples: &[f32], hop_frames: usize) -> Result<Embeddings> {
        Ok(self.embed(&crate::audio::levelled_segments(samples, hop_frames)?))
    }

    /// The model's identity: a hash of its parameter names, shapes and values.
    pub fn identity(&self) -> u64 {
        weights::identity(&self.named_tensors())
    }

    fn named_tensors(&self) -> Vec<NamedTensor> {
        self.params
            .export()
            .map(|(name, shape, data)| NamedTensor {
                name: name.to_string(),
                shape: shape.to_vec(),
                data: data.to_vec(),
            })
            .collect()
    }

    /// Writes the model as safetensors (atomically), the config in the metadata.
    pub fn save(&self, path: &Path, dtype: Dtype) -> Result<()> {
        let c = self.config();
        let meta = [
            ("earmark.format", "model/1".to_string()),
            ("earmark.n_mels", c.n_mels.to_string()),
            ("earmark.segment_frames", c.segment_frames.to_string()),
            ("earmark.patch_frames", c.patch_frames.to_string()),
            ("earmark.d_model", c.d_model.to_string()),
            ("earmark.layers", c.layers.to_string()),
            ("earmark.heads", c.heads.to_string()),
            ("earmark.d_ff", c.d_ff.to_string()),
            ("earmark.proj_hidden", c.proj_hidden.to_string()),
            ("earmark.emb_dim", c.emb_dim.to_string()),
            ("earmark.hash_hidden", c.hash_hidden.to_string()),
            ("earmark.k_bits", c.k_bits.to_string()),
            ("earmark.eps", c.eps.to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v));
        weights::save(path, &self.named_tensors(), dtype, &meta)
    }

    /// Reads a model written by [`Model::save`]: the config from the metadata, then every
    /// parameter, checked by name and shape.
    pub fn load(path: &Path) -> Result<Self> {
        let w = weights::load(path)?;
        let field = |key: &str| -> Result<usize> {
            let full = format!("earmark.{key}");
            let v = w.metadata_value(&full).ok_or_else(|| {
                Error::weights(
                    path,
                    format!("not an earmark model: metadata `{full}` is missing"),
                )
            })?;
            v.parse().map_err(|_| {
                Error::weights(
                    path,
                    format!("metadata `{full}` = `{v}` is not a whole number"),
                )
            })
        };
        let eps: f32 = w
            .metadata_value("earmark.eps")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                Error::weights(
                    path,
                    "not an earmark model: metadata `earmark.eps` is missing or invalid",
                )
            })?;
        let config = ModelConfig {
            n_mels: field("n_mels")?,
            segment_frames: field("segment_frames")?,
            patch_frames: field("patch_frames")?,
            d_model: field("d_model")?,
            layers: field("layers")?,
            heads: field("heads")?,
            d_ff: field("d_ff")?,
            proj_hidden: field("proj_hidden")?,
            emb_dim: field("emb_dim")?,
            hash_hidden: field("hash_hidden")?,
            k_bits: field("k_bits")?,
            eps,
        };
        config
            .validate()
            .map_err(|e| Error::weights(path, e.to_string()))?;
        let mut model = Model::new(config, 0);
        let expected: Vec<(String, Vec<usize>)> = model
            .params
            .export()
            .map(|(n, s, _)| (n.to_string(), s.to_vec()))
            .collect();
        w.check_against(&expected)?;
        model
            .params
            .load(
                w.into_tensors()
                    .into_iter()
                    .map(|t| (t.name, t.shape, t.data)),
            )
            .map_err(|e| Error::weights(path, e.to_string()))?;
        Ok(model)
    }
}

#[cfg(test)]
mod tests;
