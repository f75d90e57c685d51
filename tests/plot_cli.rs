//! `earmark plot` end to end on a small generated training log (with a resume that rewrote
//! steps) and its validation log: the files it writes, and its errors.

mod common;

use common::{TempDir, temp_dir};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const LOG_HEADER: &str = "step,lr,loss,l_c,l_h,l_r,grad_norm,seconds";
const VAL_HEADER: &str = "step,strict_clean,loose_clean,strict_n0,loose_n0,nonempty_share,entropy_bits,entropy_ceiling_bits,same_bucket,segments,seconds";

fn scratch(name: &str) -> TempDir {
    temp_dir(&format!("plot-{name}"))
}

/// A 200-step log whose steps 150..=180 were logged twice (resumed from step 150).
fn write_run(dir: &Path) -> PathBuf {
    let row = |s: u64, bump: f64| {
        let t = s as f64;
        let l_c = 4.0 * (-t / 80.0).exp() + 0.3 * ((t * 0.7).sin() + 1.0) + bump;
        format!(
            "{s},1e-4,{},{l_c},2.0,{},3.5,0.7\n",
            l_c + 2.0 + 1.0,
            1.0 - t / 400.0
        )
    };
    let mut log = format!("{LOG_HEADER}\n");
    (1..=180).for_each(|s| log.push_str(&row(s, 5.0)));
    (150..=200).for_each(|s| log.push_str(&row(s, 0.0)));
    let path = dir.join("m.safetensors.log.csv");
    std::fs::write(&path, log).unwrap();
    let mut val = format!("{VAL_HEADER}\n");
    for (s, h) in [(50, 9.5), (100, 10.4), (150, 11.0), (200, 11.2)] {
        val.push_str(&format!(
            "{s},0.5,0.7,0.2,0.4,0.05,{h},13.07,0.2,8000,2.5\n"
        ));
    }
    std::fs::write(dir.join("m.safetensors.val.csv"), val).unwrap();
    path
}

fn plot(args: &[&Path], font: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_earmark"));
    command.arg("plot").args(args);
    if let Some(font) = font {
        command.env("EARMARK_FONT", font);
    }
    command.output().unwrap()
}

fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn plot_draws_losses_validation_and_entropy() {
    let dir = scratch("run");
    let log = write_run(&dir);
    let out = dir.join("charts");
    let result = plot(&[&log, Path::new("-o"), &out], None);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&result.stdout);
    let files: Vec<&str> = stdout.lines().collect();
    assert_eq!(files.len(), 6, "{stdout}");
    for (stem, labels) in [
        (
            "losses",
            [
                "Training losses: m.safetensors",
                "L_c embeddings",
                "L_r buckets",
            ],
        ),
        (
            "validation",
            [
                "Validation hit rate: m.safetensors",
                "clean ±50 ms",
                "noise 0 dB ±150 ms",
            ],
        ),
        (
            "entropy",
            [
                "Bucket entropy of held-out segments: m.safetensors",
                "entropy",
                "ceiling min(K, log2 segments)",
            ],
        ),
    ] {
        let svg = out.join(format!("m.safetensors.{stem}.svg"));
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.trim_end().ends_with("</svg>"));
        for label in labels {
            assert!(
                text.contains(&format!(">{label}</text>")),
                "{label} not in {}",
                svg.display()
            );
        }
        assert_eq!(
            png_size(&out.join(format!("m.safetensors.{stem}.png"))),
            (900, 540)
        );
    }
    // The resumed steps were kept once: the x axis ends at step 200, not 180 + 51.
    let losses = std::fs::read_to_string(out.join("m.safetensors.losses.svg")).unwrap();
    assert!(losses.contains(">200</text>"));
}

#[test]
fn plot_without_a_font_writes_svgs_and_warns() {
    let dir = scratch("nofont");
    let log = write_run(&dir);
    std::fs::remove_file(dir.join("m.safetensors.val.csv")).unwrap();
    let result = plot(&[&log], Some("/nonexistent/font.ttf"));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("/nonexistent/font.ttf"),
        "{stderr}"
    );
    assert!(
        dir.join("m.safetensors.losses.svg").exists(),
        "written beside the log"
    );
    assert!(!dir.join("m.safetensors.losses.png").exists());
    assert!(
        !dir.join("m.safetensors.validation.svg").exists(),
        "no val.csv, no chart"
    );
}

#[test]
fn plot_names_the_file_and_line_of_bad_input() {
    let dir = scratch("bad");
    let log = dir.join("broken.log.csv");
    std::fs::write(
        &log,
        format!("{LOG_HEADER}\n1,1e-4,3,1,1,1,1,0.5\n2,1e-4,oops,1,1,1,1,0.5\n"),
    )
    .unwrap();
    let missing = dir.join("missing.log.csv");
    let val = dir.join("short.val.csv");
    std::fs::write(&val, "step,strict_clean,loose_clean\n100,0.5,0.6\n").unwrap();
    let good = write_run(&dir);
    for (args, expected) in [
        (
            vec![log.as_path()],
            vec!["broken.log.csv", "line 3", "`oops` is not a number"],
        ),
        (vec![missing.as_path()], vec!["missing.log.csv"]),
        (
            vec![good.as_path(), Path::new("--val"), val.as_path()],
            vec!["short.val.csv", "no `entropy_bits` column"],
        ),
    ] {
        let result = plot(&args, None);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{args:?}: {stderr}");
        for e in expected {
            assert!(stderr.contains(e), "{args:?}: `{e}` not in {stderr}");
        }
    }
}
