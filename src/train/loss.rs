//! The training losses as slice functions with hand-derived backward passes, each
//! `x_forward` beside its `x_backward` (llm.c style), ready to sit on the autograd tape as
//! custom ops (a forward value plus a backward closure).
//!
//! DESIGN §4: L = L_c + λ_h L_h + λ_r L_r, where
//! - L_c = [`nt_xent_forward`] on the embeddings e (D = 128),
//! - L_h = [`nt_xent_forward`] on the unit hash directions q̂ = q / ‖q‖ (D = K),
//! - L_r = [`balanced_hash_forward`] on q̂ with the targets k* of
//!   [`crate::train::sinkhorn`].
//!
//! Conventions: every forward returns `(loss, cache)`; every backward takes the cache and
//! `dloss` and *accumulates* (`+=`) into the gradient slices, so that a tensor used by
//! several losses (q̂ by L_h and L_r) sums its gradients without a copy.

mod bucket;
mod contrastive;

pub use bucket::{BalancedHashCache, balanced_hash_backward, balanced_hash_forward};
pub use contrastive::{NtXentCache, NtXentConfig, nt_xent_backward, nt_xent_forward};
