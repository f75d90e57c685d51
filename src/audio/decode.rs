//! Compressed formats (feature `decode`) through symphonia 0.6: FLAC (native or in Ogg),
//! Ogg Vorbis, MP3, AAC in ADTS or MP4/M4A. (Ogg Opus goes to [`super::opus`]: symphonia
//! has no Opus decoder.)
//!
//! Damaged packets are skipped, as players do, unless they are at least as many as the
//! good ones: then the file is refused.
//!
//! FLAC, Vorbis and MP3 (with a LAME/Xing tag) come back gapless: encoder delay and padding
//! are trimmed. symphonia does not trim AAC, so AAC keeps the encoder's priming at the start
//! (1024 samples from ffmpeg's encoder, 23 ms at 44.1 kHz; 2112 from Apple's) and its
//! padding at the end; times measured in an AAC file are late by that much.

use std::io::Cursor;
use std::path::Path;

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_AAC, CODEC_ID_FLAC, CODEC_ID_MP3, CODEC_ID_OPUS, CODEC_ID_VORBIS,
};
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoderOptions};
use symphonia::core::errors::Error as DecodeError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::MAX_CHANNELS;
use super::load::{DecodedAudio, describe_start};
use crate::{Error, Result};

/// Decodes a compressed file held in memory. `container` is what its magic bytes said
/// (None if they were not recognised: symphonia then searches the stream itself).
pub(super) fn decode_compressed(
    bytes: Vec<u8>,
    container: Option<&'static str>,
    path: &Path,
) -> Result<DecodedAudio> {
    let what = container.unwrap_or("audio");
    let unrecognised = describe_start(&bytes);
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let probed = symphonia::default::get_probe().probe(
        &hint,
        stream,
        FormatOptions::default(),
        MetadataOptions::default(),
    );
    let format = probed.map_err(|e| match container {
        Some(name) => Error::audio(path, format!("{name} file could not be read: {e}")),
        None => Error::audio(
            path,
            format!(
                "not a recognised audio file ({unrecognised}); supported: WAV, FLAC, \
                 Ogg Vorbis, Ogg Opus, MP3, AAC/M4A"
            ),
        ),
    })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| Error::audio(path, format!("{what} file has no audio track")))?;
    let track_id = track.id;
    let params = match &track.codec_params {
        Some(CodecParameters::Audio(params)) => params.clone(),
        _ => {
            return Err(Error::audio(
                path,
                format!("{what} file has no audio codec parameters"),
            ));
        }
    };
    if params.codec == CODEC_ID_OPUS {
        // Ogg Opus is sniffed and decoded by `super::opus` before symphonia is involved.
        return Err(Error::audio(
            path,
            "Opus outside an Ogg Opus file is not supported",
        ));
    }
    let decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| {
            Error::audio(
                path,
                format!("{what} file: no decoder for codec {}: {e}", params.codec),
            )
        })?;
    let label = label(params.codec, format.format_info().short_name).unwrap_or_else(|| {
        format!(
            "{} in {}",
            decoder.codec_info().long_name,
            format.format_info().long_name
        )
    });
    decode_packets(format, decoder, track_id, label, path)
}

fn decode_packets(
    mut format: Box<dyn FormatReader>,
    mut decoder: Box<dyn symphonia::core::codecs::audio::AudioDecoder>,
    track_id: u32,
    label: String,
    path: &Path,
) -> Result<DecodedAudio> {
    let fail = |e: DecodeError| Error::audio(path, format!("{label} decoding failed: {e}"));
    let mut samples = Vec::new();
    let mut packet_samples = Vec::new();
    let mut layout: Option<(usize, u32)> = None;
    let mut damaged = PacketTally::default();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(e) if is_end_of_stream(&e) => break,
            Err(e) => return Err(fail(e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(decoded) => {
                damaged.good += 1;
                let spec = decoded.spec();
                let this = (spec.channels().count(), spec.rate());
                check_layout(&mut layout, this, &label, path)?;
                decoded.copy_to_vec_interleaved::<f32>(&mut packet_samples);
                samples.extend_from_slice(&packet_samples);
            }
            Err(DecodeError::DecodeError(why)) => damaged.note(why),
            Err(e) if is_end_of_stream(&e) => break,
            Err(e) => return Err(fail(e)),
        }
    }
    damaged.check(&label, path)?;
    let (channels, sample_rate) =
        layout.ok_or_else(|| Error::audio(path, format!("{label}: no audio samples")))?;
    Ok(DecodedAudio {
        samples,
        channels,
        sample_rate,
        format: label,
    })
}

/// Counts good and damaged packets; the file is refused if damage is not the exception.
#[derive(Default)]
pub(super) struct PacketTally {
    pub(super) good: usize,
    bad: usize,
    first_problem: Option<String>,
}

impl PacketTally {
    pub(super) fn note(&mut self, problem: impl std::fmt::Display) {
        self.bad += 1;
        self.first_problem
            .get_or_insert_with(|| problem.to_string());
    }

    pub(super) fn check(&self, label: &str, path: &Path) -> Result<()> {
        if self.bad > 0 && self.bad >= self.good {
            return Err(Error::audio(
                path,
                format!(
                    "{label}: {} of {} packets are damaged (first: {})",
                    self.bad,
                    self.bad + self.good,
                    self.first_problem.as_deref().unwrap_or("?")
                ),
            ));
        }
        Ok(())
    }
}

/// Records the first packet's (channels, rate) and refuses a change mid-file, more
/// channels than [`MAX_CHANNELS`], or a 0 Hz rate.
fn check_layout(
    layout: &mut Option<(usize, u32)>,
    this: (usize, u32),
    label: &str,
    path: &Path,
) -> Result<()> {
    let (channels, rate) = this;
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(Error::audio(
            path,
            format!("{label}: {channels} channels (1 to {MAX_CHANNELS} are supported)"),
        ));
    }
    if rate == 0 {
        return Err(Error::audio(path, format!("{label}: sample rate 0 Hz")));
    }
    match *layout {
        None => *layout = Some(this),
        Some(first) if first != this => {
            return Err(Error::audio(
                path,
                format!(
                    "{label}: the stream changes from {} ch at {} Hz to {channels} ch at \
                     {rate} Hz mid-file",
                    first.0, first.1
                ),
            ));
        }
        Some(_) => {}
    }
    Ok(())
}

/// Some demuxers report the end of the data as an unexpected end of file.
fn is_end_of_stream(e: &DecodeError) -> bool {
    matches!(e, DecodeError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof)
}

/// A name for the common formats, e.g. "FLAC", "Ogg Vorbis", "MP3", "AAC (MP4/M4A)".
fn label(codec: AudioCodecId, container: &str) -> Option<String> {
    let name = match (codec, container) {
        (CODEC_ID_FLAC, "ogg") => "Ogg FLAC",
        (CODEC_ID_FLAC, _) => "FLAC",
        (CODEC_ID_VORBIS, "ogg") => "Ogg Vorbis",
        (CODEC_ID_MP3, _) => "MP3",
        (CODEC_ID_AAC, "isomp4") => "AAC (MP4/M4A)",
        (CODEC_ID_AAC, _) => "AAC (ADTS)",
        _ => return None,
    };
    Some(name.to_string())
}
