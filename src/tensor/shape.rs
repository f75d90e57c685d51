//! Data movement: permute (transpose), concat and slice along an axis.
//!
//! (Reshape moves no data: the tape just relabels the shape.)

use crate::profile;

/// Output shape of permuting `shape` by `perm`: `out[d] = shape[perm[d]]`. Panics unless
/// `perm` is a permutation of `0..shape.len()`.
pub fn permuted_shape(shape: &[usize], perm: &[usize]) -> Vec<usize> {
    let mut seen = vec![false; shape.len()];
    let ok = perm.len() == shape.len()
        && perm
            .iter()
            .all(|&p| p < shape.len() && !std::mem::replace(&mut seen[p], true));
    assert!(
        ok,
        "permute: {perm:?} is not a permutation of the axes of {shape:?}"
    );
    perm.iter().map(|&p| shape[p]).collect()
}

/// Calls `f(out_index, x_index)` for every element of `x` permuted by `perm`, in output order.
fn for_each_permuted(shape: &[usize], perm: &[usize], mut f: impl FnMut(usize, usize)) {
    let nd = shape.len();
    if nd == 0 {
        f(0, 0);
        return;
    }
    let out_shape = permuted_shape(shape, perm);
    let mut x_strides = vec![1; nd];
    for d in (0..nd.saturating_sub(1)).rev() {
        x_strides[d] = x_strides[d + 1] * shape[d + 1];
    }
    // Stride in x of a step along output dimension d.
    let steps: Vec<usize> = perm.iter().map(|&p| x_strides[p]).collect();
    let total: usize = out_shape.iter().product();
    let (len, inner_step) = (out_shape[nd - 1], steps[nd - 1]);
    if total == 0 {
        return;
    }
    let mut idx = vec![0usize; nd - 1];
    let mut base = 0;
    for run in 0..total / len {
        for j in 0..len {
            f(run * len + j, base + j * inner_step);
        }
        for d in (0..nd - 1).rev() {
            idx[d] += 1;
            base += steps[d];
            if idx[d] < out_shape[d] {
                break;
            }
            base -= steps[d] * out_shape[d];
            idx[d] = 0;
        }
    }
}

/// `out = x` with its axes reordered: `out[i_0, …] = x[…]` where axis `d` of `out` is axis
/// `perm[d]` of `x`.
pub fn permute_forward(out: &mut [f32], x: &[f32], shape: &[usize], perm: &[usize]) {
    let _p = profile::scope("permute", x.len() as u64);
    for_each_permuted(shape, perm, |o, i| out[o] = x[i]);
}

/// `dx += dout` permuted back.
pub fn permute_backward(dx: &mut [f32], dout: &[f32], shape: &[usize], perm: &[usize]) {
    let _p = profile::scope("permute.bwd", dx.len() as u64);
    for_each_permuted(shape, perm, |o, i| dx[i] += dout[o]);
}

/// Concatenation of `parts` along an axis. Each part is `(outer, n_i, inner)`; the output is
/// `(outer, Σ n_i, inner)`. `sizes[i] = n_i`.
pub fn concat_forward(
    out: &mut [f32],
    parts: &[&[f32]],
    sizes: &[usize],
    outer: usize,
    inner: usize,
) {
    let _p = profile::scope("concat", out.len() as u64);
    let total: usize = sizes.iter().sum();
    for o in 0..outer {
        let mut at = o * total * inner;
        for (part, &n) in parts.iter().zip(sizes) {
            out[at..at + n * inner].copy_from_slice(&part[o * n * inner..(o + 1) * n * inner]);
            at += n * inner;
        }
    }
}

/// `dparts[i] += the block of dout that came from part i`. `None` skips a part.
pub fn concat_backward(
    dparts: &mut [Option<&mut [f32]>],
    dout: &[f32],
    sizes: &[usize],
    outer: usize,
    inner: usize,
) {
    let _p = profile::scope("concat.bwd", dout.len() as u64);
    let total: usize = sizes.iter().sum();
    for o in 0..outer {
        let mut at = o * total * inner;
        for (dpart, &n) in dparts.iter_mut().zip(sizes) {
            if let Some(dp) = dpart.as_deref_mut() {
                let src = &dout[at..at + n * inner];
                for (g, &d) in dp[o * n * inner..(o + 1) * n * inner].iter_mut().zip(src) {
                    *g += d;
                }
            }
            at += n * inner;
        }
    }
}

/// `out (outer, len, inner) = x (outer, start..start + len, inner)` out of `x (outer, n, inner)`.
pub fn slice_forward(
    out: &mut [f32],
    x: &[f32],
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) {
    let _p = profile::scope("slice", out.len() as u64);
    for o in 0..outer {
        let src = &x[(o * n + start) * inner..(o * n + start + len) * inner];
        out[o * len * inner..(o + 1) * len * inner].copy_from_slice(src);
    }
}

/// `dx (outer, start..start + len, inner) += dout`.
pub fn slice_backward(
    dx: &mut [f32],
    dout: &[f32],
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) {
    let _p = profile::scope("slice.bwd", dout.len() as u64);
    for o in 0..outer {
        let dst = &mut dx[(o * n + start) * inner..(o * n + start + len) * inner];
        for (g, &d) in dst
            .iter_mut()
            .zip(&dout[o * len * inner..(o + 1) * len * inner])
        {
            *g += d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (2, 3) transposed: [[0,1,2],[3,4,5]] → [[0,3],[1,4],[2,5]].
    #[test]
    fn transpose_by_hand() {
        let mut out = [0.0; 6];
        permute_forward(&mut out, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[2, 3], &[1, 0]);
        assert_eq!(out, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }

    /// A 3-D permutation matches indexing by hand.
    #[test]
    fn permute_3d_matches_indexing() {
        let (a, b, c) = (2, 3, 4);
        let x: Vec<f32> = (0..a * b * c).map(|i| i as f32).collect();
        let mut out = vec![0.0; x.len()];
        // out (c, a, b) = x (a, b, c) with perm [2, 0, 1].
        permute_forward(&mut out, &x, &[a, b, c], &[2, 0, 1]);
        for k in 0..c {
            for i in 0..a {
                for j in 0..b {
                    assert_eq!(out[(k * a + i) * b + j], x[(i * b + j) * c + k]);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "permute: [0, 0] is not a permutation of the axes of [2, 3]")]
    fn bad_permutation_panics() {
        permuted_shape(&[2, 3], &[0, 0]);
    }
}
