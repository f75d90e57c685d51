//! A line chart as plain data: title, axis labels, series of (x, y) points with a colour,
//! a stroke (solid or dashed) and a marker. [`crate::plot::layout`] turns it into shapes.

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// The colour mixed with white: `t` = 0 keeps it, 1 gives white.
    pub fn lighten(self, t: f32) -> Rgb {
        let mix = |c: u8| (f32::from(c) + (255.0 - f32::from(c)) * t.clamp(0.0, 1.0)).round() as u8;
        Rgb(mix(self.0), mix(self.1), mix(self.2))
    }
}

/// Series colours: the ten of Tableau 10 (matplotlib's default cycle), in its order, so
/// that neighbouring series differ in hue.
pub const PALETTE: [Rgb; 10] = [
    Rgb(0x1f, 0x77, 0xb4),
    Rgb(0xff, 0x7f, 0x0e),
    Rgb(0x2c, 0xa0, 0x2c),
    Rgb(0xd6, 0x27, 0x28),
    Rgb(0x94, 0x67, 0xbd),
    Rgb(0x8c, 0x56, 0x4b),
    Rgb(0xe3, 0x77, 0xc2),
    Rgb(0x7f, 0x7f, 0x7f),
    Rgb(0xbc, 0xbd, 0x22),
    Rgb(0x17, 0xbe, 0xcf),
];

/// The i-th palette colour, cycling.
pub fn palette(i: usize) -> Rgb {
    PALETTE[i % PALETTE.len()]
}

/// How a series' line is stroked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stroke {
    Solid,
    /// Dashes of [`DASH_PX`].
    Dashed,
    /// No line: markers only.
    None,
}

/// Dash pattern of [`Stroke::Dashed`], px: 7 on, 4 off (readable at 1.5–2.5 px widths).
pub const DASH_PX: [f32; 2] = [7.0, 4.0];

/// The mark drawn at every point of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    None,
    Circle,
    Square,
    Triangle,
    Diamond,
}

impl Marker {
    /// The filled markers, for series told apart by shape (e.g. search methods).
    pub const SHAPES: [Marker; 4] = [
        Marker::Circle,
        Marker::Square,
        Marker::Triangle,
        Marker::Diamond,
    ];
}

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label; an empty name keeps the series out of the legend.
    pub name: String,
    /// (x, y) in data units, drawn in order; a non-finite coordinate breaks the line.
    pub points: Vec<(f64, f64)>,
    pub color: Rgb,
    pub stroke: Stroke,
    pub marker: Marker,
    /// Line width, px.
    pub width: f32,
}

impl Series {
    /// A solid 2 px line without markers.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>, color: Rgb) -> Series {
        Series {
            name: name.into(),
            points,
            color,
            stroke: Stroke::Solid,
            marker: Marker::None,
            width: 2.0,
        }
    }

    pub fn dashed(mut self) -> Series {
        self.stroke = Stroke::Dashed;
        self
    }

    pub fn marker(mut self, marker: Marker) -> Series {
        self.marker = marker;
        self
    }

    pub fn width(mut self, px: f32) -> Series {
        self.width = px;
        self
    }
}

/// A line chart: axes with ticks and labels, a title, a legend on the right.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// A y range the axis covers at least (e.g. 0–100 for percentages); the data widen it.
    pub y_span: Option<(f64, f64)>,
    pub series: Vec<Series>,
    /// Picture size, px.
    pub width: u32,
    pub height: u32,
}

/// Default picture size, px: 900 × 540 (5:3), legible at 1:1 on a laptop screen and in a
/// README.
pub const DEFAULT_SIZE: (u32, u32) = (900, 540);

impl Chart {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            y_span: None,
            series: Vec::new(),
            width: DEFAULT_SIZE.0,
            height: DEFAULT_SIZE.1,
        }
    }

    pub fn y_span(mut self, lo: f64, hi: f64) -> Chart {
        self.y_span = Some((lo, hi));
        self
    }

    pub fn size(mut self, width: u32, height: u32) -> Chart {
        self.width = width;
        self.height = height;
        self
    }

    pub fn push(&mut self, series: Series) {
        self.series.push(series);
    }
}
