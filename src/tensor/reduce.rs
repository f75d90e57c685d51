//! Sum and mean over one axis.
//!
//! A shape `(d0, …, d_axis, …)` is viewed as `(outer, n, inner)` with `n = d_axis`,
//! `outer` the product of the dims before it and `inner` of those after; the result is
//! `(outer, inner)`.

use crate::profile;

/// `(outer, n, inner)` for reducing `shape` over `axis`. Panics if the axis is out of range.
pub fn axis_split(op: &str, shape: &[usize], axis: usize) -> (usize, usize, usize) {
    assert!(
        axis < shape.len(),
        "{op}: axis {axis} out of range for shape {shape:?}"
    );
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// `out (outer, inner) = scale · Σ_j x (outer, j, inner)`. `scale` is 1 for a sum, 1/n for a mean.
pub fn sum_axis_forward(
    out: &mut [f32],
    x: &[f32],
    outer: usize,
    n: usize,
    inner: usize,
    scale: f32,
) {
    let _p = profile::scope(if scale == 1.0 { "sum" } else { "mean" }, x.len() as u64);
    for o in 0..outer {
        let acc = &mut out[o * inner..(o + 1) * inner];
        acc.fill(0.0);
        for j in 0..n {
            let row = &x[(o * n + j) * inner..(o * n + j + 1) * inner];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
        if scale != 1.0 {
            for a in acc.iter_mut() {
                *a *= scale;
            }
        }
    }
}

/// `dx (outer, j, inner) += scale · dout (outer, inner)` for every j.
pub fn sum_axis_backward(
    dx: &mut [f32],
    dout: &[f32],
    outer: usize,
    n: usize,
    inner: usize,
    scale: f32,
) {
    let _p = profile::scope(
        if scale == 1.0 { "sum.bwd" } else { "mean.bwd" },
        dx.len() as u64,
    );
    for o in 0..outer {
        let d = &dout[o * inner..(o + 1) * inner];
        for j in 0..n {
            let row = &mut dx[(o * n + j) * inner..(o * n + j + 1) * inner];
            for (g, &v) in row.iter_mut().zip(d) {
                *g += scale * v;
            }
        }
    }
}
