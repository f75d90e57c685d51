//! The `earmark` command-line tool.
//!
//! `main` returns an exit code: 0 on success, 1 with a one-line message on stderr on any
//! failure, 2 for usage errors (clap). Output that goes to a closed pipe (`| head`) ends the
//! program quietly with 0.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Training and embedding reallocate large tensors every batch (see the function).
    earmark::train::keep_freed_memory();
    cli::run()
}
