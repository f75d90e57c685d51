//! Vote accumulation for subsequence alignment.
//!
//! Query segment o (every 100 ms of the query) that matches database segment i of a track
//! votes for the alignment (track, start = i − o); the start may be negative (the query
//! began before the track, or the match is wrong). The alignment with the most votes wins,
//! ties broken by the larger summed similarity, then by the lower track and start so that
//! the order is total. Votes never mix tracks.
//!
//! Sort-based, on a caller buffer with one slot per vote: [`VoteTally::add`] records
//! votes in O(1) each; [`VoteTally::tally`] sorts them by (track, start) in O(V log V)
//! (core's in-place unstable sort on one u128 key: no allocation), merges equal
//! alignments in one O(V) pass and ranks the C distinct alignments in O(C log C). The
//! summed similarity does not depend on the order votes were added: within an alignment
//! they are summed in ascending similarity.

use core::cmp::Ordering;

/// A query segment's match: a database segment (track, segment number) and its similarity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Match {
    pub track: u32,
    /// The database segment number within the track (100 ms steps).
    pub segment: u32,
    pub similarity: f32,
}

/// An alignment of the query on a track: a single vote, or after [`VoteTally::tally`] all
/// votes for it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub track: u32,
    /// Database segment number aligned with query segment 0 (100 ms steps; may be < 0).
    pub start: i64,
    pub votes: u32,
    /// Sum of the similarities of the votes.
    pub similarity: f32,
}

impl Candidate {
    /// A placeholder to initialise vote buffers with.
    pub const EMPTY: Candidate = Candidate {
        track: 0,
        start: 0,
        votes: 0,
        similarity: 0.0,
    };

    /// Rank order: more votes, then larger summed similarity, then lower track and start.
    fn rank(&self, other: &Candidate) -> Ordering {
        other
            .votes
            .cmp(&self.votes)
            .then(other.similarity.total_cmp(&self.similarity))
            .then(self.alignment().cmp(&other.alignment()))
    }

    fn alignment(&self) -> (u32, i64) {
        (self.track, self.start)
    }

    /// One integer ordering votes by (track, start, similarity): a single u128 compare per
    /// step of the sort. Bits 96..128: track; 32..66: start + 2^32 (a vote's start is
    /// segment − o with both u32, so it lies in (−2^32, 2^32)); 0..32: the similarity's
    /// bits mapped to an unsigned order (as `f32::total_cmp`).
    fn vote_key(&self) -> u128 {
        let start = (self.start + (1 << 32)) as u128;
        let bits = self.similarity.to_bits();
        let similarity = if bits >> 31 == 1 {
            !bits
        } else {
            bits | 1 << 31
        };
        u128::from(self.track) << 96 | start << 32 | u128::from(similarity)
    }
}

impl Default for Candidate {
    fn default() -> Candidate {
        Candidate::EMPTY
    }
}

/// Votes collected in a caller buffer with one slot per vote.
pub struct VoteTally<'a> {
    buffer: &'a mut [Candidate],
    len: usize,
}

impl<'a> VoteTally<'a> {
    /// An empty tally holding up to `buffer.len()` votes.
    pub fn new(buffer: &'a mut [Candidate]) -> VoteTally<'a> {
        VoteTally { buffer, len: 0 }
    }

    /// Votes recorded so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no vote was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Votes that still fit.
    pub fn remaining(&self) -> usize {
        self.buffer.len() - self.len
    }

    /// Records one vote per match of query segment `query_segment` (o): for (track,
    /// segment − o). A segment's matches should be distinct database segments.
    ///
    /// Panics if the buffer cannot hold them all.
    pub fn add(&mut self, query_segment: u32, matches: &[Match]) {
        assert!(
            matches.len() <= self.remaining(),
            "VoteTally::add: {} matches but room for {} more votes (buffer {})",
            matches.len(),
            self.remaining(),
            self.buffer.len()
        );
        let slots = &mut self.buffer[self.len..self.len + matches.len()];
        for (slot, m) in slots.iter_mut().zip(matches) {
            *slot = Candidate {
                track: m.track,
                start: i64::from(m.segment) - i64::from(query_segment),
                votes: 1,
                similarity: m.similarity,
            };
        }
        self.len += matches.len();
    }

    /// Merges the votes per alignment and returns the distinct alignments best first, in
    /// place at the start of the buffer.
    pub fn tally(self) -> &'a mut [Candidate] {
        let votes = &mut self.buffer[..self.len];
        votes.sort_unstable_by_key(Candidate::vote_key);
        let mut distinct = 0;
        for i in 0..votes.len() {
            let vote = votes[i];
            if distinct > 0 && votes[distinct - 1].alignment() == vote.alignment() {
                let merged = &mut votes[distinct - 1];
                merged.votes += vote.votes;
                merged.similarity += vote.similarity;
            } else {
                votes[distinct] = vote;
                distinct += 1;
            }
        }
        let candidates = &mut votes[..distinct];
        candidates.sort_unstable_by(Candidate::rank);
        candidates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    fn random_matches(
        rng: &mut Rng,
        segments: u32,
        per_segment: usize,
        integer: bool,
    ) -> Vec<Vec<Match>> {
        (0..segments)
            .map(|_| {
                (0..per_segment)
                    .map(|_| Match {
                        track: rng.int(0, 3) as u32,
                        segment: rng.int(0, 40) as u32,
                        similarity: if integer {
                            rng.int(-2, 6) as f32
                        } else {
                            rng.unit()
                        },
                    })
                    .collect()
            })
            .collect()
    }

    fn tally_all(matches: &[Vec<Match>]) -> Vec<Candidate> {
        let mut buffer = std::vec![Candidate::EMPTY; matches.iter().map(Vec::len).sum()];
        let mut tally = VoteTally::new(&mut buffer);
        for (o, m) in matches.iter().enumerate() {
            tally.add(o as u32, m);
        }
        tally.tally().to_vec()
    }

    #[test]
    fn matches_a_naive_map_count() {
        let mut rng = Rng::new(31);
        for (segments, per_segment) in [(0, 0), (1, 1), (10, 5), (50, 30)] {
            // Integer similarities: every summation order gives the same sums.
            let matches = random_matches(&mut rng, segments, per_segment, true);
            let mut naive: BTreeMap<(u32, i64), (u32, f32)> = BTreeMap::new();
            for (o, ms) in matches.iter().enumerate() {
                for m in ms {
                    let entry = naive
                        .entry((m.track, i64::from(m.segment) - o as i64))
                        .or_insert((0, 0.0));
                    entry.0 += 1;
                    entry.1 += m.similarity;
                }
            }
            let mut want: Vec<Candidate> = naive
                .into_iter()
                .map(|((track, start), (votes, similarity))| Candidate {
                    track,
                    start,
                    votes,
                    similarity,
                })
                .collect();
            want.sort_by(|a, b| {
                (b.votes, b.similarity)
                    .partial_cmp(&(a.votes, a.similarity))
                    .unwrap()
                    .then((a.track, a.start).cmp(&(b.track, b.start)))
            });
            assert_eq!(tally_all(&matches), want, "{segments} × {per_segment}");
        }
    }

    #[test]
    fn result_does_not_depend_on_vote_order() {
        let mut rng = Rng::new(32);
        let matches = random_matches(&mut rng, 20, 10, false);
        let reversed: Vec<Vec<Match>> = matches
            .iter()
            .map(|m| m.iter().rev().copied().collect())
            .collect();
        let (a, b) = (tally_all(&matches), tally_all(&reversed));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                (x.track, x.start, x.votes, x.similarity.to_bits()),
                (y.track, y.start, y.votes, y.similarity.to_bits())
            );
        }
    }

    #[test]
    fn negative_starts_and_ties() {
        let mut buffer = [Candidate::EMPTY; 4];
        let mut tally = VoteTally::new(&mut buffer);
        tally.add(
            0,
            &[Match {
                track: 1,
                segment: 0,
                similarity: 0.5,
            }],
        );
        tally.add(
            2,
            &[
                Match {
                    track: 1,
                    segment: 1,
                    similarity: 0.5,
                },
                Match {
                    track: 0,
                    segment: 9,
                    similarity: 0.25,
                },
            ],
        );
        tally.add(
            3,
            &[Match {
                track: 1,
                segment: 2,
                similarity: 0.25,
            }],
        );
        assert_eq!(
            tally.tally(),
            &[
                Candidate {
                    track: 1,
                    start: -1,
                    votes: 2,
                    similarity: 0.75
                },
                Candidate {
                    track: 1,
                    start: 0,
                    votes: 1,
                    similarity: 0.5
                },
                Candidate {
                    track: 0,
                    start: 7,
                    votes: 1,
                    similarity: 0.25
                },
            ]
        );
    }

    #[test]
    fn vote_key_orders_like_the_tuple() {
        let extreme = (1i64 << 32) - 1;
        let mut votes = std::vec::Vec::new();
        for track in [0, 1, u32::MAX] {
            for start in [-extreme, -1, 0, 1, extreme] {
                for similarity in [
                    f32::NEG_INFINITY,
                    -1.5,
                    -0.0,
                    0.0,
                    1e-30,
                    2.0,
                    f32::INFINITY,
                ] {
                    votes.push(Candidate {
                        track,
                        start,
                        votes: 1,
                        similarity,
                    });
                }
            }
        }
        let mut by_key = votes.clone();
        by_key.sort_by_key(Candidate::vote_key);
        votes.sort_by(|a, b| {
            a.alignment()
                .cmp(&b.alignment())
                .then(a.similarity.total_cmp(&b.similarity))
        });
        assert_eq!(by_key, votes);
    }

    #[test]
    #[should_panic(expected = "VoteTally::add: 2 matches but room for 1 more votes (buffer 1)")]
    fn overflow_panics() {
        let mut buffer = [Candidate::EMPTY; 1];
        let m = Match {
            track: 0,
            segment: 0,
            similarity: 1.0,
        };
        VoteTally::new(&mut buffer).add(0, &[m, m]);
    }
}
