//! Library statistics: size, hours, and how evenly the rows fill the hash buckets.

use std::fmt;

use super::format;
use super::library::{Dtype, Library};

/// What `earmark library info` shows.
#[derive(Clone, Debug, PartialEq)]
pub struct LibraryInfo {
    pub tracks: usize,
    /// Summed track durations, hours.
    pub hours: f64,
    /// Database segments (rows).
    pub segments: usize,
    pub model_id: u64,
    pub k: u32,
    pub dim: u32,
    /// Frames (10 ms) between segments.
    pub hop: u32,
    pub dtype: Dtype,
    /// 2^K.
    pub buckets: usize,
    /// Buckets holding at least one row.
    pub nonempty_buckets: usize,
    /// Rows in the fullest bucket.
    pub largest_bucket: usize,
    /// Shannon entropy of the bucket occupancy, −Σ p log2 p with p = rows in bucket / N:
    /// how many bits of the K the hash codes actually use.
    pub entropy_bits: f64,
    /// The most that entropy can be: min(K, log2 N) (every row alone, or all buckets equal).
    pub entropy_ceiling_bits: f64,
    /// Size of the index file, bytes.
    pub bytes_on_disk: u64,
}

impl Library {
    /// Statistics of this library.
    pub fn info(&self) -> LibraryInfo {
        let c = &self.config;
        let n = self.rows();
        let mut entropy_bits = 0.0;
        let (mut nonempty_buckets, mut largest_bucket) = (0, 0);
        for size in self.bucket_sizes().filter(|&s| s > 0) {
            let p = size as f64 / n as f64;
            entropy_bits -= p * p.log2();
            nonempty_buckets += 1;
            largest_bucket = largest_bucket.max(size);
        }
        let entropy_ceiling_bits = if n == 0 {
            0.0
        } else {
            f64::from(c.k).min((n as f64).log2())
        };
        LibraryInfo {
            tracks: self.tracks.len(),
            hours: self.tracks.iter().map(|t| t.duration_s).sum::<f64>() / 3600.0,
            segments: n,
            model_id: c.model_id,
            k: c.k,
            dim: c.dim,
            hop: c.hop,
            dtype: c.dtype,
            buckets: c.buckets(),
            nonempty_buckets,
            largest_bucket,
            entropy_bits,
            entropy_ceiling_bits,
            bytes_on_disk: format::file_len(self),
        }
    }
}

impl fmt::Display for LibraryInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "tracks        {}", self.tracks)?;
        writeln!(f, "hours         {:.2}", self.hours)?;
        writeln!(
            f,
            "segments      {} (every {} ms)",
            self.segments,
            self.hop * 10
        )?;
        writeln!(f, "model         {:016x}", self.model_id)?;
        writeln!(f, "embeddings    {} × {}", self.dim, self.dtype.name())?;
        writeln!(
            f,
            "buckets       {} of 2^{} non-empty, largest {}",
            self.nonempty_buckets, self.k, self.largest_bucket
        )?;
        writeln!(
            f,
            "occupancy     {:.2} bits of entropy (ceiling {:.2})",
            self.entropy_bits, self.entropy_ceiling_bits
        )?;
        write!(
            f,
            "size on disk  {:.1} MiB",
            self.bytes_on_disk as f64 / (1 << 20) as f64
        )
    }
}
