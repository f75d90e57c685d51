//! Arithmetic on the tape: broadcasting `+ − × ÷`, scaling, unary functions, sums and
//! means. Each op computes its output and, in the same place, the backward closure that
//! captures what the backward kernel reads.

use super::grad_slice as g;
use crate::autograd::{Tape, Var};
use crate::tensor::Tensor;
use crate::tensor::broadcast::{Binary, binary_backward, binary_forward, broadcast_shape};
use crate::tensor::elementwise::{
    Unary, scale_backward, scale_forward, unary_backward, unary_forward,
};
use crate::tensor::reduce::{axis_split, sum_axis_backward, sum_axis_forward};

impl Tape {
    /// `a + b`, broadcasting.
    pub fn add(&mut self, a: &Var, b: &Var) -> Var {
        self.binary(Binary::Add, a, b)
    }

    /// `a − b`, broadcasting.
    pub fn sub(&mut self, a: &Var, b: &Var) -> Var {
        self.binary(Binary::Sub, a, b)
    }

    /// `a ⊙ b`, broadcasting.
    pub fn mul(&mut self, a: &Var, b: &Var) -> Var {
        self.binary(Binary::Mul, a, b)
    }

    /// `a / b`, broadcasting.
    pub fn div(&mut self, a: &Var, b: &Var) -> Var {
        self.binary(Binary::Div, a, b)
    }

    fn binary(&mut self, f: Binary, a: &Var, b: &Var) -> Var {
        let mut out = Tensor::zeros(&broadcast_shape(f.name(), a.shape(), b.shape()));
        binary_forward(f, out.data_mut(), a.data(), a.shape(), b.data(), b.shape());
        self.record(f.name(), &[a, b], out, |_| {
            // + and − need only the shapes; × and ÷ keep both operands.
            let values = f.backward_needs_values().then(|| (a.clone(), b.clone()));
            let (a_shape, b_shape) = (a.shape().to_vec(), b.shape().to_vec());
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                let [ga, gb] = grads else {
                    unreachable!("two inputs")
                };
                let (av, bv) = values
                    .as_ref()
                    .map_or((&[][..], &[][..]), |(a, b)| (a.data(), b.data()));
                binary_backward(f, g(ga), g(gb), dout.data(), av, &a_shape, bv, &b_shape);
            }
        })
    }

    /// `s · x`.
    pub fn scale(&mut self, x: &Var, s: f32) -> Var {
        let mut out = Tensor::zeros(x.shape());
        scale_forward(out.data_mut(), x.data(), s);
        self.record("scale", &[x], out, |_| {
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                if let Some(dx) = g(&mut grads[0]) {
                    scale_backward(dx, dout.data(), s);
                }
            }
        })
    }

    /// max(x, 0).
    pub fn relu(&mut self, x: &Var) -> Var {
        self.unary(Unary::Relu, x)
    }

    /// eˣ.
    pub fn exp(&mut self, x: &Var) -> Var {
        self.unary(Unary::Exp, x)
    }

    /// ln x.
    pub fn log(&mut self, x: &Var) -> Var {
        self.unary(Unary::Log, x)
    }

    /// σ(x) = 1 / (1 + e⁻ˣ).
    pub fn sigmoid(&mut self, x: &Var) -> Var {
        self.unary(Unary::Sigmoid, x)
    }

    /// ln σ(x), computed stably.
    pub fn log_sigmoid(&mut self, x: &Var) -> Var {
        self.unary(Unary::LogSigmoid, x)
    }

    /// tanh x.
    pub fn tanh(&mut self, x: &Var) -> Var {
        self.unary(Unary::Tanh, x)
    }

    fn unary(&mut self, f: Unary, x: &Var) -> Var {
        let mut out = Tensor::zeros(x.shape());
        unary_forward(f, out.data_mut(), x.data());
        self.record(f.name(), &[x], out, |y| {
            // Keep only the one the derivative reads: x for log and log-sigmoid, else y.
            let saved = if f.backward_needs_input() {
                x.clone()
            } else {
                y.clone()
            };
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                if let Some(dx) = g(&mut grads[0]) {
                    unary_backward(f, dx, dout.data(), saved.data());
                }
            }
        })
    }

    /// Sum over `axis`; the axis is removed, or kept with size 1 if `keepdim`.
    pub fn sum(&mut self, x: &Var, axis: usize, keepdim: bool) -> Var {
        self.reduce(x, axis, keepdim, false)
    }

    /// Mean over `axis`; the axis is removed, or kept with size 1 if `keepdim`.
    pub fn mean(&mut self, x: &Var, axis: usize, keepdim: bool) -> Var {
        self.reduce(x, axis, keepdim, true)
    }

    /// Sum of all elements, a scalar (shape `[]`).
    pub fn sum_all(&mut self, x: &Var) -> Var {
        let flat = self.reshape(x, &[x.value().numel()]);
        self.sum(&flat, 0, false)
    }

    /// Mean of all elements, a scalar (shape `[]`).
    pub fn mean_all(&mut self, x: &Var) -> Var {
        let flat = self.reshape(x, &[x.value().numel()]);
        self.mean(&flat, 0, false)
    }

    fn reduce(&mut self, x: &Var, axis: usize, keepdim: bool, mean: bool) -> Var {
        let op = if mean { "mean" } else { "sum" };
        let (outer, n, inner) = axis_split(op, x.shape(), axis);
        let scale = if mean { 1.0 / n as f32 } else { 1.0 };
        let mut shape = x.shape().to_vec();
        if keepdim {
            shape[axis] = 1;
        } else {
            shape.remove(axis);
        }
        let mut out = Tensor::zeros(&shape);
        sum_axis_forward(out.data_mut(), x.data(), outer, n, inner, scale);
        self.record(op, &[x], out, |_| {
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                if let Some(dx) = g(&mut grads[0]) {
                    sum_axis_backward(dx, dout.data(), outer, n, inner, scale);
                }
            }
        })
    }
}
