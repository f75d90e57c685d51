//! Time offsets: cutting a window out of a longer signal at a shifted start.
//!
//! The positive of a training pair is the anchor's audio shifted by up to ±50 ms
//! (DESIGN §4), so that the embedding learns to ignore sub-segment misalignment.

use rand::Rng;

/// `len` samples of `signal` from `start` on; `start` may be negative and the window may
/// run past the end, the samples outside `signal` are zeros (silence before and after the
/// recording). Shapes: signal (n,) → (len,).
pub fn cut_window(signal: &[f32], start: isize, len: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; len];
    let n = signal.len() as isize;
    // The part of [start, start + len) that lies inside [0, n).
    let lo = start.clamp(0, n);
    let hi = (start + len as isize).clamp(0, n);
    if lo < hi {
        let at = (lo - start) as usize;
        out[at..at + (hi - lo) as usize].copy_from_slice(&signal[lo as usize..hi as usize]);
    }
    out
}

/// A shift (samples) drawn uniformly from [−max_shift, +max_shift], narrowed where needed
/// so that the shifted window [start + shift, start + shift + len) stays inside a signal of
/// `signal_len` samples. The range always contains 0, so a window that does not fit at all
/// gets shift 0 (and [`cut_window`] pads it).
pub fn draw_shift<R: Rng + ?Sized>(
    signal_len: usize,
    start: usize,
    len: usize,
    max_shift: usize,
    rng: &mut R,
) -> isize {
    // rand samples i64, not isize (whose width varies by platform).
    let back = max_shift.min(start) as i64;
    let ahead = max_shift.min(signal_len.saturating_sub(start + len)) as i64;
    rng.random_range(-back..=ahead) as isize
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn windows_inside_and_across_the_edges() {
        let x: Vec<f32> = (1..=10).map(|v| v as f32).collect();
        assert_eq!(cut_window(&x, 2, 3), vec![3.0, 4.0, 5.0]);
        assert_eq!(cut_window(&x, -2, 4), vec![0.0, 0.0, 1.0, 2.0]);
        assert_eq!(cut_window(&x, 8, 4), vec![9.0, 10.0, 0.0, 0.0]);
        assert_eq!(
            cut_window(&x, -3, 15),
            [vec![0.0; 3], x.clone(), vec![0.0; 2]].concat()
        );
        assert_eq!(cut_window(&x, 20, 2), vec![0.0, 0.0]);
        assert_eq!(cut_window(&x, -5, 2), vec![0.0, 0.0]);
        assert!(cut_window(&x, 3, 0).is_empty());
        assert_eq!(cut_window(&[], 0, 2), vec![0.0, 0.0]);
    }

    #[test]
    fn shifts_stay_within_the_limit_and_the_signal() {
        let mut rng = StdRng::seed_from_u64(31);
        let mut seen = [false, false];
        for _ in 0..2000 {
            let s = draw_shift(10_000, 5_000, 1_000, 800, &mut rng);
            assert!((-800..=800).contains(&s));
            seen[(s > 0) as usize] = true;
            // Near the start only forward shifts (and small backward ones) keep it inside.
            let s = draw_shift(10_000, 100, 1_000, 800, &mut rng);
            assert!((-100..=800).contains(&s));
            // Near the end only backward ones.
            let s = draw_shift(10_000, 8_900, 1_000, 800, &mut rng);
            assert!((-800..=100).contains(&s));
            // A window longer than the signal is not shifted.
            assert_eq!(draw_shift(500, 0, 1_000, 800, &mut rng), 0);
        }
        assert_eq!(seen, [true, true], "both directions occur");
    }
}
