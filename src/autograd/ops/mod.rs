//! The differentiable ops, as methods of [`super::Tape`]. Each computes its output with a
//! forward kernel from [`crate::tensor`] and records, in the same place, a closure that
//! calls the matching backward kernel on exactly what that kernel reads.

mod math;
mod nn;
mod shape;

use crate::tensor::Tensor;

/// The gradient buffer of one input as a slice, or `None` if that input needs no gradient.
fn grad_slice<'a>(g: &'a mut Option<&mut Tensor>) -> Option<&'a mut [f32]> {
    g.as_deref_mut().map(Tensor::data_mut)
}
