//! Host side of `shaders/adamw.wgsl`: one AdamW step.

use crate::error::Result;
use crate::gpu::batch::{Batch, assert_len, assert_no_alias, index_u32};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::shader::{ADAMW, Access, Kernel};

/// Invocations per workgroup (WG in the shader).
const WG: usize = 256;

static KERNEL: Kernel = Kernel {
    shader: &ADAMW,
    entry: "adamw",
    bindings: &[
        (1, Access::Read),
        (2, Access::ReadWrite),
        (3, Access::ReadWrite),
        (4, Access::ReadWrite),
    ],
};

/// AdamW hyper-parameters (decoupled weight decay, as torch.optim.AdamW).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// Factor applied to the gradient before the update: the global gradient-norm
    /// clip `max_norm / norm` when the norm exceeds `max_norm`, else 1.
    pub grad_scale: f32,
}

impl Default for AdamW {
    /// DESIGN.md §4: lr 1e-4 (the reference); β and eps as Adam's paper; torch's
    /// default weight decay 0.01.
    fn default() -> Self {
        AdamW {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            grad_scale: 1.0,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    bc1: f32,
    bc2: f32,
    grad_scale: f32,
}

/// Step `step` (1 for the first) of AdamW on `param` with gradient `grad`, updating the
/// moments `m` and `v` in place (all the same length; moments start at zero).
pub fn adamw(
    batch: &mut Batch<'_>,
    hyper: &AdamW,
    step: u64,
    param: &GpuBuffer,
    grad: &GpuBuffer,
    m: &GpuBuffer,
    v: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "adamw";
    assert!(step >= 1, "{OP}: step counts from 1, got 0");
    let n = param.len();
    for (name, b) in [("grad", grad), ("m", m), ("v", v)] {
        assert_len(OP, name, b.len(), n, "the length of `param`");
    }
    let all = [
        ("param", param.id()),
        ("m", m.id()),
        ("v", v.id()),
        ("grad", grad.id()),
    ];
    assert_no_alias(OP, &all[..3], &all);
    // Bias corrections in f64: 1 − β^t loses digits in f32 while β^t is near 1.
    let correction = |beta: f32| (1.0 - f64::from(beta).powf(step as f64)) as f32;
    let params = Params {
        n: index_u32(OP, "n", n)?,
        lr: hyper.lr,
        beta1: hyper.beta1,
        beta2: hyper.beta2,
        eps: hyper.eps,
        weight_decay: hyper.weight_decay,
        bc1: correction(hyper.beta1),
        bc2: correction(hyper.beta2),
        grad_scale: hyper.grad_scale,
    };
    let groups = batch.grid(OP, n.div_ceil(WG))?;
    batch.dispatch(
        &KERNEL,
        &[],
        &params,
        &[grad.raw(), param.raw(), m.raw(), v.raw()],
        groups,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::testing::{assert_close, buffer, random, shared_gpu};

    /// torch.optim.AdamW's update, element by element, in f64.
    fn adamw_ref(
        h: &AdamW,
        step: u64,
        param: &mut [f64],
        grad: &[f64],
        m: &mut [f64],
        v: &mut [f64],
    ) {
        let (b1, b2) = (f64::from(h.beta1), f64::from(h.beta2));
        for i in 0..param.len() {
            let g = f64::from(h.grad_scale) * grad[i];
            param[i] *= 1.0 - f64::from(h.lr) * f64::from(h.weight_decay);
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let m_hat = m[i] / (1.0 - b1.powi(step as i32));
            let v_hat = v[i] / (1.0 - b2.powi(step as i32));
            param[i] -= f64::from(h.lr) * m_hat / (v_hat.sqrt() + f64::from(h.eps));
        }
    }

    #[test]
    fn three_steps_match_the_reference() {
        let Some(gpu) = shared_gpu() else { return };
        let hyper = AdamW {
            lr: 1e-2,
            grad_scale: 0.6,
            ..AdamW::default()
        };
        // 5 elements (a partial workgroup) and 700 (three workgroups).
        for (n, seed) in [(5, 90), (700, 91)] {
            let p0 = random(n, seed);
            let (param, m, v) = (
                buffer(gpu, &p0),
                buffer(gpu, &vec![0.0; n]),
                buffer(gpu, &vec![0.0; n]),
            );
            let mut want: Vec<f64> = p0.iter().map(|&x| f64::from(x)).collect();
            let (mut m_ref, mut v_ref) = (vec![0.0; n], vec![0.0; n]);
            for step in 1..=3 {
                let g = random(n, seed + 10 * step);
                let grad = buffer(gpu, &g);
                let mut batch = gpu.batch();
                adamw(&mut batch, &hyper, step, &param, &grad, &m, &v).unwrap();
                batch.submit();
                let g: Vec<f64> = g.iter().map(|&x| f64::from(x)).collect();
                adamw_ref(&hyper, step, &mut want, &g, &mut m_ref, &mut v_ref);
            }
            let want: Vec<f32> = want.iter().map(|&x| x as f32).collect();
            assert_close(
                &format!("adamw n = {n}"),
                &param.read(gpu).unwrap(),
                &want,
                1e-5,
            );
        }
    }
}
