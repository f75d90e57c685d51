//! Dot-product scans: one query against n database rows stored row-major.
//!
//! `db` holds n rows of d = `query.len()` values each (n × d, row-major) and `out` gets
//! n scores, `out[r] = query · row_r`. Rows are f32, IEEE binary16 bits (`u16`, see
//! [`crate::half`]) or i8 with one f32 scale per row ([`quantize_i8`]); the i8 scan takes
//! the query quantised to i16 ([`quantize_query_i16`]) and sums in exact integers.
//!
//! Any d works; d = 128 (the embedding size) is the fast case, compiled with d as a
//! constant. The SIMD paths score two adjacent rows at a time, in memory order, with
//! several independent accumulators per row (see `avx2.rs` for why rows are not
//! interleaved more widely).
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
mod int8;
#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;

pub use int8::{quantize_i8, quantize_query_i16, scan_i8, scan_i8_with};

use crate::Isa;

/// The embedding size d that the SIMD paths compile as a constant (DESIGN.md: e ∈ S^127).
pub(super) const EMBEDDING: usize = 128;

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
        // f32 rows stay on the AVX2 kernel on AVX-512 CPUs: out of cache, an AVX-512 twin
        // of it read 0.44 of the memory bandwidth where this one reads 0.93 (Zen 4, which
        // splits 512-bit operations in two anyway; `cargo bench --bench kernels -- scan/1m`).
        // SAFETY: `check` asserted AVX-512F, AVX2, FMA and F16C (so AVX2 and FMA), and the
        // shapes.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx2::scan_f32(query, db, out) },
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

/// Bytes per cache line that [`prefetch`] steps by (64 on every x86-64 and most Arm cores;
/// on a 128-byte-line core every other prefetch is redundant, not wrong).
const CACHE_LINE: usize = 64;

/// Asks the CPU to start loading `data` into the caches, without waiting for it: a hint
/// with no effect on results (a no-op on architectures without a prefetch instruction).
///
/// For scans of rows scattered in memory, such as the hash buckets a query probes: a scan
/// that touches one bucket after another pays a full memory latency per bucket, because
/// the next bucket's address is only known after the heap step that finds it. Prefetching
/// the next several buckets' rows first keeps their loads in flight together.
#[inline]
pub fn prefetch<T>(data: &[T]) {
    let bytes = core::mem::size_of_val(data);
    let start = data.as_ptr().cast::<u8>();
    for offset in (0..bytes).step_by(CACHE_LINE) {
        // In bounds: offset < bytes, the slice's size.
        prefetch_line(start.wrapping_add(offset));
    }
}

#[inline(always)]
fn prefetch_line(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is part of SSE, which every x86-64 CPU has; a prefetch never
    // faults and has no architectural effect, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            address.cast::<i8>(),
        )
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: PRFM is in the base A64 instruction set; it never faults, reads no register
    // but `address`, writes none, and touches no flags or stack.
    unsafe {
        core::arch::asm!("prfm pldl1keep, [{0}]", in(reg) address, options(nostack, readonly, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = address;
}

/// Checks the shapes and the instruction set of a scan; returns false (after zeroing
/// `out`) when d = 0, where every dot product is the empty sum.
pub(super) fn check(op: &str, isa: Isa, d: usize, db_len: usize, out: &mut [f32]) -> bool {
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
