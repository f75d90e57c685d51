//! The wgpu device context and one host function per WGSL kernel.
