//! Generated background noise, for training and evaluation when no recorded noise is at
//! hand (DESIGN §4): coloured noise (white, pink, brown) and two synthetic scenes closer to
//! real ambience — multi-talker babble, and mains hum with broadband rumble and clatter.
//!
//! Every generator returns mono f32 at [`SAMPLE_RATE`] Hz, is deterministic for a given RNG
//! state, has zero mean and is peak-normalised to 1 (mixing rescales it to the wanted SNR,
//! so only its spectral and temporal shape matter).

mod scene;

pub use scene::{babble, hum_clatter};

use rand::Rng;

use super::augment::SAMPLE_RATE;

/// The kinds of noise [`generate`] can make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoiseKind {
    /// Gaussian white noise: flat spectrum.
    White,
    /// 1/f noise (Voss–McCartney): equal power per octave.
    Pink,
    /// 1/f² noise (leaky integral of white noise): −6 dB per octave.
    Brown,
    /// Several synthetic talkers at once (see [`babble`]).
    Babble,
    /// Mains hum, room rumble and random clatter (see [`hum_clatter`]).
    HumClatter,
}

impl NoiseKind {
    /// Every kind, in a fixed order (used to build a generated noise bank).
    pub const ALL: [NoiseKind; 5] = [
        NoiseKind::White,
        NoiseKind::Pink,
        NoiseKind::Brown,
        NoiseKind::Babble,
        NoiseKind::HumClatter,
    ];

    /// A short lower-case name, for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::White => "white",
            NoiseKind::Pink => "pink",
            NoiseKind::Brown => "brown",
            NoiseKind::Babble => "babble",
            NoiseKind::HumClatter => "hum-clatter",
        }
    }
}

/// `len` samples of `kind` noise at [`SAMPLE_RATE`] Hz, zero mean, peak 1 (all zeros if
/// `len` is 0).
pub fn generate<R: Rng + ?Sized>(kind: NoiseKind, len: usize, rng: &mut R) -> Vec<f32> {
    match kind {
        NoiseKind::White => white(len, rng),
        NoiseKind::Pink => pink(len, rng),
        NoiseKind::Brown => brown(len, rng),
        NoiseKind::Babble => babble(len, rng),
        NoiseKind::HumClatter => hum_clatter(len, rng),
    }
}

/// Gaussian white noise, `len` samples, zero mean, peak 1.
pub fn white<R: Rng + ?Sized>(len: usize, rng: &mut R) -> Vec<f32> {
    let x: Vec<f64> = (0..len).map(|_| gaussian(rng)).collect();
    finish(x)
}

/// Rows of the Voss–McCartney generator. Row k is redrawn every 2^(k+1) samples, so 16 rows
/// carry the 1/f slope down to 16 000 / 2^17 ≈ 0.12 Hz, far below audio.
const PINK_ROWS: usize = 16;

/// Pink (1/f) noise by the Voss–McCartney algorithm: the sum of `PINK_ROWS` sample-and-hold
/// white sources, row k redrawn when the sample counter has k trailing zero bits, plus one
/// white source redrawn every sample for the top octave. `len` samples, zero mean, peak 1.
pub fn pink<R: Rng + ?Sized>(len: usize, rng: &mut R) -> Vec<f32> {
    let mut rows = [0.0f64; PINK_ROWS];
    for row in &mut rows {
        *row = rng.random_range(-1.0..1.0);
    }
    let mut sum: f64 = rows.iter().sum();
    let mut x = Vec::with_capacity(len);
    for n in 0..len {
        let row = (n + 1).trailing_zeros() as usize;
        if row < PINK_ROWS {
            sum -= rows[row];
            rows[row] = rng.random_range(-1.0..1.0);
            sum += rows[row];
        }
        x.push(sum + rng.random_range(-1.0..1.0));
    }
    finish(x)
}

/// Pole of the brown-noise integrator. A pure integrator wanders without bound; this leak
/// puts the corner at (1 − 0.995)·16 000 / 2π ≈ 13 Hz, below the mel filterbank's lowest band.
const BROWN_LEAK: f64 = 0.995;

/// Brown (1/f²) noise: white noise through the leaky integrator `y[n] = a·y[n−1] + w[n]`,
/// a = `BROWN_LEAK`. `len` samples, zero mean, peak 1.
pub fn brown<R: Rng + ?Sized>(len: usize, rng: &mut R) -> Vec<f32> {
    let mut y = 0.0;
    let x: Vec<f64> = (0..len)
        .map(|_| {
            y = BROWN_LEAK * y + gaussian(rng);
            y
        })
        .collect();
    finish(x)
}

/// One standard normal draw (Box–Muller; the second value of the pair is dropped to keep
/// the generator stateless).
pub(crate) fn gaussian<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // 1 − U lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Removes the mean and scales the peak to 1 (leaves an all-zero signal as it is).
fn finish(mut x: Vec<f64>) -> Vec<f32> {
    if x.is_empty() {
        return Vec::new();
    }
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let peak = x.iter().fold(0.0f64, |m, &v| m.max((v - mean).abs()));
    let scale = if peak > 0.0 { 1.0 / peak } else { 0.0 };
    for v in &mut x {
        *v = (*v - mean) * scale;
    }
    x.into_iter().map(|v| v as f32).collect()
}

/// A two-pole band-pass filter (RBJ cookbook, constant 0 dB peak gain) in transposed direct
/// form II with f64 state. Its centre can glide: [`Biquad::tune`] changes the coefficients
/// and keeps the state.
#[derive(Clone, Debug)]
pub(crate) struct Biquad {
    b0: f64,
    a1: f64,
    a2: f64,
    s1: f64,
    s2: f64,
}

impl Biquad {
    /// A band-pass centred on `freq_hz` with quality factor `q` (centre / −3 dB bandwidth).
    pub(crate) fn bandpass(freq_hz: f64, q: f64) -> Self {
        let mut f = Biquad {
            b0: 0.0,
            a1: 0.0,
            a2: 0.0,
            s1: 0.0,
            s2: 0.0,
        };
        f.tune(freq_hz, q);
        f
    }

    /// Moves the centre to `freq_hz` (clamped below Nyquist) with quality factor `q`.
    pub(crate) fn tune(&mut self, freq_hz: f64, q: f64) {
        let nyquist = SAMPLE_RATE as f64 / 2.0;
        let w0 = std::f64::consts::TAU * freq_hz.clamp(1.0, 0.98 * nyquist) / SAMPLE_RATE as f64;
        let alpha = w0.sin() / (2.0 * q);
        let a0 = 1.0 + alpha;
        self.b0 = alpha / a0;
        self.a1 = -2.0 * w0.cos() / a0;
        self.a2 = (1.0 - alpha) / a0;
    }

    /// Filters one sample. The numerator is b0·(1 − z⁻²): b1 = 0 and b2 = −b0.
    pub(crate) fn process(&mut self, x: f64) -> f64 {
        let y = self.b0 * x + self.s1;
        self.s1 = -self.a1 * y + self.s2;
        self.s2 = -self.b0 * x - self.a2 * y;
        y
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rustfft::{FftPlanner, num_complex::Complex};

    /// Welch power spectrum: mean |FFT|² of Hann-windowed, non-overlapping frames of
    /// `frame` samples; bin k is k·16 000/frame Hz. Shape (frame/2 + 1,).
    pub(crate) fn power_spectrum(x: &[f32], frame: usize) -> Vec<f64> {
        let fft = FftPlanner::<f64>::new().plan_fft_forward(frame);
        let mut psd = vec![0.0; frame / 2 + 1];
        let frames = x.len() / frame;
        for chunk in x.chunks_exact(frame) {
            let mut buf: Vec<Complex<f64>> = chunk
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / frame as f64).cos();
                    Complex::new(v as f64 * w, 0.0)
                })
                .collect();
            fft.process(&mut buf);
            for (p, c) in psd.iter_mut().zip(&buf) {
                *p += c.norm_sqr() / frames as f64;
            }
        }
        psd
    }

    /// Power in [lo, hi) Hz from a spectrum of `frame`-sample frames.
    pub(crate) fn band_power(psd: &[f64], frame: usize, lo: f64, hi: f64) -> f64 {
        let hz = SAMPLE_RATE as f64 / frame as f64;
        psd.iter()
            .enumerate()
            .filter(|&(k, _)| (lo..hi).contains(&(k as f64 * hz)))
            .map(|(_, p)| p)
            .sum()
    }

    /// Least-squares slope of octave-band power (dB per octave) over the octaves from
    /// 125–250 Hz to 4–8 kHz.
    fn octave_slope_db(x: &[f32]) -> f64 {
        let frame = 4096;
        let psd = power_spectrum(x, frame);
        let points: Vec<(f64, f64)> = (0..6)
            .map(|i| {
                let lo = 125.0 * f64::powi(2.0, i);
                (
                    i as f64,
                    10.0 * band_power(&psd, frame, lo, 2.0 * lo).log10(),
                )
            })
            .collect();
        let n = points.len() as f64;
        let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
        let my = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        sxy / sxx
    }

    #[test]
    fn coloured_noise_has_its_octave_slope() {
        // Octave-band power ∝ ∫ f^−α df over [f, 2f]: +3 dB/octave for white (α = 0),
        // 0 for pink (α = 1), −3 for brown (α = 2).
        let len = 4 * SAMPLE_RATE as usize;
        for (kind, want) in [
            (NoiseKind::White, 3.0),
            (NoiseKind::Pink, 0.0),
            (NoiseKind::Brown, -3.0),
        ] {
            let x = generate(kind, len, &mut StdRng::seed_from_u64(1));
            let slope = octave_slope_db(&x);
            assert!(
                (slope - want).abs() < 0.6,
                "{}: slope {slope:.2} dB/oct, want {want}",
                kind.name()
            );
        }
    }

    #[test]
    fn every_kind_is_deterministic_finite_zero_mean_and_peak_normalised() {
        for kind in NoiseKind::ALL {
            let a = generate(kind, 8000, &mut StdRng::seed_from_u64(7));
            let b = generate(kind, 8000, &mut StdRng::seed_from_u64(7));
            let c = generate(kind, 8000, &mut StdRng::seed_from_u64(8));
            assert_eq!(a, b, "{}: same seed, different noise", kind.name());
            assert_ne!(a, c, "{}: different seeds, same noise", kind.name());
            assert!(a.iter().all(|v| v.is_finite()), "{}", kind.name());
            let peak = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!((peak - 1.0).abs() < 1e-6, "{}: peak {peak}", kind.name());
            let mean = a.iter().map(|&v| v as f64).sum::<f64>() / a.len() as f64;
            assert!(mean.abs() < 1e-6, "{}: mean {mean}", kind.name());
        }
        assert!(generate(NoiseKind::Babble, 0, &mut StdRng::seed_from_u64(1)).is_empty());
    }

    #[test]
    fn biquad_passes_its_centre_and_rejects_far_frequencies() {
        let gain = |freq: f64| {
            let mut f = Biquad::bandpass(1000.0, 5.0);
            let w = std::f64::consts::TAU * freq / SAMPLE_RATE as f64;
            // Skip the transient, then measure the steady-state amplitude.
            let out: Vec<f64> = (0..16000)
                .map(|n| f.process((w * n as f64).sin()))
                .collect();
            out[8000..].iter().fold(0.0f64, |m, v| m.max(v.abs()))
        };
        assert!((gain(1000.0) - 1.0).abs() < 0.01);
        assert!(gain(100.0) < 0.05 && gain(7000.0) < 0.05);
    }
}
