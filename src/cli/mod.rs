//! Argument parsing and dispatch; one file per subcommand.

mod eval;
mod inspect;
mod output;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Identify short, distorted audio clips against a catalogue you indexed.
#[derive(Parser, Debug)]
#[command(name = "earmark", version, about, long_about = None)]
pub struct Cli {
    /// Print a per-op profile table (calls, ms, %, GFLOP/s) when the command ends.
    #[arg(long, global = true)]
    profile: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show format, channels, rate, duration, segments and levels of audio files.
    Inspect(inspect::Args),
    /// Index a catalogue of audio files into a library.
    Index(Pending),
    /// Identify query clips against a library.
    Query(Pending),
    /// Train a model on a folder of music.
    Train(Box<train::Args>),
    /// Evaluate hit rates under the paper's distortions.
    Eval(eval::Args),
    /// Benchmark search methods on a library.
    Bench(Pending),
}

/// Arguments of a subcommand that this build does not provide yet.
#[derive(clap::Args, Debug)]
struct Pending {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if cli.profile {
        earmark::profile::enable(true);
    }
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Index(_) => pending("index"),
        Command::Query(_) => pending("query"),
        Command::Train(args) => train::run(*args),
        Command::Eval(args) => eval::run(args),
        Command::Bench(_) => pending("bench"),
    };
    if earmark::profile::enabled() {
        eprint!("{}", earmark::profile::report());
    }
    output::exit_code(result)
}

fn pending(name: &str) -> anyhow::Result<()> {
    anyhow::bail!("`earmark {name}` is not part of this build yet")
}
