//! Cost of one training-time validation (`earmark::train::validate`): the `small` preset
//! (random weights: the cost does not depend on them), 4 held-out tracks of 60 s of
//! synthetic chords (2 364 database segments), 100 queries per condition × 6 conditions.
//!
//! Measured (`cargo bench --no-default-features --bench validate -- --measurement-time 20`,
//! 2 cores shared with other builds, load ≈ 7): 6.65 s per validation (6.33–6.96 s), the
//! database embedding being most of it; a held-out set of 8 621 segments (issue 5's four
//! tracks) would take about 3.6× the database part.

use criterion::{Criterion, criterion_group, criterion_main};
use earmark::audio::augment::{AugmentConfig, Augmenter};
use earmark::model::{Model, ModelConfig};
use earmark::train::validate::validate;

/// Track t: three partials of a chord at a track-specific pitch, slow tremolo, 16 kHz.
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

fn bench(c: &mut Criterion) {
    let model = Model::new(ModelConfig::SMALL, 1);
    let tracks: Vec<Vec<f32>> = (0..4).map(|t| chord(t, 60.0)).collect();
    let augmenter = Augmenter::new(AugmentConfig::default(), vec![], vec![], 2).unwrap();
    let v = validate(&model, &tracks, &augmenter, 100, 3).unwrap();
    println!("{v}");
    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    group.bench_function("small_4x60s_100q", |b| {
        b.iter(|| validate(&model, &tracks, &augmenter, 100, 3).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
