//! The on-disk index, probing, search, alignment, LSH and exhaustive baselines.
//!
//! | module | what it holds |
//! |---|---|
//! | [`library`] | [`Library`]: the track table and bucket-major segment embeddings |
//! | [`builder`] | [`LibraryBuilder`]: add and remove tracks, rebuild bucket-major |
//! | [`format`](mod@format) | the file format: header, sections, checksums, atomic writes |
//! | [`info`] | [`LibraryInfo`]: size, hours, bucket occupancy |
//! | [`search`] | [`Searcher`]: per-segment matching by [`Method`], answers, windows |
//! | [`align`] | votes, rescoring and sub-grid refinement of the start |
//! | [`lsh`] | the p-stable LSH baseline's in-memory tables |
//! | [`synth`] | synthetic embeddings for tests and benchmarks |
//!
//! ```no_run
//! use earmark::index::{Library, LibraryBuilder, LibraryConfig, Method, Query, SearchSettings, Searcher};
//! # fn embed() -> (Vec<f32>, Vec<f32>) { (vec![0.0; 128], vec![0.0; 16]) }
//! # fn main() -> earmark::Result<()> {
//! let model_id = 0x1234;
//! let mut builder = LibraryBuilder::new(LibraryConfig::new(model_id, 16));
//! let (embeddings, logits) = embed(); // n × 128 and n × 16, one segment every 100 ms
//! builder.add_track("album/track.flac", 215.3, 0xfeed, &embeddings, &logits)?;
//! builder.build().save("music.earmark")?;
//!
//! let library = Library::open("music.earmark", model_id)?;
//! let searcher = Searcher::new(&library, Method::HashTable);
//! let (embeddings, logits) = embed(); // the query's segments
//! let query = Query { embeddings: &embeddings, logits: &logits, hop: 10 };
//! if let Some(hit) = searcher.search(&query, &SearchSettings::default())?.best() {
//!     println!("{} at {:.2} s", library.tracks()[hit.track].path, hit.start_s);
//! }
//! # Ok(()) }
//! ```

pub mod align;
pub mod builder;
pub mod format;
pub mod info;
pub mod library;
pub mod lsh;
mod pages;
mod random;
pub mod search;
pub mod synth;
mod xxh64;

pub use align::Hit;
pub use builder::{AddOutcome, LibraryBuilder};
pub use info::LibraryInfo;
pub use library::{Dtype, Library, LibraryConfig, QueryVector, Rows, Track};
pub use lsh::LshParams;
pub use search::{
    Answer, Method, MinScore, Query, SearchSettings, Searcher, SegmentMatches, WindowAnswer,
    Windows,
};

/// Seconds per audio frame: the STFT hop is 160 samples at 16 kHz (DESIGN.md §2).
pub const FRAME_SECONDS: f64 = 0.01;

/// Seconds of audio per segment: 100 frames (DESIGN.md §2).
pub const SEGMENT_SECONDS: f64 = 1.0;

/// Seconds of audio that `segments` consecutive segments, `step_s` apart, cover.
pub(crate) fn span_seconds(segments: usize, step_s: f64) -> f64 {
    if segments == 0 {
        0.0
    } else {
        (segments - 1) as f64 * step_s + SEGMENT_SECONDS
    }
}

#[cfg(test)]
mod tests;
