//! One optimiser step (encoder forward + backward over 2B segments, Sinkhorn over the batch
//! and a full queue, losses, clipping, Adam) per preset, in pairs per second, with the share
//! of the step spent in the balanced assignment (profile scope `train.sinkhorn`).
//!
//! Anchor (issue 5): PyTorch eager on 2 threads, `small` at 256 pairs 0.47 s (541 pairs/s),
//! `paper` at 64 pairs 0.37 s (173 pairs/s).
//!
//! `cargo bench --bench train [-- STEPS] [--profile]` (default 3 timed steps after 1 warm-up
//! step; `--profile` prints each preset's per-op table after its row).

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use earmark::model::{Model, ModelConfig};
use earmark::tensor::Tensor;
use earmark::train::objective::PairBatch;
use earmark::train::trainer::{TrainConfig, Trainer};

/// (preset, pairs per step), as in the anchor.
const SHAPES: [(&str, usize); 2] = [("small", 256), ("paper", 64)];

/// Log-mel-like values (dB, roughly the front-end's range).
fn segments(n: usize, len: usize, rng: &mut StdRng) -> Tensor {
    Tensor::new(
        &[n, len],
        (0..n * len)
            .map(|_| rng.random_range(-80.0f32..0.0))
            .collect(),
    )
}

fn unit_rows(n: usize, k: usize, rng: &mut StdRng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n * k).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    for row in v.chunks_exact_mut(k) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn main() {
    let steps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    let tables = std::env::args().any(|a| a == "--profile");
    // As `earmark train` runs (the binary calls it first thing).
    earmark::train::keep_freed_memory();
    earmark::profile::enable(true);
    println!(
        "{:<8} {:>6} {:>10} {:>10} {:>10}",
        "preset", "pairs", "s/step", "pairs/s", "sinkhorn"
    );
    for (name, pairs) in SHAPES {
        let config = ModelConfig::preset(name).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let len = config.segment_len();
        let batch = PairBatch {
            anchors: segments(pairs, len, &mut rng),
            positives: segments(pairs, len, &mut rng),
            hard: segments(0, len, &mut rng),
        };
        let mut trainer = Trainer::new(Model::new(config, 0), TrainConfig::new(1000, 0));
        // Steady state: the queue is full from the first timed step on.
        let full = unit_rows(trainer.queue.capacity(), config.k_bits, &mut rng);
        trainer.queue.push(&full);
        trainer.step(&batch);
        earmark::profile::reset();
        let t0 = Instant::now();
        for _ in 0..steps {
            trainer.step(&batch);
        }
        let per_step = t0.elapsed().as_secs_f64() / steps as f64;
        let sinkhorn: f64 = earmark::profile::snapshot()
            .iter()
            .filter(|(op, _)| *op == "train.sinkhorn")
            .map(|(_, e)| e.time.as_secs_f64())
            .sum::<f64>()
            / steps as f64;
        println!(
            "{name:<8} {pairs:>6} {per_step:>10.3} {:>10.1} {:>9.1}%",
            pairs as f64 / per_step,
            100.0 * sinkhorn / per_step
        );
        if tables {
            println!("{}", earmark::profile::report());
        }
    }
}
