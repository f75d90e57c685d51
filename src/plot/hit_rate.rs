//! Charts of an evaluation ([`Table`]): top-1 hit rate against SNR under noise and under
//! noise + reverb, and against RT60 under reverb alone; one line per query length (and
//! search method), the paper's FE+HT figures dashed in the same colour.

use crate::audio::augment::Condition;
use crate::eval::queries::NOISE_REVERB_RT60_S;
use crate::eval::{Table, paper_figure};
use crate::plot::chart::{Chart, Marker, Series, palette};

/// The three condition families of the poster's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Noise,
    NoiseReverb,
    Reverb,
}

impl Family {
    pub const ALL: [Family; 3] = [Family::Noise, Family::NoiseReverb, Family::Reverb];

    /// The family's level in `c` (SNR dB or RT60 s), if `c` belongs to it.
    fn level(self, c: Condition) -> Option<f64> {
        match (self, c) {
            (Family::Noise, Condition::Noise { snr_db })
            | (Family::NoiseReverb, Condition::NoiseReverb { snr_db, .. }) => {
                Some(f64::from(snr_db))
            }
            (Family::Reverb, Condition::Reverb { rt60_s }) => Some(f64::from(rt60_s)),
            _ => None,
        }
    }

    /// File name stem of the family's chart.
    pub fn stem(self) -> &'static str {
        match self {
            Family::Noise => "hit_rate_noise",
            Family::NoiseReverb => "hit_rate_noise_reverb",
            Family::Reverb => "hit_rate_reverb",
        }
    }

    fn title(self) -> String {
        match self {
            Family::Noise => "Hit rate under noise".into(),
            Family::NoiseReverb => {
                format!("Hit rate under noise + reverb (RT60 {NOISE_REVERB_RT60_S} s)")
            }
            Family::Reverb => "Hit rate under reverb".into(),
        }
    }

    fn x_label(self) -> &'static str {
        match self {
            Family::Noise | Family::NoiseReverb => "SNR (dB)",
            Family::Reverb => "RT60 (s)",
        }
    }
}

/// The chart of one family, or `None` if the table has none of its conditions. Series:
/// per length (colour) and method (marker) the strict hit rate %, cells without queries
/// left out; per length the paper's FE+HT figures, dashed, where the poster has them.
pub fn family_chart(table: &Table, family: Family) -> Option<Chart> {
    let mut columns: Vec<(usize, f64)> = table
        .conditions
        .iter()
        .enumerate()
        .filter_map(|(c, &condition)| Some((c, family.level(condition)?)))
        .collect();
    if columns.is_empty() {
        return None;
    }
    columns.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut chart = Chart::new(
        family.title(),
        family.x_label(),
        "top-1 hit rate (%), ±50 ms",
    )
    .y_span(0.0, 100.0);
    let several_methods = table.methods.len() > 1;
    for (l, &length) in table.lengths_s.iter().enumerate() {
        let color = palette(l);
        for (m, method) in table.methods.iter().enumerate() {
            let points = columns
                .iter()
                .filter(|&&(c, _)| table.cell(l, m, c).queries > 0)
                .map(|&(c, level)| (level, table.cell(l, m, c).strict_percent()))
                .collect();
            let name = if several_methods {
                format!("{length} s {method}")
            } else {
                format!("{length} s")
            };
            let marker = Marker::SHAPES[m % Marker::SHAPES.len()];
            chart.push(Series::line(name, points, color).marker(marker));
        }
        let paper: Vec<(f64, f64)> = columns
            .iter()
            .filter_map(|&(c, level)| Some((level, paper_figure(length, table.conditions[c])?)))
            .collect();
        if !paper.is_empty() {
            chart.push(Series::line(format!("{length} s paper FE+HT"), paper, color).dashed());
        }
    }
    Some(chart)
}

/// The charts of every family the table has, with their file name stems.
pub fn hit_rate_charts(table: &Table) -> Vec<(&'static str, Chart)> {
    Family::ALL
        .into_iter()
        .filter_map(|f| Some((f.stem(), family_chart(table, f)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Outcome, judge, paper_conditions};

    #[test]
    fn families_sort_levels_and_pair_each_length_with_the_paper() {
        let mut table = Table::new(
            vec![1.0, 4.0],
            vec!["ht".into(), "exhaustive".into()],
            paper_conditions(),
        );
        let outcome = Outcome {
            hit: None,
            score: 0.0,
            eval_percent: 1.0,
            embed_ms: 1.0,
            search_ms: 1.0,
        };
        // 1 s, ht, reverb RT60 0.2 s (column 10): one hit out of two.
        table
            .cell_mut(0, 0, 10)
            .add(judge(Some(0), 1.0, Some((0, 1.0))), &outcome);
        table
            .cell_mut(0, 0, 10)
            .add(judge(Some(0), 1.0, None), &outcome);
        table
            .cell_mut(0, 0, 14)
            .add(judge(Some(0), 1.0, None), &outcome);
        let charts = hit_rate_charts(&table);
        let stems: Vec<&str> = charts.iter().map(|c| c.0).collect();
        assert_eq!(
            stems,
            ["hit_rate_noise", "hit_rate_noise_reverb", "hit_rate_reverb"]
        );
        let reverb = &charts[2].1;
        assert_eq!(reverb.x_label, "RT60 (s)");
        let names: Vec<&str> = reverb.series.iter().map(|s| s.name.as_str()).collect();
        // No paper line for 4 s: the poster has 1, 2, 3 and 5 s.
        assert_eq!(
            names,
            [
                "1 s ht",
                "1 s exhaustive",
                "1 s paper FE+HT",
                "4 s ht",
                "4 s exhaustive"
            ]
        );
        assert_eq!(
            reverb.series[0].points,
            [(f64::from(0.2f32), 50.0), (f64::from(0.8f32), 0.0)]
        );
        assert!(
            reverb.series[1].points.is_empty(),
            "cells without queries are left out"
        );
        let paper = &reverb.series[2];
        assert_eq!(paper.stroke, crate::plot::chart::Stroke::Dashed);
        assert_eq!(paper.color, reverb.series[0].color);
        assert_eq!(paper.points.len(), 5);
        assert_eq!(paper.points[0].1, 84.6);
        let only_clean = Table::new(vec![1.0], vec!["ht".into()], vec![Condition::Clean]);
        assert!(hit_rate_charts(&only_clean).is_empty());
    }
}
