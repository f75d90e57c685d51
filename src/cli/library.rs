//! `earmark library info|remove`: inspect and edit a library without re-indexing.
//!
//! A library records the identity of the model that built it and is opened only with that
//! model, so both commands take the same model flags as `index` and `query`.

use super::model_choice::ModelArgs;
use anyhow::bail;
use earmark::index::Library;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Tracks, hours, segments, model, K, bucket occupancy and size of a library.
    Info {
        #[arg(short, long, value_name = "LIBRARY")]
        library: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Remove tracks (by their path in the library, as `library tracks` lists them).
    Remove {
        #[arg(short, long, value_name = "LIBRARY")]
        library: PathBuf,
        #[arg(required = true)]
        tracks: Vec<String>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// List the tracks of a library: path, duration (s), segments.
    Tracks {
        #[arg(short, long, value_name = "LIBRARY")]
        library: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
    },
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Info { library, model } => {
            let library = Library::open(&library, model.load()?.identity())?;
            println!("{}", library.info());
        }
        Command::Tracks { library, model } => {
            let library = Library::open(&library, model.load()?.identity())?;
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for t in library.tracks() {
                writeln!(out, "{}\t{:.3}\t{}", t.path, t.duration_s, t.segments)?;
            }
            out.flush()?;
        }
        Command::Remove {
            library: path,
            tracks,
            model,
        } => {
            let library = Library::open(&path, model.load()?.identity())?;
            let missing: Vec<&str> = tracks
                .iter()
                .filter(|t| library.find(t).is_none())
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                bail!(
                    "{}: no track {} (nothing removed)",
                    path.display(),
                    missing.join(", ")
                );
            }
            let mut builder = library.into_builder();
            for t in &tracks {
                builder.remove_track(t);
            }
            let library = builder.build();
            library.save(&path)?;
            println!(
                "removed {} tracks; {} left",
                tracks.len(),
                library.tracks().len()
            );
        }
    }
    Ok(())
}
