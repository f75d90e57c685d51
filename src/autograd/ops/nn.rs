//! Network ops on the tape: matmul, linear, softmax, log-softmax, layer norm, L2
//! normalisation and fused multi-head attention.

use super::grad_slice as g;
use crate::autograd::{Tape, Var};
use crate::tensor::attention::{AttnDims, attention_backward, attention_forward};
use crate::tensor::layernorm::{layernorm_backward, layernorm_forward};
use crate::tensor::linear::{linear_backward, linear_forward};
use crate::tensor::matmul::{MatmulDims, matmul_backward, matmul_forward};
use crate::tensor::normalize::{l2_normalize_backward, l2_normalize_forward};
use crate::tensor::softmax::{
    log_softmax_backward, log_softmax_forward, softmax_backward, softmax_forward,
};
use crate::tensor::{Tensor, rows_cols};

impl Tape {
    /// Batched matrix product `op(a) · op(b)` over the last two axes, `op` transposing
    /// when the flag is set. `a (…, m, k)` (or `(…, k, m)` if `trans_a`), `b (…, k, n)`
    /// (or `(…, n, k)` if `trans_b`), leading axes equal; result `(…, m, n)`.
    pub fn matmul(&mut self, a: &Var, b: &Var, trans_a: bool, trans_b: bool) -> Var {
        let (sa, sb) = (a.shape(), b.shape());
        let bad = || {
            panic!(
                "matmul: shapes {sa:?} and {sb:?} (trans_a {trans_a}, trans_b {trans_b}) do not multiply"
            )
        };
        if sa.len() < 2 || sa.len() != sb.len() || sa[..sa.len() - 2] != sb[..sb.len() - 2] {
            bad();
        }
        let nd = sa.len();
        let (m, k) = if trans_a {
            (sa[nd - 1], sa[nd - 2])
        } else {
            (sa[nd - 2], sa[nd - 1])
        };
        let (kb, n) = if trans_b {
            (sb[nd - 1], sb[nd - 2])
        } else {
            (sb[nd - 2], sb[nd - 1])
        };
        if k != kb {
            bad();
        }
        let batch = sa[..nd - 2].iter().product();
        let d = MatmulDims {
            batch,
            m,
            k,
            n,
            trans_a,
            trans_b,
        };
        let mut shape = sa[..nd - 2].to_vec();
        shape.extend([m, n]);
        let mut out = Tensor::zeros(&shape);
        matmul_forward(out.data_mut(), a.data(), b.data(), d);
        self.record("matmul", &[a, b], out, |_| {
            let (a, b) = (a.clone(), b.clone());
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                let [ga, gb] = grads else {
                    unreachable!("two inputs")
                };
                matmul_backward(g(ga), g(gb), dout.data(), a.data(), b.data(), d);
            }
        })
    }

    /// `x · wᵀ + bias`: `x (…, I)`, `w (O, I)`, `bias (O)`, result `(…, O)`.
    pub fn linear(&mut self, x: &Var, w: &Var, bias: Option<&Var>) -> Var {
        let (n, i) = rows_cols(x.shape(), "linear");
        let ok = w.shape().len() == 2
            && w.shape()[1] == i
            && bias.is_none_or(|b| b.shape() == [w.shape()[0]]);
        assert!(
            ok,
            "linear: x {:?}, weight {:?}, bias {:?} do not fit",
            x.shape(),
            w.shape(),
            bias.map(|b| b.shape())
        );
        let o = w.shape()[0];
        let mut shape = x.shape().to_vec();
        *shape.last_mut().expect("rows_cols checked") = o;
        let mut out = Tensor::zeros(&shape);
        linear_forward(
            out.data_mut(),
            x.data(),
            w.data(),
            bias.map(|b| b.data()),
            n,
            i,
            o,
        );
        let inputs: Vec<&Var> = [x, w].into_iter().chain(bias).collect();
        self.record("linear", &inputs, out, |_| {
            let (x, w) = (x.clone(), w.clone());
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                let (gx, rest) = grads.split_first_mut().expect("inputs");
                let (gw, gb) = rest.split_first_mut().expect("inputs");
                let db = gb.first_mut().and_then(g);
                linear_backward(g(gx), g(gw), db, dout.data(), x.data(), w.data(), n, i, o);
            }
        })
    }

    /// Softmax over the last axis.
    pub fn softmax(&mut self, x: &Var) -> Var {
        let (_, c) = rows_cols(x.shape(), "softmax");
        let mut out = Tensor::zeros(x.shape());
        softmax_forward(out.data_mut(), x.data(), c);
        self.record("softmax", &[x], out, |y| {
            let y = y.clone();
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                if let Some(dx) = g(&mut grads[0]) {
                    softmax_backward(dx, dout.data(), y.data(), c);
                }
            }
        })
    }

    /// Log-softmax over the last axis.
    pub fn log_softmax(&mut self, x: &Var) -> Var {
        let (_, c) = rows_cols(x.shape(), "log_softmax");
        let mut out = Tensor::zeros(x.shape());
        log_softmax_forward(out.data_mut(), x.data(), c);
        self.record("log_softmax", &[x], out, |y| {
            let y = y.clone();
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                if let Some(dx) = g(&mut grads[0]) {
                    log_softmax_backward(dx, dout.data(), y.data(), c);
                }
            }
        })
    }

    /// Layer normalisation over the last axis: `x (…, C)`, `w (C)`, `b (C)`. Caches the
    /// per-row mean and 1/std for backward.
    pub fn layer_norm(&mut self, x: &Var, w: &Var, b: &Var, eps: f32) -> Var {
        let (n, c) = rows_cols(x.shape(), "layer_norm");
        assert!(
            w.shape() == [c] && b.shape() == [c],
            "layer_norm: x {:?}, weight {:?}, bias {:?}",
            x.shape(),
            w.shape(),
            b.shape()
        );
        let mut out = Tensor::zeros(x.shape());
        let (mut mean, mut rstd) = (vec![0.0; n], vec![0.0; n]);
        layernorm_forward(
            out.data_mut(),
            &mut mean,
            &mut rstd,
            x.data(),
            w.data(),
            b.data(),
            c,
            eps,
        );
        self.record("layer_norm", &[x, w, b], out, |_| {
            let (x, w) = (x.clone(), w.clone());
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                let [gx, gw, gb] = grads else {
                    unreachable!("three inputs")
                };
                layernorm_backward(
                    g(gx),
                    g(gw),
                    g(gb),
                    dout.data(),
                    x.data(),
                    w.data(),
                    &mean,
                    &rstd,
                    c,
                );
            }
        })
    }

    /// Rows of the last axis scaled to unit L2 norm: `x / max(‖x‖, eps)`.
    pub fn l2_normalize(&mut self, x: &Var, eps: f32) -> Var {
        let (n, c) = rows_cols(x.shape(), "l2_normalize");
        let mut out = Tensor::zeros(x.shape());
        let mut norm = vec![0.0; n];
        l2_normalize_forward(out.data_mut(), &mut norm, x.data(), c, eps);
        self.record("l2_normalize", &[x], out, |y| {
            let y = y.clone();
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                if let Some(dx) = g(&mut grads[0]) {
                    l2_normalize_backward(dx, dout.data(), y.data(), &norm, c, eps);
                }
            }
        })
    }

    /// Fused multi-head self-attention on packed `qkv (B, T, 3C)` (queries, keys, values
    /// along the last axis, each split into `heads` heads of C/heads); result `(B, T, C)`.
    /// Keeps the probabilities `(B, H, T, T)` for backward.
    pub fn attention(&mut self, qkv: &Var, heads: usize) -> Var {
        let s = qkv.shape();
        let ok = s.len() == 3 && heads > 0 && s[2].is_multiple_of(3 * heads);
        assert!(
            ok,
            "attention: qkv {s:?} is not (B, T, 3·C) with C divisible by {heads} heads"
        );
        let (b, t, c) = (s[0], s[1], s[2] / 3);
        let d = AttnDims {
            b,
            t,
            heads,
            head_dim: c / heads,
        };
        let mut out = Tensor::zeros(&[b, t, c]);
        let mut probs = vec![0.0; b * heads * t * t];
        attention_forward(out.data_mut(), &mut probs, qkv.data(), d);
        self.record("attention", &[qkv], out, |_| {
            let qkv = qkv.clone();
            move |dout: &Tensor, grads: &mut [Option<&mut Tensor>]| {
                if let Some(dqkv) = g(&mut grads[0]) {
                    attention_backward(dqkv, dout.data(), qkv.data(), &probs, d);
                }
            }
        })
    }

    /// Fused multi-head self-attention on separate `q, k, v`, each `(B, T, C)`: packs them
    /// along the last axis and calls [`Tape::attention`].
    pub fn attention_qkv(&mut self, q: &Var, k: &Var, v: &Var, heads: usize) -> Var {
        assert!(
            q.shape().len() == 3 && q.shape() == k.shape() && q.shape() == v.shape(),
            "attention_qkv: q {:?}, k {:?}, v {:?} must all be (B, T, C)",
            q.shape(),
            k.shape(),
            v.shape()
        );
        let qkv = self.concat(&[q, k, v], 2);
        self.attention(&qkv, heads)
    }
}
