//! The index file format (version 2). All integers little-endian.
//!
//! ```text
//! offset  bytes  field
//!      0      8  magic  b"EARMARK\x1a"
//!      8      4  format version (2)
//!     12      4  storage type: 0 = f16, 1 = f32, 2 = i8
//!     16      8  model identity (hash of the weights that produced the embeddings)
//!     24      4  K, hash bits per segment
//!     28      4  embedding dimension D
//!     32      4  hop, frames (10 ms) between segments
//!     36      4  reserved, 0
//!     40      8  T, number of tracks
//!     48      8  N, number of rows (database segments)
//!     56      8  track table length in bytes
//!     64      8  XXH64 of bytes 0..64 (the header checksum)
//!     72         track table, per track: path length u32, path (UTF-8), duration f64
//!                (seconds), content hash u64, segments u32
//!                bucket offsets: (2^K + 1) × u32 (CSR over the buckets)
//!                embeddings: N × D × (2 or 4) bytes, bucket-major; for i8, N × D
//!                signed bytes, then N f32 row scales
//!                row → global segment number: N × u32 (track-major numbering)
//!    end − 8      XXH64 of every byte before it (the file checksum)
//! ```
//!
//! The header has its own checksum so that a wrong model, K or size is reported before
//! the body is read. The reader trusts nothing: every size is checked against the file's
//! length before anything is allocated, and the body is checked by its checksum and then
//! for consistency (offsets span the rows, the rows are a permutation of the tracks'
//! segments, every value finite). A future version changes `version`; it keeps the magic
//! and the version at these offsets. Version 1 had the same layout, but its rows were
//! levelled by the whole track's peak rather than each second's own
//! ([`crate::audio::levelled_segments`]): queries made today do not match them, so it is
//! refused with a hint to rebuild.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::library::{Dtype, Library, LibraryConfig, Rows, Track};
use super::xxh64::{Xxh64, xxh64};
use crate::{Error, Result};

/// The first 8 bytes of every index file ("EARMARK", then 0x1a, which stops `type` on
/// DOS-like terminals from printing the binary body).
pub const MAGIC: [u8; 8] = *b"EARMARK\x1a";

/// The format version this build writes and reads.
pub const VERSION: u32 = 2;

/// Fixed header length in bytes, its checksum included.
const HEADER_LEN: usize = 72;

/// Bytes of the trailing file checksum.
const CHECKSUM_LEN: u64 = 8;

/// Values converted per read call while streaming a section into its vector (256 KiB of
/// f32): large enough to amortise the call, small enough to keep the peak memory at the
/// size of the data.
const CHUNK_VALUES: usize = 1 << 16;

/// Fixed-size part of one track-table entry: path length, duration, hash, segments.
const TRACK_FIXED_BYTES: usize = 4 + 8 + 8 + 4;

/// Longest stored path, bytes. Longer paths are refused when tracks are added.
pub const MAX_PATH_BYTES: usize = 4096;

/// Header fields, as stored.
struct Header {
    version: u32,
    config: LibraryConfig,
    tracks: u64,
    rows: u64,
    track_table_bytes: u64,
}

impl Header {
    fn of(library: &Library) -> Header {
        Header {
            version: VERSION,
            config: library.config,
            tracks: library.tracks.len() as u64,
            rows: library.rows() as u64,
            track_table_bytes: track_table(&library.tracks).len() as u64,
        }
    }

    fn encode(&self) -> [u8; HEADER_LEN] {
        let c = &self.config;
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&self.version.to_le_bytes());
        let dtype: u32 = match c.dtype {
            Dtype::F16 => 0,
            Dtype::F32 => 1,
            Dtype::I8 => 2,
        };
        out[12..16].copy_from_slice(&dtype.to_le_bytes());
        out[16..24].copy_from_slice(&c.model_id.to_le_bytes());
        out[24..28].copy_from_slice(&c.k.to_le_bytes());
        out[28..32].copy_from_slice(&c.dim.to_le_bytes());
        out[32..36].copy_from_slice(&c.hop.to_le_bytes());
        out[40..48].copy_from_slice(&self.tracks.to_le_bytes());
        out[48..56].copy_from_slice(&self.rows.to_le_bytes());
        out[56..64].copy_from_slice(&self.track_table_bytes.to_le_bytes());
        let sum = xxh64(&out[..64]);
        out[64..72].copy_from_slice(&sum.to_le_bytes());
        out
    }

    /// Parses and checks a header; the error is the problem to report.
    fn decode(bytes: &[u8; HEADER_LEN]) -> std::result::Result<Header, String> {
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
        if bytes[0..8] != MAGIC {
            return Err("not an earmark index (bad magic bytes)".into());
        }
        let version = u32_at(8);
        if version > VERSION {
            return Err(format!(
                "written by a newer earmark (format version {version}; this build reads \
                 version {VERSION}): upgrade earmark or rebuild the index"
            ));
        }
        if version == 1 {
            return Err(format!(
                "written by an older earmark (format version 1, whose segments were levelled \
                 by the whole track; this build reads version {VERSION}): rebuild the index \
                 with `earmark index`"
            ));
        }
        if u64_at(64) != xxh64(&bytes[..64]) {
            return Err("header checksum mismatch: the file is corrupted".into());
        }
        if version != VERSION {
            return Err(format!("unknown format version {version}"));
        }
        let dtype = match u32_at(12) {
            0 => Dtype::F16,
            1 => Dtype::F32,
            2 => Dtype::I8,
            other => return Err(format!("unknown storage type {other}")),
        };
        let config = LibraryConfig {
            model_id: u64_at(16),
            k: u32_at(24),
            dim: u32_at(28),
            hop: u32_at(32),
            dtype,
        };
        if let Some(problem) = config.problem() {
            return Err(problem);
        }
        if u32_at(36) != 0 {
            return Err("reserved header field is not 0".into());
        }
        Ok(Header {
            version,
            config,
            tracks: u64_at(40),
            rows: u64_at(48),
            track_table_bytes: u64_at(56),
        })
    }

    /// Total file length the header implies, or `None` if it overflows.
    fn file_len(&self) -> Option<u64> {
        let c = &self.config;
        let offsets = (c.buckets() as u64 + 1) * 4;
        let embeddings = self
            .rows
            .checked_mul(c.dtype.row_bytes(c.dim as usize) as u64)?;
        let perm = self.rows.checked_mul(4)?;
        (HEADER_LEN as u64)
            .checked_add(self.track_table_bytes)?
            .checked_add(offsets)?
            .checked_add(embeddings)?
            .checked_add(perm)?
            .checked_add(CHECKSUM_LEN)
    }
}

/// Serialised track table.
fn track_table(tracks: &[Track]) -> Vec<u8> {
    let mut out = Vec::new();
    for track in tracks {
        out.extend_from_slice(&(track.path.len() as u32).to_le_bytes());
        out.extend_from_slice(track.path.as_bytes());
        out.extend_from_slice(&track.duration_s.to_le_bytes());
        out.extend_from_slice(&track.content_hash.to_le_bytes());
        out.extend_from_slice(&track.segments.to_le_bytes());
    }
    out
}

fn parse_track_table(bytes: &[u8], count: u64) -> std::result::Result<Vec<Track>, String> {
    // Every entry takes at least TRACK_FIXED_BYTES, which bounds the allocation.
    if count > (bytes.len() / TRACK_FIXED_BYTES) as u64 {
        return Err(format!(
            "{count} tracks cannot fit in a {}-byte track table",
            bytes.len()
        ));
    }
    let mut tracks = Vec::with_capacity(count as usize);
    let mut at = 0usize;
    let mut take = |n: usize| -> std::result::Result<&[u8], String> {
        let piece = bytes
            .get(at..at + n)
            .ok_or("the track table ends inside an entry")?;
        at += n;
        Ok(piece)
    };
    for i in 0..count {
        let len = u32::from_le_bytes(take(4)?.try_into().expect("4")) as usize;
        if len > MAX_PATH_BYTES {
            return Err(format!("track {i}: path of {len} bytes"));
        }
        let path = std::str::from_utf8(take(len)?)
            .map_err(|_| format!("track {i}: path is not UTF-8"))?
            .to_owned();
        let duration_s = f64::from_le_bytes(take(8)?.try_into().expect("8"));
        let content_hash = u64::from_le_bytes(take(8)?.try_into().expect("8"));
        let segments = u32::from_le_bytes(take(4)?.try_into().expect("4"));
        let track = Track {
            path,
            duration_s,
            content_hash,
            segments,
        };
        if let Some(problem) = track_problem(&track) {
            return Err(format!("track {i}: {problem}"));
        }
        tracks.push(track);
    }
    if at != bytes.len() {
        return Err(format!(
            "{} unused bytes at the end of the track table",
            bytes.len() - at
        ));
    }
    let mut paths: Vec<&str> = tracks.iter().map(|t| t.path.as_str()).collect();
    paths.sort_unstable();
    if let Some(w) = paths.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("track {:?} is listed twice", w[0]));
    }
    Ok(tracks)
}

/// Why a track entry is unusable, if it is (shared with the builder's input checks).
pub(crate) fn track_problem(track: &Track) -> Option<String> {
    let path = &track.path;
    if path.is_empty() {
        return Some("empty path".into());
    }
    if path.len() > MAX_PATH_BYTES {
        return Some(format!("path longer than {MAX_PATH_BYTES} bytes"));
    }
    if path.starts_with('/') || path.contains('\0') {
        return Some(format!("path {path:?} is not relative"));
    }
    if !(track.duration_s.is_finite() && track.duration_s >= 0.0) {
        return Some(format!("{path}: duration {} s", track.duration_s));
    }
    None
}

/// Size in bytes of the file [`write()`] makes for `library`.
pub fn file_len(library: &Library) -> u64 {
    Header::of(library)
        .file_len()
        .expect("a library in memory has a representable size")
}

/// A writer that hashes everything written through it.
struct HashingWriter<W: Write> {
    inner: W,
    hash: Xxh64,
}

impl<W: Write> HashingWriter<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hash.update(bytes);
        self.inner.write_all(bytes)
    }
}

/// Writes `library` to `path` atomically: into a temporary file in the same directory,
/// flushed to disk, then renamed over `path`.
pub fn write(library: &Library, path: &Path) -> Result<()> {
    let tmp = temporary_path(path);
    let result = write_to(library, &tmp)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        // The temporary file is ours and useless now; failing to remove it changes nothing.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

fn write_to(library: &Library, tmp: &Path) -> Result<()> {
    let io = |e| Error::io(tmp, e);
    let file = File::create(tmp).map_err(io)?;
    let mut out = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hash: Xxh64::new(),
    };
    let mut body = || -> std::io::Result<()> {
        out.put(&Header::of(library).encode())?;
        out.put(&track_table(&library.tracks))?;
        put_u32s(&mut out, &library.offsets)?;
        match &library.rows {
            Rows::F16(values) => put_values(&mut out, values, |v| v.to_le_bytes())?,
            Rows::F32(values) => put_values(&mut out, values, |v| v.to_le_bytes())?,
            Rows::I8 { values, scales } => {
                put_values(&mut out, values, |v| v.to_le_bytes())?;
                put_values(&mut out, scales, |v| v.to_le_bytes())?;
            }
        }
        put_u32s(&mut out, &library.segment_of_row)?;
        let sum = out.hash.digest();
        out.inner.write_all(&sum.to_le_bytes())
    };
    body().map_err(io)?;
    let file = out.inner.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)
}

fn put_u32s<W: Write>(out: &mut HashingWriter<W>, values: &[u32]) -> std::io::Result<()> {
    put_values(out, values, |v| v.to_le_bytes())
}

/// Writes `values` through a chunk buffer, `to_le` giving each value's bytes.
fn put_values<W: Write, T: Copy, const B: usize>(
    out: &mut HashingWriter<W>,
    values: &[T],
    to_le: impl Fn(T) -> [u8; B],
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(CHUNK_VALUES * B);
    for chunk in values.chunks(CHUNK_VALUES) {
        buf.clear();
        buf.extend(chunk.iter().flat_map(|&v| to_le(v)));
        out.put(&buf)?;
    }
    Ok(())
}

/// A reader that hashes everything read through it.
struct HashingReader<R: Read> {
    inner: R,
    hash: Xxh64,
}

impl<R: Read> HashingReader<R> {
    fn take(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_exact(buf)?;
        self.hash.update(buf);
        Ok(())
    }
}

/// Reads `n` values into a new vector, `from_le` decoding each value's bytes.
fn take_values<R: Read, T, const B: usize>(
    input: &mut HashingReader<R>,
    n: usize,
    from_le: impl Fn([u8; B]) -> T,
) -> std::io::Result<Vec<T>> {
    let mut values = Vec::with_capacity(n);
    super::pages::advise_huge_pages(values.spare_capacity_mut());
    let mut buf = vec![0u8; CHUNK_VALUES.min(n) * B];
    while values.len() < n {
        let m = (n - values.len()).min(CHUNK_VALUES);
        input.take(&mut buf[..m * B])?;
        values.extend(
            buf[..m * B]
                .chunks_exact(B)
                .map(|b| from_le(b.try_into().expect("B"))),
        );
    }
    Ok(values)
}

/// Opens the index at `path`, checking it completely; `model_id`, when given, is the
/// identity of the model the caller will embed queries with, and must be the one the index
/// was built with (`None` for work that embeds nothing: info, track lists, removal).
pub fn read(path: &Path, model_id: Option<u64>) -> Result<Library> {
    let bad = |problem: String| Error::index(path, problem);
    let io = |e| Error::io(path, e);
    let file = File::open(path).map_err(io)?;
    let actual = file.metadata().map_err(io)?.len();
    let mut input = HashingReader {
        inner: BufReader::with_capacity(1 << 20, file),
        hash: Xxh64::new(),
    };

    let mut header_bytes = [0u8; HEADER_LEN];
    if actual < HEADER_LEN as u64 {
        return Err(bad(format!(
            "truncated: {actual} bytes, shorter than the header"
        )));
    }
    input.take(&mut header_bytes).map_err(io)?;
    let header = Header::decode(&header_bytes).map_err(bad)?;
    let config = header.config;
    if let Some(model_id) = model_id
        && config.model_id != model_id
    {
        return Err(bad(format!(
            "built with another model (identity {:016x}, expected {model_id:016x}): \
             rebuild the index with this model",
            config.model_id
        )));
    }
    let expected = header
        .file_len()
        .ok_or_else(|| bad("header sizes overflow".into()))?;
    if actual < expected {
        return Err(bad(format!(
            "truncated: {actual} bytes, expected {expected}"
        )));
    }
    if actual > expected {
        return Err(bad(format!(
            "{} unexpected bytes after the end of the index",
            actual - expected
        )));
    }
    if header.rows > u64::from(u32::MAX) {
        return Err(bad(format!("{} rows: more than 2^32 - 1", header.rows)));
    }
    // From here on every section fits in the file, so no allocation exceeds its size.
    let n = header.rows as usize;
    let mut table = vec![0u8; header.track_table_bytes as usize];
    input.take(&mut table).map_err(io)?;
    let offsets = take_values(&mut input, config.buckets() + 1, u32::from_le_bytes).map_err(io)?;
    let values = n * config.dim as usize;
    let rows = match config.dtype {
        Dtype::F16 => Rows::F16(take_values(&mut input, values, u16::from_le_bytes).map_err(io)?),
        Dtype::F32 => Rows::F32(take_values(&mut input, values, f32::from_le_bytes).map_err(io)?),
        Dtype::I8 => Rows::I8 {
            values: take_values(&mut input, values, i8::from_le_bytes).map_err(io)?,
            scales: take_values(&mut input, n, f32::from_le_bytes).map_err(io)?,
        },
    };
    let segment_of_row = take_values(&mut input, n, u32::from_le_bytes).map_err(io)?;
    let computed = input.hash.digest();
    let mut stored = [0u8; 8];
    input.inner.read_exact(&mut stored).map_err(io)?;
    if u64::from_le_bytes(stored) != computed {
        return Err(bad("checksum mismatch: the file is corrupted".into()));
    }

    let tracks = parse_track_table(&table, header.tracks).map_err(bad)?;
    if let Some(problem) = rows.problem() {
        return Err(bad(problem));
    }
    Library::from_parts(config, tracks, offsets, rows, segment_of_row).map_err(bad)
}
