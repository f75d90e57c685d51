//! The on-disk index, probing, search, alignment, LSH and exhaustive baselines.
//!
//! | module | what it holds |
//! |---|---|
//! | [`library`] | [`Library`]: the track table and bucket-major segment embeddings |
//! | [`builder`] | [`LibraryBuilder`]: add and remove tracks, rebuild bucket-major |
//! | [`format`] | the file format: header, sections, checksums, atomic writes |
//! | [`info`] | [`LibraryInfo`]: size, hours, bucket occupancy |
//! | [`synth`] | synthetic embeddings for tests and benchmarks |

pub mod builder;
pub mod format;
pub mod info;
pub mod library;
mod random;
pub mod synth;
mod xxh64;

mod kernels;

pub use builder::{AddOutcome, LibraryBuilder, bucket_key};
pub use info::LibraryInfo;
pub use library::{Dtype, Library, LibraryConfig, Rows, Track};

/// Seconds per audio frame: the STFT hop is 160 samples at 16 kHz (DESIGN.md §2).
pub const FRAME_SECONDS: f64 = 0.01;

#[cfg(test)]
mod tests;
