//! Test support: one device shared by every test of the binary, seeded random data,
//! and comparison with a tolerance.

use crate::gpu::buffer::GpuBuffer;
use crate::gpu::device::Gpu;
use std::sync::OnceLock;

/// The device shared by all tests (creating one costs ~50 ms, and pipelines compiled
/// by one test are reused by the next). `None` means no adapter: the caller returns
/// early after a printed SKIP, except with `REQUIRE_GPU` set, where a missing adapter
/// fails the test.
pub fn shared_gpu() -> Option<&'static Gpu> {
    static GPU: OnceLock<Option<Gpu>> = OnceLock::new();
    let gpu = GPU.get_or_init(|| match Gpu::new() {
        Ok(gpu) => {
            assert_eq!(
                gpu.backend(),
                wgpu::Backend::Vulkan,
                "unexpected backend (GL fallback?)"
            );
            Some(gpu)
        }
        Err(e) if std::env::var_os("REQUIRE_GPU").is_none() => {
            eprintln!("SKIP: no GPU adapter ({e})");
            None
        }
        Err(e) => panic!("REQUIRE_GPU is set but there is no GPU adapter: {e}"),
    });
    if gpu.is_none() {
        eprintln!("SKIP: GPU test without an adapter");
    }
    gpu.as_ref()
}

/// A device buffer holding `data`.
pub fn buffer(gpu: &Gpu, data: &[f32]) -> GpuBuffer {
    GpuBuffer::from_slice(gpu, data).expect("test buffers are small")
}

/// `n` values uniform in [−1, 1), reproducible from `seed` (SplitMix64).
pub fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            // The top 24 bits give a float in [0, 1) exactly.
            (z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

/// Rows of `x` (rows × cols) scaled to unit L2 norm.
pub fn normalised_rows(x: &[f32], cols: usize) -> Vec<f32> {
    x.chunks(cols)
        .flat_map(|row| {
            let n = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            row.iter().map(move |v| v / n)
        })
        .collect()
}

/// Asserts |got − want| ≤ tol · max(|want|, peak) element-wise, where peak is the
/// largest |want| of the array (a relative error at the array's scale), naming the
/// first offender.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let peak = want.iter().fold(f32::MIN_POSITIVE, |m, w| m.max(w.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= tol * w.abs().max(peak),
            "{what}: element {i}: got {g}, want {w} (error {err:e}, peak {peak:e}, tolerance {tol:e})"
        );
    }
}

/// Runs `f`, which must panic, and returns the panic message.
pub fn panic_message(f: impl FnOnce()) -> String {
    let payload =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Checks an analytic gradient against central differences of a scalar function
/// (computed in f64): |analytic − numeric| ≤ tol · max(1, |numeric|) per input.
pub fn assert_gradient(
    what: &str,
    f: impl Fn(&[f64]) -> f64,
    x: &[f64],
    analytic: &[f64],
    tol: f64,
) {
    const H: f64 = 1e-5;
    let mut probe = x.to_vec();
    for i in 0..x.len() {
        probe[i] = x[i] + H;
        let up = f(&probe);
        probe[i] = x[i] - H;
        let down = f(&probe);
        probe[i] = x[i];
        let numeric = (up - down) / (2.0 * H);
        assert!(
            (analytic[i] - numeric).abs() <= tol * numeric.abs().max(1.0),
            "{what}: d/dx[{i}]: analytic {}, numeric {numeric}",
            analytic[i]
        );
    }
}

/// f32 → f64 for the references.
pub fn wide(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| f64::from(v)).collect()
}

/// f64 → f32 for comparison with kernel output.
pub fn narrow(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

/// Σ w ⊙ y: turns a vector output into the scalar a gradient check differentiates.
pub fn weighted_sum(w: &[f64], y: &[f64]) -> f64 {
    w.iter().zip(y).map(|(a, b)| a * b).sum()
}
