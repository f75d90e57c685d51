//! The fused attention against the same attention composed from primitive ops
//! (slice, reshape, permute, matmul, scale, softmax): outputs and gradients.

use super::{randn, rng};
use crate::autograd::{Tape, Var};
use crate::tensor::Tensor;

/// Attention from primitives on packed `qkv (B, T, 3C)`:
/// `q, k, v → (B, H, T, Dh)`, `P = softmax(q kᵀ / √Dh)`, `O = P v → (B, T, C)`.
fn composed(t: &mut Tape, qkv: &Var, heads: usize) -> Var {
    let (b, tt, c) = (qkv.shape()[0], qkv.shape()[1], qkv.shape()[2] / 3);
    let dh = c / heads;
    let mut split = |i: usize| {
        let part = t.slice(qkv, 2, i * c, (i + 1) * c); // (B, T, C)
        let part = t.reshape(&part, &[b, tt, heads, dh]);
        t.permute(&part, &[0, 2, 1, 3]) // (B, H, T, Dh)
    };
    let (q, k, v) = (split(0), split(1), split(2));
    let s = t.matmul(&q, &k, false, true); // (B, H, T, T)
    let s = t.scale(&s, 1.0 / (dh as f32).sqrt());
    let p = t.softmax(&s);
    let o = t.matmul(&p, &v, false, false); // (B, H, T, Dh)
    let o = t.permute(&o, &[0, 2, 1, 3]); // (B, T, H, Dh)
    t.reshape(&o, &[b, tt, c])
}

/// Runs one attention, seeds backward with `seed`; returns (output, d qkv).
fn run(qkv: &Tensor, heads: usize, seed: &Tensor, fused: bool) -> (Tensor, Tensor) {
    let mut t = Tape::new();
    let x = t.leaf(qkv.clone());
    let y = if fused {
        t.attention(&x, heads)
    } else {
        composed(&mut t, &x, heads)
    };
    t.backward_from(&y, seed.clone());
    (y.value().clone(), t.grad(&x).unwrap().clone())
}

#[test]
fn fused_attention_matches_composition() {
    let mut r = rng(21);
    // (B, T, H, Dh): small odd sizes; the encoder's (T 10, H 8, Dh 16); and a batch of 64
    // sequences, enough work to take the two-thread path.
    for (b, tt, h, dh) in [(2, 5, 3, 4), (1, 1, 2, 3), (3, 10, 8, 16), (64, 10, 8, 16)] {
        let c = h * dh;
        let qkv = Tensor::randn(&[b, tt, 3 * c], 1.5, &mut r);
        let seed = randn(&[b, tt, c], &mut r);
        let (yf, gf) = run(&qkv, h, &seed, true);
        let (yc, gc) = run(&qkv, h, &seed, false);
        let (ey, eg) = (yf.max_abs_diff(&yc), gf.max_abs_diff(&gc));
        assert!(
            ey < 1e-5 && eg < 1e-4,
            "B{b} T{tt} H{h} Dh{dh}: output err {ey}, grad err {eg}"
        );
    }
}

#[test]
fn no_grad_attention_equals_recorded() {
    let qkv = Tensor::randn(&[2, 4, 3 * 6], 1.0, &mut rng(22));
    let mut t = Tape::no_grad();
    let x = t.input(qkv.clone());
    let y = t.attention(&x, 2);
    assert_eq!(t.num_entries(), 0);
    let (yf, _) = run(&qkv, 2, &Tensor::zeros(&[2, 4, 6]), true);
    assert_eq!(y.value(), &yf);
}
