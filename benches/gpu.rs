//! Throughput of every WGSL kernel on the adapter wgpu opens (Vulkan unless
//! WGPU_BACKEND says otherwise), on named shapes near earmark's training step.
//!
//! `cargo bench --bench gpu [-- FILTER]` prints one row per kernel: best and median
//! time per call, with the device synchronised inside the timed loop (record, submit,
//! wait), and GFLOP/s for compute-bound kernels or GB/s (bytes that must cross
//! memory at least once) for the others. On lavapipe the figures measure the CPU
//! emulation, not a GPU: see shaders/README.md.
//!
//! The `cores` column is the CPU time this process (all threads, lavapipe's
//! workers included) used per wall-clock second of the timed calls. On lavapipe a
//! quiet machine gives about `LP_NUM_THREADS` (default: every core) for a kernel with
//! enough workgroups to keep every worker busy (less for the model's chains of small
//! dispatches); well below that, other processes held the cores and the row's figures
//! are low by about that ratio. The header prints the load average for the same reason.

mod common;
use common::process_cpu_secs;

use earmark::autograd::Tape;
use earmark::gpu::{
    AdamW, Attention, Batch, Gemm, Gpu, GpuBuffer, HashLoss, NtXent, Reduction, RowConfig,
    Sinkhorn, adamw, add, attention_backward, attention_forward, gemm, hash_loss_backward,
    hash_loss_forward, l2norm_forward, layernorm_backward, layernorm_forward, ntxent_backward,
    ntxent_forward, sinkhorn_argmax, sinkhorn_solve, softmax_backward, softmax_forward,
};
use earmark::gpu::{GpuModel, GpuTrainer};
use earmark::model::{Model, ModelConfig};
use earmark::tensor::Tensor;
use earmark::train::objective::PairBatch;
use earmark::train::trainer::{TrainConfig, Trainer};
use std::time::{Duration, Instant};

/// Timed calls stop after this much time or [`MAX_CALLS`] calls, whichever is first.
const BUDGET: Duration = Duration::from_millis(400);
const MAX_CALLS: usize = 30;
/// Untimed calls first: the pipeline's JIT compile happens on its first dispatch.
const WARMUP_CALLS: usize = 2;

/// What one call of a kernel moves or computes, for the throughput column.
enum Work {
    Flops(u64),
    Bytes(u64),
}

/// Bytes of `n` f32 values.
fn f32s(n: usize) -> u64 {
    4 * n as u64
}

fn zeros(gpu: &Gpu, n: usize) -> GpuBuffer {
    GpuBuffer::zeros(gpu, n).expect("bench buffers fit the device")
}

/// Values in [−1, 1), deterministic.
fn filled(gpu: &Gpu, n: usize, seed: u32) -> GpuBuffer {
    let data: Vec<f32> = (0..n as u32)
        .map(|i| {
            let h = (i ^ seed.wrapping_mul(0x9E37_79B9)).wrapping_mul(0x85EB_CA6B);
            (h >> 8) as f32 / (1 << 23) as f32 - 1.0
        })
        .collect();
    GpuBuffer::from_slice(gpu, &data).expect("bench buffers fit the device")
}

struct Bench<'g> {
    gpu: &'g Gpu,
    filter: Option<String>,
}

impl Bench<'_> {
    /// Times `record` (which records one call into a batch) and prints a row.
    fn run(
        &self,
        name: &str,
        work: Work,
        rows: Option<RowConfig>,
        record: impl Fn(&mut Batch<'_>),
    ) {
        if self
            .filter
            .as_ref()
            .is_some_and(|f| !name.contains(f.as_str()))
        {
            return;
        }
        let call = || {
            let mut batch = self.gpu.batch();
            if let Some(rows) = rows {
                batch.set_rows(rows);
            }
            record(&mut batch);
            batch.submit();
            self.gpu.wait().expect("device wait");
        };
        let timing = time_calls(call);
        let best = timing.best.as_secs_f64();
        let rate = match work {
            Work::Flops(f) => format!("{:8.2} GFLOP/s", f as f64 / best / 1e9),
            Work::Bytes(b) => format!("{:8.2} GB/s   ", b as f64 / best / 1e9),
        };
        println!("{name:<52} {}", timing.columns(&rate));
    }
}

/// What [`time_calls`] measured.
struct Timing {
    best: Duration,
    median: Duration,
    calls: usize,
    /// CPU seconds of this process per wall second over the timed calls; `None` where
    /// unavailable or when the calls took too little time for /proc's 10 ms ticks.
    cores: Option<f64>,
}

impl Timing {
    /// The row's columns after the name: best, median, `rate`, cores, calls.
    fn columns(&self, rate: &str) -> String {
        let cores = self
            .cores
            .map_or_else(|| "    -".to_owned(), |c| format!("{c:5.2}"));
        format!(
            "{:>9.3} ms {:>9.3} ms  {rate}  {cores} cores  ({} calls)",
            self.best.as_secs_f64() * 1e3,
            self.median.as_secs_f64() * 1e3,
            self.calls
        )
    }
}

/// Best and median time of `call` after [`WARMUP_CALLS`] untimed calls, the number of
/// timed calls, and the CPU share they got.
fn time_calls(mut call: impl FnMut()) -> Timing {
    for _ in 0..WARMUP_CALLS {
        call();
    }
    let mut times = Vec::new();
    let cpu0 = process_cpu_secs();
    let start = Instant::now();
    while times.len() < MAX_CALLS && (times.is_empty() || start.elapsed() < BUDGET) {
        let t = Instant::now();
        call();
        times.push(t.elapsed());
    }
    let wall = start.elapsed().as_secs_f64();
    // Below 0.1 s the 10 ms ticks make the share meaningless.
    let cores = cpu0
        .zip(process_cpu_secs())
        .filter(|_| wall >= 0.1)
        .map(|(a, b)| (b - a) / wall);
    times.sort();
    Timing {
        best: times[0],
        median: times[times.len() / 2],
        calls: times.len(),
        cores,
    }
}

/// The machine's load: 1-minute load average (Linux) and the number of cores.
fn load_line() -> String {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let lp = std::env::var("LP_NUM_THREADS").unwrap_or_else(|_| "unset".to_owned());
    format!("load average {load} on {cores} cores, LP_NUM_THREADS {lp}")
}

fn main() {
    // `cargo bench` passes `--bench`; the first other argument filters by name.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let gpu = match Gpu::new() {
        Ok(gpu) => gpu,
        Err(e) => {
            eprintln!("no GPU: {e}");
            std::process::exit(1);
        }
    };
    let info = gpu.info();
    println!(
        "adapter: {} ({:?}, {:?}, driver {} {}), subgroups {:?}, rows {:?}",
        info.name,
        info.backend,
        info.device_type,
        info.driver,
        info.driver_info,
        gpu.subgroup_sizes(),
        gpu.default_rows()
    );
    println!("{}", load_line());
    println!(
        "{:<52} {:>12} {:>12}  {:>15}  {:>11}",
        "kernel (shape)", "best", "median", "throughput", "cpu share"
    );
    let bench = Bench { gpu: &gpu, filter };
    gemms(&bench);
    rows(&bench);
    attention(&bench);
    losses(&bench);
    optimiser(&bench);
    model(&bench);
    train_step(&bench);
}

/// Pairs per second of one whole training step (forward, losses with the balanced
/// assignment over a queue, backward, clipping, Adam) of the `small` preset at K = 16:
/// `GpuTrainer::step` beside the CPU `Trainer::step` on the same batch.
fn train_step(bench: &Bench<'_>) {
    const B: usize = 8;
    const QUEUE: usize = 64;
    let name = format!("train step small B={B} queue={QUEUE}");
    if bench
        .filter
        .as_ref()
        .is_some_and(|f| !name.contains(f.as_str()))
    {
        return;
    }
    let cfg = ModelConfig::SMALL;
    let len = cfg.segment_len();
    let segments = |seed: usize| -> Tensor {
        let data = (0..B * len)
            .map(|i| (((i + seed) * 7919) % 1000) as f32 / 500.0 - 1.5)
            .collect();
        Tensor::new(&[B, len], data)
    };
    let batch = PairBatch {
        anchors: segments(0),
        positives: segments(13),
        hard: Tensor::new(&[0, len], vec![]),
    };
    // Many steps: the schedule stays at its peak, which does not change the cost.
    let mut config = TrainConfig::new(1_000_000, 1);
    config.queue = QUEUE;
    let mut on_gpu = GpuTrainer::new(bench.gpu, Model::new(cfg, 1), config)
        .expect("the small model fits the device");
    let mut cpu = Trainer::new(Model::new(cfg, 1), config);
    let report = |what: &str, timing: Timing| {
        let rate = format!("{:8.1} pairs/s", B as f64 / timing.best.as_secs_f64());
        println!("{:<52} {}", format!("{name} {what}"), timing.columns(&rate));
    };
    report(
        "gpu",
        time_calls(|| {
            std::hint::black_box(on_gpu.step(&batch).expect("step"));
        }),
    );
    report(
        "cpu",
        time_calls(|| {
            std::hint::black_box(cpu.step(&batch));
        }),
    );
}

/// Segments per second of the whole `small` encoder at a small batch: the GPU model's
/// forward, and forward + backward, beside the CPU's `Model::embed` and tape forward +
/// backward on the same segments (the CPU rows use this machine's cores).
fn model(bench: &Bench<'_>) {
    const B: usize = 8;
    let name = format!("model small B={B}");
    if bench
        .filter
        .as_ref()
        .is_some_and(|f| !name.contains(f.as_str()))
    {
        return;
    }
    let cfg = ModelConfig::SMALL;
    let cpu = Model::new(cfg, 1);
    let segments: Vec<f32> = (0..B * cfg.segment_len())
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.5)
        .collect();
    let mut on_gpu = GpuModel::upload(bench.gpu, &cpu).expect("the small model fits the device");
    let d_embedding = filled(bench.gpu, B * cfg.emb_dim, 1);
    let d_logits = filled(bench.gpu, B * cfg.k_bits, 2);
    let report = |what: &str, timing: Timing| {
        let rate = format!("{:8.1} seg/s  ", B as f64 / timing.best.as_secs_f64());
        println!("{:<52} {}", format!("{name} {what}"), timing.columns(&rate));
    };
    report(
        "gpu forward",
        time_calls(|| {
            on_gpu.forward(&segments).expect("forward");
            bench.gpu.wait().expect("device wait");
        }),
    );
    // The host's share of a forward: recording ~70 dispatches and submitting them,
    // timed without the device's work (each call starts on an idle device).
    let mut host = Vec::new();
    for _ in 0..5 {
        bench.gpu.wait().expect("device wait");
        let t = Instant::now();
        on_gpu.forward(&segments).expect("forward");
        host.push(t.elapsed());
    }
    host.sort();
    report(
        "gpu forward, host only (record + submit)",
        Timing {
            best: host[0],
            median: host[2],
            calls: 5,
            cores: None,
        },
    );
    bench.gpu.wait().expect("device wait");
    report(
        "gpu forward+backward",
        time_calls(|| {
            on_gpu.forward(&segments).expect("forward");
            on_gpu.backward(&d_embedding, &d_logits).expect("backward");
            bench.gpu.wait().expect("device wait");
        }),
    );
    report(
        "cpu embed",
        time_calls(|| drop(std::hint::black_box(cpu.embed(&segments)))),
    );
    // A second copy of the model collects the CPU gradients.
    let mut store = Model::new(cfg, 1).params;
    report(
        "cpu forward+backward",
        time_calls(|| {
            let mut tape = Tape::new();
            let x = tape.input(Tensor::new(&[B, cfg.segment_len()], segments.clone()));
            let out = cpu.encoder.forward(&mut tape, &store, &x);
            let loss = tape.sum_all(&out.embedding);
            tape.backward(&loss);
            tape.accumulate_param_grads(&mut store);
        }),
    );
}

/// Linear layers of the small preset (C = 128, FFN 512) on 64 segments × 10 tokens.
fn gemms(bench: &Bench<'_>) {
    let gpu = bench.gpu;
    let tokens = 640;
    let shapes = [
        (
            "gemm qkv   X·Wᵀ+b   640×128 → 384",
            Gemm::new(tokens, 384, 128).trans_b(),
            true,
        ),
        (
            "gemm ffn   X·Wᵀ+b, ReLU   640×128 → 512",
            Gemm::new(tokens, 512, 128).trans_b().relu(),
            true,
        ),
        (
            "gemm dW   += dYᵀ·X   512×128, K = 640",
            Gemm::new(512, 128, tokens).trans_a().accumulate(),
            false,
        ),
        ("gemm square 512³", Gemm::new(512, 512, 512), false),
        (
            "gemm batched 64 × (10×32 · 32×10)",
            Gemm::new(10, 10, 32).trans_b().batched(64),
            false,
        ),
    ];
    for (name, shape, bias) in shapes {
        let a_len = shape.a_stride * (shape.batch - 1) + shape.m * shape.k;
        let b_len = shape.b_stride * (shape.batch - 1) + shape.k * shape.n;
        let (a, b, c) = (
            filled(gpu, a_len, 1),
            filled(gpu, b_len, 2),
            zeros(gpu, shape.batch * shape.m * shape.n),
        );
        let bias = bias.then(|| filled(gpu, shape.n, 3));
        bench.run(name, Work::Flops(shape.flops()), None, |batch| {
            gemm(batch, &shape, &a, &b, bias.as_ref(), &c).unwrap()
        });
    }
}

/// Row kernels on activation-sized matrices, with the default reduction and with the
/// workgroup-tree fallback.
fn rows(bench: &Bench<'_>) {
    let gpu = bench.gpu;
    let fallback = RowConfig {
        reduction: Reduction::Workgroup,
        workgroup: 64,
    };
    let (r, c) = (1024, 1000);
    let (x, y, dy, dx) = (
        filled(gpu, r * c, 4),
        zeros(gpu, r * c),
        filled(gpu, r * c, 5),
        zeros(gpu, r * c),
    );
    for (label, rows) in [("default", gpu.default_rows()), ("tree WG 64", fallback)] {
        let name = format!("softmax fwd 1024×1000 ({label})");
        bench.run(&name, Work::Bytes(2 * f32s(r * c)), Some(rows), |batch| {
            softmax_forward(batch, r, c, &x, &y).unwrap()
        });
    }
    bench.run(
        "softmax bwd 1024×1000",
        Work::Bytes(4 * f32s(r * c)),
        None,
        |batch| softmax_backward(batch, r, c, &y, &dy, &dx).unwrap(),
    );

    let (r, c) = (640, 128);
    let (x, gamma, beta) = (filled(gpu, r * c, 6), filled(gpu, c, 7), filled(gpu, c, 8));
    let (y, mean, rstd, dy) = (
        zeros(gpu, r * c),
        zeros(gpu, r),
        zeros(gpu, r),
        filled(gpu, r * c, 9),
    );
    let (dx, dgamma, dbeta) = (zeros(gpu, r * c), zeros(gpu, c), zeros(gpu, c));
    for (label, rows) in [("default", gpu.default_rows()), ("tree WG 64", fallback)] {
        let name = format!("layernorm fwd 640×128 ({label})");
        bench.run(&name, Work::Bytes(2 * f32s(r * c)), Some(rows), |batch| {
            layernorm_forward(batch, r, c, 1e-5, &x, &gamma, &beta, &y, &mean, &rstd).unwrap()
        });
    }
    bench.run(
        "layernorm bwd 640×128 (dx, dgamma, dbeta)",
        Work::Bytes(5 * f32s(r * c)),
        None,
        |batch| {
            layernorm_backward(
                batch, r, c, &x, &gamma, &mean, &rstd, &dy, &dx, &dgamma, &dbeta,
            )
            .unwrap()
        },
    );
    let (r, c) = (1024, 128);
    let (x, y, norm) = (filled(gpu, r * c, 10), zeros(gpu, r * c), zeros(gpu, r));
    bench.run(
        "l2norm fwd 1024×128",
        Work::Bytes(2 * f32s(r * c)),
        None,
        |batch| l2norm_forward(batch, r, c, 1e-12, &x, &y, &norm).unwrap(),
    );
}

/// The encoder's attention: 64 segments, 10 tokens, 4 heads of 32 (small preset).
fn attention(bench: &Bench<'_>) {
    let gpu = bench.gpu;
    let shape = Attention {
        batch: 64,
        tokens: 10,
        heads: 4,
        head_dim: 32,
    };
    let (bt, c) = (shape.batch * shape.tokens, shape.channels());
    let att_len = shape.batch * shape.heads * shape.tokens * shape.tokens;
    let (qkv, out, att) = (
        filled(gpu, bt * 3 * c, 11),
        zeros(gpu, bt * c),
        zeros(gpu, att_len),
    );
    let (dout, dqkv) = (filled(gpu, bt * c, 12), zeros(gpu, bt * 3 * c));
    let flops = shape.forward_flops();
    bench.run(
        "attention fwd 64 × 10 tokens × 4 heads × 32",
        Work::Flops(flops),
        None,
        |batch| attention_forward(batch, &shape, &qkv, &out, &att).unwrap(),
    );
    // The backward does twice the forward's multiply-adds (dP, dq, dk, dv).
    bench.run(
        "attention bwd 64 × 10 tokens × 4 heads × 32",
        Work::Flops(2 * flops),
        None,
        |batch| attention_backward(batch, &shape, &qkv, &att, &dout, &dqkv).unwrap(),
    );
}

/// The three training-objective pieces on a 256-pair batch.
fn losses(bench: &Bench<'_>) {
    let gpu = bench.gpu;
    let nt = NtXent {
        n: 256,
        hard: 0,
        dim: 128,
        tau: 0.1,
    };
    let (n, d) = (nt.n, nt.dim);
    let (za, zp) = (filled(gpu, n * d, 13), filled(gpu, n * d, 14));
    let (logits, lse, losses, loss) = (
        zeros(gpu, n * n),
        zeros(gpu, 2 * n),
        zeros(gpu, 2 * n),
        zeros(gpu, 1),
    );
    let (dloss, dlogits, dza, dzp) = (
        filled(gpu, 1, 15),
        zeros(gpu, n * n),
        zeros(gpu, n * d),
        zeros(gpu, n * d),
    );
    // Three n×n×d products (S, dS·z_p, dSᵀ·z_a) dominate.
    let flops = 3 * 2 * (n * n * d) as u64;
    bench.run(
        "ntxent fwd+bwd 256 pairs × 128",
        Work::Flops(flops),
        None,
        |batch| {
            ntxent_forward(batch, &nt, &za, &zp, &logits, &lse, &losses, &loss).unwrap();
            ntxent_backward(
                batch, &nt, &za, &zp, &logits, &lse, &dloss, &dlogits, &dza, &dzp,
            )
            .unwrap();
        },
    );

    let hl = HashLoss {
        n: 1024,
        bits: 16,
        tau: 0.1,
    };
    let (qa, qp) = (
        filled(gpu, hl.n * hl.bits, 16),
        filled(gpu, hl.n * hl.bits, 17),
    );
    let keys: Vec<u32> = (0..hl.n as u32)
        .map(|i| i.wrapping_mul(2_654_435_761) & 0xFFFF)
        .collect();
    let keys = GpuBuffer::from_slice(gpu, &keys).unwrap();
    let (losses, dqa, dqp) = (
        zeros(gpu, hl.n),
        zeros(gpu, hl.n * hl.bits),
        zeros(gpu, hl.n * hl.bits),
    );
    bench.run(
        "hash loss fwd+bwd 1024 pairs × 16 bits",
        Work::Bytes(6 * f32s(hl.n * hl.bits)),
        None,
        |batch| {
            hash_loss_forward(batch, &hl, &qa, &qp, &keys, &losses, &loss).unwrap();
            hash_loss_backward(batch, &hl, &qa, &qp, &keys, &dloss, &dqa, &dqp).unwrap();
        },
    );

    let sk = Sinkhorn {
        problems: 16,
        n: 256,
        m: 64,
        eps: 0.05,
        iters: 3,
    };
    let per = sk.n * sk.m;
    let (scores, pot) = (
        filled(gpu, sk.problems * per, 18),
        zeros(gpu, sk.problems * (sk.n + sk.m)),
    );
    let assign = GpuBuffer::<u32>::zeros(gpu, sk.problems * sk.n).unwrap();
    // Each iteration reads the scores twice (columns, rows); the argmax once more.
    let bytes = (2 * u64::from(sk.iters) + 1) * f32s(sk.problems * per);
    bench.run(
        "sinkhorn 16 problems × 256 × 64, 3 iters + argmax",
        Work::Bytes(bytes),
        None,
        |batch| {
            sinkhorn_solve(batch, &sk, &scores, &pot).unwrap();
            sinkhorn_argmax(batch, &sk, &scores, &pot, &assign).unwrap();
        },
    );
}

/// AdamW over the small preset's ≈ 1.7 M parameters, and a plain element-wise add.
fn optimiser(bench: &Bench<'_>) {
    let gpu = bench.gpu;
    let n = 1_700_000;
    let (param, grad, m, v) = (
        filled(gpu, n, 19),
        filled(gpu, n, 20),
        zeros(gpu, n),
        zeros(gpu, n),
    );
    // Reads param, grad, m, v; writes param, m, v.
    bench.run(
        "adamw 1.7 M parameters",
        Work::Bytes(7 * f32s(n)),
        None,
        |batch| adamw(batch, &AdamW::default(), 1, &param, &grad, &m, &v).unwrap(),
    );
    let (a, b, c) = (filled(gpu, n, 21), filled(gpu, n, 22), zeros(gpu, n));
    bench.run(
        "add 1.7 M elements",
        Work::Bytes(3 * f32s(n)),
        None,
        |batch| add(batch, &a, &b, &c).unwrap(),
    );
}
