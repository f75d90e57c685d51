//! Model sizes: the two presets of DESIGN.md §3 and a config for any other size.

use crate::Error;

/// Every size of the encoder and its two heads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelConfig {
    /// Mel bands per frame (the front-end's 64).
    pub n_mels: usize,
    /// Frames per segment: 100 frames × 10 ms = 1 s.
    pub segment_frames: usize,
    /// Frames per patch token: 10 frames = 100 ms, so a segment is 10 tokens.
    pub patch_frames: usize,
    /// Token width C.
    pub d_model: usize,
    /// Transformer encoder layers.
    pub layers: usize,
    /// Attention heads per layer; C must divide by it.
    pub heads: usize,
    /// Feed-forward hidden width.
    pub d_ff: usize,
    /// Projector hidden width (flattened tokens → hidden → embedding).
    pub proj_hidden: usize,
    /// Embedding width (128).
    pub emb_dim: usize,
    /// Hash head hidden width (512).
    pub hash_hidden: usize,
    /// Hash bits K (2^K buckets): 16 by default, 8–20 supported.
    pub k_bits: usize,
    /// Layer-norm epsilon (PyTorch's 1e-5).
    pub eps: f32,
}

impl ModelConfig {
    /// The reference Transformer encoder: 8 layers, 8 heads, FFN 2048, projector 2048
    /// (≈ 7.8 M parameters, ≈ 0.1 GFLOP per segment).
    pub const PAPER: ModelConfig = ModelConfig {
        n_mels: 64,
        segment_frames: 100,
        patch_frames: 10,
        d_model: 128,
        layers: 8,
        heads: 8,
        d_ff: 2048,
        proj_hidden: 2048,
        emb_dim: 128,
        hash_hidden: 512,
        k_bits: 16,
        eps: 1e-5,
    };

    /// The CPU-trainable default: 4 layers, 4 heads, FFN 512, projector 512
    /// (≈ 1.7 M parameters, ≈ 0.02 GFLOP per segment).
    pub const SMALL: ModelConfig = ModelConfig {
        layers: 4,
        heads: 4,
        d_ff: 512,
        proj_hidden: 512,
        ..ModelConfig::PAPER
    };

    /// Tests only: 2 layers of width 16 over 4 bands × 20 frames, K = 6 — small enough for
    /// finite differences and for GPU-against-CPU checks on lavapipe.
    #[cfg(test)]
    pub(crate) const TINY: ModelConfig = ModelConfig {
        n_mels: 4,
        segment_frames: 20,
        patch_frames: 5,
        d_model: 16,
        layers: 2,
        heads: 2,
        d_ff: 24,
        proj_hidden: 20,
        emb_dim: 8,
        hash_hidden: 12,
        k_bits: 6,
        eps: 1e-5,
    };

    /// A preset by name: `small` or `paper`.
    pub fn preset(name: &str) -> Result<ModelConfig, Error> {
        match name {
            "small" => Ok(Self::SMALL),
            "paper" => Ok(Self::PAPER),
            other => Err(Error::invalid(format!(
                "unknown model preset `{other}` (expected `small` or `paper`)"
            ))),
        }
    }

    /// The same config with `k` hash bits.
    pub fn with_k_bits(self, k: usize) -> Result<ModelConfig, Error> {
        if !(8..=20).contains(&k) {
            return Err(Error::invalid(format!(
                "hash bits K = {k} is out of range (8–20)"
            )));
        }
        Ok(ModelConfig { k_bits: k, ..self })
    }

    /// Checks that the sizes fit together and are not absurd (a damaged model file must
    /// not make us allocate gigabytes).
    pub fn validate(&self) -> Result<(), Error> {
        const MAX: usize = 1 << 16;
        let sizes = [
            ("n_mels", self.n_mels),
            ("segment_frames", self.segment_frames),
            ("patch_frames", self.patch_frames),
            ("d_model", self.d_model),
            ("heads", self.heads),
            ("d_ff", self.d_ff),
            ("proj_hidden", self.proj_hidden),
            ("emb_dim", self.emb_dim),
            ("hash_hidden", self.hash_hidden),
        ];
        for (name, v) in sizes {
            if v == 0 || v > MAX {
                return Err(Error::invalid(format!(
                    "model size {name} = {v} is out of range (1–{MAX})"
                )));
            }
        }
        if self.layers > 64 {
            return Err(Error::invalid(format!(
                "model has {} layers (at most 64)",
                self.layers
            )));
        }
        if !self.segment_frames.is_multiple_of(self.patch_frames) {
            return Err(Error::invalid(format!(
                "segment of {} frames does not divide into patches of {}",
                self.segment_frames, self.patch_frames
            )));
        }
        if !self.d_model.is_multiple_of(self.heads) {
            return Err(Error::invalid(format!(
                "d_model {} does not divide into {} heads",
                self.d_model, self.heads
            )));
        }
        if !(1..=32).contains(&self.k_bits) {
            return Err(Error::invalid(format!(
                "hash bits K = {} is out of range (1–32)",
                self.k_bits
            )));
        }
        if !(self.eps > 0.0 && self.eps < 1.0) {
            return Err(Error::invalid(format!(
                "layer-norm eps {} is out of range",
                self.eps
            )));
        }
        Ok(())
    }

    /// Tokens per segment (10).
    pub fn tokens(&self) -> usize {
        self.segment_frames / self.patch_frames
    }

    /// Floats in one flattened patch: 10 frames × 64 bands = 640.
    pub fn patch_len(&self) -> usize {
        self.patch_frames * self.n_mels
    }

    /// Floats in one segment: 100 frames × 64 bands = 6400.
    pub fn segment_len(&self) -> usize {
        self.segment_frames * self.n_mels
    }

    /// Forward multiply-adds per segment × 2 (GEMMs and attention scores), for profiling.
    pub fn flops_per_segment(&self) -> u64 {
        let (t, c, f) = (self.tokens(), self.d_model, self.d_ff);
        let patch = t * self.patch_len() * c;
        let layer = t * (3 * c * c + c * c + 2 * c * f) + 2 * t * t * c;
        let proj = t * c * self.proj_hidden + self.proj_hidden * self.emb_dim;
        let hash = self.emb_dim * self.hash_hidden + self.hash_hidden * self.k_bits;
        2 * (patch + self.layers * layer + proj + hash) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_the_documented_costs() {
        // DESIGN.md §3: ≈ 0.1 GFLOP per segment for `paper`, ≈ 0.02 for `small`.
        let paper = ModelConfig::PAPER.flops_per_segment() as f64 / 1e9;
        let small = ModelConfig::SMALL.flops_per_segment() as f64 / 1e9;
        assert!((0.08..0.13).contains(&paper), "paper {paper} GFLOP");
        assert!((0.015..0.03).contains(&small), "small {small} GFLOP");
        assert!(ModelConfig::preset("tiny").is_err());
        assert!(ModelConfig::SMALL.with_k_bits(21).is_err());
        assert_eq!(ModelConfig::SMALL.with_k_bits(12).unwrap().k_bits, 12);
    }
}
