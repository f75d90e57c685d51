//! Subsequence alignment: from per-segment matches to track + start time.
//!
//! 1. Votes (`earmark_kernels::votes`): query segment o matched to segment i of track t
//!    votes for (t, start = i − r·o), r = library segments per query segment (1 when the
//!    query and library hops agree). Most votes first, ties by summed similarity.
//! 2. Rescoring: the best `rescore` alignments are scored by their mean aligned
//!    similarity over all O query segments, f(t, s) = (1/O) Σ_o e_o · e_{t, s + r·o}, exact
//!    dot products looked up through the (track, segment) → row map. An alignment never
//!    reads across a track boundary: a position before the track's start or past its end
//!    (a query that begins before the track, or runs past it, as a monitoring window
//!    spanning two tracks does) contributes similarity 0, so hanging off a track costs
//!    score in proportion. Starts may be negative.
//! 3. Refinement (optional): the grid is one library hop (100 ms) and a hit must be within
//!    ±50 ms, so a start between two grid points should be found. First the start moves to
//!    a better neighbour while f improves (at most [`MAX_CLIMB`] steps: the votes are
//!    sometimes a step off when consecutive segments look alike), then a parabola through
//!    f(s − 1), f(s), f(s + 1) places the peak at s + δ,
//!    δ = (f(s−1) − f(s+1)) / (2 (f(s−1) − 2 f(s) + f(s+1))), clamped to ±½ step (δ = 0
//!    if the three points do not bend down).
//! 4. The rescored alignments are ranked by score (ties: votes), duplicates dropped, and
//!    those below `min_score` (for the query's length, [`super::MinScore`]) removed.

use earmark_kernels::votes::Candidate;

use super::library::{Library, QueryVector};
use super::search::SearchSettings;

/// Most grid steps the refinement moves a start towards a better neighbour.
pub const MAX_CLIMB: usize = 2;

/// One alignment of the query on a track.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// Index of the track in [`Library::tracks`].
    pub track: usize,
    /// Library segment aligned with query segment 0 (grid steps of the library's hop; may
    /// be negative if the query begins before the track).
    pub start: i64,
    /// Sub-grid correction in grid steps, within ±0.5 (0 without refinement).
    pub offset: f32,
    /// Start time in the track, seconds: (start + offset) × hop × 10 ms.
    pub start_s: f64,
    /// Mean aligned similarity at `start` over all query segments.
    pub score: f32,
    /// Query segments whose matches voted for `start`.
    pub votes: u32,
}

/// Mean aligned similarity of the query (its O segments' embeddings) placed at library
/// segment `start` of `track`, query segment o at `start + stride·o`; positions off the
/// track count 0.
pub fn aligned_similarity(
    library: &Library,
    query: &[QueryVector],
    stride: u32,
    track: usize,
    start: i64,
) -> f32 {
    let n = query.len();
    if n == 0 {
        return 0.0;
    }
    let mut sum = 0.0;
    for (o, e) in query.iter().enumerate() {
        let position = start + i64::from(stride) * o as i64;
        let row = usize::try_from(position)
            .ok()
            .and_then(|segment| library.row(track, segment));
        if let Some(row) = row {
            sum += library.score_row(e, row);
        }
    }
    sum / n as f32
}

/// The vertex of the parabola through (−1, before), (0, at), (1, after), clamped to ±½;
/// 0 if the points do not bend down.
pub fn parabola_peak(before: f32, at: f32, after: f32) -> f32 {
    let curvature = before - 2.0 * at + after;
    if curvature < 0.0 {
        (0.5 * (before - after) / curvature).clamp(-0.5, 0.5)
    } else {
        0.0
    }
}

/// Turns tallied votes (best first) into hits (see the module docs).
pub(crate) fn align(
    library: &Library,
    query: &[QueryVector],
    stride: u32,
    candidates: &[Candidate],
    settings: &SearchSettings,
) -> Vec<Hit> {
    let hop_s = library.config().hop_seconds();
    let f = |track: usize, start: i64| aligned_similarity(library, query, stride, track, start);
    let votes_for = |track: usize, start: i64| {
        candidates
            .iter()
            .find(|c| c.track as usize == track && c.start == start)
            .map_or(0, |c| c.votes)
    };
    let mut hits: Vec<Hit> = Vec::with_capacity(settings.rescore);
    for candidate in candidates.iter().take(settings.rescore) {
        let track = candidate.track as usize;
        let mut start = candidate.start;
        let mut score = f(track, start);
        let mut offset = 0.0;
        if settings.refine {
            let (mut before, mut after) = (f(track, start - 1), f(track, start + 1));
            for _ in 0..MAX_CLIMB {
                if before > score && before >= after {
                    (after, score) = (score, before);
                    start -= 1;
                    before = f(track, start - 1);
                } else if after > score {
                    (before, score) = (score, after);
                    start += 1;
                    after = f(track, start + 1);
                } else {
                    break;
                }
            }
            offset = parabola_peak(before, score, after);
        }
        if hits.iter().any(|h| h.track == track && h.start == start) {
            continue;
        }
        let votes = if start == candidate.start {
            candidate.votes
        } else {
            votes_for(track, start)
        };
        let start_s = (start as f64 + f64::from(offset)) * hop_s;
        hits.push(Hit {
            track,
            start,
            offset,
            start_s,
            score,
            votes,
        });
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.votes.cmp(&a.votes)));
    let seconds = super::span_seconds(query.len(), f64::from(stride) * hop_s);
    let min_score = settings.min_score.for_seconds(seconds);
    hits.retain(|h| h.score >= min_score);
    hits
}
