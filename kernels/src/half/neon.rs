//! NEON f16 → f32 widening with integer operations (stable Rust has no f16 vector
//! type, so `fcvtl` is out of reach): shift the exponent and mantissa into f32 position,
//! multiply by 2^112 to rebias the exponent (exact for normal and subnormal halves,
//! since aarch64 Linux runs with flush-to-zero off), and patch ±∞ / NaN separately.
//!
//! Callers must have checked that the lengths are equal (NEON is part of every aarch64
//! CPU).

use core::arch::aarch64::*;

use super::f16_to_f32;

/// Values per step (one 128-bit load of u16).
const LANES: usize = 8;

/// 2^112 = 2^(127 − 15): moves a binary16 exponent to binary32 bias.
const REBIAS: f32 = 5.192_297e33;

/// Four halves, zero-extended to u32 lanes, widened to f32 exactly like
/// [`super::f16_to_f32`] (NaN quieted, payload kept).
#[inline]
#[target_feature(enable = "neon")]
pub(crate) fn widen4(h: uint32x4_t) -> float32x4_t {
    let sign = vshlq_n_u32::<16>(vandq_u32(h, vdupq_n_u32(0x8000)));
    let magnitude = vshlq_n_u32::<13>(vandq_u32(h, vdupq_n_u32(0x7fff)));
    let finite = vmulq_f32(vreinterpretq_f32_u32(magnitude), vdupq_n_f32(REBIAS));
    let exponent_all_ones = vceqq_u32(vandq_u32(h, vdupq_n_u32(0x7c00)), vdupq_n_u32(0x7c00));
    let quiet_if_nan = vandq_u32(vtstq_u32(h, vdupq_n_u32(0x03ff)), vdupq_n_u32(0x0040_0000));
    let infinite_or_nan = vorrq_u32(vorrq_u32(magnitude, vdupq_n_u32(0x7f80_0000)), quiet_if_nan);
    let bits = vbslq_u32(
        exponent_all_ones,
        infinite_or_nan,
        vreinterpretq_u32_f32(finite),
    );
    vreinterpretq_f32_u32(vorrq_u32(bits, sign))
}

/// Eight halves at `p`, widened to two f32 vectors (low four, high four).
///
/// # Safety
/// `p` must point to 8 readable u16.
#[inline]
#[target_feature(enable = "neon")]
pub(crate) unsafe fn load8(p: *const u16) -> (float32x4_t, float32x4_t) {
    // SAFETY: the caller guarantees 8 readable u16 at `p`; `vld1q` needs no alignment.
    let h = unsafe { vld1q_u16(p) };
    (
        widen4(vmovl_u16(vget_low_u16(h))),
        widen4(vmovl_high_u16(h)),
    )
}

/// [`super::f16_to_f32_slice`] on NEON.
#[target_feature(enable = "neon")]
pub fn widen(src: &[u16], dst: &mut [f32]) {
    let body = src.len() - src.len() % LANES;
    for i in (0..body).step_by(LANES) {
        // SAFETY: i + LANES ≤ body ≤ src.len() = dst.len(); unaligned loads and stores.
        unsafe {
            let (low, high) = load8(src.as_ptr().add(i));
            vst1q_f32(dst.as_mut_ptr().add(i), low);
            vst1q_f32(dst.as_mut_ptr().add(i + 4), high);
        }
    }
    for (x, &h) in dst[body..].iter_mut().zip(&src[body..]) {
        *x = f16_to_f32(h);
    }
}
