//! Synthetic embeddings for tests and benchmarks of the index, where no model is at hand.
//!
//! A track's segment embeddings vary smoothly in time, as real ones do (consecutive 1 s
//! segments 100 ms apart share 90 % of their audio): random unit "anchor" directions every
//! `smooth` segments, linearly interpolated, plus an independent per-segment component of
//! relative size `detail`, then L2-normalised. Hash logits are a fixed random projection
//! of the embedding (K × D Gaussian), so that similar embeddings fall in similar buckets
//! (sign random projections, as in SimHash) and the buckets mean something.
//!
//! A query is a window of a track taken at a possibly fractional start (interpolating
//! between grid points, as a real query starting between two database segments does),
//! perturbed by Gaussian noise and re-normalised.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::random::{normalize, standard_normal};

/// Shape of the synthetic data.
#[derive(Clone, Copy, Debug)]
pub struct SynthConfig {
    /// Embedding dimension.
    pub dim: usize,
    /// Hash logits per segment.
    pub k: usize,
    /// Segments between anchor directions (10 = 1 s at a 100 ms hop).
    pub smooth: usize,
    /// Size of the per-segment component relative to the smooth one.
    pub detail: f32,
    /// Seed of the hash projection.
    pub seed: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            dim: 128,
            k: 16,
            smooth: 10,
            detail: 0.5,
            seed: 1,
        }
    }
}

/// A generator of synthetic tracks, queries and hash logits.
pub struct Synth {
    pub config: SynthConfig,
    /// K × D hash projection.
    projection: Vec<f32>,
}

fn random_unit(rng: &mut StdRng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| standard_normal(rng)).collect();
    normalize(&mut v);
    v
}

impl Synth {
    pub fn new(config: SynthConfig) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let projection = (0..config.k * config.dim)
            .map(|_| standard_normal(&mut rng))
            .collect();
        Synth { config, projection }
    }

    /// Embeddings of a track of `segments` segments: segments × D, each row unit-length.
    pub fn track(&self, segments: usize, seed: u64) -> Vec<f32> {
        let SynthConfig {
            dim,
            smooth,
            detail,
            ..
        } = self.config;
        let mut rng = StdRng::seed_from_u64(seed);
        let anchors: Vec<Vec<f32>> = (0..segments / smooth + 2)
            .map(|_| random_unit(&mut rng, dim))
            .collect();
        let mut out = Vec::with_capacity(segments * dim);
        for i in 0..segments {
            let (a, f) = (i / smooth, (i % smooth) as f32 / smooth as f32);
            let own = random_unit(&mut rng, dim);
            let start = out.len();
            out.extend(
                (0..dim)
                    .map(|j| (1.0 - f) * anchors[a][j] + f * anchors[a + 1][j] + detail * own[j]),
            );
            normalize(&mut out[start..]);
        }
        out
    }

    /// Hash logits of embeddings (n × D) → n × K: the fixed random projection.
    pub fn logits(&self, embeddings: &[f32]) -> Vec<f32> {
        let dim = self.config.dim;
        embeddings
            .chunks_exact(dim)
            .flat_map(|e| {
                self.projection
                    .chunks_exact(dim)
                    .map(move |p| p.iter().zip(e).map(|(a, b)| a * b).sum())
            })
            .collect()
    }

    /// A query of `segments` segments cut from `track` (its embeddings, n × D) at `start`
    /// segments (fractional starts interpolate between neighbouring rows), with Gaussian
    /// noise of total norm about `noise` added to each unit row, then re-normalised.
    ///
    /// Panics if the window runs past the track.
    pub fn query(
        &self,
        track: &[f32],
        start: f64,
        segments: usize,
        noise: f32,
        seed: u64,
    ) -> Vec<f32> {
        let dim = self.config.dim;
        let n = track.len() / dim;
        let (first, f) = (start.floor() as usize, start.fract() as f32);
        let last = first + segments - 1 + usize::from(f > 0.0);
        assert!(
            last < n,
            "Synth::query: segments {first}..={last} of a {n}-segment track"
        );
        let row = |i: usize| &track[i * dim..(i + 1) * dim];
        let mut rng = StdRng::seed_from_u64(seed);
        let per_value = noise / (dim as f32).sqrt();
        let mut out = Vec::with_capacity(segments * dim);
        for o in 0..segments {
            let (a, b) = (row(first + o), row((first + o + 1).min(n - 1)));
            let at = out.len();
            out.extend(
                a.iter()
                    .zip(b)
                    .map(|(x, y)| (1.0 - f) * x + f * y + per_value * standard_normal(&mut rng)),
            );
            normalize(&mut out[at..]);
        }
        out
    }
}
