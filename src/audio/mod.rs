//! Audio front-end: decode, downmix, resample to 16 kHz, STFT, log-mel, segments.
//!
//! The pipeline (DESIGN.md §2), one file per step:
//!
//! ```text
//! file ─[load: sniff magic bytes]─> wav (native) | decode (symphonia, opus; feature `decode`)
//!      ─> interleaved f32 ─[load::downmix]─> mono ─[resample]─> 16 kHz
//!      ─[mel: peak-normalise, stft, mel filterbank, 10·log10]─> Mel (frames × 64)
//!      ─[segment]─> 1 s segments (100 × 64) every `hop_frames` frames
//! ```
//!
//! Layout contract, relied on by the model and the index: a [`Mel`] is frame-major,
//! `data[t * N_MELS + band]`, so a segment is the contiguous run of
//! `SEGMENT_FRAMES * N_MELS = 6400` floats starting at frame `t0`, and the encoder's 10
//! patches of 10 frames × 64 bands are contiguous runs of 640 floats inside it.

pub mod augment;
mod load;
mod mel;
pub mod noise;
mod resample;
pub mod rir;
mod segment;
mod stft;
mod wav;
mod wav_writer;

#[cfg(feature = "decode")]
mod decode;
#[cfg(feature = "decode")]
mod opus;

pub use load::{AudioInfo, DecodedAudio, decode_file, downmix, inspect, load_mono_16k};
pub use mel::{LogMel, Mel, MelFilterbank, hz_to_mel, log_mel, mel_to_hz, peak_normalise};
pub use resample::{Resampler, resample, resampled_len};
pub use segment::{
    collect_segments, levelled_segments, segment_count, segment_mean_power, segment_starts,
    segments,
};
pub use stft::{Stft, frame_count};
pub use wav::{parse_wav, read_wav};
pub use wav_writer::{WavSample, write_wav};

/// The model's sample rate in Hz. Every file is resampled to it.
pub const SAMPLE_RATE: u32 = 16_000;

/// FFT size in samples: 512 / 16 000 Hz = 32 ms of audio per frame.
pub const N_FFT: usize = 512;

/// Number of one-sided spectrum bins: N_FFT / 2 + 1 = 257, spaced 16 000 / 512 = 31.25 Hz
/// apart, from 0 Hz to the Nyquist frequency 8 000 Hz.
pub const N_BINS: usize = N_FFT / 2 + 1;

/// Hop between frames in samples: 160 / 16 000 Hz = 10 ms, so 100 frames per second.
pub const HOP: usize = 160;

/// Reflect padding on each side of the signal: N_FFT / 2 = 256 samples, so that frame `t`
/// is centred on sample `t * HOP` (torchaudio's `center=True, pad_mode="reflect"`).
pub const PAD: usize = N_FFT / 2;

/// Number of mel bands (HTK scale, 0–8 000 Hz, no area normalisation).
pub const N_MELS: usize = 64;

/// Lowest filterbank frequency in Hz.
pub const MEL_F_MIN: f64 = 0.0;

/// Highest filterbank frequency in Hz: the Nyquist frequency, 16 000 / 2 = 8 000.
pub const MEL_F_MAX: f64 = SAMPLE_RATE as f64 / 2.0;

/// Floor applied to mel power before the log: 10·log10(1e-10) = −100 dB.
pub const LOG_FLOOR: f32 = 1e-10;

/// Frames per segment: 100 frames × 10 ms = 1 s of audio.
pub const SEGMENT_FRAMES: usize = 100;

/// Floats per segment: 100 frames × 64 bands = 6400, frame-major.
pub const SEGMENT_FLOATS: usize = SEGMENT_FRAMES * N_MELS;

/// Default hop between segments in frames: 10 frames × 10 ms = 100 ms (database and
/// queries alike). 5 (50 ms) is also supported everywhere a hop is taken.
pub const SEGMENT_HOP_FRAMES: usize = 10;

/// A segment whose mean power (of its 1 s of peak-normalised waveform) is at most this is
/// silent, and training skips it (DESIGN.md §4). 1e-4 is −40 dB below a full-scale square.
pub const SILENT_SEGMENT_POWER: f32 = 1e-4;

/// Most channels a file may have. More is almost surely a broken header, not music.
pub const MAX_CHANNELS: usize = 8;
