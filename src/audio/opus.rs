//! Ogg Opus (feature `decode`) through the pure-Rust `opus-pure` crate, end to end: its Ogg
//! reader, its decoders (at 48 kHz; they agree with libopus's float decoder, `opusdec
//! --float`, to about 130 dB SNR on our test streams), and its `Trim`, which does what RFC
//! 7845 asks of a player, as `opusdec` does: drop the header's pre-skip (encoder delay) and
//! cut the last packet to the final granule position. The header's output gain is applied.
//!
//! symphonia has no Opus decoder, so [`super::load`] routes Ogg files whose first packet
//! is `OpusHead` here instead of to symphonia.
//!
//! Channels come out in the stream's own order (Vorbis order for mapping family 1, e.g.
//! L C R Ls Rs LFE); `opusdec` reorders surround to WAV order. Downmixing makes that moot.
//!
//! A packet that fails to decode is concealed (packet-loss concealment over the previous
//! packet's duration), as players do, and counted; a stream with as many damaged packets as
//! good ones is refused.

use std::io::Cursor;
use std::path::Path;

use opus_pure::{
    MAX_PACKET_SAMPLES, OggOpusReader, OggPacket, OpusDecoder, OpusHead, OpusMSDecoder, Trim,
};

use super::MAX_CHANNELS;
use super::decode::PacketTally;
use super::load::DecodedAudio;
use crate::{Error, Result};

/// Opus always decodes at 48 kHz here (the input rate in the header is informational).
const OPUS_RATE: i32 = 48_000;

const LABEL: &str = "Ogg Opus";

/// A mono/stereo decoder (mapping family 0) or a surround one (family 1, up to 8 channels).
/// The single decoder keeps ~10 KB of state inline, hence the box.
enum Decoder {
    Single(Box<OpusDecoder>),
    Multi(OpusMSDecoder),
}

impl Decoder {
    fn new(head: &OpusHead) -> opus_pure::Result<Decoder> {
        if head.mapping_family == 0 {
            return Ok(Decoder::Single(Box::new(head.decoder(OPUS_RATE)?)));
        }
        let mut multi = OpusMSDecoder::new(
            OPUS_RATE,
            usize::from(head.channel_count),
            head.mapping_family,
        )?;
        for stream in multi.streams_mut() {
            stream.gain_q8 = i32::from(head.output_gain_q8);
        }
        Ok(Decoder::Multi(multi))
    }

    /// Decodes one packet (or conceals a lost one if `packet` is empty) into interleaved
    /// `pcm`; returns samples per channel.
    fn decode(
        &mut self,
        packet: &[u8],
        frames: usize,
        pcm: &mut [f32],
    ) -> opus_pure::Result<usize> {
        match self {
            Decoder::Single(d) => d.decode(packet, frames, pcm),
            Decoder::Multi(d) => d.decode(packet, frames, pcm),
        }
    }

    /// Duration of the last decoded packet in samples per channel (0 before the first).
    fn last_packet_duration(&self) -> usize {
        match self {
            Decoder::Single(d) => d.last_packet_duration(),
            Decoder::Multi(d) => d.streams()[0].last_packet_duration(),
        }
    }
}

/// Decodes a whole Ogg Opus file held in memory.
pub(super) fn decode_ogg_opus(bytes: Vec<u8>, path: &Path) -> Result<DecodedAudio> {
    let bad = |e: opus_pure::Error| Error::audio(path, format!("{LABEL}: {e}"));
    let mut reader = OggOpusReader::new(Cursor::new(bytes)).map_err(bad)?;
    let head = reader.head().clone();
    let channels = usize::from(head.channel_count);
    if channels > MAX_CHANNELS {
        return Err(Error::audio(
            path,
            format!("{LABEL}: {channels} channels (1 to {MAX_CHANNELS} are supported)"),
        ));
    }
    let mut decoder = Decoder::new(&head).map_err(bad)?;
    let mut trim = Trim::new(&head, OPUS_RATE, channels).map_err(bad)?;
    let mut pcm = vec![0.0f32; MAX_PACKET_SAMPLES * channels];
    let mut packet = OggPacket::new(Vec::new(), 0, false);
    let mut samples = Vec::new();
    let mut damaged = PacketTally::default();
    while reader.read_packet_into(&mut packet).map_err(bad)? {
        let frames = match decoder.decode(&packet.data, MAX_PACKET_SAMPLES, &mut pcm) {
            Ok(frames) => {
                damaged.good += 1;
                frames
            }
            Err(e) => {
                damaged.note(e);
                let lost = decoder.last_packet_duration();
                if lost == 0 {
                    continue;
                }
                decoder.decode(&[], lost, &mut pcm).map_err(bad)?
            }
        };
        samples.extend_from_slice(trim.keep(&packet, &pcm[..frames * channels]));
    }
    damaged.check(LABEL, path)?;
    Ok(DecodedAudio {
        samples,
        channels,
        sample_rate: OPUS_RATE as u32,
        format: LABEL.to_string(),
    })
}
