//! Output helpers shared by the subcommands: exit codes, quiet broken pipes, JSON strings.

use std::io;
use std::process::ExitCode;

/// Maps a command's result to the process exit code, printing the error on one line.
/// A broken pipe (the reader went away, as with `| head`) is not an error.
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("earmark: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error's context chain joined on one line ("reading x.wav: truncated header"),
/// leaving out a cause that the message before it already ends with (an
/// `earmark::Error::Io` prints its `std::io::Error` and also reports it as its source).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain().map(|c| c.to_string()) {
        if line.is_empty() {
            line = cause;
        } else if !line.ends_with(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// `s` as a JSON string literal, quotes included.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A finite number as JSON, `null` otherwise (JSON has no NaN or infinity).
pub fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let missing = io::Error::new(io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(earmark::Error::io("/x.csv", missing));
        assert_eq!(one_line(&e), "/x.csv: No such file");
        let e = e.context("reading the log");
        assert_eq!(one_line(&e), "reading the log: /x.csv: No such file");
    }
}
