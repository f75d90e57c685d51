//! The hit-rate table in the poster's layout (rows: length × method; columns: the
//! conditions; cells: top-1 strict hit rate %), its summary columns, the paper's own
//! FE+HT figures, and the CSV and JSON forms.

use crate::audio::augment::Condition;
use crate::eval::queries::{condition_name, condition_param, paper_conditions};
use crate::eval::score::Cell;

/// The paper's FE+HT (ours) top-1 hit rates, %, from its poster's Results table
/// (`../shared/paper/poster.md`; Singh, Demuynck, Arora, ICASSP 2023; FMA database),
/// one row per query length 1, 2, 3, 5 s, columns in [`paper_conditions`] order: noise at
/// SNR 0/5/10/15/20 dB, noise + reverb (RT60 0.5 s) at those SNRs, reverb at RT60
/// 0.2/0.4/0.5/0.7/0.8 s.
pub const PAPER_FE_HT: [(f32, [f64; 15]); 4] = [
    (
        1.0,
        [
            64.9, 81.7, 87.9, 90.1, 90.9, 41.9, 62.0, 74.6, 79.2, 81.2, 84.6, 82.3, 80.0, 68.7,
            64.5,
        ],
    ),
    (
        2.0,
        [
            80.2, 89.4, 93.1, 94.1, 94.9, 61.4, 80.8, 85.0, 87.5, 88.3, 92.4, 87.7, 86.4, 77.3,
            70.7,
        ],
    ),
    (
        3.0,
        [
            84.7, 90.8, 95.5, 96.3, 97.1, 70.7, 84.1, 88.6, 89.0, 90.1, 93.8, 90.3, 87.9, 77.9,
            71.6,
        ],
    ),
    (
        5.0,
        [
            88.0, 93.4, 95.3, 96.2, 97.4, 80.6, 88.6, 90.8, 91.3, 91.5, 96.4, 91.1, 88.9, 78.7,
            71.2,
        ],
    ),
];

/// The paper's FE+HT hit rate for a query length and condition, if the poster has it.
pub fn paper_figure(length_s: f32, condition: Condition) -> Option<f64> {
    let column = paper_conditions().iter().position(|&c| c == condition)?;
    PAPER_FE_HT
        .iter()
        .find(|(l, _)| *l == length_s)
        .map(|(_, row)| row[column])
}

/// The cells of an evaluation: lengths × methods × conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub lengths_s: Vec<f32>,
    /// Method names as the user gave them (`ht`, `lsh`, `exhaustive`).
    pub methods: Vec<String>,
    pub conditions: Vec<Condition>,
    cells: Vec<Cell>,
}

impl Table {
    pub fn new(lengths_s: Vec<f32>, methods: Vec<String>, conditions: Vec<Condition>) -> Self {
        let cells = vec![Cell::default(); lengths_s.len() * methods.len() * conditions.len()];
        Table {
            lengths_s,
            methods,
            conditions,
            cells,
        }
    }

    fn at(&self, length: usize, method: usize, condition: usize) -> usize {
        assert!(
            length < self.lengths_s.len()
                && method < self.methods.len()
                && condition < self.conditions.len(),
            "Table::cell: ({length}, {method}, {condition}) outside {} × {} × {}",
            self.lengths_s.len(),
            self.methods.len(),
            self.conditions.len()
        );
        (length * self.methods.len() + method) * self.conditions.len() + condition
    }

    /// The cell of (length index, method index, condition index).
    pub fn cell(&self, length: usize, method: usize, condition: usize) -> &Cell {
        &self.cells[self.at(length, method, condition)]
    }

    pub fn cell_mut(&mut self, length: usize, method: usize, condition: usize) -> &mut Cell {
        let i = self.at(length, method, condition);
        &mut self.cells[i]
    }

    /// One row's cells summed over the conditions.
    pub fn row(&self, length: usize, method: usize) -> Cell {
        let mut sum = Cell::default();
        for c in 0..self.conditions.len() {
            sum.merge(self.cell(length, method, c));
        }
        sum
    }

    /// The column heading of a condition: `N0` (noise, 0 dB), `NR10` (noise + reverb,
    /// 10 dB), `R0.5` (reverb, RT60 0.5 s), `clean`.
    pub fn column_label(condition: Condition) -> String {
        match condition {
            Condition::Clean => "clean".into(),
            Condition::Noise { snr_db } => format!("N{snr_db}"),
            Condition::NoiseReverb { snr_db, .. } => format!("NR{snr_db}"),
            Condition::Reverb { rt60_s } => format!("R{rt60_s}"),
        }
    }

    /// The table as text: a header of column labels, then per length × method the strict
    /// hit rate % of every condition, then track-only hit %, loose %, eval%, ms per query
    /// (search) and ms per query (embedding). With `paper`, the paper's FE+HT row follows
    /// each length's rows (`-` where the poster has no figure).
    pub fn render(&self, paper: bool) -> String {
        let mut out = format!("{:>4} {:<12}", "len", "method");
        for &c in &self.conditions {
            out.push_str(&format!(" {:>6}", Self::column_label(c)));
        }
        out.push_str(&format!(
            " | {:>6} {:>6} {:>7} {:>8} {:>8}\n",
            "track%", "loose%", "eval%", "ms/q", "embed ms"
        ));
        for (l, &length) in self.lengths_s.iter().enumerate() {
            for (m, method) in self.methods.iter().enumerate() {
                out.push_str(&format!("{length:>4} {method:<12}"));
                for c in 0..self.conditions.len() {
                    out.push_str(&format!(" {:>6.1}", self.cell(l, m, c).strict_percent()));
                }
                let row = self.row(l, m);
                out.push_str(&format!(
                    " | {:>6.1} {:>6.1} {:>7.3} {:>8.2} {:>8.2}\n",
                    row.track_percent(),
                    row.loose_percent(),
                    row.eval_percent(),
                    row.search_ms(),
                    row.embed_ms()
                ));
            }
            if paper {
                out.push_str(&format!("{length:>4} {:<12}", "paper FE+HT"));
                for &c in &self.conditions {
                    match paper_figure(length, c) {
                        Some(v) => out.push_str(&format!(" {v:>6.1}")),
                        None => out.push_str(&format!(" {:>6}", "-")),
                    }
                }
                out.push('\n');
            }
        }
        out
    }

    /// One CSV line per cell: `length,method,condition,param,queries,strict_percent,
    /// loose_percent,track_percent,eval_percent,search_ms,embed_ms,paper_percent`
    /// (`paper_percent` empty where the poster has no figure).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "length,method,condition,param,queries,strict_percent,loose_percent,track_percent,eval_percent,search_ms,embed_ms,paper_percent\n",
        );
        for (l, &length) in self.lengths_s.iter().enumerate() {
            for (m, method) in self.methods.iter().enumerate() {
                for (c, &condition) in self.conditions.iter().enumerate() {
                    let cell = self.cell(l, m, c);
                    out.push_str(&format!(
                        "{length},{method},{},{},{},{:.2},{:.2},{:.2},{:.4},{:.3},{:.3},{}\n",
                        condition_name(condition),
                        condition_param(condition),
                        cell.queries,
                        cell.strict_percent(),
                        cell.loose_percent(),
                        cell.track_percent(),
                        cell.eval_percent(),
                        cell.search_ms(),
                        cell.embed_ms(),
                        paper_figure(length, condition).map_or(String::new(), |v| v.to_string()),
                    ));
                }
            }
        }
        out
    }

    /// The cells as a JSON array of objects with the fields of [`Self::to_csv`] (NaN and
    /// missing figures as `null`).
    pub fn to_json(&self) -> String {
        let mut items = Vec::new();
        for (l, &length) in self.lengths_s.iter().enumerate() {
            for (m, method) in self.methods.iter().enumerate() {
                for (c, &condition) in self.conditions.iter().enumerate() {
                    let cell = self.cell(l, m, c);
                    items.push(format!(
                        "{{\"length\": {}, \"method\": {}, \"condition\": {}, \"param\": {}, \
                         \"queries\": {}, \"strict_percent\": {}, \"loose_percent\": {}, \
                         \"track_percent\": {}, \"eval_percent\": {}, \"search_ms\": {}, \
                         \"embed_ms\": {}, \"paper_percent\": {}}}",
                        json_number(f64::from(length)),
                        json_string(method),
                        json_string(condition_name(condition)),
                        json_number(f64::from(condition_param(condition))),
                        cell.queries,
                        json_number(cell.strict_percent()),
                        json_number(cell.loose_percent()),
                        json_number(cell.track_percent()),
                        json_number(cell.eval_percent()),
                        json_number(cell.search_ms()),
                        json_number(cell.embed_ms()),
                        paper_figure(length, condition).map_or("null".into(), json_number),
                    ));
                }
            }
        }
        format!("[\n  {}\n]", items.join(",\n  "))
    }
}

/// `x` as a JSON number, `null` if not finite.
pub fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

/// `s` as a JSON string literal, quotes included.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::score::{Outcome, judge};

    fn outcome() -> Outcome {
        Outcome {
            hit: None,
            score: 0.0,
            eval_percent: 1.0,
            embed_ms: 2.0,
            search_ms: 3.0,
        }
    }

    #[test]
    fn paper_figures_match_the_poster_corners() {
        let c = paper_conditions();
        assert_eq!(paper_figure(1.0, c[0]), Some(64.9));
        assert_eq!(paper_figure(1.0, c[4]), Some(90.9));
        assert_eq!(paper_figure(5.0, c[14]), Some(71.2));
        assert_eq!(paper_figure(2.0, c[10]), Some(92.4));
        assert_eq!(paper_figure(4.0, c[0]), None);
        assert_eq!(paper_figure(1.0, Condition::Clean), None);
    }

    #[test]
    fn table_layout_rows_are_length_by_method_and_columns_conditions() {
        let conditions = paper_conditions();
        let mut t = Table::new(
            vec![1.0, 5.0],
            vec!["ht".into(), "exhaustive".into()],
            conditions.clone(),
        );
        // Length 5 s, exhaustive, noise 0 dB: one strict hit and one track-only hit.
        t.cell_mut(1, 1, 0)
            .add(judge(Some(0), 1.0, Some((0, 1.0))), &outcome());
        t.cell_mut(1, 1, 0)
            .add(judge(Some(0), 1.0, Some((0, 2.0))), &outcome());
        let text = t.render(true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 2 * 3, "{text}");
        assert!(lines[0].contains("N0") && lines[0].contains("NR20") && lines[0].contains("R0.8"));
        assert!(lines[3].contains("paper FE+HT") && lines[3].contains("64.9"));
        let row: Vec<&str> = lines[5].split_whitespace().collect();
        assert_eq!(&row[..4], &["5", "exhaustive", "50.0", "NaN"]);
        // Summary: track 100 %, loose 50 %, eval% 1, 3 ms per query, 2 ms embedding.
        assert!(
            lines[5].ends_with("|  100.0   50.0   1.000     3.00     2.00"),
            "{}",
            lines[5]
        );
        let csv = t.to_csv();
        assert_eq!(csv.lines().count(), 1 + 2 * 2 * 15);
        assert!(
            csv.contains("\n5,exhaustive,noise,0,2,50.00,50.00,100.00,1.0000,3.000,2.000,88\n"),
            "{csv}"
        );
        let json = t.to_json();
        assert!(json.contains("\"strict_percent\": 50,"), "{json}");
        assert!(json.contains("\"strict_percent\": null"));
    }
}
