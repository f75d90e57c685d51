use super::*;
use crate::half::{f16_to_f32, f32_to_f16};
use crate::testutil::Rng;
use std::vec::Vec;

/// Largest |value| in the exact tests: with |q|, |x| ≤ 8 and d ≤ 300 every partial sum
/// is an integer below 2^24, so all summation orders give the same f32.
const SMALL: i32 = 8;

/// Offsets at which the query and the database slices start (odd ones misalign them).
const OFFSETS: [usize; 3] = [0, 1, 3];

/// One scan case: a query of d values and n rows, cut from longer buffers at `offset`.
struct Case {
    query: Vec<f32>,
    db: Vec<f32>,
    offset: usize,
    d: usize,
    n: usize,
}

impl Case {
    fn new(rng: &mut Rng, d: usize, n: usize, offset: usize) -> Case {
        let query = rng.ints(offset + d, -SMALL, SMALL);
        let db = rng.ints(offset + n * d, -SMALL, SMALL);
        Case {
            query,
            db,
            offset,
            d,
            n,
        }
    }

    fn query(&self) -> &[f32] {
        &self.query[self.offset..]
    }

    fn db(&self) -> &[f32] {
        &self.db[self.offset..]
    }

    /// The exact scores, in integer arithmetic.
    fn exact(&self) -> Vec<f32> {
        let rows = (0..self.n).map(|r| &self.db()[r * self.d..(r + 1) * self.d]);
        let dot = |row: &[f32]| {
            self.query()
                .iter()
                .zip(row)
                .map(|(q, x)| (*q as i64) * (*x as i64))
                .sum::<i64>()
        };
        rows.map(|row| dot(row) as f32).collect()
    }
}

/// (d, n) shapes: every d in 0..=67 with a few rows, every n in 0..=67 at d = 128 (and at an
/// awkward d), and larger cases.
fn shapes() -> Vec<(usize, usize)> {
    let mut shapes: Vec<(usize, usize)> = (0..=67).map(|d| (d, 5)).collect();
    shapes.extend((0..=67).map(|n| (128, n)));
    shapes.extend((0..=67).map(|n| (19, n)));
    shapes.extend([(128, 1031), (300, 67), (131, 257)]);
    shapes
}

fn check_each_case(mut check: impl FnMut(&Case)) {
    let mut rng = Rng::new(0x5ca7);
    for (d, n) in shapes() {
        for offset in OFFSETS {
            check(&Case::new(&mut rng, d, n, offset));
        }
    }
}

#[test]
fn scan_f32_equals_scalar_and_exact_on_every_isa() {
    check_each_case(|case| {
        let exact = case.exact();
        for isa in Isa::available() {
            let mut out = std::vec![f32::NAN; case.n];
            scan_f32_with(isa, case.query(), case.db(), &mut out);
            assert_eq!(
                out, exact,
                "{isa:?} d {} n {} offset {}",
                case.d, case.n, case.offset
            );
        }
    });
}

#[test]
fn scan_f16_equals_scalar_and_exact_on_every_isa() {
    check_each_case(|case| {
        let exact = case.exact();
        let db16: Vec<u16> = case.db.iter().map(|&x| f32_to_f16(x)).collect();
        for isa in Isa::available() {
            let mut out = std::vec![f32::NAN; case.n];
            scan_f16_with(isa, case.query(), &db16[case.offset..], &mut out);
            assert_eq!(
                out, exact,
                "{isa:?} d {} n {} offset {}",
                case.d, case.n, case.offset
            );
        }
    });
}

#[test]
fn scan_i8_equals_scalar_and_exact_on_every_isa() {
    // Integer sums are exact in every path, so real-valued queries and scales work too.
    let mut rng = Rng::new(0x18);
    check_each_case(|case| {
        let real_query: Vec<f32> = case.query().iter().map(|_| rng.unit()).collect();
        let mut query = std::vec![0i16; case.d];
        let query_scale = quantize_query_i16(&real_query, &mut query);
        let db8: Vec<i8> = (0..case.n * case.d + case.offset)
            .map(|_| rng.int(-128, 127) as i8)
            .collect();
        let db8 = &db8[case.offset..];
        let scales: Vec<f32> = (0..case.n).map(|_| rng.unit()).collect();
        let exact: Vec<f32> = (0..case.n)
            .map(|r| {
                let row = &db8[r * case.d..(r + 1) * case.d];
                let sum: i64 = query
                    .iter()
                    .zip(row)
                    .map(|(&q, &x)| i64::from(q) * i64::from(x))
                    .sum();
                // d = 0 gives +0 (the empty sum), whatever the sign of the scales.
                if case.d == 0 {
                    0.0
                } else {
                    (scales[r] * query_scale) * i32::try_from(sum).unwrap() as f32
                }
            })
            .collect();
        for isa in Isa::available() {
            let mut out = std::vec![f32::NAN; case.n];
            scan_i8_with(isa, &query, query_scale, db8, &scales, &mut out);
            assert_eq!(
                bits(&out),
                bits(&exact),
                "{isa:?} d {} n {} offset {}",
                case.d,
                case.n,
                case.offset
            );
        }
    });
}

#[test]
fn scan_i8_wraps_identically_without_the_query_bound() {
    // |Σ| = 1000 · 32768 · 128 > 2^31: the i32 sums wrap, the same way in every path.
    let d = 1000;
    let query = std::vec![i16::MIN; d];
    let db = std::vec![i8::MIN; 3 * d];
    let mut want = [0.0; 3];
    scan_i8_with(Isa::Scalar, &query, 1.0, &db, &[1.0; 3], &mut want);
    assert_eq!(want[0], (1000i64 * 32768 * 128) as i32 as f32);
    for isa in Isa::available() {
        let mut out = [0.0; 3];
        scan_i8_with(isa, &query, 1.0, &db, &[1.0; 3], &mut out);
        assert_eq!(out, want, "{isa:?}");
    }
}

#[test]
fn scan_i8_approximates_the_float_dot_product() {
    let mut rng = Rng::new(5);
    let (d, n) = (128, 20);
    let query: Vec<f32> = (0..d).map(|_| rng.unit()).collect();
    let db: Vec<f32> = (0..n * d).map(|_| rng.unit()).collect();
    let mut db8 = std::vec![0i8; n * d];
    let scales: Vec<f32> = db
        .chunks_exact(d)
        .zip(db8.chunks_exact_mut(d))
        .map(|(row, q)| quantize_i8(row, q))
        .collect();
    let mut query16 = std::vec![0i16; d];
    let query_scale = quantize_query_i16(&query, &mut query16);
    let mut out = std::vec![0.0; n];
    scan_i8(&query16, query_scale, &db8, &scales, &mut out);
    let mut want = std::vec![0.0; n];
    scan_f32(&query, &db, &mut want);
    for (got, want) in out.iter().zip(&want) {
        // Each row value is off by ≤ scale/2 ≤ 1/254; Σ|q| ≤ 128.
        assert!((got - want).abs() < 128.0 / 254.0 * 0.5, "{got} vs {want}");
    }
}

#[test]
fn quantize_query_i16_bounds_the_sums() {
    let mut rng = Rng::new(6);
    for (d, limit) in [(128, 32767), (512, 32767), (2000, 8388)] {
        let query: Vec<f32> = (0..d).map(|_| rng.unit() * 5.0).collect();
        let mut q = std::vec![0i16; d];
        let scale = quantize_query_i16(&query, &mut q);
        assert_eq!(
            q.iter().map(|v| v.unsigned_abs()).max(),
            Some(limit),
            "d {d}"
        );
        assert!((d * 128 * limit as usize) <= i32::MAX as usize);
        for (&x, &v) in query.iter().zip(&q) {
            assert!(
                (x - scale * f32::from(v)).abs() <= scale * 0.5 + 1e-6,
                "{x} vs {v}"
            );
        }
    }
}

fn bits(xs: &[f32]) -> Vec<u32> {
    xs.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn scans_agree_closely_on_real_valued_inputs() {
    // Non-integer inputs: the summation order differs between paths, so compare with a
    // tolerance relative to Σ|q·x| (f32 rounding, d = 128).
    let mut rng = Rng::new(7);
    let (d, n) = (128, 37);
    let query: Vec<f32> = (0..d).map(|_| rng.unit()).collect();
    let db: Vec<f32> = (0..n * d).map(|_| rng.unit()).collect();
    let db16: Vec<u16> = db.iter().map(|&x| f32_to_f16(x)).collect();
    let mut reference = std::vec![0.0; n];
    scan_f32_with(Isa::Scalar, &query, &db, &mut reference);
    for isa in Isa::available() {
        let mut out = std::vec![0.0; n];
        scan_f32_with(isa, &query, &db, &mut out);
        for (a, b) in out.iter().zip(&reference) {
            assert!((a - b).abs() < 1e-4, "{isa:?}: {a} vs {b}");
        }
        scan_f16_with(isa, &query, &db16, &mut out);
        for (r, score) in out.iter().enumerate() {
            let row = &db16[r * d..(r + 1) * d];
            let want: f64 = query
                .iter()
                .zip(row)
                .map(|(&q, &h)| f64::from(q) * f64::from(f16_to_f32(h)))
                .sum();
            assert!(
                (f64::from(*score) - want).abs() < 1e-4,
                "{isa:?} f16 row {r}"
            );
        }
    }
}

#[test]
fn quantize_i8_bounds_the_error() {
    let mut rng = Rng::new(3);
    let row: Vec<f32> = (0..128).map(|_| rng.unit() * 3.0).collect();
    let mut q = std::vec![0i8; 128];
    let scale = quantize_i8(&row, &mut q);
    let max = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert_eq!(scale, max / 127.0);
    assert!(q.iter().any(|&v| v == 127 || v == -127));
    for (&x, &v) in row.iter().zip(&q) {
        assert!(
            (x - scale * f32::from(v)).abs() <= scale * 0.5 + 1e-6,
            "{x} vs {v}"
        );
    }
    let mut zeros = [5i8; 4];
    assert_eq!(quantize_i8(&[0.0; 4], &mut zeros), 0.0);
    assert_eq!(zeros, [0; 4]);
}

#[test]
#[should_panic(expected = "scan_f32: db has 10 values, expected out.len() 3 × d 4")]
fn scan_shape_mismatch_panics() {
    scan_f32(&[1.0; 4], &[0.0; 10], &mut [0.0; 3]);
}

#[test]
fn empty_query_gives_zero_scores() {
    let mut out = [1.0f32; 3];
    scan_f16(&[], &[], &mut out);
    assert_eq!(out, [0.0; 3]);
}

#[test]
fn forcing_an_unavailable_isa_panics() {
    // No CPU has both NEON and AVX2, so one of them is always missing.
    let missing = Isa::ALL
        .into_iter()
        .find(|isa| !isa.is_available())
        .unwrap();
    let result = std::panic::catch_unwind(|| scan_f32_with(missing, &[1.0], &[1.0], &mut [0.0]));
    assert!(result.is_err(), "{missing:?}");
}

#[test]
fn prefetch_is_a_hint_on_any_slice() {
    let data: std::vec::Vec<u16> = (0..1000).collect();
    for start in [0, 1, 31, 999, 1000] {
        for len in [0, 1, 33, 1000 - start] {
            let end = (start + len).min(1000);
            super::prefetch(&data[start..end]);
        }
    }
    super::prefetch::<()>(&[(); 5]);
    assert!(data.iter().enumerate().all(|(i, &v)| v as usize == i));
}
