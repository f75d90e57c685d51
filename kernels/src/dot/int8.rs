//! i8 rows: quantisation and the integer scan.
//!
//! A row is stored as i8 values x with one f32 scale s_r (row ≈ s_r · x, [`quantize_i8`]).
//! The query is quantised once per query to i16 values q with one scale s_q
//! ([`quantize_query_i16`]). The scan sums Σ q_i · x_i in i32, which is exact and
//! independent of the summation order, so every instruction set gives bit-identical
//! scores: `out[r] = (s_r · s_q) · (Σ_i q_i · x_{r,i} as f32)`.
//!
//! [`quantize_query_i16`] bounds |q_i| by min(32767, ⌊(2^31 − 1) / (128 d)⌋), so that no
//! sum can overflow (|Σ| ≤ d · 128 · max|q_i|); that is 32767 (relative rounding 2^−16)
//! for d ≤ 512. With other i16 queries the sums wrap modulo 2^32, identically in every
//! path. The integer scan needs ~3 vector instructions per 16 values, where widening i8
//! to f32 needs 6: it keeps up with memory where the float form would not.

use super::{check, scalar};
use crate::Isa;

#[cfg(target_arch = "x86_64")]
use super::avx2;
#[cfg(target_arch = "aarch64")]
use super::neon;

/// Largest |i8 row value| the overflow bound assumes (i8::MIN = −128).
const ROW_MAGNITUDE: usize = 128;

/// Quantises one row to i8 and returns its scale s, so that `row[i] ≈ s · out[i]`:
/// s = max|row| / 127 and `out[i]` = `row[i] · 127 / max|row|` rounded half away from zero
/// (an all-zero row gives s = 0 and zeros). The error per value is at most s / 2.
///
/// Panics if the lengths differ or a value is not finite.
pub fn quantize_i8(row: &[f32], out: &mut [i8]) -> f32 {
    assert_eq!(
        row.len(),
        out.len(),
        "quantize_i8: row has {} values, out {}",
        row.len(),
        out.len()
    );
    quantize(
        row,
        f32::from(i8::MAX),
        "quantize_i8",
        |q, v| *q = v as i8,
        out,
    )
}

/// Quantises a query for [`scan_i8`] and returns its scale s_q, so that
/// `query[i] ≈ s_q · out[i]`, with |`out[i]`| ≤ min(32767, ⌊(2^31 − 1) / (128 d)⌋)
/// (see the module docs), d = `query.len()`.
///
/// Panics if the lengths differ or a value is not finite.
pub fn quantize_query_i16(query: &[f32], out: &mut [i16]) -> f32 {
    assert_eq!(
        query.len(),
        out.len(),
        "quantize_query_i16: query has {} values, out {}",
        query.len(),
        out.len()
    );
    let no_overflow = i32::MAX as usize / (ROW_MAGNITUDE * query.len().max(1));
    let limit = no_overflow.min(i16::MAX as usize) as f32;
    quantize(
        query,
        limit,
        "quantize_query_i16",
        |q, v| *q = v as i16,
        out,
    )
}

/// Scales `values` so that the largest magnitude maps to `limit`, rounds half away from
/// zero, stores through `store`, and returns the scale (max / limit, or 0).
fn quantize<T>(
    values: &[f32],
    limit: f32,
    op: &str,
    store: impl Fn(&mut T, i32),
    out: &mut [T],
) -> f32 {
    assert!(
        values.iter().all(|x| x.is_finite()),
        "{op}: a value is not finite"
    );
    let max = values.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || limit < 1.0 {
        out.iter_mut().for_each(|q| store(q, 0));
        return 0.0;
    }
    let inverse = limit / max;
    for (q, &x) in out.iter_mut().zip(values) {
        let y = x * inverse; // in [−limit, limit] up to one rounding, so it rounds into range
        store(
            q,
            if y >= 0.0 {
                (y + 0.5) as i32
            } else {
                (y - 0.5) as i32
            },
        );
    }
    max / limit
}

/// Scores i8 rows: `out[r] = (scales[r] · query_scale) · (Σ_i query[i] · db[r·d + i])`,
/// the sum in i32 (n × d row-major, d = `query.len()`, n = `out.len()` = `scales.len()`),
/// on the best instruction set.
pub fn scan_i8(query: &[i16], query_scale: f32, db: &[i8], scales: &[f32], out: &mut [f32]) {
    scan_i8_with(Isa::detect(), query, query_scale, db, scales, out);
}

/// [`scan_i8`] on a chosen instruction set. AVX-512 runs the AVX2 integer code (widening
/// i8 → i16 and `vpmaddwd` in 512-bit form need AVX-512BW, which `Isa::Avx512` does not
/// require).
pub fn scan_i8_with(
    isa: Isa,
    query: &[i16],
    query_scale: f32,
    db: &[i8],
    scales: &[f32],
    out: &mut [f32],
) {
    assert_eq!(
        scales.len(),
        out.len(),
        "scan_i8: {} scales for {} rows (out.len())",
        scales.len(),
        out.len()
    );
    if !check("scan_i8", isa, query.len(), db.len(), out) {
        return;
    }
    match isa {
        Isa::Scalar => scalar::scan_i8(query, query_scale, db, scales, out),
        // SAFETY: `check` asserted that the CPU has AVX2 (also part of `Isa::Avx512`), and
        // the shapes.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma | Isa::Avx512 => unsafe { avx2::scan_i8(query, query_scale, db, scales, out) },
        // SAFETY: `check` asserted that the CPU has NEON, and the shapes.
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => unsafe { neon::scan_i8(query, query_scale, db, scales, out) },
        _ => unreachable!("{isa:?} is available, so its path is compiled in"),
    }
}

/// The score of an i8 row from its integer sum: the same float operations in every path.
#[inline(always)]
pub(super) fn i8_score(sum: i32, query_scale: f32, row_scale: f32) -> f32 {
    (row_scale * query_scale) * sum as f32
}

/// Σ q_i · x_i in i32, wrapping (the scalar twin, and the row tails of the SIMD paths).
#[inline(always)]
pub(super) fn i8_dot(query: &[i16], row: &[i8]) -> i32 {
    query.iter().zip(row).fold(0i32, |sum, (&q, &x)| {
        sum.wrapping_add(i32::from(q) * i32::from(x))
    })
}
