//! Device-resident storage buffers of `f32` or `u32`.

use crate::error::{Error, Result};
use crate::gpu::device::Gpu;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

/// An element type a kernel can read or write: 4 bytes, plain data.
pub trait Element: bytemuck::Pod + private::Sealed {}
impl Element for f32 {}
impl Element for u32 {}

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u32 {}
}

/// Source of [`GpuBuffer::id`], so that host functions can refuse aliased outputs.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A storage buffer of `len` elements that stays on the device between kernels.
/// Created zeroed or from host data; read back with [`GpuBuffer::read`]. Cloning is
/// not offered: a buffer has one owner, and kernels borrow it.
#[derive(Debug)]
pub struct GpuBuffer<T: Element = f32> {
    buffer: wgpu::Buffer,
    len: usize,
    id: u64,
    _element: PhantomData<T>,
}

impl<T: Element> GpuBuffer<T> {
    /// A buffer of `len` zeros. Fails with [`Error::Gpu`] when it exceeds the
    /// device's storage-binding or buffer size limit.
    pub fn zeros(gpu: &Gpu, len: usize) -> Result<Self> {
        let bytes = Self::checked_bytes(gpu, len)?;
        let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: Self::usage(),
            mapped_at_creation: false,
        });
        Ok(Self::wrap(buffer, len))
    }

    /// A buffer holding a copy of `data`. Fails like [`GpuBuffer::zeros`].
    pub fn from_slice(gpu: &Gpu, data: &[T]) -> Result<Self> {
        if data.is_empty() {
            return Self::zeros(gpu, 0);
        }
        let bytes = Self::checked_bytes(gpu, data.len())?;
        let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: Self::usage(),
            mapped_at_creation: true,
        });
        {
            let mut view = buffer
                .slice(..)
                .get_mapped_range_mut()
                .map_err(|e| Error::gpu(format!("mapping a new buffer failed: {e}")))?;
            // Not empty, so the allocation is exactly the data.
            view.copy_from_slice(bytemuck::cast_slice(data));
        }
        buffer.unmap();
        Ok(Self::wrap(buffer, data.len()))
    }

    /// Overwrites the whole buffer with `data` (queued: it happens before any batch
    /// submitted later). Panics when the lengths differ.
    pub fn write(&self, gpu: &Gpu, data: &[T]) {
        assert_eq!(
            data.len(),
            self.len,
            "GpuBuffer::write: {} elements into a buffer of {}",
            data.len(),
            self.len
        );
        if !data.is_empty() {
            gpu.queue()
                .write_buffer(&self.buffer, 0, bytemuck::cast_slice(data));
        }
    }

    /// Copies the buffer back to the host, after all work submitted so far.
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<T>> {
        if self.len == 0 {
            return Ok(Vec::new());
        }
        let bytes = self.byte_len();
        let staging = gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&self.buffer, 0, &staging, 0, bytes);
        gpu.queue().submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            // The receiver outlives the wait below; a send error cannot happen.
            let _ = tx.send(r);
        });
        gpu.wait()?;
        rx.recv()
            .map_err(|_| Error::gpu("the read-back callback never ran"))?
            .map_err(|e| Error::gpu(format!("mapping the read-back buffer failed: {e}")))?;
        let view = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| Error::gpu(format!("reading the read-back buffer failed: {e}")))?;
        Ok(bytemuck::cast_slice(&view).to_vec())
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size of the elements in bytes (the allocation may be 4 bytes larger when empty).
    pub fn byte_len(&self) -> u64 {
        (self.len * size_of::<T>()) as u64
    }

    /// The underlying wgpu buffer.
    pub fn raw(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// A process-unique identity, equal only for the same buffer.
    pub fn id(&self) -> u64 {
        self.id
    }

    fn wrap(buffer: wgpu::Buffer, len: usize) -> Self {
        GpuBuffer {
            buffer,
            len,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            _element: PhantomData,
        }
    }

    fn usage() -> wgpu::BufferUsages {
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
    }

    /// Allocation size for `len` elements: at least one element, since a binding
    /// cannot be empty.
    fn checked_bytes(gpu: &Gpu, len: usize) -> Result<u64> {
        let bytes = (len.max(1) as u64).saturating_mul(size_of::<T>() as u64);
        let limits = gpu.limits();
        let cap = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if bytes > cap {
            return Err(Error::gpu(format!(
                "a buffer of {len} elements ({bytes} bytes) exceeds this device's limit of {cap} \
                 bytes per storage binding on {:?}; split the tensor or use a smaller batch",
                gpu.adapter_name()
            )));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::testing::shared_gpu;

    #[test]
    fn upload_write_read_round_trip_for_f32_u32_and_empty() {
        let Some(gpu) = shared_gpu() else { return };
        let b = GpuBuffer::from_slice(gpu, &[1.5f32, -2.0, 3.25]).unwrap();
        assert_eq!((b.len(), b.byte_len()), (3, 12));
        assert_eq!(b.read(gpu).unwrap(), [1.5, -2.0, 3.25]);
        b.write(gpu, &[4.0, 5.0, 6.0]);
        assert_eq!(b.read(gpu).unwrap(), [4.0, 5.0, 6.0]);
        let keys = GpuBuffer::from_slice(gpu, &[7u32, u32::MAX]).unwrap();
        assert_eq!(keys.read(gpu).unwrap(), [7, u32::MAX]);
        assert_eq!(
            GpuBuffer::<f32>::zeros(gpu, 5).unwrap().read(gpu).unwrap(),
            [0.0; 5]
        );
        let empty = GpuBuffer::<f32>::from_slice(gpu, &[]).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.read(gpu).unwrap(), Vec::<f32>::new());
        assert_ne!(b.id(), keys.id());
    }

    #[test]
    fn a_buffer_beyond_the_binding_limit_is_an_error() {
        let Some(gpu) = shared_gpu() else { return };
        let limits = gpu.limits();
        let cap = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let too_many = (cap / 4 + 1) as usize;
        let err = GpuBuffer::<f32>::zeros(gpu, too_many).unwrap_err();
        assert!(
            err.to_string().contains("exceeds this device's limit"),
            "{err}"
        );
    }

    #[test]
    fn writing_the_wrong_length_panics() {
        let Some(gpu) = shared_gpu() else { return };
        let b = GpuBuffer::<f32>::zeros(gpu, 2).unwrap();
        let message = crate::gpu::testing::panic_message(|| b.write(gpu, &[1.0]));
        assert!(
            message.contains("GpuBuffer::write: 1 elements into a buffer of 2"),
            "{message}"
        );
    }
}
