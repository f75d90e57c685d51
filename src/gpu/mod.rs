//! The wgpu device context and one host function per WGSL kernel.
//!
//! ```no_run
//! use earmark::gpu::{Gemm, Gpu, GpuBuffer, gemm};
//! # fn main() -> earmark::Result<()> {
//! let gpu = Gpu::new()?;                                   // Vulkan unless WGPU_BACKEND says otherwise
//! let a = GpuBuffer::from_slice(&gpu, &[1.0, 2.0, 3.0, 4.0])?; // 2×2
//! let b = GpuBuffer::from_slice(&gpu, &[1.0, 0.0, 0.0, 1.0])?; // 2×2
//! let c = GpuBuffer::zeros(&gpu, 4)?;
//! let mut batch = gpu.batch();                             // record many kernels ...
//! gemm(&mut batch, &Gemm::new(2, 2, 2), &a, &b, None, &c)?;
//! batch.submit();                                          // ... submit them together
//! assert_eq!(c.read(&gpu)?, [1.0, 2.0, 3.0, 4.0]);         // read back when needed
//! # Ok(()) }
//! ```
//!
//! Conventions shared by every host function:
//! - matrices are row-major `f32`; shapes are given in elements and checked: a
//!   mismatched buffer length, or an output that aliases an input, panics with the
//!   op's name and the shapes (a programmer error);
//! - a size beyond the device's limits (buffer binding size, grid size) or beyond a
//!   kernel's supported range is an [`Error::Gpu`](crate::Error::Gpu);
//! - forward kernels overwrite their outputs; backward kernels ACCUMULATE (`+=`) into
//!   gradient buffers, so zero them ([`Batch::zero`]) at the start of a step;
//! - nothing runs until [`Batch::submit`]; buffers stay resident until read.
//!
//! The WGSL sources are in `shaders/` (see `shaders/README.md` for the kernels'
//! design); [`shader`] lists them.

mod attention;
mod balanced;
mod batch;
mod buffer;
mod device;
mod elementwise;
mod embed;
mod gemm;
mod losses;
mod model;
mod model_layers;
mod optim;
mod queue;
mod rows;
pub mod shader;
mod sinkhorn;
#[cfg(test)]
mod testing;
mod trainer;

pub use attention::{Attention, attention_backward, attention_forward};
pub use balanced::{BalancedScratch, balanced_assign};
pub use batch::Batch;
pub use buffer::{Element, GpuBuffer};
pub use device::{Gpu, RowConfig};
pub use elementwise::{add, axpy, relu_backward, relu_forward, sum_all, sum_rows, sum_squares};
pub use embed::{EMBED_CHUNK, chunk_rows, widest_activation};
pub use gemm::{Gemm, gemm};
pub use losses::{
    HashLoss, NtXent, hash_loss_backward, hash_loss_forward, ntxent_backward, ntxent_forward,
};
pub use model::GpuModel;
pub use optim::{AdamW, adamw};
pub use queue::GpuQueue;
pub use rows::{
    l2norm_backward, l2norm_forward, layernorm_backward, layernorm_forward, log_softmax_backward,
    log_softmax_forward, softmax_backward, softmax_forward,
};
pub use shader::Reduction;
pub use sinkhorn::{Sinkhorn, sinkhorn_argmax, sinkhorn_log_plan, sinkhorn_solve};
pub use trainer::GpuTrainer;
