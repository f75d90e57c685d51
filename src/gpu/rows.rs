//! Host side of the row kernels — `shaders/softmax.wgsl`, `layernorm.wgsl`,
//! `l2norm.wgsl` — one workgroup per row of a rows × cols matrix, compiled with the
//! batch's [`RowConfig`](crate::gpu::RowConfig) (reduction flavour, workgroup size).
//! Forward and backward of each op side by side; backward kernels accumulate.

use crate::error::Result;
use crate::gpu::batch::{Batch, assert_len, assert_no_alias, index_u32};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::shader::{Access, Kernel, L2NORM, LAYERNORM, SOFTMAX};

use Access::{Read, ReadWrite};

static SOFTMAX_FORWARD: Kernel = Kernel {
    shader: &SOFTMAX,
    entry: "softmax_forward",
    bindings: &[(1, Read), (2, ReadWrite)],
};
static LOG_SOFTMAX_FORWARD: Kernel = Kernel {
    shader: &SOFTMAX,
    entry: "log_softmax_forward",
    bindings: &[(1, Read), (2, ReadWrite)],
};
static SOFTMAX_BACKWARD: Kernel = Kernel {
    shader: &SOFTMAX,
    entry: "softmax_backward",
    bindings: &[(3, Read), (4, Read), (5, ReadWrite)],
};
static LOG_SOFTMAX_BACKWARD: Kernel = Kernel {
    shader: &SOFTMAX,
    entry: "log_softmax_backward",
    bindings: &[(3, Read), (4, Read), (5, ReadWrite)],
};
static LAYERNORM_FORWARD: Kernel = Kernel {
    shader: &LAYERNORM,
    entry: "layernorm_forward",
    bindings: &[
        (1, Read),
        (2, Read),
        (3, Read),
        (4, ReadWrite),
        (5, ReadWrite),
        (6, ReadWrite),
    ],
};
static LAYERNORM_BACKWARD: Kernel = Kernel {
    shader: &LAYERNORM,
    entry: "layernorm_backward",
    bindings: &[
        (1, Read),
        (2, Read),
        (7, Read),
        (8, Read),
        (9, Read),
        (10, ReadWrite),
    ],
};
static LAYERNORM_BACKWARD_PARAMS: Kernel = Kernel {
    shader: &LAYERNORM,
    entry: "layernorm_backward_params",
    bindings: &[
        (1, Read),
        (7, Read),
        (8, Read),
        (9, Read),
        (11, ReadWrite),
        (12, ReadWrite),
    ],
};
static L2NORM_FORWARD: Kernel = Kernel {
    shader: &L2NORM,
    entry: "l2norm_forward",
    bindings: &[(1, Read), (2, ReadWrite), (3, ReadWrite)],
};
static L2NORM_BACKWARD: Kernel = Kernel {
    shader: &L2NORM,
    entry: "l2norm_backward",
    bindings: &[(4, Read), (5, Read), (6, Read), (7, ReadWrite)],
};

/// The uniform block of softmax.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Shape {
    rows: u32,
    cols: u32,
}

/// The uniform block of layernorm.wgsl and l2norm.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ShapeEps {
    rows: u32,
    cols: u32,
    eps: f32,
}

/// Checks that every `(name, buffer, expected length)` matches, that no output aliases
/// another argument, and records one workgroup per row of `kernel`.
fn dispatch_rows(
    batch: &mut Batch<'_>,
    kernel: &Kernel,
    params: &impl bytemuck::Pod,
    rows: usize,
    buffers: &[(&str, &GpuBuffer, usize)],
) -> Result<()> {
    check(kernel.entry, kernel, buffers);
    let groups = batch.grid(kernel.entry, rows)?;
    dispatch_with(batch, kernel, params, buffers, groups)
}

fn check(op: &str, kernel: &Kernel, buffers: &[(&str, &GpuBuffer, usize)]) {
    for &(name, buffer, expected) in buffers {
        assert_len(op, name, buffer.len(), expected, "its shape");
    }
    let all: Vec<(&str, u64)> = buffers.iter().map(|&(name, b, _)| (name, b.id())).collect();
    let outputs: Vec<(&str, u64)> = kernel
        .bindings
        .iter()
        .zip(&all)
        .filter(|((_, access), _)| *access == ReadWrite)
        .map(|(_, &named)| named)
        .collect();
    assert_no_alias(op, &outputs, &all);
}

fn dispatch_with(
    batch: &mut Batch<'_>,
    kernel: &Kernel,
    params: &impl bytemuck::Pod,
    buffers: &[(&str, &GpuBuffer, usize)],
    groups: [u32; 3],
) -> Result<()> {
    let raw: Vec<&wgpu::Buffer> = buffers.iter().map(|&(_, b, _)| b.raw()).collect();
    let wg = f64::from(batch.rows().workgroup);
    batch.dispatch(kernel, &[("WG", wg)], params, &raw, groups)
}

fn shape(op: &str, rows: usize, cols: usize) -> Result<Shape> {
    index_u32(op, "rows × cols", rows * cols)?;
    Ok(Shape {
        rows: index_u32(op, "rows", rows)?,
        cols: index_u32(op, "cols", cols)?,
    })
}

fn shape_eps(op: &str, rows: usize, cols: usize, eps: f32) -> Result<ShapeEps> {
    let Shape { rows, cols } = shape(op, rows, cols)?;
    Ok(ShapeEps { rows, cols, eps })
}

/// Row softmax: `y = exp(x − max) / Σ exp(x − max)` per row; x, y: rows × cols.
pub fn softmax_forward(
    batch: &mut Batch<'_>,
    rows: usize,
    cols: usize,
    x: &GpuBuffer,
    y: &GpuBuffer,
) -> Result<()> {
    let p = shape("softmax_forward", rows, cols)?;
    dispatch_rows(
        batch,
        &SOFTMAX_FORWARD,
        &p,
        rows,
        &[("x", x, rows * cols), ("y", y, rows * cols)],
    )
}

/// Softmax backward from the saved output: `dx += y ⊙ (dy − Σ_row y ⊙ dy)`.
pub fn softmax_backward(
    batch: &mut Batch<'_>,
    rows: usize,
    cols: usize,
    y: &GpuBuffer,
    dy: &GpuBuffer,
    dx: &GpuBuffer,
) -> Result<()> {
    let p = shape("softmax_backward", rows, cols)?;
    let n = rows * cols;
    dispatch_rows(
        batch,
        &SOFTMAX_BACKWARD,
        &p,
        rows,
        &[("y", y, n), ("dy", dy, n), ("dx", dx, n)],
    )
}

/// Row log-softmax: `y = x − max − log Σ exp(x − max)`; x, y: rows × cols.
pub fn log_softmax_forward(
    batch: &mut Batch<'_>,
    rows: usize,
    cols: usize,
    x: &GpuBuffer,
    y: &GpuBuffer,
) -> Result<()> {
    let p = shape("log_softmax_forward", rows, cols)?;
    dispatch_rows(
        batch,
        &LOG_SOFTMAX_FORWARD,
        &p,
        rows,
        &[("x", x, rows * cols), ("y", y, rows * cols)],
    )
}

/// Log-softmax backward from the saved output: `dx += dy − exp(y) · Σ_row dy`.
pub fn log_softmax_backward(
    batch: &mut Batch<'_>,
    rows: usize,
    cols: usize,
    y: &GpuBuffer,
    dy: &GpuBuffer,
    dx: &GpuBuffer,
) -> Result<()> {
    let p = shape("log_softmax_backward", rows, cols)?;
    let n = rows * cols;
    dispatch_rows(
        batch,
        &LOG_SOFTMAX_BACKWARD,
        &p,
        rows,
        &[("y", y, n), ("dy", dy, n), ("dx", dx, n)],
    )
}

/// LayerNorm over each row: `y = (x − mean) · rstd ⊙ gamma + beta` with
/// `rstd = 1 / sqrt(var + eps)` (biased variance; DESIGN.md: eps = 1e-5).
/// x, y: rows × cols; gamma, beta: cols; saves mean, rstd: rows.
#[allow(clippy::too_many_arguments)] // one buffer per binding of the shader
pub fn layernorm_forward(
    batch: &mut Batch<'_>,
    rows: usize,
    cols: usize,
    eps: f32,
    x: &GpuBuffer,
    gamma: &GpuBuffer,
    beta: &GpuBuffer,
    y: &GpuBuffer,
    mean: &GpuBuffer,
    rstd: &GpuBuffer,
) -> Result<()> {
    let p = shape_eps("layernorm_forward", rows, cols, eps)?;
    let n = rows * cols;
    let buffers = [
        ("x", x, n),
        ("gamma", gamma, cols),
        ("beta", beta, cols),
        ("y", y, n),
        ("mean", mean, rows),
        ("rstd", rstd, rows),
    ];
    dispatch_rows(batch, &LAYERNORM_FORWARD, &p, rows, &buffers)
}

/// LayerNorm backward from the saved mean and rstd; accumulates
/// `dx` (rows × cols), `dgamma` and `dbeta` (cols). Records two dispatches.
#[allow(clippy::too_many_arguments)] // one buffer per binding of the shader
pub fn layernorm_backward(
    batch: &mut Batch<'_>,
    rows: usize,
    cols: usize,
    x: &GpuBuffer,
    gamma: &GpuBuffer,
    mean: &GpuBuffer,
    rstd: &GpuBuffer,
    dy: &GpuBuffer,
    dx: &GpuBuffer,
    dgamma: &GpuBuffer,
    dbeta: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "layernorm_backward";
    let p = shape_eps(OP, rows, cols, 0.0)?;
    let n = rows * cols;
    let dx_buffers = [
        ("x", x, n),
        ("gamma", gamma, cols),
        ("dy", dy, n),
        ("mean", mean, rows),
        ("rstd", rstd, rows),
        ("dx", dx, n),
    ];
    dispatch_rows(batch, &LAYERNORM_BACKWARD, &p, rows, &dx_buffers)?;
    let param_buffers = [
        ("x", x, n),
        ("dy", dy, n),
        ("mean", mean, rows),
        ("rstd", rstd, rows),
        ("dgamma", dgamma, cols),
        ("dbeta", dbeta, cols),
    ];
    check(OP, &LAYERNORM_BACKWARD_PARAMS, &param_buffers);
    let wg = batch.rows().workgroup as usize;
    let groups = [index_u32(OP, "column workgroups", cols.div_ceil(wg))?, 1, 1];
    dispatch_with(
        batch,
        &LAYERNORM_BACKWARD_PARAMS,
        &p,
        &param_buffers,
        groups,
    )
}

/// L2 normalisation of each row: `y = x / max(‖x‖, eps)`; x, y: rows × cols; saves
/// the unclamped norm (rows).
pub fn l2norm_forward(
    batch: &mut Batch<'_>,
    rows: usize,
    cols: usize,
    eps: f32,
    x: &GpuBuffer,
    y: &GpuBuffer,
    norm: &GpuBuffer,
) -> Result<()> {
    let p = shape_eps("l2norm_forward", rows, cols, eps)?;
    let n = rows * cols;
    dispatch_rows(
        batch,
        &L2NORM_FORWARD,
        &p,
        rows,
        &[("x", x, n), ("y", y, n), ("norm", norm, rows)],
    )
}

/// L2 normalisation backward from the saved output and norm:
/// `dx += (dy − y (y·dy)) / ‖x‖`, or `dx += dy / eps` where the norm was clamped.
#[allow(clippy::too_many_arguments)] // one buffer per binding of the shader
pub fn l2norm_backward(
    batch: &mut Batch<'_>,
    rows: usize,
    cols: usize,
    eps: f32,
    y: &GpuBuffer,
    norm: &GpuBuffer,
    dy: &GpuBuffer,
    dx: &GpuBuffer,
) -> Result<()> {
    let p = shape_eps("l2norm_backward", rows, cols, eps)?;
    let n = rows * cols;
    let buffers = [
        ("y", y, n),
        ("norm", norm, rows),
        ("dy", dy, n),
        ("dx", dx, n),
    ];
    dispatch_rows(batch, &L2NORM_BACKWARD, &p, rows, &buffers)
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
