//! Model weights on disk in the safetensors format (the Hugging Face layout that PyTorch,
//! NumPy and most tools read), written and read here without serde.
//!
//! ```text
//! [u64 LE: header length N][N bytes: JSON header, space-padded to 8][tensor data, LE]
//! ```
//! [`save`] writes F32, F16 or BF16; [`load`] reads F32, F16 and BF16 tensors and converts
//! them to f32, and refuses every other dtype, every malformed header and every truncated
//! or padded data section with an [`Error::Weights`] that says what is wrong.
//! A model takes its parameters out of the loaded [`Weights`] by name with
//! [`Weights::take`], after [`Weights::check_against`] has compared every name and shape
//! with what the model expects. [`identity`] hashes the values into the model identity that
//! an index records.

#[cfg(test)]
mod corrupt_tests;
mod header;
mod identity;
mod json;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use half::{bf16, f16};

use crate::{Error, Result};
use header::{Entry, Header, MAX_HEADER_BYTES, METADATA_KEY};

pub use identity::identity;

/// A named, row-major f32 tensor: `data.len()` is the product of `shape` (1 for `[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl NamedTensor {
    /// Number of values the shape holds.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// How values are stored in the file. All three are read back as f32; F32 is exact, F16 and
/// BF16 round to nearest, ties to even (IEEE 754 default, as `half` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    /// IEEE binary16: 11-bit significand, largest finite value 65504.
    F16,
    /// bfloat16: f32's range with an 8-bit significand.
    BF16,
}

impl Dtype {
    /// The name safetensors uses in the header.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
        }
    }

    /// Bytes per value.
    pub fn size_bytes(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::BF16 => 2,
        }
    }

    fn from_name(name: &str) -> Option<Dtype> {
        [Dtype::F32, Dtype::F16, Dtype::BF16]
            .into_iter()
            .find(|d| d.name() == name)
    }

    /// Little-endian bytes of `values` in this dtype, or the index of the first finite
    /// value that overflows to infinity when narrowed (|x| ≥ 65520 for F16).
    fn encode(self, values: &[f32]) -> std::result::Result<Vec<u8>, usize> {
        // (bits, is infinite) of one narrowed value.
        let narrow: fn(f32) -> (u16, bool) = match self {
            Dtype::F32 => return Ok(values.iter().flat_map(|x| x.to_le_bytes()).collect()),
            Dtype::F16 => |x| {
                let h = f16::from_f32(x);
                (h.to_bits(), h.is_infinite())
            },
            Dtype::BF16 => |x| {
                let h = bf16::from_f32(x);
                (h.to_bits(), h.is_infinite())
            },
        };
        let mut out = Vec::with_capacity(values.len() * 2);
        for (i, &x) in values.iter().enumerate() {
            let (bits, infinite) = narrow(x);
            if infinite && x.is_finite() {
                return Err(i);
            }
            out.extend_from_slice(&bits.to_le_bytes());
        }
        Ok(out)
    }

    /// f32 values from little-endian `bytes` of this dtype (`bytes.len()` a multiple of
    /// the size).
    fn decode(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|b| bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
                .collect(),
        }
    }
}

/// Writes `tensors` (in the given order) and `metadata` to `path` as a safetensors file with
/// every value stored as `dtype`.
///
/// The file is written to a temporary file in the same directory, flushed to disk, then
/// renamed over `path`: a crash or an error leaves any previous file intact.
///
/// Errors: duplicate or reserved tensor names, duplicate metadata keys, a finite value too
/// large for `dtype` (F16 stops at 65504), and I/O failures.
///
/// # Panics
/// If a tensor's `data.len()` differs from the product of its shape (a programmer error).
pub fn save(
    path: &Path,
    tensors: &[NamedTensor],
    dtype: Dtype,
    metadata: &[(String, String)],
) -> Result<()> {
    let bad = |problem: String| Error::weights(path, format!("cannot save: {problem}"));
    let mut entries = Vec::with_capacity(tensors.len());
    let mut offset = 0u64;
    let mut names = HashSet::with_capacity(tensors.len());
    for t in tensors {
        assert_eq!(
            t.data.len(),
            t.numel(),
            "weights::save: tensor '{}' has shape {:?} ({} values) but {} values of data",
            t.name,
            t.shape,
            t.numel(),
            t.data.len()
        );
        if t.name == METADATA_KEY {
            return Err(bad(format!(
                "'{METADATA_KEY}' is reserved and cannot name a tensor"
            )));
        }
        if !names.insert(t.name.as_str()) {
            return Err(bad(format!("two tensors are named '{}'", t.name)));
        }
        let bytes = (t.data.len() * dtype.size_bytes()) as u64;
        entries.push(Entry {
            name: t.name.clone(),
            dtype,
            shape: t.shape.clone(),
            begin: offset,
            end: offset + bytes,
        });
        offset += bytes;
    }
    let mut keys = HashSet::with_capacity(metadata.len());
    if let Some((key, _)) = metadata.iter().find(|(k, _)| !keys.insert(k.as_str())) {
        return Err(bad(format!("metadata key '{key}' appears twice")));
    }
    let header = header::encode(&entries, metadata);

    write_atomically(path, |w| {
        w.write_all(&(header.len() as u64).to_le_bytes())
            .map_err(|e| Error::io(path, e))?;
        w.write_all(&header).map_err(|e| Error::io(path, e))?;
        for t in tensors {
            let bytes = dtype.encode(&t.data).map_err(|i| {
                bad(format!(
                    "tensor '{}' holds {} at index {i}, which does not fit in {}; save as F32",
                    t.name,
                    t.data[i],
                    dtype.name()
                ))
            })?;
            w.write_all(&bytes).map_err(|e| Error::io(path, e))?;
        }
        Ok(())
    })
}

/// Runs `write` on a buffered temporary file beside `path`, syncs it and renames it to
/// `path`; on any error the temporary file is removed and `path` is left untouched.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    /// Distinguishes temporary files of concurrent saves within one process.
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::weights(path, "cannot save: the path does not name a file"))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        SAVES.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp).map_err(|e| Error::io(&tmp, e))?);
        write(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        // Best effort: the temporary file may not exist if its creation was what failed.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads a safetensors file. Tensors come back in the order of their data in the file
/// (for files written by [`save`], the order they were saved in), converted to f32.
pub fn load(path: &Path) -> Result<Weights> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    read(path, &mut BufReader::new(file), file_len)
}

/// [`load`] from any reader holding `file_len` bytes; `path` only names it in errors.
/// Nothing larger than the file itself is ever allocated, whatever the header claims.
fn read(path: &Path, r: &mut impl Read, file_len: u64) -> Result<Weights> {
    let bad = |problem: String| Error::weights(path, problem);
    let mut read_exact = |buf: &mut [u8]| {
        r.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                bad("the file ended early while it was being read".into())
            }
            _ => Error::io(path, e),
        })
    };
    if file_len < 8 {
        return Err(bad(format!(
            "the file is {file_len} bytes long, too short to be a safetensors file \
             (which starts with an 8-byte header length)"
        )));
    }
    let mut len_bytes = [0u8; 8];
    read_exact(&mut len_bytes)?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_BYTES {
        return Err(bad(format!(
            "the header length field says {header_len} bytes, more than the 100 MB limit: \
             this is not a safetensors file, or its first 8 bytes are damaged"
        )));
    }
    if header_len > file_len - 8 {
        return Err(bad(format!(
            "the header length field says {header_len} bytes but only {} bytes follow it: \
             the file is truncated or not a safetensors file",
            file_len - 8
        )));
    }
    let mut header_bytes = vec![0u8; header_len as usize];
    read_exact(&mut header_bytes)?;
    let Header {
        entries,
        metadata,
        data_len,
    } = header::decode(&header_bytes).map_err(bad)?;

    let present = file_len - 8 - header_len;
    if data_len > present {
        let complete = entries.iter().take_while(|e| e.end <= present).count();
        return Err(bad(format!(
            "the file is truncated: its {} tensors need {data_len} bytes of data but only {present} \
             are present ({complete} complete); save or copy it again",
            entries.len()
        )));
    }
    if data_len < present {
        return Err(bad(format!(
            "the file has {} unexpected bytes after the last tensor's data: it is damaged",
            present - data_len
        )));
    }

    let mut tensors = Vec::with_capacity(entries.len());
    let mut dtypes = Vec::with_capacity(entries.len());
    let mut buf = Vec::new();
    for e in entries {
        buf.resize((e.end - e.begin) as usize, 0);
        read_exact(&mut buf)?;
        tensors.push(NamedTensor {
            name: e.name,
            shape: e.shape,
            data: e.dtype.decode(&buf),
        });
        dtypes.push(e.dtype);
    }
    Ok(Weights {
        path: path.to_path_buf(),
        tensors,
        dtypes,
        metadata,
    })
}

/// The content of a weights file: f32 tensors, how each was stored, and the metadata.
#[derive(Debug, Clone)]
pub struct Weights {
    path: PathBuf,
    /// In file data order; `dtypes[i]` is how `tensors[i]` was stored.
    tensors: Vec<NamedTensor>,
    dtypes: Vec<Dtype>,
    metadata: Vec<(String, String)>,
}

impl Weights {
    /// The file these weights were read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tensors not yet taken, in file order.
    pub fn tensors(&self) -> &[NamedTensor] {
        &self.tensors
    }

    /// The tensor called `name`, if present (and not yet taken).
    pub fn get(&self, name: &str) -> Option<&NamedTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// How the tensor called `name` was stored in the file.
    pub fn stored_dtype(&self, name: &str) -> Option<Dtype> {
        self.tensors
            .iter()
            .position(|t| t.name == name)
            .map(|i| self.dtypes[i])
    }

    /// The `__metadata__` pairs in file order.
    pub fn metadata(&self) -> &[(String, String)] {
        &self.metadata
    }

    /// The metadata value for `key`.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The remaining tensors, giving up the file information.
    pub fn into_tensors(self) -> Vec<NamedTensor> {
        self.tensors
    }

    /// Removes the tensor `name` and returns its values, checking that its shape is
    /// `expected_shape`.
    pub fn take(&mut self, name: &str, expected_shape: &[usize]) -> Result<Vec<f32>> {
        let Some(i) = self.tensors.iter().position(|t| t.name == name) else {
            return Err(Error::weights(
                &self.path,
                format!("the file has no tensor '{name}' (or it was already taken)"),
            ));
        };
        if self.tensors[i].shape != expected_shape {
            return Err(Error::weights(
                &self.path,
                format!(
                    "tensor '{name}' has shape {:?} in the file but the model expects {expected_shape:?}",
                    self.tensors[i].shape
                ),
            ));
        }
        self.dtypes.remove(i);
        Ok(self.tensors.remove(i).data)
    }

    /// Compares the remaining tensors with the `(name, shape)` list a model expects and
    /// reports every missing tensor, every unexpected extra one and every shape mismatch
    /// together in one error.
    pub fn check_against<N: AsRef<str>, S: AsRef<[usize]>>(
        &self,
        expected: &[(N, S)],
    ) -> Result<()> {
        let mut missing = Vec::new();
        let mut mismatched = Vec::new();
        for (name, shape) in expected {
            let (name, shape) = (name.as_ref(), shape.as_ref());
            match self.get(name) {
                None => missing.push(format!("{name} {shape:?}")),
                Some(t) if t.shape != shape => mismatched.push(format!(
                    "{name}: file has {:?}, model expects {shape:?}",
                    t.shape
                )),
                Some(_) => {}
            }
        }
        let extra: Vec<String> = self
            .tensors
            .iter()
            .filter(|t| !expected.iter().any(|(name, _)| name.as_ref() == t.name))
            .map(|t| format!("{} {:?}", t.name, t.shape))
            .collect();
        if missing.is_empty() && extra.is_empty() && mismatched.is_empty() {
            return Ok(());
        }
        let mut parts = Vec::new();
        for (list, what) in [
            (&missing, "missing"),
            (&extra, "unexpected"),
            (&mismatched, "with the wrong shape"),
        ] {
            if !list.is_empty() {
                parts.push(format!(
                    "{} {what} ({})",
                    plural(list.len(), "tensor"),
                    list.join("; ")
                ));
            }
        }
        Err(Error::weights(
            &self.path,
            format!(
                "the weights do not match the model: {}. Were they saved for another model \
                 preset or hash size?",
                parts.join(", ")
            ),
        ))
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
