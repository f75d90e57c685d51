//! Dot-product scans: one query against n database rows stored row-major.
//!
//! `db` holds n rows of d = `query.len()` values each (n × d, row-major) and `out` gets
//! n scores, `out[r] = query · row_r`. Rows are f32, IEEE binary16 bits (`u16`, see
//! [`crate::half`]) or i8 with one f32 scale per row ([`quantize_i8`]). Any d works;
//! d = 128 (the embedding size) is the fast case: the SIMD paths handle four rows at a
//! time with independent accumulators, so the loads of four rows are in flight together.
//!
//! A 10^6 × 128 scan reads 512 MB (f32), 256 MB (f16) or 128 MB (+ 4 MB of scales, i8):
//! it is memory-bound on one core, which is why the index stores f16 or i8.
//!
//! Every function panics with its name and the shapes if `db.len() ≠ out.len() · d`, and
//! the `*_with` forms panic if the chosen [`Isa`] is not available on this CPU.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;

use crate::Isa;

/// Scores f32 rows: `out[r] = Σ_i query[i] · db[r·d + i]` (n × d row-major, d =
/// `query.len()`, n = `out.len()`), on the best instruction set.
pub fn scan_f32(query: &[f32], db: &[f32], out: &mut [f32]) {
    scan_f32_with(Isa::detect(), query, db, out);
}

/// Scores f16 rows (binary16 bits): `out[r] = Σ_i query[i] · f16(db[r·d + i])`, on the best
/// instruction set. Shapes as in [`scan_f32`].
pub fn scan_f16(query: &[f32], db: &[u16], out: &mut [f32]) {
    scan_f16_with(Isa::detect(), query, db, out);
}

/// Scores i8 rows with per-row scales: `out[r] = scales[r] · Σ_i query[i] · db[r·d + i]`,
/// on the best instruction set. Shapes as in [`scan_f32`], plus `scales.len() = n`.
pub fn scan_i8(query: &[f32], db: &[i8], scales: &[f32], out: &mut [f32]) {
    scan_i8_with(Isa::detect(), query, db, scales, out);
}

/// [`scan_f32`] on a chosen instruction set.
pub fn scan_f32_with(isa: Isa, query: &[f32], db: &[f32], out: &mut [f32]) {
    if !check("scan_f32", isa, query.len(), db.len(), out) {
        return;
    }
    match isa {
        Isa::Scalar => scalar::scan_f32(query, db, out),
        // SAFETY: `check` asserted that the CPU has AVX2, FMA and F16C, and the shapes.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { avx2::scan_f32(query, db, out) },
        // SAFETY: `check` asserted that the CPU has AVX-512F, AVX2, FMA, F16C, and the shapes.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::scan_f32(query, db, out) },
        // SAFETY: `check` asserted that the CPU has NEON, and the shapes.
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => unsafe { neon::scan_f32(query, db, out) },
        _ => unreachable!("{isa:?} is available, so its path is compiled in"),
    }
}

/// [`scan_f16`] on a chosen instruction set.
pub fn scan_f16_with(isa: Isa, query: &[f32], db: &[u16], out: &mut [f32]) {
    if !check("scan_f16", isa, query.len(), db.len(), out) {
        return;
    }
    match isa {
        Isa::Scalar => scalar::scan_f16(query, db, out),
        // SAFETY: `check` asserted that the CPU has AVX2, FMA and F16C, and the shapes.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { avx2::scan_f16(query, db, out) },
        // SAFETY: `check` asserted that the CPU has AVX-512F, AVX2, FMA, F16C, and the shapes.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::scan_f16(query, db, out) },
        // SAFETY: `check` asserted that the CPU has NEON, and the shapes.
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => unsafe { neon::scan_f16(query, db, out) },
        _ => unreachable!("{isa:?} is available, so its path is compiled in"),
    }
}

/// [`scan_i8`] on a chosen instruction set.
pub fn scan_i8_with(isa: Isa, query: &[f32], db: &[i8], scales: &[f32], out: &mut [f32]) {
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
        Isa::Scalar => scalar::scan_i8(query, db, scales, out),
        // SAFETY: `check` asserted that the CPU has AVX2, FMA and F16C, and the shapes.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { avx2::scan_i8(query, db, scales, out) },
        // SAFETY: `check` asserted that the CPU has AVX-512F, AVX2, FMA, F16C, and the shapes.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::scan_i8(query, db, scales, out) },
        // SAFETY: `check` asserted that the CPU has NEON, and the shapes.
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => unsafe { neon::scan_i8(query, db, scales, out) },
        _ => unreachable!("{isa:?} is available, so its path is compiled in"),
    }
}

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
    assert!(
        row.iter().all(|x| x.is_finite()),
        "quantize_i8: row has a non-finite value"
    );
    let max = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        out.fill(0);
        return 0.0;
    }
    let inverse = f32::from(i8::MAX) / max;
    for (q, &x) in out.iter_mut().zip(row) {
        let y = x * inverse; // in [−127, 127]
        *q = if y >= 0.0 {
            (y + 0.5) as i8
        } else {
            (y - 0.5) as i8
        };
    }
    max / f32::from(i8::MAX)
}

/// `scales[r] · sum` (i8 rows), or `sum` without scales: one rounding, in every path.
#[inline(always)]
fn scaled(scales: Option<&[f32]>, r: usize, sum: f32) -> f32 {
    match scales {
        Some(scales) => scales[r] * sum,
        None => sum,
    }
}

/// Checks the shapes and the instruction set of a scan; returns false (after zeroing
/// `out`) when d = 0, where every dot product is the empty sum.
fn check(op: &str, isa: Isa, d: usize, db_len: usize, out: &mut [f32]) -> bool {
    assert!(
        db_len == out.len() * d,
        "{op}: db has {db_len} values, expected out.len() {} × d {d} (query.len())",
        out.len()
    );
    assert!(
        isa.is_available(),
        "{op}: {isa:?} is not available on this CPU"
    );
    if d == 0 {
        out.fill(0.0);
    }
    d != 0
}

#[cfg(test)]
mod tests;
