//! The encoder, its heads, presets and weights I/O.
