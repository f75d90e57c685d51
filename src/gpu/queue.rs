//! The Sinkhorn queue of recent anchor q̂ on the device: the CPU
//! [`HashQueue`]'s ring buffer, with the same storage order and write cursor.

use crate::error::Result;
use crate::gpu::batch::Batch;
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::device::Gpu;
use crate::train::checkpoint::restore_queue;
use crate::train::sinkhorn::HashQueue;

/// Up to `capacity` rows of K values; rows pushed beyond it overwrite the oldest.
/// The whole state is the rows and the count of rows ever pushed: the first
/// `capacity` pushes fill rows 0, 1, …; push number P ≥ capacity writes row
/// (P − capacity) mod capacity, exactly as [`HashQueue::push`].
pub struct GpuQueue {
    bits: usize,
    capacity: usize,
    /// (capacity, K), rows ≥ len unused.
    rows: GpuBuffer,
    pushed: u64,
}

impl GpuQueue {
    /// A copy of `queue`, which has had `pushed` rows pushed in total.
    pub fn upload(gpu: &Gpu, queue: &HashQueue, pushed: u64) -> Result<Self> {
        let (bits, capacity) = (queue.bits(), queue.capacity());
        assert_eq!(
            queue.len() as u64,
            pushed.min(capacity as u64),
            "GpuQueue::upload: {} rows stored after {pushed} pushes into {capacity}",
            queue.len()
        );
        let mut rows = queue.rows().to_vec();
        rows.resize(capacity * bits, 0.0);
        Ok(GpuQueue {
            bits,
            capacity,
            rows: GpuBuffer::from_slice(gpu, &rows)?,
            pushed,
        })
    }

    /// The rows in storage order with the same cursor, as a CPU [`HashQueue`].
    pub fn download(&self, gpu: &Gpu) -> Result<HashQueue> {
        let mut rows = self.rows.read(gpu)?;
        rows.truncate(self.len() * self.bits);
        Ok(restore_queue(self.bits, self.capacity, self.pushed, &rows)
            .unwrap_or_else(|e| panic!("GpuQueue::download: {e}")))
    }

    /// Rows stored.
    pub fn len(&self) -> usize {
        (self.pushed as usize).min(self.capacity)
    }

    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Rows ever pushed.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// The storage, (capacity, K); the first [`GpuQueue::len`] rows are the queue.
    pub fn rows(&self) -> &GpuBuffer {
        &self.rows
    }

    /// Records pushing the first `count` rows of `src` (≥ count × K values), at most
    /// `capacity` of them, as runs of consecutive storage rows.
    pub fn push(&mut self, batch: &mut Batch<'_>, src: &GpuBuffer, count: usize) {
        assert!(
            count <= self.capacity && src.len() >= count * self.bits,
            "GpuQueue::push: {count} rows from {} values into a queue of {} rows of K = {}",
            src.len(),
            self.capacity,
            self.bits
        );
        let k = self.bits;
        let mut row = 0;
        while row < count {
            let at = self.slot(self.pushed);
            // A run continues until the end of the storage or of the rows to push.
            let run = (self.capacity - at).min(count - row);
            batch.copy_range(src, row * k, &self.rows, at * k, run * k);
            self.pushed += run as u64;
            row += run;
        }
    }

    /// The storage row of push number `p` (0-based).
    fn slot(&self, p: u64) -> usize {
        let cap = self.capacity as u64;
        if p < cap {
            p as usize
        } else {
            ((p - cap) % cap) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::testing::{random, shared_gpu};

    /// Pushes of several sizes, wrapping around twice, leave the same rows and cursor
    /// as the CPU queue.
    #[test]
    fn pushes_match_the_cpu_queue() {
        let Some(gpu) = shared_gpu() else { return };
        let (bits, capacity) = (3, 5);
        let mut cpu = HashQueue::new(bits, capacity);
        let mut on_gpu = GpuQueue::upload(gpu, &cpu, 0).unwrap();
        for (i, count) in [2, 4, 5, 1, 3].into_iter().enumerate() {
            let rows = random(count * bits, 100 + i as u64);
            cpu.push(&rows);
            let src = GpuBuffer::from_slice(gpu, &rows).unwrap();
            let mut batch = gpu.batch();
            on_gpu.push(&mut batch, &src, count);
            batch.submit();
            let got = on_gpu.download(gpu).unwrap();
            assert_eq!(got.rows(), cpu.rows(), "after push {i} of {count} rows");
            // The same cursor: one more push changes the same row.
            let (mut a, mut b) = (got.clone(), cpu.clone());
            a.push(&[9.0; 3]);
            b.push(&[9.0; 3]);
            assert_eq!(a.rows(), b.rows(), "cursor after push {i}");
        }
    }
}
