//! Scalar twins of the scans: plain loops, one row at a time, summing in index order.
//! The SIMD paths must equal these exactly whenever every partial sum is exact (the tests
//! use small integers).

use super::int8::{i8_dot, i8_score};
use crate::half::f16_to_f32;

/// `out[r] = Σ_i query[i] · db[r·d + i]`, d = `query.len()` ≥ 1.
pub fn scan_f32(query: &[f32], db: &[f32], out: &mut [f32]) {
    for (row, score) in db.chunks_exact(query.len()).zip(out) {
        *score = query.iter().zip(row).map(|(q, x)| q * x).sum();
    }
}

/// `out[r] = Σ_i query[i] · f16(db[r·d + i])`, d = `query.len()` ≥ 1.
pub fn scan_f16(query: &[f32], db: &[u16], out: &mut [f32]) {
    for (row, score) in db.chunks_exact(query.len()).zip(out) {
        *score = query.iter().zip(row).map(|(q, &h)| q * f16_to_f32(h)).sum();
    }
}

/// `out[r] = (scales[r] · query_scale) · Σ_i query[i] · db[r·d + i]` (wrapping i32 sum),
/// d = `query.len()` ≥ 1.
pub fn scan_i8(query: &[i16], query_scale: f32, db: &[i8], scales: &[f32], out: &mut [f32]) {
    let rows = db.chunks_exact(query.len()).zip(scales);
    for ((row, &scale), score) in rows.zip(out) {
        *score = i8_score(i8_dot(query, row), query_scale, scale);
    }
}
