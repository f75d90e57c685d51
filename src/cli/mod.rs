//! Argument parsing and dispatch; one file per subcommand.

mod bench;
mod bench_threshold;
mod demo;
mod device;
mod embed;
mod eval;
mod index;
mod inspect;
mod library;
mod model_choice;
mod output;
mod plot;
mod query;
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
    /// Index the shipped demo music, identify distorted clips of it, print the answers.
    Demo(demo::Args),
    /// Show format, channels, rate, duration, segments and levels of audio files.
    Inspect(inspect::Args),
    /// Index a catalogue of audio files into a library.
    Index(index::Args),
    /// Identify query clips against a library.
    Query(query::Args),
    /// Show or edit a library: info, tracks, remove.
    Library(library::Args),
    /// Print a file's segment embeddings and bucket keys, or write them as .npy.
    Embed(embed::Args),
    /// Train a model on a folder of music.
    Train(Box<train::Args>),
    /// Evaluate hit rates under the paper's distortions.
    Eval(eval::Args),
    /// Draw a training log (MODEL.log.csv, MODEL.val.csv) as SVG and PNG charts.
    Plot(plot::Args),
    /// Benchmark search methods on a library.
    #[command(subcommand)]
    Bench(bench::Command),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if cli.profile {
        earmark::profile::enable(true);
    }
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Index(args) => index::run(args),
        Command::Query(args) => query::run(args),
        Command::Library(args) => library::run(args),
        Command::Embed(args) => embed::run(args),
        Command::Train(args) => train::run(*args),
        Command::Eval(args) => eval::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Bench(command) => bench::run(command),
    };
    if earmark::profile::enabled() {
        eprint!("{}", earmark::profile::report());
    }
    output::exit_code(result)
}
