//! Embedding audio on the device: [`Model::embed`](crate::model::Model::embed) and
//! [`Model::embed_audio`](crate::model::Model::embed_audio) through
//! [`GpuModel::forward`], in chunks of segments whose activations fit the device's
//! storage-binding limit (128 MiB on lavapipe: the 5243 segments of a 9-minute file at
//! the 100 ms hop would not fit in one forward, whose input alone is 25 KiB a segment).

use crate::error::{Error, Result};
use crate::gpu::GpuModel;
use crate::model::{Embeddings, ModelConfig};

/// Segments per forward at most, whatever the device allows: bounds the activations'
/// memory (≈ 60 KiB per segment of the small preset with its gradients, 60 MiB here).
pub const EMBED_CHUNK: usize = 1024;

/// Floats per segment of the model's widest activation (for the presets the input
/// segment itself, 64 bands × 100 frames; then the FFN's hidden layer, tokens × d_ff):
/// the tensor that first meets the binding limit.
pub fn widest_activation(cfg: &ModelConfig) -> usize {
    let t = cfg.tokens();
    [
        cfg.segment_len(),
        t * 3 * cfg.d_model,         // the attention's q, k, v
        cfg.heads * t * t,           // its probabilities
        t * cfg.d_ff,                // the FFN's hidden layer
        cfg.proj_hidden,             // the projector's hidden layer
        cfg.hash_hidden,             // the hash head's hidden layer
        cfg.emb_dim.max(cfg.k_bits), // the outputs
    ]
    .into_iter()
    .max()
    .expect("the list is not empty")
}

/// Segments per forward such that no activation exceeds `binding_bytes`, at most
/// [`EMBED_CHUNK`]. Fails when not even one segment fits.
pub fn chunk_rows(cfg: &ModelConfig, binding_bytes: u64) -> Result<usize> {
    let per_segment = (widest_activation(cfg) * size_of::<f32>()) as u64;
    let rows = (binding_bytes / per_segment).min(EMBED_CHUNK as u64) as usize;
    if rows == 0 {
        return Err(Error::gpu(format!(
            "one segment's widest activation ({per_segment} bytes) exceeds the device's \
             storage-binding limit of {binding_bytes} bytes"
        )));
    }
    Ok(rows)
}

impl GpuModel<'_> {
    /// Segments per forward on this device ([`chunk_rows`] at its binding limit).
    pub fn chunk_rows(&self) -> Result<usize> {
        let limits = self.gpu().limits();
        let binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        chunk_rows(self.config(), binding)
    }

    /// The embeddings and hash logits of `segments` (n × segment_len floats,
    /// frame-major log-mel), in chunks of [`GpuModel::chunk_rows`] segments: the
    /// values of [`Model::embed`](crate::model::Model::embed), read back.
    pub fn embed(&mut self, segments: &[f32]) -> Result<Embeddings> {
        let rows = self.chunk_rows()?;
        self.embed_in_chunks(segments, rows)
    }

    /// [`GpuModel::embed`] with `rows` segments per forward.
    pub fn embed_in_chunks(&mut self, segments: &[f32], rows: usize) -> Result<Embeddings> {
        let len = self.config().segment_len();
        assert!(
            rows >= 1 && segments.len().is_multiple_of(len),
            "GpuModel::embed: {} floats in chunks of {rows} segments of {len}",
            segments.len()
        );
        let n = segments.len() / len;
        let cfg = *self.config();
        let mut out = Embeddings {
            embeddings: Vec::with_capacity(n * cfg.emb_dim),
            logits: Vec::with_capacity(n * cfg.k_bits),
            n,
        };
        for chunk in segments.chunks(rows * len) {
            self.forward(chunk)?;
            let part = self.outputs()?;
            out.embeddings.extend_from_slice(&part.embeddings);
            out.logits.extend_from_slice(&part.logits);
        }
        Ok(out)
    }

    /// 16 kHz mono audio to embeddings as
    /// [`Model::embed_audio`](crate::model::Model::embed_audio) (the same front-end on
    /// the CPU), the network on the device.
    pub fn embed_audio(&mut self, samples: &[f32], hop_frames: usize) -> Result<Embeddings> {
        self.embed(&crate::audio::levelled_segments(samples, hop_frames)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::testing::{assert_close, shared_gpu};
    use crate::model::Model;

    #[test]
    fn chunk_rows_fit_the_binding_limit() {
        let cfg = ModelConfig::SMALL;
        // The input: 64 × 100 floats = 25 600 bytes per segment.
        assert_eq!(widest_activation(&cfg), 6400);
        let wide_ffn = ModelConfig { d_ff: 1024, ..cfg };
        assert_eq!(widest_activation(&wide_ffn), 10 * 1024);
        assert_eq!(chunk_rows(&cfg, 128 << 20).unwrap(), EMBED_CHUNK);
        assert_eq!(chunk_rows(&cfg, 3 * 25600 + 5).unwrap(), 3);
        let err = chunk_rows(&cfg, 25599).unwrap_err();
        assert!(err.to_string().contains("storage-binding limit"), "{err}");
    }

    /// A real recording (tests/data/tone.flac: 0.3 s of two-tone audio, decoded and
    /// resampled to 16 kHz, then repeated to 1.8 s, 9 segments), embedded whole on the
    /// CPU and on the device in chunks of 3 segments (as a tiny binding limit would
    /// force), agrees to 1e-4.
    #[cfg(feature = "decode")]
    #[test]
    fn audio_file_embeddings_match_the_cpu_in_small_chunks() {
        let Some(gpu) = shared_gpu() else { return };
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tone.flac");
        let tone = crate::audio::load_mono_16k(std::path::Path::new(path)).unwrap();
        let samples = tone.repeat(6);
        let model = Model::new(ModelConfig::SMALL, 7);
        let want = model.embed_audio(&samples, 10).unwrap();
        assert!(
            want.n >= 4,
            "{} segments: the test wants several chunks",
            want.n
        );
        let mut on_gpu = GpuModel::upload(gpu, &model).unwrap();
        let segments = crate::audio::levelled_segments(&samples, 10).unwrap();
        let got = on_gpu.embed_in_chunks(&segments, 3).unwrap();
        assert_eq!(got.n, want.n);
        assert_close("embeddings", &got.embeddings, &want.embeddings, 1e-4);
        assert_close("logits", &got.logits, &want.logits, 1e-4);
        let whole = on_gpu.embed_audio(&samples, 10).unwrap();
        assert_close("one chunk", &whole.embeddings, &want.embeddings, 1e-4);
    }
}
