//! Ogg Opus (feature `decode`): symphonia's Ogg demuxer finds the stream and its packets,
//! the pure-Rust `opus-decoder` crate (RFC 8251 conformant, no unsafe) decodes them at
//! 48 kHz, and this file does what RFC 7845 asks of the player, as `opusdec` does:
//! - read the identification header (`OpusHead`): channel count, pre-skip, output gain,
//!   channel mapping (family 0 = mono/stereo, 1 and 255 = multistream up to 8 channels);
//! - drop the first `pre_skip` samples (encoder delay);
//! - trim the end of the last packet to the final granule position (symphonia's
//!   `trim_end`);
//! - apply the output gain, 10^(gain / 20) with the gain in Q7.8 dB.

use std::path::Path;

use opus_decoder::{OpusDecoder, OpusMultistreamDecoder};
use symphonia::core::codecs::audio::AudioCodecParameters;
use symphonia::core::formats::FormatReader;

use super::MAX_CHANNELS;
use super::decode::{PacketTally, check_layout, is_end_of_stream};
use super::load::DecodedAudio;
use crate::{Error, Result};

/// Opus always decodes at 48 kHz here (the input rate in the header is informational).
const OPUS_RATE: u32 = 48_000;

/// Longest Opus packet: 120 ms at 48 kHz.
const MAX_PACKET_FRAMES: usize = 5_760;

const LABEL: &str = "Ogg Opus";

/// The fields of an `OpusHead` packet (RFC 7845 §5.1) that decoding needs.
#[derive(Clone, Debug, PartialEq)]
struct OpusHead {
    channels: usize,
    /// Samples at 48 kHz to drop from the start.
    pre_skip: usize,
    /// Output gain in dB.
    gain_db: f32,
    /// Channel mapping family, and for families ≠ 0 the stream layout.
    family: u8,
    streams: usize,
    coupled: usize,
    mapping: Vec<u8>,
}

impl OpusHead {
    fn parse(head: &[u8]) -> Result<OpusHead, String> {
        if head.len() < 19 || &head[0..8] != b"OpusHead" {
            return Err("missing or short OpusHead identification header".into());
        }
        let channels = usize::from(head[9]);
        let pre_skip = usize::from(u16::from_le_bytes([head[10], head[11]]));
        let gain_db = f32::from(i16::from_le_bytes([head[16], head[17]])) / 256.0;
        let family = head[18];
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(format!(
                "{channels} channels (1 to {MAX_CHANNELS} are supported)"
            ));
        }
        let (streams, coupled, mapping) = if family == 0 {
            if channels > 2 {
                return Err(format!("mapping family 0 with {channels} channels"));
            }
            (1, channels - 1, (0..channels as u8).collect())
        } else {
            if head.len() < 21 + channels {
                return Err("OpusHead too short for its channel mapping table".into());
            }
            let (streams, coupled) = (usize::from(head[19]), usize::from(head[20]));
            if streams == 0 || coupled > streams {
                return Err(format!("{streams} streams of which {coupled} coupled"));
            }
            (streams, coupled, head[21..21 + channels].to_vec())
        };
        Ok(OpusHead {
            channels,
            pre_skip,
            gain_db,
            family,
            streams,
            coupled,
            mapping,
        })
    }
}

enum Decoder {
    Single(OpusDecoder),
    Multi(OpusMultistreamDecoder),
}

impl Decoder {
    fn new(head: &OpusHead) -> Result<Decoder, String> {
        let made = if head.family == 0 {
            OpusDecoder::new(OPUS_RATE, head.channels).map(Decoder::Single)
        } else {
            OpusMultistreamDecoder::new(
                OPUS_RATE,
                head.channels,
                head.streams,
                head.coupled,
                &head.mapping,
            )
            .map(Decoder::Multi)
        };
        made.map_err(|e| format!("cannot set up the Opus decoder: {e}"))
    }

    /// Decodes one packet into `pcm` (interleaved); returns frames per channel.
    fn decode(&mut self, packet: &[u8], pcm: &mut [f32]) -> Result<usize, opus_decoder::OpusError> {
        match self {
            Decoder::Single(d) => d.decode_float(packet, pcm, false),
            Decoder::Multi(d) => d.decode_float(packet, pcm, false),
        }
    }
}

/// Decodes the Opus track `track_id` of an Ogg stream opened by symphonia.
pub(super) fn decode_ogg_opus(
    mut format: Box<dyn FormatReader>,
    track_id: u32,
    params: &AudioCodecParameters,
    path: &Path,
) -> Result<DecodedAudio> {
    let bad = |problem: String| Error::audio(path, format!("{LABEL}: {problem}"));
    let head = OpusHead::parse(params.extra_data.as_deref().unwrap_or(&[])).map_err(bad)?;
    let mut decoder = Decoder::new(&head).map_err(bad)?;
    let channels = head.channels;
    let mut pcm = vec![0.0f32; MAX_PACKET_FRAMES * channels];
    let mut samples = Vec::new();
    let mut layout = None;
    let mut damaged = PacketTally::default();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(e) if is_end_of_stream(&e) => break,
            Err(e) => return Err(bad(format!("demuxing failed: {e}"))),
        };
        if packet.track_id != track_id || packet.data.is_empty() {
            continue;
        }
        match decoder.decode(&packet.data, &mut pcm) {
            Ok(frames) => {
                damaged.good += 1;
                check_layout(&mut layout, (channels, OPUS_RATE), LABEL, path)?;
                let end = frames - (packet.trim_end.get() as usize).min(frames);
                let start = (packet.trim_start.get() as usize).min(end);
                samples.extend_from_slice(&pcm[start * channels..end * channels]);
            }
            Err(e) => damaged.note(e),
        }
    }
    damaged.check(LABEL, path)?;
    if layout.is_none() {
        return Err(bad("no audio samples".into()));
    }
    samples.drain(..(head.pre_skip * channels).min(samples.len()));
    if head.gain_db != 0.0 {
        let gain = 10f32.powf(head.gain_db / 20.0);
        samples.iter_mut().for_each(|x| *x *= gain);
    }
    Ok(DecodedAudio {
        samples,
        channels,
        sample_rate: OPUS_RATE,
        format: LABEL.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(channels: u8, pre_skip: u16, gain: i16, family: u8, tail: &[u8]) -> Vec<u8> {
        let mut h = b"OpusHead\x01".to_vec();
        h.push(channels);
        h.extend_from_slice(&pre_skip.to_le_bytes());
        h.extend_from_slice(&48_000u32.to_le_bytes());
        h.extend_from_slice(&gain.to_le_bytes());
        h.push(family);
        h.extend_from_slice(tail);
        h
    }

    #[test]
    fn opus_head_fields_and_mappings() {
        let stereo = OpusHead::parse(&head(2, 312, -512, 0, &[])).unwrap();
        assert_eq!(
            (stereo.channels, stereo.pre_skip, stereo.gain_db),
            (2, 312, -2.0)
        );
        assert_eq!(
            (stereo.streams, stereo.coupled, stereo.mapping),
            (1, 1, vec![0, 1])
        );
        let surround = OpusHead::parse(&head(6, 0, 0, 1, &[4, 2, 0, 4, 1, 2, 3, 5])).unwrap();
        assert_eq!((surround.streams, surround.coupled), (4, 2));
        assert_eq!(surround.mapping, vec![0, 4, 1, 2, 3, 5]);
    }

    #[test]
    fn bad_opus_heads_are_refused() {
        assert!(OpusHead::parse(b"OpusHea").is_err());
        assert!(
            OpusHead::parse(&head(3, 0, 0, 0, &[]))
                .unwrap_err()
                .contains("family 0")
        );
        assert!(
            OpusHead::parse(&head(9, 0, 0, 1, &[5, 4, 0, 1, 2, 3, 4, 5, 6, 7, 8]))
                .unwrap_err()
                .contains("9 channels")
        );
        assert!(OpusHead::parse(&head(0, 0, 0, 0, &[])).is_err());
        assert!(OpusHead::parse(&head(4, 0, 0, 1, &[2, 3, 0, 1, 2, 3])).is_err());
        assert!(OpusHead::parse(&head(4, 0, 0, 1, &[2, 1, 0])).is_err());
    }
}
