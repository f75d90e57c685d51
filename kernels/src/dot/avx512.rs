//! AVX-512F scans: 16 f32 lanes per step, 8 rows at a time.
//!
//! The same plan as [`super::avx2`] with vectors twice as wide: one query vector, 8
//! accumulators (one per row), f16 rows widened with `vcvtph2ps zmm` (AVX-512F), i8 rows
//! with `vpmovsxbd zmm` + `vcvtdq2ps`. Each accumulator is folded to 8 lanes and the 8
//! rows are then summed with the AVX2 reduction. The last d mod 16 values of each row
//! and the last n mod 8 rows use narrower code.
//!
//! Callers must have checked the shapes (`db.len() = out.len() · d`, d ≥ 1,
//! `scales.len() = out.len()`) and that the CPU has AVX-512F, AVX2, FMA and F16C.

use core::arch::x86_64::*;

use super::avx2::{reduce1, reduce8};
use super::scaled;
use crate::half::f16_to_f32;

/// f32 lanes per vector.
const LANES: usize = 16;
/// Rows scored together.
const ROWS: usize = 8;

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

impl Element for f32 {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: the caller guarantees 16 readable f32 at `p`; `loadu` needs no alignment.
        unsafe { _mm512_loadu_ps(p) }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
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

impl Element for i8 {
    #[inline(always)]
    unsafe fn load(p: *const i8) -> __m512 {
        // SAFETY: the caller guarantees 16 readable i8 (16 bytes) at `p` and AVX-512F.
        unsafe { _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p.cast()))) }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from(self)
    }
}

/// [`super::scan_f32`] on AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub fn scan_f32(query: &[f32], db: &[f32], out: &mut [f32]) {
    scan(query, db, None, out);
}

/// [`super::scan_f16`] on AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub fn scan_f16(query: &[f32], db: &[u16], out: &mut [f32]) {
    scan(query, db, None, out);
}

/// [`super::scan_i8`] on AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub fn scan_i8(query: &[f32], db: &[i8], scales: &[f32], out: &mut [f32]) {
    scan(query, db, Some(scales), out);
}

/// `out[r] = scale_r · Σ_i query[i] · db[r·d + i]` with scale_r = `scales[r]` or 1.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn scan<E: Element>(query: &[f32], db: &[E], scales: Option<&[f32]>, out: &mut [f32]) {
    let d = query.len();
    // Values of each row covered by whole vectors.
    let body = d - d % LANES;
    let (head, rest) = query.split_at(body);
    let blocks = out.len() / ROWS;
    let blocked = db
        .chunks_exact(ROWS * d)
        .zip(out.chunks_exact_mut(ROWS))
        .enumerate();
    for (b, (block, scores)) in blocked {
        let mut acc = [_mm512_setzero_ps(); ROWS];
        for i in (0..body).step_by(LANES) {
            // SAFETY: i + LANES ≤ body ≤ d = query.len().
            let q = unsafe { _mm512_loadu_ps(head.as_ptr().add(i)) };
            for (r, a) in acc.iter_mut().enumerate() {
                // SAFETY: r·d + i + LANES ≤ r·d + d ≤ ROWS·d = block.len(); AVX-512F is
                // enabled on this function.
                let x = unsafe { E::load(block.as_ptr().add(r * d + i)) };
                *a = _mm512_fmadd_ps(q, x, *a);
            }
        }
        let folded: [__m256; ROWS] = core::array::from_fn(|r| fold(acc[r]));
        let mut sums = [0.0f32; ROWS];
        // SAFETY: `sums` holds ROWS = 8 f32, the width of `reduce8`'s result.
        unsafe { _mm256_storeu_ps(sums.as_mut_ptr(), reduce8(folded)) };
        for (r, score) in scores.iter_mut().enumerate() {
            let row_tail = &block[r * d + body..(r + 1) * d];
            *score = scaled(scales, b * ROWS + r, sums[r] + tail(rest, row_tail));
        }
    }
    let first_single = blocks * ROWS;
    let singles = db[first_single * d..]
        .chunks_exact(d)
        .zip(&mut out[first_single..]);
    for (r, (row, score)) in (first_single..).zip(singles) {
        let mut acc = _mm512_setzero_ps();
        for i in (0..body).step_by(LANES) {
            // SAFETY: i + LANES ≤ body ≤ d = query.len() = row.len().
            let (q, x) = unsafe {
                (
                    _mm512_loadu_ps(head.as_ptr().add(i)),
                    E::load(row.as_ptr().add(i)),
                )
            };
            acc = _mm512_fmadd_ps(q, x, acc);
        }
        *score = scaled(scales, r, reduce1(fold(acc)) + tail(rest, &row[body..]));
    }
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
