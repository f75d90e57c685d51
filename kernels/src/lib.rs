//! SIMD search kernels for earmark: dot-product scans, top-k selection, bucket probing
//! in score order and alignment votes. `no_std`, no dependencies; each fast path has a
//! scalar twin that the tests use as the oracle.
#![no_std]

#[cfg(feature = "std")]
extern crate std;
