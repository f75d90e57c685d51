//! Batch-parallel loops over independent items (rows, sequences) with `std::thread::scope`.
//!
//! GEMM splits its output into blocks over the same threads (`gemm.rs`); this is for the
//! other ops whose work splits into independent items: layer norm over rows, attention
//! over sequences. Kept deliberately simple: contiguous ranges of items, one scoped thread
//! per range, and only when the work is large enough to pay for starting the threads.

use std::ops::Range;
use std::sync::OnceLock;

/// Below this many FLOPs (or element touches) a loop runs on the calling thread: starting a
/// scoped thread costs ≈ 20–40 µs, which this much work (≈ 50–100 µs) clearly repays.
pub const MIN_PARALLEL_WORK: usize = 1 << 18;

/// Upper bound on threads: matrixmultiply's own limit, kept when GEMM moved onto these
/// threads. Only 1 and 2 have been measured (the development machine has 2 cores).
const MAX_THREADS: usize = 4;

/// Worker threads for batch-parallel ops: `MATMUL_NUM_THREADS` if set (so one variable
/// pins both GEMM and these loops, e.g. to 1 for single-core timing), otherwise the
/// available cores; at most 4. Read once.
pub fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        let from_env = std::env::var("MATMUL_NUM_THREADS")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        from_env.unwrap_or(cores).clamp(1, MAX_THREADS)
    })
}

/// Runs `f(items, parts)` over contiguous ranges of `n` items, on up to [`threads`] threads
/// when `n · work_per_item ≥ MIN_PARALLEL_WORK`, and returns the results in item order.
///
/// Each buffer in `bufs` holds `bufs[j].len() / n` floats per item; each call receives the
/// parts of the buffers that belong to its items, so the calls write disjoint memory.
pub fn par_items<const N: usize, R: Send>(
    n: usize,
    work_per_item: usize,
    bufs: [&mut [f32]; N],
    f: impl Fn(Range<usize>, [&mut [f32]; N]) -> R + Sync,
) -> Vec<R> {
    if n == 0 {
        return Vec::new();
    }
    for b in &bufs {
        assert!(
            b.len() % n == 0,
            "par_items: buffer of {} floats does not split into {n} items",
            b.len()
        );
    }
    let per_item: [usize; N] = std::array::from_fn(|j| bufs[j].len() / n);
    let workers = if n.saturating_mul(work_per_item) >= MIN_PARALLEL_WORK {
        threads().min(n)
    } else {
        1
    };
    if workers <= 1 {
        return vec![f(0..n, bufs)];
    }
    let mut parts = Vec::with_capacity(workers);
    let mut rest = bufs;
    let mut start = 0;
    for w in 0..workers {
        let end = n * (w + 1) / workers;
        // Split every buffer at the item boundary `end - start` (in its own units).
        let (mut head, mut tail) = (Vec::with_capacity(N), Vec::with_capacity(N));
        for (j, b) in rest.into_iter().enumerate() {
            let (h, t) = b.split_at_mut((end - start) * per_item[j]);
            head.push(h);
            tail.push(t);
        }
        let head: [&mut [f32]; N] = head.try_into().unwrap_or_else(|_| unreachable!("N parts"));
        rest = tail.try_into().unwrap_or_else(|_| unreachable!("N parts"));
        parts.push((start..end, head));
        start = end;
    }
    let f = &f;
    std::thread::scope(|s| {
        // The calling thread takes the first range itself; one spawn fewer.
        let mut parts = parts.into_iter();
        let (first_range, first_part) = parts.next().expect("workers ≥ 2");
        let handles: Vec<_> = parts
            .map(|(range, part)| s.spawn(move || f(range, part)))
            .collect();
        let mut results = vec![f(first_range, first_part)];
        results.extend(
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
        );
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_buffers_by_item_and_keeps_order() {
        let n = 1000;
        let mut a = vec![0.0f32; n * 3];
        let mut b = vec![0.0f32; n];
        // Large enough work per item to take the threaded path when cores allow.
        let ranges = par_items(n, MIN_PARALLEL_WORK, [&mut a, &mut b], |items, [pa, pb]| {
            assert_eq!(pa.len(), items.len() * 3);
            assert_eq!(pb.len(), items.len());
            for (k, i) in items.clone().enumerate() {
                pa[3 * k..3 * k + 3].fill(i as f32);
                pb[k] = i as f32;
            }
            items
        });
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, n);
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        assert!(a.iter().enumerate().all(|(k, &x)| x == (k / 3) as f32));
        assert!(b.iter().enumerate().all(|(k, &x)| x == k as f32));
    }

    #[test]
    fn small_work_stays_on_one_thread() {
        let mut a = vec![0.0f32; 8];
        let parts = par_items(8, 1, [&mut a], |items, _| items);
        assert_eq!(parts, vec![0..8]);
    }
}
