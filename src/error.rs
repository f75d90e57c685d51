//! The library's error type: everything that comes from outside the program (files,
//! audio, index and weight formats, GPU set-up, user-supplied settings).
//!
//! Programmer errors — a shape mismatch between two tensors, an out-of-range index into
//! our own buffers — are bugs and panic with the op's name and the shapes involved.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error a user can act on. Every variant that concerns a file names it.
#[derive(Debug)]
pub enum Error {
    /// Reading or writing a file failed at the operating-system level.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An audio file could not be decoded, or its content is unusable
    /// (truncated, silent, non-finite samples, absurd channel count or rate, ...).
    Audio { path: PathBuf, problem: String },
    /// An on-disk index or library file is damaged, foreign, from a future version,
    /// or was built with another model.
    Index { path: PathBuf, problem: String },
    /// A weights or checkpoint file is damaged or does not match the model.
    Weights { path: PathBuf, problem: String },
    /// The GPU could not be set up, or it lacks a feature or limit we need.
    Gpu(String),
    /// A setting or argument is out of range or inconsistent.
    Invalid(String),
}

impl Error {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
    pub fn audio(path: impl AsRef<Path>, problem: impl Into<String>) -> Self {
        Error::Audio {
            path: path.as_ref().to_path_buf(),
            problem: problem.into(),
        }
    }
    pub fn index(path: impl AsRef<Path>, problem: impl Into<String>) -> Self {
        Error::Index {
            path: path.as_ref().to_path_buf(),
            problem: problem.into(),
        }
    }
    pub fn weights(path: impl AsRef<Path>, problem: impl Into<String>) -> Self {
        Error::Weights {
            path: path.as_ref().to_path_buf(),
            problem: problem.into(),
        }
    }
    pub fn gpu(problem: impl Into<String>) -> Self {
        Error::Gpu(problem.into())
    }
    pub fn invalid(problem: impl Into<String>) -> Self {
        Error::Invalid(problem.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Audio { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Index { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Weights { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Gpu(problem) => write!(f, "GPU: {problem}"),
            Error::Invalid(problem) => f.write_str(problem),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
