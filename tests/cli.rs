//! End-to-end tests of the `earmark` binary: index → query on generated music-like WAVs
//! with an untrained encoder (`--random-model 1`), output formats, library edits, and
//! failure modes (unreadable audio, damaged library, broken pipe).

mod common;

use common::{earmark, stderr, stdout, temp_dir};
use earmark::audio::{WavSample, write_wav};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const RATE: usize = 16_000;
const TRACK_SECONDS: usize = 8;

/// A deterministic pseudo-random stream (xorshift64*), enough for note choices.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A music-like track: 16 chords of three random notes, each with a Hann envelope.
fn song(seed: u64) -> Vec<f32> {
    let mut rng = Lcg(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let n = TRACK_SECONDS * RATE;
    let chord = n / 16;
    let mut out = vec![0.0f32; n];
    for c in 0..16 {
        let freqs: Vec<f64> = (0..3).map(|_| 150.0 + 1350.0 * rng.next()).collect();
        for i in 0..chord {
            let t = i as f64 / RATE as f64;
            let env = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / chord as f64).cos();
            let v: f64 = freqs
                .iter()
                .map(|f| (2.0 * std::f64::consts::PI * f * t).sin())
                .sum();
            out[c * chord + i] = (0.15 * env * v) as f32;
        }
    }
    out
}

fn write(path: &Path, samples: &[f32]) {
    write_wav(path, samples, 1, RATE as u32, WavSample::I16).unwrap();
}

/// Three tracks in `dir/lib` (one in a subfolder), indexed into `dir/lib/lib.earmark`.
fn indexed(dir: &Path) -> (PathBuf, Vec<Vec<f32>>) {
    let lib = dir.join("lib");
    std::fs::create_dir_all(lib.join("sub")).unwrap();
    let songs: Vec<Vec<f32>> = (1..=3).map(song).collect();
    write(&lib.join("a.wav"), &songs[0]);
    write(&lib.join("b.wav"), &songs[1]);
    write(&lib.join("sub/c.wav"), &songs[2]);
    let library = lib.join("lib.earmark");
    let o = earmark(&[
        "index",
        lib.to_str().unwrap(),
        "-o",
        library.to_str().unwrap(),
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    (library, songs)
}

/// `seconds` of `song` from `start_s`, plus optional white-ish noise of amplitude `noise`.
fn excerpt(dir: &Path, name: &str, song: &[f32], start_s: f64, noise: f32) -> PathBuf {
    let start = (start_s * RATE as f64) as usize;
    let mut rng = Lcg(7);
    let samples: Vec<f32> = song[start..start + 2 * RATE]
        .iter()
        .map(|x| x + noise * (rng.next() as f32 - 0.5))
        .collect();
    let path = dir.join(name);
    write(&path, &samples);
    path
}

#[test]
fn index_then_query_finds_track_and_start() {
    let dir = temp_dir("cli-query");
    let (library, songs) = indexed(&dir);
    let lib = library.to_str().unwrap();
    let clean = excerpt(&dir, "clean.wav", &songs[2], 3.234, 0.0);
    let noisy = excerpt(&dir, "noisy.wav", &songs[1], 1.5, 0.05);
    for method in ["ht", "exhaustive", "lsh"] {
        let o = earmark(&[
            "query",
            "-l",
            lib,
            clean.to_str().unwrap(),
            "--format",
            "csv",
            "--method",
            method,
            "--random-model",
            "1",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        // The default threshold belongs to the shipped model: another model is told so.
        assert!(
            stderr(&o).contains("calibrated for the shipped model"),
            "{}",
            stderr(&o)
        );
        let text = stdout(&o);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("query,track,start_seconds,score,votes"));
        let row: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(row.len(), 5, "{text}");
        assert_eq!(row[1], "sub/c.wav", "{method}: {text}");
        let start: f64 = row[2].parse().unwrap();
        assert!((start - 3.234).abs() <= 0.05, "{method}: start {start}");
        assert!(lines.next().is_none());
    }
    let o = earmark(&[
        "query",
        "-l",
        lib,
        noisy.to_str().unwrap(),
        "--random-model",
        "1",
        // The default threshold is the shipped model's; an untrained encoder scores lower.
        "--min-score",
        "0.35",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("b.wav at"), "{}", stdout(&o));
    assert!(!stderr(&o).contains("calibrated"), "{}", stderr(&o));
}

#[test]
fn json_and_windows_and_no_match() {
    let dir = temp_dir("cli-json");
    let (library, songs) = indexed(&dir);
    let lib = library.to_str().unwrap();
    let clean = excerpt(&dir, "clean.wav", &songs[0], 2.0, 0.0);
    let o = earmark(&[
        "query",
        "-l",
        lib,
        clean.to_str().unwrap(),
        "--format",
        "json",
        "--top",
        "2",
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json = stdout(&o);
    let trimmed = json.trim();
    assert!(trimmed.starts_with('[') && trimmed.ends_with(']'), "{json}");
    assert!(json.contains("\"track\": \"a.wav\""), "{json}");
    assert!(
        json.contains("\"start_seconds\": ") && json.contains("\"votes\": "),
        "{json}"
    );
    assert_eq!(json.matches('{').count(), json.matches('}').count());

    // A recording: 3 s of b then 3 s of a, reported per 3 s window.
    let mut long = songs[1][..3 * RATE].to_vec();
    long.extend_from_slice(&songs[0][RATE..4 * RATE]);
    let rec = dir.join("rec.wav");
    write(&rec, &long);
    let o = earmark(&[
        "query",
        "-l",
        lib,
        rec.to_str().unwrap(),
        "--every",
        "3",
        "--format",
        "csv",
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<String> = stdout(&o).lines().skip(1).map(String::from).collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].contains(",b.wav,") && rows[1].contains(",a.wav,"),
        "{rows:?}"
    );

    // An unrelated signal: a plain tone scores too low, so no match and an empty track.
    let tone: Vec<f32> = (0..2 * RATE)
        .map(|i| (i as f32 * 0.37).sin() * 0.3)
        .collect();
    let other = dir.join("tone.wav");
    write(&other, &tone);
    let o = earmark(&[
        "query",
        "-l",
        lib,
        other.to_str().unwrap(),
        "--format",
        "csv",
        "--min-score",
        "0.95",
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().nth(1),
        Some(format!("{},,,,", other.display()).as_str())
    );
}

#[test]
fn i8_storage_indexes_and_answers_and_append_keeps_it() {
    let dir = temp_dir("cli-i8");
    let (_, songs) = indexed(&dir);
    let root = dir.join("lib");
    let library = dir.join("i8.earmark");
    let lib = library.to_str().unwrap();
    let index = |extra: &[&str]| {
        let mut args = vec![
            "index",
            root.to_str().unwrap(),
            "-o",
            lib,
            "--random-model",
            "1",
        ];
        args.extend_from_slice(extra);
        earmark(&args)
    };
    let o = index(&["--storage", "i8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = earmark(&["library", "info", "-l", lib]);
    assert!(stdout(&o).contains("128 × i8"), "{}", stdout(&o));
    let clean = excerpt(&dir, "clean.wav", &songs[0], 2.46, 0.0);
    let o = earmark(&[
        "query",
        "-l",
        lib,
        clean.to_str().unwrap(),
        "--format",
        "csv",
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let row: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row[1], "a.wav", "{text}");
    let start: f64 = row[2].parse().unwrap();
    assert!((start - 2.46).abs() <= 0.05, "start {start}");
    // Appending keeps the library's storage; asking for another one is an error.
    let o = index(&["--append", "--storage", "f16"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("stores i8 embeddings, not f16"),
        "{}",
        stderr(&o)
    );
    let o = index(&["--append"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = index(&["--storage", "i4"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("f16, f32 or i8"), "{}", stderr(&o));
}

#[test]
fn append_does_not_duplicate_and_remove_removes() {
    let dir = temp_dir("cli-edit");
    let (library, _) = indexed(&dir);
    let lib = library.to_str().unwrap();
    let root = dir.join("lib");
    let o = earmark(&[
        "index",
        root.to_str().unwrap(),
        "-o",
        lib,
        "--append",
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("0 added, 0 replaced, 3 unchanged"),
        "{}",
        stdout(&o)
    );
    let o = earmark(&[
        "index",
        root.to_str().unwrap(),
        "-o",
        lib,
        "--random-model",
        "1",
    ]);
    assert!(
        !o.status.success(),
        "an existing library is not overwritten without --append"
    );

    // No model is needed to inspect or edit a library.
    let o = earmark(&["library", "info", "-l", lib]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("tracks        3"), "{}", stdout(&o));
    let o = earmark(&["library", "remove", "-l", lib, "sub/c.wav"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = earmark(&["library", "tracks", "-l", lib]);
    let listing = stdout(&o);
    let mut tracks: Vec<&str> = listing
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    tracks.sort_unstable();
    assert_eq!(tracks, ["a.wav", "b.wav"]);
    let o = earmark(&["library", "remove", "-l", lib, "nope.wav"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no track nope.wav"), "{}", stderr(&o));
    // Searching with another model than the one that built the library is refused.
    let query = root.join("a.wav");
    let o = earmark(&[
        "query",
        "-l",
        lib,
        query.to_str().unwrap(),
        "--random-model",
        "2",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("another model"), "{}", stderr(&o));
}

#[test]
fn unreadable_files_are_skipped_and_damaged_libraries_refused() {
    let dir = temp_dir("cli-bad");
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    write(&lib.join("good.wav"), &song(5));
    std::fs::write(lib.join("bad.wav"), b"this is not audio").unwrap();
    let out = dir.join("x.earmark");
    let o = earmark(&[
        "index",
        lib.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("skipped") && stderr(&o).contains("bad.wav"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("1 added"), "{}", stdout(&o));

    let mut bytes = std::fs::read(&out).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&out, &bytes).unwrap();
    let o = earmark(&["library", "info", "-l", out.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("x.earmark"), "{err}");

    let only_bad = dir.join("only_bad");
    std::fs::create_dir_all(&only_bad).unwrap();
    std::fs::write(only_bad.join("bad.flac"), b"nope").unwrap();
    let o = earmark(&[
        "index",
        only_bad.to_str().unwrap(),
        "-o",
        dir.join("y.earmark").to_str().unwrap(),
        "--random-model",
        "1",
    ]);
    assert!(!o.status.success(), "nothing readable: failure");
}

#[test]
fn embed_prints_and_writes_npy() {
    let dir = temp_dir("cli-embed");
    let file = dir.join("s.wav");
    write(&file, &song(9)[..3 * RATE]);
    let o = earmark(&["embed", file.to_str().unwrap(), "--random-model", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // 3 s every 100 ms: 21 segments plus the header line; keys are 4 hex digits (K = 16).
    let text = stdout(&o);
    assert_eq!(text.lines().count(), 22, "{text}");
    assert_eq!(
        text.lines()
            .nth(1)
            .unwrap()
            .split('\t')
            .nth(1)
            .unwrap()
            .len(),
        4
    );
    let prefix = dir.join("out");
    let o = earmark(&[
        "embed",
        file.to_str().unwrap(),
        "--npy",
        prefix.to_str().unwrap(),
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let npy = std::fs::read(dir.join("out.embeddings.npy")).unwrap();
    assert_eq!(&npy[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0);
    assert!(String::from_utf8_lossy(&npy[10..10 + header_len]).contains("'shape': (21, 128)"));
    assert_eq!(npy.len(), 10 + header_len + 21 * 128 * 4);
    assert!(dir.join("out.logits.npy").is_file());
}

#[test]
fn inspect_exit_codes_and_quiet_broken_pipe() {
    let dir = temp_dir("cli-inspect");
    let file = dir.join("s.wav");
    write(&file, &song(3)[..2 * RATE]);
    let text = dir.join("t.txt");
    std::fs::write(&text, "hello").unwrap();
    let o = earmark(&["inspect", file.to_str().unwrap(), "--json"]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("\"sample_rate\": 16000"),
        "{}",
        stdout(&o)
    );
    let o = earmark(&["inspect", text.to_str().unwrap()]);
    assert!(!o.status.success());
    let o = earmark(&[
        "query",
        "-l",
        dir.join("missing.earmark").to_str().unwrap(),
        file.to_str().unwrap(),
        "--model",
        dir.join("no-model").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no-model"), "{}", stderr(&o));

    // Many files to print; the reader closes its end at once.
    let files: Vec<String> = (0..2000)
        .map(|_| file.to_str().unwrap().to_string())
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_earmark"))
        .arg("inspect")
        .args(&files)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn bench_search_prints_one_table() {
    let dir = temp_dir("cli-bench");
    let (library, _) = indexed(&dir);
    let o = earmark(&[
        "bench",
        "search",
        "-l",
        library.to_str().unwrap(),
        "--queries",
        "4",
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.contains("µs/segment") && table.contains("near"),
        "{table}"
    );
    // Exhaustive with and without refinement, 11 probe budgets and 14 LSH settings.
    assert_eq!(
        table
            .lines()
            .filter(|l| l.starts_with("exhaustive "))
            .count(),
        2,
        "{table}"
    );
    assert_eq!(
        table.lines().filter(|l| l.starts_with("ht ")).count(),
        11,
        "{table}"
    );
    assert_eq!(
        table.lines().filter(|l| l.starts_with("lsh ")).count(),
        14,
        "{table}"
    );
    // Then the comparison at equal hit rate, both ways (or why it could not be made).
    assert!(
        table.contains("within 1 point of exhaustive")
            && (table.contains("fastest settings reaching it") || table.contains("not reached"))
            && (table.contains("on each method's frontier") || table.contains("beyond")),
        "{table}"
    );
    // Without the audio the queries cannot be built: a clear error.
    let o = earmark(&[
        "bench",
        "search",
        "-l",
        library.to_str().unwrap(),
        "--root",
        "/nonexistent",
        "--random-model",
        "1",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--root"), "{}", stderr(&o));
}

#[test]
fn demo_indexes_queries_and_reports_every_answer() {
    let dir = temp_dir("cli-demo");
    std::fs::create_dir_all(dir.join("music")).unwrap();
    std::fs::create_dir_all(dir.join("noise")).unwrap();
    for k in 1..=2 {
        write(&dir.join(format!("music/song{k}.wav")), &song(k));
    }
    let hiss: Vec<f32> = {
        let mut rng = Lcg(7);
        (0..4 * RATE).map(|_| (rng.next() - 0.5) as f32).collect()
    };
    write(&dir.join("noise/hiss.wav"), &hiss);
    let o = earmark(&[
        "demo",
        "--dir",
        dir.to_str().unwrap(),
        "--queries",
        "3",
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("indexed 2 tracks"), "{out}");
    // Three numbered answers, the unrelated-audio row, and the summary.
    for row in [
        "  1  3 s clean",
        "  2  3 s N10",
        "  3  3 s NR10",
        "of noise",
    ] {
        assert!(out.contains(row), "no `{row}` in\n{out}");
    }
    assert!(out.contains("/3 identified"), "{out}");

    let o = earmark(&[
        "demo",
        "--dir",
        dir.join("music").to_str().unwrap(),
        "--random-model",
        "1",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("noise"), "{}", stderr(&o));
}

#[test]
fn bench_threshold_tabulates_right_and_false_matches() {
    let dir = temp_dir("cli-threshold");
    let (library, _) = indexed(&dir);
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    write(&other.join("d.wav"), &song(9));
    let o = earmark(&[
        "bench",
        "threshold",
        "-l",
        library.to_str().unwrap(),
        "--unrelated",
        other.to_str().unwrap(),
        "--queries",
        "6",
        "--random-model",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.contains("false match %"), "{table}");
    // One row per threshold 0.20..=0.95, then the verdict.
    let rows = table
        .lines()
        .filter(|l| l.trim_start().starts_with("0."))
        .count();
    assert_eq!(rows, 16, "{table}");
    assert!(
        table.contains("suggested --min-score") || table.contains("no threshold"),
        "{table}"
    );
    // A library track given as "unrelated" music is refused.
    let o = earmark(&[
        "bench",
        "threshold",
        "-l",
        library.to_str().unwrap(),
        "--unrelated",
        dir.join("lib").to_str().unwrap(),
        "--random-model",
        "1",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is in the library"), "{}", stderr(&o));
}

/// `--device gpu` against `--device cpu` (the default). Without an adapter these skip,
/// unless `REQUIRE_GPU` is set (CI), where they fail.
#[cfg(feature = "gpu")]
mod on_gpu {
    use super::*;

    fn have_gpu() -> bool {
        match earmark::gpu::Gpu::new() {
            Ok(_) => true,
            Err(e) if std::env::var_os("REQUIRE_GPU").is_none() => {
                eprintln!("SKIP: no GPU adapter ({e})");
                false
            }
            Err(e) => panic!("REQUIRE_GPU is set but there is no GPU adapter: {e}"),
        }
    }

    /// The f32 values of a `.npy` written by `earmark embed --npy`.
    fn npy_values(path: &Path) -> Vec<f32> {
        let bytes = std::fs::read(path).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        bytes[10 + header_len..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// |got − want| ≤ tol · max(|want|, peak of want), element-wise.
    fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        let peak = want.iter().fold(f32::MIN_POSITIVE, |m, w| m.max(w.abs()));
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tol * w.abs().max(peak),
                "{what}[{i}]: {g} vs {w}"
            );
        }
    }

    #[test]
    fn embed_on_the_gpu_matches_the_cpu() {
        if !have_gpu() {
            return;
        }
        let dir = temp_dir("cli-embed-gpu");
        let file = dir.join("s.wav");
        write(&file, &song(9)[..2 * RATE]);
        for device in ["cpu", "gpu"] {
            let prefix = dir.join(device);
            let o = earmark(&[
                "embed",
                file.to_str().unwrap(),
                "--npy",
                prefix.to_str().unwrap(),
                "--random-model",
                "1",
                "--device",
                device,
            ]);
            assert!(o.status.success(), "{device}: {}", stderr(&o));
        }
        for what in ["embeddings", "logits"] {
            let read = |device: &str| npy_values(&dir.join(format!("{device}.{what}.npy")));
            let (gpu, cpu) = (read("gpu"), read("cpu"));
            assert_eq!(cpu.len(), 11 * if what == "logits" { 16 } else { 128 });
            assert_close(what, &gpu, &cpu, 1e-4);
        }
    }

    /// Three steps of the small preset on generated music: the GPU run's logged losses
    /// and gradient norms follow the CPU run of the same seed.
    #[test]
    fn train_on_the_gpu_logs_the_cpu_losses() {
        if !have_gpu() {
            return;
        }
        let dir = temp_dir("cli-train-gpu");
        let music = dir.join("music");
        std::fs::create_dir_all(&music).unwrap();
        for i in 0..4 {
            write(&music.join(format!("t{i}.wav")), &song(20 + i));
        }
        let log = |device: &str| -> Vec<Vec<f32>> {
            let out = dir.join(device).join("model.safetensors");
            std::fs::create_dir_all(out.parent().unwrap()).unwrap();
            let o = earmark(&[
                "train",
                "--music",
                music.to_str().unwrap(),
                "--holdout",
                "t3",
                "--k-bits",
                "8",
                "--steps",
                "3",
                "--batch",
                "2",
                "--queue",
                "4",
                "--hard-negatives",
                "--validate-every",
                "0",
                "--seed",
                "3",
                "--out",
                out.to_str().unwrap(),
                "--device",
                device,
            ]);
            assert!(o.status.success(), "{device}: {}", stderr(&o));
            let text = std::fs::read_to_string(dir.join(device).join("model.safetensors.log.csv"))
                .unwrap();
            // step, lr, loss, l_c, l_h, l_r, grad_norm (seconds dropped).
            text.lines()
                .skip(1)
                .map(|l| l.split(',').take(7).map(|v| v.parse().unwrap()).collect())
                .collect()
        };
        let (cpu, gpu) = (log("cpu"), log("gpu"));
        assert_eq!(cpu.len(), 3);
        // The first step agrees to float round-off. After it the runs drift apart a
        // little: Adam's first updates move every parameter by about ±lr whatever the
        // size of its gradient, so gradients at round-off level (the attention key
        // bias's is exactly zero in exact arithmetic) move differently on the two
        // devices. Measured here: losses within 7e-4, gradient norms within 4e-3.
        for (step, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
            let (loss_tol, norm_tol) = if step == 0 {
                (1e-4, 1e-4)
            } else {
                (2e-3, 1e-2)
            };
            assert_eq!(g[..2], c[..2], "step {step}: step number and lr");
            assert_close(&format!("step {step} losses"), &g[2..6], &c[2..6], loss_tol);
            assert_close(&format!("step {step} norm"), &g[6..], &c[6..], norm_tol);
        }
    }

    #[test]
    fn device_gpu_without_an_adapter_is_an_error() {
        let dir = temp_dir("cli-no-adapter");
        let file = dir.join("s.wav");
        write(&file, &song(9)[..2 * RATE]);
        let missing = "/nonexistent/earmark-missing-icd.json";
        let o = Command::new(env!("CARGO_BIN_EXE_earmark"))
            .args(["embed", file.to_str().unwrap(), "--random-model", "1"])
            .args(["--device", "gpu"])
            .env("WGPU_BACKEND", "vulkan")
            .env("VK_DRIVER_FILES", missing)
            .env("VK_ICD_FILENAMES", missing)
            .output()
            .unwrap();
        assert!(!o.status.success(), "no adapter, yet success");
        assert!(
            stderr(&o).contains("--device gpu") && stdout(&o).is_empty(),
            "{}",
            stderr(&o)
        );
    }
}
