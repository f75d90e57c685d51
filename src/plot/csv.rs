//! Numeric CSV logs with a header row whose first column is `step` (the files `earmark
//! train` writes), read into columns by name.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Error, Result};

/// A numeric CSV table, one row per step in increasing step order.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTable {
    /// Column names after `step`.
    pub columns: Vec<String>,
    /// Steps, increasing, each once.
    pub steps: Vec<u64>,
    /// `rows[i][j]`: column j at `steps[i]`.
    pub rows: Vec<Vec<f64>>,
}

impl StepTable {
    /// The index of column `name`, or an `Error::Invalid` naming the file.
    pub fn column(&self, name: &str, source: &Path) -> Result<usize> {
        self.columns.iter().position(|c| c == name).ok_or_else(|| {
            Error::invalid(format!(
                "{}: no `{name}` column (header: step,{})",
                source.display(),
                self.columns.join(",")
            ))
        })
    }

    /// Column j as (step, value) points.
    pub fn points(&self, j: usize) -> Vec<(f64, f64)> {
        self.steps
            .iter()
            .zip(&self.rows)
            .map(|(&s, row)| (s as f64, row[j]))
            .collect()
    }
}

/// Parses `text` (the contents of `source`): a header row starting with `step`, then rows
/// of as many fields, a whole step number first and numbers after (`NaN` and `inf`
/// allowed: a skipped step logs them). A step written twice (a run resumed from an earlier
/// checkpoint rewrites the steps after it) keeps its last row.
///
/// A last line without its line break that does not parse is dropped: it is a row the
/// training is writing right now. Any other bad line is an `Error::Invalid` naming the file
/// and the line number.
pub fn parse_step_table(text: &str, source: &Path) -> Result<StepTable> {
    let bad = |line: usize, what: String| {
        Error::invalid(format!("{}: line {line}: {what}", source.display()))
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let Some((_, header)) = lines.next() else {
        return Err(Error::invalid(format!("{}: empty file", source.display())));
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    if names.first() != Some(&"step") || names.len() < 2 {
        return Err(bad(
            1,
            format!("expected a header `step,…`, found `{}`", shorten(header)),
        ));
    }
    let last_line = text.lines().count();
    let unterminated = !text.ends_with('\n');
    let mut by_step = BTreeMap::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        match parse_row(line, names.len()) {
            Ok((step, values)) => {
                by_step.insert(step, values);
            }
            Err(_) if n == last_line && unterminated => {}
            Err(what) => return Err(bad(n, what)),
        }
    }
    Ok(StepTable {
        columns: names[1..].iter().map(|s| s.to_string()).collect(),
        steps: by_step.keys().copied().collect(),
        rows: by_step.into_values().collect(),
    })
}

/// Reads and parses the CSV file `path` ([`parse_step_table`]).
pub fn read_step_table(path: &Path) -> Result<StepTable> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_step_table(&text, path)
}

fn parse_row(line: &str, fields: usize) -> std::result::Result<(u64, Vec<f64>), String> {
    let cells: Vec<&str> = line.split(',').map(str::trim).collect();
    if cells.len() != fields {
        return Err(format!(
            "{} fields where the header has {fields}: `{}`",
            cells.len(),
            shorten(line)
        ));
    }
    let step = cells[0]
        .parse::<u64>()
        .map_err(|_| format!("step `{}` is not a whole number", shorten(cells[0])))?;
    let values = cells[1..]
        .iter()
        .map(|c| {
            c.parse::<f64>()
                .map_err(|_| format!("`{}` is not a number", shorten(c)))
        })
        .collect::<std::result::Result<Vec<f64>, String>>()?;
    Ok((step, values))
}

/// At most 60 characters of `s`, for messages about binary or very long lines.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StepTable> {
        parse_step_table(text, Path::new("run.log.csv"))
    }

    #[test]
    fn repeated_steps_keep_the_last_row_in_step_order() {
        let text =
            "step,loss,l_c\n1,3.0,1.0\n2,2.5,0.9\n3,2.0,0.8\n2,9.0,9.0\n3,8.0,NaN\n4,7.0,inf\n";
        let t = parse(text).unwrap();
        assert_eq!(t.columns, ["loss", "l_c"]);
        assert_eq!(t.steps, [1, 2, 3, 4]);
        assert_eq!(t.rows[1], [9.0, 9.0]);
        assert!(t.rows[2][1].is_nan());
        assert_eq!(t.points(0)[3], (4.0, 7.0));
        assert_eq!(t.column("l_c", Path::new("x")).unwrap(), 1);
        let missing = t.column("l_r", Path::new("x")).unwrap_err().to_string();
        assert!(
            missing.contains("l_r") && missing.contains("step,loss,l_c"),
            "{missing}"
        );
    }

    #[test]
    fn garbage_names_the_file_and_line() {
        for (text, line, what) in [
            (
                "step,loss\n1,2.0\n2,abc\n3,1.0\n",
                "line 3",
                "`abc` is not a number",
            ),
            ("step,loss\n1,2.0,7\n", "line 2", "3 fields"),
            ("step,loss\n-1,2.0\n", "line 2", "not a whole number"),
            ("\u{0}\u{1}binary\n1,2\n", "line 1", "expected a header"),
            ("step\n1\n", "line 1", "expected a header"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.contains("run.log.csv") && e.contains(line) && e.contains(what),
                "{text:?}: {e}"
            );
        }
        assert!(parse("").unwrap_err().to_string().contains("empty file"));
    }

    #[test]
    fn a_half_written_last_row_is_dropped_but_not_a_finished_one() {
        let t = parse("step,loss\n1,2.0\n2,1.").unwrap();
        assert_eq!(t.steps, [1, 2], "`1.` parses as a number");
        let t = parse("step,loss\n1,2.0\n2,").unwrap();
        assert_eq!(t.steps, [1]);
        assert!(parse("step,loss\n1,2.0\n2,\n").is_err());
        assert_eq!(parse("step,loss\r\n1,2.0\r\n\r\n").unwrap().steps, [1]);
    }
}
