//! Hash buckets of a query in exactly decreasing score, without scoring all 2^K.
//!
//! A query's K hash logits q (K ≤ 32) give the bucket scores s_b = q̂ · b / √K for every
//! sign vector b ∈ {−1, +1}^K, with q̂ = q / ‖q‖. A bucket's key has bit i set iff b_i = +1.
//! The best bucket is b = sign(q) (q_i = 0 counts as +1), scoring ‖q‖₁ / (‖q‖₂ √K);
//! flipping a set S of its bits lowers the score by 2 Σ_{i∈S} |q_i| / (‖q‖₂ √K). So buckets
//! in decreasing score are flip sets in non-decreasing cost Σ_{i∈S} |q_i|.
//!
//! [`Probe`] enumerates flip sets with the classic heap: sort the |q_i| ascending
//! (a_0 ≤ … ≤ a_{K−1}); a set whose largest sorted position is j has two successors,
//! "add j+1" and "replace j by j+1", each costing at least as much, and every set is
//! reached from ∅ in exactly one way. Each bucket costs O(log h) with h the heap size
//! (≤ buckets yielded so far), after an O(K²) setup.
//!
//! [`SplitProbe`] yields the same sequence faster when K ≤ 24 and hundreds of buckets or
//! more are wanted, from the two halves' sorted subset costs (see `split.rs`).
//!
//! Floating-point exactness: a set's cost is always computed as the left-to-right sum
//! of its a_j in ascending j (each heap slot keeps the sum without its last element), so
//! both successor costs are ≥ their parent's after rounding, and the yielded scores never
//! increase. Ties (equal costs) come out in an unspecified but deterministic order.

/// The largest number of hash bits K (keys are u32).
pub const MAX_BITS: usize = 32;

/// One heap entry of [`Probe`]: a flip set. Callers only allocate these
/// (`[ProbeSlot::EMPTY; N]`); [`slots_for`] says how many.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeSlot {
    /// Σ |q_i| over the set, summed in ascending sorted position.
    cost: f32,
    /// The same sum without the last (largest-position) element.
    prefix: f32,
    /// The flipped bits, as a mask over the original bit positions.
    flips: u32,
    /// The largest sorted position in the set.
    last: u8,
}

impl ProbeSlot {
    /// A placeholder to initialise storage with.
    pub const EMPTY: ProbeSlot = ProbeSlot {
        cost: 0.0,
        prefix: 0.0,
        flips: 0,
        last: 0,
    };
}

impl Keyed for ProbeSlot {
    #[inline]
    fn order(&self) -> u64 {
        flip_set_order(self.cost, self.flips)
    }
}

impl Default for ProbeSlot {
    fn default() -> ProbeSlot {
        ProbeSlot::EMPTY
    }
}

/// Heap slots that guarantee the first `buckets` buckets (or all 2^K): `buckets − 1`.
///
/// Each bucket after the first removes one slot and adds at most two, so after m buckets
/// at most m slots are in use; the (n+1)-th bucket is still exact with n slots.
pub const fn slots_for(buckets: usize) -> usize {
    buckets.saturating_sub(1)
}

/// The key of a query's best bucket: bit i set iff `logits[i] ≥ 0`.
///
/// Panics unless 1 ≤ K = `logits.len()` ≤ 32.
pub fn bucket_key(logits: &[f32]) -> u32 {
    check_bits("bucket_key", logits);
    logits
        .iter()
        .enumerate()
        .fold(0, |key, (i, &q)| if q >= 0.0 { key | 1 << i } else { key })
}

/// The score q̂ · b / √K of the bucket with `key` (bits above K ignored), computed directly;
/// 0 for every bucket if q = 0.
///
/// Panics unless 1 ≤ K = `logits.len()` ≤ 32.
pub fn bucket_score(logits: &[f32], key: u32) -> f32 {
    check_bits("bucket_score", logits);
    let signed: f32 = logits
        .iter()
        .enumerate()
        .map(|(i, &q)| if key >> i & 1 == 1 { q } else { -q })
        .sum();
    signed * inverse_scale(logits)
}

/// Iterator over `(key, score)` of a query's buckets, best first (see the module docs).
///
/// With storage of n slots it yields at least min(2^K, n + 1) buckets, all exact, then
/// stops; with n ≥ 2^(K−1) it yields all 2^K.
pub struct Probe<'a> {
    heap: Heap<'a, ProbeSlot>,
    /// |q| sorted ascending: a_j = `magnitude[j]`.
    magnitude: [f32; MAX_BITS],
    /// The original bit of sorted position j.
    bit: [u8; MAX_BITS],
    bits: usize,
    best_key: u32,
    /// ‖q‖₁ = Σ a_j.
    l1: f32,
    /// 1 / (‖q‖₂ √K), or 0 if q = 0.
    scale: f32,
    stage: Stage,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The best bucket is next.
    Best,
    /// Buckets come from the heap.
    Heap,
    /// The heap overflowed while yielding the last bucket, or every bucket was yielded.
    Done,
}

impl<'a> Probe<'a> {
    /// Starts the enumeration for hash `logits` (K = `logits.len()`), using `storage` as
    /// the heap.
    ///
    /// Panics unless 1 ≤ K ≤ 32 and every logit is finite.
    pub fn new(logits: &[f32], storage: &'a mut [ProbeSlot]) -> Probe<'a> {
        check_bits("Probe::new", logits);
        let bits = logits.len();
        let mut bit = [0u8; MAX_BITS];
        let mut magnitude = [0.0f32; MAX_BITS];
        // Insertion sort by |q_i| (stable: equal magnitudes keep bit order); K ≤ 32.
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
        Probe {
            heap: Heap::new(storage),
            magnitude,
            bit,
            bits,
            best_key: bucket_key(logits),
            l1,
            scale: inverse_scale(logits),
            stage: Stage::Best,
        }
    }

    /// The key of the best bucket, sign(q).
    pub fn best_key(&self) -> u32 {
        self.best_key
    }

    /// The score of a flip set of total cost `cost`: (‖q‖₁ − 2 cost) / (‖q‖₂ √K).
    fn score(&self, cost: f32) -> f32 {
        (self.l1 - 2.0 * cost) * self.scale
    }

    /// The flip set {0} (the cheapest bit), the only successor of ∅.
    fn first_flip(&self) -> ProbeSlot {
        ProbeSlot {
            cost: self.magnitude[0],
            prefix: 0.0,
            flips: 1 << self.bit[0],
            last: 0,
        }
    }

    /// The successors of `slot`, "add next" and "replace last by next", if it has any
    /// (both exist iff the last sorted position is below K − 1).
    fn successors(&self, slot: ProbeSlot) -> Option<(ProbeSlot, ProbeSlot)> {
        let next = usize::from(slot.last) + 1;
        if next == self.bits {
            return None;
        }
        let next_bit = 1u32 << self.bit[next];
        let last_bit = 1u32 << self.bit[usize::from(slot.last)];
        let add = ProbeSlot {
            cost: slot.cost + self.magnitude[next],
            prefix: slot.cost,
            flips: slot.flips | next_bit,
            last: next as u8,
        };
        let replace = ProbeSlot {
            cost: slot.prefix + self.magnitude[next],
            prefix: slot.prefix,
            flips: (slot.flips & !last_bit) | next_bit,
            last: next as u8,
        };
        Some((add, replace))
    }
}

impl Iterator for Probe<'_> {
    type Item = (u32, f32);

    fn next(&mut self) -> Option<(u32, f32)> {
        match self.stage {
            Stage::Done => None,
            Stage::Best => {
                let first = self.first_flip();
                self.stage = if self.heap.push(first) {
                    Stage::Heap
                } else {
                    Stage::Done
                };
                Some((self.best_key, self.score(0.0)))
            }
            Stage::Heap => {
                if self.heap.is_empty() {
                    self.stage = Stage::Done;
                    return None;
                }
                // Pop the cheapest set and push its successors: the first one takes the
                // root's place (one sift instead of two).
                let slot = self.heap.root();
                let successors = self.successors(slot);
                self.heap.replace_root(successors.map(|(add, _)| add));
                if let Some((_, replace)) = successors
                    && !self.heap.push(replace)
                {
                    self.stage = Stage::Done;
                }
                Some((self.best_key ^ slot.flips, self.score(slot.cost)))
            }
        }
    }
}

fn check_bits(op: &str, logits: &[f32]) {
    assert!(
        (1..=MAX_BITS).contains(&logits.len()),
        "{op}: K = {} hash logits, expected 1..={MAX_BITS}",
        logits.len()
    );
    assert!(
        logits.iter().all(|q| q.is_finite()),
        "{op}: a hash logit is not finite"
    );
}

/// 1 / (‖q‖₂ √K) = 1 / √(K Σ q_i²), or 0 if q = 0 (then every bucket scores 0).
fn inverse_scale(logits: &[f32]) -> f32 {
    let sum_squares: f64 = logits.iter().map(|&q| f64::from(q) * f64::from(q)).sum();
    let norm = sqrt(sum_squares * logits.len() as f64);
    if norm == 0.0 {
        0.0
    } else {
        (1.0 / norm) as f32
    }
}

/// √x for finite x ≥ 0 (`core` has no `sqrt`): Newton's iteration from a halved-exponent
/// guess (relative error < 1/8), which doubles the correct bits each step; six steps
/// reach full f64 precision, far more than the f32 result needs.
fn sqrt(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    // Halving the biased exponent approximately halves log2(x).
    let mut y = f64::from_bits((x.to_bits() >> 1) + (0x3ff << 51));
    for _ in 0..6 {
        y = 0.5 * (y + x / y);
    }
    y
}

mod heap;
mod split;
use heap::{Heap, Keyed, flip_set_order};
pub use split::{SPLIT_MAX_BITS, SplitProbe, SplitSlot, split_slots_for};

#[cfg(test)]
mod tests;
