//! Library edits: bucket-major layout, append without duplicates, replace, remove.

use super::fixtures::{Fixture, MODEL, build, config, duration, synth, temp_dir, tracks};
use earmark_kernels::probe::bucket_key;

use crate::index::{AddOutcome, Dtype, Library, LibraryBuilder};

const DIM: usize = 128;
const K: usize = 8;

/// Checks that every row sits in the bucket of its logits and holds its own embedding.
fn assert_rows_match(library: &Library, fixtures: &[&Fixture]) {
    assert_eq!(library.tracks().len(), fixtures.len());
    let mut total = 0;
    for (t, f) in fixtures.iter().enumerate() {
        assert_eq!(library.tracks()[t].path, f.path);
        let n = f.segments(DIM);
        total += n;
        for s in 0..n {
            let row = library.row(t, s).expect("row of a segment");
            assert_eq!(library.locate(row), (t, s));
            let key = bucket_key(&f.logits[s * K..(s + 1) * K]);
            assert!(
                library.bucket(key).contains(&row),
                "track {t} segment {s} not in bucket {key}"
            );
            for j in 0..DIM {
                assert_eq!(
                    library.embeddings().get(row * DIM + j),
                    f.embeddings[s * DIM + j]
                );
            }
        }
        assert_eq!(library.row(t, n), None);
    }
    assert_eq!(library.rows(), total);
}

#[test]
fn build_is_bucket_major_with_an_inverse_permutation() {
    let s = synth(K);
    let fixtures = tracks(&s, 5, &[40, 3, 0, 17], 1);
    let library = build(config(K as u32, Dtype::F32), &fixtures);
    assert_rows_match(&library, &fixtures.iter().collect::<Vec<_>>());
}

#[test]
fn append_skips_known_content_and_replaces_changed_files() {
    let s = synth(K);
    let first = tracks(&s, 3, &[20, 30, 25], 1);
    let dir = temp_dir("append");
    let path = dir.join("lib.earmark");
    build(config(K as u32, Dtype::F32), &first)
        .save(&path)
        .unwrap();

    let mut builder = Library::open(&path, MODEL).unwrap().into_builder();
    let add = |b: &mut LibraryBuilder, f: &Fixture| {
        let n = f.segments(DIM);
        b.add_track(&f.path, duration(n), f.hash, &f.embeddings, &f.logits)
            .unwrap()
    };
    // The same file again: nothing to do, and the plan says so before any embedding.
    assert_eq!(
        builder.plan(&first[0].path, first[0].hash),
        AddOutcome::Unchanged
    );
    assert_eq!(add(&mut builder, &first[0]), AddOutcome::Unchanged);
    // Track 1's file changed: replaced.
    let changed = Fixture {
        path: first[1].path.clone(),
        hash: 99,
        ..tracks(&s, 1, &[12], 2).remove(0)
    };
    assert_eq!(
        add(&mut builder, &changed),
        AddOutcome::Replaced {
            old_hash: first[1].hash
        }
    );
    // Track 2's content under another name: not indexed twice.
    let copy = Fixture {
        path: "copies/same.flac".into(),
        ..first[2].clone()
    };
    let outcome = add(&mut builder, &copy);
    assert_eq!(
        outcome,
        AddOutcome::DuplicateContent {
            existing_path: first[2].path.clone()
        }
    );
    assert!(!outcome.needs_embeddings());
    // A new track.
    let new = tracks(&s, 1, &[15], 3).remove(0);
    assert_eq!(add(&mut builder, &new), AddOutcome::Added);
    builder.build().save(&path).unwrap();

    let library = Library::open(&path, MODEL).unwrap();
    assert_rows_match(&library, &[&first[0], &first[2], &changed, &new]);
}

#[test]
fn incremental_build_equals_building_at_once() {
    let s = synth(K);
    let all = tracks(&s, 4, &[20, 11, 35], 5);
    let mut builder = build(config(K as u32, Dtype::F16), &all[..2]).into_builder();
    for f in &all[2..] {
        let n = f.segments(DIM);
        builder
            .add_track(&f.path, duration(n), f.hash, &f.embeddings, &f.logits)
            .unwrap();
    }
    assert_eq!(builder.build(), build(config(K as u32, Dtype::F16), &all));
}

#[test]
fn remove_drops_the_track_and_its_rows() {
    let s = synth(K);
    let fixtures = tracks(&s, 4, &[20, 11, 35, 8], 4);
    let mut builder = build(config(K as u32, Dtype::F32), &fixtures).into_builder();
    assert!(builder.remove_track(&fixtures[1].path));
    assert!(!builder.remove_track(&fixtures[1].path));
    assert!(!builder.remove_track("never/indexed.wav"));
    // A removed path can be added again, as a new track.
    assert_eq!(
        builder.plan(&fixtures[1].path, fixtures[1].hash),
        AddOutcome::Added
    );
    let library = builder.build();
    assert_rows_match(&library, &[&fixtures[0], &fixtures[2], &fixtures[3]]);
    assert_eq!(library.info().segments, 20 + 35 + 8);
}

#[test]
fn adding_within_one_session_twice_keeps_the_last_content() {
    let s = synth(K);
    let a = tracks(&s, 1, &[10], 1).remove(0);
    let b = Fixture {
        hash: 5,
        ..tracks(&s, 1, &[14], 2).remove(0)
    };
    let b = Fixture {
        path: a.path.clone(),
        ..b
    };
    let mut builder = LibraryBuilder::new(config(K as u32, Dtype::F32));
    for f in [&a, &b] {
        builder
            .add_track(&f.path, 1.0, f.hash, &f.embeddings, &f.logits)
            .unwrap();
    }
    assert_rows_match(&builder.build(), &[&b]);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let mut builder = LibraryBuilder::new(config(K as u32, Dtype::F16));
    let e = vec![0.0; DIM];
    let q = vec![0.0; K];
    assert!(builder.add_track("", 1.0, 1, &e, &q).is_err());
    assert!(builder.add_track("/abs/path.wav", 1.0, 1, &e, &q).is_err());
    assert!(builder.add_track("a.wav", f64::NAN, 1, &e, &q).is_err());
    let mut nan = e.clone();
    nan[3] = f32::INFINITY;
    assert!(builder.add_track("a.wav", 1.0, 1, &nan, &q).is_err());
    assert_eq!(builder.build().tracks().len(), 0);
}

#[test]
#[should_panic(expected = "LibraryBuilder::add_track")]
fn shape_mismatch_panics_with_the_shapes() {
    let mut builder = LibraryBuilder::new(config(K as u32, Dtype::F16));
    let _ = builder.add_track("a.wav", 1.0, 1, &[0.0; 2 * DIM], &[0.0; K]);
}

#[test]
fn info_reports_occupancy_against_its_ceiling() {
    let s = synth(K);
    let fixtures = tracks(&s, 6, &[200], 9);
    let info = build(config(K as u32, Dtype::F16), &fixtures).info();
    assert_eq!((info.tracks, info.segments, info.buckets), (6, 1200, 256));
    assert!((info.hours - 6.0 * duration(200) / 3600.0).abs() < 1e-12);
    assert_eq!(info.entropy_ceiling_bits, 8.0);
    // Random projections of random directions spread over most buckets.
    assert!(
        info.entropy_bits > 6.0 && info.entropy_bits <= 8.0,
        "{}",
        info.entropy_bits
    );
    assert!(
        info.nonempty_buckets > 128 && info.largest_bucket < 200,
        "{info:?}"
    );
    assert!(info.to_string().contains("bits of entropy"));
}
