//! Elementwise binary ops (`+ − × ÷`) with NumPy broadcasting.
//!
//! Shapes are aligned on the right; a dimension of size 1 (or a missing leading one)
//! stretches to the other operand's size. So `(3, 1, 7) + (5, 7) → (3, 5, 7)`, and a bias
//! `(C)` adds to every row of `(N, C)`. Backward sums the gradient over the stretched
//! dimensions. Equal shapes take a flat fast path; the general strided path is its twin.

use crate::profile;

/// An elementwise binary op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

impl Binary {
    pub fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
        }
    }

    fn bwd_name(self) -> &'static str {
        match self {
            Binary::Add => "add.bwd",
            Binary::Sub => "sub.bwd",
            Binary::Mul => "mul.bwd",
            Binary::Div => "div.bwd",
        }
    }

    /// Whether backward reads the operands' values (× and ÷); `+` and `−` need only shapes.
    pub fn backward_needs_values(self) -> bool {
        matches!(self, Binary::Mul | Binary::Div)
    }

    /// `a ∘ b`, for the strided path (the fast path spells each op out).
    #[inline(always)]
    fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
        }
    }

    /// The contributions `(d·∂f/∂a, d·∂f/∂b)` of an output gradient `d` at `(a, b)`.
    /// The fast path in [`binary_backward`] spells out the same expressions.
    #[inline(always)]
    fn grads(self, d: f32, a: f32, b: f32) -> (f32, f32) {
        match self {
            Binary::Add => (d, d),
            Binary::Sub => (d, -d),
            Binary::Mul => (d * b, d * a),
            Binary::Div => (d / b, -d * a / (b * b)),
        }
    }
}

/// The broadcast shape of `a` and `b`. Panics, naming `op` and both shapes, if they do
/// not broadcast.
pub fn broadcast_shape(op: &str, a: &[usize], b: &[usize]) -> Vec<usize> {
    let nd = a.len().max(b.len());
    (0..nd)
        .map(|d| {
            let da = dim_from_right(a, nd - 1 - d);
            let db = dim_from_right(b, nd - 1 - d);
            match (da, db) {
                _ if da == db => da,
                (1, _) => db,
                (_, 1) => da,
                _ => panic!("{op}: shapes {a:?} and {b:?} do not broadcast"),
            }
        })
        .collect()
}

fn dim_from_right(shape: &[usize], from_right: usize) -> usize {
    if from_right < shape.len() {
        shape[shape.len() - 1 - from_right]
    } else {
        1
    }
}

/// Strides of `shape` read as `out_shape`: 0 on stretched dimensions.
fn broadcast_strides(shape: &[usize], out_shape: &[usize]) -> Vec<usize> {
    let nd = out_shape.len();
    let mut strides = vec![0; nd];
    let mut stride = 1;
    for d in (0..nd).rev() {
        let dim = dim_from_right(shape, nd - 1 - d);
        strides[d] = if dim == 1 { 0 } else { stride };
        stride *= dim;
    }
    strides
}

/// Calls `f(out_offset, a_offset, b_offset, a_step, b_step, len)` for every run along the
/// last output dimension.
fn for_each_run(
    out_shape: &[usize],
    a_shape: &[usize],
    b_shape: &[usize],
    mut f: impl FnMut(usize, usize, usize, usize, usize, usize),
) {
    // Treat a scalar as shape [1] so that there is always a last dimension.
    let out_shape: &[usize] = if out_shape.is_empty() {
        &[1]
    } else {
        out_shape
    };
    let (sa, sb) = (
        broadcast_strides(a_shape, out_shape),
        broadcast_strides(b_shape, out_shape),
    );
    let nd = out_shape.len();
    let len = out_shape[nd - 1];
    let runs: usize = out_shape[..nd - 1].iter().product();
    let mut idx = vec![0usize; nd - 1];
    let (mut ao, mut bo) = (0, 0);
    for run in 0..runs {
        if len > 0 {
            f(run * len, ao, bo, sa[nd - 1], sb[nd - 1], len);
        }
        // Odometer step over the leading dimensions, keeping the offsets in step.
        for d in (0..nd - 1).rev() {
            idx[d] += 1;
            ao += sa[d];
            bo += sb[d];
            if idx[d] < out_shape[d] {
                break;
            }
            ao -= sa[d] * out_shape[d];
            bo -= sb[d] * out_shape[d];
            idx[d] = 0;
        }
    }
}

/// `out (out_shape) = a ∘ b` with broadcasting; `out_shape` from [`broadcast_shape`].
pub fn binary_forward(
    f: Binary,
    out: &mut [f32],
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
) {
    let _p = profile::scope(f.name(), out.len() as u64);
    if a_shape == b_shape {
        // Dispatch once, outside the loop, so that each loop is a plain vectorisable zip.
        match f {
            Binary::Add => zip_into(out, a, b, |x, y| x + y),
            Binary::Sub => zip_into(out, a, b, |x, y| x - y),
            Binary::Mul => zip_into(out, a, b, |x, y| x * y),
            Binary::Div => zip_into(out, a, b, |x, y| x / y),
        }
    } else {
        binary_forward_strided(f, out, a, a_shape, b, b_shape);
    }
}

/// `out[i] = g(a[i], b[i])`.
#[inline(always)]
fn zip_into(out: &mut [f32], a: &[f32], b: &[f32], g: impl Fn(f32, f32) -> f32) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = g(x, y);
    }
}

/// `dst[i] += g(dout[i], i)`.
#[inline(always)]
fn accumulate(dst: &mut [f32], dout: &[f32], g: impl Fn(f32, usize) -> f32) {
    for (i, (t, &d)) in dst.iter_mut().zip(dout).enumerate() {
        *t += g(d, i);
    }
}

/// The general path of [`binary_forward`] (the twin of its equal-shape fast path).
pub fn binary_forward_strided(
    f: Binary,
    out: &mut [f32],
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
) {
    let out_shape = broadcast_shape(f.name(), a_shape, b_shape);
    for_each_run(&out_shape, a_shape, b_shape, |o, ao, bo, sa, sb, len| {
        for j in 0..len {
            out[o + j] = f.apply(a[ao + j * sa], b[bo + j * sb]);
        }
    });
}

/// Accumulates `da += Σ dout·∂f/∂a` and `db += Σ dout·∂f/∂b`, the sums running over the
/// dimensions each operand was stretched along. `None` skips a gradient. For `+` and `−`
/// the values `a` and `b` are not read and may be empty slices.
#[allow(clippy::too_many_arguments)]
pub fn binary_backward(
    f: Binary,
    da: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
    dout: &[f32],
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
) {
    let _p = profile::scope(f.bwd_name(), 3 * dout.len() as u64);
    if a_shape == b_shape {
        if let Some(da) = da {
            match f {
                Binary::Add | Binary::Sub => accumulate(da, dout, |d, _| d),
                Binary::Mul => accumulate(da, dout, |d, i| d * b[i]),
                Binary::Div => accumulate(da, dout, |d, i| d / b[i]),
            }
        }
        if let Some(db) = db {
            match f {
                Binary::Add => accumulate(db, dout, |d, _| d),
                Binary::Sub => accumulate(db, dout, |d, _| -d),
                Binary::Mul => accumulate(db, dout, |d, i| d * a[i]),
                Binary::Div => accumulate(db, dout, |d, i| -d * a[i] / (b[i] * b[i])),
            }
        }
    } else {
        binary_backward_strided(f, da, db, dout, a, a_shape, b, b_shape);
    }
}

/// The general path of [`binary_backward`].
#[allow(clippy::too_many_arguments)]
pub fn binary_backward_strided(
    f: Binary,
    mut da: Option<&mut [f32]>,
    mut db: Option<&mut [f32]>,
    dout: &[f32],
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
) {
    let out_shape = broadcast_shape(f.name(), a_shape, b_shape);
    let values = f.backward_needs_values();
    for_each_run(&out_shape, a_shape, b_shape, |o, ao, bo, sa, sb, len| {
        for j in 0..len {
            let (ia, ib) = (ao + j * sa, bo + j * sb);
            let (x, y) = if values { (a[ia], b[ib]) } else { (0.0, 1.0) };
            let (ga, gb) = f.grads(dout[o + j], x, y);
            if let Some(da) = da.as_deref_mut() {
                da[ia] += ga;
            }
            if let Some(db) = db.as_deref_mut() {
                db[ib] += gb;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Tensor, numel};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn broadcast_shapes() {
        assert_eq!(broadcast_shape("t", &[3, 1, 7], &[5, 7]), vec![3, 5, 7]);
        assert_eq!(broadcast_shape("t", &[], &[2, 3]), vec![2, 3]);
        assert_eq!(broadcast_shape("t", &[4, 1], &[1, 6]), vec![4, 6]);
    }

    #[test]
    #[should_panic(expected = "add: shapes [3, 4] and [5] do not broadcast")]
    fn mismatch_panics_with_both_shapes() {
        broadcast_shape("add", &[3, 4], &[5]);
    }

    /// Row + bias by hand: [[1,2],[3,4]] + [10,20] = [[11,22],[13,24]]; the bias gradient
    /// is the column sum of dout.
    #[test]
    fn bias_add_by_hand() {
        let mut out = [0.0; 4];
        binary_forward(
            Binary::Add,
            &mut out,
            &[1.0, 2.0, 3.0, 4.0],
            &[2, 2],
            &[10.0, 20.0],
            &[2],
        );
        assert_eq!(out, [11.0, 22.0, 13.0, 24.0]);
        let mut db = [0.0; 2];
        binary_backward(
            Binary::Add,
            None,
            Some(&mut db),
            &[1.0, 2.0, 3.0, 4.0],
            &[0.0; 4],
            &[2, 2],
            &[0.0; 2],
            &[2],
        );
        assert_eq!(db, [4.0, 6.0]);
    }

    /// The equal-shape fast path and the strided general path agree, forward and backward.
    #[test]
    fn fast_path_matches_strided_path() {
        let mut rng = StdRng::seed_from_u64(3);
        let shape = [3, 5, 7];
        let a = Tensor::randn(&shape, 1.0, &mut rng);
        let b = Tensor::uniform(&shape, 0.5, 2.0, &mut rng);
        let dout = Tensor::randn(&shape, 1.0, &mut rng);
        for f in [Binary::Add, Binary::Sub, Binary::Mul, Binary::Div] {
            let n = numel(&shape);
            let (mut fast, mut slow) = (vec![0.0; n], vec![0.0; n]);
            binary_forward(f, &mut fast, a.data(), &shape, b.data(), &shape);
            binary_forward_strided(f, &mut slow, a.data(), &shape, b.data(), &shape);
            assert_eq!(fast, slow, "{f:?} forward");
            let (mut fa, mut fb, mut sa, mut sb) =
                (vec![0.5; n], vec![0.5; n], vec![0.5; n], vec![0.5; n]);
            binary_backward(
                f,
                Some(&mut fa),
                Some(&mut fb),
                dout.data(),
                a.data(),
                &shape,
                b.data(),
                &shape,
            );
            binary_backward_strided(
                f,
                Some(&mut sa),
                Some(&mut sb),
                dout.data(),
                a.data(),
                &shape,
                b.data(),
                &shape,
            );
            assert_eq!(fa, sa, "{f:?} da");
            assert_eq!(fb, sb, "{f:?} db");
        }
    }
}
