//! Bad input never panics: each case is a typed error that names the file and says what is
//! wrong ([`Error::Io`] for a missing file, [`Error::Audio`] for everything else), from both
//! `load_mono_16k` and `inspect`.

mod common;

use common::{TempDir, temp_dir};

use std::path::{Path, PathBuf};

use earmark::Error;
use earmark::audio::{WavSample, inspect, load_mono_16k, write_wav};

/// A fresh directory per test, so tests can run in parallel.
struct Scratch(TempDir);

impl Scratch {
    fn new(test: &str) -> Scratch {
        Scratch(temp_dir(&format!("bad-{test}")))
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn wav(
        &self,
        name: &str,
        samples: &[f32],
        channels: usize,
        rate: u32,
        sample: WavSample,
    ) -> PathBuf {
        let path = self.0.join(name);
        write_wav(&path, samples, channels, rate, sample).unwrap();
        path
    }
}

/// Asserts that loading and inspecting `path` both fail with an audio error that names the
/// file and whose problem contains `what`.
fn assert_refused(path: &Path, what: &str) {
    let results = [
        ("load_mono_16k", load_mono_16k(path).map(|_| ())),
        ("inspect", inspect(path).map(|_| ())),
    ];
    for (call, result) in results {
        match result {
            Err(e @ Error::Audio { .. }) => {
                let Error::Audio {
                    path: named,
                    problem,
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!(named, path, "{call}: error names another file");
                assert!(
                    problem.contains(what),
                    "{call} {}: {problem:?} lacks {what:?}",
                    path.display()
                );
                let file_name = path.file_name().unwrap().to_str().unwrap();
                assert!(
                    e.to_string().contains(file_name),
                    "{call}: message {e} does not name the file"
                );
            }
            other => panic!(
                "{call} {}: expected an audio error about {what:?}, got {other:?}",
                path.display()
            ),
        }
    }
}

/// Patches `len` bytes at `offset` of a file.
fn patch(path: &Path, offset: usize, bytes: &[u8]) {
    let mut content = std::fs::read(path).unwrap();
    content[offset..offset + bytes.len()].copy_from_slice(bytes);
    std::fs::write(path, content).unwrap();
}

const TONE: [f32; 8] = [0.1, 0.5, -0.3, 0.2, -0.6, 0.0, 0.4, -0.1];

#[test]
fn a_missing_file_is_an_io_error() {
    let path = std::env::temp_dir().join("earmark-no-such-file.wav");
    match load_mono_16k(&path) {
        Err(Error::Io { path: named, .. }) => assert_eq!(named, path),
        other => panic!("{other:?}"),
    }
    assert!(matches!(inspect(&path), Err(Error::Io { .. })));
}

#[test]
fn an_empty_file() {
    let dir = Scratch::new("empty");
    assert_refused(&dir.file("empty.wav", b""), "empty file");
}

#[test]
fn a_truncated_header() {
    let dir = Scratch::new("truncated");
    assert_refused(
        &dir.file("cut.wav", b"RIFF\x24\x00\x00\x00WAV"),
        "truncated header",
    );
    let full = dir.wav("full.wav", &TONE, 1, 16_000, WavSample::I16);
    let bytes = std::fs::read(&full).unwrap();
    assert_refused(&dir.file("cut-fmt.wav", &bytes[..30]), "truncated");
}

#[test]
fn a_text_file_named_wav() {
    let dir = Scratch::new("text");
    let text = b"This is a shopping list, not audio.\nmilk\neggs\n";
    assert_refused(&dir.file("list.wav", text), "not a recognised audio file");
}

#[test]
fn a_data_chunk_that_lies_about_its_length() {
    let dir = Scratch::new("liar");
    let path = dir.wav("liar.wav", &TONE, 1, 16_000, WavSample::I16);
    // 16-bit mono PCM: RIFF (12) + fmt (8 + 16) + "data" (4), then the data size.
    patch(&path, 40, &1_000_000u32.to_le_bytes());
    assert_refused(&path, "declares 1000000 bytes but only 16 follow");
}

#[test]
fn zero_samples() {
    let dir = Scratch::new("zero");
    assert_refused(
        &dir.wav("nothing.wav", &[], 2, 44_100, WavSample::I16),
        "no audio samples",
    );
}

#[test]
fn all_silent_audio() {
    let dir = Scratch::new("silent");
    let path = dir.wav("silence.wav", &[0.0; 4000], 1, 16_000, WavSample::I16);
    match load_mono_16k(&path) {
        Err(Error::Audio { problem, .. }) => assert!(problem.contains("silent"), "{problem}"),
        other => panic!("{other:?}"),
    }
    // inspect describes a silent file instead of refusing it.
    let info = inspect(&path).unwrap();
    assert_eq!(info.peak_dbfs, f64::NEG_INFINITY);
}

#[test]
fn nan_and_infinite_samples() {
    let dir = Scratch::new("nonfinite");
    let mut nan = TONE.to_vec();
    nan[5] = f32::NAN;
    assert_refused(
        &dir.wav("nan.wav", &nan, 2, 16_000, WavSample::F32),
        "sample 2 of channel 1 (at 0.000 s) is NaN",
    );
    let mut inf = TONE.to_vec();
    inf[2] = f32::INFINITY;
    assert_refused(
        &dir.wav("inf.wav", &inf, 1, 16_000, WavSample::F32),
        "is inf",
    );
}

#[test]
fn more_than_eight_channels() {
    let dir = Scratch::new("nine");
    let path = dir.wav("nine.wav", &[0.1; 18], 9, 16_000, WavSample::I16);
    assert_refused(&path, "9 channels: at most 8");
}

#[test]
fn a_zero_hz_sample_rate() {
    let dir = Scratch::new("zero-hz");
    let path = dir.wav("zero-hz.wav", &TONE, 1, 16_000, WavSample::I16);
    patch(&path, 24, &0u32.to_le_bytes()); // fmt: tag (2) + channels (2), then the rate
    assert_refused(&path, "0 Hz");
}

/// Deterministic pseudo-random bytes.
#[cfg(feature = "decode")]
fn garbage(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 56) as u8
        })
        .collect()
}

#[cfg(feature = "decode")]
#[test]
fn garbage_behind_compressed_magic_bytes() {
    let dir = Scratch::new("garbage");
    let mut opus_head = b"OggS\x00\x02".to_vec();
    opus_head.resize(26, 0);
    opus_head.extend_from_slice(b"\x01\x13OpusHead");
    for (name, magic) in [
        ("junk.flac", b"fLaC".to_vec()),
        ("junk.ogg", b"OggS".to_vec()),
        ("junk.opus", opus_head),
        ("junk.m4a", b"\x00\x00\x00\x20ftypM4A ".to_vec()),
    ] {
        let mut bytes = magic;
        bytes.extend(garbage(4000, 9));
        let path = dir.file(name, &bytes);
        for result in [load_mono_16k(&path).map(|_| ()), inspect(&path).map(|_| ())] {
            match result {
                Err(Error::Audio {
                    path: named,
                    problem,
                }) => {
                    assert_eq!(named, path);
                    assert!(!problem.is_empty());
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

/// Real files cut short must not panic: they either decode what is there or are refused.
#[cfg(feature = "decode")]
#[test]
fn truncated_compressed_files_never_panic() {
    let dir = Scratch::new("cut-compressed");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for name in [
        "tone.flac",
        "tone.ogg",
        "tone.mp3",
        "tone.m4a",
        "tone.aac",
        "tone.opus",
    ] {
        let bytes = std::fs::read(data.join(name)).unwrap();
        for keep in [bytes.len() / 10, bytes.len() / 2, bytes.len() - 7] {
            let path = dir.file(name, &bytes[..keep]);
            match load_mono_16k(&path) {
                Ok(mono) => assert!(mono.iter().all(|x| x.is_finite())),
                Err(Error::Audio { path: named, .. }) => assert_eq!(named, path),
                Err(other) => panic!("{name} cut to {keep} bytes: {other:?}"),
            }
        }
    }
}
