use super::*;
use crate::audio::noise::{NoiseKind, generate};

/// A small generated bank: 12 RIRs over 0.2–0.8 s, one 1 s clip per noise kind.
fn small_config() -> AugmentConfig {
    AugmentConfig {
        generated_rirs: 12,
        generated_noises_per_kind: 1,
        generated_noise_s: 1.0,
        ..AugmentConfig::default()
    }
}

fn augmenter(seed: u64) -> Augmenter {
    Augmenter::new(small_config(), vec![], vec![], seed).unwrap()
}

/// 3 s of "music": babble stands in for a programme signal with level changes.
fn track() -> Vec<f32> {
    generate(
        NoiseKind::Babble,
        3 * SAMPLE_RATE as usize,
        &mut StdRng::seed_from_u64(90),
    )
}

#[test]
fn generated_banks_work_out_of_the_box_and_are_deterministic() {
    let a = augmenter(1);
    assert_eq!(a.noises().len(), NoiseKind::ALL.len());
    assert_eq!(a.rirs().len(), 12);
    for (i, rir) in a.rirs().iter().enumerate() {
        let rt60 = rir.rt60_s.expect("generated RIRs have an RT60");
        // Stratified targets: RIR i aims at the i-th twelfth of 0.2–0.8 s.
        let (lo, hi) = (0.2 + 0.05 * i as f32, 0.25 + 0.05 * i as f32);
        assert!(rt60 > 0.85 * lo && rt60 < 1.15 * hi, "RIR {i}: RT60 {rt60}");
    }
    let b = augmenter(1);
    assert_eq!(a.noises(), b.noises());
    assert_eq!(a.rirs(), b.rirs());
    assert_ne!(a.rirs(), augmenter(2).rirs());
}

#[test]
fn draws_cover_the_three_kinds_and_the_snr_set_uniformly() {
    let a = augmenter(3);
    let mut rng = StdRng::seed_from_u64(4);
    let mut kinds = [0usize; 3];
    let mut snrs = [0usize; 5];
    let draws = 3000;
    for _ in 0..draws {
        let snr = match a.draw(&mut rng) {
            Distortion::Noise { snr_db, .. } => {
                kinds[0] += 1;
                Some(snr_db)
            }
            Distortion::Reverb { .. } => {
                kinds[1] += 1;
                None
            }
            Distortion::NoiseReverb { snr_db, .. } => {
                kinds[2] += 1;
                Some(snr_db)
            }
            Distortion::Clean => panic!("training draws always distort"),
        };
        if let Some(s) = snr {
            let k = [0.0, 5.0, 10.0, 15.0, 20.0]
                .iter()
                .position(|&v| v == s)
                .expect("SNR from the set");
            snrs[k] += 1;
        }
    }
    // Binomial standard deviations: ~26 of 1000 per kind, ~28 of 400 per SNR.
    assert!(
        kinds.iter().all(|&k| k.abs_diff(draws / 3) < 100),
        "{kinds:?}"
    );
    let with_noise = kinds[0] + kinds[2];
    assert!(
        snrs.iter().all(|&k| k.abs_diff(with_noise / 5) < 100),
        "{snrs:?}"
    );
}

#[test]
fn noise_reverb_mixes_the_reverberant_parts_at_the_snr() {
    let a = augmenter(5);
    let x = &track()[..20_000];
    let context = 4_000;
    for snr in [0.0f32, 5.0, 10.0, 15.0, 20.0] {
        let d = Distortion::NoiseReverb {
            noise: 3,
            rir: 7,
            snr_db: snr,
        };
        let mut rng = StdRng::seed_from_u64(6);
        let y = a.apply_with_context(&d, x, context, &mut rng.clone());
        // The same steps by hand, from the same RNG state.
        let rir = &a.rirs()[7];
        let noise = fit_noise(&a.noises()[3], x.len(), &mut rng);
        let (wet, wet_noise) = (
            reverberate(x, &rir.samples, rir.direct),
            reverberate(&noise, &rir.samples, rir.direct),
        );
        let mut want = mix_at_snr(&wet[context..], &wet_noise[context..], snr).unwrap();
        // The SNR holds between the reverberant parts, over the output window.
        let added: Vec<f32> = want
            .iter()
            .zip(&wet[context..])
            .map(|(m, s)| m - s)
            .collect();
        let measured = snr_db(&wet[context..], &added);
        assert!(
            (measured - snr as f64).abs() < 0.1,
            "{measured} dB for {snr} dB"
        );
        peak_normalize(&mut want);
        assert_eq!(y.len(), want.len());
        assert!(
            y.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-4),
            "SNR {snr}"
        );
    }
}

#[test]
fn rendered_reverb_equals_the_reverb_of_the_whole_track() {
    let a = augmenter(7);
    let audio = track();
    let mut rng = StdRng::seed_from_u64(8);
    for (rir, start) in [(0usize, 20_000isize), (11, 30_000), (5, 100)] {
        let d = Distortion::Reverb { rir };
        let got = a.render(&d, &audio, start, 16_000, &mut rng);
        let r = &a.rirs()[rir];
        let whole = reverberate(&audio, &r.samples, r.direct);
        let mut want = whole[start as usize..start as usize + 16_000].to_vec();
        peak_normalize(&mut want);
        assert!(
            got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-4),
            "RIR {rir} at {start}"
        );
    }
}

#[test]
fn positives_are_shifted_windows_with_peak_one() {
    let a = augmenter(9);
    let audio = track();
    let mut rng = StdRng::seed_from_u64(10);
    let mut shifts = Vec::new();
    for _ in 0..30 {
        let p = a.positive(&audio, 16_000, 16_000, &mut rng);
        assert_eq!(p.samples.len(), 16_000);
        assert!(p.shift.unsigned_abs() <= a.max_shift() && a.max_shift() == 800);
        let peak = p.samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 1.0).abs() < 1e-6 && p.samples.iter().all(|v| v.is_finite()));
        shifts.push(p.shift);
    }
    assert!(shifts.iter().any(|&s| s < 0) && shifts.iter().any(|&s| s > 0));
    // A clean render is the shifted window itself.
    let mut want = cut_window(&audio, 16_000 + 123, 16_000);
    peak_normalize(&mut want);
    assert_eq!(
        a.render(&Distortion::Clean, &audio, 16_000 + 123, 16_000, &mut rng),
        want
    );
    // Same RNG state, same positive.
    let p = a.positive(&audio, 5_000, 16_000, &mut StdRng::seed_from_u64(11));
    assert_eq!(
        p,
        a.positive(&audio, 5_000, 16_000, &mut StdRng::seed_from_u64(11))
    );
}

#[test]
fn a_silent_window_comes_back_silent() {
    let a = augmenter(12);
    assert_eq!(
        a.apply(
            &Distortion::Reverb { rir: 0 },
            &[0.0; 500],
            &mut StdRng::seed_from_u64(0)
        ),
        vec![0.0; 500]
    );
    let silence = vec![0.0f32; 4_000];
    let mut rng = StdRng::seed_from_u64(13);
    for d in [
        Distortion::Noise {
            noise: 0,
            snr_db: 0.0,
        },
        Distortion::NoiseReverb {
            noise: 1,
            rir: 2,
            snr_db: 5.0,
        },
    ] {
        let y = a.apply(&d, &silence, &mut rng);
        // Exactly zero, or (noise + reverb) the −140 dB crosstalk of the paired FFT.
        assert!(
            y.iter().all(|v| v.abs() < 1e-5) && mean_power(&y) <= SILENT_POWER,
            "{d:?}"
        );
    }
}

#[test]
fn conditions_pick_rooms_of_the_right_rt60() {
    let a = augmenter(14);
    let mut rng = StdRng::seed_from_u64(15);
    for target in [0.2f32, 0.4, 0.5, 0.7, 0.8] {
        let Distortion::Reverb { rir } =
            a.draw_condition(Condition::Reverb { rt60_s: target }, &mut rng)
        else {
            panic!("a reverb condition gives a reverb");
        };
        let got = a.rirs()[rir].rt60_s.unwrap();
        // 12 RIRs over 0.6 s: the closest is within about one slice (0.05 s).
        assert!((got - target).abs() < 0.08, "{got} s for {target} s");
    }
    let d = a.draw_condition(
        Condition::NoiseReverb {
            snr_db: 10.0,
            rt60_s: 0.5,
        },
        &mut rng,
    );
    assert!(matches!(d, Distortion::NoiseReverb { snr_db: 10.0, .. }));
    assert_eq!(
        a.draw_condition(Condition::Clean, &mut rng),
        Distortion::Clean
    );
}

#[test]
fn unusable_clips_and_settings_are_errors() {
    let cfg = small_config;
    let err = Augmenter::new(cfg(), vec![vec![0.5; 10], vec![0.0; 10]], vec![], 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("noise clip 1"), "{err}");
    let err = Augmenter::new(cfg(), vec![vec![0.5; 10]], vec![vec![1.0, f32::NAN]], 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("RIR 0") && err.contains("non-finite"), "{err}");
    let err = Augmenter::new(
        AugmentConfig {
            snrs_db: vec![],
            ..cfg()
        },
        vec![],
        vec![],
        0,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("SNR"), "{err}");
    let err = Augmenter::new(
        AugmentConfig {
            rt60_range_s: (0.8, 0.2),
            ..cfg()
        },
        vec![],
        vec![],
        0,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("RT60"), "{err}");
    // Given clips and RIRs are used as they are.
    let a = Augmenter::new(
        cfg(),
        vec![vec![0.5, -0.5]],
        vec![vec![0.0, 1.0, 0.5, 0.25]],
        0,
    )
    .unwrap();
    assert_eq!(a.noises().len(), 1);
    // The RIR's leading zero is trimmed: the direct path moves to index 0.
    assert_eq!(a.rirs()[0].samples, vec![1.0, 0.5, 0.25]);
    assert_eq!(a.rirs()[0].direct, 0);
}

#[test]
fn a_room_bank_joins_measured_rirs_and_covers_the_rt60_range() {
    let bank = generate_room_bank(&AugmentConfig::default(), 6, 3);
    assert_eq!(bank.len(), 6);
    assert_eq!(bank, generate_room_bank(&AugmentConfig::default(), 6, 3));
    assert_ne!(bank, generate_room_bank(&AugmentConfig::default(), 6, 4));
    // As files given with --rir would be: prepared as measured, RT60 estimated from them.
    let mut rirs = vec![Rir::generate(0.3, &mut StdRng::seed_from_u64(5)).samples];
    rirs.extend(bank);
    let a = Augmenter::new(small_config(), vec![], rirs, 1).unwrap();
    assert_eq!(a.rirs().len(), 7);
    let rt60s: Vec<f32> = a.rirs()[1..].iter().map(|r| r.rt60_s.unwrap()).collect();
    // Stratified over 0.2–0.8 s: the first sixth near its bottom, the last near its top.
    assert!(rt60s[0] < 0.35 && rt60s[5] > 0.6, "{rt60s:?}");
}

#[test]
fn noise_by_duration_draws_clips_in_proportion_to_their_length() {
    // One clip of 1 s and one of 3 s: uniform draws split 1:1, by duration 1:3.
    let mut rng = StdRng::seed_from_u64(1);
    let clips = vec![
        generate(NoiseKind::White, 16_000, &mut rng),
        generate(NoiseKind::Pink, 48_000, &mut rng),
    ];
    let share_of_long = |by_duration: bool| {
        let config = AugmentConfig {
            noise_by_duration: by_duration,
            ..small_config()
        };
        let a = Augmenter::new(config, clips.clone(), vec![], 0).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let (mut long, mut total) = (0, 0);
        for _ in 0..6000 {
            match a.draw(&mut rng) {
                Distortion::Noise { noise, .. } | Distortion::NoiseReverb { noise, .. } => {
                    total += 1;
                    long += usize::from(noise == 1);
                }
                _ => {}
            }
        }
        long as f64 / total as f64
    };
    let (uniform, by_duration) = (share_of_long(false), share_of_long(true));
    assert!((uniform - 0.5).abs() < 0.03, "uniform: {uniform}");
    assert!(
        (by_duration - 0.75).abs() < 0.03,
        "by duration: {by_duration}"
    );
}

#[test]
fn colouring_tilts_and_shapes_the_spectrum_deterministically() {
    use crate::audio::noise::tests::{band_power, power_spectrum};
    let white = generate(NoiseKind::White, 32_000, &mut StdRng::seed_from_u64(4));
    let frame = 512;
    // Low (100–500 Hz) over high (2–6 kHz) band power in dB, per colouring seed.
    let balance = |x: &[f32]| {
        let psd = power_spectrum(x, frame);
        let low = band_power(&psd, frame, 100.0, 500.0) / 400.0;
        let high = band_power(&psd, frame, 2000.0, 6000.0) / 4000.0;
        10.0 * (low / high).log10()
    };
    let white_balance = balance(&white);
    assert!(white_balance.abs() < 1.5, "white: {white_balance} dB");
    let balances: Vec<f64> = (0..40)
        .map(|seed| {
            let mut x = white.clone();
            colour(&mut x, &mut StdRng::seed_from_u64(seed));
            let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(x.iter().all(|v| v.is_finite()) && (peak - 1.0).abs() < 1e-6);
            let mut again = white.clone();
            colour(&mut again, &mut StdRng::seed_from_u64(seed));
            assert_eq!(x, again, "seed {seed}");
            balance(&x)
        })
        .collect();
    // Both darker and brighter colourings, each by a clear margin.
    let (min, max) = balances
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &b| (lo.min(b), hi.max(b)));
    assert!(min < -6.0 && max > 6.0, "balances {min:.1} … {max:.1} dB");
}

#[test]
fn layering_adds_the_second_clip_at_its_relative_level() {
    let mut rng = StdRng::seed_from_u64(5);
    let a = generate(NoiseKind::White, 16_000, &mut rng);
    let b = generate(NoiseKind::Brown, 16_000, &mut rng);
    for seed in 0..20 {
        let mut x = a.clone();
        let mut draw = StdRng::seed_from_u64(seed);
        layer(&mut x, &b, &mut draw);
        let level_db = StdRng::seed_from_u64(seed).random_range(LAYER_LEVEL_DB.0..LAYER_LEVEL_DB.1);
        // x = (a + s·b) / peak with s set so that P(s·b) / P(a) = 10^(level/10): the
        // component along b carries that share of the power.
        let along = |u: &[f32], v: &[f32]| {
            u.iter()
                .zip(v)
                .map(|(&p, &q)| p as f64 * q as f64)
                .sum::<f64>()
        };
        let coef_b = along(&x, &b) / along(&b, &b);
        let coef_a = along(&x, &a) / along(&a, &a);
        let measured = 10.0
            * ((coef_b * coef_b * mean_power(&b)) / (coef_a * coef_a * mean_power(&a))).log10();
        assert!(
            (measured - level_db).abs() < 0.5,
            "seed {seed}: {measured} dB, wanted {level_db}"
        );
    }
    // A silent second clip changes nothing.
    let mut x = a.clone();
    layer(&mut x, &vec![0.0; 16_000], &mut rng);
    assert_eq!(x, a);
}

#[test]
fn only_training_pairs_vary_their_noise() {
    let config = |vary_noise| AugmentConfig {
        vary_noise,
        ..small_config()
    };
    let plain = Augmenter::new(config(false), vec![], vec![], 1).unwrap();
    let varied = Augmenter::new(config(true), vec![], vec![], 1).unwrap();
    let audio = track();
    // Evaluation renders are the same with or without the option ...
    for seed in 0..8 {
        let d = plain.draw(&mut StdRng::seed_from_u64(seed));
        let render =
            |a: &Augmenter| a.render(&d, &audio, 8000, 16_000, &mut StdRng::seed_from_u64(seed));
        assert_eq!(render(&plain), render(&varied), "seed {seed}");
    }
    // ... while training positives with noise differ, deterministically for a seed.
    let mut differ = 0;
    for seed in 0..8 {
        let positive =
            |a: &Augmenter| a.positive(&audio, 8000, 16_000, &mut StdRng::seed_from_u64(seed));
        let (p, v) = (positive(&plain), positive(&varied));
        assert_eq!(v, positive(&varied));
        assert_eq!(p.distortion, v.distortion);
        if let Distortion::Noise { .. } | Distortion::NoiseReverb { .. } = v.distortion {
            differ += usize::from(p.samples != v.samples);
        } else {
            assert_eq!(p.samples, v.samples, "seed {seed}");
        }
    }
    assert!(differ > 0);
}
