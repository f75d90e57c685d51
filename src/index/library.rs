//! The searchable library: a track table and every database segment's embedding, stored
//! bucket-major (rows sorted by hash bucket, a CSR offsets table over the 2^K buckets) so
//! that scanning a bucket is one contiguous read.
//!
//! A [`Library`] is immutable; edits go through [`LibraryBuilder`](super::LibraryBuilder),
//! which rebuilds the bucket-major arrays. Files are read and written by
//! [`Library::open`] / [`Library::save`] (format in [`super::format`]).

use std::ops::Range;

use earmark_kernels::dot::{
    prefetch, quantize_i8, quantize_query_i16, scan_f16, scan_f32, scan_i8,
};
use earmark_kernels::half::{f16_to_f32, f32_to_f16};

use super::FRAME_SECONDS;

/// Largest hash length the library accepts: 2^24 buckets make a 64 MiB offsets table.
/// DESIGN.md §3 uses K in 8..=20.
pub const MAX_K: u32 = 24;

/// Largest embedding dimension the library accepts (the model's is 128).
pub const MAX_DIM: u32 = 4096;

/// How segment embeddings are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// IEEE half precision, 2 bytes per value (the default: halves the memory; the
    /// similarity it changes is below 1e-3 for unit vectors).
    F16,
    /// IEEE single precision, 4 bytes per value.
    F32,
    /// Signed bytes with one f32 scale per row (row ≈ scale · values): a quarter of f32,
    /// half of f16. Rounding moves a unit vector's similarities by about 1e-3.
    I8,
}

impl Dtype {
    /// Every storage type, smallest rows last.
    pub const ALL: [Dtype; 3] = [Dtype::F32, Dtype::F16, Dtype::I8];

    /// Bytes per stored row of `dim` values (the i8 row's scale included).
    pub fn row_bytes(self, dim: usize) -> usize {
        match self {
            Dtype::F16 => 2 * dim,
            Dtype::F32 => 4 * dim,
            Dtype::I8 => dim + 4,
        }
    }

    /// The name users type and read: `f16`, `f32` or `i8`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F16 => "f16",
            Dtype::F32 => "f32",
            Dtype::I8 => "i8",
        }
    }
}

impl std::str::FromStr for Dtype {
    type Err = String;

    fn from_str(name: &str) -> Result<Dtype, String> {
        Dtype::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| format!("unknown storage type {name:?} (f16, f32 or i8)"))
    }
}

/// What a library is built for: fixed when it is created, checked when it is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LibraryConfig {
    /// Identity of the model that produced the embeddings (a hash of its weights).
    pub model_id: u64,
    /// Hash bits per segment: 2^k buckets.
    pub k: u32,
    /// Embedding dimension (128 for the earmark model).
    pub dim: u32,
    /// Frames (10 ms each) between consecutive database segments: 10 = 100 ms, 5 = 50 ms.
    pub hop: u32,
    /// Storage type of the embeddings.
    pub dtype: Dtype,
}

impl LibraryConfig {
    /// The defaults of DESIGN.md §5: 128-d embeddings every 10 frames, stored as f16.
    pub fn new(model_id: u64, k: u32) -> Self {
        LibraryConfig {
            model_id,
            k,
            dim: 128,
            hop: 10,
            dtype: Dtype::F16,
        }
    }

    /// Why this configuration cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if !(1..=MAX_K).contains(&self.k) {
            return Some(format!("hash length K = {} is outside 1..={MAX_K}", self.k));
        }
        if !(1..=MAX_DIM).contains(&self.dim) {
            return Some(format!(
                "embedding dimension {} is outside 1..={MAX_DIM}",
                self.dim
            ));
        }
        if self.hop == 0 {
            return Some("segment hop is 0 frames".into());
        }
        None
    }

    /// Number of hash buckets, 2^k.
    pub fn buckets(&self) -> usize {
        1 << self.k
    }

    /// Seconds between consecutive segments (hop × 10 ms).
    pub fn hop_seconds(&self) -> f64 {
        f64::from(self.hop) * FRAME_SECONDS
    }
}

/// One indexed track.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    /// Path relative to the indexed root, `/`-separated.
    pub path: String,
    /// Duration of the audio in seconds.
    pub duration_s: f64,
    /// Hash of the file's content (the caller's choice of hash), to detect changes.
    pub content_hash: u64,
    /// Number of database segments (rows) of the track.
    pub segments: u32,
}

/// Stored embeddings, row-major (rows × dim).
#[derive(Clone, Debug, PartialEq)]
pub enum Rows {
    /// f16 bit patterns.
    F16(Vec<u16>),
    F32(Vec<f32>),
    /// Row r's value i is `scales[r] · values[r·dim + i]` ([`quantize_i8`]).
    I8 {
        values: Vec<i8>,
        scales: Vec<f32>,
    },
}

impl Rows {
    pub(crate) fn empty(dtype: Dtype) -> Self {
        Rows::zeroed(dtype, 0, 0)
    }

    /// `rows` rows of `dim` zeros.
    pub(crate) fn zeroed(dtype: Dtype, rows: usize, dim: usize) -> Self {
        let values = rows * dim;
        match dtype {
            Dtype::F16 => Rows::F16(super::pages::filled(values, 0)),
            Dtype::F32 => Rows::F32(super::pages::filled(values, 0.0)),
            Dtype::I8 => Rows::I8 {
                values: super::pages::filled(values, 0),
                scales: vec![0.0; rows],
            },
        }
    }

    pub fn dtype(&self) -> Dtype {
        match self {
            Rows::F16(_) => Dtype::F16,
            Rows::F32(_) => Dtype::F32,
            Rows::I8 { .. } => Dtype::I8,
        }
    }

    /// Number of stored values (rows × dim).
    pub fn len(&self) -> usize {
        match self {
            Rows::F16(v) => v.len(),
            Rows::F32(v) => v.len(),
            Rows::I8 { values, .. } => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends whole rows of `dim` values (f32), converting to the storage type.
    pub(crate) fn push_f32(&mut self, rows: &[f32], dim: usize) {
        assert!(
            dim > 0 && rows.len().is_multiple_of(dim),
            "Rows::push_f32: {} values in rows of {dim}",
            rows.len()
        );
        match self {
            Rows::F16(v) => v.extend(rows.iter().map(|&x| f32_to_f16(x))),
            Rows::F32(v) => v.extend_from_slice(rows),
            Rows::I8 { values, scales } => {
                for row in rows.chunks_exact(dim) {
                    let at = values.len();
                    values.resize(at + dim, 0);
                    scales.push(quantize_i8(row, &mut values[at..]));
                }
            }
        }
    }

    /// Copies row `src` of `other` over row `dst` of `self` (rows of `dim` values, same
    /// storage type).
    pub(crate) fn copy_row_from(&mut self, dst: usize, other: &Rows, src: usize, dim: usize) {
        let (to, from) = (dst * dim..(dst + 1) * dim, src * dim..(src + 1) * dim);
        match (self, other) {
            (Rows::F16(d), Rows::F16(s)) => d[to].copy_from_slice(&s[from]),
            (Rows::F32(d), Rows::F32(s)) => d[to].copy_from_slice(&s[from]),
            (
                Rows::I8 { values, scales },
                Rows::I8 {
                    values: v,
                    scales: s,
                },
            ) => {
                values[to].copy_from_slice(&v[from]);
                scales[dst] = s[src];
            }
            (d, s) => panic!("Rows::copy_row_from: {:?} into {:?}", s.dtype(), d.dtype()),
        }
    }

    /// The first value that cannot be a stored embedding's, if any: a NaN or infinite
    /// value, or for i8 rows a scale that is not a finite number ≥ 0.
    pub(crate) fn problem(&self) -> Option<String> {
        // f16: exponent bits all ones means infinity or NaN.
        const F16_EXPONENT: u16 = 0x7c00;
        let not_finite = |i: usize| format!("embedding value {i} is not finite");
        match self {
            Rows::F16(v) => v
                .iter()
                .position(|&x| x & F16_EXPONENT == F16_EXPONENT)
                .map(not_finite),
            Rows::F32(v) => v.iter().position(|x| !x.is_finite()).map(not_finite),
            Rows::I8 { scales, .. } => scales
                .iter()
                .position(|s| !(s.is_finite() && *s >= 0.0))
                .map(|row| {
                    format!(
                        "row {row} has scale {}, not a finite number ≥ 0",
                        scales[row]
                    )
                }),
        }
    }

    /// Value `i` as f32.
    pub fn get(&self, i: usize) -> f32 {
        match self {
            Rows::F16(v) => f16_to_f32(v[i]),
            Rows::F32(v) => v[i],
            Rows::I8 { values, scales } => {
                let dim = values.len() / scales.len();
                scales[i / dim] * f32::from(values[i])
            }
        }
    }
}

/// A query embedding ready for [`Library::score_rows`]: its values, and their i16
/// quantisation for i8 rows, made once per query segment rather than once per bucket.
#[derive(Clone, Debug, Default)]
pub struct QueryVector {
    values: Vec<f32>,
    quantized: Vec<i16>,
    scale: f32,
}

impl QueryVector {
    /// `values` prepared for scoring. Panics if a value is not finite.
    pub fn new(values: &[f32]) -> Self {
        let mut q = QueryVector::default();
        q.set(values);
        q
    }

    /// Prepares `values` in place of the previous ones (no allocation once grown).
    pub fn set(&mut self, values: &[f32]) {
        self.values.clear();
        self.values.extend_from_slice(values);
        self.quantized.resize(values.len(), 0);
        self.scale = quantize_query_i16(values, &mut self.quantized);
    }

    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// One prepared vector per `dim` values of `embeddings` (O × D, row-major).
    pub fn each(embeddings: &[f32], dim: usize) -> Vec<QueryVector> {
        embeddings.chunks_exact(dim).map(QueryVector::new).collect()
    }
}

/// A searchable library (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Library {
    pub(crate) config: LibraryConfig,
    pub(crate) tracks: Vec<Track>,
    /// Global segment number of each track's segment 0 (tracks × segments, track-major),
    /// plus the total at the end: `tracks.len() + 1` entries.
    pub(crate) track_start: Vec<u32>,
    /// CSR offsets: bucket `b` holds rows `offsets[b]..offsets[b + 1]`; 2^K + 1 entries.
    pub(crate) offsets: Vec<u32>,
    /// Embeddings, rows × dim, bucket-major.
    pub(crate) rows: Rows,
    /// Row → global segment number.
    pub(crate) segment_of_row: Vec<u32>,
    /// Global segment number → row (the inverse permutation; rebuilt on load).
    pub(crate) row_of_segment: Vec<u32>,
}

/// Marks a global segment not yet seen while inverting the permutation.
const UNSET: u32 = u32::MAX;

impl Library {
    /// An empty library.
    ///
    /// Panics if `config` is unusable ([`LibraryConfig::problem`]); callers that take a
    /// configuration from a user check it first.
    pub fn new(config: LibraryConfig) -> Self {
        if let Some(problem) = config.problem() {
            panic!("Library::new: {problem}");
        }
        Library {
            config,
            tracks: Vec::new(),
            track_start: vec![0],
            offsets: vec![0; config.buckets() + 1],
            rows: Rows::empty(config.dtype),
            segment_of_row: Vec::new(),
            row_of_segment: Vec::new(),
        }
    }

    /// Assembles a library from its stored parts, checking that they are consistent:
    /// the offsets cover every row once, `segment_of_row` is a permutation of the tracks'
    /// segments. Returns the first inconsistency found.
    pub(crate) fn from_parts(
        config: LibraryConfig,
        tracks: Vec<Track>,
        offsets: Vec<u32>,
        rows: Rows,
        segment_of_row: Vec<u32>,
    ) -> Result<Self, String> {
        if let Some(problem) = config.problem() {
            return Err(problem);
        }
        if rows.dtype() != config.dtype {
            return Err(format!(
                "rows are {:?}, header says {:?}",
                rows.dtype(),
                config.dtype
            ));
        }
        let n = segment_of_row.len();
        if rows.len() != n * config.dim as usize {
            return Err(format!(
                "{} embedding values for {n} rows of {}",
                rows.len(),
                config.dim
            ));
        }
        if let Rows::I8 { scales, .. } = &rows
            && scales.len() != n
        {
            return Err(format!("{} row scales for {n} rows", scales.len()));
        }
        let mut track_start = Vec::with_capacity(tracks.len() + 1);
        let mut total = 0u64;
        track_start.push(0);
        for track in &tracks {
            total += u64::from(track.segments);
            if total > n as u64 {
                return Err(format!(
                    "the track table lists more segments than the {n} rows"
                ));
            }
            track_start.push(total as u32);
        }
        if total != n as u64 {
            return Err(format!(
                "the track table lists {total} segments, the file has {n} rows"
            ));
        }
        if offsets.len() != config.buckets() + 1 {
            return Err(format!(
                "{} bucket offsets for K = {}",
                offsets.len(),
                config.k
            ));
        }
        if offsets[0] != 0 || offsets[offsets.len() - 1] as usize != n {
            return Err("bucket offsets do not span the rows".into());
        }
        if let Some(b) = offsets.windows(2).position(|w| w[0] > w[1]) {
            return Err(format!("bucket offsets decrease at bucket {b}"));
        }
        let mut row_of_segment = vec![UNSET; n];
        for (row, &segment) in segment_of_row.iter().enumerate() {
            let slot = row_of_segment
                .get_mut(segment as usize)
                .ok_or_else(|| format!("row {row} names segment {segment} of {n}"))?;
            if *slot != UNSET {
                return Err(format!(
                    "rows {} and {row} both hold segment {segment}",
                    *slot
                ));
            }
            *slot = row as u32;
        }
        Ok(Library {
            config,
            tracks,
            track_start,
            offsets,
            rows,
            segment_of_row,
            row_of_segment,
        })
    }

    pub fn config(&self) -> &LibraryConfig {
        &self.config
    }

    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Total number of database segments (rows).
    pub fn rows(&self) -> usize {
        self.segment_of_row.len()
    }

    /// The rows of bucket `key` (a K-bit hash key).
    pub fn bucket(&self, key: u32) -> Range<usize> {
        let b = key as usize;
        self.offsets[b] as usize..self.offsets[b + 1] as usize
    }

    /// Number of rows in each bucket.
    pub fn bucket_sizes(&self) -> impl Iterator<Item = usize> + Clone + '_ {
        self.offsets.windows(2).map(|w| (w[1] - w[0]) as usize)
    }

    /// (track, segment) of a row.
    pub fn locate(&self, row: usize) -> (usize, usize) {
        let global = self.segment_of_row[row];
        let track = self.track_start.partition_point(|&start| start <= global) - 1;
        (track, (global - self.track_start[track]) as usize)
    }

    /// The row holding segment `segment` of track `track`, or `None` past the track's end.
    pub fn row(&self, track: usize, segment: usize) -> Option<usize> {
        let start = self.track_start[track] as usize;
        let end = self.track_start[track + 1] as usize;
        (segment < end - start).then(|| self.row_of_segment[start + segment] as usize)
    }

    /// Index of the track stored at `path`.
    pub fn find(&self, path: &str) -> Option<usize> {
        self.tracks.iter().position(|t| t.path == path)
    }

    /// The stored embedding storage (rows × dim, bucket-major).
    pub fn embeddings(&self) -> &Rows {
        &self.rows
    }

    /// Similarities of `query` (D values) with the rows `rows`: `out[i]` = `query` · row
    /// `rows.start + i`, on the SIMD scan (for i8 rows, of the query's i16 quantisation:
    /// see [`scan_i8`]). `out.len()` must be `rows.len()`.
    pub fn score_rows(&self, query: &QueryVector, rows: Range<usize>, out: &mut [f32]) {
        let dim = self.config.dim as usize;
        assert_eq!(
            query.values.len(),
            dim,
            "Library::score_rows: query [{}] vs dim {dim}",
            query.values.len()
        );
        let values = rows.start * dim..rows.end * dim;
        match &self.rows {
            Rows::F16(v) => scan_f16(&query.values, &v[values], out),
            Rows::F32(v) => scan_f32(&query.values, &v[values], out),
            Rows::I8 { values: v, scales } => scan_i8(
                &query.quantized,
                query.scale,
                &v[values],
                &scales[rows],
                out,
            ),
        }
    }

    /// Starts loading `rows`' embeddings into the caches (a hint: see
    /// [`earmark_kernels::dot::prefetch`]). Panics if the rows are out of range.
    pub fn prefetch_rows(&self, rows: Range<usize>) {
        let dim = self.config.dim as usize;
        let values = rows.start * dim..rows.end * dim;
        match &self.rows {
            Rows::F16(v) => prefetch(&v[values]),
            Rows::F32(v) => prefetch(&v[values]),
            Rows::I8 { values: v, scales } => {
                prefetch(&v[values]);
                prefetch(&scales[rows]);
            }
        }
    }

    /// Similarity of `query` with one row.
    pub fn score_row(&self, query: &QueryVector, row: usize) -> f32 {
        let mut out = [0.0];
        self.score_rows(query, row..row + 1, &mut out);
        out[0]
    }

    /// Hash bucket of each row, in row order (rows of bucket 0 first).
    pub(crate) fn row_keys(&self) -> impl Iterator<Item = u32> + Clone + '_ {
        self.bucket_sizes()
            .enumerate()
            .flat_map(|(key, n)| std::iter::repeat_n(key as u32, n))
    }
}

impl Library {
    /// Opens the index file at `path`, checking it completely (see [`super::format`]).
    /// `model_id` identifies the model queries will be embedded with; an index built with
    /// another model is refused.
    pub fn open(path: impl AsRef<std::path::Path>, model_id: u64) -> crate::Result<Library> {
        super::format::read(path.as_ref(), Some(model_id))
    }

    /// Opens the index at `path`, checking it completely, whatever model built it: for
    /// work that embeds no audio (listing, info, removing tracks). Searching it is only
    /// meaningful with the model of [`LibraryConfig::model_id`].
    pub fn open_any_model(path: impl AsRef<std::path::Path>) -> crate::Result<Library> {
        super::format::read(path.as_ref(), None)
    }

    /// Writes the library to `path` atomically (temporary file in the same directory,
    /// then rename).
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> crate::Result<()> {
        super::format::write(self, path.as_ref())
    }
}
