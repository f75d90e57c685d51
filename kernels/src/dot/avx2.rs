//! AVX2 + FMA + F16C scans: 8 f32 lanes per step, 8 rows at a time.
//!
//! For each block of 8 rows, a query vector of 8 lanes is loaded once and multiplied
//! into 8 independent accumulators (one per row): 8 FMA dependency chains cover the FMA
//! latency, and the 8 rows' loads are in flight together. f16 rows widen with `vcvtph2ps`,
//! i8 rows with `vpmovsxbd` + `vcvtdq2ps`. The last d mod 8 values of each row and the
//! last n mod 8 rows use narrower code; all of it equals [`super::scalar`] whenever the
//! sums are exact.
//!
//! Callers must have checked the shapes (`db.len() = out.len() · d`, d ≥ 1,
//! `scales.len() = out.len()`) and that the CPU has AVX2, FMA and F16C.

use core::arch::x86_64::*;

use super::scaled;
use crate::half::f16_to_f32;

/// f32 lanes per vector.
const LANES: usize = 8;
/// Rows scored together.
const ROWS: usize = 8;

/// A database element type whose values widen to f32 lanes.
trait Element: Copy {
    /// Loads [`LANES`] elements at `p`, widened to f32.
    ///
    /// # Safety
    /// `p` must point to `LANES` readable elements, and the CPU must have AVX2 and F16C.
    unsafe fn load(p: *const Self) -> __m256;

    /// The element as f32 (for the row tails).
    fn widen(self) -> f32;
}

impl Element for f32 {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees 8 readable f32 at `p`; `loadu` needs no alignment.
        unsafe { _mm256_loadu_ps(p) }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
}

impl Element for u16 {
    #[inline(always)]
    unsafe fn load(p: *const u16) -> __m256 {
        // SAFETY: the caller guarantees 8 readable u16 (16 bytes) at `p` and F16C.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        f16_to_f32(self)
    }
}

impl Element for i8 {
    #[inline(always)]
    unsafe fn load(p: *const i8) -> __m256 {
        // SAFETY: the caller guarantees 8 readable i8 at `p`; `loadl_epi64` reads 8 bytes.
        unsafe { _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p.cast()))) }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from(self)
    }
}

/// [`super::scan_f32`] on AVX2 + FMA.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn scan_f32(query: &[f32], db: &[f32], out: &mut [f32]) {
    scan(query, db, None, out);
}

/// [`super::scan_f16`] on AVX2 + FMA + F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn scan_f16(query: &[f32], db: &[u16], out: &mut [f32]) {
    scan(query, db, None, out);
}

/// [`super::scan_i8`] on AVX2 + FMA.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn scan_i8(query: &[f32], db: &[i8], scales: &[f32], out: &mut [f32]) {
    scan(query, db, Some(scales), out);
}

/// `out[r] = scale_r · Σ_i query[i] · db[r·d + i]` with scale_r = `scales[r]` or 1.
#[target_feature(enable = "avx2,fma,f16c")]
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
        let mut acc = [_mm256_setzero_ps(); ROWS];
        for i in (0..body).step_by(LANES) {
            // SAFETY: i + LANES ≤ body ≤ d = query.len().
            let q = unsafe { _mm256_loadu_ps(head.as_ptr().add(i)) };
            for (r, a) in acc.iter_mut().enumerate() {
                // SAFETY: r·d + i + LANES ≤ r·d + d ≤ ROWS·d = block.len(); AVX2 + F16C
                // are enabled on this function.
                let x = unsafe { E::load(block.as_ptr().add(r * d + i)) };
                *a = _mm256_fmadd_ps(q, x, *a);
            }
        }
        let mut sums = [0.0f32; ROWS];
        // SAFETY: `sums` holds ROWS = LANES = 8 f32.
        unsafe { _mm256_storeu_ps(sums.as_mut_ptr(), reduce8(acc)) };
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
        let mut acc = _mm256_setzero_ps();
        for i in (0..body).step_by(LANES) {
            // SAFETY: i + LANES ≤ body ≤ d = query.len() = row.len().
            let (q, x) = unsafe {
                (
                    _mm256_loadu_ps(head.as_ptr().add(i)),
                    E::load(row.as_ptr().add(i)),
                )
            };
            acc = _mm256_fmadd_ps(q, x, acc);
        }
        *score = scaled(scales, r, reduce1(acc) + tail(rest, &row[body..]));
    }
}

/// Σ q_i · x_i over the last d mod 8 values of a row, in order.
#[inline(always)]
fn tail<E: Element>(query: &[f32], row: &[E]) -> f32 {
    query.iter().zip(row).map(|(&q, &x)| q * x.widen()).sum()
}

/// The 8 lane sums of 8 accumulators, as one vector: lane r = Σ lanes of `acc[r]`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn reduce8(acc: [__m256; ROWS]) -> __m256 {
    // hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7]; two rounds give
    // [Σ_lo(r0..r3) | Σ_hi(r0..r3)] and the same for r4..r7.
    let r01 = _mm256_hadd_ps(acc[0], acc[1]);
    let r23 = _mm256_hadd_ps(acc[2], acc[3]);
    let r45 = _mm256_hadd_ps(acc[4], acc[5]);
    let r67 = _mm256_hadd_ps(acc[6], acc[7]);
    let r0123 = _mm256_hadd_ps(r01, r23);
    let r4567 = _mm256_hadd_ps(r45, r67);
    let low_halves = _mm256_permute2f128_ps::<0x20>(r0123, r4567);
    let high_halves = _mm256_permute2f128_ps::<0x31>(r0123, r4567);
    _mm256_add_ps(low_halves, high_halves)
}

/// The sum of the 8 lanes of `acc`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn reduce1(acc: __m256) -> f32 {
    let quad = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps::<1>(pair, pair)))
}
