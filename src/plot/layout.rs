//! A [`Chart`] laid out as shapes in pixels ([`Scene`]): the frame, grid, ticks, labels,
//! series and legend. The SVG and PNG writers draw the same scene, so both pictures agree.
//!
//! Coordinates are px from the top-left corner, y down. Text is placed at its baseline.
//! The layout estimates text widths (it must work without a font, for the SVG); the
//! estimate only sizes the margins and the legend box.

use crate::plot::chart::{Chart, Marker, Rgb, Series, Stroke};
use crate::plot::ticks;

/// Where a text's anchor point sits along the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// One thing to draw.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A rectangle with an optional fill and an optional outline (colour, width px).
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Rgb>,
        outline: Option<(Rgb, f32)>,
    },
    /// An open polyline.
    Line {
        points: Vec<(f32, f32)>,
        color: Rgb,
        width: f32,
        dashed: bool,
    },
    /// A filled closed polygon (markers).
    Polygon { points: Vec<(f32, f32)>, fill: Rgb },
    /// A filled circle (markers).
    Circle { cx: f32, cy: f32, r: f32, fill: Rgb },
    /// Text with its baseline at y; `vertical` turns it 90° anticlockwise about (x, y).
    Text {
        x: f32,
        y: f32,
        text: String,
        size: f32,
        anchor: Anchor,
        color: Rgb,
        bold: bool,
        vertical: bool,
    },
}

/// A chart as shapes on a `width` × `height` px canvas with a white background.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    pub shapes: Vec<Shape>,
}

/// Font sizes, px.
const TITLE_PX: f32 = 18.0;
const LABEL_PX: f32 = 14.0;
const TICK_PX: f32 = 12.0;
const LEGEND_PX: f32 = 12.0;
/// Legend row pitch, px.
const LEGEND_ROW_PX: f32 = 18.0;
/// Length of a legend's line sample, px.
const LEGEND_SAMPLE_PX: f32 = 30.0;
/// Tick mark length, px.
const TICK_LEN_PX: f32 = 5.0;
/// Marker radius, px.
const MARKER_PX: f32 = 4.0;
/// About this many intervals between ticks on each axis.
const X_TICKS: usize = 6;
const Y_TICKS: usize = 5;
/// Space between the data range and the frame, as a share of the range on each side.
const FRAME_PAD: f64 = 0.025;

const INK: Rgb = Rgb(0x22, 0x22, 0x22);
const FRAME: Rgb = Rgb(0x55, 0x55, 0x55);
const GRID: Rgb = Rgb(0xe3, 0xe3, 0xe3);
const LEGEND_EDGE: Rgb = Rgb(0xcc, 0xcc, 0xcc);

/// Estimated width of `text` at `size` px: 0.6 em per character, between DejaVu Sans'
/// advances for digits (0.64 em) and its mean over lower-case letters (about 0.56 em).
pub fn text_width_estimate(text: &str, size: f32) -> f32 {
    0.6 * size * text.chars().count() as f32
}

/// Data-to-pixel mapping of the plot area.
struct Axes {
    x: (f64, f64),
    y: (f64, f64),
    left: f32,
    top: f32,
    right: f32,
    bottom: f32,
}

impl Axes {
    fn px(&self, (x, y): (f64, f64)) -> (f32, f32) {
        let fx = (x - self.x.0) / (self.x.1 - self.x.0);
        let fy = (y - self.y.0) / (self.y.1 - self.y.0);
        (
            self.left + fx as f32 * (self.right - self.left),
            self.bottom - fy as f32 * (self.bottom - self.top),
        )
    }
}

/// The smallest and largest finite x and y over all series.
fn data_bounds(series: &[Series]) -> ((f64, f64), (f64, f64)) {
    let mut x = (f64::INFINITY, f64::NEG_INFINITY);
    let mut y = x;
    for &(px, py) in series.iter().flat_map(|s| &s.points) {
        if px.is_finite() && py.is_finite() {
            x = (x.0.min(px), x.1.max(px));
            y = (y.0.min(py), y.1.max(py));
        }
    }
    (x, y)
}

/// At most about `max` points that keep the outline of a long series: per run of points,
/// the first, the lowest and the highest (in x order) — a 100 000-step loss curve drawn as
/// a few thousand points looks the same and keeps the SVG small.
pub fn decimate(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max.max(3) {
        return points.to_vec();
    }
    let chunk = points.len().div_ceil(max.max(3) / 3);
    let mut out = Vec::with_capacity(max + 3);
    for run in points.chunks(chunk) {
        let finite = || run.iter().copied().filter(|p| p.1.is_finite());
        let (Some(lo), Some(hi)) = (
            finite().min_by(|a, b| a.1.total_cmp(&b.1)),
            finite().max_by(|a, b| a.1.total_cmp(&b.1)),
        ) else {
            // A run without a finite point keeps the break in the line.
            out.push((run[0].0, f64::NAN));
            continue;
        };
        let mut picks = [run[0], lo, hi];
        picks.sort_by(|a, b| a.0.total_cmp(&b.0));
        for p in picks {
            if p.1.is_finite() && out.last() != Some(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Lays out `chart` on its canvas.
pub fn layout(chart: &Chart) -> Scene {
    let (width, height) = (chart.width as f32, chart.height as f32);
    let ((x_lo, x_hi), (mut y_lo, mut y_hi)) = data_bounds(&chart.series);
    if let Some((lo, hi)) = chart.y_span {
        (y_lo, y_hi) = (y_lo.min(lo), y_hi.max(hi));
    }
    let x = ticks::non_degenerate(x_lo, x_hi);
    let (y, y_step) = ticks::widen_to_ticks(y_lo, y_hi, Y_TICKS);
    let (x_ticks, x_step) = ticks::ticks(x.0, x.1, X_TICKS);
    let y_ticks = ticks::multiples(y.0, y.1, y_step);
    let y_labels: Vec<String> = y_ticks.iter().map(|&v| ticks::label(v, y_step)).collect();

    let legend: Vec<&Series> = chart.series.iter().filter(|s| !s.name.is_empty()).collect();
    let legend_text = legend
        .iter()
        .map(|s| text_width_estimate(&s.name, LEGEND_PX))
        .fold(0.0, f32::max);
    let legend_w = if legend.is_empty() {
        0.0
    } else {
        LEGEND_SAMPLE_PX + legend_text + 24.0
    };
    let y_label_w = y_labels
        .iter()
        .map(|l| text_width_estimate(l, TICK_PX))
        .fold(0.0, f32::max);
    // The frame sits a little outside the data range so that lines along the range's
    // ends (0 % and 100 % hit rates) stay clear of it; the ticks keep the unpadded range.
    let pad = |(lo, hi): (f64, f64)| (lo - FRAME_PAD * (hi - lo), hi + FRAME_PAD * (hi - lo));
    let axes = Axes {
        x: pad(x),
        y: pad(y),
        left: 16.0 + LABEL_PX + 10.0 + y_label_w + TICK_LEN_PX + 4.0,
        top: 16.0 + TITLE_PX + 14.0,
        right: width
            - 16.0
            - if legend.is_empty() {
                0.0
            } else {
                legend_w + 12.0
            },
        bottom: height - (16.0 + LABEL_PX + 10.0 + TICK_PX + TICK_LEN_PX + 6.0),
    };

    // A long title shrinks to fit the canvas (bold runs about 0.65 em per character).
    let title_w = 0.65 / 0.6 * text_width_estimate(&chart.title, TITLE_PX);
    let title_px = TITLE_PX * ((width - 32.0) / title_w).min(1.0);
    let mut shapes = vec![Shape::Text {
        x: width / 2.0,
        y: 16.0 + TITLE_PX,
        text: chart.title.clone(),
        size: title_px,
        anchor: Anchor::Middle,
        color: INK,
        bold: true,
        vertical: false,
    }];
    let text = |x, y, text: String, size, anchor| Shape::Text {
        x,
        y,
        text,
        size,
        anchor,
        color: INK,
        bold: false,
        vertical: false,
    };
    for &v in &x_ticks {
        let (px, _) = axes.px((v, y.0));
        shapes.push(line(&[(px, axes.top), (px, axes.bottom)], GRID, 1.0));
        shapes.push(line(
            &[(px, axes.bottom), (px, axes.bottom + TICK_LEN_PX)],
            FRAME,
            1.0,
        ));
        let baseline = axes.bottom + TICK_LEN_PX + 4.0 + TICK_PX;
        shapes.push(text(
            px,
            baseline,
            ticks::label(v, x_step),
            TICK_PX,
            Anchor::Middle,
        ));
    }
    for (&v, label) in y_ticks.iter().zip(y_labels) {
        let (_, py) = axes.px((x.0, v));
        shapes.push(line(&[(axes.left, py), (axes.right, py)], GRID, 1.0));
        shapes.push(line(
            &[(axes.left - TICK_LEN_PX, py), (axes.left, py)],
            FRAME,
            1.0,
        ));
        let baseline = py + 0.35 * TICK_PX;
        shapes.push(text(
            axes.left - TICK_LEN_PX - 4.0,
            baseline,
            label,
            TICK_PX,
            Anchor::End,
        ));
    }
    shapes.push(Shape::Rect {
        x: axes.left,
        y: axes.top,
        w: axes.right - axes.left,
        h: axes.bottom - axes.top,
        fill: None,
        outline: Some((FRAME, 1.0)),
    });
    shapes.push(text(
        (axes.left + axes.right) / 2.0,
        height - 16.0,
        chart.x_label.clone(),
        LABEL_PX,
        Anchor::Middle,
    ));
    shapes.push(Shape::Text {
        x: 16.0 + LABEL_PX,
        y: (axes.top + axes.bottom) / 2.0,
        text: chart.y_label.clone(),
        size: LABEL_PX,
        anchor: Anchor::Middle,
        color: INK,
        bold: false,
        vertical: true,
    });

    // Two points per pixel column are as many as a line can show.
    let max_points = 2 * (axes.right - axes.left).max(1.0) as usize;
    for s in &chart.series {
        let points: Vec<(f32, f32)> = decimate(&s.points, max_points)
            .into_iter()
            .map(|p| {
                if p.0.is_finite() && p.1.is_finite() {
                    axes.px(p)
                } else {
                    (f32::NAN, f32::NAN)
                }
            })
            .collect();
        if s.stroke != Stroke::None {
            for run in points.split(|p| p.0.is_nan()).filter(|r| r.len() > 1) {
                shapes.push(Shape::Line {
                    points: run.to_vec(),
                    color: s.color,
                    width: s.width,
                    dashed: s.stroke == Stroke::Dashed,
                });
            }
        }
        for &p in points.iter().filter(|p| !p.0.is_nan()) {
            shapes.extend(marker(s.marker, p, s.color));
        }
    }

    if !legend.is_empty() {
        let (x0, y0) = (axes.right + 12.0, axes.top);
        shapes.push(Shape::Rect {
            x: x0,
            y: y0,
            w: legend_w,
            h: LEGEND_ROW_PX * legend.len() as f32 + 10.0,
            fill: Some(Rgb(0xff, 0xff, 0xff)),
            outline: Some((LEGEND_EDGE, 1.0)),
        });
        for (i, s) in legend.iter().enumerate() {
            let mid = y0 + 5.0 + LEGEND_ROW_PX * (i as f32 + 0.5);
            let (a, b) = (x0 + 8.0, x0 + 8.0 + LEGEND_SAMPLE_PX);
            if s.stroke != Stroke::None {
                shapes.push(Shape::Line {
                    points: vec![(a, mid), (b, mid)],
                    color: s.color,
                    width: s.width,
                    dashed: s.stroke == Stroke::Dashed,
                });
            }
            shapes.extend(marker(s.marker, ((a + b) / 2.0, mid), s.color));
            shapes.push(text(
                b + 8.0,
                mid + 0.35 * LEGEND_PX,
                s.name.clone(),
                LEGEND_PX,
                Anchor::Start,
            ));
        }
    }
    Scene {
        width: chart.width,
        height: chart.height,
        shapes,
    }
}

fn line(points: &[(f32, f32)], color: Rgb, width: f32) -> Shape {
    Shape::Line {
        points: points.to_vec(),
        color,
        width,
        dashed: false,
    }
}

/// The shape of a marker centred on `(x, y)`, px.
fn marker(kind: Marker, (x, y): (f32, f32), fill: Rgb) -> Option<Shape> {
    let r = MARKER_PX;
    let polygon = |points: Vec<(f32, f32)>| Some(Shape::Polygon { points, fill });
    match kind {
        Marker::None => None,
        Marker::Circle => Some(Shape::Circle {
            cx: x,
            cy: y,
            r,
            fill,
        }),
        // The square, triangle and diamond are drawn a little larger than the circle so
        // that they look the same size.
        Marker::Square => {
            let h = 0.9 * r;
            polygon(vec![
                (x - h, y - h),
                (x + h, y - h),
                (x + h, y + h),
                (x - h, y + h),
            ])
        }
        Marker::Triangle => {
            let h = 1.25 * r;
            polygon(vec![
                (x, y - h),
                (x + h, y + 0.75 * h),
                (x - h, y + 0.75 * h),
            ])
        }
        Marker::Diamond => {
            let h = 1.3 * r;
            polygon(vec![(x, y - h), (x + h, y), (x, y + h), (x - h, y)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::chart::palette;

    fn texts(scene: &Scene) -> Vec<&str> {
        scene
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn layout_places_series_inside_the_frame_with_ticks_and_legend() {
        let mut chart = Chart::new("Hit rate", "SNR (dB)", "hit rate (%)").y_span(0.0, 100.0);
        let points = vec![
            (0.0, 40.0),
            (5.0, 60.0),
            (10.0, f64::NAN),
            (15.0, 80.0),
            (20.0, 90.0),
        ];
        chart.push(Series::line("1 s", points, palette(0)).marker(Marker::Circle));
        chart.push(Series::line("paper", vec![(0.0, 50.0), (20.0, 95.0)], palette(0)).dashed());
        let scene = layout(&chart);
        let t = texts(&scene);
        for label in [
            "Hit rate",
            "SNR (dB)",
            "hit rate (%)",
            "1 s",
            "paper",
            "0",
            "20",
            "100",
        ] {
            assert!(t.contains(&label), "{label} missing from {t:?}");
        }
        let frame = scene
            .shapes
            .iter()
            .find_map(|s| match *s {
                Shape::Rect {
                    x,
                    y,
                    w,
                    h,
                    fill: None,
                    ..
                } => Some((x, y, x + w, y + h)),
                _ => None,
            })
            .unwrap();
        let lines: Vec<(&Vec<(f32, f32)>, bool)> = scene
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Line {
                    points,
                    color,
                    dashed,
                    ..
                } if *color == palette(0) => Some((points, *dashed)),
                _ => None,
            })
            .collect();
        // The NaN splits the solid series in two; legend samples add one line each.
        assert_eq!(lines.iter().filter(|(_, d)| !d).count(), 2 + 1);
        assert_eq!(lines.iter().filter(|(_, d)| *d).count(), 1 + 1);
        let (left, top, right, bottom) = frame;
        let (first, _) = lines[0];
        assert_eq!(first.len(), 2);
        let pad = FRAME_PAD as f32 * (right - left) / (1.0 + 2.0 * FRAME_PAD as f32);
        assert!(
            (first[0].0 - (left + pad)).abs() < 1e-3,
            "x = 0 just inside the left edge"
        );
        assert!(first[0].1 > top && first[0].1 < bottom);
        let markers = scene
            .shapes
            .iter()
            .filter(|s| matches!(s, Shape::Circle { .. }))
            .count();
        assert_eq!(markers, 4 + 1, "four finite points and one legend marker");
        for s in &scene.shapes {
            if let Shape::Line {
                points,
                dashed: true,
                ..
            } = s
                && points.len() == 2
                && points[0].0 >= left
                && points[1].0 <= right
            {
                assert!(points.iter().all(|p| p.1 >= top && p.1 <= bottom));
            }
        }
    }

    #[test]
    fn decimation_keeps_extremes_and_breaks() {
        let mut points: Vec<(f64, f64)> =
            (0..10_000).map(|i| (i as f64, (i % 97) as f64)).collect();
        points[5_000].1 = 1_000.0;
        let few = decimate(&points, 300);
        assert!(few.len() <= 300 + 3, "{}", few.len());
        assert!(few.contains(&(5_000.0, 1_000.0)), "the spike survives");
        assert!(few.windows(2).all(|w| w[0].0 < w[1].0), "x stays in order");
        assert_eq!(decimate(&points[..10], 300), points[..10]);
        let mut gap = points.clone();
        for p in &mut gap[2_000..4_000] {
            p.1 = f64::NAN;
        }
        assert!(decimate(&gap, 300).iter().any(|p| p.1.is_nan()));
    }

    #[test]
    fn an_empty_chart_still_has_axes() {
        let scene = layout(&Chart::new("nothing", "x", "y"));
        assert!(texts(&scene).contains(&"nothing"));
        assert!(scene.shapes.iter().any(|s| matches!(s, Shape::Rect { .. })));
    }
}
