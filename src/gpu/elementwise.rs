//! Host side of `shaders/elementwise.wgsl`: element-wise ops and sums.

use crate::error::Result;
use crate::gpu::batch::{Batch, assert_len, assert_no_alias, index_u32};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::shader::{Access, ELEMENTWISE, Kernel};

use Access::{Read, ReadWrite};

/// Invocations per workgroup (WG in the shader).
const WG: usize = 256;

static ADD: Kernel = Kernel {
    shader: &ELEMENTWISE,
    entry: "add",
    bindings: &[(1, Read), (2, Read), (3, ReadWrite)],
};
static AXPY: Kernel = Kernel {
    shader: &ELEMENTWISE,
    entry: "axpy",
    bindings: &[(1, Read), (3, ReadWrite)],
};
static RELU_FORWARD: Kernel = Kernel {
    shader: &ELEMENTWISE,
    entry: "relu_forward",
    bindings: &[(1, Read), (3, ReadWrite)],
};
static RELU_BACKWARD: Kernel = Kernel {
    shader: &ELEMENTWISE,
    entry: "relu_backward",
    bindings: &[(1, Read), (2, Read), (3, ReadWrite)],
};
static SUM_ROWS: Kernel = Kernel {
    shader: &ELEMENTWISE,
    entry: "sum_rows",
    bindings: &[(1, Read), (3, ReadWrite)],
};
static SUM_SQUARES: Kernel = Kernel {
    shader: &ELEMENTWISE,
    entry: "sum_squares",
    bindings: &[(1, Read), (3, ReadWrite)],
};
static SUM_ALL: Kernel = Kernel {
    shader: &ELEMENTWISE,
    entry: "sum_all",
    bindings: &[(1, Read), (3, ReadWrite)],
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    cols: u32,
    alpha: f32,
}

/// Records `kernel` over `n` elements, one invocation each, after the usual checks:
/// `inputs` must all have `n` elements, and `out` `out_len`.
fn elementwise(
    batch: &mut Batch<'_>,
    kernel: &Kernel,
    alpha: f32,
    inputs: &[(&str, &GpuBuffer)],
    out: (&str, &GpuBuffer),
) -> Result<()> {
    let op = kernel.entry;
    let n = out.1.len();
    for &(name, b) in inputs {
        assert_len(op, name, b.len(), n, &format!("the length of `{}`", out.0));
    }
    let all: Vec<(&str, u64)> = inputs
        .iter()
        .chain([&out])
        .map(|&(name, b)| (name, b.id()))
        .collect();
    assert_no_alias(op, &[(out.0, out.1.id())], &all);
    let params = Params {
        n: index_u32(op, "n", n)?,
        cols: 0,
        alpha,
    };
    let groups = batch.grid(op, n.div_ceil(WG))?;
    let raw: Vec<&wgpu::Buffer> = inputs.iter().chain([&out]).map(|(_, b)| b.raw()).collect();
    batch.dispatch(kernel, &[], &params, &raw, groups)
}

/// `out = a + b`, element-wise.
pub fn add(batch: &mut Batch<'_>, a: &GpuBuffer, b: &GpuBuffer, out: &GpuBuffer) -> Result<()> {
    elementwise(batch, &ADD, 0.0, &[("a", a), ("b", b)], ("out", out))
}

/// `y += alpha · x` (gradient accumulation, residual connections).
pub fn axpy(batch: &mut Batch<'_>, alpha: f32, x: &GpuBuffer, y: &GpuBuffer) -> Result<()> {
    elementwise(batch, &AXPY, alpha, &[("x", x)], ("y", y))
}

/// `y = max(x, 0)`.
pub fn relu_forward(batch: &mut Batch<'_>, x: &GpuBuffer, y: &GpuBuffer) -> Result<()> {
    elementwise(batch, &RELU_FORWARD, 0.0, &[("x", x)], ("y", y))
}

/// `dx += dy · [x > 0]`, with `x` the ReLU's input (or its output: the mask is the same).
pub fn relu_backward(
    batch: &mut Batch<'_>,
    x: &GpuBuffer,
    dy: &GpuBuffer,
    dx: &GpuBuffer,
) -> Result<()> {
    elementwise(
        batch,
        &RELU_BACKWARD,
        0.0,
        &[("x", x), ("dy", dy)],
        ("dx", dx),
    )
}

/// `out[col] += alpha · Σ_row x[row, col]` over a rows × cols matrix (a bias
/// gradient). One invocation per column.
pub fn sum_rows(
    batch: &mut Batch<'_>,
    rows: usize,
    cols: usize,
    alpha: f32,
    x: &GpuBuffer,
    out: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "sum_rows";
    assert_len(
        OP,
        "x",
        x.len(),
        rows * cols,
        &format!("rows × cols = {rows} × {cols}"),
    );
    assert_len(OP, "out", out.len(), cols, "cols");
    assert_no_alias(
        OP,
        &[("out", out.id())],
        &[("x", x.id()), ("out", out.id())],
    );
    let params = Params {
        n: index_u32(OP, "rows × cols", rows * cols)?,
        cols: index_u32(OP, "cols", cols)?,
        alpha,
    };
    let groups = [index_u32(OP, "workgroups", cols.div_ceil(WG))?, 1, 1];
    batch.dispatch(&SUM_ROWS, &[], &params, &[x.raw(), out.raw()], groups)
}

/// `out[0] = alpha · Σ x` (overwrites; `out` has one element). A single workgroup
/// does the sum: meant for small vectors such as per-item losses.
pub fn sum_all(batch: &mut Batch<'_>, alpha: f32, x: &GpuBuffer, out: &GpuBuffer) -> Result<()> {
    const OP: &str = "sum_all";
    assert_len(OP, "out", out.len(), 1, "1");
    assert_no_alias(
        OP,
        &[("out", out.id())],
        &[("x", x.id()), ("out", out.id())],
    );
    let params = Params {
        n: index_u32(OP, "n", x.len())?,
        cols: 0,
        alpha,
    };
    batch.dispatch(&SUM_ALL, &[], &params, &[x.raw(), out.raw()], [1, 1, 1])
}

/// `out[slot] = Σ x²` (overwrites that one element). A single workgroup does the sum:
/// one dispatch per parameter tensor of a gradient norm.
pub fn sum_squares(
    batch: &mut Batch<'_>,
    x: &GpuBuffer,
    out: &GpuBuffer,
    slot: usize,
) -> Result<()> {
    const OP: &str = "sum_squares";
    assert!(
        slot < out.len(),
        "{OP}: slot {slot} is outside `out` of {} elements",
        out.len()
    );
    assert_no_alias(
        OP,
        &[("out", out.id())],
        &[("x", x.id()), ("out", out.id())],
    );
    let params = Params {
        n: index_u32(OP, "n", x.len())?,
        cols: index_u32(OP, "slot", slot)?,
        alpha: 1.0,
    };
    batch.dispatch(&SUM_SQUARES, &[], &params, &[x.raw(), out.raw()], [1, 1, 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::testing::{assert_close, buffer, panic_message, random, shared_gpu};

    #[test]
    fn element_wise_ops_match_the_reference() {
        let Some(gpu) = shared_gpu() else { return };
        // 3 elements (one partial workgroup) and 1000 (four workgroups).
        for (n, seed) in [(3, 1), (1000, 2)] {
            let (a, b, y0) = (random(n, seed), random(n, seed + 1), random(n, seed + 2));
            let (ga, gb) = (buffer(gpu, &a), buffer(gpu, &b));
            let (sum, y, relu, dx) = (
                buffer(gpu, &vec![0.0; n]),
                buffer(gpu, &y0),
                buffer(gpu, &vec![0.0; n]),
                buffer(gpu, &y0),
            );
            let mut batch = gpu.batch();
            add(&mut batch, &ga, &gb, &sum).unwrap();
            axpy(&mut batch, -0.5, &ga, &y).unwrap();
            relu_forward(&mut batch, &ga, &relu).unwrap();
            relu_backward(&mut batch, &ga, &gb, &dx).unwrap();
            batch.submit();
            let want: Vec<f32> = a.iter().zip(&b).map(|(a, b)| a + b).collect();
            assert_close("add", &sum.read(gpu).unwrap(), &want, 1e-6);
            let want: Vec<f32> = a.iter().zip(&y0).map(|(a, y)| y - 0.5 * a).collect();
            assert_close("axpy", &y.read(gpu).unwrap(), &want, 1e-6);
            let want: Vec<f32> = a.iter().map(|a| a.max(0.0)).collect();
            assert_close("relu", &relu.read(gpu).unwrap(), &want, 0.0);
            let want: Vec<f32> = a
                .iter()
                .zip(&b)
                .zip(&y0)
                .map(|((a, b), y)| if *a > 0.0 { y + b } else { *y })
                .collect();
            assert_close("relu_backward", &dx.read(gpu).unwrap(), &want, 1e-6);
        }
    }

    #[test]
    fn sums_match_the_reference() {
        let Some(gpu) = shared_gpu() else { return };
        for (rows, cols, seed) in [(2, 3, 10), (37, 300, 20)] {
            let x = random(rows * cols, seed);
            let out0 = random(cols, seed + 1);
            let (gx, out, total) = (buffer(gpu, &x), buffer(gpu, &out0), buffer(gpu, &[7.0]));
            let mut batch = gpu.batch();
            sum_rows(&mut batch, rows, cols, 2.0, &gx, &out).unwrap();
            sum_all(&mut batch, 0.25, &gx, &total).unwrap();
            batch.submit();
            let want: Vec<f32> = (0..cols)
                .map(|c| {
                    out0[c]
                        + 2.0 * (0..rows).map(|r| f64::from(x[r * cols + c])).sum::<f64>() as f32
                })
                .collect();
            assert_close("sum_rows", &out.read(gpu).unwrap(), &want, 1e-5);
            let want = 0.25 * x.iter().map(|&v| f64::from(v)).sum::<f64>() as f32;
            assert_close("sum_all", &total.read(gpu).unwrap(), &[want], 1e-5);
            // Slot 1 of three: the others keep their values.
            let squares = buffer(gpu, &[3.0, 0.0, 4.0]);
            let mut batch = gpu.batch();
            sum_squares(&mut batch, &gx, &squares, 1).unwrap();
            batch.submit();
            let want = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() as f32;
            assert_close(
                "sum_squares",
                &squares.read(gpu).unwrap(),
                &[3.0, want, 4.0],
                1e-5,
            );
        }
    }

    #[test]
    fn batch_zero_and_copy_run_in_order_with_dispatches() {
        let Some(gpu) = shared_gpu() else { return };
        let (x, y, z) = (
            buffer(gpu, &[1.0, 2.0]),
            buffer(gpu, &[5.0, 5.0]),
            buffer(gpu, &[0.0, 0.0]),
        );
        let mut batch = gpu.batch();
        batch.zero(&y); // y = 0
        axpy(&mut batch, 3.0, &x, &y).unwrap(); // y = 3x
        batch.copy(&y, &z); // z = 3x
        axpy(&mut batch, 1.0, &x, &y).unwrap(); // y = 4x
        batch.copy_range(&y, 1, &z, 0, 1); // z[0] = y[1]
        assert_eq!(batch.len(), 5);
        batch.submit();
        assert_eq!(y.read(gpu).unwrap(), [4.0, 8.0]);
        assert_eq!(z.read(gpu).unwrap(), [8.0, 6.0]);
    }

    #[test]
    fn aliased_output_panics() {
        let Some(gpu) = shared_gpu() else { return };
        let x = buffer(gpu, &[1.0]);
        let message = panic_message(|| {
            let _ = add(&mut gpu.batch(), &x, &x, &x);
        });
        assert!(
            message.contains("add: output `out` is the same buffer as `a`"),
            "{message}"
        );
    }
}
