//! Losses, Sinkhorn, optimiser, data pipeline and training loop.

mod gemm;
pub mod loss;
pub mod optim;
pub mod sinkhorn;
pub mod validate;
