//! The encoder's layers on the GPU, llm.c-style: for each layer the activations it
//! saves, its forward and its backward side by side. Forward overwrites activations;
//! backward ACCUMULATES into parameter gradients and into the gradient of its input
//! (the caller zeroes those), and zeroes its own scratch gradients itself.

use crate::error::Result;
use crate::gpu::{
    Attention, Batch, Gemm, Gpu, GpuBuffer, attention_backward, attention_forward, axpy, gemm,
    layernorm_backward, layernorm_forward, relu_backward, relu_forward, sum_rows,
};

/// A parameter resident on the device: value, gradient and AdamW moments, all of
/// the same length.
pub(super) struct Param {
    pub name: String,
    pub shape: Vec<usize>,
    pub value: GpuBuffer,
    pub grad: GpuBuffer,
    pub m: GpuBuffer,
    pub v: GpuBuffer,
}

/// `y = x · Wᵀ + b`: indices of `W (outputs, inputs)` and `b (outputs)` in the
/// parameter list.
#[derive(Clone, Copy, Debug)]
pub(super) struct Linear {
    pub weight: usize,
    pub bias: usize,
    pub inputs: usize,
    pub outputs: usize,
}

impl Linear {
    /// `x (rows, inputs)` → `y (rows, outputs)`, ReLU applied when `relu`.
    pub fn forward(
        &self,
        batch: &mut Batch<'_>,
        p: &[Param],
        rows: usize,
        relu: bool,
        x: &GpuBuffer,
        y: &GpuBuffer,
    ) -> Result<()> {
        let mut shape = Gemm::new(rows, self.outputs, self.inputs).trans_b();
        if relu {
            shape = shape.relu();
        }
        gemm(
            batch,
            &shape,
            x,
            &p[self.weight].value,
            Some(&p[self.bias].value),
            y,
        )
    }

    /// From the saved input `x` and `dy (rows, outputs)`: `dW += dyᵀ x`, `db += Σ_rows dy`
    /// and, when asked, `dx += dy W`.
    pub fn backward(
        &self,
        batch: &mut Batch<'_>,
        p: &[Param],
        rows: usize,
        x: &GpuBuffer,
        dy: &GpuBuffer,
        dx: Option<&GpuBuffer>,
    ) -> Result<()> {
        let (w, b) = (&p[self.weight], &p[self.bias]);
        let dw = Gemm::new(self.outputs, self.inputs, rows)
            .trans_a()
            .accumulate();
        gemm(batch, &dw, dy, x, None, &w.grad)?;
        sum_rows(batch, rows, self.outputs, 1.0, dy, &b.grad)?;
        match dx {
            Some(dx) => {
                let shape = Gemm::new(rows, self.inputs, self.outputs).accumulate();
                gemm(batch, &shape, dy, &w.value, None, dx)
            }
            None => Ok(()),
        }
    }
}

/// Layer norm over rows of `dim`: indices of its gain and bias.
#[derive(Clone, Copy, Debug)]
pub(super) struct Norm {
    pub weight: usize,
    pub bias: usize,
    pub dim: usize,
    pub eps: f32,
}

/// What a layer norm saves: its per-row mean and 1/std.
pub(super) struct NormStats {
    pub mean: GpuBuffer,
    pub rstd: GpuBuffer,
}

impl NormStats {
    pub fn new(gpu: &Gpu, rows: usize) -> Result<Self> {
        Ok(NormStats {
            mean: GpuBuffer::zeros(gpu, rows)?,
            rstd: GpuBuffer::zeros(gpu, rows)?,
        })
    }
}

impl Norm {
    pub fn forward(
        &self,
        batch: &mut Batch<'_>,
        p: &[Param],
        rows: usize,
        x: &GpuBuffer,
        y: &GpuBuffer,
        saved: &NormStats,
    ) -> Result<()> {
        let (w, b) = (&p[self.weight].value, &p[self.bias].value);
        layernorm_forward(
            batch,
            rows,
            self.dim,
            self.eps,
            x,
            w,
            b,
            y,
            &saved.mean,
            &saved.rstd,
        )
    }

    /// `dx += ∂/∂x`, gain and bias gradients accumulated.
    #[allow(clippy::too_many_arguments)] // the saved input and stats, dy, dx
    pub fn backward(
        &self,
        batch: &mut Batch<'_>,
        p: &[Param],
        rows: usize,
        x: &GpuBuffer,
        saved: &NormStats,
        dy: &GpuBuffer,
        dx: &GpuBuffer,
    ) -> Result<()> {
        let (w, b) = (&p[self.weight], &p[self.bias]);
        layernorm_backward(
            batch,
            rows,
            self.dim,
            x,
            &w.value,
            &saved.mean,
            &saved.rstd,
            dy,
            dx,
            &w.grad,
            &b.grad,
        )
    }
}

/// One post-LN encoder layer's parameters (see `autograd::layers::EncoderLayer`).
pub(super) struct EncoderLayer {
    pub qkv: Linear,
    pub out: Linear,
    pub norm1: Norm,
    pub fc1: Linear,
    pub fc2: Linear,
    pub norm2: Norm,
    pub heads: usize,
}

/// Activations one encoder layer saves for its backward, rows = B·T tokens.
pub(super) struct EncoderActs {
    /// (rows, 3C) packed q, k, v.
    qkv: GpuBuffer,
    /// (B, heads, T, T) attention probabilities.
    probs: GpuBuffer,
    /// (rows, C) attention output before the out projection.
    att: GpuBuffer,
    /// (rows, C) x + out(att): norm1's input.
    res1: GpuBuffer,
    norm1: NormStats,
    /// (rows, C) norm1's output.
    h: GpuBuffer,
    /// (rows, F) relu(fc1(h)).
    f: GpuBuffer,
    /// (rows, C) h + fc2(f): norm2's input.
    res2: GpuBuffer,
    norm2: NormStats,
}

/// Gradient scratch of one encoder layer, shared by all layers (zeroed per layer).
pub(super) struct EncoderGrads {
    dqkv: GpuBuffer,
    datt: GpuBuffer,
    dres1: GpuBuffer,
    dh: GpuBuffer,
    df: GpuBuffer,
    /// Gradient before the ReLU of fc1.
    df_pre: GpuBuffer,
    dres2: GpuBuffer,
}

impl EncoderLayer {
    fn attention(&self, b: usize, t: usize) -> Attention {
        let c = self.out.outputs;
        Attention {
            batch: b,
            tokens: t,
            heads: self.heads,
            head_dim: c / self.heads,
        }
    }

    pub fn acts(&self, gpu: &Gpu, b: usize, t: usize) -> Result<EncoderActs> {
        let (rows, c, f) = (b * t, self.out.outputs, self.fc1.outputs);
        let z = |n| GpuBuffer::zeros(gpu, n);
        Ok(EncoderActs {
            qkv: z(rows * 3 * c)?,
            probs: z(b * self.heads * t * t)?,
            att: z(rows * c)?,
            res1: z(rows * c)?,
            norm1: NormStats::new(gpu, rows)?,
            h: z(rows * c)?,
            f: z(rows * f)?,
            res2: z(rows * c)?,
            norm2: NormStats::new(gpu, rows)?,
        })
    }

    pub fn grads(&self, gpu: &Gpu, rows: usize) -> Result<EncoderGrads> {
        let (c, f) = (self.out.outputs, self.fc1.outputs);
        let z = |n| GpuBuffer::zeros(gpu, n);
        Ok(EncoderGrads {
            dqkv: z(rows * 3 * c)?,
            datt: z(rows * c)?,
            dres1: z(rows * c)?,
            dh: z(rows * c)?,
            df: z(rows * f)?,
            df_pre: z(rows * f)?,
            dres2: z(rows * c)?,
        })
    }

    /// `x (B·T, C)` → `y (B·T, C)`, saving into `a`.
    #[allow(clippy::too_many_arguments)] // sizes, input, output, saved activations
    pub fn forward(
        &self,
        batch: &mut Batch<'_>,
        p: &[Param],
        b: usize,
        t: usize,
        x: &GpuBuffer,
        y: &GpuBuffer,
        a: &EncoderActs,
    ) -> Result<()> {
        let rows = b * t;
        self.qkv.forward(batch, p, rows, false, x, &a.qkv)?;
        attention_forward(batch, &self.attention(b, t), &a.qkv, &a.att, &a.probs)?;
        self.out.forward(batch, p, rows, false, &a.att, &a.res1)?;
        axpy(batch, 1.0, x, &a.res1)?;
        self.norm1
            .forward(batch, p, rows, &a.res1, &a.h, &a.norm1)?;
        self.fc1.forward(batch, p, rows, true, &a.h, &a.f)?;
        self.fc2.forward(batch, p, rows, false, &a.f, &a.res2)?;
        axpy(batch, 1.0, &a.h, &a.res2)?;
        self.norm2.forward(batch, p, rows, &a.res2, y, &a.norm2)
    }

    /// From `dy`, accumulates parameter gradients and `dx` (the input's gradient).
    #[allow(clippy::too_many_arguments)] // sizes, saved input and activations, dy, dx, scratch
    pub fn backward(
        &self,
        batch: &mut Batch<'_>,
        p: &[Param],
        b: usize,
        t: usize,
        x: &GpuBuffer,
        a: &EncoderActs,
        dy: &GpuBuffer,
        dx: &GpuBuffer,
        g: &EncoderGrads,
    ) -> Result<()> {
        let rows = b * t;
        for scratch in [
            &g.dqkv, &g.datt, &g.dres1, &g.dh, &g.df, &g.df_pre, &g.dres2,
        ] {
            batch.zero(scratch);
        }
        self.norm2
            .backward(batch, p, rows, &a.res2, &a.norm2, dy, &g.dres2)?;
        axpy(batch, 1.0, &g.dres2, &g.dh)?; // residual: res2 = h + fc2(f)
        self.fc2
            .backward(batch, p, rows, &a.f, &g.dres2, Some(&g.df))?;
        relu_backward(batch, &a.f, &g.df, &g.df_pre)?; // the mask of relu's output
        self.fc1
            .backward(batch, p, rows, &a.h, &g.df_pre, Some(&g.dh))?;
        self.norm1
            .backward(batch, p, rows, &a.res1, &a.norm1, &g.dh, &g.dres1)?;
        axpy(batch, 1.0, &g.dres1, dx)?; // residual: res1 = x + out(att)
        self.out
            .backward(batch, p, rows, &a.att, &g.dres1, Some(&g.datt))?;
        attention_backward(
            batch,
            &self.attention(b, t),
            &a.qkv,
            &a.probs,
            &g.datt,
            &g.dqkv,
        )?;
        self.qkv.backward(batch, p, rows, x, &g.dqkv, Some(dx))
    }
}

/// A head block `Linear → LayerNorm → ReLU` (the projector's and the hash head's first
/// half) with what it saves.
pub(super) struct HiddenBlock {
    pub linear: Linear,
    pub norm: Norm,
}

/// Saved activations of a [`HiddenBlock`] and its gradient scratch, rows = B.
pub(super) struct HiddenActs {
    /// Linear output: the norm's input.
    pre: GpuBuffer,
    stats: NormStats,
    /// The norm's output: the ReLU's input.
    normed: GpuBuffer,
    /// relu(normed): the block's output.
    pub out: GpuBuffer,
    dpre: GpuBuffer,
    dnormed: GpuBuffer,
    /// The output's gradient, filled by the next block's backward.
    pub dout: GpuBuffer,
}

impl HiddenBlock {
    pub fn acts(&self, gpu: &Gpu, rows: usize) -> Result<HiddenActs> {
        let n = rows * self.linear.outputs;
        let z = |n| GpuBuffer::zeros(gpu, n);
        Ok(HiddenActs {
            pre: z(n)?,
            stats: NormStats::new(gpu, rows)?,
            normed: z(n)?,
            out: z(n)?,
            dpre: z(n)?,
            dnormed: z(n)?,
            dout: z(n)?,
        })
    }

    pub fn forward(
        &self,
        batch: &mut Batch<'_>,
        p: &[Param],
        rows: usize,
        x: &GpuBuffer,
        a: &HiddenActs,
    ) -> Result<()> {
        self.linear.forward(batch, p, rows, false, x, &a.pre)?;
        self.norm
            .forward(batch, p, rows, &a.pre, &a.normed, &a.stats)?;
        relu_forward(batch, &a.normed, &a.out)
    }

    /// From `a.dout` (complete by now), accumulates parameter gradients and `dx`.
    pub fn backward(
        &self,
        batch: &mut Batch<'_>,
        p: &[Param],
        rows: usize,
        x: &GpuBuffer,
        a: &HiddenActs,
        dx: &GpuBuffer,
    ) -> Result<()> {
        batch.zero(&a.dnormed);
        batch.zero(&a.dpre);
        relu_backward(batch, &a.normed, &a.dout, &a.dnormed)?;
        self.norm
            .backward(batch, p, rows, &a.pre, &a.stats, &a.dnormed, &a.dpre)?;
        self.linear.backward(batch, p, rows, x, &a.dpre, Some(dx))
    }
}
