//! Reusable layers over the tape and the parameter store: linear, layer norm and the
//! post-LN Transformer encoder layer of DESIGN.md §3.
//!
//! A layer is built once, registering its parameters under a path prefix, and keeps their
//! ids; `forward` reads them from the store onto a tape. The parameter names and layouts
//! follow PyTorch's `nn.TransformerEncoderLayer` (mapping below), so reference weights
//! convert by renaming only.
//!
//! | ours (`{prefix}.…`) | shape | PyTorch |
//! |---|---|---|
//! | `attn.qkv.weight`, `attn.qkv.bias` | (3C, C), (3C) | `self_attn.in_proj_weight`, `in_proj_bias` |
//! | `attn.out.weight`, `attn.out.bias` | (C, C), (C) | `self_attn.out_proj.weight`, `.bias` |
//! | `norm1.weight`, `norm1.bias` | (C), (C) | `norm1.weight`, `.bias` |
//! | `ffn.fc1.weight`, `ffn.fc1.bias` | (F, C), (F) | `linear1.weight`, `.bias` |
//! | `ffn.fc2.weight`, `ffn.fc2.bias` | (C, F), (C) | `linear2.weight`, `.bias` |
//! | `norm2.weight`, `norm2.bias` | (C), (C) | `norm2.weight`, `.bias` |

use rand::Rng;

use super::{ParamId, ParamStore, Tape, Var};
use crate::tensor::Tensor;

/// `y = x · Wᵀ + b` with `W (out, in)`, `b (out)`.
#[derive(Clone, Debug)]
pub struct Linear {
    pub weight: ParamId,
    pub bias: Option<ParamId>,
}

impl Linear {
    /// Registers `{prefix}.weight` (and `{prefix}.bias`) with PyTorch's default `nn.Linear`
    /// initialisation: both uniform in ±1/√in.
    pub fn new(
        store: &mut ParamStore,
        prefix: &str,
        inputs: usize,
        outputs: usize,
        bias: bool,
        rng: &mut impl Rng,
    ) -> Self {
        let bound = 1.0 / (inputs as f32).sqrt();
        let weight = store.add(
            format!("{prefix}.weight"),
            Tensor::uniform(&[outputs, inputs], -bound, bound, rng),
        );
        let bias = bias.then(|| {
            store.add(
                format!("{prefix}.bias"),
                Tensor::uniform(&[outputs], -bound, bound, rng),
            )
        });
        Linear { weight, bias }
    }

    /// `x (…, in)` → `(…, out)`.
    pub fn forward(&self, tape: &mut Tape, store: &ParamStore, x: &Var) -> Var {
        let w = tape.param(store, self.weight);
        let b = self.bias.map(|b| tape.param(store, b));
        tape.linear(x, &w, b.as_ref())
    }
}

/// Layer normalisation over the last axis with weight (init 1) and bias (init 0).
#[derive(Clone, Debug)]
pub struct LayerNorm {
    pub weight: ParamId,
    pub bias: ParamId,
    pub eps: f32,
}

impl LayerNorm {
    /// Registers `{prefix}.weight` and `{prefix}.bias`, both of shape `(dim)`.
    pub fn new(store: &mut ParamStore, prefix: &str, dim: usize, eps: f32) -> Self {
        let weight = store.add(format!("{prefix}.weight"), Tensor::full(&[dim], 1.0));
        let bias = store.add(format!("{prefix}.bias"), Tensor::zeros(&[dim]));
        LayerNorm { weight, bias, eps }
    }

    /// `x (…, dim)` → `(…, dim)`.
    pub fn forward(&self, tape: &mut Tape, store: &ParamStore, x: &Var) -> Var {
        let w = tape.param(store, self.weight);
        let b = tape.param(store, self.bias);
        tape.layer_norm(x, &w, &b, self.eps)
    }
}

/// Sizes of an encoder layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncoderLayerConfig {
    /// Model width C.
    pub d_model: usize,
    /// Attention heads; C must divide by it.
    pub heads: usize,
    /// Hidden width F of the feed-forward block.
    pub d_ff: usize,
    /// Layer-norm epsilon (1e-5, PyTorch's default).
    pub eps: f32,
}

/// A post-LN Transformer encoder layer (PyTorch's `norm_first = False`), ReLU FFN, no
/// dropout:
///
/// ```text
/// x (B, T, C)
/// h = LayerNorm1(x + Attention(x))        Attention = out_proj ∘ MHSA ∘ qkv_proj
/// y = LayerNorm2(h + fc2(relu(fc1(h))))   (B, T, C)
/// ```
#[derive(Clone, Debug)]
pub struct EncoderLayer {
    pub config: EncoderLayerConfig,
    pub qkv: Linear,
    pub out: Linear,
    pub norm1: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
    pub norm2: LayerNorm,
}

impl EncoderLayer {
    /// Registers the layer's twelve tensors under `prefix` (see the module table),
    /// initialised as PyTorch does: Xavier-uniform `qkv` weight with zero bias, zero
    /// `out` bias, default `nn.Linear` init elsewhere, norms at (1, 0).
    pub fn new(
        store: &mut ParamStore,
        prefix: &str,
        config: EncoderLayerConfig,
        rng: &mut impl Rng,
    ) -> Self {
        let EncoderLayerConfig {
            d_model: c,
            heads,
            d_ff,
            eps,
        } = config;
        assert!(
            heads > 0 && c % heads == 0,
            "EncoderLayer: d_model {c} does not divide into {heads} heads"
        );
        // Xavier uniform over (3C, C): ±√(6 / (fan_in + fan_out)).
        let xavier = (6.0 / (c + 3 * c) as f32).sqrt();
        let qkv = Linear {
            weight: store.add(
                format!("{prefix}.attn.qkv.weight"),
                Tensor::uniform(&[3 * c, c], -xavier, xavier, rng),
            ),
            bias: Some(store.add(format!("{prefix}.attn.qkv.bias"), Tensor::zeros(&[3 * c]))),
        };
        let out = Linear::new(store, &format!("{prefix}.attn.out"), c, c, true, rng);
        store
            .value_mut(out.bias.expect("has bias"))
            .data_mut()
            .fill(0.0);
        let norm1 = LayerNorm::new(store, &format!("{prefix}.norm1"), c, eps);
        let fc1 = Linear::new(store, &format!("{prefix}.ffn.fc1"), c, d_ff, true, rng);
        let fc2 = Linear::new(store, &format!("{prefix}.ffn.fc2"), d_ff, c, true, rng);
        let norm2 = LayerNorm::new(store, &format!("{prefix}.norm2"), c, eps);
        EncoderLayer {
            config,
            qkv,
            out,
            norm1,
            fc1,
            fc2,
            norm2,
        }
    }

    /// `x (B, T, C)` → `(B, T, C)`.
    pub fn forward(&self, tape: &mut Tape, store: &ParamStore, x: &Var) -> Var {
        assert!(
            x.shape().len() == 3 && x.shape()[2] == self.config.d_model,
            "EncoderLayer: input {:?} is not (B, T, {})",
            x.shape(),
            self.config.d_model
        );
        let qkv = self.qkv.forward(tape, store, x); // (B, T, 3C)
        let att = tape.attention(&qkv, self.config.heads); // (B, T, C)
        let att = self.out.forward(tape, store, &att);
        let res = tape.add(x, &att);
        let h = self.norm1.forward(tape, store, &res);
        let f = self.fc1.forward(tape, store, &h); // (B, T, F)
        let f = tape.relu(&f);
        let f = self.fc2.forward(tape, store, &f); // (B, T, C)
        let res = tape.add(&h, &f);
        self.norm2.forward(tape, store, &res)
    }
}
