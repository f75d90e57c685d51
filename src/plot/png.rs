//! A [`Scene`] drawn into pixels with tiny-skia (anti-aliased paths, dashes) and encoded as
//! PNG. Text needs a TrueType font, loaded at run time ([`Fonts::find`]): DejaVu Sans
//! (Debian's `fonts-dejavu-core`) or the file named by `$EARMARK_FONT`.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use tiny_skia::{
    FillRule, LineCap, LineJoin, Paint, PathBuilder, Pixmap, PixmapPaint, Rect, StrokeDash,
    Transform,
};

use crate::plot::chart::{DASH_PX, Rgb};
use crate::plot::layout::{Anchor, Scene, Shape};
use crate::{Error, Result};

/// The environment variable that names a .ttf/.otf file for the PNG text.
pub const FONT_ENV: &str = "EARMARK_FONT";

/// Where the regular and bold DejaVu Sans live: Debian and Ubuntu (`fonts-dejavu-core`),
/// Fedora, Arch; then fonts most desktops have.
const FONT_CANDIDATES: [(&str, &str); 5] = [
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ),
    (
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
    ),
];

/// The fonts of a PNG: regular, and bold for the title (the regular one if there is no
/// bold file beside it).
pub struct Fonts {
    regular: FontVec,
    bold: Option<FontVec>,
    /// The regular font's file, for messages.
    pub path: PathBuf,
}

fn load(path: &Path) -> Result<FontVec> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    FontVec::try_from_vec(bytes)
        .map_err(|_| Error::invalid(format!("{}: not a TrueType/OpenType font", path.display())))
}

impl Fonts {
    /// The font named by `$EARMARK_FONT` (an error if that file is unusable), else the
    /// first of the usual DejaVu Sans locations. Errors (`Error::Invalid`) with what to
    /// install when none is found.
    pub fn find() -> Result<Fonts> {
        if let Some(path) = std::env::var_os(FONT_ENV).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            let regular = load(&path).map_err(|e| Error::invalid(format!("${FONT_ENV}: {e}")))?;
            return Ok(Fonts {
                regular,
                bold: None,
                path,
            });
        }
        for (regular, bold) in FONT_CANDIDATES {
            if let Ok(font) = load(Path::new(regular)) {
                return Ok(Fonts {
                    regular: font,
                    bold: load(Path::new(bold)).ok(),
                    path: regular.into(),
                });
            }
        }
        Err(Error::invalid(format!(
            "no font for the PNG charts: install DejaVu Sans (Debian/Ubuntu: \
             `apt-get install fonts-dejavu-core`) or set {FONT_ENV} to a .ttf file"
        )))
    }

    /// Loads one font file for both weights.
    pub fn from_file(path: &Path) -> Result<Fonts> {
        Ok(Fonts {
            regular: load(path)?,
            bold: None,
            path: path.to_path_buf(),
        })
    }

    fn get(&self, bold: bool) -> &FontVec {
        match (&self.bold, bold) {
            (Some(b), true) => b,
            _ => &self.regular,
        }
    }
}

fn paint(color: Rgb) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color_rgba8(color.0, color.1, color.2, 255);
    paint.anti_alias = true;
    paint
}

fn polyline(points: &[(f32, f32)], close: bool) -> Option<tiny_skia::Path> {
    let mut pb = PathBuilder::new();
    let (&(x0, y0), rest) = points.split_first()?;
    pb.move_to(x0, y0);
    for &(x, y) in rest {
        pb.line_to(x, y);
    }
    if close {
        pb.close();
    }
    pb.finish()
}

/// `text` at `size` px em, rasterised into its own pixmap with the baseline at
/// `ascent` px from the top and the pen starting at x = 1: (pixmap, text width, ascent).
fn text_pixmap(font: &FontVec, text: &str, size: f32, color: Rgb) -> Option<(Pixmap, f32, f32)> {
    // ab_glyph scales by the ascent-to-descent height; CSS sizes by the em.
    let units_per_em = font.units_per_em()?;
    let scale = PxScale::from(size * font.height_unscaled() / units_per_em);
    let scaled = font.as_scaled(scale);
    let (ascent, descent) = (scaled.ascent(), scaled.descent());
    let mut glyphs = Vec::new();
    let mut pen = 1.0;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            pen += scaled.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(pen, ascent)));
        pen += scaled.h_advance(id);
        previous = Some(id);
    }
    let width = pen - 1.0;
    let (w, h) = (
        (pen + 2.0).ceil() as u32,
        (ascent - descent + 2.0).ceil() as u32,
    );
    let mut coverage = vec![0f32; (w * h) as usize];
    for glyph in glyphs {
        let Some(outline) = font.outline_glyph(glyph) else {
            continue; // a space
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, c| {
            let x = bounds.min.x as i64 + i64::from(gx);
            let y = bounds.min.y as i64 + i64::from(gy);
            if (0..i64::from(w)).contains(&x) && (0..i64::from(h)).contains(&y) {
                let cell = &mut coverage[(y as u32 * w + x as u32) as usize];
                *cell = (*cell + c).min(1.0);
            }
        });
    }
    // Premultiplied RGBA.
    let mut data = Vec::with_capacity(coverage.len() * 4);
    for a in coverage {
        let a8 = (a * 255.0).round() as u8;
        let pre = |c: u8| (f32::from(c) * a).round() as u8;
        data.extend([pre(color.0), pre(color.1), pre(color.2), a8]);
    }
    let pixmap = Pixmap::from_vec(data, tiny_skia::IntSize::from_wh(w, h)?)?;
    Some((pixmap, width, ascent))
}

/// Draws `scene` and encodes it as PNG (8-bit RGBA, `scene.width` × `scene.height`).
pub fn to_png(scene: &Scene, fonts: &Fonts) -> Result<Vec<u8>> {
    let mut pixmap = Pixmap::new(scene.width, scene.height).ok_or_else(|| {
        Error::invalid(format!(
            "cannot draw a {} × {} px picture",
            scene.width, scene.height
        ))
    })?;
    pixmap.fill(tiny_skia::Color::WHITE);
    let id = Transform::identity();
    for shape in &scene.shapes {
        match shape {
            Shape::Rect {
                x,
                y,
                w,
                h,
                fill,
                outline,
            } => {
                let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else {
                    continue;
                };
                let path = PathBuilder::from_rect(rect);
                if let Some(c) = fill {
                    pixmap.fill_path(&path, &paint(*c), FillRule::Winding, id, None);
                }
                if let Some((c, width)) = outline {
                    let stroke = tiny_skia::Stroke {
                        width: *width,
                        ..Default::default()
                    };
                    pixmap.stroke_path(&path, &paint(*c), &stroke, id, None);
                }
            }
            Shape::Line {
                points,
                color,
                width,
                dashed,
            } => {
                let Some(path) = polyline(points, false) else {
                    continue;
                };
                let stroke = tiny_skia::Stroke {
                    width: *width,
                    line_cap: LineCap::Butt,
                    line_join: LineJoin::Round,
                    dash: if *dashed {
                        StrokeDash::new(DASH_PX.to_vec(), 0.0)
                    } else {
                        None
                    },
                    ..Default::default()
                };
                pixmap.stroke_path(&path, &paint(*color), &stroke, id, None);
            }
            Shape::Polygon { points, fill } => {
                if let Some(path) = polyline(points, true) {
                    pixmap.fill_path(&path, &paint(*fill), FillRule::Winding, id, None);
                }
            }
            Shape::Circle { cx, cy, r, fill } => {
                if let Some(path) = PathBuilder::from_circle(*cx, *cy, *r) {
                    pixmap.fill_path(&path, &paint(*fill), FillRule::Winding, id, None);
                }
            }
            Shape::Text {
                x,
                y,
                text,
                size,
                anchor,
                color,
                bold,
                vertical,
            } => {
                let Some((label, width, ascent)) =
                    text_pixmap(fonts.get(*bold), text, *size, *color)
                else {
                    continue;
                };
                let along = match anchor {
                    Anchor::Start => 0.0,
                    Anchor::Middle => width / 2.0,
                    Anchor::End => width,
                };
                // Whole-pixel offsets keep glyph edges crisp (no resampling).
                let place = Transform::from_translate(x.round(), y.round());
                let place = if *vertical {
                    place.pre_rotate(-90.0)
                } else {
                    place
                };
                let place = place.pre_translate(-(1.0 + along).round(), -ascent.round());
                pixmap.draw_pixmap(0, 0, label.as_ref(), &PixmapPaint::default(), place, None);
            }
        }
    }
    pixmap
        .encode_png()
        .map_err(|e| Error::invalid(format!("encoding PNG: {e}")))
}
