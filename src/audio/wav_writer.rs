//! WAV writer for tests, the demo and query building: 16-bit PCM or 32-bit float, any
//! channel count, written atomically (a temporary file in the same directory, then a
//! rename), so a reader never sees half a file.
//!
//! One or two channels use the plain `fmt ` chunk (PCM tag 1, float tag 3); more channels
//! use WAVE_FORMAT_EXTENSIBLE as the format requires. Float files carry a `fact` chunk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::wav::SUBFORMAT_GUID_TAIL;
use crate::{Error, Result};

/// How samples are stored in a written WAV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavSample {
    /// 16-bit PCM: `round(x · 32768)` clamped to [−32768, 32767]; reading back divides by
    /// 32768, so every value k/32768 survives the round trip exactly.
    I16,
    /// 32-bit IEEE float, stored bit-exactly (NaN and infinities included, which is how
    /// tests build broken files).
    F32,
}

impl WavSample {
    fn bytes(self) -> usize {
        match self {
            WavSample::I16 => 2,
            WavSample::F32 => 4,
        }
    }
}

/// Writes `samples` (interleaved, `channels` per frame, full scale ±1) as a WAV file.
///
/// Errors: [`Error::Invalid`] for 0 channels, a sample count that is not a multiple of
/// `channels`, a 0 Hz rate, non-finite samples with [`WavSample::I16`], or more than
/// 4 GiB of audio; [`Error::Io`] if the file cannot be written.
pub fn write_wav(
    path: impl AsRef<Path>,
    samples: &[f32],
    channels: usize,
    sample_rate: u32,
    sample: WavSample,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = wav_bytes(samples, channels, sample_rate, sample)?;
    write_atomically(path, &bytes)
}

/// The bytes of the WAV file [`write_wav`] would write.
pub(crate) fn wav_bytes(
    samples: &[f32],
    channels: usize,
    sample_rate: u32,
    sample: WavSample,
) -> Result<Vec<u8>> {
    if channels == 0 || channels > usize::from(u16::MAX) {
        return Err(Error::invalid(format!(
            "write_wav: {channels} channels (need 1..=65535)"
        )));
    }
    if !samples.len().is_multiple_of(channels) {
        return Err(Error::invalid(format!(
            "write_wav: {} samples is not a whole number of {channels}-channel frames",
            samples.len()
        )));
    }
    if sample_rate == 0 {
        return Err(Error::invalid("write_wav: sample rate 0 Hz"));
    }
    if sample == WavSample::I16
        && let Some(i) = samples.iter().position(|x| !x.is_finite())
    {
        return Err(Error::invalid(format!(
            "write_wav: sample {i} is {} and cannot be stored as 16-bit PCM",
            samples[i]
        )));
    }
    let data_len = samples.len() * sample.bytes();
    // Header ≤ 12 (RIFF) + 48 (extensible fmt) + 12 (fact) + 8 (data header) bytes.
    if data_len > u32::MAX as usize - 80 {
        return Err(Error::invalid(
            "write_wav: more than 4 GiB of audio does not fit a WAV file",
        ));
    }

    let frames = samples.len() / channels;
    let block_align = channels * sample.bytes();
    let bits = 8 * sample.bytes() as u16;
    let tag: u16 = match sample {
        WavSample::I16 => 0x0001,
        WavSample::F32 => 0x0003,
    };
    let extensible = channels > 2;

    let mut fmt = Vec::with_capacity(40);
    fmt.extend_from_slice(&(if extensible { 0xFFFEu16 } else { tag }).to_le_bytes());
    fmt.extend_from_slice(&(channels as u16).to_le_bytes());
    fmt.extend_from_slice(&sample_rate.to_le_bytes());
    fmt.extend_from_slice(&(sample_rate.saturating_mul(block_align as u32)).to_le_bytes());
    fmt.extend_from_slice(&(block_align as u16).to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        fmt.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        fmt.extend_from_slice(&bits.to_le_bytes()); // valid bits
        fmt.extend_from_slice(&0u32.to_le_bytes()); // channel mask: no speaker positions
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&SUBFORMAT_GUID_TAIL);
    } else if sample == WavSample::F32 {
        fmt.extend_from_slice(&0u16.to_le_bytes()); // cbSize: non-PCM fmt is 18 bytes
    }

    let mut out = Vec::with_capacity(80 + data_len);
    out.extend_from_slice(b"RIFF\0\0\0\0WAVE");
    push_chunk_header(&mut out, b"fmt ", fmt.len());
    out.extend_from_slice(&fmt);
    if sample == WavSample::F32 {
        push_chunk_header(&mut out, b"fact", 4);
        out.extend_from_slice(&(frames as u32).to_le_bytes());
    }
    push_chunk_header(&mut out, b"data", data_len);
    match sample {
        WavSample::I16 => {
            for &x in samples {
                let v = (x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16;
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        WavSample::F32 => {
            for &x in samples {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    // Every chunk has an even size here, so no pad byte is needed.
    let riff_size = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff_size.to_le_bytes());
    Ok(out)
}

fn push_chunk_header(out: &mut Vec<u8>, id: &[u8; 4], len: usize) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(len as u32).to_le_bytes());
}

/// Writes `bytes` to a temporary sibling of `path`, syncs it, and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        Error::invalid(format!("write_wav: {} is not a file path", path.display()))
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp: PathBuf = path.with_file_name(tmp_name);

    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    renamed.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::parse_wav;

    fn round_trip(samples: &[f32], channels: usize, sample: WavSample) -> Vec<f32> {
        let bytes = wav_bytes(samples, channels, 22_050, sample).unwrap();
        let audio = parse_wav(&bytes, Path::new("mem.wav")).unwrap();
        assert_eq!((audio.channels, audio.sample_rate), (channels, 22_050));
        audio.samples
    }

    #[test]
    fn i16_round_trip_is_exact_on_the_16_bit_grid_and_clamps() {
        let grid: Vec<f32> = [-32_768i32, -1, 0, 1, 12_345, 32_767]
            .iter()
            .map(|&k| k as f32 / 32_768.0)
            .collect();
        assert_eq!(round_trip(&grid, 2, WavSample::I16), grid);
        let loud = round_trip(&[1.5, -2.0], 1, WavSample::I16);
        assert_eq!(loud, vec![32_767.0 / 32_768.0, -1.0]);
    }

    #[test]
    fn f32_round_trip_is_bit_exact_for_any_channel_count() {
        for channels in [1, 2, 3, 8, 9] {
            let samples: Vec<f32> = (0..channels * 5)
                .map(|i| (i as f32 * 0.37).sin() * 1.25)
                .collect();
            let bytes = wav_bytes(&samples, channels, 22_050, WavSample::F32).unwrap();
            if channels > 8 {
                // The writer allows any count; the reader refuses more than 8.
                assert!(parse_wav(&bytes, Path::new("x.wav")).is_err());
            } else {
                assert_eq!(round_trip(&samples, channels, WavSample::F32), samples);
            }
        }
        let nan = wav_bytes(&[f32::NAN, f32::INFINITY], 1, 8000, WavSample::F32).unwrap();
        let back = parse_wav(&nan, Path::new("nan.wav")).unwrap().samples;
        assert!(back[0].is_nan() && back[1] == f32::INFINITY);
    }

    #[test]
    fn bad_arguments_are_invalid_errors() {
        let bad = [
            wav_bytes(&[0.0], 0, 8000, WavSample::I16),
            wav_bytes(&[0.0; 3], 2, 8000, WavSample::I16),
            wav_bytes(&[0.0], 1, 0, WavSample::F32),
            wav_bytes(&[f32::NAN], 1, 8000, WavSample::I16),
        ];
        for result in bad {
            assert!(matches!(result, Err(Error::Invalid(_))), "{result:?}");
        }
    }

    #[test]
    fn write_wav_replaces_the_file_atomically_and_leaves_no_temporary() {
        let dir = crate::test_dir::TempDir::new("wav-writer");
        let path = dir.join("tone.wav");
        write_wav(&path, &[0.5; 10], 1, 16_000, WavSample::I16).unwrap();
        write_wav(&path, &[0.25; 4], 2, 16_000, WavSample::F32).unwrap();
        let audio = crate::audio::read_wav(&path).unwrap();
        assert_eq!((audio.samples, audio.channels), (vec![0.25; 4], 2));
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("tone.wav")]);
        let missing_dir = dir.join("no/such/dir/x.wav");
        assert!(matches!(
            write_wav(&missing_dir, &[0.0], 1, 16_000, WavSample::I16),
            Err(Error::Io { .. })
        ));
    }
}
