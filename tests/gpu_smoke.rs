//! The GPU smoke test CI relies on: open the adapter (Vulkan, never a silent GL
//! fallback), run a kernel from shaders/ and compare it with the CPU. With
//! `REQUIRE_GPU` set a missing adapter fails; otherwise the test prints SKIP.
#![cfg(feature = "gpu")]

use earmark::gpu::{Gemm, Gpu, GpuBuffer, gemm};

/// C = A · B by the triple loop (A: m×k, B: k×n).
fn matmul(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
        }
    }
    c
}

#[test]
fn gemm_shader_runs_on_the_vulkan_adapter_and_matches_the_cpu() {
    let gpu = match Gpu::new() {
        Ok(gpu) => gpu,
        Err(e) if std::env::var_os("REQUIRE_GPU").is_none() => {
            eprintln!("SKIP: no GPU adapter ({e})");
            return;
        }
        Err(e) => panic!("REQUIRE_GPU is set but there is no GPU adapter: {e}"),
    };
    eprintln!(
        "adapter: {} ({:?}, subgroups {:?}, f16 {})",
        gpu.adapter_name(),
        gpu.backend(),
        gpu.subgroup_sizes(),
        gpu.has_f16()
    );
    assert_eq!(
        gpu.backend(),
        wgpu::Backend::Vulkan,
        "expected Vulkan (a GL fallback?)"
    );

    // Integer-valued inputs make every product and sum exact in f32.
    let (m, n, k) = (70, 9, 33);
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 - 3.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 - 2.0).collect();
    let ga = GpuBuffer::from_slice(&gpu, &a).unwrap();
    let gb = GpuBuffer::from_slice(&gpu, &b).unwrap();
    let gc = GpuBuffer::zeros(&gpu, m * n).unwrap();
    let mut batch = gpu.batch();
    gemm(&mut batch, &Gemm::new(m, n, k), &ga, &gb, None, &gc).unwrap();
    batch.submit();
    assert_eq!(gc.read(&gpu).unwrap(), matmul(&a, &b, m, n, k));

    // The pipeline was built once and is reused; another specialisation adds one.
    assert_eq!(gpu.pipeline_count(), 1);
    let mut batch = gpu.batch();
    gemm(
        &mut batch,
        &Gemm::new(m, n, k).accumulate(),
        &ga,
        &gb,
        None,
        &gc,
    )
    .unwrap();
    batch.submit();
    assert_eq!(gpu.pipeline_count(), 1);
    let want: Vec<f32> = matmul(&a, &b, m, n, k).iter().map(|v| 2.0 * v).collect();
    assert_eq!(gc.read(&gpu).unwrap(), want);
}
