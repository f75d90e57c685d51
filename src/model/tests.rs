use rand::{Rng, SeedableRng, rngs::StdRng};

use super::*;
use crate::autograd::gradcheck::{self, GradCheck};

/// A tiny config for fast tests: 2 layers of width 16 over 4 bands × 20 frames.
fn tiny() -> ModelConfig {
    ModelConfig::TINY
}

fn random_segments(cfg: &ModelConfig, n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * cfg.segment_len())
        .map(|_| rng.random_range(-60.0f32..10.0) / 20.0)
        .collect()
}

#[test]
fn presets_have_the_documented_parameter_counts() {
    // DESIGN.md §3: `paper` ≈ 7.8 M, `small` ≈ 1.7 M.
    let paper = Model::new(ModelConfig::PAPER, 0).params.num_elements() as f64 / 1e6;
    let small = Model::new(ModelConfig::SMALL, 0).params.num_elements() as f64 / 1e6;
    assert!(
        (7.5..8.1).contains(&paper),
        "paper has {paper} M parameters"
    );
    assert!(
        (1.5..1.9).contains(&small),
        "small has {small} M parameters"
    );
}

#[test]
fn parameters_are_named_by_path() {
    let m = Model::new(ModelConfig::SMALL, 0);
    for name in [
        "patch.weight",
        "encoder.layers.3.attn.qkv.weight",
        "proj.norm2.bias",
        "hash.fc2.weight",
    ] {
        assert!(m.params.id(name).is_some(), "missing {name}");
    }
    assert_eq!(
        m.params.shape(m.params.id("hash.fc2.weight").unwrap()),
        &[16, 512]
    );
}

#[test]
fn embed_gives_unit_embeddings_and_k_logits_independent_of_batching() {
    let cfg = tiny();
    let model = Model::new(cfg, 1);
    let segs = random_segments(&cfg, 5, 2);
    let all = model.embed(&segs);
    assert_eq!(
        (all.n, all.embeddings.len(), all.logits.len()),
        (5, 5 * cfg.emb_dim, 5 * cfg.k_bits)
    );
    for row in all.embeddings.chunks(cfg.emb_dim) {
        let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
    // LayerNorm (not BatchNorm) makes every segment's output independent of its batch.
    let third = model.embed(&segs[2 * cfg.segment_len()..3 * cfg.segment_len()]);
    let want = &all.embeddings[2 * cfg.emb_dim..3 * cfg.emb_dim];
    let diff = third
        .embeddings
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff < 1e-5, "batch dependence {diff}");
}

#[test]
fn no_grad_inference_equals_the_recorded_forward() {
    let cfg = tiny();
    let model = Model::new(cfg, 3);
    let segs = random_segments(&cfg, 3, 4);
    let mut tape = Tape::new();
    let x = tape.input(Tensor::new(&[3, cfg.segment_len()], segs.clone()));
    let o = model.encoder.forward(&mut tape, &model.params, &x);
    let e = model.embed(&segs);
    assert_eq!(o.embedding.data(), &e.embeddings[..]);
    assert_eq!(o.hash.data(), &e.logits[..]);
}

#[test]
fn encoder_passes_gradcheck_end_to_end() {
    let cfg = tiny();
    let mut model = Model::new(cfg, 5);
    // Keep every ReLU input away from its kink (as the encoder-layer check does): the biases
    // that feed a ReLU alternate ±4, so each unit is clearly on or off and both branches are
    // exercised; anything still step-dependent is skipped as a kink.
    let mut names: Vec<String> = (0..cfg.layers)
        .map(|i| format!("encoder.layers.{i}.ffn.fc1.bias"))
        .collect();
    names.extend(["proj.norm1.bias".to_string(), "hash.norm.bias".to_string()]);
    for name in names {
        let id = model.params.id(&name).unwrap();
        let n = model.params.shape(id)[0];
        *model.params.value_mut(id) =
            Tensor::from_fn(&[n], |i| if i % 2 == 0 { 4.0 } else { -4.0 });
    }
    let segs = Tensor::new(&[2, cfg.segment_len()], random_segments(&cfg, 2, 6));
    let encoder = model.encoder.clone();
    // A loss that touches both heads: Σ r1⊙e + Σ r2⊙q with fixed random weights.
    let mut rng = StdRng::seed_from_u64(7);
    let r1 = Tensor::randn(&[2, cfg.emb_dim], 1.0, &mut rng);
    let r2 = Tensor::randn(&[2, cfg.k_bits], 1.0, &mut rng);
    let report = gradcheck::check_params(
        &mut model.params,
        |tape, store| {
            let x = tape.input(segs.clone());
            let o = encoder.forward(tape, store, &x);
            let (w1, w2) = (tape.constant(r1.clone()), tape.constant(r2.clone()));
            let a = tape.mul(&o.embedding, &w1);
            let b = tape.mul(&o.hash, &w2);
            let (a, b) = (tape.sum_all(&a), tape.sum_all(&b));
            tape.add(&a, &b)
        },
        &GradCheck {
            step: 3e-2,
            max_elements: 6,
            skip_kinks: true,
            ..GradCheck::default()
        },
    );
    report.assert_ok("encoder", 0.1);
}

#[test]
fn save_and_load_round_trip_and_refuse_foreign_files() {
    let dir = crate::test_dir::TempDir::new("model");
    let cfg = tiny();
    let model = Model::new(cfg, 8);
    let segs = random_segments(&cfg, 2, 9);
    let want = model.embed(&segs);

    let f32_path = dir.join("m32.safetensors");
    model.save(&f32_path, Dtype::F32).unwrap();
    let back = Model::load(&f32_path).unwrap();
    assert_eq!(back.config(), model.config());
    assert_eq!(back.identity(), model.identity());
    assert_eq!(back.embed(&segs).embeddings, want.embeddings);

    let f16_path = dir.join("m16.safetensors");
    model.save(&f16_path, Dtype::F16).unwrap();
    let half = Model::load(&f16_path).unwrap().embed(&segs);
    let diff = half
        .embeddings
        .iter()
        .zip(&want.embeddings)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff < 1e-2, "f16 model drifts by {diff}");

    // A safetensors file that is not an earmark model, and one whose tensors do not fit.
    let foreign = dir.join("foreign.safetensors");
    let t = NamedTensor {
        name: "w".into(),
        shape: vec![2],
        data: vec![1.0, 2.0],
    };
    weights::save(&foreign, &[t], Dtype::F32, &[]).unwrap();
    let err = Model::load(&foreign)
        .err()
        .expect("foreign file loads")
        .to_string();
    assert!(err.contains("not an earmark model"), "{err}");
    let mut meta = vec![];
    for (k, v) in weights::load(&f32_path).unwrap().metadata() {
        meta.push((
            k.clone(),
            if k == "earmark.d_ff" {
                "25".to_string()
            } else {
                v.clone()
            },
        ));
    }
    let wrong = dir.join("wrong.safetensors");
    weights::save(&wrong, &model.named_tensors(), Dtype::F32, &meta).unwrap();
    let err = Model::load(&wrong)
        .err()
        .expect("mismatched file loads")
        .to_string();
    assert!(err.contains("ffn.fc1.weight"), "{err}");
}

#[test]
fn embed_audio_gives_one_row_per_segment() {
    // 2.5 s at 16 kHz = 251 frames → (251 − 100) / 10 + 1 = 16 segments at a 100 ms hop.
    let model = Model::new(ModelConfig::SMALL.with_k_bits(8).unwrap(), 1);
    let samples: Vec<f32> = (0..40_000)
        .map(|i| (i as f32 * 0.05).sin() * (1.0 + (i % 97) as f32 / 97.0))
        .collect();
    let e = model.embed_audio(&samples, 10).unwrap();
    assert_eq!((e.n, e.logits.len()), (16, 16 * 8));
    assert_eq!(model.embed_audio(&samples, 5).unwrap().n, 31);
    assert!(
        model.embed_audio(&vec![0.0; 20_000], 10).is_err(),
        "silence must be an error"
    );
    assert_eq!(model.embed_audio(&samples[..8000], 10).unwrap().n, 0);
}
