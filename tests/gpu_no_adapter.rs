//! Without a usable Vulkan driver, `Gpu::new()` returns `Error::Gpu` with advice — it
//! does not panic or hang. The Vulkan loader reads its environment once per process,
//! so the check runs in a child process of this test binary whose VK_DRIVER_FILES
//! names a file that does not exist.
#![cfg(feature = "gpu")]

use earmark::Error;
use earmark::gpu::Gpu;
use std::process::Command;

const CHILD: &str = "EARMARK_GPU_TEST_CHILD";
const MISSING_ICD: &str = "/nonexistent/earmark-missing-icd.json";
/// Printed by the child after its checks, so that the parent knows they ran.
const DONE: &str = "no-adapter checks passed";

#[test]
fn missing_vulkan_driver_is_an_error_not_a_panic() {
    if std::env::var_os(CHILD).is_some() {
        let err = Gpu::new().expect_err("no Vulkan ICD, yet an adapter was found");
        let Error::Gpu(message) = &err else {
            panic!("expected Error::Gpu, got {err:?}")
        };
        assert!(message.contains("mesa-vulkan-drivers"), "{message}");
        println!("{err}");
        println!("{DONE}");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "missing_vulkan_driver_is_an_error_not_a_panic",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("WGPU_BACKEND", "vulkan")
        .env("VK_DRIVER_FILES", MISSING_ICD)
        .env("VK_ICD_FILENAMES", MISSING_ICD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(DONE),
        "the child did not run the checks:\n{stdout}\n{stderr}"
    );
}
