//! NEON scans (aarch64): two adjacent rows at a time, in memory order.
//!
//! The same plan as [`super::avx2`] with 4-lane vectors: each step loads 8 values per row
//! as two vectors into 2 × 2 accumulators per row (16 values per step, 8 FMA chains for
//! a pair of rows). f16 rows widen with integer operations ([`crate::half::neon`]).
//! d = 128 is compiled as a constant. The last d mod 16 values of each row are summed in
//! scalar code.
//!
//! The i8 scan widens rows to i16 (`sxtl`) and multiply-accumulates them with the i16 query
//! into i32 lanes (`smlal`, `smlal2`): exact.
//!
//! Callers must have checked the shapes (`db.len() = out.len() · d`, d ≥ 1,
//! `scales.len() = out.len()`); NEON is part of every aarch64 CPU.

use core::arch::aarch64::*;

use super::EMBEDDING;
use super::int8::{i8_dot, i8_score};
use crate::half::{f16_to_f32, neon::load8};

/// Values per step and row: 2 accumulator pairs × 8 values.
const STEP: usize = 16;
/// Values per load (two 4-lane vectors).
const LOAD: usize = 8;

/// A database element type whose values widen to f32 lanes.
trait Element: Copy {
    /// Loads [`LOAD`] elements at `p`, widened to f32 (low four, high four).
    ///
    /// # Safety
    /// `p` must point to `LOAD` readable elements.
    unsafe fn load(p: *const Self) -> (float32x4_t, float32x4_t);

    /// The element as f32 (for the row tails).
    fn widen(self) -> f32;
}

impl Element for f32 {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> (float32x4_t, float32x4_t) {
        // SAFETY: the caller guarantees 8 readable f32 at `p`; `vld1q` needs no alignment.
        unsafe { (vld1q_f32(p), vld1q_f32(p.add(4))) }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
}

impl Element for u16 {
    #[inline(always)]
    unsafe fn load(p: *const u16) -> (float32x4_t, float32x4_t) {
        // SAFETY: the caller guarantees 8 readable u16 at `p`.
        unsafe { load8(p) }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        f16_to_f32(self)
    }
}

/// [`super::scan_f32`] on NEON.
#[target_feature(enable = "neon")]
pub fn scan_f32(query: &[f32], db: &[f32], out: &mut [f32]) {
    scan(query, db, out);
}

/// [`super::scan_f16`] on NEON.
#[target_feature(enable = "neon")]
pub fn scan_f16(query: &[f32], db: &[u16], out: &mut [f32]) {
    scan(query, db, out);
}

/// `out[r] = Σ_i query[i] · db[r·d + i]`.
#[target_feature(enable = "neon")]
fn scan<E: Element>(query: &[f32], db: &[E], out: &mut [f32]) {
    if query.len() == EMBEDDING {
        scan_pairs::<E, EMBEDDING>(query, db, out);
    } else {
        scan_pairs::<E, 0>(query, db, out);
    }
}

/// [`scan`] two rows at a time, with d = `FIXED_D` as a compile-time constant, or
/// d = `query.len()` if `FIXED_D` = 0.
#[target_feature(enable = "neon")]
fn scan_pairs<E: Element, const FIXED_D: usize>(query: &[f32], db: &[E], out: &mut [f32]) {
    let d = if FIXED_D == 0 { query.len() } else { FIXED_D };
    let query = &query[..d];
    let body = d - d % STEP;
    let rest = &query[body..];
    for (two_rows, scores) in db.chunks_exact(2 * d).zip(out.chunks_exact_mut(2)) {
        let (first, second) = two_rows.split_at(d);
        let [a, b] = row_lanes::<E, FIXED_D, 2>(query, [first, second]);
        scores[0] = vaddvq_f32(a) + tail(rest, &first[body..]);
        scores[1] = vaddvq_f32(b) + tail(rest, &second[body..]);
    }
    if out.len() % 2 == 1 {
        let r = out.len() - 1;
        let row = &db[r * d..];
        let [lanes] = row_lanes::<E, FIXED_D, 1>(query, [row]);
        out[r] = vaddvq_f32(lanes) + tail(rest, &row[body..]);
    }
}

/// Lane-wise partial sums of `query · row` for R rows side by side, over the first
/// d − d mod 16 values (every row is d long).
#[inline]
#[target_feature(enable = "neon")]
fn row_lanes<E: Element, const FIXED_D: usize, const R: usize>(
    query: &[f32],
    rows: [&[E]; R],
) -> [float32x4_t; R] {
    let d = if FIXED_D == 0 { query.len() } else { FIXED_D };
    assert!(
        query.len() == d && rows.iter().all(|row| row.len() == d),
        "row_lanes: a row is not d = {d} long"
    );
    // Per row: (low, high) lanes of the first 8 values of a step, then of the second 8.
    let zero = vdupq_n_f32(0.0);
    let mut acc = [[zero; 4]; R];
    let mut i = 0;
    while i + STEP <= d {
        for half in 0..2 {
            let at = i + half * LOAD;
            // SAFETY: at + LOAD ≤ i + STEP ≤ d = query.len().
            let (q_low, q_high) = unsafe { f32::load(query.as_ptr().add(at)) };
            for (row, acc) in rows.iter().zip(&mut acc) {
                // SAFETY: at + LOAD ≤ d = row.len().
                let (x_low, x_high) = unsafe { E::load(row.as_ptr().add(at)) };
                acc[2 * half] = vfmaq_f32(acc[2 * half], q_low, x_low);
                acc[2 * half + 1] = vfmaq_f32(acc[2 * half + 1], q_high, x_high);
            }
        }
        i += STEP;
    }
    acc.map(|[a0, a1, a2, a3]| vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)))
}

/// Σ q_i · x_i over the last d mod 16 values of a row, in order.
#[inline(always)]
fn tail<E: Element>(query: &[f32], row: &[E]) -> f32 {
    query.iter().zip(row).map(|(&q, &x)| q * x.widen()).sum()
}

/// [`super::scan_i8`] on NEON: exact i32 sums.
#[target_feature(enable = "neon")]
pub fn scan_i8(query: &[i16], query_scale: f32, db: &[i8], scales: &[f32], out: &mut [f32]) {
    if query.len() == EMBEDDING {
        scan_i8_pairs::<EMBEDDING>(query, query_scale, db, scales, out);
    } else {
        scan_i8_pairs::<0>(query, query_scale, db, scales, out);
    }
}

/// [`scan_i8`] two rows at a time, d as in [`scan_pairs`].
#[target_feature(enable = "neon")]
fn scan_i8_pairs<const FIXED_D: usize>(
    query: &[i16],
    query_scale: f32,
    db: &[i8],
    scales: &[f32],
    out: &mut [f32],
) {
    let d = if FIXED_D == 0 { query.len() } else { FIXED_D };
    let query = &query[..d];
    let body = d - d % LOAD;
    let rest = &query[body..];
    let pairs = db
        .chunks_exact(2 * d)
        .zip(scales.chunks_exact(2))
        .zip(out.chunks_exact_mut(2));
    for ((two_rows, two_scales), scores) in pairs {
        let (first, second) = two_rows.split_at(d);
        let [a, b] = i8_row_lanes::<FIXED_D, 2>(query, [first, second]);
        let sum_a = vaddvq_s32(a).wrapping_add(i8_dot(rest, &first[body..]));
        let sum_b = vaddvq_s32(b).wrapping_add(i8_dot(rest, &second[body..]));
        scores[0] = i8_score(sum_a, query_scale, two_scales[0]);
        scores[1] = i8_score(sum_b, query_scale, two_scales[1]);
    }
    if out.len() % 2 == 1 {
        let r = out.len() - 1;
        let row = &db[r * d..];
        let [lanes] = i8_row_lanes::<FIXED_D, 1>(query, [row]);
        let sum = vaddvq_s32(lanes).wrapping_add(i8_dot(rest, &row[body..]));
        out[r] = i8_score(sum, query_scale, scales[r]);
    }
}

/// Lane-wise i32 partial sums of `query · row` for R rows side by side, over the first
/// d − d mod 8 values (every row is d long).
#[inline]
#[target_feature(enable = "neon")]
fn i8_row_lanes<const FIXED_D: usize, const R: usize>(
    query: &[i16],
    rows: [&[i8]; R],
) -> [int32x4_t; R] {
    let d = if FIXED_D == 0 { query.len() } else { FIXED_D };
    assert!(
        query.len() == d && rows.iter().all(|row| row.len() == d),
        "i8_row_lanes: a row is not d = {d} long"
    );
    let zero = vdupq_n_s32(0);
    let mut acc = [[zero; 2]; R];
    let mut i = 0;
    while i + LOAD <= d {
        // SAFETY: i + 8 ≤ d = query.len(): 8 i16 readable.
        let q = unsafe { vld1q_s16(query.as_ptr().add(i)) };
        for (row, acc) in rows.iter().zip(&mut acc) {
            // SAFETY: i + 8 ≤ d = row.len(): 8 i8 readable.
            let x = vmovl_s8(unsafe { vld1_s8(row.as_ptr().add(i)) });
            acc[0] = vmlal_s16(acc[0], vget_low_s16(q), vget_low_s16(x));
            acc[1] = vmlal_high_s16(acc[1], q, x);
        }
        i += LOAD;
    }
    acc.map(|[low, high]| vaddq_s32(low, high))
}
