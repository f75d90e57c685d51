//! Augmentation costs: RIR generation (image method + diffuse tail) per RT60, FFT
//! reverb of a 5 s query with a 1 s RIR, one training positive, noise generation, and the
//! generated default banks an `Augmenter` builds at start-up.
//!
//! cargo bench --no-default-features --bench augment

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use earmark::audio::augment::{AugmentConfig, Augmenter, SAMPLE_RATE, fft_convolve};
use earmark::audio::noise::{NoiseKind, generate};
use earmark::audio::rir::Rir;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// RT60s of the poster's reverb conditions, shortest to longest.
const RT60S: [f32; 3] = [0.2, 0.5, 0.8];

fn rir_generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("rir_generate");
    for rt60 in RT60S {
        // A fresh random room per iteration: the cost depends on the room's volume.
        let mut rng = StdRng::seed_from_u64(1);
        group.bench_with_input(BenchmarkId::from_parameter(rt60), &rt60, |b, &rt60| {
            b.iter(|| black_box(Rir::generate(rt60, &mut rng)))
        });
    }
    group.finish();
}

fn reverb(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let x: Vec<f32> = (0..5 * SAMPLE_RATE as usize)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let h: Vec<f32> = (0..SAMPLE_RATE as usize)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let mut group = c.benchmark_group("fft_convolve");
    group.throughput(Throughput::Elements(x.len() as u64));
    group.bench_function("5s_x_1s", |b| b.iter(|| black_box(fft_convolve(&x, &h))));
    group.finish();
}

fn positive(c: &mut Criterion) {
    let config = AugmentConfig {
        generated_rirs: 20,
        generated_noise_s: 5.0,
        ..AugmentConfig::default()
    };
    let aug = Augmenter::new(config, vec![], vec![], 3).unwrap();
    let track = generate(
        NoiseKind::Babble,
        10 * SAMPLE_RATE as usize,
        &mut StdRng::seed_from_u64(4),
    );
    let mut rng = StdRng::seed_from_u64(5);
    c.bench_function("positive_1s", |b| {
        b.iter(|| {
            black_box(aug.positive(
                &track,
                4 * SAMPLE_RATE as usize,
                SAMPLE_RATE as usize,
                &mut rng,
            ))
        })
    });
}

fn noise(c: &mut Criterion) {
    let len = 10 * SAMPLE_RATE as usize;
    let mut group = c.benchmark_group("noise_10s");
    group.throughput(Throughput::Elements(len as u64));
    for kind in NoiseKind::ALL {
        let mut rng = StdRng::seed_from_u64(6);
        group.bench_function(kind.name(), |b| {
            b.iter(|| black_box(generate(kind, len, &mut rng)))
        });
    }
    group.finish();
}

fn default_banks(c: &mut Criterion) {
    let mut group = c.benchmark_group("augmenter_default_banks");
    group.sample_size(10);
    group.bench_function("200_rirs_10_noises", |b| {
        b.iter(|| black_box(Augmenter::new(AugmentConfig::default(), vec![], vec![], 7).unwrap()))
    });
    group.finish();
}

criterion_group!(
    benches,
    rir_generation,
    reverb,
    positive,
    noise,
    default_banks
);
criterion_main!(benches);
