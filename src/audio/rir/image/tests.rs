use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn room() -> Shoebox {
    Shoebox {
        dims_m: [4.0, 5.5, 3.0],
        source_m: [1.0, 1.5, 1.2],
        mic_m: [3.1, 3.9, 1.6],
    }
}

/// Every image within `max_dist_m`, by the plain triple loop over a cube of lattice cells
/// that surely holds them (the slow twin of `for_each_image`).
fn images_brute_force(room: &Shoebox, max_dist_m: f64) -> Vec<(f64, u32)> {
    let n_max = (max_dist_m / 2.0 / room.dims_m.iter().fold(f32::MAX, |m, &d| m.min(d)) as f64)
        .ceil() as i64
        + 2;
    let mut out = Vec::new();
    for nx in -n_max..=n_max {
        for ny in -n_max..=n_max {
            for nz in -n_max..=n_max {
                for q in 0..8 {
                    let (n, q) = ([nx, ny, nz], [q & 1, (q >> 1) & 1, q >> 2]);
                    let mut d2 = 0.0;
                    let mut reflections = 0;
                    for i in 0..3 {
                        let (l, s, m) = (
                            room.dims_m[i] as f64,
                            room.source_m[i] as f64,
                            room.mic_m[i] as f64,
                        );
                        let x = (1 - 2 * q[i]) as f64 * s + 2.0 * n[i] as f64 * l;
                        d2 += (x - m) * (x - m);
                        reflections += ((n[i] - q[i]).abs() + n[i].abs()) as u32;
                    }
                    if d2 <= max_dist_m * max_dist_m {
                        out.push((d2.sqrt(), reflections));
                    }
                }
            }
        }
    }
    out
}

fn sorted(mut v: Vec<(f64, u32)>) -> Vec<(f64, u32)> {
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    v
}

#[test]
fn image_enumeration_matches_the_brute_force_lattice() {
    let room = room();
    let mut fast = Vec::new();
    for_each_image(&room, 25.0, |d, r| fast.push((d, r)));
    let fast = sorted(fast);
    let slow = sorted(images_brute_force(&room, 25.0));
    assert_eq!(fast.len(), slow.len());
    for (f, s) in fast.iter().zip(&slow) {
        assert!((f.0 - s.0).abs() < 1e-9 && f.1 == s.1, "{f:?} vs {s:?}");
    }
    // The direct path comes first; the six first-order images are the source mirrored in
    // each wall.
    assert_eq!(fast[0].1, 0);
    assert!((fast[0].0 - room.distance_m()).abs() < 1e-9);
    let mut first_order: Vec<f64> = fast.iter().filter(|f| f.1 == 1).map(|f| f.0).collect();
    let mut mirrors: Vec<f64> = (0..6)
        .map(|w| {
            let (axis, far) = (w / 2, w % 2 == 1);
            let mut image = room.source_m.map(|v| v as f64);
            let l = room.dims_m[axis] as f64;
            image[axis] = if far {
                2.0 * l - image[axis]
            } else {
                -image[axis]
            };
            (0..3)
                .map(|i| (image[i] - room.mic_m[i] as f64).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    first_order.sort_by(f64::total_cmp);
    mirrors.sort_by(f64::total_cmp);
    assert_eq!(first_order.len(), 6);
    assert!(
        first_order
            .iter()
            .zip(&mirrors)
            .all(|(a, b)| (a - b).abs() < 1e-9),
        "{first_order:?} vs {mirrors:?}"
    );
}

#[test]
fn image_sum_matches_exact_sinc_placement() {
    // The slow twin: brute-force images, each placed with the windowed sinc evaluated at its
    // exact (unrounded) delay.
    let room = room();
    let fs = SAMPLE_RATE as f64;
    let (beta, until_s, fade_s, len) = (0.8, 0.03, 0.01, 800);
    let fast = image_sum(&room, beta, until_s, fade_s, len);
    let d0 = room.distance_m();
    let mut slow = vec![0.0f64; len];
    for (dist, reflections) in images_brute_force(&room, d0 + until_s * SOUND_SPEED_M_S) {
        let t = (dist - d0) / SOUND_SPEED_M_S;
        let fade = if t > until_s - fade_s {
            (FRAC_PI_2 * (t - (until_s - fade_s)) / fade_s).cos()
        } else {
            1.0
        };
        let amp = fade * beta.powi(reflections as i32) / (4.0 * PI * dist);
        let pos = SINC_HALF as f64 + t * fs;
        for (i, v) in slow.iter_mut().enumerate() {
            *v += amp * windowed_sinc(i as f64 - pos);
        }
    }
    let direct_amp = 1.0 / (4.0 * PI * d0);
    for (i, (f, s)) in fast.iter().zip(&slow).enumerate() {
        assert!((f - s).abs() < 0.01 * direct_amp, "[{i}] {f} vs {s}");
    }
    assert!(
        (fast[SINC_HALF] - direct_amp).abs() < 1e-12,
        "the direct path sits on a sample"
    );
}

#[test]
fn eyring_coefficient_inverts_the_formula() {
    let room = room();
    let (v, s) = (room.volume_m3(), room.surface_m2());
    assert!((v - 66.0).abs() < 1e-9 && (s - 2.0 * (22.0 + 16.5 + 12.0)).abs() < 1e-9);
    for rt60 in [0.2f32, 0.5, 0.8] {
        let beta = room.eyring_reflection(rt60);
        let alpha = 1.0 - beta * beta;
        let back = 24.0 * LN_10 * v / (-SOUND_SPEED_M_S * s * (1.0 - alpha).ln());
        assert!((back - rt60 as f64).abs() < 1e-9, "{back} vs {rt60}");
        assert!(beta > 0.0 && beta < 1.0);
    }
}

#[test]
fn highpass_removes_dc_and_passes_the_band() {
    let gain = |freq: f64| {
        let w = 2.0 * PI * freq / SAMPLE_RATE as f64;
        let mut x: Vec<f64> = (0..16000).map(|n| (w * n as f64).cos()).collect();
        allen_berkley_highpass(&mut x, 100.0);
        x[8000..].iter().fold(0.0f64, |m, v| m.max(v.abs()))
    };
    assert!(gain(0.0) < 1e-3, "DC gain {}", gain(0.0));
    assert!(gain(20.0) < 0.2, "20 Hz gain {}", gain(20.0));
    for f in [500.0, 2000.0, 7000.0] {
        assert!((gain(f) - 1.0).abs() < 0.05, "{f} Hz gain {}", gain(f));
    }
}

#[test]
fn generated_rooms_respect_their_ranges() {
    let mut rng = StdRng::seed_from_u64(61);
    for _ in 0..200 {
        let r = Shoebox::random(&mut rng);
        for i in 0..3 {
            assert!((ROOM_MIN_M[i]..ROOM_MAX_M[i]).contains(&r.dims_m[i]));
            for p in [r.source_m, r.mic_m] {
                assert!(
                    p[i] >= WALL_CLEARANCE_M.min(HEIGHT_RANGE_M.0)
                        && p[i] <= r.dims_m[i] - WALL_CLEARANCE_M
                );
            }
        }
        assert!(r.distance_m() >= MIN_SOURCE_MIC_M as f64);
    }
}

#[test]
fn direct_path_leads_and_mostly_dominates() {
    let mut rng = StdRng::seed_from_u64(62);
    let mut strongest_is_direct = 0;
    for i in 0..40 {
        let rt60 = 0.2 + 0.6 * (i as f32 / 39.0);
        let room = Shoebox::random(&mut rng);
        let rir = image_source_rir(&room, rt60, &ImageMethod::default(), &mut rng);
        assert_eq!(rir.direct, SINC_HALF);
        assert_eq!(
            rir.samples.len(),
            SINC_HALF + (rt60 as f64 * SAMPLE_RATE as f64).ceil() as usize + 1
        );
        assert_eq!(rir.samples[rir.direct], 1.0);
        // Before the direct path there is only the sinc pre-ringing of close reflections.
        assert!(rir.samples[..rir.direct].iter().all(|v| v.abs() < 0.1));
        assert!(
            rir.samples.iter().all(|v| v.is_finite() && v.abs() < 1.5),
            "room {room:?}, RT60 {rt60}"
        );
        let strongest = rir
            .samples
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        strongest_is_direct += (strongest == rir.direct) as usize;
    }
    // Coinciding reflections (floor + ceiling when the two heights add up to the room's)
    // can now and then top the direct path.
    assert!(
        strongest_is_direct >= 36,
        "direct path strongest in only {strongest_is_direct} of 40 rooms"
    );
}

#[test]
fn generated_rt60_is_within_15_percent_of_the_target() {
    let mut worst = (0.0f32, 0.0f32, 0.0f32);
    for (k, target) in [0.2f32, 0.4, 0.5, 0.7, 0.8].into_iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(100 + k as u64);
        for _ in 0..4 {
            let rir = Rir::generate(target, &mut rng);
            let got = rir
                .rt60_s
                .expect("a generated RIR decays by more than 25 dB");
            let err = (got / target - 1.0).abs();
            if err > worst.0 {
                worst = (err, got, target);
            }
        }
    }
    assert!(
        worst.0 < 0.15,
        "worst RT60 error {:.1} %: {} s for {} s",
        100.0 * worst.0,
        worst.1,
        worst.2
    );
}

#[test]
fn diffuse_tail_continues_the_image_sum() {
    // The hybrid against images all the way, in one room. Images alone decay more slowly
    // than Eyring's diffuse-field rate (the uniform-wall shoebox is not diffuse: they
    // measure 0.48 s here for a 0.4 s target), so the tail is checked against the images
    // where it takes over, and against the target for the decay.
    let room = room();
    let rt60 = 0.4;
    let images_only = ImageMethod {
        diffuse_after_db: None,
        ..ImageMethod::default()
    };
    let full = image_source_rir(&room, rt60, &images_only, &mut StdRng::seed_from_u64(63));
    let hybrid = image_source_rir(
        &room,
        rt60,
        &ImageMethod::default(),
        &mut StdRng::seed_from_u64(63),
    );
    let got = hybrid.rt60_s.unwrap();
    assert!(
        (got / rt60 - 1.0).abs() < 0.1,
        "hybrid RT60 {got} s for {rt60} s"
    );
    // Energy over the 50 ms before the crossover (RT60/4 = 0.1 s) must be the images' own,
    // and over the 50 ms after it within 3 dB of them.
    let tail_start = SINC_HALF + SAMPLE_RATE as usize / 10;
    let span = SAMPLE_RATE as usize / 20;
    let energy = |x: &[f32], from: usize| {
        x[from..from + span]
            .iter()
            .map(|&v| v as f64 * v as f64)
            .sum::<f64>()
    };
    let fade = (TAIL_CROSSFADE_S * SAMPLE_RATE as f64) as usize;
    let before = energy(&hybrid.samples, tail_start - fade - span)
        / energy(&full.samples, tail_start - fade - span);
    assert!(
        (before - 1.0).abs() < 1e-6,
        "before the crossover: ratio {before}"
    );
    let after_db =
        10.0 * (energy(&hybrid.samples, tail_start) / energy(&full.samples, tail_start)).log10();
    assert!(
        after_db.abs() < 3.0,
        "after the crossover: hybrid − images = {after_db:.2} dB"
    );
}
