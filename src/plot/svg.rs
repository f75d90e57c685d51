//! A [`Scene`] as an SVG document: plain text, no font needed to write it (the viewer
//! picks DejaVu Sans or another sans-serif).

use std::fmt::Write;

use crate::plot::chart::DASH_PX;
use crate::plot::layout::{Anchor, Scene, Shape};

/// Font families asked of the viewer, first available wins.
const FONT_FAMILY: &str = "DejaVu Sans, Verdana, Arial, sans-serif";

/// `s` with XML's special characters escaped, for text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `x,y x,y …` with two decimals (a hundredth of a pixel is below what any viewer shows).
fn point_list(points: &[(f32, f32)]) -> String {
    let mut out = String::with_capacity(points.len() * 14);
    for (i, (x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{x:.2},{y:.2}");
    }
    out
}

/// The scene as a standalone SVG 1.1 document.
pub fn to_svg(scene: &Scene) -> String {
    let (w, h) = (scene.width, scene.height);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{FONT_FAMILY}\">\n\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n"
    );
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
                let fill = fill.map_or("none".to_string(), |c| c.hex());
                let stroke = outline.map_or(String::new(), |(c, width)| {
                    format!(" stroke=\"{}\" stroke-width=\"{width}\"", c.hex())
                });
                let _ = writeln!(
                    out,
                    "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" \
                     fill=\"{fill}\"{stroke}/>"
                );
            }
            Shape::Line {
                points,
                color,
                width,
                dashed,
            } => {
                let dash = if *dashed {
                    format!(" stroke-dasharray=\"{} {}\"", DASH_PX[0], DASH_PX[1])
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\" \
                     stroke-linejoin=\"round\" stroke-linecap=\"butt\"{dash}/>",
                    point_list(points),
                    color.hex()
                );
            }
            Shape::Polygon { points, fill } => {
                let _ = writeln!(
                    out,
                    "<polygon points=\"{}\" fill=\"{}\"/>",
                    point_list(points),
                    fill.hex()
                );
            }
            Shape::Circle { cx, cy, r, fill } => {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{cx:.2}\" cy=\"{cy:.2}\" r=\"{r}\" fill=\"{}\"/>",
                    fill.hex()
                );
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
                let anchor = match anchor {
                    Anchor::Start => "start",
                    Anchor::Middle => "middle",
                    Anchor::End => "end",
                };
                let weight = if *bold { " font-weight=\"bold\"" } else { "" };
                let rotate = if *vertical {
                    format!(" transform=\"rotate(-90 {x:.2} {y:.2})\"")
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "<text x=\"{x:.2}\" y=\"{y:.2}\" font-size=\"{size}\" text-anchor=\"{anchor}\" \
                     fill=\"{}\"{weight}{rotate}>{}</text>",
                    color.hex(),
                    escape(text)
                );
            }
        }
    }
    out.push_str("</svg>\n");
    out
}
