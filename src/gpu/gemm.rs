//! Host side of `shaders/gemm.wgsl`: batched C = alpha · op(A) · op(B) + beta · C
//! (+ bias) (ReLU).

use crate::error::Result;
use crate::gpu::batch::{Batch, assert_len, assert_no_alias, index_u32};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::shader::{Access, GEMM, Kernel};

static KERNEL: Kernel = Kernel {
    shader: &GEMM,
    entry: "gemm",
    bindings: &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::ReadWrite),
    ],
};

/// Rows and columns of C covered by one workgroup (BM = BN in the shader).
const TILE: usize = 64;

/// The shape and epilogue of one (batched) matrix product, row-major throughout:
/// `C[b] (m×n) = alpha · op(A[b]) (m×k) · op(B[b]) (k×n) + beta · C[b] (+ bias[n]) (ReLU)`.
///
/// With `trans_a`, A is stored k×m; with `trans_b`, B is stored n×k. Typical uses
/// (X: rows×in, W: out×in, dY: rows×out):
/// - Linear forward `Y = X Wᵀ + b`:   `Gemm::new(rows, out, in).trans_b()` with bias;
/// - input gradient `dX += dY W`:     `Gemm::new(rows, in, out).accumulate()`;
/// - weight gradient `dW += dYᵀ X`:   `Gemm::new(out, in, rows).trans_a().accumulate()`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// Number of independent products (C is `batch` dense m×n matrices).
    pub batch: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub alpha: f32,
    /// 0 overwrites C (its old content is not read); 1 accumulates into it.
    pub beta: f32,
    pub relu: bool,
    /// Elements between consecutive A matrices: m·k (dense) or 0 (shared).
    pub a_stride: usize,
    /// Elements between consecutive B matrices: k·n (dense) or 0 (shared).
    pub b_stride: usize,
}

impl Gemm {
    /// A single product C = A · B with no epilogue.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        Gemm {
            m,
            n,
            k,
            batch: 1,
            trans_a: false,
            trans_b: false,
            alpha: 1.0,
            beta: 0.0,
            relu: false,
            a_stride: m * k,
            b_stride: k * n,
        }
    }
    /// Uses Aᵀ: A is stored k×m.
    pub fn trans_a(self) -> Self {
        Gemm {
            trans_a: true,
            ..self
        }
    }
    /// Uses Bᵀ: B is stored n×k.
    pub fn trans_b(self) -> Self {
        Gemm {
            trans_b: true,
            ..self
        }
    }
    /// `count` independent products over dense, consecutive matrices.
    pub fn batched(self, count: usize) -> Self {
        Gemm {
            batch: count,
            ..self
        }
    }
    /// One B shared by every product of the batch.
    pub fn shared_b(self) -> Self {
        Gemm {
            b_stride: 0,
            ..self
        }
    }
    pub fn alpha(self, alpha: f32) -> Self {
        Gemm { alpha, ..self }
    }
    /// Adds the product to C instead of overwriting it (beta = 1).
    pub fn accumulate(self) -> Self {
        Gemm { beta: 1.0, ..self }
    }
    /// Clamps the result (after the bias) at zero.
    pub fn relu(self) -> Self {
        Gemm { relu: true, ..self }
    }

    /// Multiply-adds performed: 2·m·n·k per product.
    pub fn flops(&self) -> u64 {
        2 * (self.batch * self.m * self.n * self.k) as u64
    }

    fn required_len(stride: usize, batch: usize, one: usize) -> usize {
        if batch == 0 {
            0
        } else {
            stride * (batch - 1) + one
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    a_stride: u32,
    b_stride: u32,
    alpha: f32,
    beta: f32,
    bias: u32,
    relu: u32,
}

/// Records `shape`'s product into `c` (see [`Gemm`]). `bias`, when given, has `n`
/// elements. Panics when a buffer's length does not match the shape or `c` aliases an
/// input; fails when the grid exceeds the device's limits.
pub fn gemm(
    batch: &mut Batch<'_>,
    shape: &Gemm,
    a: &GpuBuffer,
    b: &GpuBuffer,
    bias: Option<&GpuBuffer>,
    c: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "gemm";
    let &Gemm {
        m,
        n,
        k,
        batch: count,
        ..
    } = shape;
    assert!(
        shape.a_stride == 0 || shape.a_stride == m * k,
        "{OP}: a_stride {} is neither 0 nor m·k = {}",
        shape.a_stride,
        m * k
    );
    assert!(
        shape.b_stride == 0 || shape.b_stride == k * n,
        "{OP}: b_stride {} is neither 0 nor k·n = {}",
        shape.b_stride,
        k * n
    );
    let dims = format!("batch {count}, m×k = {m}×{k}");
    assert_len(
        OP,
        "a",
        a.len(),
        Gemm::required_len(shape.a_stride, count, m * k),
        &dims,
    );
    let dims = format!("batch {count}, k×n = {k}×{n}");
    assert_len(
        OP,
        "b",
        b.len(),
        Gemm::required_len(shape.b_stride, count, k * n),
        &dims,
    );
    assert_len(
        OP,
        "c",
        c.len(),
        count * m * n,
        &format!("batch × m × n = {count}×{m}×{n}"),
    );
    if let Some(bias) = bias {
        assert_len(OP, "bias", bias.len(), n, "n");
    }
    let bias_id = bias.map_or(a.id(), GpuBuffer::id);
    assert_no_alias(
        OP,
        &[("c", c.id())],
        &[
            ("a", a.id()),
            ("b", b.id()),
            ("bias", bias_id),
            ("c", c.id()),
        ],
    );

    let params = Params {
        m: index_u32(OP, "m", m)?,
        n: index_u32(OP, "n", n)?,
        k: index_u32(OP, "k", k)?,
        a_stride: index_u32(OP, "a_stride", shape.a_stride)?,
        b_stride: index_u32(OP, "b_stride", shape.b_stride)?,
        alpha: shape.alpha,
        beta: shape.beta,
        bias: u32::from(bias.is_some()),
        relu: u32::from(shape.relu),
    };
    let overrides = [
        ("TRANS_A", f64::from(u8::from(shape.trans_a))),
        ("TRANS_B", f64::from(u8::from(shape.trans_b))),
    ];
    let groups = [
        index_u32(OP, "column tiles", n.div_ceil(TILE))?,
        index_u32(OP, "row tiles", m.div_ceil(TILE))?,
        index_u32(OP, "batch", count)?,
    ];
    // Without a bias the binding still needs a buffer; A is read-only already.
    let bias = bias.unwrap_or(a);
    batch.dispatch(
        &KERNEL,
        &overrides,
        &params,
        &[a.raw(), b.raw(), bias.raw(), c.raw()],
        groups,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::testing::{assert_close, buffer, panic_message, random, shared_gpu};

    /// C = alpha · op(A) op(B) + beta · C0 (+ bias) (ReLU), the obvious triple loop.
    fn gemm_reference(
        s: &Gemm,
        a: &[f32],
        b: &[f32],
        bias: Option<&[f32]>,
        c0: &[f32],
    ) -> Vec<f32> {
        let mut c = c0.to_vec();
        for p in 0..s.batch {
            for i in 0..s.m {
                for j in 0..s.n {
                    let mut acc = 0.0f64;
                    for l in 0..s.k {
                        let av = if s.trans_a {
                            a[p * s.a_stride + l * s.m + i]
                        } else {
                            a[p * s.a_stride + i * s.k + l]
                        };
                        let bv = if s.trans_b {
                            b[p * s.b_stride + j * s.k + l]
                        } else {
                            b[p * s.b_stride + l * s.n + j]
                        };
                        acc += f64::from(av) * f64::from(bv);
                    }
                    let at = p * s.m * s.n + i * s.n + j;
                    let mut v = s.alpha * acc as f32 + s.beta * c0[at];
                    if let Some(bias) = bias {
                        v += bias[j];
                    }
                    c[at] = if s.relu { v.max(0.0) } else { v };
                }
            }
        }
        c
    }

    fn check(shape: Gemm, with_bias: bool, seed: u64) {
        let Some(gpu) = shared_gpu() else { return };
        let a_len = Gemm::required_len(shape.a_stride, shape.batch, shape.m * shape.k);
        let b_len = Gemm::required_len(shape.b_stride, shape.batch, shape.k * shape.n);
        let a = random(a_len, seed);
        let b = random(b_len, seed + 1);
        let bias = with_bias.then(|| random(shape.n, seed + 2));
        let c0 = random(shape.batch * shape.m * shape.n, seed + 3);
        let (ga, gb, gc) = (buffer(gpu, &a), buffer(gpu, &b), buffer(gpu, &c0));
        let gbias = bias.as_ref().map(|v| buffer(gpu, v));
        let mut batch = gpu.batch();
        gemm(&mut batch, &shape, &ga, &gb, gbias.as_ref(), &gc).unwrap();
        batch.submit();
        let want = gemm_reference(&shape, &a, &b, bias.as_deref(), &c0);
        assert_close(&format!("{shape:?}"), &gc.read(gpu).unwrap(), &want, 1e-4);
    }

    #[test]
    fn plain_product_small_and_across_tiles() {
        check(Gemm::new(3, 5, 7), false, 1);
        check(Gemm::new(70, 130, 33).alpha(0.5), false, 2);
    }

    #[test]
    fn linear_forward_with_bias_and_relu() {
        check(Gemm::new(67, 65, 40).trans_b().relu(), true, 3);
    }

    #[test]
    fn weight_gradient_accumulates_with_transposed_a() {
        check(Gemm::new(65, 20, 130).trans_a().accumulate(), false, 4);
    }

    #[test]
    fn both_transposed_batched_and_shared_b() {
        check(
            Gemm::new(9, 66, 17).trans_a().trans_b().batched(3),
            false,
            5,
        );
        check(
            Gemm::new(10, 16, 32).batched(4).shared_b().accumulate(),
            true,
            6,
        );
    }

    #[test]
    fn empty_shapes_record_nothing_and_k_zero_keeps_the_epilogue() {
        let Some(gpu) = shared_gpu() else { return };
        let a = buffer(gpu, &[]);
        let c = buffer(gpu, &[]);
        let mut batch = gpu.batch();
        gemm(
            &mut batch,
            &Gemm::new(0, 4, 0),
            &a,
            &buffer(gpu, &[]),
            None,
            &c,
        )
        .unwrap();
        assert!(batch.is_empty());
        check(Gemm::new(2, 3, 0).accumulate(), true, 7);
    }

    #[test]
    fn a_batch_beyond_the_grid_limit_is_an_error() {
        let Some(gpu) = shared_gpu() else { return };
        let count = gpu.limits().max_compute_workgroups_per_dimension as usize + 1;
        let ones = buffer(gpu, &vec![1.0; count]);
        let c = buffer(gpu, &vec![0.0; count]);
        let shape = Gemm::new(1, 1, 1).batched(count);
        let err = gemm(&mut gpu.batch(), &shape, &ones, &ones, None, &c).unwrap_err();
        assert!(
            err.to_string().contains("exceed this device's limit"),
            "{err}"
        );
    }

    #[test]
    fn wrong_length_panics_with_the_op_and_shape() {
        let Some(gpu) = shared_gpu() else { return };
        let (a, b, c) = (
            buffer(gpu, &[0.0; 6]),
            buffer(gpu, &[0.0; 5]),
            buffer(gpu, &[0.0; 4]),
        );
        let message = panic_message(|| {
            let mut batch = gpu.batch();
            let _ = gemm(&mut batch, &Gemm::new(2, 2, 3), &a, &b, None, &c);
        });
        assert!(
            message.contains("gemm: `b` has 5 elements, expected batch 1, k×n = 3×2 = 6"),
            "{message}"
        );
    }
}
