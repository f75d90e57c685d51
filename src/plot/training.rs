//! Charts of a training run from the logs `earmark train` writes: `MODEL.log.csv` (one row
//! per step: `step,lr,loss,l_c,l_h,l_r,grad_norm,seconds`) and `MODEL.val.csv` (one row per
//! validation: `step`, per condition `strict_X,loose_X` as shares in [0, 1], then
//! `nonempty_share,entropy_bits,entropy_ceiling_bits,…`).

use std::path::Path;

use crate::Result;
use crate::eval::{LOOSE_S, STRICT_S};
use crate::plot::chart::{Chart, Marker, Series, palette};
use crate::plot::csv::StepTable;

/// The losses of the step log: column, legend label.
const LOSSES: [(&str, &str); 4] = [
    ("loss", "L (total)"),
    ("l_c", "L_c embeddings"),
    ("l_h", "L_h hash codes"),
    ("l_r", "L_r buckets"),
];

/// A smoothed curve is drawn over the raw one when the log has more than this many steps
/// per smoothing span; the span is the step count / this (about 50 independent wiggles
/// across the chart, as TensorBoard's default smoothing shows).
const SMOOTHING_SPANS: usize = 50;

/// More validation points than this are drawn without markers (they would merge).
const MAX_MARKED_POINTS: usize = 60;

/// An exponential moving average over `span` points (decay 1 − 1/span), debiased at the
/// start so that the first values are not pulled towards zero. Non-finite values are
/// skipped and stay non-finite in the output (the line breaks there).
pub fn smooth(values: &[f64], span: f64) -> Vec<f64> {
    let decay = 1.0 - 1.0 / span.max(1.0);
    let (mut sum, mut weight) = (0.0, 0.0);
    values
        .iter()
        .map(|&y| {
            if !y.is_finite() {
                return y;
            }
            sum = decay * sum + (1.0 - decay) * y;
            weight = decay * weight + (1.0 - decay);
            sum / weight
        })
        .collect()
}

/// Losses against steps: per loss the raw curve, light and thin, and over all raw curves
/// the smoothed ones (so that no raw curve hides a smoothed one).
pub fn loss_chart(log: &StepTable, source: &Path, name: &str) -> Result<Chart> {
    let mut chart = Chart::new(format!("Training losses: {name}"), "step", "loss");
    let span = log.steps.len() as f64 / SMOOTHING_SPANS as f64;
    let mut smoothed = Vec::new();
    for (i, (column, label)) in LOSSES.iter().enumerate() {
        let points = log.points(log.column(column, source)?);
        let color = palette(i);
        if span < 2.0 {
            chart.push(Series::line(*label, points, color));
            continue;
        }
        let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
        let line = points
            .iter()
            .zip(smooth(&ys, span))
            .map(|(p, y)| (p.0, y))
            .collect();
        chart.push(Series::line("", points, color.lighten(0.65)).width(1.0));
        smoothed.push(Series::line(*label, line, color));
    }
    chart.series.extend(smoothed);
    Ok(chart)
}

/// A validation condition's short name (`clean`, `n10`, `r0.5`, `nr10`) as a legend label.
pub fn condition_label(short: &str) -> String {
    if let Some(snr) = short.strip_prefix("nr") {
        format!("noise+reverb {snr} dB")
    } else if let Some(snr) = short.strip_prefix('n') {
        format!("noise {snr} dB")
    } else if let Some(rt60) = short.strip_prefix('r') {
        format!("reverb {rt60} s")
    } else {
        short.to_string()
    }
}

/// The conditions of a validation log: the `X` of every `strict_X` column that has a
/// `loose_X`, in column order.
pub fn validation_conditions(val: &StepTable) -> Vec<String> {
    val.columns
        .iter()
        .filter_map(|c| c.strip_prefix("strict_"))
        .filter(|x| val.columns.iter().any(|c| c == &format!("loose_{x}")))
        .map(str::to_string)
        .collect()
}

/// Validation hit rates (%) against steps: per condition strict (±[`STRICT_S`], solid,
/// circles) and loose (±[`LOOSE_S`], dashed, diamonds) in one colour; markers only while
/// there are few validations.
pub fn validation_chart(val: &StepTable, source: &Path, name: &str) -> Result<Chart> {
    let mut chart = Chart::new(
        format!("Validation hit rate: {name}"),
        "step",
        "top-1 hit rate (%)",
    )
    .y_span(0.0, 100.0);
    let marked = val.steps.len() <= MAX_MARKED_POINTS;
    let marker = |m: Marker| if marked { m } else { Marker::None };
    let percent = |j: usize| -> Vec<(f64, f64)> {
        val.points(j)
            .into_iter()
            .map(|(s, v)| (s, 100.0 * v))
            .collect()
    };
    for (i, x) in validation_conditions(val).iter().enumerate() {
        let strict = val.column(&format!("strict_{x}"), source)?;
        let loose = val.column(&format!("loose_{x}"), source)?;
        let label = condition_label(x);
        let (strict_ms, loose_ms) = (1e3 * STRICT_S, 1e3 * LOOSE_S);
        chart.push(
            Series::line(
                format!("{label} ±{strict_ms:.0} ms"),
                percent(strict),
                palette(i),
            )
            .marker(marker(Marker::Circle)),
        );
        chart.push(
            Series::line(
                format!("{label} ±{loose_ms:.0} ms"),
                percent(loose),
                palette(i),
            )
            .dashed()
            .marker(marker(Marker::Diamond)),
        );
    }
    Ok(chart)
}

/// Bucket entropy (bits) against steps, under its ceiling min(K, log2 segments).
pub fn entropy_chart(val: &StepTable, source: &Path, name: &str) -> Result<Chart> {
    let entropy = val.points(val.column("entropy_bits", source)?);
    let ceiling = val.points(val.column("entropy_ceiling_bits", source)?);
    let top = ceiling
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    let marked = val.steps.len() <= MAX_MARKED_POINTS;
    let marker = |m: Marker| if marked { m } else { Marker::None };
    let mut chart = Chart::new(
        format!("Bucket entropy of held-out segments: {name}"),
        "step",
        "entropy (bits)",
    )
    .y_span(0.0, top);
    chart.push(Series::line("entropy", entropy, palette(0)).marker(marker(Marker::Circle)));
    chart.push(
        Series::line("ceiling min(K, log2 segments)", ceiling, palette(3))
            .dashed()
            .marker(marker(Marker::Square)),
    );
    Ok(chart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::csv::parse_step_table;

    #[test]
    fn smoothing_is_debiased_and_skips_gaps() {
        let s = smooth(&[4.0, 4.0, f64::NAN, 4.0], 10.0);
        assert_eq!(s[0], 4.0, "no pull towards zero");
        assert!(s[2].is_nan());
        assert!((s[3] - 4.0).abs() < 1e-12);
        let noisy: Vec<f64> = (0..400)
            .map(|i| if i % 2 == 0 { 1.0 } else { 3.0 })
            .collect();
        let s = smooth(&noisy, 20.0);
        assert!(
            s[300..].iter().all(|v| (v - 2.0).abs() < 0.1),
            "{:?}",
            &s[300..305]
        );
        assert_eq!(
            smooth(&[1.0, 5.0], 1.0),
            [1.0, 5.0],
            "span 1 is the identity"
        );
    }

    #[test]
    fn validation_columns_become_labelled_series() {
        let text = "step,strict_clean,loose_clean,strict_nr10,loose_nr10,nonempty_share,entropy_bits,entropy_ceiling_bits\n\
                    500,0.6,0.75,0.3,0.5,0.05,11.2,13.1\n1000,0.7,0.8,0.4,0.6,0.06,11.9,13.1\n";
        let val = parse_step_table(text, Path::new("m.val.csv")).unwrap();
        assert_eq!(validation_conditions(&val), ["clean", "nr10"]);
        let chart = validation_chart(&val, Path::new("m.val.csv"), "m").unwrap();
        let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "clean ±50 ms",
                "clean ±150 ms",
                "noise+reverb 10 dB ±50 ms",
                "noise+reverb 10 dB ±150 ms"
            ]
        );
        assert_eq!(chart.series[0].points, [(500.0, 60.0), (1000.0, 70.0)]);
        let entropy = entropy_chart(&val, Path::new("m.val.csv"), "m").unwrap();
        assert_eq!(entropy.y_span, Some((0.0, 13.1)));
        assert_eq!(condition_label("n0"), "noise 0 dB");
        assert_eq!(condition_label("r0.5"), "reverb 0.5 s");
    }

    #[test]
    fn long_logs_get_a_smoothed_line_over_the_raw_one() {
        let mut text = String::from("step,lr,loss,l_c,l_h,l_r,grad_norm,seconds\n");
        for s in 1..=300 {
            text.push_str(&format!(
                "{s},1e-4,{},1,1,1,1,0.5\n",
                10.0 - s as f64 / 100.0
            ));
        }
        let log = parse_step_table(&text, Path::new("m.log.csv")).unwrap();
        let chart = loss_chart(&log, Path::new("m.log.csv"), "m").unwrap();
        assert_eq!(chart.series.len(), 8);
        let raw: Vec<bool> = chart.series.iter().map(|s| s.name.is_empty()).collect();
        assert_eq!(
            raw,
            [true, true, true, true, false, false, false, false],
            "raw first"
        );
        let short = parse_step_table(&text[..200], Path::new("m.log.csv")).unwrap();
        let chart = loss_chart(&short, Path::new("m.log.csv"), "m").unwrap();
        assert_eq!(chart.series.len(), 4, "a few steps: raw lines only");
        let no_losses = parse_step_table("step,lr\n1,0.1\n", Path::new("m.log.csv")).unwrap();
        let e = loss_chart(&no_losses, Path::new("m.log.csv"), "m").unwrap_err();
        assert!(e.to_string().contains("no `loss` column"), "{e}");
    }
}
