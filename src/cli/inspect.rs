//! `earmark inspect FILE...`: what earmark sees in each audio file, or why it cannot read it.

use super::output::{json_number, json_string};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Audio files (WAV; FLAC, Ogg Vorbis, Opus, MP3, AAC/M4A with the `decode` feature).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON object per file, as a JSON array.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut failed = 0usize;
    if args.json {
        writeln!(out, "[")?;
    }
    for (n, path) in args.files.iter().enumerate() {
        let result = earmark::audio::inspect(path);
        if result.is_err() {
            failed += 1;
        }
        if args.json {
            let sep = if n + 1 < args.files.len() { "," } else { "" };
            let file = json_string(&path.display().to_string());
            match result {
                Ok(i) => writeln!(
                    out,
                    "  {{\"file\": {file}, \"format\": {}, \"channels\": {}, \"sample_rate\": {}, \
                     \"duration_seconds\": {}, \"segments\": {}, \"peak_dbfs\": {}, \"rms_dbfs\": {}}}{sep}",
                    json_string(&i.format),
                    i.channels,
                    i.sample_rate,
                    json_number(i.duration_seconds),
                    i.segments,
                    json_number(i.peak_dbfs),
                    json_number(i.rms_dbfs),
                )?,
                Err(e) => writeln!(
                    out,
                    "  {{\"file\": {file}, \"error\": {}}}{sep}",
                    json_string(&e.to_string())
                )?,
            }
        } else {
            match result {
                Ok(i) => writeln!(
                    out,
                    "{}: {}, {} ch, {} Hz, {:.3} s, {} segments, peak {:.1} dBFS, RMS {:.1} dBFS",
                    path.display(),
                    i.format,
                    i.channels,
                    i.sample_rate,
                    i.duration_seconds,
                    i.segments,
                    i.peak_dbfs,
                    i.rms_dbfs
                )?,
                // The error names the file already.
                Err(e) => writeln!(out, "error: {e}")?,
            }
        }
    }
    if args.json {
        writeln!(out, "]")?;
    }
    out.flush()?;
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be read", args.files.len());
    }
    Ok(())
}
