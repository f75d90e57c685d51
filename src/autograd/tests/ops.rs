//! Finite-difference gradient checks of every op, at odd shapes and with broadcasting.

use super::{away_from_zero, positive, randn, rng};
use crate::autograd::gradcheck::{GradCheck, check};
use crate::autograd::{Tape, Var};
use crate::tensor::Tensor;

/// Runs the default check and asserts it passes.
fn ok(what: &str, inputs: &[Tensor], f: impl Fn(&mut Tape, &[Var]) -> Var) {
    check(inputs, f, &GradCheck::default()).assert_ok(what, 0.0);
}

#[test]
fn binary_ops_with_broadcasting() {
    let mut r = rng(1);
    let pairs: [(&[usize], &[usize]); 6] = [
        (&[3, 7], &[3, 7]),
        (&[3, 1, 7], &[5, 7]),
        (&[1], &[3, 7]),
        (&[7, 1], &[1, 17]),
        (&[], &[3]),
        (&[17], &[3, 1]),
    ];
    for (sa, sb) in pairs {
        let (a, b) = (randn(sa, &mut r), randn(sb, &mut r));
        ok(
            &format!("add {sa:?} {sb:?}"),
            &[a.clone(), b.clone()],
            |t, v| t.add(&v[0], &v[1]),
        );
        ok(
            &format!("sub {sa:?} {sb:?}"),
            &[a.clone(), b.clone()],
            |t, v| t.sub(&v[0], &v[1]),
        );
        ok(
            &format!("mul {sa:?} {sb:?}"),
            &[a.clone(), b.clone()],
            |t, v| t.mul(&v[0], &v[1]),
        );
        ok(
            &format!("div {sa:?} {sb:?}"),
            &[a, positive(sb, &mut r)],
            |t, v| t.div(&v[0], &v[1]),
        );
    }
}

#[test]
fn same_input_twice() {
    // x ⊙ x: both operand slots are the same var; the gradient 2x must be summed correctly.
    let x = randn(&[3, 7], &mut rng(2));
    ok("mul(x, x)", std::slice::from_ref(&x), |t, v| {
        t.mul(&v[0], &v[0])
    });
    ok("sub(x, x) + x", &[x], |t, v| {
        let d = t.sub(&v[0], &v[0]);
        t.add(&d, &v[0])
    });
}

#[test]
fn unary_ops() {
    let mut r = rng(3);
    for shape in [&[1][..], &[3, 7], &[2, 1, 17]] {
        ok("scale", &[randn(shape, &mut r)], |t, v| {
            t.scale(&v[0], -1.7)
        });
        ok("relu", &[away_from_zero(shape, &mut r)], |t, v| {
            t.relu(&v[0])
        });
        ok("exp", &[randn(shape, &mut r)], |t, v| t.exp(&v[0]));
        ok("log", &[positive(shape, &mut r)], |t, v| t.log(&v[0]));
        ok("sigmoid", &[Tensor::randn(shape, 2.0, &mut r)], |t, v| {
            t.sigmoid(&v[0])
        });
        ok(
            "log_sigmoid",
            &[Tensor::randn(shape, 2.0, &mut r)],
            |t, v| t.log_sigmoid(&v[0]),
        );
        ok("tanh", &[randn(shape, &mut r)], |t, v| t.tanh(&v[0]));
    }
}

#[test]
fn reductions() {
    let mut r = rng(4);
    let x = randn(&[3, 7, 5], &mut r);
    for axis in 0..3 {
        for keepdim in [false, true] {
            ok(
                &format!("sum axis {axis}"),
                std::slice::from_ref(&x),
                |t, v| t.sum(&v[0], axis, keepdim),
            );
            ok(
                &format!("mean axis {axis}"),
                std::slice::from_ref(&x),
                |t, v| t.mean(&v[0], axis, keepdim),
            );
        }
    }
    ok("sum_all", &[randn(&[17, 3], &mut r)], |t, v| {
        t.sum_all(&v[0])
    });
    ok("mean_all", &[randn(&[1, 7], &mut r)], |t, v| {
        t.mean_all(&v[0])
    });
}

#[test]
fn shape_ops() {
    let mut r = rng(5);
    // The tanh after each data-movement op makes the loss non-linear, so that a gradient
    // routed to the wrong element would be caught.
    ok("reshape", &[randn(&[3, 7], &mut r)], |t, v| {
        let y = t.reshape(&v[0], &[7, 1, 3]);
        t.tanh(&y)
    });
    ok("permute", &[randn(&[3, 1, 7, 5], &mut r)], |t, v| {
        let y = t.permute(&v[0], &[2, 0, 3, 1]);
        t.tanh(&y)
    });
    ok("transpose", &[randn(&[3, 17], &mut r)], |t, v| {
        let y = t.transpose(&v[0], 0, 1);
        t.tanh(&y)
    });
    let parts = [
        randn(&[3, 2, 5], &mut r),
        randn(&[3, 7, 5], &mut r),
        randn(&[3, 1, 5], &mut r),
    ];
    ok("concat axis 1", &parts, |t, v| {
        let y = t.concat(&[&v[0], &v[1], &v[2]], 1);
        t.tanh(&y)
    });
    ok(
        "concat axis 0",
        &[randn(&[1, 3], &mut r), randn(&[7, 3], &mut r)],
        |t, v| t.concat(&[&v[0], &v[1]], 0),
    );
    ok(
        "concat axis 2",
        &[randn(&[3, 1, 2], &mut r), randn(&[3, 1, 5], &mut r)],
        |t, v| t.concat(&[&v[0], &v[1]], 2),
    );
    ok("slice axis 1", &[randn(&[7, 17], &mut r)], |t, v| {
        let y = t.slice(&v[0], 1, 3, 10);
        t.tanh(&y)
    });
    ok("slice axis 0", &[randn(&[7, 3], &mut r)], |t, v| {
        t.slice(&v[0], 0, 2, 5)
    });
}

#[test]
fn matmul_all_transposes_and_batches() {
    let mut r = rng(6);
    for (lead, m, k, n) in [
        (&[][..], 3, 7, 5),
        (&[2, 3][..], 3, 1, 17),
        (&[1][..], 1, 17, 1),
    ] {
        for ta in [false, true] {
            for tb in [false, true] {
                let mut sa = lead.to_vec();
                sa.extend(if ta { [k, m] } else { [m, k] });
                let mut sb = lead.to_vec();
                sb.extend(if tb { [n, k] } else { [k, n] });
                ok(
                    &format!("matmul {sa:?} {sb:?} {ta} {tb}"),
                    &[randn(&sa, &mut r), randn(&sb, &mut r)],
                    |t, v| t.matmul(&v[0], &v[1], ta, tb),
                );
            }
        }
    }
}

#[test]
fn linear_with_and_without_bias() {
    let mut r = rng(7);
    let (x, w, b) = (
        randn(&[2, 3, 7], &mut r),
        randn(&[5, 7], &mut r),
        randn(&[5], &mut r),
    );
    ok("linear", &[x, w, b], |t, v| {
        t.linear(&v[0], &v[1], Some(&v[2]))
    });
    ok(
        "linear no bias",
        &[randn(&[1, 17], &mut r), randn(&[3, 17], &mut r)],
        |t, v| t.linear(&v[0], &v[1], None),
    );
}

#[test]
fn softmax_and_log_softmax() {
    let mut r = rng(8);
    for shape in [&[3, 7][..], &[2, 1, 17], &[5, 1]] {
        let x = Tensor::randn(shape, 2.0, &mut r);
        ok("softmax", std::slice::from_ref(&x), |t, v| t.softmax(&v[0]));
        ok("log_softmax", &[x], |t, v| t.log_softmax(&v[0]));
    }
}

#[test]
fn layer_norm() {
    let mut r = rng(9);
    for shape in [&[3, 7][..], &[2, 5, 17], &[1, 3]] {
        let c = *shape.last().unwrap();
        let inputs = [
            randn(shape, &mut r),
            Tensor::uniform(&[c], 0.5, 1.5, &mut r),
            randn(&[c], &mut r),
        ];
        ok(&format!("layer_norm {shape:?}"), &inputs, |t, v| {
            t.layer_norm(&v[0], &v[1], &v[2], 1e-5)
        });
    }
}

#[test]
fn l2_normalize_above_and_on_the_eps_floor() {
    let mut r = rng(10);
    ok("l2_normalize", &[randn(&[3, 7], &mut r)], |t, v| {
        t.l2_normalize(&v[0], 1e-12)
    });
    ok(
        "l2_normalize single column",
        &[away_from_zero(&[4, 1], &mut r)],
        |t, v| t.l2_normalize(&v[0], 1e-12),
    );
    // Rows of norm ≈ 2e-3 under eps = 0.1: the output is x / eps. The step 1e-4 keeps the
    // perturbed norm on the floor.
    let tiny = Tensor::randn(&[2, 3], 1e-3, &mut r);
    let cfg = GradCheck {
        step: 1e-4,
        ..GradCheck::default()
    };
    check(&[tiny], |t, v| t.l2_normalize(&v[0], 0.1), &cfg).assert_ok("l2_normalize floor", 0.0);
}

#[test]
fn fused_attention_packed_and_separate() {
    let mut r = rng(11);
    // (B, T, heads, head_dim): odd sizes, a single token, a single head.
    for (b, t, h, dh) in [(2, 3, 2, 2), (1, 7, 3, 1), (3, 1, 1, 5)] {
        let c = h * dh;
        ok(
            &format!("attention B{b} T{t} H{h} Dh{dh}"),
            &[randn(&[b, t, 3 * c], &mut r)],
            |tp, v| tp.attention(&v[0], h),
        );
    }
    let q = [
        randn(&[2, 5, 6], &mut r),
        randn(&[2, 5, 6], &mut r),
        randn(&[2, 5, 6], &mut r),
    ];
    ok("attention_qkv", &q, |t, v| {
        t.attention_qkv(&v[0], &v[1], &v[2], 3)
    });
}

#[test]
fn custom_op() {
    // y_i = x_i³ · c_i with c a constant input: dy/dx = 3x²c.
    let mut r = rng(12);
    let c = randn(&[7], &mut r);
    ok("custom cube", &[randn(&[7], &mut r)], move |t, v| {
        let cv = t.constant(c.clone());
        let (x, c) = (v[0].clone(), cv.clone());
        let y = Tensor::from_fn(&[7], |i| x.data()[i].powi(3) * c.data()[i]);
        t.custom("cube", &[&v[0], &cv], y, move |dy, grads| {
            assert!(grads[1].is_none(), "a constant gets no gradient");
            let dx = grads[0]
                .as_deref_mut()
                .expect("x needs a gradient")
                .data_mut();
            for (i, g) in dx.iter_mut().enumerate() {
                *g += dy.data()[i] * 3.0 * x.data()[i].powi(2) * c.data()[i];
            }
        })
    });
}
