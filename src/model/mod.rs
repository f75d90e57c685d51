//! The encoder, its heads, presets and weights I/O.

pub mod weights;
