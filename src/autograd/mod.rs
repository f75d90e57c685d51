//! Reverse-mode automatic differentiation: the tape, the differentiable ops, the parameter
//! store, reusable layers and the gradient checker.
//!
//! ```
//! use earmark::autograd::{ParamStore, Tape};
//! use earmark::tensor::Tensor;
//!
//! let mut store = ParamStore::new();
//! let w = store.add("w", Tensor::new(&[1, 2], vec![0.5, -1.0]));
//!
//! // Training: record, reduce to a scalar, walk back, collect parameter gradients.
//! let mut tape = Tape::new();
//! let x = tape.input(Tensor::new(&[3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
//! let wv = tape.param(&store, w);
//! let y = tape.linear(&x, &wv, None); // (3, 1)
//! let loss = tape.mean_all(&y);
//! tape.backward(&loss);
//! tape.accumulate_param_grads(&mut store);
//! // d mean(x·wᵀ) / dw = column means of x = [3, 4].
//! assert_eq!(store.grad(w).data(), &[3.0, 4.0]);
//!
//! // Inference: the same calls on a no-grad tape record nothing.
//! let mut tape = Tape::no_grad();
//! let x = tape.input(Tensor::new(&[1, 2], vec![2.0, 1.0]));
//! let wv = tape.param(&store, w);
//! assert_eq!(tape.linear(&x, &wv, None).data(), &[0.0]);
//! assert_eq!(tape.num_entries(), 0);
//! ```

pub mod gradcheck;
pub mod layers;
mod ops;
mod params;
mod tape;

pub use params::{ParamError, ParamId, ParamStore};
pub use tape::{Tape, Var};

#[cfg(test)]
mod tests;
