//! Shape ops on the tape: reshape, permute/transpose, concat, slice.

use super::grad_slice as g;
use crate::autograd::{Tape, Var};
use crate::tensor::reduce::axis_split;
use crate::tensor::shape::{
    concat_backward, concat_forward, permute_backward, permute_forward, permuted_shape,
    slice_backward, slice_forward,
};
use crate::tensor::{Tensor, numel};

impl Tape {
    /// The same elements under `shape` (same count). Copies the values once; backward
    /// passes the gradient straight through.
    pub fn reshape(&mut self, x: &Var, shape: &[usize]) -> Var {
        assert_eq!(
            numel(shape),
            x.value().numel(),
            "reshape: {:?} -> {shape:?} changes the element count",
            x.shape()
        );
        let _p = crate::profile::scope("reshape", 0);
        let out = Tensor::new(shape, x.data().to_vec());
        self.record("reshape", &[x], out, |_| {
            |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                let _p = crate::profile::scope("reshape.bwd", 0);
                if let Some(dx) = g(&mut grads[0]) {
                    for (a, b) in dx.iter_mut().zip(dout.data()) {
                        *a += b;
                    }
                }
            }
        })
    }

    /// Axes reordered: axis `d` of the output is axis `perm[d]` of `x`.
    pub fn permute(&mut self, x: &Var, perm: &[usize]) -> Var {
        let mut out = Tensor::zeros(&permuted_shape(x.shape(), perm));
        permute_forward(out.data_mut(), x.data(), x.shape(), perm);
        self.record("permute", &[x], out, |_| {
            let (shape, perm) = (x.shape().to_vec(), perm.to_vec());
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                if let Some(dx) = g(&mut grads[0]) {
                    permute_backward(dx, dout.data(), &shape, &perm);
                }
            }
        })
    }

    /// Axes `a` and `b` swapped.
    pub fn transpose(&mut self, x: &Var, a: usize, b: usize) -> Var {
        let mut perm: Vec<usize> = (0..x.shape().len()).collect();
        assert!(
            a < perm.len() && b < perm.len(),
            "transpose: axes {a}, {b} out of range for shape {:?}",
            x.shape()
        );
        perm.swap(a, b);
        self.permute(x, &perm)
    }

    /// Concatenation along `axis`; all other dimensions must agree.
    pub fn concat(&mut self, parts: &[&Var], axis: usize) -> Var {
        let first = parts.first().expect("concat: no inputs").shape();
        let (outer, _, inner) = axis_split("concat", first, axis);
        for p in parts {
            let ok = p.shape().len() == first.len()
                && p.shape()
                    .iter()
                    .zip(first)
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b);
            assert!(
                ok,
                "concat: shapes {first:?} and {:?} differ outside axis {axis}",
                p.shape()
            );
        }
        let sizes: Vec<usize> = parts.iter().map(|p| p.shape()[axis]).collect();
        let mut shape = first.to_vec();
        shape[axis] = sizes.iter().sum();
        let mut out = Tensor::zeros(&shape);
        let datas: Vec<&[f32]> = parts.iter().map(|p| p.data()).collect();
        concat_forward(out.data_mut(), &datas, &sizes, outer, inner);
        self.record("concat", parts, out, |_| {
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                let mut dparts: Vec<Option<&mut [f32]>> = grads.iter_mut().map(g).collect();
                concat_backward(&mut dparts, dout.data(), &sizes, outer, inner);
            }
        })
    }

    /// Elements `start..end` along `axis`.
    pub fn slice(&mut self, x: &Var, axis: usize, start: usize, end: usize) -> Var {
        let (outer, n, inner) = axis_split("slice", x.shape(), axis);
        assert!(
            start <= end && end <= n,
            "slice: {start}..{end} out of range for axis {axis} of shape {:?}",
            x.shape()
        );
        let len = end - start;
        let mut shape = x.shape().to_vec();
        shape[axis] = len;
        let mut out = Tensor::zeros(&shape);
        slice_forward(out.data_mut(), x.data(), outer, n, inner, start, len);
        self.record("slice", &[x], out, |_| {
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                if let Some(dx) = g(&mut grads[0]) {
                    slice_backward(dx, dout.data(), outer, n, inner, start, len);
                }
            }
        })
    }
}
