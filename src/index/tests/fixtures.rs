//! Small synthetic libraries shared by the tests.

use crate::index::synth::{Synth, SynthConfig};
use crate::index::{Dtype, Library, LibraryBuilder, LibraryConfig};

/// Model identity used by the test libraries.
pub const MODEL: u64 = 0x00e4_a4ae_0000_0001;

/// A synthetic track: its path, content hash, embeddings (n × D) and logits (n × K).
#[derive(Clone)]
pub struct Fixture {
    pub path: String,
    pub hash: u64,
    pub embeddings: Vec<f32>,
    pub logits: Vec<f32>,
}

impl Fixture {
    pub fn segments(&self, dim: usize) -> usize {
        self.embeddings.len() / dim
    }
}

pub fn synth(k: usize) -> Synth {
    Synth::new(SynthConfig {
        k,
        ..SynthConfig::default()
    })
}

/// `count` tracks of `segments[i % len]` segments, generated from `seed`.
pub fn tracks(synth: &Synth, count: usize, segments: &[usize], seed: u64) -> Vec<Fixture> {
    (0..count)
        .map(|i| {
            let embeddings = synth.track(segments[i % segments.len()], seed * 1000 + i as u64);
            let logits = synth.logits(&embeddings);
            Fixture {
                path: format!("album/{seed}/track {i}.flac"),
                hash: seed * 1000 + i as u64,
                embeddings,
                logits,
            }
        })
        .collect()
}

pub fn config(k: u32, dtype: Dtype) -> LibraryConfig {
    LibraryConfig {
        dtype,
        ..LibraryConfig::new(MODEL, k)
    }
}

/// Duration of a track of `segments` segments at a 100 ms hop: 1 s for the first
/// segment, 0.1 s for every further one.
pub fn duration(segments: usize) -> f64 {
    0.9 + 0.1 * segments as f64
}

pub fn build(config: LibraryConfig, tracks: &[Fixture]) -> Library {
    let mut builder = LibraryBuilder::new(config);
    for t in tracks {
        let n = t.segments(config.dim as usize);
        builder
            .add_track(&t.path, duration(n), t.hash, &t.embeddings, &t.logits)
            .expect("add");
    }
    builder.build()
}

pub use crate::test_dir::TempDir;

/// A fresh empty directory for one test's files, removed when the test ends.
pub fn temp_dir(name: &str) -> TempDir {
    TempDir::new(&format!("index-{name}"))
}
