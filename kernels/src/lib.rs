//! SIMD search kernels for earmark: dot-product scans, top-k selection, bucket probing
//! in score order and alignment votes. `no_std`, no dependencies; each fast path has a
//! scalar twin that the tests use as the oracle.
//!
//! | module | what it does |
//! |---|---|
//! | [`cpu`] | which instruction set ([`cpu::Isa`]) runs the SIMD kernels |
//! | [`half`] | exact f32 ↔ IEEE binary16 conversion (the index stores f16 embeddings) |
//! | [`dot`] | one query against n database rows: f32, f16 and i8 rows |
//! | [`topk`] | the k highest scores with their ids, streamed chunk by chunk |
//! | [`probe`] | hash buckets in exactly decreasing score, without scoring all 2^K |
//! | [`votes`] | subsequence alignment: votes for (track, start) |
//!
//! Nothing here allocates: callers provide every buffer. With the `std` feature the
//! instruction set is detected at run time; without it only the features the crate was
//! compiled for (`-C target-feature`, `-C target-cpu`) are used.
#![no_std]

#[cfg(any(feature = "std", test))]
extern crate std;

pub mod cpu;
pub mod dot;
pub mod half;
pub mod probe;
pub mod topk;
pub mod votes;

pub use cpu::Isa;

#[cfg(test)]
mod testutil;
