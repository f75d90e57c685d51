//! Room impulse responses of shoebox rooms by the image-source method (Allen & Berkley,
//! "Image method for efficiently simulating small-room acoustics", JASA 1979), with a
//! diffuse late tail.
//!
//! Every wall gets the same pressure reflection coefficient β, chosen from the target
//! RT60 by Eyring's formula. Image sources are summed up to the time the decay reaches
//! [`ImageMethod::diffuse_after_db`] (15 dB by default); after that the response continues
//! as Gaussian noise whose energy follows the same room's statistical decay. This hybrid is
//! the one of gpuRIR (Diaz-Guerra et al. 2021): the number of images grows with the cube of
//! the response length — a 0.8 s response of a 3 × 3 × 2.5 m room needs ~4 million — while
//! the late field is diffuse and only its decay rate and level matter.
//!
//! The tail also makes the RT60 come out right. Images alone in a uniform-wall shoebox
//! decay more slowly than Eyring's diffuse-field rate (the field is not diffuse: sound
//! travelling along the long axis meets fewer walls; Lehmann & Johansson 2008): measured
//! by Schroeder integration they ran 3–56 % longer than the target over 30 random rooms at
//! RT60 0.2–0.8 s, while the hybrid stayed within ±10 %. The tail starts at the
//! statistical level, which the image sum exceeds by 0–2.5 dB at the crossover for the
//! same reason. With `diffuse_after_db: None` the images run to the end (slow, ~30–60×).

use std::f64::consts::{FRAC_PI_2, LN_10, PI};
use std::sync::OnceLock;

use rand::Rng;

use super::{DecayFit, Rir, estimate_rt60};
use crate::audio::augment::SAMPLE_RATE;
use crate::audio::noise::gaussian;

/// Speed of sound in air at 20 °C (m/s).
pub const SOUND_SPEED_M_S: f64 = 343.0;

/// A rectangular room with a point source and a point microphone inside, in metres;
/// the room spans `[0, dims_m[i]]` on each axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shoebox {
    pub dims_m: [f32; 3],
    pub source_m: [f32; 3],
    pub mic_m: [f32; 3],
}

/// Room size range of [`Shoebox::random`] (m): living rooms and offices to small halls.
const ROOM_MIN_M: [f32; 3] = [3.0, 3.0, 2.5];
const ROOM_MAX_M: [f32; 3] = [10.0, 8.0, 4.0];
/// Source and microphone keep this far from the side walls (m) ...
const WALL_CLEARANCE_M: f32 = 0.5;
/// ... stand at head or loudspeaker height (m) ...
const HEIGHT_RANGE_M: (f32, f32) = (1.0, 2.0);
/// ... and at least this far apart (m).
const MIN_SOURCE_MIC_M: f32 = 1.0;

impl Shoebox {
    /// A random room of 3–10 × 3–8 × 2.5–4 m with source and microphone at 1–2 m height,
    /// ≥ 0.5 m from the walls and ≥ 1 m apart.
    pub fn random<R: Rng + ?Sized>(rng: &mut R) -> Shoebox {
        let dims_m: [f32; 3] =
            std::array::from_fn(|i| rng.random_range(ROOM_MIN_M[i]..ROOM_MAX_M[i]));
        let (z_lo, z_hi) = (
            HEIGHT_RANGE_M.0,
            HEIGHT_RANGE_M.1.min(dims_m[2] - WALL_CLEARANCE_M),
        );
        let point = |rng: &mut R| {
            [
                rng.random_range(WALL_CLEARANCE_M..dims_m[0] - WALL_CLEARANCE_M),
                rng.random_range(WALL_CLEARANCE_M..dims_m[1] - WALL_CLEARANCE_M),
                rng.random_range(z_lo..z_hi),
            ]
        };
        let source_m = point(rng);
        for _ in 0..64 {
            let mic_m = point(rng);
            let room = Shoebox {
                dims_m,
                source_m,
                mic_m,
            };
            if room.distance_m() >= MIN_SOURCE_MIC_M as f64 {
                return room;
            }
        }
        // Only a source near the middle of a small room can miss 64 times; use opposite
        // corners of the allowed region, ≥ 2.8 m apart.
        let c = WALL_CLEARANCE_M;
        Shoebox {
            dims_m,
            source_m: [c, c, z_lo],
            mic_m: [dims_m[0] - c, dims_m[1] - c, z_lo],
        }
    }

    /// Volume (m³).
    pub fn volume_m3(&self) -> f64 {
        self.dims_m.iter().map(|&d| d as f64).product()
    }

    /// Total wall area (m²).
    pub fn surface_m2(&self) -> f64 {
        let [x, y, z] = self.dims_m.map(|d| d as f64);
        2.0 * (x * y + y * z + x * z)
    }

    /// Source–microphone distance (m).
    pub fn distance_m(&self) -> f64 {
        (0..3)
            .map(|i| (self.source_m[i] as f64 - self.mic_m[i] as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    /// The wall pressure reflection coefficient β that gives the room `rt60_s` by Eyring's
    /// formula RT60 = 24·ln10·V / (−c·S·ln(1 − α)), with energy absorption α = 1 − β²:
    /// β = exp(−12·ln10·V / (c·S·RT60)). Eyring rather than Sabine because it holds for
    /// absorbent rooms too (α never exceeds 1) and matches the image method's
    /// mean-free-path decay.
    pub fn eyring_reflection(&self, rt60_s: f32) -> f64 {
        (-12.0 * LN_10 * self.volume_m3() / (SOUND_SPEED_M_S * self.surface_m2() * rt60_s as f64))
            .exp()
    }
}

/// Settings of [`image_source_rir`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageMethod {
    /// Decay (dB below the start) after which images stop and the diffuse tail takes over
    /// (default 15 dB, gpuRIR's recommendation); `None`: images to the end.
    pub diffuse_after_db: Option<f32>,
    /// Decay (dB) at the end of the response; its length after the direct path is
    /// RT60·length_db/60 (default 60 dB: one RT60).
    pub length_db: f32,
    /// Cutoff (Hz) of Allen & Berkley's DC-removing high-pass (default 100 Hz, as in
    /// Habets' `rir_generator`).
    pub highpass_hz: f32,
}

impl Default for ImageMethod {
    fn default() -> Self {
        ImageMethod {
            diffuse_after_db: Some(15.0),
            length_db: 60.0,
            highpass_hz: 100.0,
        }
    }
}

/// Half-width (samples) of the windowed-sinc fractional delay: each image is spread over
/// 2·SINC_HALF = 32 samples (2 ms). Habets' rir_generator uses 4 ms; 2 ms keeps the
/// response flat within 0.1 dB up to 7 kHz (−1.8 dB at 7.5 kHz for a half-sample delay)
/// at half the cost.
pub const SINC_HALF: usize = 16;
/// Fractional positions tabulated per sample: delays are rounded to 1/512 sample
/// (0.12 µs, 0.04 mm), a kernel error below 0.4 % of the image's amplitude.
const SINC_PHASES: usize = 512;
/// Crossfade (s) from the image sum into the diffuse tail (at most half the image part,
/// for RT60s below 80 ms).
const TAIL_CROSSFADE_S: f64 = 0.01;

/// A room impulse response of `room` with reverberation time `rt60_s`, at [`SAMPLE_RATE`].
///
/// Layout: the direct path is at index [`SINC_HALF`] with value 1 (the propagation delay
/// is removed, and the whole response is shifted by a fraction of a sample so that the
/// direct path falls on a sample); the response runs RT60·length_db/60 seconds past it.
/// Images are placed with a Hann-windowed sinc (fractional delay), amplitude
/// β^reflections / (4π·distance); the diffuse tail (if any) has, per sample, the expected
/// image energy c / (4π·V·fs) · exp(−6·ln10·t / RT60) at time t since emission; the
/// result goes through Allen & Berkley's high-pass. `rt60_s` of the returned [`Rir`] is
/// the T20 estimate measured on it. `rng` drives only the diffuse tail.
pub fn image_source_rir<R: Rng + ?Sized>(
    room: &Shoebox,
    rt60_s: f32,
    method: &ImageMethod,
    rng: &mut R,
) -> Rir {
    assert!(
        rt60_s > 0.0 && rt60_s.is_finite(),
        "image_source_rir: RT60 must be positive and finite, got {rt60_s}"
    );
    let fs = SAMPLE_RATE as f64;
    let rt60 = rt60_s as f64;
    let direct = SINC_HALF;
    let length_s = rt60 * method.length_db as f64 / 60.0;
    let len = direct + (length_s * fs).ceil() as usize + 1;
    let diffuse_s = method
        .diffuse_after_db
        .map(|db| rt60 * db as f64 / 60.0)
        .filter(|&t| t < length_s);
    let fade_s = diffuse_s.map_or(0.0, |t| TAIL_CROSSFADE_S.min(t / 2.0));

    let beta = room.eyring_reflection(rt60_s);
    let d0 = room.distance_m();
    let mut h = image_sum(room, beta, diffuse_s.unwrap_or(length_s), fade_s, len);

    if let Some(tail_s) = diffuse_s {
        // Energy decay rate: 60 dB (a factor 10⁶) per RT60.
        let k = 6.0 * LN_10 / rt60;
        let density = SOUND_SPEED_M_S / (4.0 * PI * room.volume_m3() * fs);
        let fade_start = tail_s - fade_s;
        let first = direct + (fade_start * fs).ceil() as usize;
        for (j, v) in h.iter_mut().enumerate().skip(first) {
            let t = (j - direct) as f64 / fs;
            let fade_in = if t < tail_s {
                (FRAC_PI_2 * (t - fade_start) / fade_s).sin()
            } else {
                1.0
            };
            let t_emission = t + d0 / SOUND_SPEED_M_S;
            *v += fade_in * (density * (-k * t_emission).exp()).sqrt() * gaussian(rng);
        }
    }

    allen_berkley_highpass(&mut h, method.highpass_hz as f64);
    let scale = 1.0 / h[direct].abs();
    let samples: Vec<f32> = h.iter().map(|&v| (v * scale) as f32).collect();
    let rt60_s = estimate_rt60(&samples[direct..], DecayFit::T20);
    Rir {
        samples,
        direct,
        rt60_s,
    }
}

/// The sum of image sources arriving within `until_s` of the direct path, placed with the
/// windowed sinc; those within the last `fade_s` fade out (cos) for the tail's fade-in.
/// Shape (len,), direct path at [`SINC_HALF`].
fn image_sum(room: &Shoebox, beta: f64, until_s: f64, fade_s: f64, len: usize) -> Vec<f64> {
    let fs = SAMPLE_RATE as f64;
    let d0 = room.distance_m();
    let mut h = vec![0.0f64; len];
    for_each_image(room, d0 + until_s * SOUND_SPEED_M_S, |dist, reflections| {
        let t = (dist - d0) / SOUND_SPEED_M_S;
        let mut amp = beta.powi(reflections as i32) / (4.0 * PI * dist);
        if fade_s > 0.0 && t > until_s - fade_s {
            amp *= (FRAC_PI_2 * (t - (until_s - fade_s)) / fade_s).cos();
        }
        add_fractional(&mut h, SINC_HALF as f64 + t * fs, amp);
    });
    h
}

/// Calls `f(distance_m, reflections)` for every image source within `max_dist_m` of the
/// microphone. Allen & Berkley's lattice: on each axis, image n ∈ ℤ with parity q ∈ {0, 1}
/// sits at (1 − 2q)·s + 2·n·L and has |n − q| + |n| wall reflections. The loops prune on
/// the partial distance, axis by axis.
pub(crate) fn for_each_image(room: &Shoebox, max_dist_m: f64, mut f: impl FnMut(f64, u32)) {
    let r2 = max_dist_m * max_dist_m;
    // Per axis: the offsets (image − mic) and reflection counts of the images that can lie
    // within the radius.
    let axes: [Vec<(f64, u32)>; 3] = std::array::from_fn(|i| {
        let (l, s, m) = (
            room.dims_m[i] as f64,
            room.source_m[i] as f64,
            room.mic_m[i] as f64,
        );
        let n_max = (max_dist_m / (2.0 * l)).ceil() as i64 + 1;
        (-n_max..=n_max)
            .flat_map(|n| {
                [0i64, 1].map(|q| {
                    (
                        (1 - 2 * q) as f64 * s + 2.0 * n as f64 * l - m,
                        ((n - q).abs() + n.abs()) as u32,
                    )
                })
            })
            .filter(|&(d, _)| d * d <= r2)
            .collect()
    });
    for &(dx, rx) in &axes[0] {
        let x2 = dx * dx;
        for &(dy, ry) in &axes[1] {
            let xy2 = x2 + dy * dy;
            if xy2 > r2 {
                continue;
            }
            for &(dz, rz) in &axes[2] {
                let d2 = xy2 + dz * dz;
                if d2 <= r2 {
                    f(d2.sqrt(), rx + ry + rz);
                }
            }
        }
    }
}

/// Hann-windowed sinc: sinc(x)·½(1 + cos(πx / SINC_HALF)) for |x| < SINC_HALF, else 0.
fn windowed_sinc(x: f64) -> f64 {
    if x.abs() >= SINC_HALF as f64 {
        return 0.0;
    }
    let sinc = if x == 0.0 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    };
    sinc * 0.5 * (1.0 + (PI * x / SINC_HALF as f64).cos())
}

/// Kernel table: row p holds the taps for a fractional delay f = p / SINC_PHASES, tap j at
/// sample offset j − SINC_HALF + 1 with value windowed_sinc(j − SINC_HALF + 1 − f).
/// Shape (SINC_PHASES, 2·SINC_HALF).
fn sinc_table() -> &'static [[f64; 2 * SINC_HALF]] {
    static TABLE: OnceLock<Vec<[f64; 2 * SINC_HALF]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..SINC_PHASES)
            .map(|p| {
                let frac = p as f64 / SINC_PHASES as f64;
                std::array::from_fn(|j| windowed_sinc(j as f64 - SINC_HALF as f64 + 1.0 - frac))
            })
            .collect()
    })
}

/// Adds `amp`·δ(t − pos) to `h`, band-limited by the tabulated windowed sinc; taps that
/// fall outside `h` are dropped.
fn add_fractional(h: &mut [f64], pos: f64, amp: f64) {
    let mut whole = pos.floor() as isize;
    let mut phase = ((pos - pos.floor()) * SINC_PHASES as f64).round() as usize;
    if phase == SINC_PHASES {
        whole += 1;
        phase = 0;
    }
    let first = whole - SINC_HALF as isize + 1;
    for (j, &tap) in sinc_table()[phase].iter().enumerate() {
        let i = first + j as isize;
        if i >= 0 && (i as usize) < h.len() {
            h[i as usize] += amp * tap;
        }
    }
}

/// Allen & Berkley's high-pass, which removes the DC that a sum of positive images carries:
/// zeros at z = 1 and z = R, poles R·e^{±jW}, with W = 2π·cutoff/fs and R = e^{−W}
/// (the form of Habets' rir_generator). In place; unit gain at high frequencies.
fn allen_berkley_highpass(h: &mut [f64], cutoff_hz: f64) {
    let w = 2.0 * PI * cutoff_hz / SAMPLE_RATE as f64;
    let r = (-w).exp();
    let (b1, b2, a1) = (2.0 * r * w.cos(), -r * r, -(1.0 + r));
    let (mut y1, mut y2) = (0.0, 0.0);
    for v in h.iter_mut() {
        let y0 = b1 * y1 + b2 * y2 + *v;
        *v = y0 + a1 * y1 + r * y2;
        y2 = y1;
        y1 = y0;
    }
}

#[cfg(test)]
mod tests;
