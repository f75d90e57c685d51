//! NEON scans (aarch64): 8 values per step as two 4-lane vectors, 4 rows at a time.
//!
//! Each row has two accumulators (low and high four lanes), so a block of 4 rows runs 8
//! independent FMA chains. f16 rows widen with integer operations
//! ([`crate::half::neon`]), i8 rows with `sxtl` + `scvtf`. The last d mod 8 values of each
//! row and the last n mod 4 rows use narrower code.
//!
//! Callers must have checked the shapes (`db.len() = out.len() · d`, d ≥ 1,
//! `scales.len() = out.len()`); NEON is part of every aarch64 CPU.

use core::arch::aarch64::*;

use super::scaled;
use crate::half::{f16_to_f32, neon::load8};

/// Values per step.
const LANES: usize = 8;
/// Rows scored together.
const ROWS: usize = 4;

/// A database element type whose values widen to f32 lanes.
trait Element: Copy {
    /// Loads [`LANES`] elements at `p`, widened to f32 (low four, high four).
    ///
    /// # Safety
    /// `p` must point to `LANES` readable elements.
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

impl Element for i8 {
    #[inline(always)]
    unsafe fn load(p: *const i8) -> (float32x4_t, float32x4_t) {
        // SAFETY: the caller guarantees 8 readable i8 at `p`; `vld1` reads 8 bytes.
        unsafe {
            let wide = vmovl_s8(vld1_s8(p));
            (
                vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide))),
                vcvtq_f32_s32(vmovl_high_s16(wide)),
            )
        }
    }

    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from(self)
    }
}

/// [`super::scan_f32`] on NEON.
#[target_feature(enable = "neon")]
pub fn scan_f32(query: &[f32], db: &[f32], out: &mut [f32]) {
    scan(query, db, None, out);
}

/// [`super::scan_f16`] on NEON.
#[target_feature(enable = "neon")]
pub fn scan_f16(query: &[f32], db: &[u16], out: &mut [f32]) {
    scan(query, db, None, out);
}

/// [`super::scan_i8`] on NEON.
#[target_feature(enable = "neon")]
pub fn scan_i8(query: &[f32], db: &[i8], scales: &[f32], out: &mut [f32]) {
    scan(query, db, Some(scales), out);
}

/// `out[r] = scale_r · Σ_i query[i] · db[r·d + i]` with scale_r = `scales[r]` or 1.
#[target_feature(enable = "neon")]
fn scan<E: Element>(query: &[f32], db: &[E], scales: Option<&[f32]>, out: &mut [f32]) {
    let d = query.len();
    // Values of each row covered by whole steps.
    let body = d - d % LANES;
    let (head, rest) = query.split_at(body);
    let blocks = out.len() / ROWS;
    let blocked = db
        .chunks_exact(ROWS * d)
        .zip(out.chunks_exact_mut(ROWS))
        .enumerate();
    for (b, (block, scores)) in blocked {
        let mut acc = [[vdupq_n_f32(0.0); 2]; ROWS];
        for i in (0..body).step_by(LANES) {
            // SAFETY: i + LANES ≤ body ≤ d = query.len().
            let (q_low, q_high) = unsafe { f32::load(head.as_ptr().add(i)) };
            for (r, [low, high]) in acc.iter_mut().enumerate() {
                // SAFETY: r·d + i + LANES ≤ r·d + d ≤ ROWS·d = block.len().
                let (x_low, x_high) = unsafe { E::load(block.as_ptr().add(r * d + i)) };
                *low = vfmaq_f32(*low, q_low, x_low);
                *high = vfmaq_f32(*high, q_high, x_high);
            }
        }
        for (r, score) in scores.iter_mut().enumerate() {
            let sum = vaddvq_f32(vaddq_f32(acc[r][0], acc[r][1]));
            let row_tail = &block[r * d + body..(r + 1) * d];
            *score = scaled(scales, b * ROWS + r, sum + tail(rest, row_tail));
        }
    }
    let first_single = blocks * ROWS;
    let singles = db[first_single * d..]
        .chunks_exact(d)
        .zip(&mut out[first_single..]);
    for (r, (row, score)) in (first_single..).zip(singles) {
        let (mut low, mut high) = (vdupq_n_f32(0.0), vdupq_n_f32(0.0));
        for i in (0..body).step_by(LANES) {
            // SAFETY: i + LANES ≤ body ≤ d = query.len() = row.len().
            let ((q_low, q_high), (x_low, x_high)) = unsafe {
                (
                    f32::load(head.as_ptr().add(i)),
                    E::load(row.as_ptr().add(i)),
                )
            };
            low = vfmaq_f32(low, q_low, x_low);
            high = vfmaq_f32(high, q_high, x_high);
        }
        let sum = vaddvq_f32(vaddq_f32(low, high));
        *score = scaled(scales, r, sum + tail(rest, &row[body..]));
    }
}

/// Σ q_i · x_i over the last d mod 8 values of a row, in order.
#[inline(always)]
fn tail<E: Element>(query: &[f32], row: &[E]) -> f32 {
    query.iter().zip(row).map(|(&q, &x)| q * x.widen()).sum()
}
