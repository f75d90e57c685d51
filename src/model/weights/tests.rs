use std::io::Cursor;
use std::path::Path;

use half::{bf16, f16};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

pub(super) use crate::test_dir::TempDir;

pub(super) fn tensor(name: &str, shape: &[usize], data: Vec<f32>) -> NamedTensor {
    NamedTensor {
        name: name.into(),
        shape: shape.to_vec(),
        data,
    }
}

pub(super) fn random_tensor(
    rng: &mut StdRng,
    name: &str,
    shape: &[usize],
    scale: f32,
) -> NamedTensor {
    let n = shape.iter().product();
    tensor(
        name,
        shape,
        (0..n)
            .map(|_| scale * (2.0 * rng.random::<f32>() - 1.0))
            .collect(),
    )
}

pub(super) fn small_model() -> Vec<NamedTensor> {
    let mut rng = StdRng::seed_from_u64(1);
    vec![
        random_tensor(&mut rng, "patch.weight", &[8, 10], 1.0),
        random_tensor(&mut rng, "patch.bias", &[8], 1.0),
        random_tensor(&mut rng, "head.weight", &[4, 8], 1.0),
    ]
}

/// Reads `bytes` as a whole file named `test.safetensors`.
pub(super) fn read_bytes(bytes: &[u8]) -> Result<Weights> {
    read(
        Path::new("test.safetensors"),
        &mut Cursor::new(bytes),
        bytes.len() as u64,
    )
}

/// The problem text of a `Weights` error (any other error fails the test).
pub(super) fn problem(result: Result<Weights>) -> String {
    match result {
        Err(Error::Weights { problem, .. }) => problem,
        Err(other) => panic!("expected a weights error, got {other}"),
        Ok(w) => panic!("expected an error, got {} tensors", w.tensors().len()),
    }
}

/// A file with `header` (padded with spaces to 8) followed by `data`.
pub(super) fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.as_bytes().to_vec();
    h.resize(h.len().next_multiple_of(8), b' ');
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

pub(super) fn saved_bytes(
    tensors: &[NamedTensor],
    dtype: Dtype,
    metadata: &[(String, String)],
) -> Vec<u8> {
    let dir = TempDir::new("bytes");
    let path = dir.join("w.safetensors");
    save(&path, tensors, dtype, metadata).unwrap();
    std::fs::read(&path).unwrap()
}

#[test]
fn f32_round_trip_is_bit_exact() {
    let dir = TempDir::new("f32");
    let path = dir.join("w.safetensors");
    let special = vec![
        0.0,
        -0.0,
        f32::MIN_POSITIVE / 8.0,
        f32::MAX,
        f32::NEG_INFINITY,
        f32::from_bits(0x7fc0_1234),
    ];
    let mut tensors = small_model();
    tensors.push(tensor("special", &[6], special));
    tensors.push(tensor("scalar", &[], vec![3.5]));
    tensors.push(tensor("empty", &[0, 3], vec![]));
    save(&path, &tensors, Dtype::F32, &[]).unwrap();

    let w = load(&path).unwrap();
    assert_eq!(w.tensors().len(), tensors.len());
    for (got, want) in w.tensors().iter().zip(&tensors) {
        assert_eq!((&got.name, &got.shape), (&want.name, &want.shape));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got.data), bits(&want.data), "{}", want.name);
        assert_eq!(w.stored_dtype(&want.name), Some(Dtype::F32));
    }
    assert!(w.metadata().is_empty());
    assert_eq!(
        dir.names(),
        ["w.safetensors"],
        "no temporary file is left behind"
    );
}

#[test]
fn exact_layout_of_a_small_file() {
    let t = tensor("a", &[2], vec![1.0, -2.0]);
    let meta = vec![("k".to_string(), "v".to_string())];
    let bytes = saved_bytes(&[t], Dtype::F32, &meta);
    let json = r#"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let padded_len = json.len().next_multiple_of(8);
    assert_eq!(bytes[..8], (padded_len as u64).to_le_bytes());
    assert_eq!(&bytes[8..8 + json.len()], json.as_bytes());
    assert!(
        bytes[8 + json.len()..8 + padded_len]
            .iter()
            .all(|&b| b == b' ')
    );
    let data: Vec<u8> = [1.0f32, -2.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!(&bytes[8 + padded_len..], &data[..]);
}

#[test]
fn f16_and_bf16_round_trip_within_their_rounding() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut values: Vec<f32> = (0..2000)
        .map(|i| (2.0 * rng.random::<f32>() - 1.0) * [1e-6, 1e-2, 1.0, 3e4][i % 4])
        .collect();
    values.extend([0.0, -0.0, 65504.0, -65504.0, f32::INFINITY, 1e-9]);
    let tensors = vec![tensor("v", &[values.len()], values.clone())];
    for (dtype, eps_bits, round) in [
        (
            Dtype::F16,
            11,
            (|x| f16::from_f32(x).to_f32()) as fn(f32) -> f32,
        ),
        (Dtype::BF16, 8, |x| bf16::from_f32(x).to_f32()),
    ] {
        let w = read_bytes(&saved_bytes(&tensors, dtype, &[])).unwrap();
        assert_eq!(w.stored_dtype("v"), Some(dtype));
        for (&x, &y) in values.iter().zip(&w.tensors()[0].data) {
            assert_eq!(y.to_bits(), round(x).to_bits(), "{dtype:?} {x}");
            // Half an ulp relative for normal values; absolute for F16 subnormals (2^-24 / 2).
            let bound = (x.abs() * 0.5f32.powi(eps_bits)).max(if dtype == Dtype::F16 {
                2f32.powi(-25)
            } else {
                0.0
            });
            assert!(
                x.is_infinite() || (x - y).abs() <= bound,
                "{dtype:?}: {x} -> {y}"
            );
        }
    }
}

#[test]
fn f16_rounds_ties_to_even() {
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: the even neighbour is 1.
    // 1 + 3·2^-11 lies halfway between 1 + 2^-10 and 1 + 2^-9: the even one is 1 + 2^-9.
    let ulp = 2f32.powi(-10);
    let values = vec![1.0 + ulp / 2.0, 1.0 + 1.5 * ulp, 1.0 + 0.51 * ulp];
    let w = read_bytes(&saved_bytes(&[tensor("t", &[3], values)], Dtype::F16, &[])).unwrap();
    assert_eq!(w.tensors()[0].data, [1.0, 1.0 + 2.0 * ulp, 1.0 + ulp]);
}

#[test]
fn overflowing_f16_is_an_error_and_the_old_file_stays_intact() {
    let dir = TempDir::new("overflow");
    let path = dir.join("w.safetensors");
    let good = small_model();
    save(&path, &good, Dtype::F32, &[]).unwrap();
    let before = std::fs::read(&path).unwrap();

    let bad = vec![tensor("x", &[3], vec![1.0, 70000.0, 2.0])];
    let err = save(&path, &bad, Dtype::F16, &[]).unwrap_err().to_string();
    assert!(
        err.contains("'x'") && err.contains("70000") && err.contains("F16"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        dir.names(),
        ["w.safetensors"],
        "the temporary file is removed"
    );
    // 65519 still rounds down to 65504; infinity itself is stored as infinity.
    let edge = vec![tensor("x", &[2], vec![65519.0, f32::INFINITY])];
    assert_eq!(
        read_bytes(&saved_bytes(&edge, Dtype::F16, &[]))
            .unwrap()
            .tensors()[0]
            .data,
        [65504.0, f32::INFINITY]
    );
}

#[test]
fn save_refuses_duplicate_and_reserved_names() {
    let dir = TempDir::new("names");
    let path = dir.join("w.safetensors");
    let twice = vec![tensor("a", &[1], vec![1.0]), tensor("a", &[1], vec![2.0])];
    assert!(
        save(&path, &twice, Dtype::F32, &[])
            .unwrap_err()
            .to_string()
            .contains("two tensors are named 'a'")
    );
    let reserved = vec![tensor("__metadata__", &[1], vec![1.0])];
    assert!(
        save(&path, &reserved, Dtype::F32, &[])
            .unwrap_err()
            .to_string()
            .contains("reserved")
    );
    let meta = vec![
        ("k".to_string(), "1".to_string()),
        ("k".to_string(), "2".to_string()),
    ];
    assert!(
        save(&path, &[], Dtype::F32, &meta)
            .unwrap_err()
            .to_string()
            .contains("'k' appears twice")
    );
    assert!(dir.names().is_empty());
}

#[test]
#[should_panic(expected = "weights::save: tensor 'a' has shape [2, 2] (4 values) but 3 values")]
fn save_panics_when_data_does_not_fill_the_shape() {
    let _ = save(
        Path::new("never-written.safetensors"),
        &[tensor("a", &[2, 2], vec![0.0; 3])],
        Dtype::F32,
        &[],
    );
}

#[test]
fn save_into_a_missing_directory_is_an_io_error() {
    let dir = TempDir::new("missing");
    let path = dir.join("no/such/dir/w.safetensors");
    assert!(matches!(
        save(&path, &small_model(), Dtype::F32, &[]),
        Err(Error::Io { .. })
    ));
}

#[test]
fn metadata_round_trips_in_order() {
    let meta: Vec<(String, String)> = [
        ("preset", "small"),
        ("hash_bits", "16"),
        ("quote\"and\\slash", "line\nbreak\ttab \u{1} end"),
        ("ünïcode 🎵", ""),
        ("format", "pt"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let w = read_bytes(&saved_bytes(&small_model(), Dtype::F32, &meta)).unwrap();
    assert_eq!(w.metadata(), &meta[..]);
    assert_eq!(w.metadata_value("hash_bits"), Some("16"));
    assert_eq!(w.metadata_value("absent"), None);
}

#[test]
fn a_file_without_tensors_round_trips() {
    let w = read_bytes(&saved_bytes(&[], Dtype::F32, &[])).unwrap();
    assert!(w.tensors().is_empty() && w.metadata().is_empty());
}

#[test]
fn tensors_load_in_data_order_whatever_the_header_order() {
    let header = r#"{"late":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"early":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut data = 2.5f32.to_le_bytes().to_vec();
    data.extend_from_slice(&bf16::from_f32(-1.5).to_bits().to_le_bytes());
    let w = read_bytes(&raw_file(header, &data)).unwrap();
    let names: Vec<&str> = w.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["early", "late"]);
    assert_eq!(w.get("late").unwrap().data, [-1.5]);
    assert_eq!(w.stored_dtype("late"), Some(Dtype::BF16));
}

/// The bytes Python's `safetensors.numpy.save_file` (safetensors 0.8.0, NumPy 2.4) wrote
/// for `{"w": float16 [[1, -2, 0.5], [65504, 0, -0.25]], "b": float32 [3.5, -1e-3]}` with
/// metadata `{"preset": "small"}`. Python orders the data by dtype size, then name.
const PYTHON_FILE_HEX: &str = concat!(
    "90000000000000007b225f5f6d657461646174615f5f223a7b22707265736574223a22736d616c6c",
    "227d2c2262223a7b226474797065223a22463332222c227368617065223a5b325d2c22646174615f",
    "6f666673657473223a5b302c385d7d2c2277223a7b226474797065223a22463136222c2273686170",
    "65223a5b322c335d2c22646174615f6f666673657473223a5b382c32305d7d7d000060406f1283ba",
    "003c00c00038ff7b000000b4",
);

#[test]
fn reads_a_file_written_by_python_safetensors() {
    let bytes: Vec<u8> = (0..PYTHON_FILE_HEX.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&PYTHON_FILE_HEX[i..i + 2], 16).unwrap())
        .collect();
    let w = read_bytes(&bytes).unwrap();
    assert_eq!(w.metadata(), [("preset".to_string(), "small".to_string())]);
    assert_eq!(w.tensors()[0], tensor("b", &[2], vec![3.5, -1e-3]));
    assert_eq!(
        w.tensors()[1],
        tensor("w", &[2, 3], vec![1.0, -2.0, 0.5, 65504.0, 0.0, -0.25])
    );
    assert_eq!(
        (w.stored_dtype("b"), w.stored_dtype("w")),
        (Some(Dtype::F32), Some(Dtype::F16))
    );
}

#[test]
fn check_against_reports_every_difference_at_once() {
    let w = read_bytes(&saved_bytes(&small_model(), Dtype::F32, &[])).unwrap();
    let exact = [
        ("patch.weight", vec![8, 10]),
        ("patch.bias", vec![8]),
        ("head.weight", vec![4, 8]),
    ];
    w.check_against(&exact).unwrap();

    let expected: [(&str, &[usize]); 4] = [
        ("patch.weight", &[8, 10]),
        ("patch.bias", &[16]),
        ("pos.table", &[10, 8]),
        ("norm.gain", &[8]),
    ];
    let p = match w.check_against(&expected) {
        Err(Error::Weights { problem, .. }) => problem,
        other => panic!("{other:?}"),
    };
    assert!(
        p.contains("2 tensors missing (pos.table [10, 8]; norm.gain [8])"),
        "{p}"
    );
    assert!(
        p.contains("1 tensor unexpected (head.weight [4, 8])"),
        "{p}"
    );
    assert!(
        p.contains("1 tensor with the wrong shape (patch.bias: file has [8], model expects [16])"),
        "{p}"
    );
}

#[test]
fn take_removes_checked_tensors() {
    let model = small_model();
    let mut w = read_bytes(&saved_bytes(&model, Dtype::F32, &[])).unwrap();
    assert_eq!(w.take("patch.bias", &[8]).unwrap(), model[1].data);
    assert!(
        w.take("patch.bias", &[8])
            .unwrap_err()
            .to_string()
            .contains("no tensor 'patch.bias'")
    );
    let err = w.take("head.weight", &[8, 4]).unwrap_err().to_string();
    assert!(
        err.contains("has shape [4, 8] in the file but the model expects [8, 4]"),
        "{err}"
    );
    assert_eq!(
        w.stored_dtype("head.weight"),
        Some(Dtype::F32),
        "a failed take leaves the tensor"
    );
    let rest: Vec<String> = w.into_tensors().into_iter().map(|t| t.name).collect();
    assert_eq!(rest, ["patch.weight", "head.weight"]);
}

#[test]
fn identity_is_pinned_and_sensitive() {
    // Pinned: an index records this value, so the hash must never change silently. The
    // expected value was computed by an independent Python implementation of the stream
    // documented on `identity` (struct.pack('<Q'/'<f') + FNV-1a 64).
    let fixed = [
        tensor("b.bias", &[], vec![0.5]),
        tensor(
            "a.weight",
            &[2, 3],
            vec![1.0, -2.0, 0.25, 0.0, -0.0, 3.0e-5],
        ),
    ];
    assert_eq!(
        identity(&fixed),
        0x70f5_da7d_20ae_b6dc,
        "{:#018x}",
        identity(&fixed)
    );

    let model = small_model();
    let id = identity(&model);

    let mut reordered = model.clone();
    reordered.reverse();
    assert_eq!(identity(&reordered), id, "independent of tensor order");

    let mut flipped = model.clone();
    flipped[2].data[5] = f32::from_bits(flipped[2].data[5].to_bits() ^ 1);
    assert_ne!(identity(&flipped), id, "one bit of one value");

    let mut reshaped = model.clone();
    reshaped[0].shape = vec![10, 8];
    assert_ne!(identity(&reshaped), id, "shape");

    let mut renamed = model.clone();
    renamed[1].name = "patch.bias2".into();
    assert_ne!(identity(&renamed), id, "name");

    let loaded = read_bytes(&saved_bytes(&model, Dtype::F32, &[])).unwrap();
    assert_eq!(
        identity(loaded.tensors()),
        id,
        "survives an f32 save and load"
    );
}
