//! Cutting a log-mel spectrogram into the model's 1 s segments: 100 frames × 64 bands,
//! starting every `hop_frames` frames (10 = 100 ms by default, 5 = 50 ms also works).
//!
//! With `F` frames there are `(F − 100) / hop + 1` segments when `F ≥ 100`, else none.
//! A query of L seconds at a 10-frame hop has 100·L + 1 frames and so 10·L − 9 segments.
//! Because a [`Mel`] is frame-major, a segment is a contiguous slice of 6400 floats and
//! needs no copy.

use std::iter::StepBy;
use std::ops::Range;

use super::{HOP, Mel, N_MELS, SEGMENT_FLOATS, SEGMENT_FRAMES};

/// Waveform samples one segment represents: 100 frames × 160 = 16 000 (1 s).
const SEGMENT_SAMPLES: usize = SEGMENT_FRAMES * HOP;

/// Number of segments in `frames` frames at a hop of `hop_frames` (> 0).
pub fn segment_count(frames: usize, hop_frames: usize) -> usize {
    assert!(hop_frames > 0, "segment_count: hop_frames must be > 0");
    if frames < SEGMENT_FRAMES {
        0
    } else {
        (frames - SEGMENT_FRAMES) / hop_frames + 1
    }
}

/// First frame of every segment: 0, hop, 2·hop, … ([`segment_count`] of them).
pub fn segment_starts(frames: usize, hop_frames: usize) -> StepBy<Range<usize>> {
    (0..segment_count(frames, hop_frames) * hop_frames).step_by(hop_frames)
}

/// Every segment of `mel` as a borrowed slice of `SEGMENT_FLOATS` = 6400 floats,
/// frame-major (`[t * 64 + band]` with t relative to the segment's first frame).
pub fn segments(mel: &Mel, hop_frames: usize) -> impl ExactSizeIterator<Item = &[f32]> + '_ {
    segment_starts(mel.frames, hop_frames)
        .map(move |t| &mel.data[t * N_MELS..t * N_MELS + SEGMENT_FLOATS])
}

/// Every segment copied into one contiguous buffer: `n × 6400` floats, segment-major,
/// `n = segment_count(mel.frames, hop_frames)` (ready to be a `(n, 100, 64)` batch).
pub fn collect_segments(mel: &Mel, hop_frames: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(segment_count(mel.frames, hop_frames) * SEGMENT_FLOATS);
    segments(mel, hop_frames).for_each(|s| out.extend_from_slice(s));
    out
}

/// Mean power of each segment's 1 s of waveform after peak normalisation:
/// `mean(x[i]² / peak²)` over samples `t0·160 .. t0·160 + 16 000` (cut at the end of the
/// signal), one value per segment of `log_mel(samples)` at this hop. Training skips
/// segments whose value is at most [`super::SILENT_SEGMENT_POWER`].
///
/// `samples` is the 16 kHz signal the mel was computed from, finite (as
/// [`super::load_mono_16k`] guarantees). An all-zero signal gives all zeros.
pub fn segment_mean_power(samples: &[f32], hop_frames: usize) -> Vec<f32> {
    let count = segment_count(super::frame_count(samples.len()), hop_frames);
    let peak = samples.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    if peak == 0.0 {
        return vec![0.0; count];
    }
    // prefix[b] = Σ x² over the first b blocks of HOP samples (f64: no drift over hours).
    let mut prefix = Vec::with_capacity(samples.len() / HOP + 2);
    prefix.push(0.0f64);
    let mut total = 0.0f64;
    for block in samples.chunks(HOP) {
        total += block
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>();
        prefix.push(total);
    }
    let blocks = prefix.len() - 1;
    let norm = 1.0 / (f64::from(peak) * f64::from(peak));
    segment_starts(super::frame_count(samples.len()), hop_frames)
        .map(|t0| {
            let end_block = (t0 + SEGMENT_FRAMES).min(blocks);
            let len = (t0 * HOP + SEGMENT_SAMPLES).min(samples.len()) - t0 * HOP;
            ((prefix[end_block] - prefix[t0]) * norm / len as f64) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{SILENT_SEGMENT_POWER, frame_count};
    use super::*;

    fn numbered_mel(frames: usize) -> Mel {
        Mel {
            frames,
            data: (0..frames * N_MELS).map(|i| i as f32).collect(),
        }
    }

    #[test]
    fn counts_for_files_and_queries() {
        assert_eq!(segment_count(99, 10), 0);
        assert_eq!(segment_count(100, 10), 1);
        assert_eq!(segment_count(109, 10), 1);
        assert_eq!(segment_count(110, 10), 2);
        assert_eq!(segment_count(0, 5), 0);
        for seconds in 1..=5 {
            let frames = frame_count(16_000 * seconds);
            assert_eq!(
                segment_count(frames, 10),
                10 * seconds - 9,
                "{seconds} s at 100 ms"
            );
            assert_eq!(
                segment_count(frames, 5),
                20 * seconds - 19,
                "{seconds} s at 50 ms"
            );
        }
        assert_eq!(
            segment_starts(131, 10).collect::<Vec<_>>(),
            vec![0, 10, 20, 30]
        );
        assert_eq!(segment_starts(110, 5).collect::<Vec<_>>(), vec![0, 5, 10]);
        assert_eq!(segment_starts(50, 5).count(), 0);
    }

    #[test]
    fn segments_are_contiguous_frame_major_runs() {
        let mel = numbered_mel(125);
        let segs: Vec<&[f32]> = segments(&mel, 5).collect();
        assert_eq!(segs.len(), 6);
        for (k, seg) in segs.iter().enumerate() {
            assert_eq!(seg.len(), SEGMENT_FLOATS);
            let t0 = k * 5;
            // Patch p (frames 10p..10p+10 of the segment) is floats 640p..640p+640.
            for p in 0..10 {
                let patch = &seg[p * 640..(p + 1) * 640];
                assert_eq!(patch[0], ((t0 + 10 * p) * N_MELS) as f32);
                assert_eq!(patch[639], ((t0 + 10 * p + 9) * N_MELS + 63) as f32);
            }
        }
        let all = collect_segments(&mel, 5);
        assert_eq!(all.len(), 6 * SEGMENT_FLOATS);
        assert_eq!(&all[2 * SEGMENT_FLOATS..3 * SEGMENT_FLOATS], segs[2]);
        assert!(collect_segments(&numbered_mel(99), 10).is_empty());
    }

    #[test]
    #[should_panic(expected = "hop_frames must be > 0")]
    fn a_zero_hop_is_a_programmer_error() {
        segment_count(200, 0);
    }

    /// Against the slow twin: the mean of x²/peak² over each segment's slice.
    #[test]
    fn mean_power_matches_direct_means_and_flags_silence() {
        // 1 s of silence, then 1.5 s of a sine at amplitude 0.5 (peak 0.5 → power 0.5).
        let mut x = vec![0.0f32; 16_000];
        x.extend((0..24_000).map(|i| 0.5 * (i as f32 * 0.3).sin()));
        for hop in [10, 5] {
            let power = segment_mean_power(&x, hop);
            assert_eq!(power.len(), segment_count(frame_count(x.len()), hop));
            for (k, &p) in power.iter().enumerate() {
                let start = k * hop * HOP;
                let slice = &x[start..(start + 16_000).min(x.len())];
                let want = slice
                    .iter()
                    .map(|&v| f64::from(v / 0.5).powi(2))
                    .sum::<f64>()
                    / slice.len() as f64;
                assert!(
                    (f64::from(p) - want).abs() < 1e-5,
                    "hop {hop} segment {k}: {p} vs {want}"
                );
            }
            assert!(power[0] <= SILENT_SEGMENT_POWER);
            assert!(power[power.len() - 1] > 0.4);
        }
        assert_eq!(segment_mean_power(&[0.0; 20_000], 10), vec![0.0; 3]);
    }
}
