//! Axis ticks at "nice" steps (1, 2, 2.5 or 5 × 10^k) and their labels.

/// The nice step that cuts `span` (> 0) into about `target` intervals.
pub fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    // The smallest nice fraction at least the raw one keeps the count at most `target`.
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|&f| f >= fraction - 1e-9)
        .unwrap_or(10.0);
    nice * magnitude
}

/// A usable axis range for data in [lo, hi]: a point or an empty set becomes a unit-wide
/// range around it.
pub fn non_degenerate(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        (0.0, 1.0)
    } else if hi - lo > 1e-12 * lo.abs().max(hi.abs()).max(1e-300) {
        (lo, hi)
    } else {
        let half = (lo.abs() * 0.1).max(0.5);
        (lo - half, hi + half)
    }
}

/// [lo, hi] widened to multiples of the nice step for `target` intervals, and that step
/// (for a y axis whose ends are ticks: pass the step to [`multiples`]).
pub fn widen_to_ticks(lo: f64, hi: f64, target: usize) -> ((f64, f64), f64) {
    let (lo, hi) = non_degenerate(lo, hi);
    let step = nice_step(hi - lo, target);
    (
        ((lo / step).floor() * step, (hi / step).ceil() * step),
        step,
    )
}

/// Tick values: the multiples of the nice step for `target` intervals inside [lo, hi], and
/// that step.
pub fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let step = nice_step(hi - lo, target);
    (multiples(lo, hi, step), step)
}

/// The multiples of `step` inside [lo, hi] (ends included up to rounding).
pub fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let tolerance = step * 1e-6;
    let first = ((lo - tolerance) / step).ceil() as i64;
    let last = ((hi + tolerance) / step).floor() as i64;
    // Integer multiples, so that 0.1 × 3 prints as 0.3 and zero is exactly 0.
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A tick label with as many decimals as the step needs (step 0.25 → 2, 5 → 0);
/// thousands and up stay plain integers.
pub fn label(value: f64, step: f64) -> String {
    let mut decimals = 0;
    while decimals < 6 && (step * 10f64.powi(decimals)).fract().abs() > 1e-6 {
        decimals += 1;
    }
    let text = format!("{value:.*}", decimals as usize);
    // "-0" and "-0.0" read as noise.
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        text.trim_start_matches('-').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_nice_and_ticks_cover_the_range() {
        assert_eq!(nice_step(20.0, 5), 5.0);
        assert_eq!(nice_step(100.0, 5), 20.0);
        assert_eq!(nice_step(0.6, 6), 0.1);
        assert_eq!(nice_step(884.0, 5), 200.0);
        assert_eq!(nice_step(10.0, 4), 2.5);
        let (t, step) = ticks(0.2, 0.8, 6);
        assert_eq!(step, 0.1);
        let labels: Vec<String> = t.iter().map(|&v| label(v, step)).collect();
        assert_eq!(labels, ["0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8"]);
        let (t, step) = ticks(1.0, 885.0, 5);
        assert_eq!(t, [200.0, 400.0, 600.0, 800.0]);
        assert_eq!(label(t[0], step), "200");
        assert_eq!(label(-0.0, 0.5), "0.0");
        assert_eq!(label(2.5, 2.5), "2.5");
    }

    #[test]
    fn ranges_widen_to_ticks_and_points_get_width() {
        assert_eq!(widen_to_ticks(3.1, 20.9, 5), ((0.0, 25.0), 5.0));
        assert_eq!(widen_to_ticks(0.0, 100.0, 5), ((0.0, 100.0), 20.0));
        // The widened range keeps the step it was widened with: -1..11 goes to -2.5..12.5
        // in steps of 2.5 (asking `ticks` again for 5 intervals of 15 would give 5).
        let ((lo, hi), step) = widen_to_ticks(-1.0, 11.0, 5);
        assert_eq!((lo, hi, step), (-2.5, 12.5, 2.5));
        assert_eq!(multiples(lo, hi, step).len(), 7);
        let (lo, hi) = non_degenerate(7.0, 7.0);
        assert!(lo < 7.0 && hi > 7.0);
        assert_eq!(non_degenerate(f64::INFINITY, f64::NEG_INFINITY), (0.0, 1.0));
    }
}
