//! The per-step CSV log: `step,lr,loss,l_c,l_h,l_r,grad_norm,seconds`, one row per step,
//! flushed every row so that a killed run keeps its log. A resumed run appends, after
//! dropping the rows logged past its checkpoint (a killed run logs steps it never saved).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::train::trainer::StepStats;
use crate::{Error, Result};

/// The header row.
pub const HEADER: &str = "step,lr,loss,l_c,l_h,l_r,grad_norm,seconds";

/// An open CSV log.
pub struct CsvLog {
    path: PathBuf,
    out: BufWriter<File>,
}

impl CsvLog {
    /// Creates (truncating) the log at `path`, or with `resume_at = Some(step)` continues
    /// it after dropping its rows past `step`; the header is written when the file is new
    /// or empty.
    pub fn open(path: &Path, resume_at: Option<u64>) -> Result<CsvLog> {
        if let Some(step) = resume_at {
            truncate_after(path, step)?;
        }
        let append = resume_at.is_some();
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let empty = file.metadata().map_err(|e| Error::io(path, e))?.len() == 0;
        let mut log = CsvLog {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        };
        if empty {
            log.line(HEADER)?;
        }
        Ok(log)
    }

    /// Appends one step's row.
    pub fn write(&mut self, s: &StepStats) -> Result<()> {
        let l = &s.losses;
        self.line(&format!(
            "{},{:e},{},{},{},{},{},{:.4}",
            s.step, s.lr, l.total, l.l_c, l.l_h, l.l_r, s.grad_norm, s.seconds
        ))
    }

    fn line(&mut self, text: &str) -> Result<()> {
        writeln!(self.out, "{text}")
            .and_then(|_| self.out.flush())
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// Drops the data rows of the CSV file at `path` whose first column (a step) exceeds
/// `step`, rewriting the file through a temporary sibling and a rename; the header and any
/// row whose first column is not a number stay. A missing file is left missing.
pub fn truncate_after(path: &Path, step: u64) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let past = |line: &str| {
        line.split(',')
            .next()
            .and_then(|first| first.parse::<u64>().ok())
            .is_some_and(|s| s > step)
    };
    if !text.lines().any(past) {
        return Ok(());
    }
    let kept: String = text
        .lines()
        .filter(|l| !past(l))
        .flat_map(|l| [l, "\n"])
        .collect();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, kept).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resuming_drops_rows_past_the_checkpoint() {
        let dir = crate::test_dir::TempDir::new("log");
        let path = dir.join("run.log.csv");
        let rows = |steps: std::ops::RangeInclusive<u64>| -> String {
            steps.map(|s| format!("{s},1e-4,1,1,1,1,1,0.5\n")).collect()
        };
        std::fs::write(&path, format!("{HEADER}\n{}", rows(1..=7))).unwrap();
        drop(CsvLog::open(&path, Some(5)).unwrap());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{HEADER}\n{}", rows(1..=5))
        );
        // Nothing past the step: the file is untouched; a fresh run truncates it.
        truncate_after(&path, 9).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{HEADER}\n{}", rows(1..=5))
        );
        drop(CsvLog::open(&path, None).unwrap());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{HEADER}\n")
        );
        truncate_after(&dir.join("missing.csv"), 1).unwrap();
    }
}
