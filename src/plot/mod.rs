//! Line charts as SVG and PNG (feature `plot`): the charts of `earmark eval` and of a
//! training run (`earmark plot`).
//!
//! A [`Chart`] (data) is laid out once into a [`Scene`] (shapes in pixels); the SVG is that
//! scene written as text and needs no font, the PNG is the same scene drawn by tiny-skia
//! with text from a TrueType font found at run time ([`Fonts::find`]). Without a font the
//! SVG is still written.
//!
//! | module | what it holds |
//! |---|---|
//! | [`chart`] | charts, series, colours, strokes, markers |
//! | [`ticks`] | nice tick steps and labels |
//! | [`layout`] | chart → scene: frame, grid, ticks, labels, series, legend |
//! | [`svg`] / [`png`] | scene → SVG text / PNG bytes |
//! | [`csv`] | the numeric step logs of `earmark train` |
//! | [`training`] | charts of a training run: losses, validation hit rates, bucket entropy |
//! | [`hit_rate`] | charts of an evaluation table against SNR and RT60 |

pub mod chart;
pub mod csv;
pub mod hit_rate;
pub mod layout;
pub mod png;
pub mod svg;
pub mod ticks;
pub mod training;

use std::path::{Path, PathBuf};

pub use chart::{Chart, Marker, Rgb, Series, Stroke, palette};
pub use layout::{Scene, layout};
pub use png::Fonts;

use crate::{Error, Result};

/// The files one chart was written to.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    pub svg: PathBuf,
    /// `None` when no font was given.
    pub png: Option<PathBuf>,
}

/// Writes `chart` as `dir/stem.svg` and, with `fonts`, `dir/stem.png`.
pub fn write_chart(
    chart: &Chart,
    dir: &Path,
    stem: &str,
    fonts: Option<&Fonts>,
) -> Result<Written> {
    let scene = layout(chart);
    let svg = dir.join(format!("{stem}.svg"));
    std::fs::write(&svg, svg::to_svg(&scene)).map_err(|e| Error::io(&svg, e))?;
    let png = match fonts {
        Some(fonts) => {
            let path = dir.join(format!("{stem}.png"));
            let bytes = png::to_png(&scene, fonts)?;
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
            Some(path)
        }
        None => None,
    };
    Ok(Written { svg, png })
}

#[cfg(test)]
mod tests;
