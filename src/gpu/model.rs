//! The encoder of `model::Encoder` on the GPU, with its tensors resident there:
//! parameters, gradients, AdamW moments and the activations of the last forward.
//!
//! ```text
//! upload(Model) → GpuModel ── forward(segments) ──→ embeddings (B, E), logits (B, K)
//!                    │        backward(de, dq)   ──→ parameter gradients (accumulated)
//!                    │        step(AdamConfig, lr, clip) → parameters, moments
//!                    └─ download(&mut Model) / download_grads(&mut ParamStore)
//! ```
//!
//! The forward records every kernel of the network into one [`Batch`]; the backward
//! records the layers in reverse into another. Each layer's forward and backward sit
//! side by side in `model_layers.rs`. The functions are exactly the CPU tape's (same
//! parameter names and layouts), so the CPU model is the reference in the tests.

use crate::autograd::ParamStore;
use crate::error::Result;
use crate::gpu::model_layers::{
    EncoderActs, EncoderGrads, EncoderLayer, HiddenActs, HiddenBlock, Linear, Norm, NormStats,
    Param,
};
use crate::gpu::{
    AdamW, Gpu, GpuBuffer, adamw, axpy, l2norm_backward, l2norm_forward, sum_squares,
};
use crate::model::{Embeddings, Model, ModelConfig, sinusoidal_positions};
use crate::train::optim::{Adam, AdamConfig};

/// One tensor of optimiser state: (name, shape, values), as [`Adam::export_state`].
type StateTensor = (String, Vec<usize>, Vec<f32>);

/// L2-normalisation epsilon of the embedding (the CPU encoder's).
const L2_EPS: f32 = crate::model::L2_EPS;

/// A [`Model`] on the device: parameters with gradient and AdamW state buffers, and
/// the activations of the last [`GpuModel::forward`] (kept for the backward).
pub struct GpuModel<'g> {
    gpu: &'g Gpu,
    config: ModelConfig,
    /// In the CPU store's registration order.
    params: Vec<Param>,
    patch: Linear,
    layers: Vec<EncoderLayer>,
    proj: HiddenBlock,
    proj2: Linear,
    proj_norm2: Norm,
    hash: HiddenBlock,
    hash2: Linear,
    /// AdamW steps taken.
    steps: u64,
    acts: Option<Activations>,
}

/// Every activation of one forward at batch size `b`, and the gradient buffers of
/// the backward.
struct Activations {
    b: usize,
    /// (B·T, patch_len) the input segments as patches.
    segments: GpuBuffer,
    /// (B·T, C) sinusoidal positions repeated for each segment.
    positions: GpuBuffer,
    /// L + 1 tensors (B·T, C): the encoder's input, then each layer's output.
    stream: Vec<GpuBuffer>,
    /// Their gradients.
    dstream: Vec<GpuBuffer>,
    layers: Vec<EncoderActs>,
    layer_grads: EncoderGrads,
    proj: HiddenActs,
    /// (B, E) proj.fc2's output, norm2's input.
    proj_pre: GpuBuffer,
    proj_stats: NormStats,
    /// (B, E) norm2's output, the L2 normalisation's input.
    proj_normed: GpuBuffer,
    /// (B) row norms saved by the L2 normalisation.
    l2_norms: GpuBuffer,
    /// (B, E) unit rows.
    embedding: GpuBuffer,
    hash: HiddenActs,
    /// (B, K).
    logits: GpuBuffer,
    dproj_pre: GpuBuffer,
    dproj_normed: GpuBuffer,
    dembedding: GpuBuffer,
}

impl<'g> GpuModel<'g> {
    /// Uploads `model`'s parameters (by name) with zero gradients and moments.
    pub fn upload(gpu: &'g Gpu, model: &Model) -> Result<Self> {
        let config = *model.config();
        let mut params = Vec::new();
        for (name, shape, data) in model.params.export() {
            params.push(Param {
                name: name.to_string(),
                shape: shape.to_vec(),
                value: GpuBuffer::from_slice(gpu, data)?,
                grad: GpuBuffer::zeros(gpu, data.len())?,
                m: GpuBuffer::zeros(gpu, data.len())?,
                v: GpuBuffer::zeros(gpu, data.len())?,
            });
        }
        let index = |name: &str| {
            params
                .iter()
                .position(|p| p.name == name)
                .unwrap_or_else(|| panic!("GpuModel::upload: the model has no parameter `{name}`"))
        };
        let linear = |prefix: &str| {
            let weight = index(&format!("{prefix}.weight"));
            let shape = &params[weight].shape;
            Linear {
                weight,
                bias: index(&format!("{prefix}.bias")),
                inputs: shape[1],
                outputs: shape[0],
            }
        };
        let norm = |prefix: &str| {
            let weight = index(&format!("{prefix}.weight"));
            Norm {
                weight,
                bias: index(&format!("{prefix}.bias")),
                dim: params[weight].shape[0],
                eps: config.eps,
            }
        };
        let layers = (0..config.layers)
            .map(|i| {
                let prefix = format!("encoder.layers.{i}");
                EncoderLayer {
                    qkv: linear(&format!("{prefix}.attn.qkv")),
                    out: linear(&format!("{prefix}.attn.out")),
                    norm1: norm(&format!("{prefix}.norm1")),
                    fc1: linear(&format!("{prefix}.ffn.fc1")),
                    fc2: linear(&format!("{prefix}.ffn.fc2")),
                    norm2: norm(&format!("{prefix}.norm2")),
                    heads: config.heads,
                }
            })
            .collect();
        Ok(GpuModel {
            gpu,
            config,
            patch: linear("patch"),
            layers,
            proj: HiddenBlock {
                linear: linear("proj.fc1"),
                norm: norm("proj.norm1"),
            },
            proj2: linear("proj.fc2"),
            proj_norm2: norm("proj.norm2"),
            hash: HiddenBlock {
                linear: linear("hash.fc1"),
                norm: norm("hash.norm"),
            },
            hash2: linear("hash.fc2"),
            params,
            steps: 0,
            acts: None,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The device the model lives on.
    pub fn gpu(&self) -> &'g Gpu {
        self.gpu
    }

    /// AdamW steps taken since the upload.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Writes the device's parameter values into `model` (same config), by name.
    pub fn download(&self, model: &mut Model) -> Result<()> {
        for p in &self.params {
            let data = p.value.read(self.gpu)?;
            model
                .params
                .import(&p.name, &p.shape, data)
                .unwrap_or_else(|e| panic!("GpuModel::download: {e}"));
        }
        Ok(())
    }

    /// Writes the device's parameter gradients into `store`'s gradients, by name.
    pub fn download_grads(&self, store: &mut ParamStore) -> Result<()> {
        for p in &self.params {
            let id = store
                .id(&p.name)
                .unwrap_or_else(|| panic!("GpuModel::download_grads: no parameter `{}`", p.name));
            let data = p.grad.read(self.gpu)?;
            store.grad_mut(id).data_mut().copy_from_slice(&data);
        }
        Ok(())
    }

    /// Sets every parameter gradient to zero (the backward accumulates).
    pub fn zero_grads(&self) {
        let mut batch = self.gpu.batch();
        for p in &self.params {
            batch.zero(&p.grad);
        }
        batch.submit();
    }

    /// Runs the network on `segments` (B × segment_len floats, frame-major log-mel),
    /// keeping every activation for [`GpuModel::backward`]. The outputs stay on the
    /// device: [`GpuModel::embeddings`], [`GpuModel::logits`], or [`GpuModel::outputs`]
    /// to read them.
    pub fn forward(&mut self, segments: &[f32]) -> Result<()> {
        let len = self.config.segment_len();
        assert!(
            !segments.is_empty() && segments.len().is_multiple_of(len),
            "GpuModel::forward: {} floats is not a positive number of segments of {len}",
            segments.len()
        );
        let b = segments.len() / len;
        if self.acts.as_ref().is_none_or(|a| a.b != b) {
            self.acts = None; // free the old activations before allocating new ones
            self.acts = Some(self.allocate(b)?);
        }
        let a = self.acts.as_ref().expect("allocated above");
        a.segments.write(self.gpu, segments);
        let (t, p) = (self.config.tokens(), &self.params[..]);
        let mut batch = self.gpu.batch();
        self.patch
            .forward(&mut batch, p, b * t, false, &a.segments, &a.stream[0])?;
        axpy(&mut batch, 1.0, &a.positions, &a.stream[0])?;
        for (i, layer) in self.layers.iter().enumerate() {
            layer.forward(
                &mut batch,
                p,
                b,
                t,
                &a.stream[i],
                &a.stream[i + 1],
                &a.layers[i],
            )?;
        }
        // The last layer's (B·T, C) output is read as (B, T·C): the flatten.
        let flat = &a.stream[self.layers.len()];
        self.proj.forward(&mut batch, p, b, flat, &a.proj)?;
        self.proj2
            .forward(&mut batch, p, b, false, &a.proj.out, &a.proj_pre)?;
        self.proj_norm2
            .forward(&mut batch, p, b, &a.proj_pre, &a.proj_normed, &a.proj_stats)?;
        let e = self.config.emb_dim;
        l2norm_forward(
            &mut batch,
            b,
            e,
            L2_EPS,
            &a.proj_normed,
            &a.embedding,
            &a.l2_norms,
        )?;
        self.hash.forward(&mut batch, p, b, &a.embedding, &a.hash)?;
        self.hash2
            .forward(&mut batch, p, b, false, &a.hash.out, &a.logits)?;
        batch.submit();
        Ok(())
    }

    /// Back-propagates `d_embedding (B, E)` and `d_logits (B, K)` through the last
    /// forward, ACCUMULATING into the parameter gradients.
    pub fn backward(&self, d_embedding: &GpuBuffer, d_logits: &GpuBuffer) -> Result<()> {
        let a = self
            .acts
            .as_ref()
            .expect("GpuModel::backward: no forward to go back through");
        let (b, t, p) = (a.b, self.config.tokens(), &self.params[..]);
        let e = self.config.emb_dim;
        assert_eq!(
            d_embedding.len(),
            b * e,
            "GpuModel::backward: d_embedding is not ({b}, {e})"
        );
        assert_eq!(
            d_logits.len(),
            a.logits.len(),
            "GpuModel::backward: d_logits is not ({b}, {})",
            self.config.k_bits
        );
        let mut batch = self.gpu.batch();
        for g in a
            .dstream
            .iter()
            .chain([&a.proj.dout, &a.hash.dout, &a.dproj_pre, &a.dproj_normed])
        {
            batch.zero(g);
        }
        batch.copy(d_embedding, &a.dembedding);
        self.hash2
            .backward(&mut batch, p, b, &a.hash.out, d_logits, Some(&a.hash.dout))?;
        self.hash
            .backward(&mut batch, p, b, &a.embedding, &a.hash, &a.dembedding)?;
        l2norm_backward(
            &mut batch,
            b,
            e,
            L2_EPS,
            &a.embedding,
            &a.l2_norms,
            &a.dembedding,
            &a.dproj_normed,
        )?;
        self.proj_norm2.backward(
            &mut batch,
            p,
            b,
            &a.proj_pre,
            &a.proj_stats,
            &a.dproj_normed,
            &a.dproj_pre,
        )?;
        self.proj2.backward(
            &mut batch,
            p,
            b,
            &a.proj.out,
            &a.dproj_pre,
            Some(&a.proj.dout),
        )?;
        let top = self.layers.len();
        self.proj
            .backward(&mut batch, p, b, &a.stream[top], &a.proj, &a.dstream[top])?;
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let (x, acts) = (&a.stream[i], &a.layers[i]);
            layer.backward(
                &mut batch,
                p,
                b,
                t,
                x,
                acts,
                &a.dstream[i + 1],
                &a.dstream[i],
                &a.layer_grads,
            )?;
        }
        self.patch
            .backward(&mut batch, p, b * t, &a.segments, &a.dstream[0], None)?;
        batch.submit();
        Ok(())
    }

    /// The embeddings (B, E) of the last forward, on the device.
    pub fn embeddings(&self) -> &GpuBuffer {
        &self
            .acts
            .as_ref()
            .expect("GpuModel::embeddings: no forward yet")
            .embedding
    }

    /// The hash logits (B, K) of the last forward, on the device.
    pub fn logits(&self) -> &GpuBuffer {
        &self
            .acts
            .as_ref()
            .expect("GpuModel::logits: no forward yet")
            .logits
    }

    /// Reads the last forward's outputs back, shaped as [`Model::embed`]'s.
    pub fn outputs(&self) -> Result<Embeddings> {
        let embeddings = self.embeddings().read(self.gpu)?;
        Ok(Embeddings {
            n: embeddings.len() / self.config.emb_dim,
            embeddings,
            logits: self.logits().read(self.gpu)?,
        })
    }

    /// One update of every parameter from its gradient times `grad_scale` (the
    /// gradient-norm clip, 1 for none), the CPU [`Adam`]'s AdamW update on the device.
    /// Gradients are read, not cleared. Panics for Adam's coupled (L2) decay, which has
    /// no kernel.
    pub fn step(&mut self, config: &AdamConfig, lr: f32, grad_scale: f32) -> Result<()> {
        assert!(
            config.decoupled || config.weight_decay == 0.0,
            "GpuModel::step: only decoupled weight decay (AdamW) runs on the GPU"
        );
        self.steps += 1;
        let mut batch = self.gpu.batch();
        for p in &self.params {
            let decays = !(config.skip_decay_on_vectors && p.shape.len() < 2);
            let hyper = AdamW {
                lr,
                beta1: config.beta1,
                beta2: config.beta2,
                eps: config.eps,
                weight_decay: if decays { config.weight_decay } else { 0.0 },
                grad_scale,
            };
            adamw(
                &mut batch, &hyper, self.steps, &p.value, &p.grad, &p.m, &p.v,
            )?;
        }
        batch.submit();
        Ok(())
    }

    /// The global L2 norm of all parameter gradients (one read-back of one value per
    /// parameter, summed in f64 like the CPU's `train::optim::grad_norm`).
    pub fn grad_norm(&self) -> Result<f32> {
        let squares = GpuBuffer::zeros(self.gpu, self.params.len())?;
        let mut batch = self.gpu.batch();
        for (slot, p) in self.params.iter().enumerate() {
            sum_squares(&mut batch, &p.grad, &squares, slot)?;
        }
        batch.submit();
        let total: f64 = squares.read(self.gpu)?.iter().map(|&x| f64::from(x)).sum();
        Ok(total.sqrt() as f32)
    }

    /// The AdamW state in [`Adam::export_state`]'s names and order (`optim.m.<param>`
    /// for every parameter, then `optim.v.<param>`, then `optim.step`), read back.
    pub fn export_adam(&self) -> Result<Vec<StateTensor>> {
        let mut out = Vec::with_capacity(2 * self.params.len() + 1);
        for prefix in ["optim.m.", "optim.v."] {
            for p in &self.params {
                let moment = if prefix == "optim.m." { &p.m } else { &p.v };
                let name = format!("{prefix}{}", p.name);
                out.push((name, p.shape.clone(), moment.read(self.gpu)?));
            }
        }
        out.push(("optim.step".into(), vec![1], vec![self.steps as f32]));
        Ok(out)
    }

    /// Uploads a CPU [`Adam`]'s moments and step count (for the same parameters, by
    /// name), so that the next [`GpuModel::step`] continues its run.
    pub fn import_adam(&mut self, adam: &Adam, store: &ParamStore) {
        let state = adam.export_state(store);
        for (name, _, data) in &state {
            let Some(rest) = name.strip_prefix("optim.") else {
                continue;
            };
            if let Some((which, param)) = rest.split_once('.') {
                let p = self
                    .params
                    .iter()
                    .find(|p| p.name == param)
                    .unwrap_or_else(|| panic!("GpuModel::import_adam: no parameter `{param}`"));
                match which {
                    "m" => p.m.write(self.gpu, data),
                    "v" => p.v.write(self.gpu, data),
                    other => panic!("GpuModel::import_adam: unknown state `{other}`"),
                }
            }
        }
        self.steps = adam.steps();
    }

    fn allocate(&self, b: usize) -> Result<Activations> {
        let gpu = self.gpu;
        let cfg = &self.config;
        let (t, c, e) = (cfg.tokens(), cfg.d_model, cfg.emb_dim);
        let rows = b * t;
        let z = |n| GpuBuffer::zeros(gpu, n);
        let positions = sinusoidal_positions(t, c);
        let repeated: Vec<f32> = positions.data().repeat(b);
        Ok(Activations {
            b,
            segments: z(b * cfg.segment_len())?,
            positions: GpuBuffer::from_slice(gpu, &repeated)?,
            stream: (0..=self.layers.len())
                .map(|_| z(rows * c))
                .collect::<Result<_>>()?,
            dstream: (0..=self.layers.len())
                .map(|_| z(rows * c))
                .collect::<Result<_>>()?,
            layers: self
                .layers
                .iter()
                .map(|l| l.acts(gpu, b, t))
                .collect::<Result<_>>()?,
            layer_grads: self.layers[0].grads(gpu, rows)?,
            proj: self.proj.acts(gpu, b)?,
            proj_pre: z(b * e)?,
            proj_stats: NormStats::new(gpu, b)?,
            proj_normed: z(b * e)?,
            l2_norms: z(b)?,
            embedding: z(b * e)?,
            hash: self.hash.acts(gpu, b)?,
            logits: z(b * cfg.k_bits)?,
            dproj_pre: z(b * e)?,
            dproj_normed: z(b * e)?,
            dembedding: z(b * e)?,
        })
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
