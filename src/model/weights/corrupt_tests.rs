//! Damaged and hostile files: every one must give an `Error::Weights` that says what is
//! wrong, never a panic and never a silently wrong tensor.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::tests::{TempDir, problem, raw_file, read_bytes, saved_bytes, small_model};
use super::*;

#[test]
fn truncated_files_are_errors_at_every_length() {
    let bytes = saved_bytes(&small_model(), Dtype::F16, &[("k".into(), "v".into())]);
    for cut in 0..bytes.len() {
        let p = problem(read_bytes(&bytes[..cut]));
        let expected = if cut < 8 {
            "too short"
        } else if cut < 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize {
            "truncated or not a safetensors file"
        } else {
            "the file is truncated"
        };
        assert!(p.contains(expected), "cut at {cut}: {p}");
    }
    // The same through a real file, at a few lengths.
    let dir = TempDir::new("truncated");
    for cut in [0, 5, 8, 20, bytes.len() - 1] {
        let path = dir.join("cut.safetensors");
        std::fs::write(&path, &bytes[..cut]).unwrap();
        match load(&path) {
            Err(Error::Weights { path: p, .. }) => assert_eq!(p, path),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn trailing_bytes_after_the_data_are_an_error() {
    let mut bytes = saved_bytes(&small_model(), Dtype::F32, &[]);
    bytes.extend_from_slice(b"hidden");
    assert!(problem(read_bytes(&bytes)).contains("6 unexpected bytes"));
}

#[test]
fn absurd_header_lengths_are_errors() {
    for len in [u64::MAX, 100_000_001, 1 << 40] {
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}      ");
        assert!(
            problem(read_bytes(&bytes)).contains("100 MB limit"),
            "{len}"
        );
    }
    let mut bytes = 64u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}      ");
    assert!(problem(read_bytes(&bytes)).contains("only 8 bytes follow"));
}

#[test]
fn malformed_headers_are_errors() {
    let cases = [
        ("not json", "does not start with '{'"),
        ("{\"a\": ", "not valid JSON"),
        (
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],}}",
            "not valid JSON",
        ),
        ("{\"a\":[1,2]}", "expected an object"),
        (
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}",
            "no 'data_offsets' field",
        ),
        (
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}",
            "unknown field 'x'",
        ),
        (
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
            "whole numbers",
        ),
        (
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
            "whole numbers",
        ),
        (
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
            "[begin, end]",
        ),
        ("{\"__metadata__\":{\"k\":1}}", "metadata 'k' is a number"),
        ("{\"__metadata__\":[]}", "expected an object of strings"),
        (
            "{\"__metadata__\":{},\"__metadata__\":{}}",
            "two \"__metadata__\"",
        ),
        (
            "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}",
            "'k' appears twice",
        ),
    ];
    for (header, expected) in cases {
        let p = problem(read_bytes(&raw_file(header, &[0; 4])));
        assert!(p.contains(expected), "{header}: {p}");
    }
    let mut bytes = raw_file("{\"a\":1}", &[]);
    bytes[10] = 0xff;
    assert!(problem(read_bytes(&bytes)).contains("not valid UTF-8"));
}

#[test]
fn unsupported_dtypes_are_named_in_the_error() {
    for dtype in ["I64", "U8", "F64", "BOOL", "F8_E4M3", "WHATEVER"] {
        let header = format!(
            "{{\"counts\":{{\"dtype\":\"{dtype}\",\"shape\":[1],\"data_offsets\":[0,8]}}}}"
        );
        let p = problem(read_bytes(&raw_file(&header, &[0; 8])));
        assert!(
            p.contains("'counts'") && p.contains(dtype) && p.contains("F32, F16 and BF16"),
            "{p}"
        );
    }
}

#[test]
fn offsets_that_do_not_fit_the_shapes_or_the_data_are_errors() {
    let entry = |name: &str, shape: &str, b: u64, e: u64| {
        format!("\"{name}\":{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":[{b},{e}]}}")
    };
    let cases = [
        (
            format!("{{{}}}", entry("a", "[2]", 0, 4)),
            4,
            "span 4 bytes, but shape [2] of F32 needs 8",
        ),
        (
            format!("{{{}}}", entry("a", "[1]", 4, 0)),
            4,
            "end before they begin",
        ),
        (
            format!(
                "{{{},{}}}",
                entry("a", "[2]", 0, 8),
                entry("b", "[1]", 4, 8)
            ),
            8,
            "overlap",
        ),
        (
            format!(
                "{{{},{}}}",
                entry("a", "[1]", 0, 4),
                entry("b", "[1]", 8, 12)
            ),
            12,
            "belong to no tensor",
        ),
        (
            format!("{{{}}}", entry("a", "[1]", 4, 8)),
            8,
            "bytes 0..4 belong to no tensor",
        ),
        (format!("{{{}}}", entry("a", "[1]", 0, 4)), 2, "truncated"),
        (
            format!("{{{}}}", entry("a", "[4611686018427387904,8]", 0, 4)),
            4,
            "absurdly large",
        ),
        (
            format!("{{{}}}", entry("a", "[1]", 0, 4)) + " x",
            4,
            "not valid JSON",
        ),
    ];
    for (header, data_len, expected) in cases {
        let p = problem(read_bytes(&raw_file(&header, &vec![0; data_len])));
        assert!(p.contains(expected), "{header}: {p}");
    }
}

#[test]
fn duplicate_tensor_names_in_a_file_are_errors() {
    let header = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
    assert!(problem(read_bytes(&raw_file(header, &[0; 8]))).contains("lists tensor 'a' twice"));
}

#[test]
fn random_header_corruption_never_panics() {
    let bytes = saved_bytes(
        &small_model(),
        Dtype::F16,
        &[("preset".into(), "small".into())],
    );
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut rng = StdRng::seed_from_u64(3);
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..3000 {
        let mut damaged = bytes.clone();
        for _ in 0..rng.random_range(1..=3) {
            let at = rng.random_range(0..header_end);
            damaged[at] = if rng.random_bool(0.5) {
                damaged[at] ^ (1 << rng.random_range(0..8))
            } else {
                rng.random()
            };
        }
        match read_bytes(&damaged) {
            Ok(_) => ok += 1,
            Err(Error::Weights { .. }) => failed += 1,
            Err(other) => panic!("unexpected error kind: {other}"),
        }
    }
    // Most flips break the header; a few (inside a metadata value, a space) are harmless.
    assert!(failed > 2000 && ok > 0, "ok {ok}, failed {failed}");
}

#[test]
fn a_header_listing_many_tensors_is_read_in_linear_time() {
    // 100 000 empty tensors: a quadratic duplicate check would take ~10^10 steps here.
    let n = 100_000;
    let entries: Vec<String> = (0..n)
        .map(|i| format!("\"t{i}\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}"))
        .collect();
    let w = read_bytes(&raw_file(&format!("{{{}}}", entries.join(",")), &[])).unwrap();
    assert_eq!(w.tensors().len(), n);
}
