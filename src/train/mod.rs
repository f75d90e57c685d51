//! Losses, Sinkhorn, optimiser, data pipeline and training loop.

pub mod checkpoint;
pub mod data;
pub mod log;
pub mod loss;
pub mod objective;
pub mod optim;
pub mod sinkhorn;
pub mod trainer;
pub mod validate;

/// Asks the C allocator to keep freed memory in the process rather than give it back to
/// the OS; returns whether it could (glibc on Linux; elsewhere it does nothing).
///
/// A training step frees and reallocates hundreds of megabytes of activations and
/// gradients. glibc's defaults hand blocks above a (self-adjusting) threshold back to the
/// OS as soon as they are freed and trim the heap's top, so every step touches fresh pages
/// again: about 50 000 page faults per step. With blocks up to 32 MiB kept on the heap and
/// no trimming, `cargo bench --bench train` measured 0.47–0.50 → 0.34 s per `small` step
/// and 0.58–0.71 → 0.44–0.53 s per `paper` step in one session (page faults of the whole
/// bench 630 000 → 150 000).
/// The cost is that the process keeps its peak heap until it exits. Call it once, early, in
/// a program that trains or embeds (the `earmark` binary does); it is process-wide.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's largest mmap threshold on 64-bit targets (DEFAULT_MMAP_THRESHOLD_MAX).
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        // SAFETY: mallopt only changes glibc's allocation policy; both values are in range
        // (it returns 0, changing nothing, if one is not).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

#[cfg(test)]
mod tests;
