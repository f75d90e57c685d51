//! Validation during training (issue 5): on held-out tracks, 1 s queries cut at random
//! sample offsets, a top-1 exhaustive search over every held-out segment (100 ms grid),
//! strict (±50 ms) and loose (±150 ms) hit rates per condition; how evenly the held-out
//! segments fill the 2^K buckets; and how often a distorted query keeps the bucket of its
//! clean original (what probing must recover).
//!
//! Every condition uses the same query starts, so the conditions compare query for query
//! and the clean query is the distorted one's "original". The search is a direct scan
//! (every query against every database row), exact and simple: at validation sizes
//! (≈ 10^4 rows, 10^3 queries) it costs far less than embedding the database.

use std::fmt;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::audio::augment::{Augmenter, Condition};
use crate::audio::{SAMPLE_RATE, SEGMENT_HOP_FRAMES, levelled_segments};
use crate::eval::score::{LOOSE_S, STRICT_S};
use crate::model::Model;
use crate::{Error, Result};

/// Seconds between database segments (10 frames of 10 ms).
const GRID_S: f64 = SEGMENT_HOP_FRAMES as f64 * 0.01;

/// One query is one segment: 1 s at 16 kHz.
const QUERY_SAMPLES: usize = SAMPLE_RATE as usize;

/// The conditions of issue 5: clean, noise at 0/10/20 dB, reverb (RT60 0.5 s),
/// noise + reverb at 10 dB (RT60 0.5 s).
pub fn validation_conditions() -> [Condition; 6] {
    [
        Condition::Clean,
        Condition::Noise { snr_db: 0.0 },
        Condition::Noise { snr_db: 10.0 },
        Condition::Noise { snr_db: 20.0 },
        Condition::Reverb { rt60_s: 0.5 },
        Condition::NoiseReverb {
            snr_db: 10.0,
            rt60_s: 0.5,
        },
    ]
}

/// Hit rates of one condition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConditionRates {
    pub condition: Condition,
    pub queries: usize,
    /// Share of queries whose top-1 segment is on the right track within ±50 ms, in [0, 1].
    pub strict: f64,
    /// ... within ±150 ms.
    pub loose: f64,
    /// ... on the right track.
    pub track: f64,
    /// Share of queries whose bucket key equals the clean query's (1 for clean).
    pub same_bucket: f64,
}

/// The validation figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Validation {
    /// One entry per condition, in [`validation_conditions`] order.
    pub conditions: Vec<ConditionRates>,
    /// Database segments (rows).
    pub segments: usize,
    /// Hash bits.
    pub k: usize,
    /// Share of the 2^K buckets holding at least one segment, in [0, 1].
    pub nonempty_share: f64,
    /// Entropy of the bucket occupancy, bits.
    pub entropy_bits: f64,
    /// Its ceiling, min(K, log2 N).
    pub entropy_ceiling_bits: f64,
    /// Share of distorted (non-clean) queries in the bucket of their clean original.
    pub same_bucket: f64,
    /// Wall time of the whole validation, seconds.
    pub seconds: f64,
}

/// The bucket key of one row of logits: bit j set iff logit j ≥ 0.
fn bucket_key(logits: &[f32]) -> u32 {
    logits
        .iter()
        .enumerate()
        .fold(0, |key, (j, &l)| key | (u32::from(l >= 0.0) << j))
}

/// (nonempty buckets, entropy bits) of the bucket keys.
fn occupancy(keys: &[u32]) -> (usize, f64) {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    let n = keys.len() as f64;
    let sizes = sorted.chunk_by(|a, b| a == b).map(|run| run.len() as f64);
    sizes.fold((0, 0.0), |(count, h), s| {
        (count + 1, h - s / n * (s / n).log2())
    })
}

/// The segments (n × segment_len floats) of every 1 s window, `hop` frames apart, of
/// `audio`, levelled as the model takes them; silent audio gives none.
fn segments_of(audio: &[f32], hop: usize) -> Vec<f32> {
    levelled_segments(audio, hop).unwrap_or_default()
}

/// Runs the validation: embeds every held-out track (16 kHz mono) at 100 ms hop, plans
/// `queries_per_condition` query starts (a uniform track among those ≥ 1 s long, a
/// uniform start to the sample), renders each under every condition with `augmenter`,
/// and searches each query's one segment against all rows. Deterministic for `seed`.
///
/// Errors (`Error::Invalid`) if no track is at least 1 s long or none gives a segment.
pub fn validate(
    model: &Model,
    tracks: &[Vec<f32>],
    augmenter: &Augmenter,
    queries_per_condition: usize,
    seed: u64,
) -> Result<Validation> {
    let started = Instant::now();
    let k = model.config().k_bits;
    let dim = model.config().emb_dim;
    let seg_len = model.config().segment_len();

    // The database: rows of every track, with (track, segment) of each.
    let mut db_segments = Vec::new();
    let mut owner = Vec::new();
    for (t, audio) in tracks.iter().enumerate() {
        let s = segments_of(audio, SEGMENT_HOP_FRAMES);
        owner.extend((0..s.len() / seg_len).map(|i| (t, i)));
        db_segments.extend(s);
    }
    if owner.is_empty() {
        return Err(Error::invalid(
            "validation: no held-out track gives a segment",
        ));
    }
    let db = model.embed(&db_segments);
    let keys: Vec<u32> = db.logits.chunks_exact(k).map(bucket_key).collect();

    // The queries: the same starts under every condition.
    let long: Vec<usize> = (0..tracks.len())
        .filter(|&t| tracks[t].len() >= QUERY_SAMPLES)
        .collect();
    if long.is_empty() {
        return Err(Error::invalid("validation: no held-out track is 1 s long"));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let starts: Vec<(usize, usize)> = (0..queries_per_condition)
        .map(|_| {
            let t = long[rng.random_range(0..long.len())];
            (t, rng.random_range(0..=tracks[t].len() - QUERY_SAMPLES))
        })
        .collect();
    let conditions = validation_conditions();
    let mut query_segments = Vec::new();
    let mut embedded = Vec::new(); // per (condition, query): whether it gave a segment
    for condition in conditions {
        for &(t, start) in &starts {
            let distortion = augmenter.draw_condition(condition, &mut rng);
            let audio = augmenter.render(
                &distortion,
                &tracks[t],
                start as isize,
                QUERY_SAMPLES,
                &mut rng,
            );
            let s = segments_of(&audio, SEGMENT_HOP_FRAMES);
            embedded.push(!s.is_empty());
            query_segments.extend_from_slice(s.get(..seg_len).unwrap_or(&[]));
        }
    }
    let q = model.embed(&query_segments);

    // Top-1 by direct scan; the clean key of every start for the bucket comparison.
    let mut next = 0;
    let mut answers = Vec::with_capacity(embedded.len()); // Option<(row, key)>
    for &ok in &embedded {
        answers.push(ok.then(|| {
            let e = &q.embeddings[next * dim..(next + 1) * dim];
            let best = (0..owner.len())
                .map(|r| {
                    let row = &db.embeddings[r * dim..(r + 1) * dim];
                    (r, row.iter().zip(e).map(|(a, b)| a * b).sum::<f32>())
                })
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                .map_or(0, |(r, _)| r);
            let key = bucket_key(&q.logits[next * k..(next + 1) * k]);
            next += 1;
            (best, key)
        }));
    }
    let n = starts.len();
    let clean_keys: Vec<Option<u32>> = answers[..n].iter().map(|a| a.map(|(_, key)| key)).collect();
    let mut rates = Vec::new();
    let (mut same_total, mut distorted_total) = (0usize, 0usize);
    for (ci, &condition) in conditions.iter().enumerate() {
        let (mut strict, mut loose, mut track, mut same) = (0, 0, 0, 0);
        for (i, &(t, start)) in starts.iter().enumerate() {
            let Some((row, key)) = answers[ci * n + i] else {
                continue;
            };
            let (pt, ps) = owner[row];
            let error = (ps as f64 * GRID_S - start as f64 / f64::from(SAMPLE_RATE)).abs();
            track += usize::from(pt == t);
            loose += usize::from(pt == t && error <= LOOSE_S);
            strict += usize::from(pt == t && error <= STRICT_S);
            same += usize::from(clean_keys[i] == Some(key));
        }
        if condition != Condition::Clean {
            same_total += same;
            distorted_total += n;
        }
        let share = |count: usize| if n == 0 { 0.0 } else { count as f64 / n as f64 };
        rates.push(ConditionRates {
            condition,
            queries: n,
            strict: share(strict),
            loose: share(loose),
            track: share(track),
            same_bucket: share(same),
        });
    }
    let (nonempty, entropy_bits) = occupancy(&keys);
    Ok(Validation {
        conditions: rates,
        segments: owner.len(),
        k,
        nonempty_share: nonempty as f64 / (1u64 << k) as f64,
        entropy_bits,
        entropy_ceiling_bits: (k as f64).min((owner.len() as f64).log2()),
        same_bucket: if distorted_total == 0 {
            0.0
        } else {
            same_total as f64 / distorted_total as f64
        },
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Short column name of a condition: `clean`, `n0`, `n10`, `r0.5`, `nr10`.
fn short_name(c: Condition) -> String {
    match c {
        Condition::Clean => "clean".into(),
        Condition::Noise { snr_db } => format!("n{snr_db}"),
        Condition::Reverb { rt60_s } => format!("r{rt60_s}"),
        Condition::NoiseReverb { snr_db, .. } => format!("nr{snr_db}"),
    }
}

impl Validation {
    /// The CSV header matching [`Self::csv_row`]: per condition `strict_X,loose_X`, then
    /// `nonempty_share,entropy_bits,entropy_ceiling_bits,same_bucket,segments,seconds`.
    pub fn csv_header() -> String {
        let mut cols: Vec<String> = validation_conditions()
            .iter()
            .flat_map(|&c| {
                let name = short_name(c);
                [format!("strict_{name}"), format!("loose_{name}")]
            })
            .collect();
        cols.extend(
            [
                "nonempty_share",
                "entropy_bits",
                "entropy_ceiling_bits",
                "same_bucket",
                "segments",
                "seconds",
            ]
            .map(String::from),
        );
        cols.join(",")
    }

    /// The figures as one CSV row (shares in [0, 1]), no line break.
    pub fn csv_row(&self) -> String {
        let mut cols: Vec<String> = self
            .conditions
            .iter()
            .flat_map(|r| [format!("{:.4}", r.strict), format!("{:.4}", r.loose)])
            .collect();
        cols.push(format!("{:.5}", self.nonempty_share));
        cols.push(format!("{:.3}", self.entropy_bits));
        cols.push(format!("{:.3}", self.entropy_ceiling_bits));
        cols.push(format!("{:.4}", self.same_bucket));
        cols.push(self.segments.to_string());
        cols.push(format!("{:.2}", self.seconds));
        cols.join(",")
    }
}

impl fmt::Display for Validation {
    /// One line: strict/loose % per condition, bucket fill, entropy of its ceiling, same
    /// bucket %, time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "val")?;
        for r in &self.conditions {
            write!(
                f,
                " {} {:.0}/{:.0}",
                short_name(r.condition),
                100.0 * r.strict,
                100.0 * r.loose
            )?;
        }
        write!(
            f,
            " | buckets {:.1}% H {:.2}/{:.2} bits | same bucket {:.0}% | {} segs {:.1} s",
            100.0 * self.nonempty_share,
            self.entropy_bits,
            self.entropy_ceiling_bits,
            100.0 * self.same_bucket,
            self.segments,
            self.seconds
        )
    }
}

#[cfg(test)]
mod tests;
