//! AVX-512F scan of f16 rows: 16 f32 lanes per vector, two rows at a time in memory order.
//! (f32 rows use the AVX2 kernel on these CPUs too: it measured twice as fast, see
//! [`super::scan_f32_with`].)
//!
//! The same plan as [`super::avx2`] with vectors twice as wide: two adjacent rows share
//! each query vector, with 2 accumulators per row; the rows widen with `vcvtph2ps zmm`
//! (AVX-512F). Each row's lanes are folded to 8 and summed with the AVX2 reductions.
//! d = 128 is compiled as a constant. The last d mod 16 values of each row are summed in
//! scalar code. (The i8 scan uses the AVX2 integer code, see [`super::int8`].)
//!
//! Callers must have checked the shapes (`db.len() = out.len() · d`, d ≥ 1) and that the
//! CPU has AVX-512F, AVX2, FMA and F16C.

use core::arch::x86_64::*;

use super::EMBEDDING;
use super::avx2::{reduce1, reduce2};
use crate::half::f16_to_f32;

/// f32 lanes per vector.
const LANES: usize = 16;
/// Independent accumulators per row: 2 × 16 lanes = 32 values per step, so d = 128
/// takes 4 steps per row (8 FMA chains for a pair of rows).
const ACCS: usize = 2;

/// A database element type whose values widen to f32 lanes.
trait Element: Copy {
    /// Loads [`LANES`] elements at `p`, widened to f32.
    ///
    /// # Safety
    /// `p` must point to `LANES` readable elements, and the CPU must have AVX-512F.
    unsafe fn load(p: *const Self) -> __m512;

    /// The element as f32 (for the row tails).
    fn widen(self) -> f32;
}

impl Element for u16 {
    #[inline(always)]
    unsafe fn load(p: *const u16) -> __m512 {
        // SAFETY: the caller guarantees 16 readable u16 (32 bytes) at `p` and AVX-512F.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        f16_to_f32(self)
    }
}

/// [`super::scan_f16`] on AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub fn scan_f16(query: &[f32], db: &[u16], out: &mut [f32]) {
    scan(query, db, out);
}

/// `out[r] = Σ_i query[i] · db[r·d + i]`.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn scan<E: Element>(query: &[f32], db: &[E], out: &mut [f32]) {
    if query.len() == EMBEDDING {
        scan_pairs::<E, EMBEDDING>(query, db, out);
    } else {
        scan_pairs::<E, 0>(query, db, out);
    }
}

/// [`scan`] two rows at a time, with d = `FIXED_D` as a compile-time constant (its loops
/// unroll fully), or d = `query.len()` if `FIXED_D` = 0.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn scan_pairs<E: Element, const FIXED_D: usize>(query: &[f32], db: &[E], out: &mut [f32]) {
    let d = if FIXED_D == 0 { query.len() } else { FIXED_D };
    let query = &query[..d];
    // Values of each row covered by whole vectors.
    let body = d - d % LANES;
    let rest = &query[body..];
    for (two_rows, scores) in db.chunks_exact(2 * d).zip(out.chunks_exact_mut(2)) {
        let (first, second) = two_rows.split_at(d);
        let [a, b] = row_lanes::<E, FIXED_D, 2>(query, [first, second]);
        let (sum_a, sum_b) = reduce2(fold(a), fold(b));
        scores[0] = sum_a + tail(rest, &first[body..]);
        scores[1] = sum_b + tail(rest, &second[body..]);
    }
    if out.len() % 2 == 1 {
        let r = out.len() - 1;
        let row = &db[r * d..];
        let [lanes] = row_lanes::<E, FIXED_D, 1>(query, [row]);
        out[r] = reduce1(fold(lanes)) + tail(rest, &row[body..]);
    }
}

/// Lane-wise partial sums of `query · row` for R rows side by side, over the first
/// d − d mod 16 values (d as in [`scan_pairs`]; every row is d long).
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn row_lanes<E: Element, const FIXED_D: usize, const R: usize>(
    query: &[f32],
    rows: [&[E]; R],
) -> [__m512; R] {
    let d = if FIXED_D == 0 { query.len() } else { FIXED_D };
    assert!(
        query.len() == d && rows.iter().all(|row| row.len() == d),
        "row_lanes: a row is not d = {d} long"
    );
    let mut acc = [[_mm512_setzero_ps(); ACCS]; R];
    let mut i = 0;
    while i + ACCS * LANES <= d {
        for k in 0..ACCS {
            let at = i + k * LANES;
            // SAFETY: at + LANES ≤ i + ACCS·LANES ≤ d = query.len().
            let q = unsafe { _mm512_loadu_ps(query.as_ptr().add(at)) };
            for (row, acc) in rows.iter().zip(&mut acc) {
                // SAFETY: at + LANES ≤ d = row.len(); AVX-512F is enabled here.
                let x = unsafe { E::load(row.as_ptr().add(at)) };
                acc[k] = _mm512_fmadd_ps(q, x, acc[k]);
            }
        }
        i += ACCS * LANES;
    }
    while i + LANES <= d {
        // SAFETY: i + LANES ≤ d = query.len().
        let q = unsafe { _mm512_loadu_ps(query.as_ptr().add(i)) };
        for (row, acc) in rows.iter().zip(&mut acc) {
            // SAFETY: i + LANES ≤ d = row.len(); AVX-512F is enabled here.
            let x = unsafe { E::load(row.as_ptr().add(i)) };
            acc[0] = _mm512_fmadd_ps(q, x, acc[0]);
        }
        i += LANES;
    }
    // ACCS = 2 accumulators per row.
    acc.map(|[a0, a1]| _mm512_add_ps(a0, a1))
}

/// Adds the upper 8 lanes of `v` to its lower 8.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn fold(v: __m512) -> __m256 {
    let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
    _mm256_add_ps(_mm512_castps512_ps256(v), high)
}

/// Σ q_i · x_i over the last d mod 16 values of a row, in order.
#[inline(always)]
fn tail<E: Element>(query: &[f32], row: &[E]) -> f32 {
    query.iter().zip(row).map(|(&q, &x)| q * x.widen()).sum()
}
