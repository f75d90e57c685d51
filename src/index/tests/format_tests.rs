//! The file format: round trips, and every kind of damaged file refused with a clear
//! `Error::Index` (never a panic, never a wrong load).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::fixtures::{MODEL, TempDir, build, config, synth, temp_dir, tracks};
use crate::Error;
use crate::index::{Dtype, Library, format};

fn small_library(dtype: Dtype) -> Library {
    let s = synth(8);
    build(config(8, dtype), &tracks(&s, 4, &[30, 12, 0, 25], 7))
}

/// The problem of an `Error::Index`, or a panic naming what came back instead.
fn index_problem(result: crate::Result<Library>) -> String {
    match result {
        Err(Error::Index { problem, .. }) => problem,
        Err(other) => panic!("expected Error::Index, got {other}"),
        Ok(_) => panic!("expected Error::Index, the file loaded"),
    }
}

#[test]
fn round_trip_keeps_everything() {
    let dir = temp_dir("round-trip");
    for dtype in Dtype::ALL {
        let library = small_library(dtype);
        let path = dir.join(format!("{dtype:?}.earmark"));
        library.save(&path).unwrap();
        let loaded = Library::open(&path, MODEL).unwrap();
        assert_eq!(loaded, library);
        let on_disk = std::fs::metadata(&path).unwrap().len();
        assert_eq!(format::file_len(&library), on_disk);
        assert_eq!(library.info().bytes_on_disk, on_disk);
    }
    // An empty library is a valid library too.
    let empty = Library::new(config(8, Dtype::F16));
    empty.save(dir.join("empty.earmark")).unwrap();
    assert_eq!(
        Library::open(dir.join("empty.earmark"), MODEL).unwrap(),
        empty
    );
}

#[test]
fn f16_storage_is_close_to_f32() {
    let (a, b) = (small_library(Dtype::F16), small_library(Dtype::F32));
    let n = a.embeddings().len();
    assert_eq!(n, b.embeddings().len());
    let worst = (0..n)
        .map(|i| (a.embeddings().get(i) - b.embeddings().get(i)).abs())
        .fold(0.0, f32::max);
    assert!(worst > 0.0 && worst < 1e-3, "worst f16 rounding {worst}");
}

#[test]
fn i8_storage_rounds_each_row_within_half_its_step() {
    let (a, b) = (small_library(Dtype::I8), small_library(Dtype::F32));
    let dim = a.config().dim as usize;
    let crate::index::Rows::I8 { scales, .. } = a.embeddings() else {
        panic!("the library is i8")
    };
    for (row, &scale) in scales.iter().enumerate() {
        let values = row * dim..(row + 1) * dim;
        let max = values
            .clone()
            .map(|i| b.embeddings().get(i).abs())
            .fold(0.0, f32::max);
        assert!((scale - max / 127.0).abs() <= 1e-6 * max, "row {row}");
        for i in values {
            let error = (a.embeddings().get(i) - b.embeddings().get(i)).abs();
            assert!(
                error <= scale * 0.5 + 1e-7,
                "value {i}: {error} vs step {scale}"
            );
        }
    }
}

#[test]
fn i8_row_scales_that_are_negative_or_not_finite_are_refused() {
    let dir = temp_dir("i8-scale");
    for bad in [-1.0, f32::NAN, f32::INFINITY] {
        let mut library = small_library(Dtype::I8);
        if let crate::index::Rows::I8 { scales, .. } = &mut library.rows {
            scales[3] = bad;
        }
        let path = dir.join("bad-scale.earmark");
        library.save(&path).unwrap();
        let problem = index_problem(Library::open(&path, MODEL));
        assert!(
            problem.contains(&format!("row 3 has scale {bad}, not a finite number")),
            "{problem}"
        );
    }
}

#[test]
fn saving_replaces_atomically_and_leaves_no_temporary_file() {
    let dir = temp_dir("atomic");
    let path = dir.join("lib.earmark");
    small_library(Dtype::F16).save(&path).unwrap();
    let other = Library::new(config(8, Dtype::F32));
    other.save(&path).unwrap();
    assert_eq!(Library::open(&path, MODEL).unwrap(), other);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("lib.earmark")]);
}

#[test]
fn save_into_a_missing_directory_is_an_io_error() {
    let dir = temp_dir("missing-dir");
    let path = dir.join("no/such/dir/lib.earmark");
    assert!(matches!(
        small_library(Dtype::F16).save(&path),
        Err(Error::Io { .. })
    ));
}

/// Saves the small library and returns its directory (removed when dropped), path and bytes.
fn saved(name: &str) -> (TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = temp_dir(name);
    let path = dir.join("lib.earmark");
    small_library(Dtype::F16).save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (dir, path, bytes)
}

#[test]
fn truncated_files_are_refused() {
    let (_dir, path, bytes) = saved("truncated");
    for len in [
        0,
        1,
        7,
        8,
        40,
        71,
        72,
        100,
        bytes.len() / 2,
        bytes.len() - 9,
        bytes.len() - 1,
    ] {
        std::fs::write(&path, &bytes[..len]).unwrap();
        let problem = index_problem(Library::open(&path, MODEL));
        assert!(problem.contains("truncated"), "length {len}: {problem}");
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"junk");
    std::fs::write(&path, &longer).unwrap();
    let problem = index_problem(Library::open(&path, MODEL));
    assert!(problem.contains("4 unexpected bytes"), "{problem}");
}

#[test]
fn foreign_file_is_refused() {
    let (_dir, path, mut bytes) = saved("foreign");
    bytes[..8].copy_from_slice(b"RIFF\0\0\0\0");
    std::fs::write(&path, &bytes).unwrap();
    assert!(index_problem(Library::open(&path, MODEL)).contains("not an earmark index"));
}

#[test]
fn future_version_is_refused_with_an_upgrade_hint() {
    let (_dir, path, mut bytes) = saved("future");
    bytes[8..12].copy_from_slice(&(format::VERSION + 1).to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let problem = index_problem(Library::open(&path, MODEL));
    assert!(
        problem.contains("newer earmark") && problem.contains("version 3"),
        "{problem}"
    );
}

#[test]
fn version_1_is_refused_with_a_rebuild_hint() {
    let (_dir, path, mut bytes) = saved("version-1");
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let problem = index_problem(Library::open(&path, MODEL));
    assert!(
        problem.contains("older earmark") && problem.contains("rebuild the index"),
        "{problem}"
    );
}

#[test]
fn index_of_another_model_is_refused() {
    let (_dir, path, _) = saved("other-model");
    let problem = index_problem(Library::open(&path, MODEL ^ 1));
    assert!(problem.contains("another model"), "{problem}");
}

#[test]
fn corrupted_body_fails_the_checksum() {
    let (_dir, path, mut bytes) = saved("checksum");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    assert!(index_problem(Library::open(&path, MODEL)).contains("checksum mismatch"));
}

#[test]
fn every_header_byte_and_random_body_bytes_are_protected() {
    let (_dir, path, bytes) = saved("flips");
    let mut rng = StdRng::seed_from_u64(3);
    // Every byte of the header, the last bytes (the file checksum), and random positions.
    let random: Vec<usize> = (0..200).map(|_| rng.random_range(0..bytes.len())).collect();
    for at in (0..72).chain(bytes.len() - 8..bytes.len()).chain(random) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 1 << rng.random_range(0..8);
        std::fs::write(&path, &damaged).unwrap();
        let problem = index_problem(Library::open(&path, MODEL));
        assert!(!problem.is_empty(), "byte {at}");
    }
}

#[test]
fn consistent_but_wrong_bodies_are_refused() {
    // A file whose checksums are right but whose content is inconsistent (written by a
    // buggy or hostile tool) must still be refused.
    let dir = temp_dir("inconsistent");
    let library = small_library(Dtype::F32);
    type Damage = Box<dyn Fn(&mut Library)>;
    let cases: Vec<(&str, Damage)> = vec![
        (
            "offsets decrease",
            Box::new(|l: &mut Library| l.offsets[3] = l.offsets[4] + 1),
        ),
        (
            "both hold segment",
            Box::new(|l: &mut Library| l.segment_of_row[1] = l.segment_of_row[0]),
        ),
        (
            "not finite",
            Box::new(|l: &mut Library| {
                if let crate::index::Rows::F32(v) = &mut l.rows {
                    v[5] = f32::NAN;
                }
            }),
        ),
        (
            "listed twice",
            Box::new(|l: &mut Library| l.tracks[1].path = l.tracks[0].path.clone()),
        ),
        (
            "duration",
            Box::new(|l: &mut Library| l.tracks[0].duration_s = -1.0),
        ),
    ];
    for (expected, damage) in cases {
        let mut bad = library.clone();
        damage(&mut bad);
        let path = dir.join("bad.earmark");
        bad.save(&path).unwrap();
        let problem = index_problem(Library::open(&path, MODEL));
        assert!(problem.contains(expected), "{expected}: {problem}");
    }
}
