//! The GPU model against the CPU model: forward outputs, parameter gradients of a
//! fixed linear loss, and AdamW steps.

use super::*;
use crate::autograd::Tape;
use crate::gpu::testing::{assert_close, buffer, random, shared_gpu};
use crate::tensor::Tensor;
use crate::train::optim::Adam;

/// The CPU model tests' tiny config: 2 layers of width 16 over 4 bands × 20 frames.
fn tiny() -> ModelConfig {
    ModelConfig::TINY
}

/// `n` segments of log-mel-like values (about −3 … 0.5, as the CPU tests use).
fn segments(cfg: &ModelConfig, n: usize, seed: u64) -> Vec<f32> {
    random(n * cfg.segment_len(), seed)
        .iter()
        .map(|v| v * 1.75 - 1.25)
        .collect()
}

/// Embeddings and logits within `tol` of the CPU's no-grad forward.
fn assert_forward_matches(gpu: &Gpu, cfg: ModelConfig, b: usize, tol: f32) {
    let model = Model::new(cfg, 11);
    let x = segments(&cfg, b, 12);
    let want = model.embed(&x);
    let mut on_gpu = GpuModel::upload(gpu, &model).unwrap();
    on_gpu.forward(&x).unwrap();
    let got = on_gpu.outputs().unwrap();
    assert_eq!(got.n, b);
    assert_close("embeddings", &got.embeddings, &want.embeddings, tol);
    assert_close("logits", &got.logits, &want.logits, tol);
}

#[test]
fn forward_matches_the_cpu_model() {
    let Some(gpu) = shared_gpu() else { return };
    assert_forward_matches(gpu, tiny(), 3, 1e-4);
}

#[test]
fn small_preset_forward_matches_the_cpu_model() {
    let Some(gpu) = shared_gpu() else { return };
    assert_forward_matches(gpu, ModelConfig::SMALL, 2, 1e-4);
}

/// The CPU tape's parameter gradients of `L = Σ r1 ⊙ e + Σ r2 ⊙ q` at `x`, added into
/// `model.params`' gradients.
fn cpu_gradients(model: &mut Model, x: &[f32], r1: &[f32], r2: &[f32]) {
    let cfg = *model.config();
    let b = x.len() / cfg.segment_len();
    let mut tape = Tape::new();
    let input = tape.input(Tensor::new(&[b, cfg.segment_len()], x.to_vec()));
    let out = model.encoder.forward(&mut tape, &model.params, &input);
    let r1 = tape.constant(Tensor::new(&[b, cfg.emb_dim], r1.to_vec()));
    let r2 = tape.constant(Tensor::new(&[b, cfg.k_bits], r2.to_vec()));
    let le = tape.mul(&out.embedding, &r1);
    let le = tape.sum_all(&le);
    let lq = tape.mul(&out.hash, &r2);
    let lq = tape.sum_all(&lq);
    let loss = tape.add(&le, &lq);
    tape.backward(&loss);
    tape.accumulate_param_grads(&mut model.params);
}

/// GPU forward + backward of the same loss, gradients accumulated on the device.
fn gpu_gradients(model: &GpuModel<'_>, gpu: &Gpu, r1: &[f32], r2: &[f32]) {
    model.backward(&buffer(gpu, r1), &buffer(gpu, r2)).unwrap();
}

/// Every parameter of `got` within `tol` (at each tensor's scale) of `want`: values,
/// or gradients with `grads`.
fn assert_params_close(what: &str, got: &ParamStore, want: &ParamStore, grads: bool, tol: f32) {
    for (id, name, value, grad) in want.iter() {
        let other = got.id(name).unwrap();
        let (g, w) = if grads {
            (got.grad(other).data(), grad.data())
        } else {
            (got.value(other).data(), value.data())
        };
        assert_close(&format!("{what} {name}"), g, w, tol);
        let _ = id;
    }
}

#[test]
fn backward_matches_the_cpu_tape() {
    let Some(gpu) = shared_gpu() else { return };
    let cfg = tiny();
    let b = 3;
    let mut cpu = Model::new(cfg, 21);
    let x = segments(&cfg, b, 22);
    let (r1, r2) = (random(b * cfg.emb_dim, 23), random(b * cfg.k_bits, 24));
    cpu_gradients(&mut cpu, &x, &r1, &r2);

    let mut on_gpu = GpuModel::upload(gpu, &cpu).unwrap();
    on_gpu.forward(&x).unwrap();
    gpu_gradients(&on_gpu, gpu, &r1, &r2);
    // A second backward accumulates: twice the gradient.
    gpu_gradients(&on_gpu, gpu, &r1, &r2);
    let mut got = Model::new(cfg, 0);
    on_gpu.download_grads(&mut got.params).unwrap();
    for id in got.params.ids() {
        got.params
            .grad_mut(id)
            .data_mut()
            .iter_mut()
            .for_each(|g| *g *= 0.5);
    }
    assert_params_close("gradient", &got.params, &cpu.params, true, 1e-4);
}

#[test]
fn adamw_steps_match_the_cpu_optimiser() {
    let Some(gpu) = shared_gpu() else { return };
    let cfg = tiny();
    let b = 2;
    // The key bias has a gradient of exactly zero in theory (q·b_k shifts every score of
    // a row alike, which softmax ignores), so both sides hold round-off there, which
    // Adam's m/(√v + ε) turns into ±lr steps at ε = 1e-8. ε = 1e-6 keeps round-off
    // (≈ 1e-9) from being amplified and leaves real gradients' steps as they are.
    let config = AdamConfig {
        eps: 1e-6,
        skip_decay_on_vectors: true,
        ..AdamConfig::adamw(0.05)
    };
    let lr = 1e-3;
    let mut cpu = Model::new(cfg, 31);
    let mut adam = Adam::new(config, &cpu.params);
    let mut on_gpu = GpuModel::upload(gpu, &cpu).unwrap();
    // Two steps on different data: the second uses the first step's moments.
    for step in 0..2u64 {
        let x = segments(&cfg, b, 32 + step);
        let (r1, r2) = (
            random(b * cfg.emb_dim, 40 + step),
            random(b * cfg.k_bits, 50 + step),
        );
        cpu.params.zero_grad();
        cpu_gradients(&mut cpu, &x, &r1, &r2);
        adam.step(&mut cpu.params, lr);

        on_gpu.forward(&x).unwrap();
        on_gpu.zero_grads();
        gpu_gradients(&on_gpu, gpu, &r1, &r2);
        on_gpu.step(&config, lr, 1.0).unwrap();
    }
    assert_eq!(on_gpu.steps(), adam.steps());
    let mut got = Model::new(cfg, 0);
    on_gpu.download(&mut got).unwrap();
    let c = cfg.d_model;
    for (_, name, want, _) in cpu.params.iter() {
        let got = got.params.value(got.params.id(name).unwrap()).data();
        let want = want.data();
        if !name.ends_with("attn.qkv.bias") {
            assert_close(name, got, want, 1e-4);
            continue;
        }
        // q and v parts as usual; the key part (zero gradient) only stays near its
        // zero initialisation on both sides.
        assert_close(&format!("{name} (q)"), &got[..c], &want[..c], 1e-4);
        assert_close(&format!("{name} (v)"), &got[2 * c..], &want[2 * c..], 1e-4);
        for (g, w) in got[c..2 * c].iter().zip(&want[c..2 * c]) {
            assert!(
                g.abs().max(w.abs()) < 0.05 * lr,
                "{name} (k): {g} and {w} moved"
            );
        }
    }
    // The download is the whole model: its embeddings are the CPU model's.
    let x = segments(&cfg, b, 60);
    assert_close(
        "embeddings after download",
        &got.embed(&x).embeddings,
        &cpu.embed(&x).embeddings,
        1e-4,
    );
}
