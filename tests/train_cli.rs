//! `earmark train` end to end on generated audio: a short run writes the model, the CSV log
//! and a checkpoint; `--resume` continues it; Ctrl-C stops it with a checkpoint.

mod common;

use common::{earmark, stderr, temp_dir};
use earmark::audio::{WavSample, write_wav};
use std::path::{Path, PathBuf};
use std::process::Command;

const RATE: usize = 16_000;

/// Four 4-second tracks of gliding tones (distinct per track) in `dir/music`.
fn music(dir: &Path) -> PathBuf {
    let music = dir.join("music");
    std::fs::create_dir_all(&music).unwrap();
    for k in 0..4 {
        let samples: Vec<f32> = (0..4 * RATE)
            .map(|i| {
                let t = i as f64 / RATE as f64;
                let f = 200.0 + 150.0 * k as f64 + 80.0 * t;
                (0.3 * (2.0 * std::f64::consts::PI * f * t).sin()) as f32
            })
            .collect();
        let path = music.join(format!("track{k}.wav"));
        write_wav(&path, &samples, 1, RATE as u32, WavSample::I16).unwrap();
    }
    music
}

/// Arguments of a tiny run of `steps` steps writing `out`.
fn train_args(music: &Path, out: &Path, steps: &str) -> Vec<String> {
    [
        "train",
        "--music",
        music.to_str().unwrap(),
        "--holdout",
        "track3",
        "--steps",
        steps,
        "--batch",
        "4",
        "--queue",
        "8",
        "--validate-every",
        "0",
        "--checkpoint-every",
        "1",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

/// Runs `earmark` with `args` (from [`train_args`], perhaps extended).
fn train(args: &[String]) -> std::process::Output {
    earmark(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Step numbers of the rows of a training log.
fn logged_steps(log: &Path) -> Vec<u64> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect()
}

#[test]
fn trains_logs_checkpoints_and_resumes() {
    let dir = temp_dir("train-resume");
    let music = music(&dir);
    let out = dir.join("m.safetensors");
    let args = train_args(&music, &out, "2");
    let o = train(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("held out: track3.wav"),
        "{}",
        stderr(&o)
    );
    assert!(out.exists() && dir.join("m.safetensors.ckpt").exists());
    let log = dir.join("m.safetensors.log.csv");
    assert_eq!(logged_steps(&log), [1, 2]);

    let mut args = train_args(&music, &out, "4");
    args.extend([
        "--resume".into(),
        dir.join("m.safetensors.ckpt").to_str().unwrap().into(),
    ]);
    let o = train(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("resuming at step 2"), "{}", stderr(&o));
    assert_eq!(logged_steps(&log), [1, 2, 3, 4]);

    // A checkpoint of another preset is refused with the file named.
    let mut args = train_args(&music, &out, "4");
    args.extend([
        "--preset".into(),
        "paper".into(),
        "--resume".into(),
        dir.join("m.safetensors.ckpt").to_str().unwrap().into(),
    ]);
    let o = train(&args);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("m.safetensors.ckpt"), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn ctrl_c_writes_a_checkpoint_and_stops() {
    let dir = temp_dir("train-interrupt");
    let music = music(&dir);
    let out = dir.join("m.safetensors");
    let mut args = train_args(&music, &out, "100000");
    // Checkpoints only at the end or on interruption, so the file proves the handler ran.
    let every = args.iter().position(|a| a == "--checkpoint-every").unwrap() + 1;
    args[every] = "0".into();
    let child = Command::new(env!("CARGO_BIN_EXE_earmark"))
        .args(&args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = dir.join("m.safetensors.log.csv");
    let started = std::time::Instant::now();
    while logged_steps(&log).len() < 2 {
        assert!(
            started.elapsed().as_secs() < 120,
            "training never logged two steps"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert!(
        !o.status.success(),
        "an interrupted run does not report success"
    );
    let err = stderr(&o);
    assert!(err.contains("interrupted at step"), "{err}");
    let ckpt = dir.join("m.safetensors.ckpt");
    assert!(ckpt.exists(), "{err}");
    // The checkpoint holds the last logged step, and the run resumes from it.
    let last = *logged_steps(&log).last().unwrap();
    assert!(
        err.contains(&format!("interrupted at step {last}:")),
        "{err}"
    );
    let mut args = train_args(&music, &out, &(last + 1).to_string());
    args.extend(["--resume".into(), ckpt.to_str().unwrap().into()]);
    let o = train(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("resuming at step {last}")),
        "{}",
        stderr(&o)
    );
}

/// Largest absolute difference between the parameters of two model files.
fn max_param_diff(a: &Path, b: &Path) -> f32 {
    let (a, b) = (
        earmark::model::weights::load(a).unwrap(),
        earmark::model::weights::load(b).unwrap(),
    );
    a.tensors()
        .iter()
        .flat_map(|t| {
            let u = b.get(&t.name).expect("same parameters");
            t.data.iter().zip(&u.data).map(|(x, y)| (x - y).abs())
        })
        .fold(0.0, f32::max)
}

#[test]
fn init_fine_tunes_from_a_model_with_a_fresh_optimiser() {
    let dir = temp_dir("train-init");
    let music = music(&dir);
    let base = dir.join("base.safetensors");
    let args = train_args(&music, &base, "2");
    let o = train(&args);
    assert!(o.status.success(), "{}", stderr(&o));

    // One step from the base model (another seed) moves each weight by about the learning
    // rate at most (Adam's first step), far less than a fresh initialisation differs.
    let seeded = |out: &Path| {
        let mut args = train_args(&music, out, "1");
        let seed = args.iter().position(|a| a == "--seed").unwrap() + 1;
        args[seed] = "4".into();
        args
    };
    let tuned = dir.join("tuned.safetensors");
    let mut args = seeded(&tuned);
    args.extend(["--init".into(), base.to_str().unwrap().into()]);
    let o = train(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(logged_steps(&dir.join("tuned.safetensors.log.csv")), [1]);
    let moved = max_param_diff(&base, &tuned);
    assert!(moved > 0.0 && moved < 2e-3, "moved {moved}");

    let fresh = dir.join("fresh.safetensors");
    let o = train(&seeded(&fresh));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(max_param_diff(&base, &fresh) > 10.0 * moved);

    // --init and --resume together are refused.
    args.extend(["--resume".into(), base.to_str().unwrap().into()]);
    let o = train(&args);
    assert!(!o.status.success());
}

/// `dir/name/noise.wav`: 2 s of a pseudo-random hiss; returns the folder.
fn noise_folder(dir: &Path, name: &str, seed: u32) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let mut x = seed;
    let samples: Vec<f32> = (0..2 * RATE)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 8) as f32 / (1u32 << 24) as f32 * 0.2 - 0.1
        })
        .collect();
    write_wav(
        folder.join("noise.wav"),
        &samples,
        1,
        RATE as u32,
        WavSample::I16,
    )
    .unwrap();
    folder
}

#[test]
fn validation_noise_comes_from_its_own_folder() {
    let dir = temp_dir("train-val-noise");
    let music = music(&dir);
    let out = dir.join("m.safetensors");
    let noise = noise_folder(&dir, "noise", 1);
    let with = |extra: &[&str]| {
        let mut args = train_args(&music, &out, "1");
        let validate = args.iter().position(|a| a == "--validate-every").unwrap();
        args[validate + 1] = "1".into();
        args.extend(["--noise".into(), noise.to_str().unwrap().into()]);
        args.extend(extra.iter().map(|a| a.to_string()));
        train(&args)
    };
    // Without --val-noise, validation reuses the training noise and says so.
    let o = with(&["--noise-by-duration"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--val-noise"), "{}", stderr(&o));

    let unseen = noise_folder(&dir, "unseen", 2);
    let o = with(&["--val-noise", unseen.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("note: validation"), "{}", stderr(&o));
    let val = std::fs::read_to_string(dir.join("m.safetensors.val.csv")).unwrap();
    assert_eq!(val.lines().count(), 2, "{val}");

    // A folder without audio is an error naming it.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = with(&["--val-noise", empty.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("empty"), "{}", stderr(&o));
}
