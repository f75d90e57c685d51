//! The post-LN encoder layer at the paper's size, checked end to end.

use super::rng;
use crate::autograd::ParamStore;
use crate::autograd::gradcheck::{GradCheck, check_params};
use crate::autograd::layers::{EncoderLayer, EncoderLayerConfig};
use crate::tensor::Tensor;

/// d 128, 8 heads, FFN 2048, 10 tokens, ReLU, LayerNorm eps 1e-5, batch 2: the gradient of
/// every parameter tensor (a sample of its elements) and of the input matches central
/// differences.
///
/// ReLU kinks: perturbing almost any parameter moves all 20 480 FFN pre-activations, and
/// those within a step of 0 break the central difference (measured: 2–5 % errors with the
/// default init). As ggml does for single ops, we keep the inputs of the ReLU away from its
/// kink: the `fc1` biases are set to ±5 (alternating signs), so that every hidden unit is
/// clearly on or clearly off (the pre-activation `fc1.weight · h` has std ≈ 0.6), and both
/// branches of the ReLU are exercised. Any element still step-dependent is skipped.
///
/// Step: f32 rounding in a loss over 2 560 outputs, each after 128- and 2 048-term sums,
/// dominates small steps (measured worst error / tolerance: 0.36 at h = 3e-2, 0.88 at 1e-2,
/// 1.9 at 3e-3, 15 at 1e-3), so the layer is checked at h = 3e-2.
#[test]
fn encoder_layer_passes_gradcheck() {
    let mut r = rng(31);
    let cfg = EncoderLayerConfig {
        d_model: 128,
        heads: 8,
        d_ff: 2048,
        eps: 1e-5,
    };
    let mut store = ParamStore::new();
    let layer = EncoderLayer::new(&mut store, "encoder.layers.0", cfg, &mut r);
    // Non-trivial norm gains and biases, so that their gradients are exercised off the init.
    for name in ["norm1", "norm2"] {
        let w = store
            .id(&format!("encoder.layers.0.{name}.weight"))
            .unwrap();
        *store.value_mut(w) = Tensor::uniform(&[128], 0.5, 1.5, &mut r);
        let b = store.id(&format!("encoder.layers.0.{name}.bias")).unwrap();
        *store.value_mut(b) = Tensor::randn(&[128], 0.1, &mut r);
    }
    let b1 = store.id("encoder.layers.0.ffn.fc1.bias").unwrap();
    *store.value_mut(b1) = Tensor::from_fn(&[2048], |i| if i % 2 == 0 { 5.0 } else { -5.0 });
    let x = store.add("input", Tensor::randn(&[2, 10, 128], 1.0, &mut r));
    assert_eq!(store.len(), 13);
    let check = GradCheck {
        step: 3e-2,
        max_elements: 6,
        skip_kinks: true,
        ..GradCheck::default()
    };
    let report = check_params(
        &mut store,
        |tape, store| {
            let x = tape.param(store, x);
            layer.forward(tape, store, &x)
        },
        &check,
    );
    report.assert_ok("encoder layer", 0.1);
}
