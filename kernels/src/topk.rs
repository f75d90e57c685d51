//! Top-k selection: the k highest scores with their ids, best first, ties broken by the
//! lower id. NaN scores are never selected.
//!
//! [`TopK`] is a bounded heap on a caller buffer of k slots, fed score by score
//! ([`TopK::push`]) or chunk by chunk ([`TopK::push_scores`], for a scan over many
//! buckets). Once it is full, a chunk is first tested 16 scores at a time against the
//! worst kept score, so that most of a long stream costs one vectorised comparison per
//! score; each admitted score costs O(log k). [`TopK::into_sorted`] sorts the kept
//! entries in place (heap sort, O(k log k)). [`top_k`] does all three for one slice.

/// A scored id: (score, id). Higher scores are better; equal scores rank the lower id first.
pub type Scored = (f32, u32);

/// Scores tested together against the admission threshold in [`TopK::push_scores`].
const BLOCK: usize = 16;

/// The k best [`Scored`] entries seen so far, in a caller buffer of k slots.
///
/// Invariant: `heap[..len]` is a binary heap whose root is the worst kept entry.
pub struct TopK<'a> {
    heap: &'a mut [Scored],
    len: usize,
}

impl<'a> TopK<'a> {
    /// An empty selection keeping k = `buffer.len()` entries.
    pub fn new(buffer: &'a mut [Scored]) -> TopK<'a> {
        TopK {
            heap: buffer,
            len: 0,
        }
    }

    /// The number of entries kept at most.
    pub fn k(&self) -> usize {
        self.heap.len()
    }

    /// The number of entries kept so far (≤ k).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was kept yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether k entries are kept, so a new entry must beat [`TopK::worst`] to enter.
    pub fn is_full(&self) -> bool {
        self.len == self.heap.len()
    }

    /// The worst kept entry, once full: a new score below it can be skipped. `None` while
    /// fewer than k entries are kept (or k = 0).
    pub fn worst(&self) -> Option<Scored> {
        (self.is_full() && self.len > 0).then(|| self.heap[0])
    }

    /// Forgets every entry (keeps the buffer).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Offers one entry; O(log k) if kept, O(1) otherwise.
    #[inline]
    pub fn push(&mut self, score: f32, id: u32) {
        if score.is_nan() {
            return;
        }
        let entry = (score, id);
        if self.len < self.heap.len() {
            self.heap[self.len] = entry;
            self.len += 1;
            self.sift_up(self.len - 1);
        } else if self.len > 0 && better(entry, self.heap[0]) {
            self.heap[0] = entry;
            self.sift_down(0, self.len);
        }
    }

    /// Offers `scores[i]` with id `first_id + i` for every i.
    ///
    /// Panics if the ids overflow u32.
    pub fn push_scores(&mut self, scores: &[f32], first_id: u32) {
        assert!(
            u32::try_from(scores.len()).is_ok_and(|n| first_id.checked_add(n).is_some()),
            "TopK::push_scores: ids {first_id} + {} overflow u32",
            scores.len()
        );
        let (blocks, rest) = scores.as_chunks::<BLOCK>();
        let mut id = first_id;
        for block in blocks {
            if let Some((threshold, _)) = self.worst() {
                // Only scores ≥ the worst kept one can enter (equal ones by a lower id).
                // A fixed-size block compiles to a few vector compares.
                if !block.iter().fold(false, |any, &s| any | (s >= threshold)) {
                    id += BLOCK as u32;
                    continue;
                }
            }
            for &score in block {
                self.push(score, id);
                id += 1;
            }
        }
        for &score in rest {
            self.push(score, id);
            id += 1;
        }
    }

    /// Offers `(scores[i], ids[i])` for every i.
    ///
    /// Panics if the lengths differ.
    pub fn push_scores_with_ids(&mut self, scores: &[f32], ids: &[u32]) {
        assert_eq!(
            scores.len(),
            ids.len(),
            "TopK::push_scores_with_ids: {} scores, {} ids",
            scores.len(),
            ids.len()
        );
        for (&score, &id) in scores.iter().zip(ids) {
            self.push(score, id);
        }
    }

    /// The kept entries, best first, sorted in place in the caller's buffer.
    pub fn into_sorted(self) -> &'a mut [Scored] {
        // Heap sort: moving the root (the worst) to the end each time leaves the best first.
        for end in (1..self.len).rev() {
            self.heap.swap(0, end);
            sift_down(self.heap, 0, end);
        }
        &mut self.heap[..self.len]
    }

    fn sift_up(&mut self, mut child: usize) {
        while child > 0 {
            let parent = (child - 1) / 2;
            if !better(self.heap[parent], self.heap[child]) {
                break;
            }
            self.heap.swap(parent, child);
            child = parent;
        }
    }

    fn sift_down(&mut self, root: usize, len: usize) {
        sift_down(self.heap, root, len);
    }
}

/// Restores the heap property (every parent no better than its children) below `root`
/// in `heap[..len]`.
fn sift_down(heap: &mut [Scored], mut root: usize, len: usize) {
    loop {
        let left = 2 * root + 1;
        if left >= len {
            return;
        }
        let right = left + 1;
        let worse_child = if right < len && better(heap[left], heap[right]) {
            right
        } else {
            left
        };
        if !better(heap[root], heap[worse_child]) {
            return;
        }
        heap.swap(root, worse_child);
        root = worse_child;
    }
}

/// Whether `a` ranks before `b`: a higher score, or an equal score and a lower id.
#[inline]
fn better(a: Scored, b: Scored) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// Writes the best `out.len()` entries `(scores[i], i)` to `out`, best first, and returns
/// how many were written (fewer if `scores` has fewer non-NaN values).
pub fn top_k(scores: &[f32], out: &mut [Scored]) -> usize {
    let mut top = TopK::new(out);
    top.push_scores(scores, 0);
    top.into_sorted().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;
    use std::vec::Vec;

    /// The reference: sort everything, best first.
    fn full_sort(scored: &[Scored]) -> Vec<Scored> {
        let mut all: Vec<Scored> = scored.iter().copied().filter(|s| !s.0.is_nan()).collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all
    }

    fn bits(entries: &[Scored]) -> Vec<(u32, u32)> {
        entries.iter().map(|&(s, i)| (s.to_bits(), i)).collect()
    }

    #[test]
    fn top_k_matches_full_sort_with_ties() {
        let mut rng = Rng::new(11);
        for n in [0, 1, 2, 15, 16, 17, 67, 1000] {
            // Few distinct values: many ties; ids must break them.
            let scores = rng.ints(n, -5, 5);
            let indexed: Vec<Scored> = scores
                .iter()
                .enumerate()
                .map(|(i, &s)| (s, i as u32))
                .collect();
            let want = full_sort(&indexed);
            for k in [0, 1, 3, 16, 40, n, n + 2] {
                let mut out = std::vec![(0.0, 0); k];
                let got = top_k(&scores, &mut out);
                assert_eq!(got, k.min(n), "n {n} k {k}");
                assert_eq!(bits(&out[..got]), bits(&want[..got]), "n {n} k {k}");
            }
        }
    }

    #[test]
    fn streaming_in_chunks_matches_one_pass() {
        let mut rng = Rng::new(12);
        let scores: Vec<f32> = (0..5000).map(|_| rng.unit()).collect();
        let mut whole = [(0.0, 0); 50];
        top_k(&scores, &mut whole);
        let mut buffer = [(0.0, 0); 50];
        let mut top = TopK::new(&mut buffer);
        let mut start = 0;
        for chunk_len in [1, 7, 16, 33, 100].into_iter().cycle() {
            if start == scores.len() {
                break;
            }
            let end = (start + chunk_len).min(scores.len());
            top.push_scores(&scores[start..end], start as u32);
            start = end;
        }
        assert_eq!(bits(top.into_sorted()), bits(&whole));
    }

    #[test]
    fn ids_out_of_order_and_nans() {
        let mut buffer = [(0.0, 0); 3];
        let mut top = TopK::new(&mut buffer);
        top.push_scores_with_ids(&[1.0, f32::NAN, 2.0, 1.0, 1.0], &[9, 0, 8, 4, 6]);
        assert_eq!(top.worst(), Some((1.0, 6)));
        top.push_scores(&[1.0, f32::NAN], 5);
        assert_eq!(top.into_sorted(), &[(2.0, 8), (1.0, 4), (1.0, 5)]);
    }

    #[test]
    fn worst_is_none_until_full() {
        let mut buffer = [(0.0, 0); 2];
        let mut top = TopK::new(&mut buffer);
        top.push(1.0, 0);
        assert_eq!(top.worst(), None);
        top.push(3.0, 1);
        assert_eq!(top.worst(), Some((1.0, 0)));
        top.clear();
        assert!(top.is_empty());
    }

    #[test]
    #[should_panic(expected = "TopK::push_scores: ids 4294967295 + 2 overflow u32")]
    fn id_overflow_panics() {
        let mut buffer = [(0.0, 0); 2];
        TopK::new(&mut buffer).push_scores(&[1.0, 2.0], u32::MAX);
    }
}
