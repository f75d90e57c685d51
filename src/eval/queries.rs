//! Query sets of the evaluation protocol (DESIGN.md §6): a random track, a random start
//! to the sample (not on the 100 ms grid), a length of L seconds, and one of the poster's
//! 15 conditions (or clean), rendered with the [`Augmenter`].
//!
//! A query is planned first ([`plan_queries`]: the ground truth and a seed, no audio) and
//! rendered when it is scored ([`render_query`]), so that thousands of 5 s queries never
//! sit in memory together. Both steps are deterministic for a seed: query i of a cell
//! draws from its own RNG, seeded from (seed, length, condition, i), so that a cell's
//! queries do not change when other cells are added or removed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::audio::SAMPLE_RATE;
use crate::audio::augment::{AugmentConfig, Augmenter, Condition};
use crate::audio::rir::Rir;
use crate::{Error, Result};

/// SNRs (dB) of the noise and noise + reverb columns of the poster's table.
pub const SNRS_DB: [f32; 5] = [0.0, 5.0, 10.0, 15.0, 20.0];

/// RT60s (s) of the reverb columns of the poster's table.
pub const RT60S_S: [f32; 5] = [0.2, 0.4, 0.5, 0.7, 0.8];

/// RT60 (s) of the room in the noise + reverb columns.
pub const NOISE_REVERB_RT60_S: f32 = 0.5;

/// Query lengths (s) of the poster's table.
pub const LENGTHS_S: [f32; 4] = [1.0, 2.0, 3.0, 5.0];

/// Generated RIRs per distinct RT60 when no RIR files are given ([`eval_augmenter`]).
const RIRS_PER_RT60: usize = 4;

/// The poster's 15 columns, in its order: noise at [`SNRS_DB`], noise + reverb at
/// [`SNRS_DB`] in a room of [`NOISE_REVERB_RT60_S`], reverb at [`RT60S_S`].
pub fn paper_conditions() -> Vec<Condition> {
    let noise = SNRS_DB.map(|snr_db| Condition::Noise { snr_db });
    let noise_reverb = SNRS_DB.map(|snr_db| Condition::NoiseReverb {
        snr_db,
        rt60_s: NOISE_REVERB_RT60_S,
    });
    let reverb = RT60S_S.map(|rt60_s| Condition::Reverb { rt60_s });
    noise
        .into_iter()
        .chain(noise_reverb)
        .chain(reverb)
        .collect()
}

/// The name of a condition's kind as written in truth CSVs: `clean`, `noise`, `reverb`,
/// `noise+reverb`.
pub fn condition_name(c: Condition) -> &'static str {
    match c {
        Condition::Clean => "clean",
        Condition::Noise { .. } => "noise",
        Condition::Reverb { .. } => "reverb",
        Condition::NoiseReverb { .. } => "noise+reverb",
    }
}

/// A condition's level as written in truth CSVs: the SNR (dB) for noise and noise +
/// reverb, the RT60 (s) for reverb, 0 for clean.
pub fn condition_param(c: Condition) -> f32 {
    match c {
        Condition::Clean => 0.0,
        Condition::Noise { snr_db } | Condition::NoiseReverb { snr_db, .. } => snr_db,
        Condition::Reverb { rt60_s } => rt60_s,
    }
}

/// The inverse of [`condition_name`] and [`condition_param`] (noise + reverb in a room of
/// [`NOISE_REVERB_RT60_S`]). Errors (`Error::Invalid`) on an unknown name or a
/// non-finite level.
pub fn parse_condition(name: &str, param: f32) -> Result<Condition> {
    if !param.is_finite() {
        return Err(Error::invalid(format!(
            "condition `{name}`: level {param} is not a number"
        )));
    }
    match name {
        "clean" => Ok(Condition::Clean),
        "noise" => Ok(Condition::Noise { snr_db: param }),
        "reverb" if param > 0.0 => Ok(Condition::Reverb { rt60_s: param }),
        "noise+reverb" => Ok(Condition::NoiseReverb {
            snr_db: param,
            rt60_s: NOISE_REVERB_RT60_S,
        }),
        "reverb" => Err(Error::invalid(format!(
            "condition `reverb`: RT60 must be > 0 s, got {param}"
        ))),
        other => Err(Error::invalid(format!(
            "unknown condition `{other}` (expected clean, noise, reverb or noise+reverb)"
        ))),
    }
}

/// One planned query: its ground truth and the seed that renders it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlannedQuery {
    /// Index into the tracks given to [`plan_queries`].
    pub track: usize,
    /// First sample of the query in the track (16 kHz).
    pub start_sample: usize,
    /// Query length, samples.
    pub len: usize,
    pub condition: Condition,
    /// Seed of the RNG that picks the noise clip, the RIR and the noise's start.
    pub seed: u64,
}

impl PlannedQuery {
    /// Start in the track, seconds.
    pub fn start_s(&self) -> f64 {
        self.start_sample as f64 / f64::from(SAMPLE_RATE)
    }

    /// Length, seconds.
    pub fn length_s(&self) -> f64 {
        self.len as f64 / f64::from(SAMPLE_RATE)
    }
}

/// A stable 64-bit mix (SplitMix64's finaliser) of a seed and a query's coordinates.
fn mix(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(seed, |h, &p| {
        let mut z = (h ^ p).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// Plans `per_cell` queries for every (length, condition) cell, lengths outer: query i of
/// cell (l, c) takes a track uniformly among those at least `lengths_s[l]` long (given as
/// their lengths in samples) and a start uniform to the sample over the track.
///
/// Errors (`Error::Invalid`) if a length is not positive or no track is long enough for it.
pub fn plan_queries(
    track_samples: &[usize],
    lengths_s: &[f32],
    conditions: &[Condition],
    per_cell: usize,
    seed: u64,
) -> Result<Vec<PlannedQuery>> {
    let mut out = Vec::with_capacity(lengths_s.len() * conditions.len() * per_cell);
    for (l, &length_s) in lengths_s.iter().enumerate() {
        if !(length_s.is_finite() && length_s > 0.0) {
            return Err(Error::invalid(format!(
                "query length must be > 0 s, got {length_s}"
            )));
        }
        let len = (f64::from(length_s) * f64::from(SAMPLE_RATE)).round() as usize;
        let long_enough: Vec<usize> = (0..track_samples.len())
            .filter(|&t| track_samples[t] >= len)
            .collect();
        if long_enough.is_empty() {
            return Err(Error::invalid(format!(
                "no track is at least {length_s} s long"
            )));
        }
        for (c, &condition) in conditions.iter().enumerate() {
            for i in 0..per_cell {
                let query_seed = mix(seed, &[l as u64, c as u64, i as u64]);
                let mut rng = StdRng::seed_from_u64(query_seed);
                let track = long_enough[rng.random_range(0..long_enough.len())];
                let start_sample = rng.random_range(0..=track_samples[track] - len);
                out.push(PlannedQuery {
                    track,
                    start_sample,
                    len,
                    condition,
                    seed: rng.random(),
                });
            }
        }
    }
    Ok(out)
}

/// Renders a planned query from its track's audio (16 kHz mono): the condition drawn
/// with [`Augmenter::draw_condition`] and applied by [`Augmenter::render`] (reverb rings
/// in from the audio before the start). (len,) samples, peak 1.
pub fn render_query(query: &PlannedQuery, audio: &[f32], augmenter: &Augmenter) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(query.seed);
    let distortion = augmenter.draw_condition(query.condition, &mut rng);
    augmenter.render(
        &distortion,
        audio,
        query.start_sample as isize,
        query.len,
        &mut rng,
    )
}

/// The augmenter of an evaluation: the given noise clips and RIRs, or where none are
/// given, generated noise and [`RIRS_PER_RT60`] generated rooms at exactly each RT60 that
/// `conditions` use (so that [`Augmenter::draw_condition`] finds a room of the right
/// reverberation time). Deterministic for `seed`.
pub fn eval_augmenter(
    conditions: &[Condition],
    noises: Vec<Vec<f32>>,
    rirs: Vec<Vec<f32>>,
    seed: u64,
) -> Result<Augmenter> {
    let rirs = if rirs.is_empty() {
        let mut rt60s: Vec<f32> = conditions
            .iter()
            .filter_map(|c| match *c {
                Condition::Reverb { rt60_s } | Condition::NoiseReverb { rt60_s, .. } => {
                    Some(rt60_s)
                }
                Condition::Clean | Condition::Noise { .. } => None,
            })
            .collect();
        rt60s.sort_by(f32::total_cmp);
        rt60s.dedup();
        let mut rng = StdRng::seed_from_u64(mix(seed, &[0x5215]));
        rt60s
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, RIRS_PER_RT60))
            .map(|t| Rir::generate(t, &mut rng).samples)
            .collect()
    } else {
        rirs
    };
    Augmenter::new(AugmentConfig::default(), noises, rirs, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_conditions_round_trip_through_their_names() {
        let conditions = paper_conditions();
        assert_eq!(conditions.len(), 15);
        for c in conditions.into_iter().chain([Condition::Clean]) {
            assert_eq!(
                parse_condition(condition_name(c), condition_param(c)).unwrap(),
                c
            );
        }
        assert!(parse_condition("echo", 1.0).is_err());
        assert!(parse_condition("reverb", 0.0).is_err());
    }

    #[test]
    fn plan_is_deterministic_off_grid_and_inside_tracks() {
        let tracks = [16_000 * 20, 16_000 * 3, 16_000 * 7];
        let conditions = paper_conditions();
        let a = plan_queries(&tracks, &[1.0, 5.0], &conditions, 6, 7).unwrap();
        let b = plan_queries(&tracks, &[1.0, 5.0], &conditions, 6, 7).unwrap();
        let c = plan_queries(&tracks, &[1.0, 5.0], &conditions, 6, 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 2 * 15 * 6);
        // 100 ms = 1600 samples: random starts are almost never on the grid.
        let on_grid = a.iter().filter(|q| q.start_sample % 1600 == 0).count();
        assert!(on_grid <= 1, "{on_grid} starts on the 100 ms grid");
        for q in &a {
            assert!(q.start_sample + q.len <= tracks[q.track]);
            if q.len == 5 * 16_000 {
                assert_ne!(q.track, 1, "the 3 s track cannot hold a 5 s query");
            }
        }
        // A cell's queries do not depend on the other cells.
        let only_5s = plan_queries(&tracks, &[5.0], &conditions, 6, 7).unwrap();
        assert_ne!(
            only_5s[..],
            a[90..],
            "cells are seeded by their length index"
        );
        let first = plan_queries(&tracks, &[1.0], &conditions[..1], 6, 7).unwrap();
        assert_eq!(first[..], a[..6]);
    }

    #[test]
    fn plan_rejects_lengths_no_track_can_hold() {
        assert!(plan_queries(&[16_000], &[2.0], &[Condition::Clean], 1, 0).is_err());
        assert!(plan_queries(&[16_000], &[0.0], &[Condition::Clean], 1, 0).is_err());
    }

    #[test]
    fn rendering_is_deterministic_and_clean_is_the_cut() {
        let audio: Vec<f32> = (0..16_000 * 3)
            .map(|i| (i as f32 * 0.05).sin() * 0.5)
            .collect();
        let conditions = [
            Condition::Clean,
            Condition::Noise { snr_db: 5.0 },
            Condition::Reverb { rt60_s: 0.4 },
        ];
        let augmenter = eval_augmenter(&conditions, vec![], vec![], 3).unwrap();
        assert_eq!(augmenter.rirs().len(), RIRS_PER_RT60);
        let plan = plan_queries(&[audio.len()], &[1.0], &conditions, 2, 11).unwrap();
        for q in &plan {
            let x = render_query(q, &audio, &augmenter);
            assert_eq!(x.len(), q.len);
            assert_eq!(x, render_query(q, &audio, &augmenter));
            if q.condition == Condition::Clean {
                let cut = &audio[q.start_sample..q.start_sample + q.len];
                let peak = cut.iter().fold(0f32, |m, v| m.max(v.abs()));
                for (y, v) in x.iter().zip(cut) {
                    assert!((y - v / peak).abs() < 1e-5);
                }
            }
        }
    }
}
