//! A SwAV-style queue of recent q̂, so that the balanced assignment sees more items than
//! one batch.

/// The last `capacity` unit hash directions q̂ pushed, (len, K) row-major.
///
/// Sinkhorn does not depend on the order of its items, so the storage is a ring buffer
/// read as one slice, oldest rows overwritten first.
#[derive(Clone, Debug)]
pub struct HashQueue {
    bits: usize,
    capacity: usize,
    rows: Vec<f32>,
    /// Next row to overwrite once the queue is full.
    next: usize,
}

impl HashQueue {
    /// An empty queue of up to `capacity` rows of K = `bits` values.
    pub fn new(bits: usize, capacity: usize) -> HashQueue {
        assert!(bits >= 1, "HashQueue::new: K = {bits} must be ≥ 1");
        HashQueue {
            bits,
            capacity,
            rows: Vec::with_capacity(capacity * bits),
            next: 0,
        }
    }

    /// Appends rows (B, K), evicting the oldest once full. If more than `capacity` rows
    /// come at once only the last `capacity` are kept.
    pub fn push(&mut self, qhat: &[f32]) {
        assert!(
            qhat.len().is_multiple_of(self.bits),
            "HashQueue::push: {} values is not a whole number of rows of K = {}",
            qhat.len(),
            self.bits
        );
        let k = self.bits;
        let skip = (qhat.len() / k).saturating_sub(self.capacity);
        for row in qhat.chunks_exact(k).skip(skip) {
            if self.rows.len() < self.capacity * k {
                self.rows.extend_from_slice(row);
            } else {
                self.rows[self.next * k..(self.next + 1) * k].copy_from_slice(row);
                self.next = (self.next + 1) % self.capacity;
            }
        }
    }

    /// The stored rows, (len, K), in no particular order.
    pub fn rows(&self) -> &[f32] {
        &self.rows
    }

    /// Number of rows stored.
    pub fn len(&self) -> usize {
        self.rows.len() / self.bits
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn bits(&self) -> usize {
        self.bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(q: &HashQueue) -> Vec<f32> {
        let mut v: Vec<f32> = q.rows().chunks(2).map(|r| r[0]).collect();
        v.sort_by(f32::total_cmp);
        v
    }

    #[test]
    fn queue_keeps_the_most_recent_rows() {
        let mut q = HashQueue::new(2, 3);
        assert!(q.is_empty());
        q.push(&[1.0, 1.0, 2.0, 2.0]);
        assert_eq!((q.len(), sorted(&q)), (2, vec![1.0, 2.0]));
        q.push(&[3.0, 3.0, 4.0, 4.0]);
        assert_eq!((q.len(), sorted(&q)), (3, vec![2.0, 3.0, 4.0]));
        q.push(&[5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 8.0, 8.0]);
        assert_eq!((q.len(), sorted(&q)), (3, vec![6.0, 7.0, 8.0]));
        let mut empty = HashQueue::new(2, 0);
        empty.push(&[1.0, 1.0]);
        assert!(empty.is_empty());
    }
}
