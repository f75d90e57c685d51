//! `earmark library info|remove`: inspect and edit a library without re-indexing.
//!
//! None of them embeds audio, so none needs the model: a library is opened whatever model
//! built it (its identity is shown by `info`), and a removal keeps that identity.

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
    },
    /// Remove tracks (by their path in the library, as `library tracks` lists them).
    Remove {
        #[arg(short, long, value_name = "LIBRARY")]
        library: PathBuf,
        #[arg(required = true)]
        tracks: Vec<String>,
    },
    /// List the tracks of a library: path, duration (s), segments.
    Tracks {
        #[arg(short, long, value_name = "LIBRARY")]
        library: PathBuf,
    },
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Info { library } => {
            let library = Library::open_any_model(&library)?;
            println!("{}", library.info());
        }
        Command::Tracks { library } => {
            let library = Library::open_any_model(&library)?;
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
        } => {
            let library = Library::open_any_model(&path)?;
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
