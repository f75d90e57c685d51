//! `--device cpu|gpu`: where the network runs for `train`, `embed`, `index` and `query`.
//!
//! The audio front-end (decoding, log-mel, segmentation) always runs on the CPU; with
//! `gpu` the encoder runs through earmark's WGSL kernels on the first Vulkan adapter
//! (`WGPU_BACKEND` may choose another backend). No adapter is an error, never a
//! silent fall-back to the CPU.

use earmark::model::{Embeddings, Model};

#[cfg(feature = "gpu")]
use anyhow::Context;
#[cfg(feature = "gpu")]
use earmark::gpu::{Gpu, GpuModel};
#[cfg(feature = "gpu")]
use std::sync::Mutex;

/// Where the network runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Device {
    #[default]
    Cpu,
    Gpu,
}

#[derive(clap::Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Where the network runs: cpu, or gpu (Vulkan through wgpu; an error when no GPU
    /// adapter is found).
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    pub device: Device,
}

/// The opened device: nothing for the CPU, the [`Gpu`] context otherwise.
pub struct Opened {
    #[cfg(feature = "gpu")]
    pub gpu: Option<Gpu>,
}

impl DeviceArgs {
    /// Opens the chosen device; with `gpu`, fails when there is no adapter (or this
    /// build has no GPU support).
    pub fn open(&self) -> anyhow::Result<Opened> {
        match self.device {
            Device::Cpu => Ok(Opened {
                #[cfg(feature = "gpu")]
                gpu: None,
            }),
            #[cfg(feature = "gpu")]
            Device::Gpu => {
                let gpu = Gpu::new().context("--device gpu")?;
                eprintln!("device: {}", gpu.adapter_name());
                Ok(Opened { gpu: Some(gpu) })
            }
            #[cfg(not(feature = "gpu"))]
            Device::Gpu => {
                anyhow::bail!("--device gpu: this build has no GPU support (feature `gpu`)")
            }
        }
    }
}

/// Embeds audio with `model` on the opened device. Shared by worker threads: on the
/// GPU one forward runs at a time.
pub struct Embedder<'a> {
    model: &'a Model,
    #[cfg(feature = "gpu")]
    gpu: Option<Mutex<GpuModel<'a>>>,
}

impl<'a> Embedder<'a> {
    /// Uploads `model` when the device is a GPU.
    pub fn new(model: &'a Model, device: &'a Opened) -> anyhow::Result<Self> {
        #[cfg(not(feature = "gpu"))]
        let _ = device;
        Ok(Embedder {
            model,
            #[cfg(feature = "gpu")]
            gpu: match &device.gpu {
                Some(gpu) => Some(Mutex::new(
                    GpuModel::upload(gpu, model).context("uploading the model to the GPU")?,
                )),
                None => None,
            },
        })
    }

    /// [`Model::embed_audio`] on the device.
    pub fn embed_audio(&self, samples: &[f32], hop_frames: usize) -> earmark::Result<Embeddings> {
        #[cfg(feature = "gpu")]
        if let Some(gpu) = &self.gpu {
            let mut model = gpu.lock().unwrap_or_else(|e| e.into_inner());
            return model.embed_audio(samples, hop_frames);
        }
        self.model.embed_audio(samples, hop_frames)
    }
}
