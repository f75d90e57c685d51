//! Training data: a folder of music decoded once to 16 kHz mono and kept in memory, a few
//! tracks held out for validation, and batches of (anchor, positive[, hard negative])
//! segments drawn from the rest, deterministically from (seed, step).
//!
//! An anchor is a random 1 s window (16 000 samples) of a training track whose mean power
//! after peak normalisation is above [`SILENT_SEGMENT_POWER`]; its positive is
//! [`Augmenter::positive`] of the same place (distorted, shifted); its optional hard negative
//! is the clean window of the same track shifted by 100–500 ms either way. Each becomes
//! exactly one segment of log-mel (100 frames × 64 bands, frame-major).

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::audio::augment::Augmenter;
use crate::audio::{
    N_MELS, SAMPLE_RATE, SEGMENT_FLOATS, SEGMENT_FRAMES, SILENT_SEGMENT_POWER, load_mono_16k,
    log_mel,
};
use crate::tensor::Tensor;
use crate::train::objective::PairBatch;
use crate::{Error, Result};

/// Samples in one window: 1 s at 16 kHz.
pub const WINDOW: usize = SAMPLE_RATE as usize;

/// Tracks quieter than this peak (−60 dBFS = 10^(−60/20)) are skipped as silent.
pub const MIN_TRACK_PEAK: f32 = 1e-3;

/// Hard negatives are shifted by 100–500 ms (1 600–8 000 samples) by default: at least one
/// 100 ms search-grid step away from the anchor, so they must be told apart. The range is
/// [`BatchConfig::hard_shift`]; its upper end never exceeds this one's, because
/// [`Track::new`] keeps only tracks at least a window plus this long, so that every kept
/// track has starts whose shifted window fits (the others are redrawn).
pub const HARD_SHIFT: (usize, usize) = (SAMPLE_RATE as usize / 10, SAMPLE_RATE as usize / 2);

/// Draws per item before giving up on finding a non-silent window.
const MAX_DRAWS: usize = 1000;

/// File extensions read as audio (lower case).
pub const AUDIO_EXTENSIONS: [&str; 9] = [
    "wav", "flac", "ogg", "oga", "opus", "mp3", "m4a", "aac", "mp4",
];

/// One decoded track, peak-normalised to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    /// The path relative to the music folder (or any label), used for hold-out and logs.
    pub name: String,
    /// 16 kHz mono, peak 1.
    pub samples: Vec<f32>,
}

impl Track {
    /// A track from samples; `None` if it is shorter than a window plus the largest hard
    /// negative shift, or its peak is below [`MIN_TRACK_PEAK`]. Normalises the peak to 1.
    pub fn new(name: impl Into<String>, mut samples: Vec<f32>) -> Option<Track> {
        let peak = samples.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
        if samples.len() < WINDOW + HARD_SHIFT.1 || peak < MIN_TRACK_PEAK {
            return None;
        }
        samples.iter_mut().for_each(|x| *x /= peak);
        Some(Track {
            name: name.into(),
            samples,
        })
    }
}

/// Which tracks are kept out of training for validation.
#[derive(Clone, Debug, PartialEq)]
pub enum Holdout {
    /// These names exactly (relative paths, or file names).
    Names(Vec<String>),
    /// `n` tracks chosen deterministically by a hash of their names.
    Count(usize),
}

/// The training and validation tracks.
#[derive(Clone, Debug, Default)]
pub struct Corpus {
    pub train: Vec<Track>,
    pub holdout: Vec<Track>,
}

/// Every file under `dir` (recursively) with an audio extension, sorted.
pub fn list_audio(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let path = entry.map_err(|e| Error::io(&d, e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if has_audio_extension(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// FNV-1a of a name: a stable (platform- and version-independent) hash for the hold-out.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

impl Corpus {
    /// Decodes every audio file under `dir`; files that fail to decode are skipped with a
    /// warning through `warn`, and so are silent or too short ones.
    pub fn load(dir: &Path, holdout: &Holdout, warn: &mut dyn FnMut(String)) -> Result<Corpus> {
        let mut tracks = Vec::new();
        for path in list_audio(dir)? {
            let name = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            match load_mono_16k(&path) {
                Ok(samples) => match Track::new(name.clone(), samples) {
                    Some(t) => tracks.push(t),
                    None => warn(format!(
                        "skipping {name}: silent (peak < −60 dBFS) or shorter than 1.5 s"
                    )),
                },
                Err(e) => warn(format!("skipping {name}: {e}")),
            }
        }
        Corpus::split(tracks, holdout)
    }

    /// Splits `tracks` into training and hold-out. Errors if a named hold-out track is not
    /// there or nothing is left to train on.
    pub fn split(tracks: Vec<Track>, holdout: &Holdout) -> Result<Corpus> {
        let keep_out: Vec<bool> = match holdout {
            Holdout::Names(names) => {
                for n in names {
                    if !tracks.iter().any(|t| matches_name(t, n)) {
                        return Err(Error::invalid(format!(
                            "hold-out track `{n}` is not among the music"
                        )));
                    }
                }
                tracks
                    .iter()
                    .map(|t| names.iter().any(|n| matches_name(t, n)))
                    .collect()
            }
            Holdout::Count(n) => {
                let mut order: Vec<usize> = (0..tracks.len()).collect();
                order.sort_by_key(|&i| (name_hash(&tracks[i].name), i));
                let mut out = vec![false; tracks.len()];
                order.iter().take(*n).for_each(|&i| out[i] = true);
                out
            }
        };
        let mut corpus = Corpus::default();
        for (t, out) in tracks.into_iter().zip(keep_out) {
            if out {
                corpus.holdout.push(t)
            } else {
                corpus.train.push(t)
            }
        }
        if corpus.train.is_empty() {
            return Err(Error::invalid(
                "no training tracks left (every track is silent, unreadable or held out)",
            ));
        }
        Ok(corpus)
    }
}

/// A hold-out name matches a track's relative path, its file name, or its file stem
/// (`heroes_rite` matches `wesnoth/heroes_rite.ogg`).
fn matches_name(track: &Track, name: &str) -> bool {
    let path = Path::new(&track.name);
    track.name == name
        || path.file_name().is_some_and(|f| f == name)
        || path.file_stem().is_some_and(|f| f == name)
}

/// How batches are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchConfig {
    /// B, pairs per batch.
    pub pairs: usize,
    /// Add one hard negative per pair (the same track shifted by `hard_shift`).
    pub hard_negatives: bool,
    /// The hard negatives' shift range in samples, either way (default [`HARD_SHIFT`];
    /// `BatchMaker::new` panics unless 0 < min ≤ max ≤ `HARD_SHIFT.1`).
    pub hard_shift: (usize, usize),
    /// Share (0–1) of the hard negatives drawn instead from anywhere in the same track
    /// whose window does not overlap the anchor's (see [`far_start`]): a passage that
    /// recurs elsewhere in the track is what a 1 s query most often lands on when it finds
    /// the right track but not the right second. At 0 no draw is made for it, so batches
    /// are exactly those of a run without it.
    pub far_share: f32,
    /// The run's seed; batch `step` uses an RNG derived from (seed, step).
    pub seed: u64,
}

/// Draws batches from the training tracks. `Sync`: one maker serves a producer thread.
pub struct BatchMaker {
    tracks: Vec<Track>,
    /// Prefix sums of the tracks' window-start counts, to draw windows uniformly over time.
    starts: Vec<u64>,
    augmenter: Augmenter,
    config: BatchConfig,
}

/// splitmix64: a well-mixed 64-bit hash of (seed, step) for per-batch RNG seeds.
fn mix(seed: u64, step: u64) -> u64 {
    let mut z = seed ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl BatchMaker {
    pub fn new(tracks: Vec<Track>, augmenter: Augmenter, config: BatchConfig) -> BatchMaker {
        assert!(
            !tracks.is_empty() && config.pairs >= 1,
            "BatchMaker::new: needs tracks and B ≥ 1"
        );
        let (min, max) = config.hard_shift;
        assert!(
            0 < min && min <= max && max <= HARD_SHIFT.1,
            "BatchMaker::new: hard negative shift {min}..={max} samples is not within 1..={}",
            HARD_SHIFT.1
        );
        assert!(
            (0.0..=1.0).contains(&config.far_share),
            "BatchMaker::new: far negative share {} is not within 0..=1",
            config.far_share
        );
        let mut starts = Vec::with_capacity(tracks.len() + 1);
        starts.push(0u64);
        for t in &tracks {
            let last = starts[starts.len() - 1];
            starts.push(last + (t.samples.len() - WINDOW + 1) as u64);
        }
        BatchMaker {
            tracks,
            starts,
            augmenter,
            config,
        }
    }

    pub fn config(&self) -> &BatchConfig {
        &self.config
    }

    /// Batch number `step`: the same (seed, step) always gives the same batch.
    pub fn make(&self, step: u64) -> PairBatch {
        let _p = crate::profile::scope("train.batch", 0);
        let b = self.config.pairs;
        let mut rng = StdRng::seed_from_u64(mix(self.config.seed, step));
        let hard_rows = if self.config.hard_negatives { b } else { 0 };
        let mut anchors = Vec::with_capacity(b * SEGMENT_FLOATS);
        let mut positives = Vec::with_capacity(b * SEGMENT_FLOATS);
        let mut hard = Vec::with_capacity(hard_rows * SEGMENT_FLOATS);
        for _ in 0..b {
            let (a, p, h) = self.item(&mut rng);
            anchors.extend_from_slice(&a);
            positives.extend_from_slice(&p);
            if let Some(h) = h {
                hard.extend_from_slice(&h);
            }
        }
        PairBatch {
            anchors: Tensor::new(&[b, SEGMENT_FLOATS], anchors),
            positives: Tensor::new(&[b, SEGMENT_FLOATS], positives),
            hard: Tensor::new(&[hard_rows, SEGMENT_FLOATS], hard),
        }
    }

    /// One (anchor, positive, hard negative) triple of segments.
    fn item(&self, rng: &mut StdRng) -> (Vec<f32>, Vec<f32>, Option<Vec<f32>>) {
        for _ in 0..MAX_DRAWS {
            let (track, start) = self.draw_audible(rng);
            let audio = &self.tracks[track].samples;
            let window = &audio[start..start + WINDOW];
            let positive = {
                let _p = crate::profile::scope("batch.augment", 0);
                self.augmenter.positive(audio, start, WINDOW, rng)
            };
            let _p = crate::profile::scope("batch.log_mel", 0);
            let (Some(a), Some(p)) = (segment(window), segment(&positive.samples)) else {
                continue;
            };
            if !self.config.hard_negatives {
                return (a, p, None);
            }
            let far = self.config.far_share > 0.0 && rng.random::<f32>() < self.config.far_share;
            let near =
                |rng: &mut StdRng| hard_start(audio.len(), start, self.config.hard_shift, rng);
            let h = if far {
                far_start(audio.len(), start, rng).or_else(|| near(rng))
            } else {
                near(rng)
            };
            let h = h.and_then(|s| segment(&audio[s..s + WINDOW]));
            if let Some(h) = h {
                return (a, p, Some(h));
            }
        }
        panic!(
            "BatchMaker: no non-silent window found in {MAX_DRAWS} draws; the music is (nearly) silent"
        );
    }

    /// A window uniform over all (track, start) pairs whose mean power (the tracks are
    /// peak-normalised) is above [`SILENT_SEGMENT_POWER`].
    pub(crate) fn draw_audible(&self, rng: &mut StdRng) -> (usize, usize) {
        for _ in 0..MAX_DRAWS {
            let (track, start) = self.draw_window(rng);
            let window = &self.tracks[track].samples[start..start + WINDOW];
            if window.iter().map(|x| x * x).sum::<f32>() / WINDOW as f32 > SILENT_SEGMENT_POWER {
                return (track, start);
            }
        }
        panic!(
            "BatchMaker: no non-silent window found in {MAX_DRAWS} draws; the music is (nearly) silent"
        );
    }

    /// A window start uniform over all (track, start) pairs.
    fn draw_window(&self, rng: &mut StdRng) -> (usize, usize) {
        let total = self.starts[self.starts.len() - 1];
        let r = rng.random_range(0..total);
        let track = self.starts.partition_point(|&s| s <= r) - 1;
        (track, (r - self.starts[track]) as usize)
    }
}

/// A start shifted from `start` by `shift.0..=shift.1` samples either way (the other way if
/// one does not fit in `len` samples); `None` if neither fits.
pub(crate) fn hard_start(
    len: usize,
    start: usize,
    shift: (usize, usize),
    rng: &mut StdRng,
) -> Option<usize> {
    let shift = rng.random_range(shift.0..=shift.1);
    let later = (start + shift + WINDOW <= len).then_some(start + shift);
    let earlier = start.checked_sub(shift);
    if rng.random::<bool>() {
        later.or(earlier)
    } else {
        earlier.or(later)
    }
}

/// Start of a far negative for the window at `start` of a track of `len` samples: uniform
/// over the starts whose window does not overlap it (at least [`WINDOW`] away), either
/// side; `None` if the track has none.
pub(crate) fn far_start(len: usize, start: usize, rng: &mut StdRng) -> Option<usize> {
    let last = len.checked_sub(WINDOW)?;
    // Starts 0..=start − WINDOW before it, start + WINDOW..=last after it.
    let before = (start + 1).saturating_sub(WINDOW);
    let after = (last + 1).saturating_sub(start + WINDOW);
    if before + after == 0 {
        return None;
    }
    let i = rng.random_range(0..before + after);
    Some(if i < before {
        i
    } else {
        start + WINDOW + (i - before)
    })
}

/// Log-mel of a 1 s window as exactly one segment (first [`SEGMENT_FRAMES`] frames);
/// `None` if the window is silent.
pub fn segment(window: &[f32]) -> Option<Vec<f32>> {
    let mut mel = log_mel(window).ok()?;
    if mel.frames < SEGMENT_FRAMES {
        return None;
    }
    mel.data.truncate(SEGMENT_FRAMES * N_MELS);
    Some(mel.data)
}
