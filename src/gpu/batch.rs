//! Recording many kernels and submitting them together.
//!
//! Host functions append to a [`Batch`]; nothing runs until [`Batch::submit`], which
//! packs every dispatch's parameters into one uniform buffer, encodes the whole batch
//! into one command buffer (consecutive dispatches share one compute pass; wgpu
//! inserts the storage barriers between them) and submits it. There is no read-back
//! per op: results stay on the device until [`GpuBuffer::read`].

use crate::error::{Error, Result};
use crate::gpu::buffer::{Element, GpuBuffer};
use crate::gpu::device::{Gpu, RowConfig};
use crate::gpu::shader::{Kernel, Pipeline, Reduction};
use std::num::NonZeroU64;
use std::ops::Range;
use std::sync::Arc;
use wgpu::util::DeviceExt;

/// A list of GPU commands recorded for one submission.
#[derive(Debug)]
pub struct Batch<'g> {
    gpu: &'g Gpu,
    rows: RowConfig,
    commands: Vec<Command>,
    /// Every dispatch's uniform parameter block, each at an offset aligned to the
    /// device's `min_uniform_buffer_offset_alignment`.
    params: Vec<u8>,
}

#[derive(Debug)]
enum Command {
    Dispatch {
        pipeline: Arc<Pipeline>,
        params: Range<u64>,
        buffers: Vec<(u32, wgpu::Buffer)>,
        groups: [u32; 3],
    },
    Zero(wgpu::Buffer),
    Copy {
        src: wgpu::Buffer,
        src_offset: u64,
        dst: wgpu::Buffer,
        dst_offset: u64,
        bytes: u64,
    },
}

impl<'g> Batch<'g> {
    /// An empty batch; row kernels use the device's [`Gpu::default_rows`].
    pub fn new(gpu: &'g Gpu) -> Self {
        Batch {
            gpu,
            rows: gpu.default_rows(),
            commands: Vec::new(),
            params: Vec::new(),
        }
    }

    /// The device this batch records for.
    pub fn gpu(&self) -> &'g Gpu {
        self.gpu
    }

    /// How row kernels recorded from now on are compiled.
    pub fn rows(&self) -> RowConfig {
        self.rows
    }

    /// Chooses the reduction flavour and workgroup size of the row kernels recorded
    /// from now on (the tests run both flavours on one device). Panics when the
    /// workgroup size is not a power of two in 1..=256, exceeds the device's limit,
    /// or subgroups are asked for on a device without them.
    pub fn set_rows(&mut self, rows: RowConfig) {
        let wg = rows.workgroup;
        assert!(
            wg.is_power_of_two() && wg <= RowConfig::MAX_WORKGROUP,
            "Batch::set_rows: workgroup {wg} is not a power of two in 1..={}",
            RowConfig::MAX_WORKGROUP
        );
        assert!(
            wg <= self.gpu.limits().max_compute_invocations_per_workgroup,
            "Batch::set_rows: workgroup {wg} exceeds the device's limit"
        );
        assert!(
            rows.reduction != Reduction::Subgroup || self.gpu.has_subgroups(),
            "Batch::set_rows: this device has no usable subgroup operations"
        );
        self.rows = rows;
    }

    /// Records setting every element of `buffer` to zero.
    pub fn zero<T: Element>(&mut self, buffer: &GpuBuffer<T>) {
        self.commands.push(Command::Zero(buffer.raw().clone()));
    }

    /// Records copying `src` into `dst`. Panics when their lengths differ.
    pub fn copy<T: Element>(&mut self, src: &GpuBuffer<T>, dst: &GpuBuffer<T>) {
        assert_eq!(
            src.len(),
            dst.len(),
            "Batch::copy: src has {} elements, dst {}",
            src.len(),
            dst.len()
        );
        assert_ne!(
            src.id(),
            dst.id(),
            "Batch::copy: src and dst are the same buffer"
        );
        if !src.is_empty() {
            self.commands.push(Command::Copy {
                src: src.raw().clone(),
                src_offset: 0,
                dst: dst.raw().clone(),
                dst_offset: 0,
                bytes: src.byte_len(),
            });
        }
    }

    /// Records copying `len` elements of `src` from element `src_at` into `dst` from
    /// element `dst_at` (row slices of a matrix: offsets and lengths in elements).
    /// Panics when a range leaves its buffer, or when `src` and `dst` are the same buffer.
    pub fn copy_range<T: Element>(
        &mut self,
        src: &GpuBuffer<T>,
        src_at: usize,
        dst: &GpuBuffer<T>,
        dst_at: usize,
        len: usize,
    ) {
        assert!(
            src_at + len <= src.len() && dst_at + len <= dst.len(),
            "Batch::copy_range: {len} elements from {src_at} of {} into {dst_at} of {}",
            src.len(),
            dst.len()
        );
        assert_ne!(
            src.id(),
            dst.id(),
            "Batch::copy_range: src and dst are the same buffer"
        );
        // Elements are 4 bytes, so every offset and length meets wgpu's 4-byte alignment.
        let bytes = |n: usize| (n * std::mem::size_of::<T>()) as u64;
        if len > 0 {
            self.commands.push(Command::Copy {
                src: src.raw().clone(),
                src_offset: bytes(src_at),
                dst: dst.raw().clone(),
                dst_offset: bytes(dst_at),
                bytes: bytes(len),
            });
        }
    }

    /// Number of recorded commands (dispatches, zeroings, copies).
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Records one dispatch of `kernel`. `buffers` are bound to the kernel's storage
    /// bindings in order; `params` to binding 0. Fails when a grid dimension exceeds
    /// the device's limit; an empty grid records nothing.
    pub(crate) fn dispatch<P: bytemuck::Pod>(
        &mut self,
        kernel: &Kernel,
        overrides: &[(&'static str, f64)],
        params: &P,
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
    ) -> Result<()> {
        assert_eq!(
            buffers.len(),
            kernel.bindings.len(),
            "{}: {} buffers for {} bindings",
            kernel.entry,
            buffers.len(),
            kernel.bindings.len()
        );
        let max = self.gpu.limits().max_compute_workgroups_per_dimension;
        if let Some(&too_big) = groups.iter().find(|&&g| g > max) {
            return Err(Error::gpu(format!(
                "{}: {too_big} workgroups in one grid dimension exceed this device's limit of {max}",
                kernel.entry
            )));
        }
        if groups.contains(&0) {
            return Ok(());
        }
        let pipeline = self.gpu.pipeline(kernel, self.rows.reduction, overrides);
        let align = self.gpu.limits().min_uniform_buffer_offset_alignment as usize;
        let start = self.params.len().next_multiple_of(align);
        self.params.resize(start, 0);
        self.params.extend_from_slice(bytemuck::bytes_of(params));
        let buffers = kernel
            .bindings
            .iter()
            .zip(buffers)
            .map(|(&(binding, _), &b)| (binding, b.clone()))
            .collect();
        self.commands.push(Command::Dispatch {
            pipeline,
            params: start as u64..self.params.len() as u64,
            buffers,
            groups,
        });
        Ok(())
    }

    /// A grid of `workgroups` workgroups, folded into (x, y) when it exceeds the
    /// per-dimension limit. Kernels recover the flat index as
    /// `wg.x + wg.y · num_workgroups.x` and ignore the overshoot.
    pub(crate) fn grid(&self, op: &str, workgroups: usize) -> Result<[u32; 3]> {
        let max = self.gpu.limits().max_compute_workgroups_per_dimension as usize;
        let x = workgroups.min(max);
        let y = if x == 0 { 0 } else { workgroups.div_ceil(x) };
        if y > max {
            return Err(Error::gpu(format!(
                "{op}: {workgroups} workgroups exceed this device's grid of {max} × {max}"
            )));
        }
        Ok([x as u32, y as u32, 1])
    }

    /// Submits everything recorded, in order, as one command buffer.
    pub fn submit(self) {
        if self.commands.is_empty() {
            return;
        }
        let device = self.gpu.device();
        let uniforms = (!self.params.is_empty()).then(|| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("kernel parameters"),
                contents: &self.params,
                usage: wgpu::BufferUsages::UNIFORM,
            })
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("batch"),
        });
        let mut i = 0;
        while i < self.commands.len() {
            match &self.commands[i] {
                Command::Zero(buffer) => {
                    encoder.clear_buffer(buffer, 0, None);
                    i += 1;
                }
                Command::Copy {
                    src,
                    src_offset,
                    dst,
                    dst_offset,
                    bytes,
                } => {
                    encoder.copy_buffer_to_buffer(src, *src_offset, dst, *dst_offset, *bytes);
                    i += 1;
                }
                Command::Dispatch { .. } => {
                    let run = self.commands[i..]
                        .iter()
                        .take_while(|c| matches!(c, Command::Dispatch { .. }))
                        .count();
                    let uniforms = uniforms
                        .as_ref()
                        .expect("a dispatch recorded its parameters");
                    encode_dispatches(device, &mut encoder, uniforms, &self.commands[i..i + run]);
                    i += run;
                }
            }
        }
        self.gpu.queue().submit([encoder.finish()]);
    }
}

/// Encodes a run of dispatches into one compute pass.
fn encode_dispatches(
    device: &wgpu::Device,
    encoder: &mut wgpu::CommandEncoder,
    uniforms: &wgpu::Buffer,
    run: &[Command],
) {
    let bind_groups: Vec<wgpu::BindGroup> = run
        .iter()
        .map(|c| {
            let Command::Dispatch {
                pipeline,
                params,
                buffers,
                ..
            } = c
            else {
                unreachable!("a run holds only dispatches")
            };
            let size =
                NonZeroU64::new(params.end - params.start).expect("parameter blocks are not empty");
            let uniform = wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: uniforms,
                    offset: params.start,
                    size: Some(size),
                }),
            };
            let storage = buffers.iter().map(|(binding, b)| wgpu::BindGroupEntry {
                binding: *binding,
                resource: b.as_entire_binding(),
            });
            let entries: Vec<_> = std::iter::once(uniform).chain(storage).collect();
            device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.layout,
                entries: &entries,
            })
        })
        .collect();
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: None,
        timestamp_writes: None,
    });
    for (c, bind_group) in run.iter().zip(&bind_groups) {
        let Command::Dispatch {
            pipeline, groups, ..
        } = c
        else {
            unreachable!("a run holds only dispatches")
        };
        pass.set_pipeline(&pipeline.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }
}

/// Panics when one of `outputs` is the same buffer as another argument of `op`:
/// a kernel cannot read and write one buffer through two bindings.
pub(crate) fn assert_no_alias(op: &str, outputs: &[(&str, u64)], all: &[(&str, u64)]) {
    for &(out_name, out_id) in outputs {
        for &(name, id) in all {
            assert!(
                name == out_name || id != out_id,
                "{op}: output `{out_name}` is the same buffer as `{name}`"
            );
        }
    }
}

/// Panics with the op's name when a buffer's length is not `expected` (the shape
/// is spelled out in `shape`, e.g. "rows × cols = 4 × 10").
pub(crate) fn assert_len(op: &str, name: &str, len: usize, expected: usize, shape: &str) {
    assert_eq!(
        len, expected,
        "{op}: `{name}` has {len} elements, expected {shape} = {expected}"
    );
}

/// A shape's element count, or an [`Error::Gpu`] when it does not fit the u32
/// indices the kernels use.
pub(crate) fn index_u32(op: &str, what: &str, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| {
        Error::gpu(format!(
            "{op}: {what} = {n} exceeds the kernels' 32-bit indexing"
        ))
    })
}
