//! Audio front-end: decode, downmix, resample to 16 kHz, STFT, log-mel, segments.
