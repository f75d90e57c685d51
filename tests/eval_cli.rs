//! `earmark eval` end to end on a tiny catalogue: two synthetic tracks indexed with a
//! random `small` model, queries built and scored, then re-scored from the written
//! truth CSV and query WAVs.

mod common;

use common::temp_dir;

use std::path::Path;
use std::process::Command;

use earmark::audio::{WavSample, write_wav};
use earmark::index::{LibraryBuilder, LibraryConfig};
use earmark::model::{Model, ModelConfig};

const MODEL_SEED: u64 = 7;

fn chord(t: usize, seconds: f32) -> Vec<f32> {
    let base = 220.0 * (1.0 + t as f32 * 0.37);
    (0..(seconds * 16_000.0) as usize)
        .map(|i| {
            let s = i as f32 / 16_000.0;
            let tone: f32 = [1.0, 1.5, 2.25]
                .iter()
                .map(|m| (std::f32::consts::TAU * base * m * s).sin())
                .sum();
            0.2 * tone * (1.0 + 0.5 * (std::f32::consts::TAU * 0.7 * s).sin())
        })
        .collect()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

fn eval(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_earmark"))
        .arg("eval")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "earmark eval {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("paper FE+HT"), "{stdout}");
}

#[test]
fn eval_builds_scores_and_rescores_from_truth() {
    let dir = temp_dir("eval-cli");
    let music = dir.join("music");
    std::fs::create_dir_all(music.join("album")).unwrap();
    let model = Model::new(ModelConfig::SMALL, MODEL_SEED);
    let mut builder = LibraryBuilder::new(LibraryConfig::new(model.identity(), 16));
    for t in 0..2 {
        let name = format!("album/track{t}.wav");
        let audio = chord(t, 5.0);
        write_wav(music.join(&name), &audio, 1, 16_000, WavSample::I16).unwrap();
        let e = model.embed_audio(&audio, 10).unwrap();
        builder
            .add_track(&name, 5.0, t as u64 + 1, &e.embeddings, &e.logits)
            .unwrap();
    }
    let library = dir.join("lib.earmark");
    builder.build().save(&library).unwrap();
    let (lib, out) = (library.to_str().unwrap(), dir.join("out"));
    let seed = MODEL_SEED.to_string();
    eval(&[
        "-l",
        lib,
        "--music",
        music.to_str().unwrap(),
        "--queries",
        "1",
        "--lengths",
        "1",
        "--methods",
        "exhaustive,ht",
        "--random-model",
        &seed,
        "--write-queries",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(lines(&out.join("truth.csv")), 1 + 15);
    assert_eq!(lines(&out.join("answers.csv")), 1 + 2 * 15);
    assert_eq!(lines(&out.join("table.csv")), 1 + 2 * 15);
    assert!(out.join("queries/q000014.wav").exists());
    assert!(
        std::fs::read_to_string(out.join("results.json"))
            .unwrap()
            .contains("\"cells\": [")
    );
    for chart in ["hit_rate_noise", "hit_rate_noise_reverb", "hit_rate_reverb"] {
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).unwrap();
        assert!(svg.contains(">1 s exhaustive</text>") && svg.contains(">1 s paper FE+HT</text>"));
        assert!(out.join(format!("{chart}.png")).exists(), "{chart}.png");
    }

    let again = dir.join("again");
    let truth = out.join("truth.csv");
    eval(&[
        "-l",
        lib,
        "--truth",
        truth.to_str().unwrap(),
        "--methods",
        "exhaustive,ht",
        "--random-model",
        &seed,
        "--out",
        again.to_str().unwrap(),
    ]);
    // The same queries and the same model name the same tracks (the start and score may
    // move in the last digits: the re-read audio is not bit-identical to the rendered).
    let strip = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| l.split(',').take(8).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(
        strip(&out.join("answers.csv")),
        strip(&again.join("answers.csv"))
    );
}
