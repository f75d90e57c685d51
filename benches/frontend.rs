//! Front-end throughput on a 3-minute generated signal, in seconds of audio per second of
//! wall time (criterion's "elem/s" with one element = one second of audio = × real time).
//!
//! - `log-mel 16 kHz`: peak normalisation + STFT + mel + log on 16 kHz mono (target ≥ 2000×
//!   real time on one core);
//! - `resample 44.1→16 kHz`: the polyphase Kaiser resampler alone;
//! - `resample + log-mel from 44.1 kHz`: both, as `load_mono_16k` then `log_mel` do after
//!   decoding.
//!
//! Run: `cargo bench --bench frontend` (add `-- --measurement-time 5` for a quicker run).

use std::f64::consts::TAU;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use earmark::audio::{LogMel, Resampler, SAMPLE_RATE};

/// Length of the benchmark signal in seconds.
const SECONDS: u64 = 180;

/// A music-like test signal: a few drifting harmonics plus a little deterministic noise.
fn signal(rate: u32) -> Vec<f32> {
    let n = SECONDS as usize * rate as usize;
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 220.0 * (1.0 + 0.5 * (TAU * 0.05 * t).sin());
            let tonal: f64 = (1..=6)
                .map(|h| (TAU * f0 * h as f64 * t).sin() / h as f64)
                .sum();
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let hiss = (noise >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
            (0.3 * tonal + 0.05 * hiss) as f32
        })
        .collect()
}

fn frontend(c: &mut Criterion) {
    let at_16k = signal(SAMPLE_RATE);
    let at_44k = signal(44_100);
    let log_mel = LogMel::new();
    let resampler = Resampler::new(44_100, SAMPLE_RATE).unwrap();

    let mut group = c.benchmark_group("frontend 3 min (elem = 1 s of audio)");
    group.throughput(Throughput::Elements(SECONDS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("log-mel 16 kHz", |b| {
        b.iter(|| log_mel.compute(black_box(&at_16k)).unwrap())
    });
    group.bench_function("resample 44.1→16 kHz", |b| {
        b.iter(|| resampler.process(black_box(&at_44k)))
    });
    group.bench_function("resample + log-mel from 44.1 kHz", |b| {
        b.iter(|| {
            log_mel
                .compute(&resampler.process(black_box(&at_44k)))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, frontend);
criterion_main!(benches);
