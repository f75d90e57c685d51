//! Audio front-end: decode, downmix, resample to 16 kHz, STFT, log-mel, segments.
pub mod augment;
pub mod noise;
pub mod rir;
