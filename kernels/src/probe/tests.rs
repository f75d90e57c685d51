use super::*;
use crate::testutil::Rng;
use std::collections::BTreeSet;
use std::vec::Vec;

/// Enumerates every bucket with enough storage.
fn enumerate_all(logits: &[f32]) -> Vec<(u32, f32)> {
    let mut storage = std::vec![ProbeSlot::EMPTY; slots_for(1 << logits.len())];
    Probe::new(logits, &mut storage).collect()
}

/// Σ q_i b_i over integer-valued logits, exactly.
fn integer_dot(logits: &[f32], key: u32) -> i64 {
    let b = |i: usize| if key >> i & 1 == 1 { 1 } else { -1 };
    logits
        .iter()
        .enumerate()
        .map(|(i, &q)| q as i64 * b(i))
        .sum()
}

#[test]
fn matches_brute_force_with_exact_ties() {
    let mut rng = Rng::new(21);
    for bits in 1..=12 {
        for _ in 0..4 {
            // Small integers, zeros included: many equal costs and equal scores.
            let logits = rng.ints(bits, -3, 3);
            let got = enumerate_all(&logits);
            assert_eq!(got.len(), 1 << bits, "K {bits} {logits:?}");
            let mut brute: Vec<(i64, u32)> = (0..1u32 << bits)
                .map(|k| (integer_dot(&logits, k), k))
                .collect();
            brute.sort_by_key(|b| core::cmp::Reverse(b.0));
            // The score sequence, exactly (as integer dots).
            let dots: Vec<i64> = got
                .iter()
                .map(|&(key, _)| integer_dot(&logits, key))
                .collect();
            assert_eq!(
                dots,
                brute.iter().map(|b| b.0).collect::<Vec<_>>(),
                "K {bits} {logits:?}"
            );
            // For each score value, the set of keys; equal dots give bit-identical scores.
            let mut start = 0;
            while start < got.len() {
                let end = start
                    + dots[start..]
                        .iter()
                        .take_while(|&&d| d == dots[start])
                        .count();
                let keys: BTreeSet<u32> = got[start..end].iter().map(|g| g.0).collect();
                let want: BTreeSet<u32> = brute[start..end].iter().map(|b| b.1).collect();
                assert_eq!(keys, want, "K {bits} {logits:?} dot {}", dots[start]);
                assert!(
                    got[start..end]
                        .iter()
                        .all(|g| g.1.to_bits() == got[start].1.to_bits())
                );
                start = end;
            }
            for &(key, score) in &got {
                assert!(
                    (score - bucket_score(&logits, key)).abs() < 1e-6,
                    "K {bits} key {key:#x}"
                );
            }
        }
    }
}

#[test]
fn real_valued_scores_never_increase_and_match_direct_scores() {
    let mut rng = Rng::new(22);
    for bits in 1..=12 {
        let logits: Vec<f32> = (0..bits).map(|_| rng.unit() * 4.0).collect();
        let got = enumerate_all(&logits);
        assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "K {bits}");
        let keys: BTreeSet<u32> = got.iter().map(|g| g.0).collect();
        assert_eq!(keys.len(), 1 << bits);
        let mut direct: Vec<f32> = (0..1u32 << bits)
            .map(|k| bucket_score(&logits, k))
            .collect();
        direct.sort_by(|a, b| b.total_cmp(a));
        for (&(key, score), &want) in got.iter().zip(&direct) {
            assert!((score - want).abs() < 1e-5, "K {bits}: {score} vs {want}");
            assert!((score - bucket_score(&logits, key)).abs() < 1e-5);
        }
    }
}

#[test]
fn small_storage_gives_the_same_prefix() {
    let mut rng = Rng::new(23);
    let logits = rng.ints(16, -20, 20);
    let mut big = std::vec![ProbeSlot::EMPTY; slots_for(1 << 16)];
    let all: Vec<i64> = Probe::new(&logits, &mut big)
        .map(|(k, _)| integer_dot(&logits, k))
        .collect();
    for buckets in [1, 2, 3, 10, 100] {
        let mut small = std::vec![ProbeSlot::EMPTY; slots_for(buckets)];
        let prefix: Vec<i64> = Probe::new(&logits, &mut small)
            .map(|(k, _)| integer_dot(&logits, k))
            .collect();
        assert!(
            prefix.len() >= buckets,
            "{buckets} buckets: got {}",
            prefix.len()
        );
        assert_eq!(prefix, all[..prefix.len()], "{buckets} buckets");
    }
}

#[test]
fn best_bucket_is_the_sign_with_zero_as_plus() {
    let mut logits = [0.5f32; 32];
    logits[3] = -1.0;
    logits[31] = -0.25;
    logits[7] = 0.0;
    let mut storage = [ProbeSlot::EMPTY; 8];
    let mut probe = Probe::new(&logits, &mut storage);
    let best = !(1u32 << 3 | 1 << 31);
    assert_eq!(probe.best_key(), best);
    assert_eq!(bucket_key(&logits), best);
    let (key, score) = probe.next().unwrap();
    assert_eq!(key, best);
    assert!((score - bucket_score(&logits, best)).abs() < 1e-6);
    // Flipping the zero logit costs nothing: the same score.
    assert_eq!(probe.next().unwrap(), (best ^ 1 << 7, score));
}

#[test]
fn zero_logits_score_every_bucket_zero() {
    let got = enumerate_all(&[0.0; 3]);
    assert_eq!(got.len(), 8);
    assert!(got.iter().all(|g| g.1 == 0.0));
}

#[test]
fn sqrt_is_accurate() {
    for x in [1e-30, 0.5, 2.0, 16.0, 12345.678, 1e30] {
        let y = sqrt(x);
        assert!((y * y - x).abs() <= x * 1e-15, "{x}");
    }
}

#[test]
#[should_panic(expected = "Probe::new: K = 33 hash logits, expected 1..=32")]
fn too_many_bits_panics() {
    Probe::new(&[1.0; 33], &mut []);
}

/// Every bucket from a [`SplitProbe`].
fn split_all(logits: &[f32]) -> Vec<(u32, f32)> {
    let mut storage = std::vec![SplitSlot::EMPTY; split_slots_for(logits.len())];
    SplitProbe::new(logits, &mut storage).collect()
}

#[test]
fn split_probe_yields_the_same_sequence_on_exact_costs() {
    let mut rng = Rng::new(31);
    for bits in 1..=16 {
        for range in [1, 3, 40] {
            // Zeros and repeats included: many ties, which both break by flip mask.
            let logits = rng.ints(bits, -range, range);
            let want = enumerate_all(&logits);
            let got = split_all(&logits);
            assert_eq!(got.len(), 1 << bits, "K {bits} {logits:?}");
            let keys = |v: &[(u32, f32)]| v.iter().map(|g| g.0).collect::<Vec<_>>();
            assert_eq!(keys(&got), keys(&want), "K {bits} {logits:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g.1 - w.1).abs() < 1e-6,
                    "K {bits} {logits:?}: {g:?} vs {w:?}"
                );
            }
        }
    }
}

#[test]
fn split_probe_on_real_values_is_in_order_and_complete() {
    let mut rng = Rng::new(32);
    for bits in [1, 2, 5, 12, 15, 16] {
        let logits: Vec<f32> = (0..bits).map(|_| rng.unit() * 4.0).collect();
        let got = split_all(&logits);
        // Scores never increase (up to the rounding of low + high costs).
        assert!(got.windows(2).all(|w| w[0].1 >= w[1].1 - 1e-6), "K {bits}");
        let keys: BTreeSet<u32> = got.iter().map(|g| g.0).collect();
        assert_eq!(keys.len(), 1 << bits, "K {bits}: every bucket once");
        for &(key, score) in &got {
            assert!(
                (score - bucket_score(&logits, key)).abs() < 1e-5,
                "K {bits}"
            );
        }
        // The same prefix as the heap's enumeration, up to order among near-ties.
        let want = enumerate_all(&logits);
        for (g, w) in got.iter().zip(&want) {
            assert!((g.1 - w.1).abs() < 1e-5, "K {bits}: {g:?} vs {w:?}");
        }
    }
}

#[test]
fn split_probe_takes_up_to_24_bits_and_checks_its_storage() {
    let logits: Vec<f32> = (0..24).map(|i| (i as f32 - 11.5) * 0.1).collect();
    let mut storage = std::vec![SplitSlot::EMPTY; split_slots_for(24)];
    let mut probe = SplitProbe::new(&logits, &mut storage);
    let (best, score) = probe.next().unwrap();
    assert_eq!(best, bucket_key(&logits));
    assert!((score - bucket_score(&logits, best)).abs() < 1e-6);
    // The two smallest magnitudes (±0.05, bits 11 and 12) flip next, one then the other.
    assert_eq!(probe.next().unwrap().0, best ^ 1 << 11);
    assert_eq!(probe.next().unwrap().0, best ^ 1 << 12);
    let short = std::panic::catch_unwind(|| {
        let mut small = std::vec![SplitSlot::EMPTY; split_slots_for(24) - 1];
        SplitProbe::new(&logits, &mut small).next()
    });
    assert!(short.is_err(), "too little storage must panic");
    let wide = std::panic::catch_unwind(|| {
        let mut storage = std::vec![SplitSlot::EMPTY; 1 << 14];
        SplitProbe::new(&[1.0; 25], &mut storage).next()
    });
    assert!(wide.is_err(), "K = 25 must panic");
}
