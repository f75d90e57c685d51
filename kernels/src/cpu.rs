//! Instruction-set selection for the SIMD kernels.
//!
//! [`Isa::detect`] picks the best instruction set once and caches it in an atomic. With
//! the `std` feature (and in this crate's tests) it asks the CPU at run time; without it,
//! it trusts the compile-time `target_feature`s only, which is always sound.
//!
//! Every kernel has a `*_with(isa, …)` form so that tests and benches can force one path
//! and compare it with its scalar twin.

use core::sync::atomic::{AtomicU8, Ordering};

/// An instruction set that the kernels have a code path for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust, no intrinsics: the oracle every other path is tested against.
    Scalar,
    /// x86-64 AVX2 + FMA + F16C (Haswell, Zen 1 and later).
    Avx2Fma,
    /// x86-64 AVX-512F (with AVX2 + FMA + F16C, which every AVX-512 CPU has).
    Avx512,
    /// aarch64 Advanced SIMD (NEON), part of every aarch64 CPU.
    Neon,
}

/// `Isa` codes in [`DETECTED`]; 0 means "not detected yet".
const UNKNOWN: u8 = 0;

/// The best instruction set, cached by [`Isa::detect`] (an `Isa::code`, or [`UNKNOWN`]).
static DETECTED: AtomicU8 = AtomicU8::new(UNKNOWN);

impl Isa {
    /// Every instruction set, from the most portable to the widest.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2Fma, Isa::Avx512, Isa::Neon];

    /// The best instruction set of this CPU; detected on the first call, then cached.
    pub fn detect() -> Isa {
        match DETECTED.load(Ordering::Relaxed) {
            UNKNOWN => {
                let best = [Isa::Avx512, Isa::Avx2Fma, Isa::Neon]
                    .into_iter()
                    .find(|isa| isa.is_available())
                    .unwrap_or(Isa::Scalar);
                DETECTED.store(best.code(), Ordering::Relaxed);
                best
            }
            code => Isa::from_code(code),
        }
    }

    /// The instruction sets this CPU can run, `Scalar` first.
    pub fn available() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.is_available())
    }

    /// Whether this CPU (run-time detection) or this build (compile-time features, without
    /// `std`) can run the kernels of `self`.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            Isa::Avx2Fma => x86_has_avx2_fma(),
            Isa::Avx512 => x86_has_avx2_fma() && x86_has_avx512f(),
            Isa::Neon => aarch64_has_neon(),
        }
    }

    /// A short lower-case name for reports and bench labels.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2Fma => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    fn code(self) -> u8 {
        match self {
            Isa::Scalar => 1,
            Isa::Avx2Fma => 2,
            Isa::Avx512 => 3,
            Isa::Neon => 4,
        }
    }

    fn from_code(code: u8) -> Isa {
        match code {
            2 => Isa::Avx2Fma,
            3 => Isa::Avx512,
            4 => Isa::Neon,
            _ => Isa::Scalar,
        }
    }
}

#[cfg(all(target_arch = "x86_64", any(feature = "std", test)))]
fn x86_has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
}

#[cfg(all(target_arch = "x86_64", any(feature = "std", test)))]
fn x86_has_avx512f() -> bool {
    std::is_x86_feature_detected!("avx512f")
}

#[cfg(all(target_arch = "x86_64", not(any(feature = "std", test))))]
fn x86_has_avx2_fma() -> bool {
    cfg!(all(
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    ))
}

#[cfg(all(target_arch = "x86_64", not(any(feature = "std", test))))]
fn x86_has_avx512f() -> bool {
    cfg!(target_feature = "avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn x86_has_avx2_fma() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn x86_has_avx512f() -> bool {
    false
}

/// NEON is mandatory on aarch64 (the Rust aarch64 targets all enable it).
fn aarch64_has_neon() -> bool {
    cfg!(all(target_arch = "aarch64", target_feature = "neon"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_is_available_and_cached() {
        let best = Isa::detect();
        assert!(best.is_available());
        assert_eq!(Isa::detect(), best);
        assert_eq!(Isa::available().next(), Some(Isa::Scalar));
        assert!(Isa::available().any(|isa| isa == best));
    }

    #[test]
    fn codes_round_trip() {
        for isa in Isa::ALL {
            assert_eq!(Isa::from_code(isa.code()), isa);
        }
    }
}
