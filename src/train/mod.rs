//! Losses, Sinkhorn, optimiser, data pipeline and training loop.

pub mod optim;
