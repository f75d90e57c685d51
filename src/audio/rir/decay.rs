//! Reverberation time from an impulse response: Schroeder's backward integration
//! (Schroeder 1965, "New method of measuring reverberation time") and a line fit on the
//! energy decay curve, as in ISO 3382-1 (T20, T30).

use crate::audio::augment::SAMPLE_RATE;

/// The stretch of the energy decay curve that the line is fitted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecayFit {
    /// From −5 dB to −25 dB, extrapolated ×3 to 60 dB.
    T20,
    /// From −5 dB to −35 dB, extrapolated ×2 to 60 dB.
    T30,
}

impl DecayFit {
    /// Upper and lower levels (dB) of the fitted stretch.
    pub fn range_db(self) -> (f64, f64) {
        match self {
            DecayFit::T20 => (-5.0, -25.0),
            DecayFit::T30 => (-5.0, -35.0),
        }
    }
}

/// Schroeder's energy decay curve in dB: `EDC[i] = 10·log10(Σ_{j≥i} h[j]² / Σ_j h[j]²)`,
/// 0 dB at index 0, falling to −∞ after the last non-zero sample. Shape (n,) → (n,).
/// An all-zero `h` gives −∞ everywhere.
pub fn energy_decay_db(h: &[f32]) -> Vec<f64> {
    let mut remaining = vec![0.0f64; h.len()];
    let mut sum = 0.0f64;
    for (r, &v) in remaining.iter_mut().zip(h).rev() {
        sum += v as f64 * v as f64;
        *r = sum;
    }
    let total = sum;
    remaining
        .into_iter()
        .map(|e| {
            if total > 0.0 {
                10.0 * (e / total).log10()
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect()
}

/// The reverberation time RT60 (seconds) of impulse response `h` at [`SAMPLE_RATE`] Hz,
/// which should start at its direct path (ISO 3382 integrates from the arrival of the
/// direct sound): the EDC of `h`, a least-squares line through it over the stretch of
/// `fit`, and the time that line takes to fall 60 dB. `None` if the EDC does not reach the
/// stretch's lower level before the end (too short or too noisy a response), or does not
/// fall along it.
pub fn estimate_rt60(h: &[f32], fit: DecayFit) -> Option<f32> {
    let edc = energy_decay_db(h);
    let (upper, lower) = fit.range_db();
    let first = edc.iter().position(|&db| db <= upper)?;
    let last = edc.iter().rposition(|&db| db >= lower)?;
    if edc.last().is_none_or(|&db| db >= lower) || last <= first {
        return None;
    }
    // Least squares of EDC (dB) against time (s) over [first, last].
    let points = (first..=last).map(|i| (i as f64 / SAMPLE_RATE as f64, edc[i]));
    let n = (last - first + 1) as f64;
    let (sx, sy) = points
        .clone()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (sxy, sxx) = points.fold((0.0, 0.0), |(sxy, sxx), (x, y)| {
        (sxy + (x - mx) * (y - my), sxx + (x - mx) * (x - mx))
    });
    let slope = sxy / sxx;
    (slope < 0.0).then(|| (-60.0 / slope) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::noise::white;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn decay_curve_matches_the_direct_sum() {
        let h = [1.0f32, -0.5, 0.25, 0.0, 0.1];
        let total: f64 = h.iter().map(|&v| (v as f64).powi(2)).sum();
        for (i, &db) in energy_decay_db(&h).iter().enumerate() {
            let rest: f64 = h[i..].iter().map(|&v| (v as f64).powi(2)).sum();
            assert!((db - 10.0 * (rest / total).log10()).abs() < 1e-9, "[{i}]");
        }
        assert!(
            energy_decay_db(&[0.0, 0.0])
                .iter()
                .all(|&v| v == f64::NEG_INFINITY)
        );
    }

    #[test]
    fn exponentially_decaying_noise_gives_its_rt60() {
        // Noise whose energy falls 60 dB in `rt60` seconds, run to −80 dB.
        for rt60 in [0.2f32, 0.5, 0.8] {
            let len = (rt60 * 80.0 / 60.0 * SAMPLE_RATE as f32) as usize;
            let mut h = white(len, &mut StdRng::seed_from_u64(41));
            h[0] = 4.0; // a clear direct path
            for (i, v) in h.iter_mut().enumerate() {
                let t = i as f32 / SAMPLE_RATE as f32;
                *v *= 10f32.powf(-3.0 * t / rt60);
            }
            for fit in [DecayFit::T20, DecayFit::T30] {
                let got = estimate_rt60(&h, fit).unwrap();
                assert!(
                    (got / rt60 - 1.0).abs() < 0.05,
                    "{fit:?}: {got} s for {rt60} s"
                );
            }
        }
    }

    #[test]
    fn too_short_or_silent_responses_have_no_rt60() {
        assert_eq!(estimate_rt60(&[], DecayFit::T20), None);
        assert_eq!(estimate_rt60(&[0.0; 100], DecayFit::T20), None);
        // One sample: the EDC jumps from 0 dB to −∞ with nothing in between.
        assert_eq!(estimate_rt60(&[1.0], DecayFit::T20), None);
        // A slow decay cut short: its EDC ends near −20 dB, above the −25 dB end of T20.
        let h: Vec<f32> = (0..100).map(|i| 0.999f32.powi(i)).collect();
        assert_eq!(estimate_rt60(&h, DecayFit::T20), None);
    }
}
