use super::*;
use crate::Isa;
use std::vec::Vec;

/// Every binary16 bit pattern.
fn all_halves() -> impl Iterator<Item = u16> {
    0..=u16::MAX
}

fn is_nan_bits(h: u16) -> bool {
    h & 0x7c00 == 0x7c00 && h & 0x3ff != 0
}

#[test]
fn known_values() {
    let cases: [(f32, u16); 12] = [
        (0.0, 0x0000),
        (-0.0, 0x8000),
        (1.0, 0x3c00),
        (-2.0, 0xc000),
        (65504.0, 0x7bff),
        (65520.0, 0x7c00),   // halfway between 65504 and 2^16: ties to even (∞)
        (65519.996, 0x7bff), // just below that midpoint
        (5.960_464_5e-8, 0x0001), // 2^−24, smallest subnormal
        (2.980_232_2e-8, 0x0000), // 2^−25, halfway to 0: ties to even (0)
        (4.470_348_4e-8, 0x0001), // 1.5 · 2^−25 rounds up
        (6.097_555e-5, 0x03ff), // largest subnormal
        (f32::INFINITY, 0x7c00),
    ];
    for (x, h) in cases {
        assert_eq!(f32_to_f16(x), h, "f32_to_f16({x:e})");
    }
    assert_eq!(f32_to_f16(f32::NEG_INFINITY), 0xfc00);
    assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
}

#[test]
fn every_half_round_trips() {
    for h in all_halves() {
        let x = f16_to_f32(h);
        if is_nan_bits(h) {
            assert!(x.is_nan(), "{h:#06x}");
            assert_eq!(f32_to_f16(x), h | F16_QUIET, "{h:#06x}");
        } else {
            assert_eq!(f32_to_f16(x), h, "{h:#06x} → {x:e}");
        }
    }
}

#[test]
fn midpoints_round_to_even() {
    // Consecutive positive finite halves h, h + 1 (the bit patterns are ordered like the
    // values). Their midpoint has 12 significant bits: exact in f32.
    for h in 0..0x7bffu16 {
        let (lo, hi) = (f16_to_f32(h), f16_to_f32(h + 1));
        let mid = ((f64::from(lo) + f64::from(hi)) / 2.0) as f32;
        let even = if h & 1 == 0 { h } else { h + 1 };
        assert_eq!(f32_to_f16(mid), even, "midpoint of {h:#06x}");
        assert_eq!(
            f32_to_f16(f32::from_bits(mid.to_bits() + 1)),
            h + 1,
            "above {h:#06x}"
        );
        assert_eq!(
            f32_to_f16(f32::from_bits(mid.to_bits() - 1)),
            h,
            "below {h:#06x}"
        );
        assert_eq!(
            f32_to_f16(-mid),
            even | 0x8000,
            "negative midpoint of {h:#06x}"
        );
    }
}

/// f32 inputs for the slice tests: all halves widened, their midpoints, and a stride
/// through all 2^32 bit patterns (every exponent, NaNs and subnormals included).
fn f32_samples() -> Vec<f32> {
    let mut xs: Vec<f32> = all_halves().map(f16_to_f32).collect();
    xs.extend(
        (0..0x7bffu16)
            .map(|h| ((f64::from(f16_to_f32(h)) + f64::from(f16_to_f32(h + 1))) / 2.0) as f32),
    );
    // 2^32 / 4099 ≈ 1.05 M patterns; 4099 is prime so the low bits vary too.
    xs.extend((0..=u32::MAX).step_by(4099).map(f32::from_bits));
    xs
}

#[test]
fn slices_match_scalar_on_every_isa() {
    let halves: Vec<u16> = all_halves().collect();
    let xs = f32_samples();
    for isa in Isa::available() {
        for offset in [0, 1, 3] {
            let src = &halves[offset..];
            let mut wide = std::vec![0.0f32; src.len()];
            f16_to_f32_slice_with(isa, src, &mut wide);
            for (&h, &x) in src.iter().zip(&wide) {
                assert_eq!(
                    x.to_bits(),
                    f16_to_f32(h).to_bits(),
                    "{isa:?} widen {h:#06x}"
                );
            }
            let src = &xs[offset..];
            let mut narrow = std::vec![0u16; src.len()];
            f32_to_f16_slice_with(isa, src, &mut narrow);
            for (&x, &h) in src.iter().zip(&narrow) {
                assert_eq!(h, f32_to_f16(x), "{isa:?} narrow {:#010x}", x.to_bits());
            }
        }
        for len in 0..=67 {
            let mut wide = std::vec![0.0f32; len];
            f16_to_f32_slice_with(isa, &halves[1000..1000 + len], &mut wide);
            let mut narrow = std::vec![0u16; len];
            f32_to_f16_slice_with(isa, &wide, &mut narrow);
            assert_eq!(narrow, &halves[1000..1000 + len], "{isa:?} len {len}");
        }
    }
}

#[test]
#[should_panic(expected = "f32_to_f16_slice: src has 3 values, dst 2")]
fn slice_length_mismatch_panics() {
    f32_to_f16_slice(&[1.0, 2.0, 3.0], &mut [0, 0]);
}
