//! One-call helpers for the rest of the program: decode any supported file (dispatched by
//! its magic bytes, not its extension), validate it, downmix and resample it to 16 kHz
//! mono ([`load_mono_16k`]), or describe it ([`inspect`]).

use std::path::Path;

use super::{SAMPLE_RATE, SEGMENT_HOP_FRAMES, frame_count, resample, resampled_len, segment_count};
use crate::{Error, Result};

/// Decoded audio as it is in the file: interleaved samples at the file's own rate.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedAudio {
    /// Interleaved samples, `frames × channels`, full scale ±1.
    pub samples: Vec<f32>,
    /// Channels per frame, 1..=[`super::MAX_CHANNELS`].
    pub channels: usize,
    /// Frames per second in Hz, > 0.
    pub sample_rate: u32,
    /// What the file holds, e.g. "WAV PCM 16-bit", "FLAC", "Ogg Vorbis", "MP3".
    pub format: String,
}

impl DecodedAudio {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels
    }
}

/// What [`inspect`] reports about a file.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioInfo {
    /// Container and encoding, e.g. "WAV PCM 16-bit", "FLAC", "Ogg Vorbis".
    pub format: String,
    pub channels: usize,
    /// The file's own rate in Hz (Opus always decodes at 48 000).
    pub sample_rate: u32,
    /// Frames / sample rate, in seconds.
    pub duration_seconds: f64,
    /// Number of 1 s segments every 100 ms once the file is resampled to 16 kHz.
    pub segments: usize,
    /// 20·log10(max |x|) over all samples of all channels; −∞ for a silent file.
    pub peak_dbfs: f64,
    /// 20·log10(√(mean x²)) over all samples of all channels (a full-scale sine is
    /// −3.01 dBFS); −∞ for a silent file.
    pub rms_dbfs: f64,
}

/// Decodes, validates, downmixes (mean of channels) and resamples a file to 16 kHz mono.
/// The result is not peak-normalised: [`super::log_mel`] does that.
///
/// Errors, each naming the file: [`Error::Io`] if it cannot be read; [`Error::Audio`] if
/// it is empty, not a supported format, damaged, holds no samples, holds a NaN or
/// infinite sample, or is silent (every sample 0).
pub fn load_mono_16k(path: impl AsRef<Path>) -> Result<Vec<f32>> {
    let path = path.as_ref();
    let audio = decode_file(path)?;
    validate(&audio, path)?;
    if peak(&audio.samples) == 0.0 {
        return Err(Error::audio(path, "silent: every sample is 0"));
    }
    let mono = downmix(&audio.samples, audio.channels);
    resample(&mono, audio.sample_rate, SAMPLE_RATE)
}

/// Decodes a file and describes it. A silent file is reported (with −∞ dBFS), not refused;
/// the other problems [`load_mono_16k`] refuses are errors here too.
pub fn inspect(path: impl AsRef<Path>) -> Result<AudioInfo> {
    let path = path.as_ref();
    let audio = decode_file(path)?;
    validate(&audio, path)?;
    let frames = audio.frames();
    let mean_square = audio
        .samples
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / audio.samples.len() as f64;
    let samples_16k = resampled_len(frames, audio.sample_rate, SAMPLE_RATE);
    Ok(AudioInfo {
        duration_seconds: frames as f64 / f64::from(audio.sample_rate),
        segments: segment_count(frame_count(samples_16k), SEGMENT_HOP_FRAMES),
        peak_dbfs: 20.0 * f64::from(peak(&audio.samples)).log10(),
        rms_dbfs: 10.0 * mean_square.log10(),
        format: audio.format,
        channels: audio.channels,
        sample_rate: audio.sample_rate,
    })
}

/// Mean of the channels of interleaved audio: `frames × channels` → `frames`.
/// Panics if `channels` is 0 or does not divide the sample count (a programmer error).
pub fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    assert!(
        channels > 0 && interleaved.len().is_multiple_of(channels),
        "downmix: {} samples do not split into {channels} channels",
        interleaved.len()
    );
    if channels == 1 {
        return interleaved.to_vec();
    }
    let scale = 1.0 / channels as f32;
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() * scale)
        .collect()
}

/// Reads a file and decodes it with the decoder its first bytes call for.
pub fn decode_file(path: impl AsRef<Path>) -> Result<DecodedAudio> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() {
        return Err(Error::audio(path, "empty file (0 bytes)"));
    }
    match Container::sniff(&bytes) {
        Container::Wav => super::parse_wav(&bytes, path),
        container => decode_compressed(bytes, container, path),
    }
}

#[cfg(feature = "decode")]
fn decode_compressed(bytes: Vec<u8>, container: Container, path: &Path) -> Result<DecodedAudio> {
    match container {
        Container::OggOpus => super::opus::decode_ogg_opus(bytes, path),
        _ => super::decode::decode_compressed(bytes, container.name(), path),
    }
}

#[cfg(not(feature = "decode"))]
fn decode_compressed(bytes: Vec<u8>, container: Container, path: &Path) -> Result<DecodedAudio> {
    Err(Error::audio(
        path,
        match container.name() {
            Some(name) => format!(
                "{name} file, but earmark was built without the decode feature: only WAV can \
                 be read (rebuild with `--features decode`)"
            ),
            None => format!(
                "not a recognised audio file ({}); without the decode feature only WAV can be \
                 read",
                describe_start(&bytes)
            ),
        },
    ))
}

/// Describes the first bytes of an unrecognised file for an error message.
pub(super) fn describe_start(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    format!("it starts with bytes {}", hex.join(" "))
}

/// Checks what every decoded file must satisfy: at least one sample, all finite.
fn validate(audio: &DecodedAudio, path: &Path) -> Result<()> {
    if audio.samples.is_empty() {
        return Err(Error::audio(
            path,
            format!("{}: no audio samples", audio.format),
        ));
    }
    if let Some(i) = audio.samples.iter().position(|x| !x.is_finite()) {
        return Err(Error::audio(
            path,
            format!(
                "sample {} of channel {} (at {:.3} s) is {}",
                i / audio.channels,
                i % audio.channels,
                (i / audio.channels) as f64 / f64::from(audio.sample_rate),
                audio.samples[i]
            ),
        ));
    }
    Ok(())
}

fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, &x| m.max(x.abs()))
}

/// A container recognised by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Container {
    Wav,
    Flac,
    /// Ogg whose first packet is an Opus identification header.
    OggOpus,
    /// Any other Ogg stream (Vorbis, FLAC).
    Ogg,
    Mp3,
    Mp4,
    Adts,
    Unknown,
}

impl Container {
    /// Recognises a container by its magic bytes. Anything starting with a RIFF-family
    /// id is handed to the WAV reader, which explains what is wrong with it.
    pub(super) fn sniff(bytes: &[u8]) -> Container {
        let starts = |magic: &[u8]| bytes.starts_with(magic);
        if starts(b"RIFF") || starts(b"RIFX") || starts(b"RF64") {
            Container::Wav
        } else if starts(b"fLaC") {
            Container::Flac
        } else if starts(b"OggS") {
            // RFC 7845 puts "OpusHead" alone on the first page: after the 27 header bytes
            // and the lacing table.
            let first_packet = 27 + usize::from(*bytes.get(26).unwrap_or(&0));
            match bytes.get(first_packet..first_packet + 8) {
                Some(b"OpusHead") => Container::OggOpus,
                _ => Container::Ogg,
            }
        } else if starts(b"ID3") {
            Container::Mp3 // an ID3v2 tag; symphonia finds the stream behind it
        } else if bytes.len() >= 8 && &bytes[4..8] == b"ftyp" {
            Container::Mp4
        } else if bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0 {
            // MPEG audio frame sync (11 bits set); layer bits 00 mean AAC in ADTS.
            if bytes[1] & 0x06 == 0 {
                Container::Adts
            } else {
                Container::Mp3
            }
        } else {
            Container::Unknown
        }
    }

    /// The format's name for messages, or None if unrecognised.
    pub(super) fn name(self) -> Option<&'static str> {
        match self {
            Container::Wav => Some("WAV"),
            Container::Flac => Some("FLAC"),
            Container::OggOpus => Some("Ogg Opus"),
            Container::Ogg => Some("Ogg"),
            Container::Mp3 => Some("MP3"),
            Container::Mp4 => Some("MP4/M4A"),
            Container::Adts => Some("AAC (ADTS)"),
            Container::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_uses_magic_bytes() {
        let mut opus = b"OggS\0\x02".to_vec();
        opus.resize(26, 0);
        opus.extend_from_slice(b"\x01\x13OpusHead\x01\x02");
        let mut vorbis = opus.clone();
        vorbis[28..36].copy_from_slice(b"\x01vorbis\0");
        let cases: [(&[u8], Container); 11] = [
            (b"RIFF\x24\0\0\0WAVEfmt ", Container::Wav),
            (b"fLaC\0\0\0\x22", Container::Flac),
            (&opus, Container::OggOpus),
            (&vorbis, Container::Ogg),
            (b"OggS\0\x02", Container::Ogg),
            (b"ID3\x04\0\0", Container::Mp3),
            (b"\0\0\0\x20ftypM4A ", Container::Mp4),
            (&[0xFF, 0xFB, 0x90, 0x64], Container::Mp3),
            (&[0xFF, 0xF1, 0x50, 0x80], Container::Adts),
            (b"hello world", Container::Unknown),
            (&[0xFF], Container::Unknown),
        ];
        for (bytes, want) in cases {
            assert_eq!(Container::sniff(bytes), want, "{bytes:?}");
        }
    }

    #[test]
    fn downmix_is_the_mean_of_channels() {
        assert_eq!(downmix(&[1.0, 3.0, -2.0, 0.0], 2), vec![2.0, -1.0]);
        assert_eq!(downmix(&[0.3, 0.6, 0.9], 3), vec![0.6]);
        assert_eq!(downmix(&[0.5, -0.5], 1), vec![0.5, -0.5]);
    }

    #[test]
    #[should_panic(expected = "downmix: 3 samples do not split into 2 channels")]
    fn downmix_panics_on_a_ragged_buffer() {
        downmix(&[0.0; 3], 2);
    }
}
