//! The WGSL sources (one file per op family, under `shaders/`), the kernel table that
//! names each entry point's bindings, and the pipeline cache.
//!
//! Row kernels (softmax, LayerNorm, L2 norm) reduce across a workgroup. Their body is
//! compiled behind one of two preludes that define the same functions: one built on
//! subgroup operations, one on a workgroup-memory tree. They are separate modules
//! because a module that mentions a subgroup builtin anywhere fails validation on a
//! device without `Features::SUBGROUP`, whichever entry point is used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One `.wgsl` file.
#[derive(Debug)]
pub struct Shader {
    /// The file name without extension; also the pipeline label.
    pub name: &'static str,
    pub source: &'static str,
    /// Whether the body needs a reduction prelude ([`REDUCE_SUBGROUP`] or
    /// [`REDUCE_WORKGROUP`]) in front of it.
    pub needs_reduction: bool,
}

macro_rules! shader {
    ($name:literal, $needs_reduction:expr) => {
        Shader {
            name: $name,
            source: include_str!(concat!("../../shaders/", $name, ".wgsl")),
            needs_reduction: $needs_reduction,
        }
    };
}

pub static GEMM: Shader = shader!("gemm", false);
pub static SOFTMAX: Shader = shader!("softmax", true);
pub static LAYERNORM: Shader = shader!("layernorm", true);
pub static L2NORM: Shader = shader!("l2norm", true);
pub static ATTENTION: Shader = shader!("attention", false);
pub static NTXENT: Shader = shader!("ntxent", false);
pub static HASHLOSS: Shader = shader!("hashloss", false);
pub static SINKHORN: Shader = shader!("sinkhorn", false);
pub static BALANCED: Shader = shader!("balanced", false);
pub static ADAMW: Shader = shader!("adamw", false);
pub static ELEMENTWISE: Shader = shader!("elementwise", false);

/// The prelude with subgroup reductions (needs `Features::SUBGROUP`).
pub static REDUCE_SUBGROUP: Shader = shader!("reduce_subgroup", false);
/// The prelude with workgroup-memory tree reductions (runs everywhere).
pub static REDUCE_WORKGROUP: Shader = shader!("reduce_workgroup", false);

/// Every kernel file (the preludes are not modules on their own).
pub static ALL: [&Shader; 11] = [
    &GEMM,
    &SOFTMAX,
    &LAYERNORM,
    &L2NORM,
    &ATTENTION,
    &NTXENT,
    &HASHLOSS,
    &SINKHORN,
    &BALANCED,
    &ADAMW,
    &ELEMENTWISE,
];

/// How row kernels reduce across their workgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// `subgroupAdd` / `subgroupMax`, then one slot per subgroup in workgroup memory.
    Subgroup,
    /// A log2(WG)-step tree in workgroup memory; no subgroup operations.
    Workgroup,
}

impl Shader {
    /// The WGSL text of the module: the file itself, or `reduction`'s prelude followed
    /// by the file for row kernels.
    pub fn module_source(&self, reduction: Reduction) -> String {
        if !self.needs_reduction {
            return self.source.to_owned();
        }
        let prelude = match reduction {
            Reduction::Subgroup => REDUCE_SUBGROUP.source,
            Reduction::Workgroup => REDUCE_WORKGROUP.source,
        };
        format!("{prelude}\n{}", self.source)
    }
}

/// How an entry point uses one storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

/// One entry point: its file, name, and storage bindings `(binding, access)` in the
/// order the host function passes its buffers. Binding 0 is always the uniform
/// parameter block.
#[derive(Debug)]
pub struct Kernel {
    pub shader: &'static Shader,
    pub entry: &'static str,
    pub bindings: &'static [(u32, Access)],
}

/// A compiled compute pipeline with its bind-group layout.
#[derive(Debug)]
pub(crate) struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// Identifies a pipeline: file, reduction flavour (row kernels only), entry point and
/// the values of its override constants (as f64 bits, so that the key is `Eq`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PipelineKey {
    shader: &'static str,
    reduction: Option<Reduction>,
    entry: &'static str,
    overrides: Vec<(&'static str, u64)>,
}

/// Shader modules and pipelines, each built once per device and shared afterwards.
#[derive(Debug, Default)]
pub(crate) struct PipelineCache {
    modules: Mutex<HashMap<(&'static str, Option<Reduction>), wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, Arc<Pipeline>>>,
}

impl PipelineCache {
    /// The pipeline for `kernel` with these override values, built on first use.
    /// `reduction` is ignored for kernels without a reduction prelude.
    pub fn get(
        &self,
        device: &wgpu::Device,
        kernel: &Kernel,
        reduction: Reduction,
        overrides: &[(&'static str, f64)],
    ) -> Arc<Pipeline> {
        let reduction = kernel.shader.needs_reduction.then_some(reduction);
        let key = PipelineKey {
            shader: kernel.shader.name,
            reduction,
            entry: kernel.entry,
            overrides: overrides
                .iter()
                .map(|&(name, v)| (name, v.to_bits()))
                .collect(),
        };
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pipelines.get(&key) {
            return Arc::clone(p);
        }
        let module = self.module(device, kernel.shader, reduction);
        let pipeline = Arc::new(build_pipeline(device, &module, kernel, overrides));
        pipelines.insert(key, Arc::clone(&pipeline));
        pipeline
    }

    /// How many distinct pipelines have been built so far.
    pub fn len(&self) -> usize {
        self.pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    fn module(
        &self,
        device: &wgpu::Device,
        shader: &'static Shader,
        reduction: Option<Reduction>,
    ) -> wgpu::ShaderModule {
        let mut modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
        modules
            .entry((shader.name, reduction))
            .or_insert_with(|| {
                let source = shader.module_source(reduction.unwrap_or(Reduction::Workgroup));
                device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(shader.name),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                })
            })
            .clone()
    }
}

fn build_pipeline(
    device: &wgpu::Device,
    module: &wgpu::ShaderModule,
    kernel: &Kernel,
    overrides: &[(&'static str, f64)],
) -> Pipeline {
    let uniform = wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    let storage = kernel
        .bindings
        .iter()
        .map(|&(binding, access)| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage {
                    read_only: access == Access::Read,
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        });
    let entries: Vec<_> = std::iter::once(uniform).chain(storage).collect();
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(kernel.entry),
        entries: &entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(kernel.entry),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(kernel.entry),
        layout: Some(&pipeline_layout),
        module,
        entry_point: Some(kernel.entry),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants: overrides,
            // Every kernel writes its workgroup memory before reading it.
            zero_initialize_workgroup_memory: false,
        },
        cache: None,
    });
    Pipeline { pipeline, layout }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgpu::naga;

    /// Parses and validates `source` as naga does inside `create_shader_module`, with
    /// the given device capabilities.
    fn validate(
        name: &str,
        source: &str,
        caps: naga::valid::Capabilities,
    ) -> std::result::Result<(), String> {
        let module = naga::front::wgsl::parse_str(source)
            .map_err(|e| e.emit_to_string_with_path(source, name))?;
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
            .validate(&module)
            .map(|_| ())
            .map_err(|e| e.emit_to_string_with_path(source, name))
    }

    #[test]
    fn every_shader_parses_and_validates() {
        let plain = naga::valid::Capabilities::default();
        let subgroups = plain | naga::valid::Capabilities::SUBGROUP;
        for shader in ALL {
            let name = format!("{}.wgsl", shader.name);
            if shader.needs_reduction {
                validate(&name, &shader.module_source(Reduction::Subgroup), subgroups)
                    .unwrap_or_else(|e| panic!("{name} with subgroups:\n{e}"));
                // The fallback must not need subgroups at all.
                validate(&name, &shader.module_source(Reduction::Workgroup), plain)
                    .unwrap_or_else(|e| panic!("{name} without subgroups:\n{e}"));
            } else {
                validate(&name, &shader.module_source(Reduction::Workgroup), plain)
                    .unwrap_or_else(|e| panic!("{name}:\n{e}"));
            }
        }
    }

    #[test]
    fn subgroup_prelude_is_rejected_without_the_capability() {
        let source = SOFTMAX.module_source(Reduction::Subgroup);
        assert!(
            validate(
                "softmax.wgsl",
                &source,
                naga::valid::Capabilities::default()
            )
            .is_err()
        );
    }

    #[test]
    fn every_file_in_shaders_is_listed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("shaders/ exists")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|f| f.strip_suffix(".wgsl").map(str::to_owned))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = ALL
            .iter()
            .chain([&&REDUCE_SUBGROUP, &&REDUCE_WORKGROUP])
            .map(|s| s.name.to_owned())
            .collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }
}
