//! Ground truth of a query set and its CSV form:
//! `query_file,track,start_seconds,length,condition,param` (RFC 4180 quoting), `track`
//! relative to the indexed root, `condition` and `param` as in
//! [`condition_name`] / [`condition_param`].

use crate::audio::augment::Condition;
use crate::eval::queries::{condition_name, condition_param, parse_condition};
use crate::{Error, Result};

/// The header line of a truth CSV.
pub const TRUTH_HEADER: &str = "query_file,track,start_seconds,length,condition,param";

/// What a query is: where it was cut and how it was distorted.
#[derive(Clone, Debug, PartialEq)]
pub struct Truth {
    /// The query's audio file (or, for queries never written, an id such as `q000123`).
    pub query_file: String,
    /// The track's path relative to the indexed root, as the library stores it.
    pub track: String,
    /// Start of the query in the track, seconds.
    pub start_s: f64,
    /// Length of the query, seconds.
    pub length_s: f64,
    pub condition: Condition,
}

/// `field` quoted for CSV if it holds a comma, a quote or a line break.
pub fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// Splits one CSV record into fields (quoted fields may hold commas and doubled quotes).
/// Errors on an unterminated quote.
pub fn split_csv_line(line: &str) -> Result<Vec<String>> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let field = fields.last_mut().expect("fields starts non-empty");
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(String::new()),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err(Error::invalid("unterminated quoted field"));
    }
    Ok(fields)
}

/// The CSV text of `truths`, header first, one line each.
pub fn write_truth_csv(truths: &[Truth]) -> String {
    let mut out = format!("{TRUTH_HEADER}\n");
    for t in truths {
        out.push_str(&format!(
            "{},{},{:.6},{:.6},{},{}\n",
            csv_field(&t.query_file),
            csv_field(&t.track),
            t.start_s,
            t.length_s,
            condition_name(t.condition),
            condition_param(t.condition),
        ));
    }
    out
}

/// Parses a truth CSV (the header is required; blank lines are skipped). Errors
/// (`Error::Invalid`) name the line and what is wrong with it.
pub fn parse_truth_csv(text: &str) -> Result<Vec<Truth>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, header)) if header.trim() == TRUTH_HEADER => {}
        _ => {
            return Err(Error::invalid(format!(
                "a truth CSV starts with the header `{TRUTH_HEADER}`"
            )));
        }
    }
    lines
        .map(|(i, line)| {
            parse_record(line).map_err(|e| Error::invalid(format!("truth CSV line {}: {e}", i + 1)))
        })
        .collect()
}

fn parse_record(line: &str) -> Result<Truth> {
    let fields = split_csv_line(line.trim_end_matches('\r'))?;
    let [query_file, track, start, length, condition, param] = &fields[..] else {
        return Err(Error::invalid(format!(
            "expected 6 fields, found {}",
            fields.len()
        )));
    };
    let number = |name: &str, v: &str| -> Result<f64> {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| Error::invalid(format!("{name} `{v}` is not a number")))
    };
    let start_s = number("start_seconds", start)?;
    let length_s = number("length", length)?;
    if start_s < 0.0 || length_s <= 0.0 {
        return Err(Error::invalid(format!(
            "start {start_s} s must be ≥ 0 and length {length_s} s > 0"
        )));
    }
    let param = number("param", param)? as f32;
    Ok(Truth {
        query_file: query_file.clone(),
        track: track.clone(),
        start_s,
        length_s,
        condition: parse_condition(condition.trim(), param)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::queries::paper_conditions;

    #[test]
    fn truth_csv_round_trips_awkward_paths_and_every_condition() {
        let truths: Vec<Truth> = paper_conditions()
            .into_iter()
            .chain([Condition::Clean])
            .enumerate()
            .map(|(i, condition)| Truth {
                query_file: format!("queries/q{i:03}.wav"),
                track: ["a/b.flac", "comma, \"quoted\" name.ogg"][i % 2].to_owned(),
                start_s: 12.345678 + i as f64,
                length_s: [1.0, 2.0, 3.0, 5.0][i % 4],
                condition,
            })
            .collect();
        let text = write_truth_csv(&truths);
        assert!(text.starts_with(TRUTH_HEADER));
        assert_eq!(parse_truth_csv(&text).unwrap(), truths);
    }

    #[test]
    fn truth_csv_errors_name_the_line() {
        let bad = format!("{TRUTH_HEADER}\nq.wav,t.wav,1.0,1.0,clean,0\nq.wav,t.wav,x,1,clean,0\n");
        let e = parse_truth_csv(&bad).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("start_seconds"), "{e}");
        assert!(parse_truth_csv("a,b\n").is_err());
        let short = format!("{TRUTH_HEADER}\nq.wav,t.wav,1.0\n");
        assert!(
            parse_truth_csv(&short)
                .unwrap_err()
                .to_string()
                .contains("6 fields")
        );
    }
}
