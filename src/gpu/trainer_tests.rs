//! The GPU trainer against the CPU [`Trainer`] on the same batches: one step's
//! parameters, several steps' losses, and the hand-over between devices.

use super::*;
use crate::gpu::testing::{assert_close, random, shared_gpu};
use crate::model::ModelConfig;
use crate::tensor::Tensor;

/// One layer of width 16 over 4 bands × 20 frames, K = 6.
fn tiny() -> ModelConfig {
    ModelConfig {
        layers: 1,
        ..ModelConfig::TINY
    }
}

/// B pairs (positives near their anchors, so the loss is not uniform) and M hard
/// negatives of log-mel-like values, reproducible from `seed`.
fn pair_batch(cfg: &ModelConfig, b: usize, m: usize, seed: u64) -> PairBatch {
    let len = cfg.segment_len();
    let logmel = |n: usize, s: u64| -> Vec<f32> {
        random(n * len, s).iter().map(|v| v * 1.75 - 1.25).collect()
    };
    let anchors = logmel(b, seed);
    let positives: Vec<f32> = anchors
        .iter()
        .zip(random(b * len, seed + 1))
        .map(|(a, r)| a + 0.2 * r)
        .collect();
    PairBatch {
        anchors: Tensor::new(&[b, len], anchors),
        positives: Tensor::new(&[b, len], positives),
        hard: Tensor::new(&[m, len], logmel(m, seed + 2)),
    }
}

fn config(steps: u64, queue: usize) -> TrainConfig {
    let mut config = TrainConfig::new(steps, 5);
    config.queue = queue;
    config.lr = 1e-3;
    config
}

/// Parameters within `tol` of the CPU's. The attention key bias has a gradient of
/// exactly zero in theory (it shifts every score of a softmax row alike), so both sides
/// hold round-off there, which Adam's first steps turn into moves of up to ±lr: its
/// key part is only checked to stay within `steps · lr` of zero on both sides.
fn assert_params_close(got: &Model, want: &Model, steps: u64, lr: f32, tol: f32) {
    let c = want.config().d_model;
    for (_, name, value, _) in want.params.iter() {
        let got = got.params.value(got.params.id(name).unwrap()).data();
        let want = value.data();
        if !name.ends_with("attn.qkv.bias") {
            assert_close(name, got, want, tol);
            continue;
        }
        assert_close(&format!("{name} (q)"), &got[..c], &want[..c], tol);
        assert_close(&format!("{name} (v)"), &got[2 * c..], &want[2 * c..], tol);
        for (g, w) in got[c..2 * c].iter().zip(&want[c..2 * c]) {
            let bound = steps as f32 * lr * 1.01;
            assert!(g.abs().max(w.abs()) <= bound, "{name} (k): {g}, {w}");
        }
    }
}

#[test]
fn one_step_matches_the_cpu_trainer() {
    let Some(gpu) = shared_gpu() else { return };
    let cfg = tiny();
    let config = config(4, 8);
    let mut cpu = Trainer::new(Model::new(cfg, 21), config);
    // A queue that already holds rows from an earlier batch.
    let first = pair_batch(&cfg, 3, 2, 30);
    cpu.step(&first);
    let mut on_gpu = GpuTrainer::from_trainer(gpu, &cpu).unwrap();

    let batch = pair_batch(&cfg, 3, 2, 40);
    let want = cpu.step(&batch);
    let got = on_gpu.step(&batch).unwrap();
    assert_eq!((got.step, got.lr, got.skipped), (want.step, want.lr, false));
    let losses = |l: &Losses| [l.total, l.l_c, l.l_h, l.l_r];
    assert_close("losses", &losses(&got.losses), &losses(&want.losses), 1e-4);
    assert_close("gradient norm", &[got.grad_norm], &[want.grad_norm], 1e-4);

    let back = on_gpu.to_trainer().unwrap();
    assert_params_close(&back.model, &cpu.model, 2, config.lr, 1e-4);
    assert_eq!(back.step, cpu.step);
    assert_eq!(back.queue_pushed, cpu.queue_pushed);
    assert_eq!(back.adam.steps(), cpu.adam.steps());
    assert_close("queue", back.queue.rows(), cpu.queue.rows(), 1e-4);
}

/// Five steps with a queue that wraps around, hard negatives, and a clipped gradient:
/// the losses follow the CPU's step by step, and the state handed back continues on
/// the CPU exactly as a CPU run would.
#[test]
fn five_steps_track_the_cpu_trainer() {
    let Some(gpu) = shared_gpu() else { return };
    let cfg = tiny();
    let mut config = config(6, 5);
    config.clip = 0.5;
    let model = Model::new(cfg, 22);
    let mut on_gpu = GpuTrainer::new(gpu, Model::new(cfg, 22), config).unwrap();
    let mut cpu = Trainer::new(model, config);
    for step in 0..5 {
        let batch = pair_batch(&cfg, 2, 1, 50 + 10 * step);
        let want = cpu.step(&batch);
        let got = on_gpu.step(&batch).unwrap();
        assert_close(
            &format!("losses of step {step}"),
            &[
                got.losses.total,
                got.losses.l_c,
                got.losses.l_h,
                got.losses.l_r,
            ],
            &[
                want.losses.total,
                want.losses.l_c,
                want.losses.l_h,
                want.losses.l_r,
            ],
            1e-3,
        );
        assert_close(
            &format!("gradient norm of step {step}"),
            &[got.grad_norm],
            &[want.grad_norm],
            1e-3,
        );
    }
    let mut back = on_gpu.to_trainer().unwrap();
    assert_params_close(&back.model, &cpu.model, 5, config.lr, 1e-3);
    assert_eq!(back.queue.len(), 5);
    // One more step on the CPU from the GPU's state: the same loss as the CPU run's.
    let batch = pair_batch(&cfg, 2, 1, 200);
    let (a, b) = (back.step(&batch), cpu.step(&batch));
    assert_close(
        "step 6 on the CPU",
        &[a.losses.total],
        &[b.losses.total],
        1e-3,
    );
}

#[test]
fn same_view_negatives_are_refused() {
    let Some(gpu) = shared_gpu() else { return };
    let mut config = config(1, 4);
    config.objective.contrastive.same_view_negatives = true;
    let err = GpuTrainer::new(gpu, Model::new(tiny(), 1), config)
        .err()
        .expect("same-view negatives have no kernel");
    assert!(err.to_string().contains("same-view"), "{err}");
}
