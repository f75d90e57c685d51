//! Elementwise unary functions, each a forward/backward pair over flat slices.
//!
//! Each backward reads whichever of input `x` or output `y` gives the cheaper, more
//! accurate derivative (written beside it), and accumulates `dx += dy · f'(x)`.

use crate::profile;

/// A unary elementwise function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    /// max(x, 0); derivative 1 where y > 0 (0 at the kink).
    Relu,
    /// eˣ; derivative y.
    Exp,
    /// ln x (x > 0); derivative 1/x.
    Log,
    /// σ(x) = 1/(1 + e⁻ˣ); derivative y(1 − y).
    Sigmoid,
    /// ln σ(x) = −softplus(−x), stable for large |x|; derivative σ(−x).
    LogSigmoid,
    /// tanh x; derivative 1 − y².
    Tanh,
}

impl Unary {
    /// The op name used on the tape and in the profile.
    pub fn name(self) -> &'static str {
        match self {
            Unary::Relu => "relu",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Sigmoid => "sigmoid",
            Unary::LogSigmoid => "log_sigmoid",
            Unary::Tanh => "tanh",
        }
    }

    fn bwd_name(self) -> &'static str {
        match self {
            Unary::Relu => "relu.bwd",
            Unary::Exp => "exp.bwd",
            Unary::Log => "log.bwd",
            Unary::Sigmoid => "sigmoid.bwd",
            Unary::LogSigmoid => "log_sigmoid.bwd",
            Unary::Tanh => "tanh.bwd",
        }
    }

    /// Whether backward reads the input (`x`) rather than the output (`y`).
    pub fn backward_needs_input(self) -> bool {
        matches!(self, Unary::Log | Unary::LogSigmoid)
    }
}

/// ln σ(x) without overflow: min(x, 0) − ln(1 + e^(−|x|)).
fn log_sigmoid(x: f32) -> f32 {
    x.min(0.0) - (-x.abs()).exp().ln_1p()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `out[i] = g(x[i])`; generic so that `g` inlines into the loop.
#[inline(always)]
fn map(out: &mut [f32], x: &[f32], g: impl Fn(f32) -> f32) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = g(v);
    }
}

/// `dx[i] += dout[i] · deriv(saved[i])`; generic so that `deriv` inlines into the loop.
#[inline(always)]
fn accumulate(dx: &mut [f32], dout: &[f32], saved: &[f32], deriv: impl Fn(f32) -> f32) {
    for ((g, &d), &s) in dx.iter_mut().zip(dout).zip(saved) {
        *g += d * deriv(s);
    }
}

/// `out = f(x)`, elementwise.
pub fn unary_forward(f: Unary, out: &mut [f32], x: &[f32]) {
    let _p = profile::scope(f.name(), x.len() as u64);
    match f {
        Unary::Relu => map(out, x, |v| v.max(0.0)),
        Unary::Exp => map(out, x, f32::exp),
        Unary::Log => map(out, x, f32::ln),
        Unary::Sigmoid => map(out, x, sigmoid),
        Unary::LogSigmoid => map(out, x, log_sigmoid),
        Unary::Tanh => map(out, x, f32::tanh),
    }
}

/// `dx += dout · f'(x)`; `saved` is `x` if [`Unary::backward_needs_input`], else `y`.
pub fn unary_backward(f: Unary, dx: &mut [f32], dout: &[f32], saved: &[f32]) {
    let _p = profile::scope(f.bwd_name(), 2 * dx.len() as u64);
    match f {
        Unary::Relu => accumulate(dx, dout, saved, |y| if y > 0.0 { 1.0 } else { 0.0 }),
        Unary::Exp => accumulate(dx, dout, saved, |y| y),
        Unary::Log => accumulate(dx, dout, saved, |x| 1.0 / x),
        Unary::Sigmoid => accumulate(dx, dout, saved, |y| y * (1.0 - y)),
        Unary::LogSigmoid => accumulate(dx, dout, saved, |x| sigmoid(-x)),
        Unary::Tanh => accumulate(dx, dout, saved, |y| 1.0 - y * y),
    }
}

/// `out = s · x`.
pub fn scale_forward(out: &mut [f32], x: &[f32], s: f32) {
    let _p = profile::scope("scale", x.len() as u64);
    for (o, &v) in out.iter_mut().zip(x) {
        *o = s * v;
    }
}

/// `dx += s · dout`.
pub fn scale_backward(dx: &mut [f32], dout: &[f32], s: f32) {
    let _p = profile::scope("scale.bwd", 2 * dx.len() as u64);
    for (g, &d) in dx.iter_mut().zip(dout) {
        *g += s * d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_sigmoid_is_stable_and_exact() {
        let mut out = [0.0; 4];
        unary_forward(Unary::LogSigmoid, &mut out, &[-200.0, -1.0, 0.0, 200.0]);
        // ln σ(−200) = −200 − ln(1 + e⁻²⁰⁰) ≈ −200; ln σ(0) = −ln 2; ln σ(200) ≈ −e⁻²⁰⁰ ≈ 0.
        assert_eq!(out[0], -200.0);
        assert!((out[1] - (-1.3132616)).abs() < 1e-6);
        assert!((out[2] + std::f32::consts::LN_2).abs() < 1e-7);
        assert_eq!(out[3], 0.0);
    }
}
