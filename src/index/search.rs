//! Search: every query segment is matched against the library (hash-table probing, LSH or
//! an exhaustive scan), then the matches vote for an alignment ([`super::align`]).
//!
//! Per query segment (embedding e, hash logits q), with [`Method::HashTable`]: buckets are
//! probed in exactly decreasing score (`earmark_kernels::probe`) until `probe_budget`
//! buckets were probed or `candidate_budget` rows scored; each bucket's rows are one
//! contiguous block, scored by the SIMD dot scan and fed to a streaming top-k. The `top`
//! best rows are the segment's matches. [`Method::Exhaustive`] scans every row (the
//! accuracy ceiling); [`Method::Lsh`] scores the rows of its probed LSH buckets.
//!
//! Effort: eval% = rows whose similarity was computed / rows in the library, averaged over
//! the query segments (the paper's efficiency measure). The rescoring of a few alignments
//! afterwards ([`super::align`]) costs `rescore` × (1, or 3 to 5 with refinement) dot
//! products per query segment and is not counted, as in the paper.

use std::ops::Range;

use earmark_kernels::probe::{Probe, ProbeSlot, SplitProbe, SplitSlot, slots_for, split_slots_for};
use earmark_kernels::topk::{Scored, TopK};
use earmark_kernels::votes::{Candidate, Match, VoteTally};

use super::align::{Hit, align};
use super::library::{Library, QueryVector};
use super::lsh::{LshIndex, LshParams};
use crate::{Error, Result};

/// Which candidate search feeds the alignment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Learned hash codes: probe buckets in decreasing score (ours).
    HashTable,
    /// p-stable LSH with multi-probe on the same embeddings (baseline).
    Lsh(LshParams),
    /// Every row (baseline; the accuracy ceiling).
    Exhaustive,
}

/// Search settings. The defaults are justified in `benches/search.rs` (measured on
/// synthetic libraries) and in the field docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchSettings {
    /// Hash table: at most this many buckets probed per query segment (empty ones count).
    /// Default 256: on the benchmark's library (K = 16, 2·10^5 rows, ≈ 3 rows per bucket)
    /// it scores 0.48 % of the rows and finds the exhaustive search's best match for about
    /// half of the (hard, cosine ≈ 0.78) query segments, 4× fewer probes finding 30 %,
    /// 4× more 73 % at 3.7× the time; the alignment over all segments recovers the rest
    /// (every 2 s query was found at 64, 256 and 1024 probes).
    pub probe_budget: usize,
    /// Hash table and LSH: stop probing once this many rows were scored for a query
    /// segment (the bucket that crosses it is scanned whole). Default 4096 rows, ≈ 1 MB of
    /// f16 embeddings: it bounds the work where buckets are crowded (small K, large
    /// library) while rarely binding at the default probe budget.
    pub candidate_budget: usize,
    /// Matches kept per query segment (each votes for one alignment). Default 5.
    pub top: usize,
    /// Alignments (the best by votes) rescored by their mean aligned similarity. Default 5.
    pub rescore: usize,
    /// Refine the start below the segment grid ([`super::align`]). Default on.
    pub refine: bool,
    /// No match below this score (the mean aligned similarity, in [−1, 1]). Default
    /// [`MinScore::ByLength`], calibrated on the shipped model.
    pub min_score: MinScore,
}

/// The no-match threshold on a hit's score (its mean aligned similarity).
///
/// Longer queries need less: the mean over more segments of an unrelated query's best
/// similarities varies less. `earmark bench threshold` measures it for a model; for the
/// shipped model on its four held-out tracks (300 distorted queries of them and 300 of
/// unrelated music per length, SNR 0–20 dB and rooms), the smallest thresholds letting at
/// most 1 % of unrelated queries match were 0.80 at 1 s, 0.70 at 2 s, 0.65 at 3 s and
/// 0.50 at 5 s. `ByLength` is the curve 0.35 + 0.45/√L (0.80, 0.67, 0.61 and 0.55), drawn
/// through stages 3–6's 0.80, 0.65 and 0.60: at or above the points at 1 s and 5 s; at
/// 2 s and 3 s it lies between two measured thresholds, 0.65 and 0.70 (5 and 3 of 300
/// unrelated queries matched), 0.60 and 0.65 (5 and 1 of 300).
/// Held at its 5 s value for longer queries (not measured beyond).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MinScore {
    /// The same threshold at every query length (`earmark query --min-score X`).
    Fixed(f32),
    /// 0.35 + 0.45/√min(L, 5) for a query (or window) of L seconds.
    ByLength,
}

impl MinScore {
    /// No threshold: every alignment is kept (benchmarks and the paper's top-1 protocol).
    pub const NONE: MinScore = MinScore::Fixed(f32::NEG_INFINITY);

    /// Identity of the model [`MinScore::ByLength`] was calibrated on (the shipped
    /// `models/earmark-small.safetensors`; a test keeps the two in step). For any other
    /// model the curve is a guess: `earmark query` says so.
    pub const BY_LENGTH_MODEL: u64 = 0xccf9_5f8c_dade_6099;

    /// The threshold for a query of `seconds`.
    pub fn for_seconds(self, seconds: f64) -> f32 {
        match self {
            MinScore::Fixed(x) => x,
            MinScore::ByLength => {
                let length = seconds.clamp(super::SEGMENT_SECONDS, 5.0);
                (0.35 + 0.45 / length.sqrt()) as f32
            }
        }
    }
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            probe_budget: 256,
            candidate_budget: 4096,
            top: 5,
            rescore: 5,
            refine: true,
            min_score: MinScore::ByLength,
        }
    }
}

impl SearchSettings {
    /// No budget: the hash-table search probes every bucket (equals the exhaustive search).
    pub fn unlimited(self) -> Self {
        SearchSettings {
            probe_budget: usize::MAX,
            candidate_budget: usize::MAX,
            ..self
        }
    }
}

/// A query: its segments' embeddings (O × D) and hash logits (O × K), one segment every
/// `hop` frames (10 ms), `hop` a multiple of the library's.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    pub embeddings: &'a [f32],
    pub logits: &'a [f32],
    pub hop: u32,
}

/// The answer to one query (or one window of it).
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// Alignments scoring at least `min_score`, best first; empty means no match.
    pub hits: Vec<Hit>,
    /// Query segments searched.
    pub segments: usize,
    /// Rows scored per query segment, as a percentage of the library's rows.
    pub eval_percent: f64,
}

impl Answer {
    /// The best hit, if any passed the threshold.
    pub fn best(&self) -> Option<&Hit> {
        self.hits.first()
    }
}

/// Windows of a long query, for monitoring: a window of `length_s` seconds every
/// `every_s` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Windows {
    pub every_s: f64,
    pub length_s: f64,
}

/// The answer for one window; `offset_s` is where the window starts in the query.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowAnswer {
    pub offset_s: f64,
    pub answer: Answer,
}

enum Backend {
    HashTable,
    Lsh(LshIndex),
    Exhaustive,
}

/// Searches one library with one method.
pub struct Searcher<'a> {
    library: &'a Library,
    backend: Backend,
}

/// Every query segment's matches (best first), flattened: segment o's are
/// `matches[ends[o − 1]..ends[o]]`, see [`SegmentMatches::of`].
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentMatches {
    pub matches: Vec<Match>,
    pub ends: Vec<usize>,
    /// Rows scored per segment.
    pub scored: Vec<usize>,
}

impl SegmentMatches {
    /// Query segment `o`'s matches, best first.
    pub fn of(&self, o: usize) -> &[Match] {
        let start = if o == 0 { 0 } else { self.ends[o - 1] };
        &self.matches[start..self.ends[o]]
    }
}

/// Buffers reused across the segments of one query.
struct Scratch {
    sims: Vec<f32>,
    top: Vec<Scored>,
    probe: Vec<ProbeSlot>,
    split: Vec<SplitSlot>,
    rows: Vec<u32>,
}

/// Buckets (hash table) or rows (LSH) prefetched ahead of the one being scored: enough
/// loads in flight to cover a memory latency (measured in `earmark bench search`).
const LOOKAHEAD: usize = 8;

/// Rows prefetched per bucket: larger buckets are read in order, which the hardware
/// prefetcher follows on its own.
const PREFETCH_ROWS: usize = 8;

/// Probe budgets from which the hash table enumerates buckets with
/// [`SplitProbe`] rather than [`Probe`]: the split enumeration costs a few µs to set up and
/// then less per bucket (`cargo bench --bench kernels -- probe`).
const SPLIT_FROM_BUCKETS: usize = 256;

/// Rows per exhaustive scan call: 16 KiB of scores, kept in L1 for the top-k pass.
const EXHAUSTIVE_CHUNK: usize = 4096;

impl<'a> Searcher<'a> {
    /// A searcher over `library`; for [`Method::Lsh`] this builds the LSH tables (L·k
    /// scans of the library and L sorts).
    pub fn new(library: &'a Library, method: Method) -> Self {
        let backend = match method {
            Method::HashTable => Backend::HashTable,
            Method::Lsh(params) => Backend::Lsh(LshIndex::build(library, params)),
            Method::Exhaustive => Backend::Exhaustive,
        };
        Searcher { library, backend }
    }

    pub fn library(&self) -> &'a Library {
        self.library
    }

    pub fn method(&self) -> Method {
        match &self.backend {
            Backend::HashTable => Method::HashTable,
            Backend::Lsh(index) => Method::Lsh(*index.params()),
            Backend::Exhaustive => Method::Exhaustive,
        }
    }

    /// Searches the whole query as one: track, start, score and votes of the best
    /// alignments. Errors (`Error::Invalid`) if the query's hop is not a multiple of the
    /// library's or a value is not finite; panics if the query's shapes disagree with the
    /// library's D and K.
    pub fn search(&self, query: &Query, settings: &SearchSettings) -> Result<Answer> {
        let stride = self.check(query)?;
        let prepared = self.prepare(query);
        let matched = self.match_prepared(query, &prepared, settings);
        Ok(self.answer(&prepared, stride, &matched, 0..prepared.len(), settings))
    }

    /// Searches a long query window by window (monitoring): one answer per window of
    /// `windows.length_s` seconds every `windows.every_s` seconds, each window aligned on
    /// its own. Every segment is matched once, whichever windows share it. Windows lie
    /// wholly inside the query; a query shorter than one window is one window.
    pub fn search_windows(
        &self,
        query: &Query,
        windows: Windows,
        settings: &SearchSettings,
    ) -> Result<Vec<WindowAnswer>> {
        let stride = self.check(query)?;
        let ranges = window_ranges(self.segments(query), query.hop, windows)?;
        let prepared = self.prepare(query);
        let matched = self.match_prepared(query, &prepared, settings);
        Ok(ranges
            .into_iter()
            .map(|(offset_s, range)| WindowAnswer {
                offset_s,
                answer: self.answer(&prepared, stride, &matched, range, settings),
            })
            .collect())
    }

    /// Checks a query's values and hop; returns the library segments per query segment.
    fn check(&self, query: &Query) -> Result<u32> {
        if query
            .embeddings
            .iter()
            .chain(query.logits)
            .any(|x| !x.is_finite())
        {
            return Err(Error::invalid(
                "the query has a non-finite embedding or hash logit",
            ));
        }
        let hop = self.library.config().hop;
        if query.hop == 0 || !query.hop.is_multiple_of(hop) {
            return Err(Error::invalid(format!(
                "query segments every {} frames, not a multiple of the library's {hop}",
                query.hop
            )));
        }
        Ok(query.hop / hop)
    }

    fn segments(&self, query: &Query) -> usize {
        let c = self.library.config();
        let (dim, k) = (c.dim as usize, c.k as usize);
        let n = query.embeddings.len() / dim;
        assert!(
            query.embeddings.len() == n * dim && query.logits.len() == n * k,
            "Searcher::search: query embeddings [{}] is not O × {dim} or logits [{}] is not O × {k}",
            query.embeddings.len(),
            query.logits.len()
        );
        n
    }

    /// The query's segment embeddings, prepared for scoring. Panics on a shape mismatch.
    fn prepare(&self, query: &Query) -> Vec<QueryVector> {
        self.segments(query);
        QueryVector::each(query.embeddings, self.library.config().dim as usize)
    }

    /// Aligns the segments `range` of a matched query (`prepared`: all its segments).
    fn answer(
        &self,
        prepared: &[QueryVector],
        stride: u32,
        matched: &SegmentMatches,
        range: std::ops::Range<usize>,
        settings: &SearchSettings,
    ) -> Answer {
        let votes: usize = range.clone().map(|o| matched.of(o).len()).sum();
        let mut buffer = vec![Candidate::EMPTY; votes];
        let mut tally = VoteTally::new(&mut buffer);
        for (o, segment) in range.clone().enumerate() {
            // Query segment o (of the window) lines up with library segment start + r·o,
            // r = `stride`.
            tally.add(o as u32 * stride, matched.of(segment));
        }
        let hits = align(
            self.library,
            &prepared[range.clone()],
            stride,
            tally.tally(),
            settings,
        );
        let scored: usize = range.clone().map(|o| matched.scored[o]).sum();
        let rows = self.library.rows().max(1) as f64;
        Answer {
            hits,
            segments: range.len(),
            eval_percent: if range.is_empty() {
                0.0
            } else {
                100.0 * scored as f64 / (range.len() as f64 * rows)
            },
        }
    }

    /// Every query segment's `top` matches and the rows scored for it, before alignment
    /// (for diagnostics: recall against the exhaustive search, effort per segment).
    /// Panics if the query's shapes disagree with the library's D and K, or (hash table)
    /// if a logit is not finite, or if an embedding value is not finite.
    pub fn matches(&self, query: &Query, settings: &SearchSettings) -> SegmentMatches {
        self.match_prepared(query, &self.prepare(query), settings)
    }

    /// [`Searcher::matches`] with the query's segments already prepared.
    fn match_prepared(
        &self,
        query: &Query,
        prepared: &[QueryVector],
        settings: &SearchSettings,
    ) -> SegmentMatches {
        let n = prepared.len();
        let c = self.library.config();
        let k = c.k as usize;
        // Small budgets use the heap enumeration (no set-up); larger ones the split one.
        let use_split = settings.probe_budget >= SPLIT_FROM_BUCKETS;
        let (probe_slots, split_slots) = match self.backend {
            Backend::HashTable if use_split => (0, split_slots_for(k)),
            Backend::HashTable => (slots_for(settings.probe_budget.min(c.buckets())), 0),
            _ => (0, 0),
        };
        let mut scratch = Scratch {
            sims: Vec::new(),
            top: vec![(0.0, 0); settings.top],
            probe: vec![ProbeSlot::EMPTY; probe_slots],
            split: vec![SplitSlot::EMPTY; split_slots],
            rows: Vec::new(),
        };
        let mut out = SegmentMatches {
            matches: Vec::with_capacity(n * settings.top),
            ends: Vec::with_capacity(n),
            scored: Vec::with_capacity(n),
        };
        for (o, e) in prepared.iter().enumerate() {
            let q = &query.logits[o * k..(o + 1) * k];
            let Scratch {
                sims,
                top,
                probe,
                split,
                rows,
            } = &mut scratch;
            let mut best = TopK::new(top);
            let scored = match &self.backend {
                Backend::HashTable if !split.is_empty() => {
                    let buckets = SplitProbe::new(q, split);
                    self.probe_buckets(e, buckets, settings, sims, &mut best)
                }
                Backend::HashTable => {
                    let buckets = Probe::new(q, probe);
                    self.probe_buckets(e, buckets, settings, sims, &mut best)
                }
                Backend::Lsh(index) => self.score_lsh(index, e, settings, rows, sims, &mut best),
                Backend::Exhaustive => self.scan_all(e, sims, &mut best),
            };
            for &(similarity, row) in best.into_sorted().iter() {
                let (track, segment) = self.library.locate(row as usize);
                out.matches.push(Match {
                    track: track as u32,
                    segment: segment as u32,
                    similarity,
                });
            }
            out.ends.push(out.matches.len());
            out.scored.push(scored);
        }
        out
    }

    /// Hash table: buckets in decreasing score until a budget is spent; returns the rows
    /// scored.
    ///
    /// The buckets' rows lie scattered over the library, and the next bucket is only known
    /// after a heap step, so scoring one bucket after another would wait a full memory
    /// latency for each. Instead the next [`LOOKAHEAD`] non-empty buckets are found and
    /// their rows prefetched before the current one is scored.
    fn probe_buckets(
        &self,
        e: &QueryVector,
        buckets: impl Iterator<Item = (u32, f32)>,
        settings: &SearchSettings,
        sims: &mut Vec<f32>,
        best: &mut TopK,
    ) -> usize {
        let library = self.library;
        let mut buckets = buckets
            .take(settings.probe_budget)
            .map(|(key, _score)| library.bucket(key))
            .filter(|rows| !rows.is_empty());
        let mut fetch = |slot: &mut Option<Range<usize>>| {
            *slot = buckets.next();
            if let Some(rows) = slot {
                library.prefetch_rows(rows.start..rows.end.min(rows.start + PREFETCH_ROWS));
            }
        };
        // Bucket i waits in slot i mod LOOKAHEAD; once a slot comes back empty, so do all
        // later ones (the enumeration has ended).
        let mut ahead: [Option<Range<usize>>; LOOKAHEAD] = Default::default();
        ahead.iter_mut().for_each(&mut fetch);
        let mut scored = 0;
        for i in (0..LOOKAHEAD).cycle() {
            if scored >= settings.candidate_budget {
                break;
            }
            let Some(rows) = ahead[i].take() else { break };
            fetch(&mut ahead[i]);
            sims.resize(rows.len(), 0.0);
            library.score_rows(e, rows.clone(), sims);
            best.push_scores(sims, rows.start as u32);
            scored += rows.len();
        }
        scored
    }

    /// LSH: the rows of the probed LSH buckets, each scored once, in row order (each
    /// prefetched [`LOOKAHEAD`] rows before it is scored, as the hash table's are).
    fn score_lsh(
        &self,
        index: &LshIndex,
        e: &QueryVector,
        settings: &SearchSettings,
        rows: &mut Vec<u32>,
        sims: &mut Vec<f32>,
        best: &mut TopK,
    ) -> usize {
        rows.clear();
        index.candidates(e.values(), settings.candidate_budget, rows);
        rows.sort_unstable();
        rows.dedup();
        let library = self.library;
        let prefetch = |row: u32| library.prefetch_rows(row as usize..row as usize + 1);
        rows.iter().take(LOOKAHEAD).copied().for_each(prefetch);
        sims.clear();
        sims.extend(rows.iter().enumerate().map(|(i, &row)| {
            if let Some(&later) = rows.get(i + LOOKAHEAD) {
                prefetch(later);
            }
            library.score_row(e, row as usize)
        }));
        best.push_scores_with_ids(sims, rows);
        rows.len()
    }

    /// Exhaustive: every row, in chunks.
    fn scan_all(&self, e: &QueryVector, sims: &mut Vec<f32>, best: &mut TopK) -> usize {
        let n = self.library.rows();
        sims.resize(EXHAUSTIVE_CHUNK.min(n), 0.0);
        for start in (0..n).step_by(EXHAUSTIVE_CHUNK) {
            let end = (start + EXHAUSTIVE_CHUNK).min(n);
            let out = &mut sims[..end - start];
            self.library.score_rows(e, start..end, out);
            best.push_scores(out, start as u32);
        }
        n
    }
}

/// Segment ranges and start times (seconds into the query) of the windows of a query of
/// `segments` segments every `hop` frames. A segment belongs to a window if its whole
/// second of audio lies inside.
fn window_ranges(
    segments: usize,
    hop: u32,
    windows: Windows,
) -> Result<Vec<(f64, std::ops::Range<usize>)>> {
    use super::{FRAME_SECONDS, SEGMENT_SECONDS};
    let Windows { every_s, length_s } = windows;
    if !(every_s > 0.0
        && length_s >= SEGMENT_SECONDS
        && every_s.is_finite()
        && length_s.is_finite())
    {
        return Err(Error::invalid(format!(
            "windows of {length_s} s every {every_s} s: need every > 0 and a length of at least {SEGMENT_SECONDS} s"
        )));
    }
    let step = f64::from(hop) * FRAME_SECONDS;
    // Tolerance for times that are whole multiples of the hop up to rounding.
    let eps = 1e-6;
    let duration = super::span_seconds(segments, step);
    let mut out = Vec::new();
    for w in 0.. {
        let start = w as f64 * every_s;
        if start + length_s > duration + eps {
            break;
        }
        let first = ((start / step) - eps).ceil() as usize;
        let end = (((start + length_s - SEGMENT_SECONDS) / step + eps).floor() as usize + 1)
            .min(segments);
        out.push((start, first..end));
    }
    if out.is_empty() && segments > 0 {
        out.push((0.0, 0..segments));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_whole_seconds_inside_the_query() {
        // 100 ms hop: 5 s of audio = 41 segments. Windows of 2 s every 1 s.
        let w = Windows {
            every_s: 1.0,
            length_s: 2.0,
        };
        let ranges = window_ranges(41, 10, w).unwrap();
        let starts: Vec<f64> = ranges.iter().map(|r| r.0).collect();
        assert_eq!(starts, vec![0.0, 1.0, 2.0, 3.0]);
        // A 2 s window holds 11 segments: starts at 0.0, 0.1, ..., 1.0 s.
        assert_eq!(ranges[0].1, 0..11);
        assert_eq!(ranges[3].1, 30..41);
        // Shorter than a window: one window over everything.
        assert_eq!(window_ranges(5, 10, w).unwrap(), vec![(0.0, 0..5)]);
        assert!(window_ranges(0, 10, w).unwrap().is_empty());
        assert!(
            window_ranges(
                41,
                10,
                Windows {
                    every_s: 0.0,
                    length_s: 2.0
                }
            )
            .is_err()
        );
        assert!(
            window_ranges(
                41,
                10,
                Windows {
                    every_s: 1.0,
                    length_s: 0.5
                }
            )
            .is_err()
        );
    }
}
