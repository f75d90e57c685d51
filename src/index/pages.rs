//! Transparent huge pages for the arrays that search reads at random.
//!
//! A probe reads a bucket's rows somewhere in tens of megabytes of embeddings. With 4 KiB
//! pages nearly every such read also misses the TLB and waits for a page-table walk on
//! top of the memory latency; with 2 MiB pages the whole array of a large catalogue is
//! covered by the TLB. Linux backs memory with huge pages only where asked (its usual
//! setting, `madvise`), and only when the memory is first touched, so the arrays are
//! advised right after they are allocated and before they are filled.

/// Below this size an array gains nothing (it spans few pages) and is left alone.
const MIN_BYTES: usize = 4 << 20;

/// Asks the kernel to back the allocation of `values` (not yet written, for the advice to
/// take effect at first touch) with transparent huge pages. A hint: it does nothing on
/// other systems, for small arrays, or where the kernel declines.
pub(crate) fn advise_huge_pages<T>(values: &[T]) {
    let bytes = std::mem::size_of_val(values);
    if bytes < MIN_BYTES {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // madvise wants a page-aligned start: advise the whole pages inside the array.
        const PAGE: usize = 4096;
        let start = values.as_ptr() as usize;
        let first = start.next_multiple_of(PAGE);
        let len = (start + bytes - first) / PAGE * PAGE;
        // SAFETY: the range lies inside one live allocation that we own; MADV_HUGEPAGE
        // only changes how the kernel backs it, never its contents or validity.
        unsafe {
            libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
}

/// A vector of `n` copies of `value`, advised for huge pages before it is filled.
pub(crate) fn filled<T: Clone>(n: usize, value: T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    advise_huge_pages(v.spare_capacity_mut());
    v.resize(n, value);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advised_vectors_hold_their_values() {
        for n in [0, 1, 5, (MIN_BYTES / 4) + 3] {
            let v = filled(n, 7u32);
            assert_eq!(v.len(), n);
            assert!(v.iter().all(|&x| x == 7));
        }
        // Unaligned slices of every size are accepted.
        let v = vec![0u8; MIN_BYTES + 4097];
        advise_huge_pages(&v[1..]);
        advise_huge_pages(&v[4095..4096 + MIN_BYTES]);
    }
}
