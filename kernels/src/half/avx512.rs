//! AVX-512F slice conversion, 16 values per instruction (`vcvtps2ph` / `vcvtph2ps` zmm).
//!
//! Callers must have checked that the lengths are equal and that the CPU has AVX-512F.

use core::arch::x86_64::*;

use super::{f16_to_f32, f32_to_f16};

/// Values per vector.
const LANES: usize = 16;

/// [`super::f32_to_f16_slice`] with AVX-512F, rounding to nearest even.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub fn narrow(src: &[f32], dst: &mut [u16]) {
    let body = src.len() - src.len() % LANES;
    for i in (0..body).step_by(LANES) {
        // SAFETY: i + LANES ≤ body ≤ src.len() = dst.len(); unaligned loads and stores.
        unsafe {
            let x = _mm512_loadu_ps(src.as_ptr().add(i));
            let h = _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x);
            _mm256_storeu_si256(dst.as_mut_ptr().add(i).cast(), h);
        }
    }
    for (h, &x) in dst[body..].iter_mut().zip(&src[body..]) {
        *h = f32_to_f16(x);
    }
}

/// [`super::f16_to_f32_slice`] with AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub fn widen(src: &[u16], dst: &mut [f32]) {
    let body = src.len() - src.len() % LANES;
    for i in (0..body).step_by(LANES) {
        // SAFETY: i + LANES ≤ body ≤ src.len() = dst.len(); unaligned loads and stores.
        unsafe {
            let h = _mm256_loadu_si256(src.as_ptr().add(i).cast());
            _mm512_storeu_ps(dst.as_mut_ptr().add(i), _mm512_cvtph_ps(h));
        }
    }
    for (x, &h) in dst[body..].iter_mut().zip(&src[body..]) {
        *x = f16_to_f32(h);
    }
}
