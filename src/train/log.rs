//! The per-step CSV log: `step,lr,loss,l_c,l_h,l_r,grad_norm,seconds`, one row per step,
//! flushed every row so that a killed run keeps its log. A resumed run appends.

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
    /// Creates (truncating) or, with `append`, continues the log at `path`; the header is
    /// written when the file is new or empty.
    pub fn open(path: &Path, append: bool) -> Result<CsvLog> {
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
