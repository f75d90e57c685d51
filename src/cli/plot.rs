//! `earmark plot LOG.csv`: a training run's charts as SVG and PNG — losses against steps
//! from `MODEL.log.csv`, and from `MODEL.val.csv` (beside it, or `--val`) validation hit
//! rates and bucket entropy against steps.

use std::path::{Path, PathBuf};

use anyhow::Context;
use earmark::plot::csv::read_step_table;
use earmark::plot::training::{entropy_chart, loss_chart, validation_chart};
use earmark::plot::{Chart, Fonts, write_chart};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The step log of `earmark train` (MODEL.log.csv).
    log: PathBuf,
    /// The validation log (default: MODEL.val.csv beside the step log, if it exists).
    #[arg(long)]
    val: Option<PathBuf>,
    /// Output folder (default: the step log's folder).
    #[arg(short = 'o', long)]
    out: Option<PathBuf>,
}

/// `MODEL` of `MODEL.log.csv` (or of `NAME.csv`, or the whole file name).
fn run_name(log: &Path) -> String {
    let file = log.file_name().unwrap_or_default().to_string_lossy();
    file.strip_suffix(".log.csv")
        .or_else(|| file.strip_suffix(".csv"))
        .unwrap_or(&file)
        .to_string()
}

/// The fonts for the PNGs, or `None` after a warning that only SVGs will be written.
pub fn fonts_or_warn() -> Option<Fonts> {
    match Fonts::find() {
        Ok(fonts) => Some(fonts),
        Err(e) => {
            eprintln!("earmark: warning: writing SVG charts only, no PNG: {e}");
            None
        }
    }
}

/// Writes each chart as `dir/stem.svg` (and `.png` with fonts); returns the files written.
pub fn write_all(charts: &[(String, Chart)], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let fonts = fonts_or_warn();
    let mut files = Vec::new();
    for (stem, chart) in charts {
        let written = write_chart(chart, dir, stem, fonts.as_ref())?;
        files.push(written.svg);
        files.extend(written.png);
    }
    Ok(files)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let name = run_name(&args.log);
    let log = read_step_table(&args.log)?;
    anyhow::ensure!(
        !log.steps.is_empty(),
        "{}: no steps logged yet",
        args.log.display()
    );
    let mut charts = vec![(
        format!("{name}.losses"),
        loss_chart(&log, &args.log, &name)?,
    )];
    let val = args.val.clone().or_else(|| {
        let sibling = args.log.with_file_name(format!("{name}.val.csv"));
        sibling.exists().then_some(sibling)
    });
    if let Some(path) = val {
        let val = read_step_table(&path)?;
        if val.steps.is_empty() {
            eprintln!("earmark: {}: no validation rows yet", path.display());
        } else {
            charts.push((
                format!("{name}.validation"),
                validation_chart(&val, &path, &name)?,
            ));
            charts.push((
                format!("{name}.entropy"),
                entropy_chart(&val, &path, &name)?,
            ));
        }
    }
    let dir = match args.out {
        Some(dir) => dir,
        None => args
            .log
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    for file in write_all(&charts, &dir)? {
        println!("{}", file.display());
    }
    Ok(())
}
