//! The tape's bookkeeping: no-grad mode, gradients of intermediates, parameters.

use crate::autograd::{ParamStore, Tape};
use crate::tensor::Tensor;

#[test]
fn no_grad_records_nothing_and_computes_the_same() {
    let x = Tensor::new(&[2, 2], vec![1.0, -2.0, 3.0, -4.0]);
    let run = |t: &mut Tape| {
        let v = t.leaf(x.clone());
        let y = t.relu(&v);
        let y = t.scale(&y, 2.0);
        (t.sum_all(&y).item(), y.requires_grad())
    };
    let mut grad = Tape::new();
    let mut plain = Tape::no_grad();
    let (a, ga) = run(&mut grad);
    let (b, gb) = run(&mut plain);
    assert_eq!(a, b);
    assert!(ga && !gb);
    assert_eq!(grad.num_entries(), 4);
    assert_eq!(plain.num_entries(), 0);
}

#[test]
fn intermediate_gradients_are_readable() {
    // y = 3x, L = Σ y²: dL/dy = 2y = 6x, dL/dx = 18x.
    let mut t = Tape::new();
    let x = t.leaf(Tensor::new(&[2], vec![1.0, 2.0]));
    let y = t.scale(&x, 3.0);
    let sq = t.mul(&y, &y);
    let l = t.sum_all(&sq);
    t.backward(&l);
    assert_eq!(t.grad(&y).unwrap().data(), &[6.0, 12.0]);
    assert_eq!(t.grad(&x).unwrap().data(), &[18.0, 36.0]);
    assert_eq!(t.num_entries(), 0, "backward consumes the records");
}

#[test]
fn constants_get_no_gradient_and_ops_on_them_are_not_recorded() {
    let mut t = Tape::new();
    let c = t.constant(Tensor::full(&[3], 2.0));
    let d = t.exp(&c);
    assert!(!d.requires_grad());
    assert_eq!(t.num_entries(), 0);
    let x = t.leaf(Tensor::full(&[3], 1.0));
    let y = t.mul(&x, &d);
    let l = t.sum_all(&y);
    t.backward(&l);
    assert!(t.grad(&c).is_none());
    assert!((t.grad(&x).unwrap().data()[0] - 2f32.exp()).abs() < 1e-6);
}

#[test]
fn parameter_gradients_accumulate_across_tapes_and_uses() {
    let mut store = ParamStore::new();
    let w = store.add("w", Tensor::new(&[2], vec![1.0, 2.0]));
    for _ in 0..2 {
        let mut t = Tape::new();
        // w used twice: L = Σ w + Σ w ⇒ dL/dw = 2 per tape, 4 over two tapes.
        let a = t.param(&store, w);
        let b = t.param(&store, w);
        let s = t.add(&a, &b);
        let l = t.sum_all(&s);
        t.backward(&l);
        t.accumulate_param_grads(&mut store);
    }
    assert_eq!(store.grad(w).data(), &[4.0, 4.0]);
    store.zero_grad();
    assert_eq!(store.grad(w).data(), &[0.0, 0.0]);
}

#[test]
fn writing_a_parameter_while_a_tape_holds_it_copies() {
    let mut store = ParamStore::new();
    let w = store.add("w", Tensor::full(&[2], 1.0));
    let mut t = Tape::no_grad();
    let v = t.param(&store, w);
    store.value_mut(w).data_mut()[0] = 5.0;
    assert_eq!(v.data(), &[1.0, 1.0], "the tape keeps the value it read");
    assert_eq!(store.value(w).data(), &[5.0, 1.0]);
}

#[test]
#[should_panic(expected = "backward: the output does not depend on anything that requires grad")]
fn backward_from_a_constant_panics() {
    let mut t = Tape::new();
    let c = t.constant(Tensor::scalar(1.0));
    t.backward(&c);
}

#[test]
#[should_panic(expected = "backward of `bad` changed a gradient's shape")]
fn custom_op_that_breaks_a_gradient_shape_is_named() {
    let mut t = Tape::new();
    let x = t.leaf(Tensor::zeros(&[2]));
    let y = t.custom("bad", &[&x], Tensor::scalar(0.0), |_, grads| {
        *grads[0].as_deref_mut().unwrap() = Tensor::zeros(&[3]);
    });
    t.backward(&y);
}

#[test]
#[should_panic(expected = "add: an input that requires grad was made on another tape")]
fn vars_of_another_tape_are_refused() {
    let mut a = Tape::new();
    let x = a.leaf(Tensor::zeros(&[2]));
    let mut b = Tape::new();
    let c = b.constant(Tensor::zeros(&[2]));
    b.add(&x, &c);
}

#[test]
fn constants_may_be_shared_between_tapes() {
    let mut a = Tape::new();
    let c = a.constant(Tensor::full(&[2], 3.0));
    let mut b = Tape::new();
    let x = b.leaf(Tensor::full(&[2], 1.0));
    let y = b.mul(&x, &c);
    let l = b.sum_all(&y);
    b.backward(&l);
    assert_eq!(b.grad(&x).unwrap().data(), &[3.0, 3.0]);
}
