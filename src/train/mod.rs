//! Losses, Sinkhorn, optimiser, data pipeline and training loop.

pub mod checkpoint;
pub mod data;
pub mod log;
pub mod loss;
pub mod objective;
pub mod optim;
pub mod sinkhorn;
pub mod trainer;
pub mod validate;

#[cfg(test)]
mod tests;
