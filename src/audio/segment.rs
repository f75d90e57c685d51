//! Cutting a log-mel spectrogram into the model's 1 s segments: 100 frames × 64 bands,
//! starting every `hop_frames` frames (10 = 100 ms by default, 5 = 50 ms also works).
//!
//! With `F` frames there are `(F − 100) / hop + 1` segments when `F ≥ 100`, else none.
//! A query of L seconds at a 10-frame hop has 100·L + 1 frames and so 10·L − 9 segments.
//! Because a [`Mel`] is frame-major, a segment is a contiguous slice of 6400 floats and
//! needs no copy.

use std::iter::StepBy;
use std::ops::Range;

use super::{HOP, LOG_FLOOR, Mel, N_MELS, SEGMENT_FLOATS, SEGMENT_FRAMES};
use crate::Result;

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

/// Every segment of `samples` as the model takes it: the log-mel of the whole signal cut
/// into 1 s segments every `hop_frames` frames (as [`collect_segments`]), each levelled as
/// if its own second of audio had been peak-normalised. That is how training presents a
/// segment (a 1 s window, normalised on its own) and how a 1 s query arrives; levelled by
/// the whole track instead, a quiet passage of a loud track sits tens of dB below anything
/// the model saw in training, while a query cut from that passage does not.
///
/// Levelling adds `20·log10(peak / window peak)` dB to every value above the −100 dB floor;
/// values at the floor stay there, and a window of digital silence is left as it is. A
/// segment's values thus depend only on its own second of audio, apart from its first two
/// and last frames, whose STFT windows reach 16 ms beyond it (a lone 1 s clip reflects its
/// edges there instead).
///
/// Errors ([`crate::Error::Invalid`]) as [`super::log_mel`]: fewer than 257 samples, a NaN
/// or infinite sample, or silence throughout.
pub fn levelled_segments(samples: &[f32], hop_frames: usize) -> Result<Vec<f32>> {
    let mel = super::log_mel(samples)?;
    let mut out = collect_segments(&mel, hop_frames);
    let blocks: Vec<f32> = samples.chunks(HOP).map(peak_of).collect();
    let peak = peak_of(&blocks);
    let floor_db = 10.0 * LOG_FLOOR.log10();
    for (segment, t0) in out
        .chunks_exact_mut(SEGMENT_FLOATS)
        .zip(segment_starts(mel.frames, hop_frames))
    {
        // Blocks t0 .. t0 + 100 are the samples t0·160 .. t0·160 + 16 000.
        let window_peak = peak_of(&blocks[t0..(t0 + SEGMENT_FRAMES).min(blocks.len())]);
        if window_peak == 0.0 {
            continue;
        }
        let gain_db = 20.0 * (peak / window_peak).log10();
        segment
            .iter_mut()
            .filter(|v| **v > floor_db)
            .for_each(|v| *v += gain_db);
    }
    Ok(out)
}

/// max |x| of finite samples (0 for none).
fn peak_of(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, &x| m.max(x.abs()))
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
    let peak = peak_of(samples);
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

    /// Deterministic noise plus a tone, within ±0.75.
    fn music(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                0.5 * noise + 0.5 * (i as f32 * 0.07).sin()
            })
            .collect()
    }

    fn max_difference(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
    }

    /// Frames `from..to` of a segment.
    fn frames(segment: &[f32], from: usize, to: usize) -> &[f32] {
        &segment[from * N_MELS..to * N_MELS]
    }

    #[test]
    fn levelled_segments_equal_each_second_normalised_on_its_own() {
        // 3.5 s: quiet (−34 dB), then a fade up to full scale.
        let mut x = music(56_000, 1);
        for (i, v) in x.iter_mut().enumerate() {
            *v *= if i < 24_000 {
                0.02
            } else {
                (i as f32 / 56_000.0).powi(2)
            };
        }
        let levelled = levelled_segments(&x, 10).unwrap();
        let whole = collect_segments(&super::super::log_mel(&x).unwrap(), 10);
        assert_eq!(levelled.len(), whole.len());
        for (i, segment) in levelled.chunks_exact(SEGMENT_FLOATS).enumerate() {
            let clip = &x[i * 1600..i * 1600 + 16_000];
            let alone = super::super::log_mel(clip).unwrap();
            // Frames 0, 1 and 99 reach beyond the second: the clip reflects there.
            let d = max_difference(frames(segment, 2, 99), frames(&alone.data, 2, 99));
            assert!(d < 2e-3, "segment {i}: {d} dB from the second on its own");
        }
        // Levelling moved the quiet seconds by tens of dB.
        let first = max_difference(&levelled[..SEGMENT_FLOATS], &whole[..SEGMENT_FLOATS]);
        assert!(first > 20.0, "first segment moved {first} dB");
    }

    #[test]
    fn a_segment_ignores_audio_outside_its_second() {
        let quiet: Vec<f32> = music(40_000, 2).iter().map(|v| 0.1 * v).collect();
        let mut loud = quiet.clone();
        // A burst 4 000 samples after the first second: no frame of segment 0 sees it.
        loud[20_000..24_000].iter_mut().for_each(|v| *v *= 9.0);
        let a = levelled_segments(&quiet, 10).unwrap();
        let b = levelled_segments(&loud, 10).unwrap();
        let d = max_difference(&a[..SEGMENT_FLOATS], &b[..SEGMENT_FLOATS]);
        assert!(d < 1e-3, "segment 0 moved {d} dB");
        // Without levelling it would have moved by the burst's 19 dB.
        let unlevelled = |x: &[f32]| collect_segments(&super::super::log_mel(x).unwrap(), 10);
        let (a, b) = (unlevelled(&quiet), unlevelled(&loud));
        let moved = max_difference(&a[..SEGMENT_FLOATS], &b[..SEGMENT_FLOATS]);
        assert!(moved > 15.0, "unlevelled: {moved} dB");
    }

    #[test]
    fn one_second_and_digital_silence_are_left_as_they_are() {
        let x = music(16_000, 3);
        let alone = collect_segments(&super::super::log_mel(&x).unwrap(), 10);
        assert_eq!(levelled_segments(&x, 10).unwrap(), alone);
        // 1 s of music, 2 s of zeros, 1 s of music: seconds wholly inside the zeros stay
        // at the floor, and nothing becomes NaN or infinite.
        let mut y = music(64_000, 4);
        y[16_000..48_000].iter_mut().for_each(|v| *v = 0.0);
        let levelled = levelled_segments(&y, 10).unwrap();
        let whole = collect_segments(&super::super::log_mel(&y).unwrap(), 10);
        assert!(levelled.iter().all(|v| v.is_finite()));
        let floor = 10.0 * LOG_FLOOR.log10();
        for i in 11..=19 {
            let segment = &levelled[i * SEGMENT_FLOATS..(i + 1) * SEGMENT_FLOATS];
            assert_eq!(
                segment,
                &whole[i * SEGMENT_FLOATS..(i + 1) * SEGMENT_FLOATS]
            );
            assert!(
                frames(segment, 2, 98).iter().all(|&v| v == floor),
                "segment {i}"
            );
        }
    }

    #[test]
    fn levelling_refuses_what_log_mel_refuses() {
        assert!(levelled_segments(&[0.0; 20_000], 10).is_err());
        assert!(levelled_segments(&[0.1; 100], 10).is_err());
        assert!(levelled_segments(&[f32::NAN; 20_000], 10).is_err());
        assert!(levelled_segments(&[0.1; 15_000], 10).unwrap().is_empty());
    }
}
