//! L2 normalisation of rows, `y = x / max(‖x‖₂, eps)` (PyTorch's `F.normalize`).
//!
//! Shapes: `x, y (N, C)`, cached `norm (N)` = max(‖x‖, eps).

use crate::profile;

/// Writes `out (N, C)` and caches each row's divisor `max(‖x‖, eps)` in `norm (N)`.
pub fn l2_normalize_forward(out: &mut [f32], norm: &mut [f32], x: &[f32], c: usize, eps: f32) {
    let _p = profile::scope("l2_normalize", 3 * x.len() as u64);
    for ((y, x), nr) in out
        .chunks_exact_mut(c)
        .zip(x.chunks_exact(c))
        .zip(norm.iter_mut())
    {
        let len = x.iter().map(|v| v * v).sum::<f32>().sqrt();
        *nr = len.max(eps);
        let inv = 1.0 / *nr;
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v * inv;
        }
    }
}

/// Accumulates `dx`. Where ‖x‖ > eps: `dx += (dy − y (y·dy)) / ‖x‖` (the projection of dy
/// onto the tangent space of the sphere, scaled); where the eps floor is active the map is
/// `x / eps`, linear, and `dx += dy / eps`.
pub fn l2_normalize_backward(
    dx: &mut [f32],
    dout: &[f32],
    y: &[f32],
    norm: &[f32],
    c: usize,
    eps: f32,
) {
    let _p = profile::scope("l2_normalize.bwd", 5 * y.len() as u64);
    let rows = dx
        .chunks_exact_mut(c)
        .zip(dout.chunks_exact(c))
        .zip(y.chunks_exact(c))
        .zip(norm);
    for (((dx, dy), y), &nr) in rows {
        let inv = 1.0 / nr;
        // On the floor (‖x‖ ≤ eps, so nr == eps) the output is x/eps: no projection.
        let dot = if nr > eps {
            dy.iter().zip(y).map(|(a, b)| a * b).sum::<f32>()
        } else {
            0.0
        };
        for ((g, &d), &v) in dx.iter_mut().zip(dy).zip(y) {
            *g += (d - v * dot) * inv;
        }
    }
}
