//! The safetensors header: encoding it for [`super::save`] and decoding plus validating it
//! for [`super::load`].
//!
//! Layout of a file (all integers little-endian):
//! ```text
//! [u64 N][N bytes: JSON header, space-padded][data: every tensor's bytes, back to back]
//! header = {"__metadata__": {"key": "value", ...},
//!           "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
//! ```
//! `data_offsets` count bytes from the start of the data section. As in the reference
//! implementation, the tensors must tile the data section exactly (no gaps, no overlap, no
//! trailing bytes), so a file cannot hide other content.

use std::collections::HashSet;

use super::Dtype;
use super::json::{self, Value};

/// Largest header accepted: 100 MB, the reference implementation's `MAX_HEADER_SIZE`.
/// A real header is a few kB; anything above is damage or not a safetensors file.
pub(super) const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The header's reserved key for the string-to-string metadata map.
pub(super) const METADATA_KEY: &str = "__metadata__";

/// The header is padded with spaces to a multiple of this many bytes, so that the data
/// section starts 8-byte aligned (8 + N is then a multiple of 8), as the reference writer does.
const HEADER_ALIGN: usize = 8;

/// One tensor as the header describes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Byte range `begin..end` within the data section.
    pub begin: u64,
    pub end: u64,
}

/// A decoded, validated header.
#[derive(Debug)]
pub(super) struct Header {
    /// Sorted by `begin`; they tile `0..data_len` exactly.
    pub entries: Vec<Entry>,
    pub metadata: Vec<(String, String)>,
    /// Bytes of tensor data the header describes.
    pub data_len: u64,
}

/// The header bytes for `entries` (in the given order) and `metadata`, padded with spaces
/// to a multiple of 8 bytes. The metadata key is omitted when `metadata` is empty.
pub(super) fn encode(entries: &[Entry], metadata: &[(String, String)]) -> Vec<u8> {
    let mut out = String::from("{");
    if !metadata.is_empty() {
        json::write_string(&mut out, METADATA_KEY);
        out.push_str(":{");
        for (i, (key, value)) in metadata.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::write_string(&mut out, key);
            out.push(':');
            json::write_string(&mut out, value);
        }
        out.push('}');
    }
    for (i, e) in entries.iter().enumerate() {
        if i > 0 || !metadata.is_empty() {
            out.push(',');
        }
        json::write_string(&mut out, &e.name);
        let dims: Vec<String> = e.shape.iter().map(usize::to_string).collect();
        out.push_str(&format!(
            ":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            e.dtype.name(),
            dims.join(","),
            e.begin,
            e.end
        ));
    }
    out.push('}');
    let padded = out.len().next_multiple_of(HEADER_ALIGN);
    let mut bytes = out.into_bytes();
    bytes.resize(padded, b' ');
    bytes
}

/// Decodes and validates header bytes. The error is a problem description for the user;
/// the caller adds the file's path.
pub(super) fn decode(bytes: &[u8]) -> Result<Header, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "the header is not valid UTF-8 (at byte {} of the header): \
             the file is damaged or not a safetensors file",
            e.valid_up_to()
        )
    })?;
    if !text.starts_with('{') {
        return Err("the header does not start with '{': this is not a safetensors file".into());
    }
    let root = json::parse(text).map_err(|e| {
        format!(
            "the header is not valid JSON: {} (at byte {} of the header); \
             the file is damaged or not a safetensors file",
            e.what, e.at
        )
    })?;
    let Value::Object(members) = root else {
        return Err(format!(
            "the header is {}, expected a JSON object",
            root.kind()
        ));
    };

    let mut entries: Vec<Entry> = Vec::with_capacity(members.len());
    // A 100 MB header can list a million tensors: look names up in a set, not a scan.
    let mut names = HashSet::with_capacity(members.len());
    let mut metadata = None;
    for (key, value) in members {
        if key == METADATA_KEY {
            if metadata.is_some() {
                return Err(format!("the header has two \"{METADATA_KEY}\" entries"));
            }
            metadata = Some(decode_metadata(value)?);
        } else {
            if !names.insert(key.clone()) {
                return Err(format!("the header lists tensor '{key}' twice"));
            }
            entries.push(decode_entry(key, value)?);
        }
    }
    let data_len = check_tiling(&mut entries)?;
    Ok(Header {
        entries,
        metadata: metadata.unwrap_or_default(),
        data_len,
    })
}

fn decode_metadata(value: Value) -> Result<Vec<(String, String)>, String> {
    let Value::Object(members) = value else {
        return Err(format!(
            "\"{METADATA_KEY}\" is {}, expected an object of strings",
            value.kind()
        ));
    };
    let mut out: Vec<(String, String)> = Vec::with_capacity(members.len());
    let mut keys = HashSet::with_capacity(members.len());
    for (key, value) in members {
        let Value::String(s) = value else {
            return Err(format!(
                "metadata '{key}' is {}, expected a string",
                value.kind()
            ));
        };
        if !keys.insert(key.clone()) {
            return Err(format!("metadata key '{key}' appears twice"));
        }
        out.push((key, s));
    }
    Ok(out)
}

fn decode_entry(name: String, value: Value) -> Result<Entry, String> {
    let Value::Object(fields) = value else {
        return Err(format!(
            "tensor '{name}' is described by {}, expected an object with dtype, shape and data_offsets",
            value.kind()
        ));
    };
    let (mut dtype, mut shape, mut offsets) = (None, None, None);
    for (field, value) in fields {
        let slot = match field.as_str() {
            "dtype" => &mut dtype,
            "shape" => &mut shape,
            "data_offsets" => &mut offsets,
            _ => return Err(format!("tensor '{name}' has an unknown field '{field}'")),
        };
        if slot.replace(value).is_some() {
            return Err(format!("tensor '{name}' has field '{field}' twice"));
        }
    }
    let missing = |field: &str| format!("tensor '{name}' has no '{field}' field");

    let dtype = match dtype.ok_or_else(|| missing("dtype"))? {
        Value::String(s) => Dtype::from_name(&s).ok_or_else(|| {
            format!(
                "tensor '{name}' has dtype {s}, which earmark cannot read \
                 (it reads F32, F16 and BF16); convert the file's tensors to a float type"
            )
        })?,
        other => {
            return Err(format!(
                "tensor '{name}': dtype is {}, expected a string",
                other.kind()
            ));
        }
    };
    let shape = match shape.ok_or_else(|| missing("shape"))? {
        Value::Array(dims) => dims
            .iter()
            .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| format!("tensor '{name}': shape must be a list of whole numbers"))?,
        other => {
            return Err(format!(
                "tensor '{name}': shape is {}, expected a list",
                other.kind()
            ));
        }
    };
    let [begin, end] = match offsets.ok_or_else(|| missing("data_offsets"))? {
        Value::Array(items) if items.len() == 2 => {
            let mut pair = [0u64; 2];
            for (slot, item) in pair.iter_mut().zip(&items) {
                *slot = item.as_u64().ok_or_else(|| {
                    format!("tensor '{name}': data_offsets must be two whole numbers")
                })?;
            }
            pair
        }
        _ => {
            return Err(format!(
                "tensor '{name}': data_offsets must be a list [begin, end]"
            ));
        }
    };
    if begin > end {
        return Err(format!(
            "tensor '{name}': data_offsets [{begin}, {end}] end before they begin"
        ));
    }
    let bytes = shape
        .iter()
        .try_fold(dtype.size_bytes() as u64, |acc, &d| {
            acc.checked_mul(d as u64)
        })
        .ok_or_else(|| format!("tensor '{name}': shape {shape:?} is absurdly large"))?;
    if end - begin != bytes {
        return Err(format!(
            "tensor '{name}': data_offsets [{begin}, {end}] span {} bytes, but shape {shape:?} \
             of {} needs {bytes}; the header is damaged",
            end - begin,
            dtype.name()
        ));
    }
    Ok(Entry {
        name,
        dtype,
        shape,
        begin,
        end,
    })
}

/// Sorts `entries` by offset and checks that they tile the data section from 0 without
/// gaps or overlaps. Returns the data section's length.
fn check_tiling(entries: &mut [Entry]) -> Result<u64, String> {
    entries.sort_by_key(|e| (e.begin, e.end));
    let mut covered = 0u64;
    let mut previous: Option<&str> = None;
    for e in entries.iter() {
        if e.begin < covered {
            return Err(format!(
                "tensors '{}' and '{}' overlap in the data (bytes {}..{}); the header is damaged",
                previous.unwrap_or_default(),
                e.name,
                e.begin,
                covered
            ));
        }
        if e.begin > covered {
            return Err(format!(
                "data bytes {covered}..{} belong to no tensor (a gap before '{}'); the header is damaged",
                e.begin, e.name
            ));
        }
        covered = e.end;
        previous = Some(&e.name);
    }
    Ok(covered)
}
