//! Scoring: a query's audio through the model and a [`Searcher`], and the verdict against
//! its ground truth (DESIGN.md §6: hit = right track and start within ±50 ms).

use std::time::Instant;

use crate::Result;
use crate::index::{Library, SearchSettings, Searcher};
use crate::model::Model;

/// The paper's criterion: |predicted start − true start| ≤ 50 ms.
pub const STRICT_S: f64 = 0.05;

/// A looser window, ±150 ms (the neighbouring 100 ms segments), to show how many misses
/// are near misses.
pub const LOOSE_S: f64 = 0.15;

/// Tolerance (s) on the window edges for floating-point noise in start times.
const EDGE_S: f64 = 1e-9;

/// What the search answered for one query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The best hit: library track index and start (s); `None` for no match (below the
    /// score threshold, or audio too short or silent to embed).
    pub hit: Option<(usize, f64)>,
    /// The best hit's score (mean aligned similarity), 0 without a hit.
    pub score: f32,
    /// Rows scored per query segment, % of the library.
    pub eval_percent: f64,
    /// Wall time of the embedding (log-mel + encoder), ms.
    pub embed_ms: f64,
    /// Wall time of the search (matching + alignment), ms.
    pub search_ms: f64,
}

/// Whether an answer counts as a hit, three ways.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The right track.
    pub track: bool,
    /// The right track and the start within ±[`LOOSE_S`].
    pub loose: bool,
    /// The right track and the start within ±[`STRICT_S`] (the paper's hit).
    pub strict: bool,
}

/// Judges a predicted (track, start s) against the truth. `true_track` is `None` when the
/// truth names a track that is not in the library: every answer is then a miss.
pub fn judge(
    true_track: Option<usize>,
    true_start_s: f64,
    predicted: Option<(usize, f64)>,
) -> Verdict {
    match (true_track, predicted) {
        (Some(t), Some((p, start_s))) if t == p => {
            let error = (start_s - true_start_s).abs();
            Verdict {
                track: true,
                loose: error <= LOOSE_S + EDGE_S,
                strict: error <= STRICT_S + EDGE_S,
            }
        }
        _ => Verdict::default(),
    }
}

/// Embeds `audio` (16 kHz mono) at the library's hop and searches it. Audio the model
/// cannot embed (shorter than a segment, silent) is answered with no match rather than an
/// error, as a deployed system would; search errors are returned.
pub fn answer_query(
    model: &Model,
    searcher: &Searcher,
    settings: &SearchSettings,
    audio: &[f32],
) -> Result<Outcome> {
    let hop = searcher.library().config().hop;
    let started = Instant::now();
    let embedded = model.embed_audio(audio, hop as usize);
    let embed_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut outcome = Outcome {
        hit: None,
        score: 0.0,
        eval_percent: 0.0,
        embed_ms,
        search_ms: 0.0,
    };
    let Ok(e) = embedded else {
        return Ok(outcome);
    };
    if e.n == 0 {
        return Ok(outcome);
    }
    let query = crate::index::Query {
        embeddings: &e.embeddings,
        logits: &e.logits,
        hop,
    };
    let started = Instant::now();
    let answer = searcher.search(&query, settings)?;
    outcome.search_ms = started.elapsed().as_secs_f64() * 1e3;
    outcome.eval_percent = answer.eval_percent;
    if let Some(best) = answer.best() {
        outcome.hit = Some((best.track, best.start_s));
        outcome.score = best.score;
    }
    Ok(outcome)
}

/// The library index of a truth's track path, if the library holds it.
pub fn track_index(library: &Library, path: &str) -> Option<usize> {
    library.find(path)
}

/// Sums over the queries of one table cell (or one row of cells).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cell {
    pub queries: usize,
    pub strict: usize,
    pub loose: usize,
    pub track: usize,
    pub eval_percent_sum: f64,
    pub embed_ms_sum: f64,
    pub search_ms_sum: f64,
}

impl Cell {
    /// Adds one judged query.
    pub fn add(&mut self, verdict: Verdict, outcome: &Outcome) {
        self.queries += 1;
        self.strict += usize::from(verdict.strict);
        self.loose += usize::from(verdict.loose);
        self.track += usize::from(verdict.track);
        self.eval_percent_sum += outcome.eval_percent;
        self.embed_ms_sum += outcome.embed_ms;
        self.search_ms_sum += outcome.search_ms;
    }

    /// Adds another cell's sums.
    pub fn merge(&mut self, other: &Cell) {
        self.queries += other.queries;
        self.strict += other.strict;
        self.loose += other.loose;
        self.track += other.track;
        self.eval_percent_sum += other.eval_percent_sum;
        self.embed_ms_sum += other.embed_ms_sum;
        self.search_ms_sum += other.search_ms_sum;
    }

    fn rate(&self, count: usize) -> f64 {
        if self.queries == 0 {
            f64::NAN
        } else {
            100.0 * count as f64 / self.queries as f64
        }
    }

    fn mean(&self, sum: f64) -> f64 {
        if self.queries == 0 {
            f64::NAN
        } else {
            sum / self.queries as f64
        }
    }

    /// Strict hit rate, % (NaN for no queries).
    pub fn strict_percent(&self) -> f64 {
        self.rate(self.strict)
    }

    /// Loose hit rate, %.
    pub fn loose_percent(&self) -> f64 {
        self.rate(self.loose)
    }

    /// Track-only hit rate, %.
    pub fn track_percent(&self) -> f64 {
        self.rate(self.track)
    }

    /// Mean eval%, per query.
    pub fn eval_percent(&self) -> f64 {
        self.mean(self.eval_percent_sum)
    }

    /// Mean search time, ms per query.
    pub fn search_ms(&self) -> f64 {
        self.mean(self.search_ms_sum)
    }

    /// Mean embedding time, ms per query.
    pub fn embed_ms(&self) -> f64 {
        self.mean(self.embed_ms_sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_windows_are_inclusive_and_need_the_right_track() {
        let at = |p: Option<(usize, f64)>| judge(Some(3), 10.0, p);
        let all = Verdict {
            track: true,
            loose: true,
            strict: true,
        };
        assert_eq!(at(Some((3, 10.0))), all);
        assert_eq!(at(Some((3, 10.05))), all);
        assert_eq!(at(Some((3, 9.95))), all);
        let loose = Verdict {
            track: true,
            loose: true,
            strict: false,
        };
        assert_eq!(at(Some((3, 10.051))), loose);
        assert_eq!(at(Some((3, 9.85))), loose);
        let track = Verdict {
            track: true,
            loose: false,
            strict: false,
        };
        assert_eq!(at(Some((3, 10.151))), track);
        assert_eq!(at(Some((3, 42.0))), track);
        assert_eq!(at(Some((2, 10.0))), Verdict::default());
        assert_eq!(at(None), Verdict::default());
        assert_eq!(judge(None, 10.0, Some((3, 10.0))), Verdict::default());
    }

    #[test]
    fn cells_count_rates_and_means() {
        let outcome = |ms: f64| Outcome {
            hit: None,
            score: 0.0,
            eval_percent: 2.0 * ms,
            embed_ms: 1.0,
            search_ms: ms,
        };
        let mut a = Cell::default();
        assert!(a.strict_percent().is_nan());
        a.add(judge(Some(0), 1.0, Some((0, 1.02))), &outcome(1.0));
        a.add(judge(Some(0), 1.0, Some((0, 1.10))), &outcome(3.0));
        let mut b = Cell::default();
        b.add(judge(Some(0), 1.0, Some((1, 1.0))), &outcome(2.0));
        b.add(judge(Some(0), 1.0, Some((0, 5.0))), &outcome(2.0));
        a.merge(&b);
        assert_eq!((a.queries, a.strict, a.loose, a.track), (4, 1, 2, 3));
        assert_eq!(a.strict_percent(), 25.0);
        assert_eq!(a.loose_percent(), 50.0);
        assert_eq!(a.track_percent(), 75.0);
        assert_eq!(a.search_ms(), 2.0);
        assert_eq!(a.eval_percent(), 4.0);
        assert_eq!(a.embed_ms(), 1.0);
    }
}
