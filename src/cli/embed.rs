//! `earmark embed FILE`: a file's segment embeddings and bucket keys, printed or as `.npy`.

use super::device::{DeviceArgs, Embedder};
use super::index::parse_hop_ms;
use super::model_choice::ModelArgs;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Embedding values printed per segment in the text output.
const SHOWN_VALUES: usize = 4;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// An audio file.
    file: PathBuf,
    /// Write OUT_PREFIX.embeddings.npy (n × 128 f32) and OUT_PREFIX.logits.npy (n × K f32)
    /// instead of printing.
    #[arg(long, value_name = "OUT_PREFIX")]
    npy: Option<PathBuf>,
    /// Milliseconds between segments: 100 (default) or 50.
    #[arg(long, value_name = "MS", value_parser = parse_hop_ms, default_value = "100")]
    hop_ms: u32,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let device = args.device.open()?;
    let embedder = Embedder::new(&model, &device)?;
    let samples = earmark::audio::load_mono_16k(&args.file)?;
    let e = embedder
        .embed_audio(&samples, args.hop_ms as usize)
        .with_context(|| format!("{}", args.file.display()))?;
    let dim = model.config().emb_dim;
    let k = model.config().k_bits;
    if let Some(prefix) = &args.npy {
        let path = |suffix: &str| {
            let mut name = prefix.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        write_npy(&path(".embeddings.npy"), &e.embeddings, e.n, dim)?;
        write_npy(&path(".logits.npy"), &e.logits, e.n, k)?;
        println!(
            "{} segments: {} and {}",
            e.n,
            path(".embeddings.npy").display(),
            path(".logits.npy").display()
        );
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let hex_digits = k.div_ceil(4);
    writeln!(out, "time_s\tkey\tembedding[0..{SHOWN_VALUES}]")?;
    for i in 0..e.n {
        let key = bucket_key(&e.logits[i * k..(i + 1) * k]);
        let values: Vec<String> = e.embeddings[i * dim..i * dim + SHOWN_VALUES.min(dim)]
            .iter()
            .map(|v| format!("{v:+.4}"))
            .collect();
        let time_s = i as f64 * f64::from(args.hop_ms) * earmark::index::FRAME_SECONDS;
        writeln!(
            out,
            "{time_s:.2}\t{key:0hex_digits$x}\t{}",
            values.join(" ")
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Bucket key of one segment: bit j set iff logit j ≥ 0 (the index's convention).
fn bucket_key(logits: &[f32]) -> u32 {
    logits
        .iter()
        .enumerate()
        .filter(|(_, l)| **l >= 0.0)
        .fold(0, |key, (j, _)| key | (1 << j))
}

/// Writes `values` (rows × cols, row-major) as a NumPy `.npy` file, format version 1.0:
/// magic `\x93NUMPY`, version 1 0, a u16 LE header length, then an ASCII dict
/// (`descr` `<f4`, C order, shape) padded with spaces and ended by `\n` so that the data
/// starts at a multiple of 64 bytes, then the little-endian f32 values.
pub fn write_npy(path: &Path, values: &[f32], rows: usize, cols: usize) -> anyhow::Result<()> {
    std::fs::write(path, npy_bytes(values, rows, cols))
        .with_context(|| format!("writing {}", path.display()))
}

/// Prefix of a version 1.0 header: magic (6 bytes), version (2), header length (2).
const NPY_PREFIX: usize = 10;

/// Alignment of the data start required by the format.
const NPY_ALIGN: usize = 64;

fn npy_bytes(values: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(
        values.len(),
        rows * cols,
        "npy_bytes: {} values are not {rows} × {cols}",
        values.len()
    );
    let mut dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Pad with spaces, keeping room for the final newline.
    let total = (NPY_PREFIX + dict.len() + 1).div_ceil(NPY_ALIGN) * NPY_ALIGN;
    while NPY_PREFIX + dict.len() + 1 < total {
        dict.push(' ');
    }
    dict.push('\n');
    let mut bytes = Vec::with_capacity(total + values.len() * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_describes_the_array() {
        let bytes = npy_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        let data_start = NPY_PREFIX + header_len;
        assert_eq!(data_start % NPY_ALIGN, 0);
        let header = std::str::from_utf8(&bytes[NPY_PREFIX..data_start]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(bytes.len(), data_start + 24);
        assert_eq!(&bytes[data_start + 20..], &6.0f32.to_le_bytes());
    }

    #[test]
    fn bucket_key_sets_bits_of_non_negative_logits() {
        assert_eq!(bucket_key(&[1.0, -1.0, 0.0, -0.5]), 0b0101);
    }
}
