//! Synthetic noise scenes: multi-talker babble, and mains hum with rumble and clatter.
//! Neither is a recording, but both have what coloured noise lacks — speech-band energy
//! that comes and goes at the syllable rate, tonal lines, and sharp transients — which is
//! what makes real cafés and rooms hard for a fingerprint.

use rand::Rng;

use super::{Biquad, SAMPLE_RATE, brown, finish, gaussian};

/// Talkers in [`babble`]. Few enough that the syllable rhythm stays audible (with ~100
/// talkers babble becomes stationary speech-shaped noise).
const BABBLE_TALKERS: usize = 6;

/// Formant ranges (Hz) of voiced syllables: F1, F2, F3 of adult vowels (Peterson & Barney).
const VOWEL_FORMANTS_HZ: [(f64, f64); 3] = [(300.0, 850.0), (850.0, 2400.0), (2400.0, 3200.0)];
/// Resonance ranges (Hz) of unvoiced syllables (fricatives such as /s/, /ʃ/, /f/).
const FRICATIVE_FORMANTS_HZ: [(f64, f64); 3] =
    [(2500.0, 3500.0), (3500.0, 5000.0), (5000.0, 6500.0)];
/// Formant bandwidths (Hz) and the parallel-synthesis gain of each formant.
const FORMANT_BANDWIDTH_HZ: [f64; 3] = [80.0, 120.0, 180.0];
const VOWEL_FORMANT_GAIN: [f64; 3] = [1.0, 0.5, 0.25];
const FRICATIVE_FORMANT_GAIN: [f64; 3] = [0.3, 0.3, 0.3];
/// Formant coefficients are updated every 32 samples (2 ms); each update moves the centre
/// 15 % of the way to the syllable's target, a glide time constant of about 13 ms.
const FORMANT_UPDATE: usize = 32;
const FORMANT_GLIDE: f64 = 0.15;

/// A babble-like noise of `len` samples: six synthetic talkers, each a
/// source-filter voice. A talker speaks in phrases of 3–8 syllables with pauses of
/// 0.2–0.8 s; a syllable lasts 120–300 ms under a half-sine envelope and is voiced (80 %:
/// a sawtooth glottal source at 90–240 Hz with a little aspiration noise, through three
/// parallel vowel-formant resonators) or unvoiced (Gaussian noise through high
/// resonances). Talkers get random levels and start times. Zero mean, peak 1.
pub fn babble<R: Rng + ?Sized>(len: usize, rng: &mut R) -> Vec<f32> {
    let mut out = vec![0.0f64; len];
    for _ in 0..BABBLE_TALKERS {
        talker(&mut out, rng);
    }
    finish(out)
}

/// Adds one synthetic talker to `out` (see [`babble`]).
fn talker<R: Rng + ?Sized>(out: &mut [f64], rng: &mut R) {
    let fs = SAMPLE_RATE as f64;
    let f0_base: f64 = rng.random_range(90.0..240.0);
    let level: f64 = rng.random_range(0.5..1.0);
    let mut centres = [500.0, 1500.0, 2700.0];
    let mut formants = centres.map(|f| Biquad::bandpass(f, 5.0));
    let mut f0 = f0_base;
    let mut phase = 0.0f64;
    let mut t = rng.random_range(0..(fs * 0.5) as usize);
    let mut phrase_left = rng.random_range(3..=8);
    while t < out.len() {
        let dur = (rng.random_range(0.12..0.30) * fs) as usize;
        let voiced = rng.random_bool(0.8);
        let (ranges, gains) = if voiced {
            (VOWEL_FORMANTS_HZ, VOWEL_FORMANT_GAIN)
        } else {
            (FRICATIVE_FORMANTS_HZ, FRICATIVE_FORMANT_GAIN)
        };
        let targets = ranges.map(|(lo, hi)| rng.random_range(lo..hi));
        let f0_target = f0_base * rng.random_range(0.85..1.2);
        for i in 0..dur.min(out.len() - t) {
            if i % FORMANT_UPDATE == 0 {
                for k in 0..3 {
                    centres[k] += (targets[k] - centres[k]) * FORMANT_GLIDE;
                    formants[k].tune(centres[k], centres[k] / FORMANT_BANDWIDTH_HZ[k]);
                }
            }
            // Intonation glides with a time constant of 1000 samples (63 ms).
            f0 += (f0_target - f0) * 1e-3;
            let source = if voiced {
                phase = (phase + f0 / fs).fract();
                2.0 * phase - 1.0 + 0.05 * gaussian(rng)
            } else {
                gaussian(rng)
            };
            let voice: f64 = (0..3).map(|k| gains[k] * formants[k].process(source)).sum();
            let envelope = (std::f64::consts::PI * i as f64 / dur as f64).sin();
            out[t + i] += level * envelope * voice;
        }
        t += dur + (rng.random_range(0.03..0.12) * fs) as usize;
        phrase_left -= 1;
        if phrase_left == 0 {
            t += (rng.random_range(0.2..0.8) * fs) as usize;
            phrase_left = rng.random_range(3..=8);
        }
    }
}

/// Mains harmonics in the hum (the line at 50 or 60 Hz and its multiples).
const HUM_HARMONICS: usize = 8;
/// Rumble RMS relative to the hum's RMS.
const RUMBLE_LEVEL: f64 = 0.5;
/// Mean clatter events per second (Poisson process).
const CLATTER_RATE_HZ: f64 = 3.0;
/// Clatter peak relative to the hum's RMS: 10^U(0, 0.6) · 2, i.e. 2 to 8.
const CLATTER_PEAK: f64 = 2.0;

/// An indoor ambience of `len` samples: mains hum (50 or 60 Hz with
/// 8 harmonics of random 1/k-ish amplitude and phase), brown-noise rumble
/// (ventilation, traffic through walls) at half the hum's RMS, and clatter
/// (cutlery, dishes, footsteps): a Poisson stream of 3 events per second,
/// each a Gaussian burst decaying in 3–30 ms through a resonance at 1–5 kHz (Q 3–12).
/// Zero mean, peak 1.
pub fn hum_clatter<R: Rng + ?Sized>(len: usize, rng: &mut R) -> Vec<f32> {
    let fs = SAMPLE_RATE as f64;
    let mains = if rng.random_bool(0.5) { 50.0 } else { 60.0 };
    let partials: Vec<(f64, f64, f64)> = (1..=HUM_HARMONICS)
        .map(|k| {
            let amp = rng.random_range(0.3..1.0) / k as f64;
            let phase = rng.random_range(0.0..std::f64::consts::TAU);
            (std::f64::consts::TAU * mains * k as f64 / fs, amp, phase)
        })
        .collect();
    // RMS of a sum of sinusoids at distinct frequencies: sqrt(Σ a²/2).
    let hum_rms = (partials.iter().map(|p| p.1 * p.1 / 2.0).sum::<f64>()).sqrt();
    let mut out: Vec<f64> = (0..len)
        .map(|n| {
            partials
                .iter()
                .map(|&(w, a, p)| a * (w * n as f64 + p).sin())
                .sum::<f64>()
                / hum_rms
        })
        .collect();

    let rumble = brown(len, rng);
    let rumble_rms = rms(&rumble);
    if rumble_rms > 0.0 {
        for (o, &r) in out.iter_mut().zip(&rumble) {
            *o += RUMBLE_LEVEL * r as f64 / rumble_rms;
        }
    }

    let mut t = 0.0f64;
    loop {
        // Exponential inter-arrival times; 1 − U is in (0, 1].
        t += -(1.0 - rng.random::<f64>()).ln() / CLATTER_RATE_HZ * fs;
        if t >= len as f64 {
            break;
        }
        add_clatter(&mut out[t as usize..], rng);
    }
    finish(out)
}

/// Adds one clatter event at the start of `out` (cut off at its end).
fn add_clatter<R: Rng + ?Sized>(out: &mut [f64], rng: &mut R) {
    let fs = SAMPLE_RATE as f64;
    let tau = rng.random_range(0.003..0.03) * fs;
    let mut resonance = Biquad::bandpass(
        rng.random_range(1000.0..5000.0),
        rng.random_range(3.0..12.0),
    );
    // Five time constants: the burst has decayed by 43 dB.
    let len = ((5.0 * tau) as usize).min(out.len());
    let burst: Vec<f64> = (0..len)
        .map(|i| resonance.process(gaussian(rng) * (-(i as f64) / tau).exp()))
        .collect();
    let peak = burst.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if peak > 0.0 {
        let gain = CLATTER_PEAK * 10f64.powf(rng.random_range(0.0..0.6)) / peak;
        for (o, b) in out.iter_mut().zip(&burst) {
            *o += gain * b;
        }
    }
}

fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{band_power, power_spectrum};
    use super::super::white;
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Level (dB) of 20 ms frames of `x`.
    fn frame_levels_db(x: &[f32]) -> Vec<f64> {
        x.chunks_exact(320)
            .map(|c| 10.0 * (rms(c).powi(2) + 1e-12).log10())
            .collect()
    }

    fn std_dev(v: &[f64]) -> f64 {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    }

    #[test]
    fn babble_lives_in_the_speech_band_and_fluctuates_at_the_syllable_rate() {
        let len = 3 * SAMPLE_RATE as usize;
        let x = babble(len, &mut StdRng::seed_from_u64(3));
        let psd = power_spectrum(&x, 1024);
        let total = band_power(&psd, 1024, 0.0, 8001.0);
        let speech = band_power(&psd, 1024, 80.0, 4000.0);
        assert!(
            speech / total > 0.9,
            "speech-band share {:.3}",
            speech / total
        );
        // Stationary white noise varies by a fraction of a dB between 20 ms frames; babble
        // of a few talkers comes and goes by several dB.
        let babble_spread = std_dev(&frame_levels_db(&x));
        let white_spread = std_dev(&frame_levels_db(&white(len, &mut StdRng::seed_from_u64(3))));
        assert!(
            babble_spread > 2.0 && white_spread < 0.5,
            "babble {babble_spread:.2} dB, white {white_spread:.2} dB"
        );
    }

    #[test]
    fn hum_clatter_has_a_mains_line_and_bursty_highs() {
        let len = 4 * SAMPLE_RATE as usize;
        let x = hum_clatter(len, &mut StdRng::seed_from_u64(5));
        // 4 Hz bins: 50 and 60 Hz fall on bins 12.5 and 15; take the louder line.
        let frame = 4000;
        let psd = power_spectrum(&x, frame);
        let line = band_power(&psd, frame, 48.0, 64.0);
        let neighbours = band_power(&psd, frame, 70.0, 86.0);
        assert!(
            line > 30.0 * neighbours,
            "mains line {line:.3e} vs neighbours {neighbours:.3e}"
        );
        // Above 1 kHz the energy comes in bursts: the loudest 10 % of 10 ms frames carry
        // most of it (about 10–20 % for stationary noise).
        let mut high = Biquad::bandpass(3000.0, 1.5);
        let hp: Vec<f32> = x.iter().map(|&v| high.process(v as f64) as f32).collect();
        let mut energies: Vec<f64> = hp.chunks_exact(160).map(|c| rms(c).powi(2)).collect();
        energies.sort_by(|a, b| b.total_cmp(a));
        let top: f64 = energies[..energies.len() / 10].iter().sum();
        let share = top / energies.iter().sum::<f64>();
        assert!(
            share > 0.5,
            "top-10% frames carry {share:.2} of the high-band energy"
        );
    }
}
