//! The same enumeration as [`Probe`](super::Probe), faster for K ≤ 24: split the bits.
//!
//! A flip set is the union of a set of the h cheapest bits ("low") and a set of the K − h
//! dearest ("high"), and its cost is the sum of the two parts' costs. With both halves'
//! 2^h and 2^(K−h) subset costs listed in ascending order (low list L, high list H), every
//! bucket is a pair (i, b) of cost L_i + H_b, and pairs come out in ascending cost from a
//! heap that holds one pair per *row* b: pop (i, b), push (i + 1, b), and the first pop of
//! row b also opens row b + 1 with (0, b + 1). Both successors cost at least as much as
//! the pair they follow, and every pair is reached in exactly one way, so the order is
//! exact. The heap never holds more than one pair per row, and only rows whose cheapest
//! pair was reached are open: for K = 16 and a thousand buckets, a few dozen entries
//! instead of [`Probe`]'s thousand.
//!
//! Costs: a half's subset cost is summed in ascending position (as [`Probe`] sums), and a
//! pair's is low + high, which may differ from [`Probe`]'s single left-to-right sum in the
//! last bit. The order is exact in these costs; ties (equal costs) come out in ascending
//! flip mask, so on exactly representable sums (integer-valued logits, say) both
//! enumerations yield the same sequence.

use super::heap::{Heap, Keyed, flip_set_order};
use super::{MAX_BITS, bucket_key, check_bits, inverse_scale};

/// The most hash bits [`SplitProbe`] takes (its storage grows as 2^(K/2)).
pub const SPLIT_MAX_BITS: usize = 24;

/// One storage slot of [`SplitProbe`]: a list entry or a heap entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitSlot {
    cost: f32,
    /// The flipped bits (of the original positions).
    flips: u32,
    /// Heap entries: the pair's low index and row.
    low: u16,
    row: u16,
}

impl SplitSlot {
    /// A placeholder to initialise storage with.
    pub const EMPTY: SplitSlot = SplitSlot {
        cost: 0.0,
        flips: 0,
        low: 0,
        row: 0,
    };
}

impl Keyed for SplitSlot {
    #[inline]
    fn order(&self) -> u64 {
        flip_set_order(self.cost, self.flips)
    }
}

/// The low half's size: the larger half for odd K.
const fn low_bits(bits: usize) -> usize {
    bits - bits / 2
}

/// Storage slots a [`SplitProbe`] over K bits needs: both lists and a heap of one entry
/// per high subset. Panics unless 1 ≤ K ≤ [`SPLIT_MAX_BITS`].
pub const fn split_slots_for(bits: usize) -> usize {
    assert!(bits >= 1 && bits <= SPLIT_MAX_BITS);
    let high = 1 << (bits - low_bits(bits));
    (1 << low_bits(bits)) + 2 * high
}

/// Iterator over `(key, score)` of every one of a query's 2^K buckets, best first, as
/// [`Probe`](super::Probe) (see the module docs for how it differs).
pub struct SplitProbe<'a> {
    /// Low subsets in ascending (cost, flips).
    low: &'a [SplitSlot],
    /// High subsets in ascending (cost, flips).
    high: &'a [SplitSlot],
    heap: Heap<'a, SplitSlot>,
    best_key: u32,
    l1: f32,
    scale: f32,
}

impl<'a> SplitProbe<'a> {
    /// Starts the enumeration for hash `logits` with `storage` of at least
    /// [`split_slots_for`]`(K)` slots. Costs O(2^(K/2)) to set up (both lists).
    ///
    /// Panics unless 1 ≤ K ≤ [`SPLIT_MAX_BITS`], every logit is finite and the storage is
    /// large enough.
    pub fn new(logits: &[f32], storage: &'a mut [SplitSlot]) -> SplitProbe<'a> {
        check_bits("SplitProbe::new", logits);
        let bits = logits.len();
        assert!(
            bits <= SPLIT_MAX_BITS && storage.len() >= split_slots_for(bits),
            "SplitProbe::new: K = {bits} needs K ≤ {SPLIT_MAX_BITS} and {} slots, got {}",
            if bits <= SPLIT_MAX_BITS {
                split_slots_for(bits)
            } else {
                0
            },
            storage.len()
        );
        // Positions by ascending |q| (stable: equal magnitudes keep bit order).
        let mut bit = [0u8; MAX_BITS];
        let mut magnitude = [0.0f32; MAX_BITS];
        for (i, q) in logits.iter().enumerate() {
            let a = q.abs();
            let mut j = i;
            while j > 0 && magnitude[j - 1] > a {
                magnitude[j] = magnitude[j - 1];
                bit[j] = bit[j - 1];
                j -= 1;
            }
            magnitude[j] = a;
            bit[j] = i as u8;
        }
        let l1 = magnitude[..bits].iter().sum();
        let h = low_bits(bits);
        let (low, rest) = storage.split_at_mut(1 << h);
        let (high, rest) = rest.split_at_mut(1 << (bits - h));
        subset_costs(&magnitude[..h], &bit[..h], low);
        subset_costs(&magnitude[h..bits], &bit[h..bits], high);
        let mut heap = Heap::new(&mut rest[..high.len()]);
        // Row 0's first pair: the empty set, the best bucket.
        heap.push(SplitSlot::EMPTY);
        SplitProbe {
            low,
            high,
            heap,
            best_key: bucket_key(logits),
            l1,
            scale: inverse_scale(logits),
        }
    }

    /// The pair (i, b).
    fn pair(&self, i: usize, b: usize) -> SplitSlot {
        let (l, h) = (self.low[i], self.high[b]);
        SplitSlot {
            cost: l.cost + h.cost,
            flips: l.flips | h.flips,
            low: i as u16,
            row: b as u16,
        }
    }
}

impl Iterator for SplitProbe<'_> {
    type Item = (u32, f32);

    fn next(&mut self) -> Option<(u32, f32)> {
        if self.heap.is_empty() {
            return None;
        }
        let top = self.heap.root();
        let (i, b) = (usize::from(top.low), usize::from(top.row));
        let along = (i + 1 < self.low.len()).then(|| self.pair(i + 1, b));
        let down = (i == 0 && b + 1 < self.high.len()).then(|| self.pair(0, b + 1));
        match (along, down) {
            (Some(a), Some(d)) => {
                self.heap.replace_root(Some(a));
                // There is always room: one entry per row.
                self.heap.push(d);
            }
            (one, None) | (None, one) => self.heap.replace_root(one),
        }
        let score = (self.l1 - 2.0 * top.cost) * self.scale;
        Some((self.best_key ^ top.flips, score))
    }
}

/// Fills `out` (2^m slots) with the costs and flip masks of every subset of the m
/// positions of ascending `magnitude` (original bits `bit`), in ascending (cost, flips).
///
/// Built by doubling: the subsets without position j, then each plus j, merged. Adding
/// one magnitude keeps the costs in order but can round two of them together, which can
/// put two equal costs' masks out of order, so a final insertion sort (linear on sorted
/// input) repairs the rare such pair.
fn subset_costs(magnitude: &[f32], bit: &[u8], out: &mut [SplitSlot]) {
    out[0] = SplitSlot::EMPTY;
    let mut len = 1;
    for (&a, &b) in magnitude.iter().zip(bit) {
        // out[..len] sorted; write the merge of it and it + a into out[..2 len], from the
        // back, so that no unread entry is overwritten.
        let plus = |s: SplitSlot| SplitSlot {
            cost: s.cost + a,
            flips: s.flips | 1 << b,
            ..s
        };
        let (mut x, mut y, mut w) = (len, len, 2 * len);
        while y > 0 {
            let with = plus(out[y - 1]);
            w -= 1;
            if x > 0 && out[x - 1].order() > with.order() {
                out[w] = out[x - 1];
                x -= 1;
            } else {
                out[w] = with;
                y -= 1;
            }
        }
        len *= 2;
    }
    for j in 1..len {
        let s = out[j];
        let mut k = j;
        while k > 0 && out[k - 1].order() > s.order() {
            out[k] = out[k - 1];
            k -= 1;
        }
        out[k] = s;
    }
}
