//! Tensor engine speed: GEMM at the encoder's shapes and one encoder layer forward +
//! backward.
//!
//! Thread count comes from `MATMUL_NUM_THREADS` (read once per process by our GEMM split
//! and batch-parallel loops), so run it once per setting:
//!
//! ```text
//! MATMUL_NUM_THREADS=1 cargo bench --no-default-features --bench tensor
//! MATMUL_NUM_THREADS=2 cargo bench --no-default-features --bench tensor
//! ```
//!
//! Besides criterion's report (throughput in Gelem/s = GFLOP/s for GEMM, elem/s =
//! segments/s for the layer), it prints a summary: GEMM GFLOP/s beside the machine's peak,
//! and the profile of a layer step with the share of time spent in GEMM.

mod common;
use common::process_cpu_secs;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use earmark::autograd::layers::{EncoderLayer, EncoderLayerConfig};
use earmark::autograd::{ParamStore, Tape};
use earmark::profile;
use earmark::tensor::Tensor;
use earmark::tensor::gemm::{self, Mat, gemm};
use earmark::tensor::parallel::threads;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// f32 peak of one core: 2 FMA units × 8 lanes × 2 FLOPs × 3.65 GHz (PLATFORM.md).
const PEAK_PER_CORE: f64 = 116.8;

/// Segments per batch: 256, each 10 tokens of 128.
const B: usize = 256;
const TOKENS: usize = 10;

/// The encoder's GEMMs as `x (m, k) · Wᵀ` with `W (n, k)` (the linear layer's layout).
const SHAPES: [(&str, usize, usize, usize); 4] = [
    ("patch_embed (B·10)x640 · 640x128", B * TOKENS, 640, 128),
    ("qkv (B·10)x128 · 128x384", B * TOKENS, 128, 384),
    ("ffn1 (B·10)x128 · 128x2048", B * TOKENS, 128, 2048),
    ("projector Bx1280 · 1280x2048", B, 1280, 2048),
];

const LAYERS: [(&str, EncoderLayerConfig); 2] = [
    (
        "small d128 h4 ffn512",
        EncoderLayerConfig {
            d_model: 128,
            heads: 4,
            d_ff: 512,
            eps: 1e-5,
        },
    ),
    (
        "paper d128 h8 ffn2048",
        EncoderLayerConfig {
            d_model: 128,
            heads: 8,
            d_ff: 2048,
            eps: 1e-5,
        },
    ),
];

struct GemmCase {
    m: usize,
    k: usize,
    n: usize,
    x: Vec<f32>,
    w: Vec<f32>,
    out: Vec<f32>,
}

impl GemmCase {
    fn new(m: usize, k: usize, n: usize, rng: &mut StdRng) -> Self {
        let x = Tensor::randn(&[m, k], 1.0, rng).into_data();
        let w = Tensor::randn(&[n, k], 1.0, rng).into_data();
        GemmCase {
            m,
            k,
            n,
            x,
            w,
            out: vec![0.0; m * n],
        }
    }
    fn run(&mut self) {
        gemm(
            self.m,
            self.k,
            self.n,
            1.0,
            Mat::n(&self.x),
            Mat::t(&self.w),
            0.0,
            &mut self.out,
        );
        black_box(&self.out);
    }
    fn flops(&self) -> u64 {
        gemm::flops(self.m, self.k, self.n)
    }
}

struct LayerCase {
    store: ParamStore,
    layer: EncoderLayer,
    x: Tensor,
}

impl LayerCase {
    fn new(cfg: EncoderLayerConfig, rng: &mut StdRng) -> Self {
        let mut store = ParamStore::new();
        let layer = EncoderLayer::new(&mut store, "layer", cfg, rng);
        let x = Tensor::randn(&[B, TOKENS, cfg.d_model], 1.0, rng);
        LayerCase { store, layer, x }
    }
    /// One training step's worth of work for this layer: forward, backward, parameter grads.
    fn step(&mut self) {
        let mut tape = Tape::new();
        let x = tape.leaf(self.x.clone());
        let y = self.layer.forward(&mut tape, &self.store, &x);
        let seed = Tensor::full(y.shape(), 1e-3);
        tape.backward_from(&y, seed);
        tape.accumulate_param_grads(&mut self.store);
        black_box(tape.grad(&x));
    }
}

/// This core's f32 FMA throughput, GFLOP per CPU-second: 12 independent chains of 256-bit
/// FMAs (enough to cover 2 units × 4-cycle latency), timed like the GEMMs. `None` without
/// AVX2 + FMA. The nominal peak assumes 3.65 GHz; a VM core may run slower.
#[cfg(target_arch = "x86_64")]
fn measured_fma_peak() -> Option<f64> {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_storeu_ps,
    };

    #[target_feature(enable = "avx2,fma")]
    fn chains(iters: u64) -> f32 {
        let mut acc: [__m256; 12] = [_mm256_set1_ps(0.0); 12];
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let sum = acc
            .iter()
            .fold(_mm256_set1_ps(0.0), |s, &x| _mm256_add_ps(s, x));
        let mut out = [0.0f32; 8];
        // SAFETY: `out` has room for the 8 floats the unaligned store writes.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
        out.iter().sum()
    }

    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return None;
    }
    const ITERS: u64 = 50_000_000;
    // 12 chains × 8 lanes × 2 FLOPs per iteration.
    let flops = ITERS as f64 * 12.0 * 16.0;
    let (_, cpu) = measure(Duration::from_millis(500), || {
        // SAFETY: the CPU supports AVX2 and FMA, checked above.
        black_box(unsafe { chains(black_box(ITERS)) });
    });
    cpu.map(|c| flops / c / 1e9)
}

#[cfg(not(target_arch = "x86_64"))]
fn measured_fma_peak() -> Option<f64> {
    None
}

/// Runs `f` repeatedly for at least `budget` (after one warm-up call); returns
/// (wall seconds, CPU seconds) per call. On a shared machine the CPU time is what the
/// work really cost: wall time also counts the time other processes held our core.
fn measure(budget: Duration, mut f: impl FnMut()) -> (f64, Option<f64>) {
    f();
    let (start, cpu0) = (Instant::now(), process_cpu_secs());
    let mut calls = 0u32;
    while start.elapsed() < budget || calls < 3 {
        f();
        calls += 1;
    }
    let wall = start.elapsed().as_secs_f64() / calls as f64;
    let cpu = cpu0
        .zip(process_cpu_secs())
        .map(|(a, b)| (b - a) / calls as f64);
    (wall, cpu)
}

fn bench_gemm(c: &mut Criterion, rng: &mut StdRng) {
    let mut group = c.benchmark_group(format!("gemm_{}t", threads()));
    for (name, m, k, n) in SHAPES {
        let mut case = GemmCase::new(m, k, n, rng);
        group.throughput(Throughput::Elements(case.flops()));
        group.bench_function(name, |b| b.iter(|| case.run()));
    }
    group.finish();
}

fn bench_layer(c: &mut Criterion, rng: &mut StdRng) {
    let mut group = c.benchmark_group(format!("encoder_layer_fwd_bwd_{}t_B{B}", threads()));
    for (name, cfg) in LAYERS {
        let mut case = LayerCase::new(cfg, rng);
        group.throughput(Throughput::Elements(B as u64));
        group.bench_function(name, |b| b.iter(|| case.step()));
    }
    group.finish();
}

/// GFLOP/s beside the peak, segments/s, and the profile share of GEMM in a layer step.
fn summary(rng: &mut StdRng) {
    let t = threads();
    let peak = PEAK_PER_CORE * t as f64;
    println!(
        "\n== summary: {t} thread(s); peak {PEAK_PER_CORE:.0} GFLOP/s per core, {peak:.0} for {t} =="
    );
    println!("(per CPU-s = per second of CPU time actually used, all threads: the per-core speed)");
    let fma = measured_fma_peak().unwrap_or(f64::NAN);
    println!("measured FMA peak of this core: {fma:.1} GFLOP per CPU-s");
    println!(
        "{:<36} {:>13} {:>8} {:>12} {:>12} {:>12}",
        "GEMM", "GFLOP/s wall", "% peak", "GFLOP/CPU-s", "% core peak", "% measured"
    );
    for (name, m, k, n) in SHAPES {
        let mut case = GemmCase::new(m, k, n, rng);
        let (wall, cpu) = measure(Duration::from_secs(1), || case.run());
        let g = case.flops() as f64 / 1e9;
        let per_cpu = cpu.map_or(f64::NAN, |c| g / c);
        println!(
            "{name:<36} {:>13.1} {:>7.0}% {per_cpu:>12.1} {:>11.0}% {:>11.0}%",
            g / wall,
            100.0 * g / wall / peak,
            100.0 * per_cpu / PEAK_PER_CORE,
            100.0 * per_cpu / fma
        );
    }
    for (name, cfg) in LAYERS {
        let mut case = LayerCase::new(cfg, rng);
        let (wall, cpu) = measure(Duration::from_secs(2), || case.step());
        let cpu = cpu.unwrap_or(f64::NAN);
        profile::enable(true);
        profile::reset();
        let start = Instant::now();
        for _ in 0..3 {
            case.step();
        }
        let profiled = start.elapsed().as_secs_f64();
        profile::enable(false);
        let rows = profile::snapshot();
        let total: f64 = rows.iter().map(|(_, e)| e.time.as_secs_f64()).sum();
        let is_gemm = |op: &str| op.starts_with("linear") || op.starts_with("matmul");
        let in_gemm: f64 = rows
            .iter()
            .filter(|(op, _)| is_gemm(op))
            .map(|(_, e)| e.time.as_secs_f64())
            .sum();
        println!(
            "\n{name}, B = {B}: {:.0} segments/s wall ({:.1} ms/step), {:.0} segments per CPU-s",
            B as f64 / wall,
            wall * 1e3,
            B as f64 / cpu
        );
        println!(
            "GEMM (linear, matmul ops) share: {:.0}% of wall time, {:.0}% of op time (ops cover {:.0}% of wall)",
            100.0 * in_gemm / profiled,
            100.0 * in_gemm / total,
            100.0 * total / profiled
        );
        print!("{}", profile::report());
    }
}

fn main() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
        .configure_from_args();
    bench_gemm(&mut c, &mut rng);
    bench_layer(&mut c, &mut rng);
    c.final_summary();
    summary(&mut rng);
}
