//! Gradients with closed forms, derived by hand in the comments.

use std::f32::consts::FRAC_1_SQRT_2;

use crate::autograd::{Tape, Var};
use crate::tensor::Tensor;

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol,
            "element {i}: {x} vs {y} (all: {a:?} vs {b:?})"
        );
    }
}

/// Cross-entropy through log-softmax: L = −log_softmax(x)_t ⇒ ∂L/∂x = softmax(x) − onehot(t).
/// With x = [0, ln 3]: softmax = [1/4, 3/4]; t = 1 ⇒ grad = [1/4, −1/4].
#[test]
fn cross_entropy_gradient_is_p_minus_onehot() {
    let mut t = Tape::new();
    let x = t.leaf(Tensor::new(&[1, 2], vec![0.0, 3f32.ln()]));
    let lp = t.log_softmax(&x);
    let pick = t.constant(Tensor::new(&[1, 2], vec![0.0, -1.0]));
    let l = t.mul(&lp, &pick);
    let l = t.sum_all(&l);
    close(&[l.item()], &[-(0.75f32.ln())], 1e-6);
    t.backward(&l);
    close(t.grad(&x).unwrap().data(), &[0.25, -0.25], 1e-6);
}

/// L = Σ A·B with A (2×3), B (3×2): ∂L/∂A[i,p] = Σ_j B[p,j] (row sums of B), the same for
/// every i; ∂L/∂B[p,j] = Σ_i A[i,p] (column sums of A).
#[test]
fn matmul_sum_gradient_is_row_and_column_sums() {
    let mut t = Tape::new();
    let a = t.leaf(Tensor::new(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    let b = t.leaf(Tensor::new(&[3, 2], vec![1.0, -1.0, 2.0, 0.5, 0.0, 3.0]));
    let y = t.matmul(&a, &b, false, false);
    let l = t.sum_all(&y);
    t.backward(&l);
    close(
        t.grad(&a).unwrap().data(),
        &[0.0, 2.5, 3.0, 0.0, 2.5, 3.0],
        1e-6,
    );
    close(
        t.grad(&b).unwrap().data(),
        &[5.0, 5.0, 7.0, 7.0, 9.0, 9.0],
        1e-6,
    );
}

/// At 0: σ'(0) = σ(0)(1 − σ(0)) = 1/4; (ln σ)'(0) = σ(−0) = 1/2; tanh'(0) = 1; exp'(0) = 1;
/// log'(2) = 1/2; relu'(−1) = 0, relu'(1) = 1.
#[test]
fn unary_derivatives_at_known_points() {
    type UnaryOp = fn(&mut Tape, &Var) -> Var;
    let cases: [(UnaryOp, f32, f32); 7] = [
        (|t, x| t.sigmoid(x), 0.0, 0.25),
        (|t, x| t.log_sigmoid(x), 0.0, 0.5),
        (|t, x| t.tanh(x), 0.0, 1.0),
        (|t, x| t.exp(x), 0.0, 1.0),
        (|t, x| t.log(x), 2.0, 0.5),
        (|t, x| t.relu(x), -1.0, 0.0),
        (|t, x| t.relu(x), 1.0, 1.0),
    ];
    for (f, at, want) in cases {
        let mut t = Tape::new();
        let x = t.leaf(Tensor::new(&[1], vec![at]));
        let y = f(&mut t, &x);
        let l = t.sum_all(&y);
        t.backward(&l);
        close(t.grad(&x).unwrap().data(), &[want], 1e-7);
    }
}

/// y = x/‖x‖ at x = [3, 4] (‖x‖ = 5, y = [0.6, 0.8]): ∂y_0/∂x = (e_0 − y_0 y)/5
/// = [(1 − 0.36)/5, −0.48/5] = [0.128, −0.096].
#[test]
fn l2_normalize_jacobian_row() {
    let mut t = Tape::new();
    let x = t.leaf(Tensor::new(&[1, 2], vec![3.0, 4.0]));
    let y = t.l2_normalize(&x, 1e-12);
    close(y.data(), &[0.6, 0.8], 1e-7);
    t.backward_from(&y, Tensor::new(&[1, 2], vec![1.0, 0.0]));
    close(t.grad(&x).unwrap().data(), &[0.128, -0.096], 1e-7);
}

/// L = Σ LayerNorm(x) with w = 1, b = 0: every row of the normalised output sums to 0 for
/// any x, so ∂L/∂x = 0; ∂L/∂b = number of rows; ∂L/∂w_j = Σ_rows n̂_rj.
/// Rows [1, 2, 3] and [2, 2, 5]: n̂ = [−1.2247, 0, 1.2247] and [−0.7071, −0.7071, 1.4142].
#[test]
fn layer_norm_sum_gradient() {
    let mut t = Tape::new();
    let x = t.leaf(Tensor::new(&[2, 3], vec![1.0, 2.0, 3.0, 2.0, 2.0, 5.0]));
    let w = t.leaf(Tensor::full(&[3], 1.0));
    let b = t.leaf(Tensor::zeros(&[3]));
    let y = t.layer_norm(&x, &w, &b, 0.0);
    let l = t.sum_all(&y);
    t.backward(&l);
    close(t.grad(&x).unwrap().data(), &[0.0; 6], 1e-6);
    close(t.grad(&b).unwrap().data(), &[2.0; 3], 0.0);
    close(
        t.grad(&w).unwrap().data(),
        &[-1.9318, -FRAC_1_SQRT_2, 2.6389],
        1e-4,
    );
}

/// mean over axis 1 of a (2, 4): each input gets 1/4 of its row's output gradient.
#[test]
fn mean_spreads_gradient_evenly() {
    let mut t = Tape::new();
    let x = t.leaf(Tensor::zeros(&[2, 4]));
    let y = t.mean(&x, 1, false);
    t.backward_from(&y, Tensor::new(&[2], vec![1.0, -2.0]));
    close(
        t.grad(&x).unwrap().data(),
        &[0.25, 0.25, 0.25, 0.25, -0.5, -0.5, -0.5, -0.5],
        0.0,
    );
}
