//! The device context: one wgpu adapter, device and queue, what they offer, and the
//! pipeline cache.

use crate::error::{Error, Result};
use crate::gpu::batch::Batch;
use crate::gpu::shader::{Kernel, Pipeline, PipelineCache, Reduction};
use std::sync::Arc;

/// The optional features earmark asks for when the adapter offers them: f16 in
/// shaders, and subgroup operations for the row reductions.
const WANTED_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16.union(wgpu::Features::SUBGROUP);

/// Subgroups of fewer lanes than this are not used: the subgroup prelude keeps one
/// workgroup-memory slot per subgroup, 64 slots for a 256-invocation workgroup.
const MIN_SUBGROUP_LANES: u32 = 4;

/// A GPU, ready to run earmark's kernels. Create one per process and share it:
/// pipelines are compiled once and cached here.
#[derive(Debug)]
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    features: wgpu::Features,
    limits: wgpu::Limits,
    pipelines: PipelineCache,
}

impl Gpu {
    /// Opens the first high-performance adapter.
    ///
    /// The backend comes from `WGPU_BACKEND` when it is set (e.g. `vulkan`), and is
    /// Vulkan alone otherwise: there is no silent fallback to OpenGL. The device gets
    /// all of the adapter's limits, plus `SHADER_F16` and `SUBGROUP` when offered.
    ///
    /// Fails with [`Error::Gpu`] when no adapter is found (the message says what to
    /// install) or the device cannot be opened.
    pub fn new() -> Result<Gpu> {
        let backend_env = std::env::var("WGPU_BACKEND").ok();
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if backend_env.is_none() {
            desc.backends = wgpu::Backends::VULKAN;
        }
        let instance = wgpu::Instance::new(desc);
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        let adapter = pollster::block_on(instance.request_adapter(&options))
            .map_err(|e| Error::gpu(no_adapter_message(&e.to_string(), backend_env.as_deref())))?;
        let info = adapter.get_info();
        let features = adapter.features() & WANTED_FEATURES;
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("earmark"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| {
            Error::gpu(format!(
                "could not open the device on adapter {:?}: {e}",
                info.name
            ))
        })?;
        Ok(Gpu {
            device,
            queue,
            info,
            features,
            limits,
            pipelines: PipelineCache::default(),
        })
    }

    /// The adapter's name, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)` for lavapipe.
    pub fn adapter_name(&self) -> &str {
        &self.info.name
    }

    /// The graphics API in use (Vulkan unless `WGPU_BACKEND` says otherwise).
    pub fn backend(&self) -> wgpu::Backend {
        self.info.backend
    }

    /// Everything the adapter reports about itself (vendor, driver, device type,
    /// subgroup sizes).
    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// The device's limits (the adapter's own, not wgpu's conservative defaults).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// Whether shaders may use `f16`.
    pub fn has_f16(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_F16)
    }

    /// Whether subgroup operations are available and wide enough for the subgroup
    /// reduction prelude.
    pub fn has_subgroups(&self) -> bool {
        self.features.contains(wgpu::Features::SUBGROUP)
            && self.info.subgroup_min_size >= MIN_SUBGROUP_LANES
    }

    /// The smallest and largest subgroup size the adapter may use (lavapipe: 8, 8;
    /// NVIDIA: 32, 32; AMD: 32, 64).
    pub fn subgroup_sizes(&self) -> (u32, u32) {
        (self.info.subgroup_min_size, self.info.subgroup_max_size)
    }

    /// The reduction flavour and workgroup size that row kernels use by default:
    /// subgroups when available, with one subgroup per row (the workgroup is the
    /// adapter's largest subgroup size, so a reduction needs no cross-subgroup step);
    /// otherwise a 64-wide workgroup tree.
    pub fn default_rows(&self) -> RowConfig {
        if self.has_subgroups() {
            let workgroup = self
                .info
                .subgroup_max_size
                .clamp(MIN_SUBGROUP_LANES, RowConfig::MAX_WORKGROUP);
            RowConfig {
                reduction: Reduction::Subgroup,
                workgroup,
            }
        } else {
            RowConfig {
                reduction: Reduction::Workgroup,
                workgroup: 64,
            }
        }
    }

    /// A new, empty batch of commands for this device.
    pub fn batch(&self) -> Batch<'_> {
        Batch::new(self)
    }

    /// Blocks until all submitted work has finished.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::gpu(format!("waiting for the device failed: {e}")))
    }

    /// How many distinct compute pipelines have been compiled on this device.
    pub fn pipeline_count(&self) -> usize {
        self.pipelines.len()
    }

    /// The wgpu device, for code that records its own work.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    pub(crate) fn pipeline(
        &self,
        kernel: &Kernel,
        reduction: Reduction,
        overrides: &[(&'static str, f64)],
    ) -> Arc<Pipeline> {
        self.pipelines
            .get(&self.device, kernel, reduction, overrides)
    }
}

/// How the row kernels (softmax, LayerNorm, L2 norm) are compiled: reduction flavour
/// and invocations per workgroup (one workgroup per row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowConfig {
    pub reduction: Reduction,
    /// A power of two in 1..=[`RowConfig::MAX_WORKGROUP`].
    pub workgroup: u32,
}

impl RowConfig {
    /// The preludes' workgroup-memory arrays are sized for at most 256 invocations.
    pub const MAX_WORKGROUP: u32 = 256;
}

fn no_adapter_message(wgpu_error: &str, backend_env: Option<&str>) -> String {
    let backends = match backend_env {
        Some(v) => format!("WGPU_BACKEND={v:?}"),
        None => "Vulkan (set WGPU_BACKEND to choose another backend)".to_owned(),
    };
    format!(
        "no GPU adapter found for {backends}: {wgpu_error}. Install a GPU driver with Vulkan \
         support, or Mesa's CPU Vulkan driver lavapipe (Debian/Ubuntu: `apt-get install \
         mesa-vulkan-drivers libvulkan1`); check that VK_DRIVER_FILES / VK_ICD_FILENAMES, \
         if set, name an existing ICD file"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_adapter_message_names_the_package_and_the_backend() {
        let m = no_adapter_message("No suitable graphics adapter found", None);
        assert!(m.contains("mesa-vulkan-drivers"), "{m}");
        assert!(m.contains("Vulkan"), "{m}");
        let m = no_adapter_message("x", Some(""));
        assert!(m.contains("WGPU_BACKEND=\"\""), "{m}");
    }
}
