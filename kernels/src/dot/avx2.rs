//! AVX2 + FMA + F16C scans: 8 f32 lanes per vector, two adjacent rows at a time.
//!
//! Rows are read front to back, two at a time, with 4 accumulators per row (32 values per
//! step): two streams one row apart keep the hardware prefetcher on track and 8 FMA
//! chains hide the FMA latency. Scoring 8 rows side by side instead (one accumulator
//! each) interleaves 8 short streams 512 B apart; out of cache it ran at ~0.6× the rate
//! of a plain read of the same bytes, where rows in order run at the read rate.
//! d = 128 is compiled as a constant so its loops unroll fully. f16 rows widen with
//! `vcvtph2ps`. The last d mod 8 values of each row are summed in scalar code;
//! everything equals [`super::scalar`] whenever the sums are exact.
//!
//! The i8 scan ([`scan_i8`]) widens rows to i16 (`vpmovsxbw`) and multiplies them with the
//! i16 query by `vpmaddwd` into i32 lanes: exact, 16 values per 3 instructions.
//!
//! Callers must have checked the shapes (`db.len() = out.len() · d`, d ≥ 1,
//! `scales.len() = out.len()`) and that the CPU has AVX2, FMA and F16C.

use core::arch::x86_64::*;

use super::EMBEDDING;
use super::int8::{i8_dot, i8_score};
use crate::half::f16_to_f32;

/// f32 lanes per vector.
const LANES: usize = 8;
/// Independent accumulators per row.
const ACCS: usize = 4;

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

/// [`super::scan_f32`] on AVX2 + FMA.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn scan_f32(query: &[f32], db: &[f32], out: &mut [f32]) {
    scan(query, db, out);
}

/// [`super::scan_f16`] on AVX2 + FMA + F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn scan_f16(query: &[f32], db: &[u16], out: &mut [f32]) {
    scan(query, db, out);
}

/// `out[r] = Σ_i query[i] · db[r·d + i]`.
#[target_feature(enable = "avx2,fma,f16c")]
fn scan<E: Element>(query: &[f32], db: &[E], out: &mut [f32]) {
    if query.len() == EMBEDDING {
        scan_pairs::<E, EMBEDDING>(query, db, out);
    } else {
        scan_pairs::<E, 0>(query, db, out);
    }
}

/// [`scan`] two rows at a time, with d = `FIXED_D` as a compile-time constant (its loops
/// unroll fully), or d = `query.len()` if `FIXED_D` = 0.
#[target_feature(enable = "avx2,fma,f16c")]
fn scan_pairs<E: Element, const FIXED_D: usize>(query: &[f32], db: &[E], out: &mut [f32]) {
    let d = if FIXED_D == 0 { query.len() } else { FIXED_D };
    let query = &query[..d];
    // Values of each row covered by whole vectors.
    let body = d - d % LANES;
    let rest = &query[body..];
    for (two_rows, scores) in db.chunks_exact(2 * d).zip(out.chunks_exact_mut(2)) {
        let (first, second) = two_rows.split_at(d);
        let [a, b] = row_lanes::<E, FIXED_D, 2>(query, [first, second]);
        let (sum_a, sum_b) = reduce2(a, b);
        scores[0] = sum_a + tail(rest, &first[body..]);
        scores[1] = sum_b + tail(rest, &second[body..]);
    }
    if out.len() % 2 == 1 {
        let r = out.len() - 1;
        let row = &db[r * d..];
        let [lanes] = row_lanes::<E, FIXED_D, 1>(query, [row]);
        out[r] = reduce1(lanes) + tail(rest, &row[body..]);
    }
}

/// Lane-wise partial sums of `query · row` for R rows side by side, over the first
/// d − d mod 8 values (d as in [`scan_pairs`]; every row is d long).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn row_lanes<E: Element, const FIXED_D: usize, const R: usize>(
    query: &[f32],
    rows: [&[E]; R],
) -> [__m256; R] {
    let d = if FIXED_D == 0 { query.len() } else { FIXED_D };
    assert!(
        query.len() == d && rows.iter().all(|row| row.len() == d),
        "row_lanes: a row is not d = {d} long"
    );
    let mut acc = [[_mm256_setzero_ps(); ACCS]; R];
    let mut i = 0;
    while i + ACCS * LANES <= d {
        for k in 0..ACCS {
            let at = i + k * LANES;
            // SAFETY: at + LANES ≤ i + ACCS·LANES ≤ d = query.len().
            let q = unsafe { _mm256_loadu_ps(query.as_ptr().add(at)) };
            for (row, acc) in rows.iter().zip(&mut acc) {
                // SAFETY: at + LANES ≤ d = row.len(); AVX2 and F16C are enabled here.
                let x = unsafe { E::load(row.as_ptr().add(at)) };
                acc[k] = _mm256_fmadd_ps(q, x, acc[k]);
            }
        }
        i += ACCS * LANES;
    }
    while i + LANES <= d {
        // SAFETY: i + LANES ≤ d = query.len().
        let q = unsafe { _mm256_loadu_ps(query.as_ptr().add(i)) };
        for (row, acc) in rows.iter().zip(&mut acc) {
            // SAFETY: i + LANES ≤ d = row.len(); AVX2 and F16C are enabled here.
            let x = unsafe { E::load(row.as_ptr().add(i)) };
            acc[0] = _mm256_fmadd_ps(q, x, acc[0]);
        }
        i += LANES;
    }
    // ACCS = 4 accumulators per row, summed pairwise.
    acc.map(|[a0, a1, a2, a3]| _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)))
}

/// i16 query values per `vpmaddwd` step.
const I16_LANES: usize = 16;

/// [`super::scan_i8`] on AVX2: exact i32 sums.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn scan_i8(query: &[i16], query_scale: f32, db: &[i8], scales: &[f32], out: &mut [f32]) {
    if query.len() == EMBEDDING {
        scan_i8_pairs::<EMBEDDING>(query, query_scale, db, scales, out);
    } else {
        scan_i8_pairs::<0>(query, query_scale, db, scales, out);
    }
}

/// [`scan_i8`] two rows at a time, d as in [`scan_pairs`].
#[target_feature(enable = "avx2,fma,f16c")]
fn scan_i8_pairs<const FIXED_D: usize>(
    query: &[i16],
    query_scale: f32,
    db: &[i8],
    scales: &[f32],
    out: &mut [f32],
) {
    let d = if FIXED_D == 0 { query.len() } else { FIXED_D };
    let query = &query[..d];
    let body = d - d % I16_LANES;
    let rest = &query[body..];
    let pairs = db
        .chunks_exact(2 * d)
        .zip(scales.chunks_exact(2))
        .zip(out.chunks_exact_mut(2));
    for ((two_rows, two_scales), scores) in pairs {
        let (first, second) = two_rows.split_at(d);
        let [a, b] = i8_row_lanes::<FIXED_D, 2>(query, [first, second]);
        let sum_a = hsum_i32(a).wrapping_add(i8_dot(rest, &first[body..]));
        let sum_b = hsum_i32(b).wrapping_add(i8_dot(rest, &second[body..]));
        scores[0] = i8_score(sum_a, query_scale, two_scales[0]);
        scores[1] = i8_score(sum_b, query_scale, two_scales[1]);
    }
    if out.len() % 2 == 1 {
        let r = out.len() - 1;
        let row = &db[r * d..];
        let [lanes] = i8_row_lanes::<FIXED_D, 1>(query, [row]);
        let sum = hsum_i32(lanes).wrapping_add(i8_dot(rest, &row[body..]));
        out[r] = i8_score(sum, query_scale, scales[r]);
    }
}

/// Lane-wise i32 partial sums of `query · row` for R rows side by side, over the first
/// d − d mod 16 values (every row is d long).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn i8_row_lanes<const FIXED_D: usize, const R: usize>(
    query: &[i16],
    rows: [&[i8]; R],
) -> [__m256i; R] {
    let d = if FIXED_D == 0 { query.len() } else { FIXED_D };
    assert!(
        query.len() == d && rows.iter().all(|row| row.len() == d),
        "i8_row_lanes: a row is not d = {d} long"
    );
    // One accumulator per row: the chain is the 1-cycle `vpaddd`, not the multiply.
    let mut acc = [_mm256_setzero_si256(); R];
    let mut i = 0;
    while i + I16_LANES <= d {
        // SAFETY: i + 16 ≤ d = query.len(): 16 i16 (32 bytes) readable.
        let q = unsafe { _mm256_loadu_si256(query.as_ptr().add(i).cast()) };
        for (row, acc) in rows.iter().zip(&mut acc) {
            // SAFETY: i + 16 ≤ d = row.len(): 16 i8 (16 bytes) readable.
            let x = _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(row.as_ptr().add(i).cast()) });
            *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(q, x));
        }
        i += I16_LANES;
    }
    acc
}

/// The wrapping sum of the 8 i32 lanes of `v`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn hsum_i32(v: __m256i) -> i32 {
    let quad = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let pair = _mm_add_epi32(quad, _mm_unpackhi_epi64(quad, quad));
    _mm_cvtsi128_si32(_mm_add_epi32(pair, _mm_shuffle_epi32::<0b01>(pair)))
}

/// Σ q_i · x_i over the last d mod 8 values of a row, in order.
#[inline(always)]
fn tail<E: Element>(query: &[f32], row: &[E]) -> f32 {
    query.iter().zip(row).map(|(&q, &x)| q * x.widen()).sum()
}

/// The lane sums of two vectors: (Σ lanes of `a`, Σ lanes of `b`).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn reduce2(a: __m256, b: __m256) -> (f32, f32) {
    // hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7].
    let pairs = _mm256_hadd_ps(a, b);
    let quads = _mm_add_ps(
        _mm256_castps256_ps128(pairs),
        _mm256_extractf128_ps::<1>(pairs),
    );
    // [Σa (2 halves), Σb (2 halves)] → hadd → [Σa, Σb, Σa, Σb].
    let sums = _mm_hadd_ps(quads, quads);
    (_mm_cvtss_f32(sums), _mm_cvtss_f32(_mm_movehdup_ps(sums)))
}

/// The sum of the 8 lanes of `acc`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn reduce1(acc: __m256) -> f32 {
    let quad = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps::<1>(pair, pair)))
}
