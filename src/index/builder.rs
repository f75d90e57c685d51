//! Building and editing a library: add tracks, remove tracks, then [`LibraryBuilder::build`]
//! sorts every row into bucket-major order (a counting sort over the 2^K buckets).
//!
//! Re-adding is idempotent. A track is identified by its path and its content hash:
//! - same path, same hash: nothing to do ([`AddOutcome::Unchanged`]);
//! - same path, another hash: the file changed, the old entry is replaced;
//! - same hash already stored at another path: the content is indexed once; the new path
//!   is not added ([`AddOutcome::DuplicateContent`]). A stale entry at the new path (its
//!   file no longer holds that content) is removed.

use std::collections::HashMap;

use earmark_kernels::probe::bucket_key;

use super::format::track_problem;
use super::library::{Library, LibraryConfig, Rows, Track};
use crate::{Error, Result};

/// What [`LibraryBuilder::add_track`] did (or, from [`LibraryBuilder::plan`], would do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new track.
    Added,
    /// The path was indexed with other content (`old_hash`); that entry is replaced.
    Replaced { old_hash: u64 },
    /// The path is indexed with this very content: nothing changes.
    Unchanged,
    /// This content is already indexed at `existing_path`: not added again.
    DuplicateContent { existing_path: String },
}

impl AddOutcome {
    /// Whether the track's embeddings are needed (the caller may skip computing them
    /// otherwise).
    pub fn needs_embeddings(&self) -> bool {
        matches!(self, AddOutcome::Added | AddOutcome::Replaced { .. })
    }
}

/// Where a live track is: in the base library or among the tracks added since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Base(usize),
    Added(usize),
}

/// A track added since the base library, rows `first_row..first_row + segments` of the
/// added-rows buffers.
struct Pending {
    track: Track,
    first_row: usize,
    removed: bool,
}

/// An editable library (see the module docs).
pub struct LibraryBuilder {
    base: Library,
    base_removed: Vec<bool>,
    added: Vec<Pending>,
    /// Embeddings of the added tracks, track-major, already in the storage type.
    added_rows: Rows,
    /// Bucket key of each added row.
    added_keys: Vec<u32>,
    by_path: HashMap<String, Slot>,
    by_hash: HashMap<u64, Slot>,
    /// Rows of the tracks currently in (the size of the library `build` would make).
    live_rows: usize,
}

impl Library {
    /// An editor starting from this library's content.
    pub fn into_builder(self) -> LibraryBuilder {
        let mut by_path = HashMap::with_capacity(self.tracks.len());
        let mut by_hash = HashMap::with_capacity(self.tracks.len());
        for (i, track) in self.tracks.iter().enumerate() {
            by_path.insert(track.path.clone(), Slot::Base(i));
            by_hash.entry(track.content_hash).or_insert(Slot::Base(i));
        }
        LibraryBuilder {
            base_removed: vec![false; self.tracks.len()],
            added: Vec::new(),
            added_rows: Rows::empty(self.config.dtype),
            added_keys: Vec::new(),
            by_path,
            by_hash,
            live_rows: self.rows(),
            base: self,
        }
    }
}

impl LibraryBuilder {
    /// An empty library to fill. Panics if `config` is unusable ([`LibraryConfig::problem`]).
    pub fn new(config: LibraryConfig) -> Self {
        Library::new(config).into_builder()
    }

    pub fn config(&self) -> &LibraryConfig {
        &self.base.config
    }

    fn track(&self, slot: Slot) -> &Track {
        match slot {
            Slot::Base(i) => &self.base.tracks[i],
            Slot::Added(i) => &self.added[i].track,
        }
    }

    /// What [`add_track`](Self::add_track) would do with this path and content hash,
    /// without changing anything (so that a caller can skip embedding unchanged files).
    pub fn plan(&self, path: &str, content_hash: u64) -> AddOutcome {
        let at_path = self
            .by_path
            .get(path)
            .map(|&slot| self.track(slot).content_hash);
        if at_path == Some(content_hash) {
            return AddOutcome::Unchanged;
        }
        if let Some(&slot) = self.by_hash.get(&content_hash) {
            return AddOutcome::DuplicateContent {
                existing_path: self.track(slot).path.clone(),
            };
        }
        match at_path {
            Some(old_hash) => AddOutcome::Replaced { old_hash },
            None => AddOutcome::Added,
        }
    }

    /// Adds a track: `embeddings` is n × D (n segments, every `hop` frames, each
    /// L2-normalised), `logits` is n × K (the hash head's outputs for the same segments).
    /// `path` is relative to the indexed root, `duration_s` in seconds.
    ///
    /// Errors (`Error::Invalid`) for an unusable path or duration, non-finite values, or a
    /// library that would exceed 2^32 − 1 rows. Panics if the shapes disagree.
    pub fn add_track(
        &mut self,
        path: &str,
        duration_s: f64,
        content_hash: u64,
        embeddings: &[f32],
        logits: &[f32],
    ) -> Result<AddOutcome> {
        let dim = self.config().dim as usize;
        let k = self.config().k as usize;
        let n = embeddings.len() / dim;
        assert!(
            embeddings.len() == n * dim && logits.len() == n * k,
            "LibraryBuilder::add_track: embeddings [{}] is not n × {dim} or logits [{}] is not n × {k}",
            embeddings.len(),
            logits.len()
        );
        let track = Track {
            path: path.to_owned(),
            duration_s,
            content_hash,
            segments: n as u32,
        };
        if let Some(problem) = track_problem(&track) {
            return Err(Error::invalid(format!("cannot add track: {problem}")));
        }
        if embeddings.iter().chain(logits).any(|x| !x.is_finite()) {
            return Err(Error::invalid(format!(
                "{path}: non-finite embedding or hash logit"
            )));
        }
        if (self.live_rows + n) as u64 >= u64::from(u32::MAX) {
            return Err(Error::invalid(format!(
                "{path}: the library would exceed 2^32 - 1 segments"
            )));
        }
        let outcome = self.plan(path, content_hash);
        if let Some(&slot) = self.by_path.get(path)
            && outcome != AddOutcome::Unchanged
        {
            self.remove_slot(slot);
        }
        if !outcome.needs_embeddings() {
            return Ok(outcome);
        }
        let slot = Slot::Added(self.added.len());
        self.added.push(Pending {
            track,
            first_row: self.added_keys.len(),
            removed: false,
        });
        self.added_rows.push_f32(embeddings, dim);
        self.added_keys
            .extend(logits.chunks_exact(k).map(bucket_key));
        self.live_rows += n;
        self.by_path.insert(path.to_owned(), slot);
        self.by_hash.insert(content_hash, slot);
        Ok(outcome)
    }

    /// Removes the track stored at `path`; returns whether there was one.
    pub fn remove_track(&mut self, path: &str) -> bool {
        match self.by_path.get(path) {
            Some(&slot) => {
                self.remove_slot(slot);
                true
            }
            None => false,
        }
    }

    fn remove_slot(&mut self, slot: Slot) {
        let track = self.track(slot);
        let (path, hash, rows) = (track.path.clone(), track.content_hash, track.segments);
        self.live_rows -= rows as usize;
        match slot {
            Slot::Base(i) => self.base_removed[i] = true,
            Slot::Added(i) => self.added[i].removed = true,
        }
        self.by_path.remove(&path);
        if self.by_hash.get(&hash) == Some(&slot) {
            self.by_hash.remove(&hash);
        }
    }

    /// The edited library, bucket-major.
    pub fn build(self) -> Library {
        let config = self.base.config;
        let dim = config.dim as usize;
        // New track order: the base's remaining tracks, then the added ones. For each
        // source track, the global segment number of its segment 0 in the new library.
        let mut tracks = Vec::new();
        let mut next = 0u32;
        let mut place = |track: &Track| {
            tracks.push(track.clone());
            next += track.segments;
            next - track.segments
        };
        let base_start: Vec<Option<u32>> = (self.base.tracks.iter().zip(&self.base_removed))
            .map(|(track, &removed)| (!removed).then(|| place(track)))
            .collect();
        let added_start: Vec<Option<u32>> = self
            .added
            .iter()
            .map(|p| (!p.removed).then(|| place(&p.track)))
            .collect();
        let n = next as usize;

        // Every surviving row as (key, new global segment, source); one pass counts the
        // keys, a second places the rows.
        let base = &self.base;
        let base_rows = base.row_keys().enumerate().filter_map(|(row, key)| {
            let (track, segment) = base.locate(row);
            base_start[track].map(|start| (key, start + segment as u32, Source::Base(row)))
        });
        let added_rows = self.added.iter().zip(&added_start).flat_map(|(p, start)| {
            let rows = p.first_row..p.first_row + p.track.segments as usize;
            rows.filter_map(move |row| start.map(|s| (s + (row - p.first_row) as u32, row)))
        });
        let added_rows =
            added_rows.map(|(global, row)| (self.added_keys[row], global, Source::Added(row)));
        let all = || base_rows.clone().chain(added_rows.clone());

        let mut offsets = vec![0u32; config.buckets() + 1];
        for (key, _, _) in all() {
            offsets[key as usize + 1] += 1;
        }
        for b in 0..config.buckets() {
            offsets[b + 1] += offsets[b];
        }
        let mut cursor = offsets.clone();
        let mut rows = Rows::zeroed(config.dtype, n, dim);
        let mut segment_of_row = vec![0u32; n];
        for (key, global, source) in all() {
            let dst = cursor[key as usize] as usize;
            cursor[key as usize] += 1;
            let (from, row) = match source {
                Source::Base(row) => (&base.rows, row),
                Source::Added(row) => (&self.added_rows, row),
            };
            rows.copy_row_from(dst, from, row, dim);
            segment_of_row[dst] = global;
        }
        Library::from_parts(config, tracks, offsets, rows, segment_of_row).unwrap_or_else(
            |problem| panic!("LibraryBuilder::build made an inconsistent library: {problem}"),
        )
    }
}

/// Where a row of the library being built comes from.
#[derive(Clone, Copy)]
enum Source {
    Base(usize),
    Added(usize),
}
