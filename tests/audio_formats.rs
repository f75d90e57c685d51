//! The audio front-end on real files: WAV written and read back through the file system,
//! and (feature `decode`) the tiny compressed files in tests/data/, made from a known
//! synthetic signal (see tests/data/README.md), decoded and compared with that signal.

mod common;

use common::{TempDir, temp_dir};

use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

use earmark::audio::{
    SEGMENT_HOP_FRAMES, WavSample, downmix, inspect, load_mono_16k, log_mel, segment_count,
    write_wav,
};

/// The two tones of each channel of the test signal (Hz), as in tests/data/README.md.
const TONES: [(f64, f64); 6] = [
    (440.0, 1250.0),
    (660.0, 2100.0),
    (330.0, 990.0),
    (550.0, 1650.0),
    (880.0, 2640.0),
    (770.0, 1540.0),
];

/// The synthetic source, interleaved: channel c is 0.4·sin(2π·a·t) + 0.2·sin(2π·b·t),
/// faded in and out over 20 ms.
fn tone_signal(rate: u32, seconds: f64, channels: usize) -> Vec<f32> {
    let n = (f64::from(rate) * seconds).round() as usize;
    let mut out = Vec::with_capacity(n * channels);
    for i in 0..n {
        let t = i as f64 / f64::from(rate);
        let fade = (t / 0.02).min((seconds - t) / 0.02).min(1.0);
        for &(a, b) in &TONES[..channels] {
            out.push(((0.4 * (TAU * a * t).sin() + 0.2 * (TAU * b * t).sin()) * fade) as f32);
        }
    }
    out
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn scratch_dir(test: &str) -> TempDir {
    temp_dir(test)
}

#[test]
fn wav_through_the_file_system_to_segments() {
    let dir = scratch_dir("wav-e2e");
    let path = dir.join("tones.wav");
    let stereo = tone_signal(44_100, 1.5, 2);
    write_wav(&path, &stereo, 2, 44_100, WavSample::I16).unwrap();

    let info = inspect(&path).unwrap();
    assert_eq!(info.format, "WAV PCM 16-bit");
    assert_eq!((info.channels, info.sample_rate), (2, 44_100));
    assert!((info.duration_seconds - 1.5).abs() < 1e-9);
    // 1.5 s at 16 kHz = 24 000 samples → 151 frames → (151 − 100) / 10 + 1 = 6 segments.
    assert_eq!(info.segments, 6);
    let peak = stereo.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!((info.peak_dbfs - 20.0 * f64::from(peak).log10()).abs() < 1e-3);
    assert!(info.rms_dbfs < info.peak_dbfs - 3.0);

    let mono = load_mono_16k(&path).unwrap();
    assert_eq!(mono.len(), 24_000);
    let want: Vec<f32> = downmix(&tone_signal(16_000, 1.5, 2), 2);
    let err = mono[800..23_000]
        .iter()
        .zip(&want[800..23_000])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        err < 2e-3,
        "16 kHz mono deviates from the ideal signal by {err}"
    );

    let mel = log_mel(&mono).unwrap();
    assert_eq!(mel.frames, 151);
    assert_eq!(segment_count(mel.frames, SEGMENT_HOP_FRAMES), info.segments);
}

#[test]
fn float_wav_with_many_channels_loads_as_their_mean() {
    let dir = scratch_dir("wav-8ch");
    let path = dir.join("eight.wav");
    let eight = tone_signal(22_050, 0.5, 6)
        .chunks_exact(6)
        .flat_map(|f| [f[0], f[1], f[2], f[3], f[4], f[5], 0.25, -0.25])
        .collect::<Vec<f32>>();
    write_wav(&path, &eight, 8, 22_050, WavSample::F32).unwrap();
    let info = inspect(&path).unwrap();
    assert_eq!(
        (info.format.as_str(), info.channels),
        ("WAV float 32-bit", 8)
    );
    let mono = load_mono_16k(&path).unwrap();
    assert_eq!(mono.len(), 8000);
    let want = downmix(&tone_signal(16_000, 0.5, 6), 6);
    let err = mono[500..7500]
        .iter()
        .zip(&want[500..7500])
        .map(|(a, b)| (a * 8.0 / 6.0 - b).abs())
        .fold(0.0, f32::max);
    assert!(err < 2e-3, "{err}");
}

/// The decoder is chosen by the file's first bytes, not its name.
#[test]
fn misnamed_files_are_decoded_by_content() {
    let dir = scratch_dir("misnamed");
    let wav = dir.join("really-a-wav.flac");
    write_wav(
        &wav,
        &tone_signal(16_000, 0.2, 1),
        1,
        16_000,
        WavSample::I16,
    )
    .unwrap();
    assert_eq!(inspect(&wav).unwrap().format, "WAV PCM 16-bit");
    #[cfg(feature = "decode")]
    {
        let ogg = dir.join("really-vorbis.mp3");
        std::fs::copy(data("tone.ogg"), &ogg).unwrap();
        assert_eq!(inspect(&ogg).unwrap().format, "Ogg Vorbis");
        let opus = dir.join("really-opus.wav");
        std::fs::copy(data("tone.opus"), &opus).unwrap();
        assert_eq!(inspect(&opus).unwrap().format, "Ogg Opus");
    }
}

#[cfg(not(feature = "decode"))]
#[test]
fn compressed_files_need_the_decode_feature() {
    for name in ["tone.flac", "tone.ogg", "tone.mp3", "tone.m4a", "tone.opus"] {
        match load_mono_16k(data(name)) {
            Err(earmark::Error::Audio { path, problem }) => {
                assert_eq!(path, data(name));
                assert!(
                    problem.contains("built without the decode feature"),
                    "{name}: {problem}"
                );
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[cfg(feature = "decode")]
mod compressed {
    use super::*;
    use earmark::audio::decode_file;

    /// Normalised cross-correlation of `b` against `a` shifted by `lag` samples.
    fn correlation(a: &[f32], b: &[f32], lag: usize) -> f64 {
        let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
        for (x, y) in a.iter().zip(b.iter().skip(lag)) {
            let (x, y) = (f64::from(*x), f64::from(*y));
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        ab / (aa * bb).sqrt()
    }

    struct Case {
        file: &'static str,
        format: &'static str,
        channels: usize,
        rate: u32,
        seconds: f64,
        /// Gapless decoders give back exactly the encoded frames; AAC (symphonia has no
        /// AAC gapless support) keeps the encoder's priming and padding.
        gapless: bool,
        /// Least normalised correlation with the source (lossy codecs at 16–64 kbps).
        min_correlation: f64,
    }

    const CASES: [Case; 7] = [
        Case {
            file: "tone.flac",
            format: "FLAC",
            channels: 1,
            rate: 8_000,
            seconds: 0.3,
            gapless: true,
            min_correlation: 0.999_99,
        },
        Case {
            file: "tone.ogg",
            format: "Ogg Vorbis",
            channels: 2,
            rate: 44_100,
            seconds: 0.3,
            gapless: true,
            min_correlation: 0.99,
        },
        Case {
            file: "tone.mp3",
            format: "MP3",
            channels: 2,
            rate: 44_100,
            seconds: 0.3,
            gapless: true,
            min_correlation: 0.99,
        },
        Case {
            file: "tone.m4a",
            format: "AAC (MP4/M4A)",
            channels: 2,
            rate: 44_100,
            seconds: 0.3,
            gapless: false,
            min_correlation: 0.95,
        },
        Case {
            file: "tone.aac",
            format: "AAC (ADTS)",
            channels: 2,
            rate: 44_100,
            seconds: 0.3,
            gapless: false,
            min_correlation: 0.95,
        },
        Case {
            file: "tone.opus",
            format: "Ogg Opus",
            channels: 2,
            rate: 48_000,
            seconds: 0.3,
            gapless: true,
            min_correlation: 0.98,
        },
        // The LFE channel (the 4th in WAV order) is coded low-pass, so its 550/1650 Hz tones
        // are mostly lost: libopus's own decode correlates 0.91 with the source too.
        Case {
            file: "tone-5.1.opus",
            format: "Ogg Opus",
            channels: 6,
            rate: 48_000,
            seconds: 0.1,
            gapless: true,
            min_correlation: 0.9,
        },
    ];

    /// Every format decodes to the signal that was encoded: right layout, right length
    /// (gapless codecs), and the same waveform (at lag 0 for gapless codecs; AAC within
    /// its 2112-sample priming).
    #[test]
    fn compressed_formats_decode_to_the_encoded_signal() {
        for case in &CASES {
            let audio = decode_file(data(case.file)).unwrap();
            assert_eq!(audio.format, case.format, "{}", case.file);
            assert_eq!(
                (audio.channels, audio.sample_rate),
                (case.channels, case.rate),
                "{}",
                case.file
            );
            let source = tone_signal(case.rate, case.seconds, case.channels);
            let frames = source.len() / case.channels;
            let (got, want) = (
                downmix(&audio.samples, audio.channels),
                downmix(&source, case.channels),
            );
            let (lag, corr) = if case.gapless {
                assert_eq!(audio.frames(), frames, "{}: frame count", case.file);
                (0, correlation(&want, &got, 0))
            } else {
                assert!(
                    audio.frames() >= frames,
                    "{}: {} frames",
                    case.file,
                    audio.frames()
                );
                (0..=2112)
                    .map(|lag| (lag, correlation(&want, &got, lag)))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap()
            };
            assert!(
                corr >= case.min_correlation,
                "{}: correlation {corr:.5} at lag {lag}",
                case.file
            );
        }
    }

    #[test]
    fn flac_is_lossless() {
        let audio = decode_file(data("tone.flac")).unwrap();
        let source = tone_signal(8_000, 0.3, 1);
        for (i, (&got, &x)) in audio.samples.iter().zip(&source).enumerate() {
            let pcm = (f64::from(x) * 32_767.0).round() / 32_768.0;
            assert!(
                (f64::from(got) - pcm).abs() <= 1.0 / 32_768.0,
                "sample {i}: {got} vs {pcm}"
            );
        }
    }

    /// Our Opus decode equals libopus's (`opusdec --float --rate 48000`, opus-tools 0.2 with
    /// libopus 1.3.1): the mean of the channels at a dozen sample indices.
    #[test]
    fn opus_matches_the_libopus_reference_decode() {
        let references: [(&str, [(usize, f32); 12]); 2] = [
            (
                "tone.opus",
                [
                    (100, -0.019866424),
                    (1390, -0.027456615),
                    (2681, -0.25392133),
                    (3972, -0.061893),
                    (5263, 0.49611944),
                    (6554, 0.011101881),
                    (7844, -0.10087241),
                    (9135, -0.41946658),
                    (10426, 0.18563865),
                    (11717, 0.21577372),
                    (13008, 0.019292708),
                    (14299, 0.0031434284),
                ],
            ),
            (
                "tone-5.1.opus",
                [
                    (100, -0.0064353016),
                    (518, -0.026424564),
                    (936, 0.04498556),
                    (1354, 0.004961269),
                    (1772, 0.20162772),
                    (2190, 0.25855485),
                    (2608, -0.26868775),
                    (3026, -0.15151183),
                    (3444, 0.04913651),
                    (3862, -0.08640047),
                    (4280, 0.0584377),
                    (4699, 0.009823157),
                ],
            ),
        ];
        for (file, values) in references {
            let audio = decode_file(data(file)).unwrap();
            let mono = downmix(&audio.samples, audio.channels);
            for (i, want) in values {
                assert!(
                    (mono[i] - want).abs() < 1e-5,
                    "{file}[{i}]: {} vs libopus {want}",
                    mono[i]
                );
            }
        }
    }

    #[test]
    fn every_format_loads_as_16khz_mono() {
        for case in &CASES {
            let mono = load_mono_16k(data(case.file)).unwrap();
            let want = (16_000.0 * case.seconds).round() as usize;
            if case.gapless {
                assert_eq!(mono.len(), want, "{}", case.file);
            } else {
                assert!(mono.len() >= want, "{}", case.file);
            }
            let info = inspect(data(case.file)).unwrap();
            assert_eq!(
                (info.format.as_str(), info.channels),
                (case.format, case.channels)
            );
            assert!(
                info.peak_dbfs < 0.0 && info.peak_dbfs > -12.0,
                "{}: {}",
                case.file,
                info.peak_dbfs
            );
        }
    }
}
