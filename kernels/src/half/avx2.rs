//! F16C slice conversion, 8 values per instruction (`vcvtps2ph` / `vcvtph2ps`).
//!
//! Callers must have checked that the lengths are equal and that the CPU has F16C (part
//! of [`crate::Isa::Avx2Fma`]).

use core::arch::x86_64::*;

use super::{f16_to_f32, f32_to_f16};

/// Values per vector.
const LANES: usize = 8;

/// [`super::f32_to_f16_slice`] with F16C, rounding to nearest even.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn narrow(src: &[f32], dst: &mut [u16]) {
    let body = src.len() - src.len() % LANES;
    for i in (0..body).step_by(LANES) {
        // SAFETY: i + LANES ≤ body ≤ src.len() = dst.len(); unaligned loads and stores.
        unsafe {
            let x = _mm256_loadu_ps(src.as_ptr().add(i));
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(x);
            _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), h);
        }
    }
    for (h, &x) in dst[body..].iter_mut().zip(&src[body..]) {
        *h = f32_to_f16(x);
    }
}

/// [`super::f16_to_f32_slice`] with F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn widen(src: &[u16], dst: &mut [f32]) {
    let body = src.len() - src.len() % LANES;
    for i in (0..body).step_by(LANES) {
        // SAFETY: i + LANES ≤ body ≤ src.len() = dst.len(); unaligned loads and stores.
        unsafe {
            let h = _mm_loadu_si128(src.as_ptr().add(i).cast());
            _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(h));
        }
    }
    for (x, &h) in dst[body..].iter_mut().zip(&src[body..]) {
        *x = f16_to_f32(h);
    }
}
