//! earmark identifies short, distorted audio: given 1–5 s of music recorded through noise
//! and room reverb, it names the track and the start time within ±50 ms, out of a
//! catalogue the user indexed.
//!
//! The method (Singh, Demuynck, Arora, ICASSP 2023): Transformer audio embeddings trained
//! contrastively, balanced hash codes learned with optimal transport, and a subsequence
//! search. Everything is written here from scratch: the audio front-end, a tensor engine
//! with hand-written reverse-mode autodiff, WGSL compute shaders (feature `gpu`), and SIMD
//! search kernels (the `earmark-kernels` crate).

pub mod audio;
pub mod autograd;
pub mod error;
pub mod eval;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod index;
pub mod model;
#[cfg(feature = "plot")]
pub mod plot;
pub mod profile;
pub mod tensor;
#[cfg(test)]
mod test_dir;
pub mod train;

pub use error::{Error, Result};
