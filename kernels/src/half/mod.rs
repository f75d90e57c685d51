//! IEEE 754 binary16 ("f16", "half") conversion. The index stores embeddings as f16 bits
//! (`u16`) to halve memory and scan bandwidth; the scans widen them to f32 exactly.
//!
//! [`f32_to_f16`] rounds to nearest, ties to even, like the F16C instruction `vcvtps2ph`
//! with rounding mode 0: overflow gives ±∞, tiny values give subnormals or ±0, NaN stays
//! NaN (quiet bit set, the top 9 payload bits kept). [`f16_to_f32`] is exact for every
//! finite half; NaN inputs come out quiet with their payload. The slice forms use F16C or
//! AVX-512 where present and match the scalar functions bit for bit (tested over all
//! 65536 halves and over rounding midpoints). On NEON, widening uses integer operations
//! (stable Rust has no f16 vector type) and narrowing is scalar.

/// Number of explicit mantissa bits of binary16.
const F16_MANTISSA_BITS: u32 = 10;
/// Number of explicit mantissa bits of binary32.
const F32_MANTISSA_BITS: u32 = 23;
/// Mantissa bits dropped when narrowing f32 → f16: 23 − 10 = 13.
const DROPPED_BITS: u32 = F32_MANTISSA_BITS - F16_MANTISSA_BITS;
/// Exponent bias difference: 127 (binary32) − 15 (binary16) = 112.
const BIAS_DIFFERENCE: i32 = 127 - 15;
/// Exponent field of ±∞ / NaN in binary16.
const F16_EXP_MAX: u32 = 0x1f;
/// binary16 bits of +∞.
const F16_INFINITY: u16 = 0x7c00;
/// binary16 quiet-NaN bit (top mantissa bit).
const F16_QUIET: u16 = 0x0200;
/// binary32 quiet-NaN bit (top mantissa bit).
const F32_QUIET: u32 = 0x0040_0000;
/// 2^−24, the value of the smallest binary16 subnormal (mantissa 1, exponent field 0).
const F16_SUBNORMAL_UNIT: f32 = 1.0 / 16_777_216.0;

/// Widens IEEE binary16 bits to f32 (exact; NaN payloads kept, quiet bit set).
#[inline]
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exponent = u32::from(h >> F16_MANTISSA_BITS) & F16_EXP_MAX;
    let mantissa = u32::from(h) & 0x3ff;
    let bits = match exponent {
        0 => {
            // Zero or subnormal: mantissa · 2^−24 is exact in f32 (11 bits, normal range).
            (mantissa as f32 * F16_SUBNORMAL_UNIT).to_bits() | sign
        }
        F16_EXP_MAX if mantissa == 0 => sign | 0x7f80_0000,
        F16_EXP_MAX => sign | 0x7f80_0000 | F32_QUIET | (mantissa << DROPPED_BITS),
        _ => {
            let rebiased = (exponent as i32 + BIAS_DIFFERENCE) as u32;
            sign | (rebiased << F32_MANTISSA_BITS) | (mantissa << DROPPED_BITS)
        }
    };
    f32::from_bits(bits)
}

/// Narrows f32 to IEEE binary16 bits, rounding to nearest with ties to even.
#[inline]
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> F32_MANTISSA_BITS) & 0xff) as i32;
    let mantissa = bits & 0x7f_ffff;
    if exponent == 0xff {
        return if mantissa == 0 {
            sign | F16_INFINITY
        } else {
            sign | F16_INFINITY | F16_QUIET | (mantissa >> DROPPED_BITS) as u16
        };
    }
    // Biased binary16 exponent of x if it were a normal half.
    let half_exponent = exponent - BIAS_DIFFERENCE;
    if half_exponent >= F16_EXP_MAX as i32 {
        return sign | F16_INFINITY;
    }
    if half_exponent <= 0 {
        // Subnormal half (or zero). |x| < 2^−25 (half_exponent < −10) rounds to ±0.
        if half_exponent < -10 {
            return sign;
        }
        // x = significand · 2^(exponent − 150) = (significand >> shift) units of 2^−24.
        let significand = mantissa | (1 << F32_MANTISSA_BITS);
        let shift = (14 - half_exponent) as u32;
        let units = significand >> shift;
        let rounded = round_half_even(units, significand & ((1 << shift) - 1), 1 << (shift - 1));
        // A carry out of the mantissa lands on the smallest normal half: still correct.
        return sign | rounded as u16;
    }
    let truncated = ((half_exponent as u32) << F16_MANTISSA_BITS) | (mantissa >> DROPPED_BITS);
    let dropped = mantissa & ((1 << DROPPED_BITS) - 1);
    // A carry out of the mantissa bumps the exponent, up to ∞ itself: still correct.
    sign | round_half_even(truncated, dropped, 1 << (DROPPED_BITS - 1)) as u16
}

/// `truncated` plus one if the dropped part is above half an ulp, or exactly half and
/// `truncated` is odd.
#[inline]
fn round_half_even(truncated: u32, dropped: u32, half_ulp: u32) -> u32 {
    let round_up = dropped > half_ulp || (dropped == half_ulp && truncated & 1 == 1);
    truncated + u32::from(round_up)
}

/// Narrows `src` into `dst` (equal lengths) with the best instruction set.
pub fn f32_to_f16_slice(src: &[f32], dst: &mut [u16]) {
    f32_to_f16_slice_with(crate::Isa::detect(), src, dst);
}

/// Widens `src` into `dst` (equal lengths) with the best instruction set.
pub fn f16_to_f32_slice(src: &[u16], dst: &mut [f32]) {
    f16_to_f32_slice_with(crate::Isa::detect(), src, dst);
}

/// [`f32_to_f16_slice`] on a chosen instruction set.
///
/// Panics if the lengths differ or `isa` is not available on this CPU.
pub fn f32_to_f16_slice_with(isa: crate::Isa, src: &[f32], dst: &mut [u16]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "f32_to_f16_slice: src has {} values, dst {}",
        src.len(),
        dst.len()
    );
    assert!(
        isa.is_available(),
        "f32_to_f16_slice: {isa:?} is not available on this CPU"
    );
    match isa {
        // SAFETY: the assertions above checked the lengths and that the CPU has F16C.
        #[cfg(target_arch = "x86_64")]
        crate::Isa::Avx2Fma => unsafe { avx2::narrow(src, dst) },
        // SAFETY: the assertions above checked the lengths and that the CPU has AVX-512F.
        #[cfg(target_arch = "x86_64")]
        crate::Isa::Avx512 => unsafe { avx512::narrow(src, dst) },
        _ => {
            for (h, &x) in dst.iter_mut().zip(src) {
                *h = f32_to_f16(x);
            }
        }
    }
}

/// [`f16_to_f32_slice`] on a chosen instruction set.
///
/// Panics if the lengths differ or `isa` is not available on this CPU.
pub fn f16_to_f32_slice_with(isa: crate::Isa, src: &[u16], dst: &mut [f32]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "f16_to_f32_slice: src has {} values, dst {}",
        src.len(),
        dst.len()
    );
    assert!(
        isa.is_available(),
        "f16_to_f32_slice: {isa:?} is not available on this CPU"
    );
    match isa {
        // SAFETY: the assertions above checked the lengths and that the CPU has F16C.
        #[cfg(target_arch = "x86_64")]
        crate::Isa::Avx2Fma => unsafe { avx2::widen(src, dst) },
        // SAFETY: the assertions above checked the lengths and that the CPU has AVX-512F.
        #[cfg(target_arch = "x86_64")]
        crate::Isa::Avx512 => unsafe { avx512::widen(src, dst) },
        // SAFETY: the assertions above checked the lengths and that the CPU has NEON.
        #[cfg(target_arch = "aarch64")]
        crate::Isa::Neon => unsafe { neon::widen(src, dst) },
        _ => {
            for (x, &h) in dst.iter_mut().zip(src) {
                *x = f16_to_f32(h);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
#[cfg(test)]
mod tests;
