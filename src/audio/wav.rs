//! Native WAV reader (no crate): RIFF/WAVE with PCM 8/16/24/32-bit integer samples, IEEE
//! float 32/64-bit samples, and WAVE_FORMAT_EXTENSIBLE carrying either; 1 to
//! [`MAX_CHANNELS`] channels at any non-zero rate.
//!
//! Chunk walking is forgiving where real files are sloppy and strict where the audio
//! itself would be wrong:
//! - the RIFF size field is ignored (often wrong); chunks are walked to the end of the file;
//! - odd-sized chunks are followed by one pad byte; unknown chunks (LIST, fact, cue, ...)
//!   are skipped;
//! - once the `data` chunk has been found, a damaged or truncated trailing chunk is ignored;
//! - a `data` chunk that declares more bytes than the file holds is an **error** (the file
//!   was truncated, or its header lies): we never guess which part is missing. The one
//!   exception is the declared size 0xFFFF_FFFF, which streaming writers (ffmpeg to a
//!   pipe) use for "unknown length": then the data runs to the end of the file, cut to
//!   whole frames;
//! - a `data` chunk that is not a whole number of frames is an error.

use std::path::Path;

use super::MAX_CHANNELS;
use super::load::DecodedAudio;
use crate::{Error, Result};

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Bytes 2..16 of every KSDATAFORMAT_SUBTYPE GUID of the form
/// `0000xxxx-0000-0010-8000-00aa00389b71`; bytes 0..2 hold the plain format tag.
pub(super) const SUBFORMAT_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// Declared `data` size meaning "unknown length, read to the end of the file".
const UNKNOWN_LENGTH: u32 = u32::MAX;

/// Size of the `RIFF` + size + `WAVE` preamble, and of a chunk header (id + size).
const RIFF_PREAMBLE: usize = 12;
const CHUNK_HEADER: usize = 8;

/// How one sample is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// 8-bit unsigned, 128 = silence.
    Unsigned8,
    /// Little-endian two's complement in 2, 3 or 4 bytes, valid bits left-justified.
    Signed16,
    Signed24,
    Signed32,
    /// Little-endian IEEE 754.
    Float32,
    Float64,
}

/// What the `fmt ` chunk says.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Format {
    encoding: Encoding,
    channels: usize,
    sample_rate: u32,
    /// Bytes per frame (all channels): `channels * container bytes`.
    block_align: usize,
    /// Human-readable name, e.g. "WAV PCM 16-bit".
    label: String,
}

/// Reads and decodes a WAV file. A missing or unreadable file is [`Error::Io`]; anything
/// wrong inside it is [`Error::Audio`] naming the file and the problem.
pub fn read_wav(path: impl AsRef<Path>) -> Result<DecodedAudio> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_wav(&bytes, path)
}

/// Decodes WAV bytes already in memory; `path` only names the source in errors.
/// Samples come back interleaved, scaled to full scale ±1 (integer formats divide by
/// 2^(bits−1); 8-bit is offset by 128 first).
pub fn parse_wav(bytes: &[u8], path: &Path) -> Result<DecodedAudio> {
    let (format, data) = split_chunks(bytes).map_err(|problem| Error::audio(path, problem))?;
    Ok(DecodedAudio {
        samples: convert(format.encoding, data),
        channels: format.channels,
        sample_rate: format.sample_rate,
        format: format.label,
    })
}

/// Walks the chunks; returns the parsed format and the audio bytes (whole frames).
fn split_chunks(bytes: &[u8]) -> Result<(Format, &[u8]), String> {
    if bytes.len() < RIFF_PREAMBLE {
        return Err(format!(
            "truncated header: a WAV file starts with {RIFF_PREAMBLE} bytes (RIFF, size, WAVE) \
             but this file has only {}",
            bytes.len()
        ));
    }
    match &bytes[0..4] {
        b"RIFF" => {}
        b"RIFX" => return Err("big-endian WAV (RIFX) is not supported".into()),
        b"RF64" => return Err("64-bit WAV (RF64) is not supported".into()),
        other => return Err(format!("not a WAV file: it starts with {}", show_id(other))),
    }
    if &bytes[8..12] != b"WAVE" {
        return Err(format!(
            "RIFF file of type {}, not WAVE",
            show_id(&bytes[8..12])
        ));
    }

    let mut fmt_body: Option<&[u8]> = None;
    // (offset of the data body, declared length or None for "to the end of the file")
    let mut data: Option<(usize, Option<usize>)> = None;
    let mut pos = RIFF_PREAMBLE;
    while pos < bytes.len() {
        let rest = bytes.len() - pos;
        if rest < CHUNK_HEADER {
            if data.is_some() {
                break; // trailing junk after the audio: harmless
            }
            return Err(format!(
                "truncated header: {rest} byte(s) at offset {pos} cannot hold a chunk header"
            ));
        }
        let id = &bytes[pos..pos + 4];
        let declared = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap());
        let body = pos + CHUNK_HEADER;
        let available = bytes.len() - body;
        if id == b"data" && data.is_none() {
            if declared == UNKNOWN_LENGTH {
                data = Some((body, None));
                break;
            }
            let size = declared as usize;
            if size > available {
                return Err(format!(
                    "data chunk declares {size} bytes but only {available} follow: \
                     the file is truncated or its header is wrong"
                ));
            }
            data = Some((body, Some(size)));
        } else if declared as usize > available {
            if data.is_some() {
                break; // a damaged chunk after the audio: ignore it
            }
            return Err(format!(
                "chunk {} at offset {pos} declares {declared} bytes but only {available} \
                 follow: the file is truncated",
                show_id(id)
            ));
        } else if id == b"fmt " && fmt_body.is_none() {
            fmt_body = Some(&bytes[body..body + declared as usize]);
        }
        // Odd-sized chunks carry one pad byte.
        pos = body + declared as usize + (declared as usize & 1);
    }

    let fmt = fmt_body.ok_or("no 'fmt ' chunk: the header is missing or truncated")?;
    let format = parse_fmt(fmt)?;
    let (start, declared) = data.ok_or("no 'data' chunk: the file holds no audio")?;
    let len = match declared {
        Some(len) if !len.is_multiple_of(format.block_align) => {
            return Err(format!(
                "data chunk holds {len} bytes, not a whole number of {}-byte frames",
                format.block_align
            ));
        }
        Some(len) => len,
        None => {
            let available = bytes.len() - start;
            available - available % format.block_align
        }
    };
    Ok((format, &bytes[start..start + len]))
}

/// Parses a `fmt ` chunk body (16, 18 or 40 bytes).
fn parse_fmt(fmt: &[u8]) -> Result<Format, String> {
    if fmt.len() < 16 {
        return Err(format!(
            "truncated header: 'fmt ' chunk has {} bytes, needs 16",
            fmt.len()
        ));
    }
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let mut tag = u16_at(0);
    let channels = usize::from(u16_at(2));
    let sample_rate = u32::from_le_bytes(fmt[4..8].try_into().unwrap());
    let block_align = usize::from(u16_at(12));
    let mut bits = u16_at(14);

    if tag == WAVE_FORMAT_EXTENSIBLE {
        // cbSize (2) + valid bits (2) + channel mask (4) + sub-format GUID (16) = 24 more.
        if fmt.len() < 40 {
            return Err(format!(
                "truncated header: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk has {} bytes, needs 40",
                fmt.len()
            ));
        }
        let valid_bits = u16_at(18);
        if valid_bits != 0 {
            bits = valid_bits;
        }
        if fmt[26..40] != SUBFORMAT_GUID_TAIL {
            return Err("WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID".into());
        }
        tag = u16_at(24);
    }

    if channels == 0 {
        return Err("the header says 0 channels".into());
    }
    if channels > MAX_CHANNELS {
        return Err(format!(
            "{channels} channels: at most {MAX_CHANNELS} are supported"
        ));
    }
    if sample_rate == 0 {
        return Err("the header says the sample rate is 0 Hz".into());
    }
    if block_align == 0 || !block_align.is_multiple_of(channels) {
        return Err(format!(
            "block align {block_align} does not fit {channels} channel(s)"
        ));
    }
    let container = block_align / channels;
    let encoding = match (tag, container) {
        (WAVE_FORMAT_PCM, 1) => Encoding::Unsigned8,
        (WAVE_FORMAT_PCM, 2) => Encoding::Signed16,
        (WAVE_FORMAT_PCM, 3) => Encoding::Signed24,
        (WAVE_FORMAT_PCM, 4) => Encoding::Signed32,
        (WAVE_FORMAT_IEEE_FLOAT, 4) => Encoding::Float32,
        (WAVE_FORMAT_IEEE_FLOAT, 8) => Encoding::Float64,
        (WAVE_FORMAT_PCM | WAVE_FORMAT_IEEE_FLOAT, _) => {
            return Err(format!("unsupported {}-byte samples", container));
        }
        _ => return Err(format!("unsupported WAV encoding: {}", tag_name(tag))),
    };
    let container_bits = 8 * container as u16;
    let label = if tag == WAVE_FORMAT_PCM {
        if bits == 0 || bits > container_bits {
            return Err(format!(
                "{bits} bits per sample do not fit {container}-byte samples"
            ));
        }
        format!("WAV PCM {bits}-bit")
    } else {
        if bits != container_bits {
            return Err(format!(
                "float samples of {bits} bits in {container}-byte containers"
            ));
        }
        format!("WAV float {bits}-bit")
    };
    Ok(Format {
        encoding,
        channels,
        sample_rate,
        block_align,
        label,
    })
}

/// Converts whole frames of raw bytes to f32 at full scale ±1.
fn convert(encoding: Encoding, data: &[u8]) -> Vec<f32> {
    match encoding {
        Encoding::Unsigned8 => data
            .iter()
            .map(|&b| (f32::from(b) - 128.0) / 128.0)
            .collect(),
        Encoding::Signed16 => data
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0)
            .collect(),
        // Place the 3 bytes in the top of an i32, then shift back to sign-extend.
        Encoding::Signed24 => data
            .chunks_exact(3)
            .map(|b| (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0)
            .collect(),
        Encoding::Signed32 => data
            .chunks_exact(4)
            .map(|b| {
                (f64::from(i32::from_le_bytes(b.try_into().unwrap())) / 2_147_483_648.0) as f32
            })
            .collect(),
        Encoding::Float32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        Encoding::Float64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32)
            .collect(),
    }
}

/// A chunk or form id for messages: printable ASCII in quotes, else hex bytes.
fn show_id(id: &[u8]) -> String {
    if id.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("'{}'", String::from_utf8_lossy(id))
    } else {
        let hex: Vec<String> = id.iter().map(|b| format!("{b:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}

fn tag_name(tag: u16) -> String {
    let name = match tag {
        0x0002 => "Microsoft ADPCM",
        0x0006 => "A-law",
        0x0007 => "µ-law",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0050 | 0x0055 => "MPEG audio",
        _ => "unknown",
    };
    format!("{name} (format tag 0x{tag:04x})")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A hand-built WAV: `fmt` body given in full, then the extra chunks, then `data`.
    pub(crate) fn riff(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        for (id, body) in chunks {
            out.extend_from_slice(*id);
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(body);
            if body.len() % 2 == 1 {
                out.push(0);
            }
        }
        let riff_size = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&riff_size.to_le_bytes());
        out
    }

    /// A 16-byte `fmt ` body.
    pub(crate) fn fmt(tag: u16, channels: u16, rate: u32, container: u16, bits: u16) -> Vec<u8> {
        let block_align = channels * container;
        let mut f = Vec::new();
        f.extend_from_slice(&tag.to_le_bytes());
        f.extend_from_slice(&channels.to_le_bytes());
        f.extend_from_slice(&rate.to_le_bytes());
        f.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
        f.extend_from_slice(&block_align.to_le_bytes());
        f.extend_from_slice(&bits.to_le_bytes());
        f
    }

    fn extensible(sub_tag: u16, channels: u16, container: u16, valid_bits: u16) -> Vec<u8> {
        let mut f = fmt(
            WAVE_FORMAT_EXTENSIBLE,
            channels,
            48_000,
            container,
            8 * container,
        );
        f.extend_from_slice(&22u16.to_le_bytes());
        f.extend_from_slice(&valid_bits.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&sub_tag.to_le_bytes());
        f.extend_from_slice(&SUBFORMAT_GUID_TAIL);
        f
    }

    fn parse(bytes: &[u8]) -> Result<DecodedAudio> {
        parse_wav(bytes, Path::new("test.wav"))
    }

    fn problem(bytes: &[u8]) -> String {
        match parse(bytes) {
            Err(Error::Audio { path, problem }) => {
                assert_eq!(path, Path::new("test.wav"));
                problem
            }
            other => panic!("expected an audio error, got {other:?}"),
        }
    }

    #[test]
    fn every_integer_and_float_encoding_decodes_to_full_scale() {
        // (fmt body, data bytes, decoded samples, format label)
        type Case = (Vec<u8>, Vec<u8>, Vec<f32>, &'static str);
        let cases: Vec<Case> = vec![
            (
                fmt(1, 1, 8000, 1, 8),
                vec![0, 128, 255],
                vec![-1.0, 0.0, 127.0 / 128.0],
                "WAV PCM 8-bit",
            ),
            (
                fmt(1, 1, 8000, 2, 16),
                [i16::MIN, 0, 16_384]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                vec![-1.0, 0.0, 0.5],
                "WAV PCM 16-bit",
            ),
            (
                fmt(1, 1, 8000, 3, 24),
                vec![0x00, 0x00, 0x80, 0xff, 0xff, 0xff, 0x00, 0x00, 0x40],
                vec![-1.0, -1.0 / 8_388_608.0, 0.5],
                "WAV PCM 24-bit",
            ),
            (
                fmt(1, 1, 8000, 4, 32),
                [i32::MIN, -1, 1 << 30]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                vec![-1.0, -1.0 / 2_147_483_648.0, 0.5],
                "WAV PCM 32-bit",
            ),
            (
                fmt(3, 1, 8000, 4, 32),
                [0.25f32, -0.75, 1.5]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                vec![0.25, -0.75, 1.5],
                "WAV float 32-bit",
            ),
            (
                fmt(3, 1, 8000, 8, 64),
                [0.125f64, -1.0, 0.0]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                vec![0.125, -1.0, 0.0],
                "WAV float 64-bit",
            ),
        ];
        for (f, data, want, label) in cases {
            let audio = parse(&riff(&[(b"fmt ", &f), (b"data", &data)])).unwrap();
            assert_eq!(audio.samples, want, "{label}");
            assert_eq!(audio.format, label);
            assert_eq!((audio.channels, audio.sample_rate), (1, 8000));
        }
    }

    #[test]
    fn extensible_pcm_and_float_with_channels_interleaved() {
        // 20 valid bits in 24-bit containers, 3 channels, one frame.
        let f = extensible(WAVE_FORMAT_PCM, 3, 3, 20);
        let data = [0x00, 0x00, 0x40, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00];
        let audio = parse(&riff(&[(b"fmt ", &f), (b"data", &data)])).unwrap();
        assert_eq!(audio.samples, vec![0.5, -0.5, 0.0]);
        assert_eq!((audio.channels, audio.sample_rate), (3, 48_000));
        assert_eq!(audio.format, "WAV PCM 20-bit");

        let f = extensible(WAVE_FORMAT_IEEE_FLOAT, 2, 4, 32);
        let data: Vec<u8> = [0.5f32, -0.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let audio = parse(&riff(&[(b"fmt ", &f), (b"data", &data)])).unwrap();
        assert_eq!(audio.samples, vec![0.5, -0.25]);
        assert_eq!(audio.format, "WAV float 32-bit");

        let mut bad_guid = extensible(WAVE_FORMAT_PCM, 1, 2, 16);
        bad_guid[39] ^= 0xff;
        let bytes = riff(&[(b"fmt ", &bad_guid), (b"data", &[0, 0])]);
        assert!(problem(&bytes).contains("sub-format"));
    }

    #[test]
    fn odd_chunks_are_padded_and_unknown_chunks_skipped() {
        let f = fmt(1, 1, 16_000, 2, 16);
        let data: Vec<u8> = [100i16, -100, 7]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bytes = riff(&[
            (b"LIST", b"INFOISFT\x03\0\0\0ab\0"), // 15 bytes: one pad byte follows
            (b"fmt ", &f),
            (b"junk", b"x"),
            (b"data", &data),
            (b"LIST", b"INFO"),
        ]);
        let audio = parse(&bytes).unwrap();
        assert_eq!(
            audio.samples,
            vec![100.0 / 32_768.0, -100.0 / 32_768.0, 7.0 / 32_768.0]
        );
    }

    #[test]
    fn damaged_chunks_after_the_audio_are_ignored() {
        let f = fmt(1, 1, 16_000, 2, 16);
        let mut bytes = riff(&[(b"fmt ", &f), (b"data", &[1, 0, 2, 0])]);
        bytes.extend_from_slice(b"LIST\xff\0\0\0abc"); // declares 255 bytes, has 3
        assert_eq!(parse(&bytes).unwrap().samples.len(), 2);
        bytes.truncate(bytes.len() - 7); // 4 stray bytes: not even a chunk header
        assert_eq!(parse(&bytes).unwrap().samples.len(), 2);
    }

    #[test]
    fn unknown_length_data_runs_to_the_end_in_whole_frames() {
        let f = fmt(1, 2, 16_000, 2, 16);
        let mut bytes = riff(&[(b"fmt ", &f), (b"data", &[])]);
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0, 64, 0, 192, 0, 32]); // 1.5 stereo frames
        let audio = parse(&bytes).unwrap();
        assert_eq!(audio.samples, vec![0.5, -0.5]);
    }

    #[test]
    fn lying_or_partial_data_is_an_error() {
        let f = fmt(1, 1, 16_000, 2, 16);
        let mut bytes = riff(&[(b"fmt ", &f), (b"data", &[0; 8])]);
        let n = bytes.len();
        bytes[n - 12..n - 8].copy_from_slice(&1000u32.to_le_bytes());
        let p = problem(&bytes);
        assert!(p.contains("declares 1000 bytes but only 8"), "{p}");

        let bytes = riff(&[(b"fmt ", &f), (b"data", &[0; 5])]);
        assert!(problem(&bytes).contains("not a whole number of 2-byte frames"));
    }

    #[test]
    fn truncated_headers_are_errors() {
        let full = riff(&[(b"fmt ", &fmt(1, 1, 16_000, 2, 16)), (b"data", &[0; 4])]);
        for cut in [0, 4, 11] {
            assert!(
                problem(&full[..cut]).contains("truncated header"),
                "cut at {cut}"
            );
        }
        assert!(problem(&full[..12]).contains("no 'fmt ' chunk"));
        assert!(problem(&full[..16]).contains("truncated header"));
        assert!(problem(&full[..30]).contains("truncated"));
        assert!(problem(&full[..36]).contains("no 'data' chunk"));
        let short_fmt = riff(&[(b"fmt ", &[1, 0, 1, 0]), (b"data", &[0; 4])]);
        assert!(problem(&short_fmt).contains("truncated header"));
    }

    #[test]
    fn absurd_headers_are_errors() {
        let data = [0u8; 36];
        let nine = riff(&[(b"fmt ", &fmt(1, 9, 16_000, 2, 16)), (b"data", &data)]);
        assert!(problem(&nine).contains("9 channels: at most 8"));
        let zero = riff(&[(b"fmt ", &fmt(1, 0, 16_000, 2, 16)), (b"data", &data)]);
        assert!(problem(&zero).contains("0 channels"));
        let no_rate = riff(&[(b"fmt ", &fmt(1, 1, 0, 2, 16)), (b"data", &data)]);
        assert!(problem(&no_rate).contains("0 Hz"));
        let adpcm = riff(&[(b"fmt ", &fmt(2, 1, 16_000, 2, 4)), (b"data", &data)]);
        assert!(problem(&adpcm).contains("Microsoft ADPCM"));
        let wide = riff(&[(b"fmt ", &fmt(1, 1, 16_000, 6, 48)), (b"data", &data)]);
        assert!(problem(&wide).contains("6-byte samples"));
        let bits = riff(&[(b"fmt ", &fmt(1, 1, 16_000, 2, 24)), (b"data", &data)]);
        assert!(problem(&bits).contains("24 bits per sample do not fit"));
        let text = b"hello, this is not audio at all\n";
        assert!(problem(text).contains("not a WAV file"));
        let mut rifx = nine.clone();
        rifx[3] = b'X';
        assert!(problem(&rifx).contains("RIFX"));
    }
}
