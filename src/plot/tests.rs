//! The SVG and PNG writers on one small chart: the SVG parses as XML and holds the series
//! and labels, the PNG has the signature, the size and the ink where the scene puts it.

use super::*;
use crate::plot::layout::Shape;

/// A light XML well-formedness check: tags nest and close, attributes are quoted, text
/// has no bare `<` or `&`. Returns the text contents of the `<text>` elements.
fn check_xml(doc: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut texts = Vec::new();
    let mut rest = doc;
    while let Some(open) = rest.find('<') {
        let content = &rest[..open];
        assert!(!content.contains('>'), "stray `>` in {content:?}");
        for (i, _) in content.match_indices('&') {
            let entity = &content[i..content[i..].find(';').map_or(content.len(), |e| i + e + 1)];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity),
                "bad entity {entity:?}"
            );
        }
        if stack.last().is_some_and(|t| t == "text") {
            texts.push(content.to_string());
        }
        let close = rest[open..].find('>').expect("an unclosed tag") + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('?') {
            assert!(tag.ends_with('?'), "{tag}");
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let (name, mut attrs) = body.split_once(' ').unwrap_or((body, ""));
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "{tag}"
        );
        // name="value" pairs, values without `<` or `"`.
        while !attrs.trim().is_empty() {
            let (key, after) = attrs.trim_start().split_once("=\"").expect(tag);
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
                "{key}"
            );
            let (value, after) = after.split_once('"').expect(tag);
            assert!(!value.contains('<'), "{value}");
            attrs = after;
        }
        if !self_closing {
            stack.push(name.to_string());
        }
    }
    assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
    assert!(stack.is_empty(), "unclosed {stack:?}");
    texts
}

fn sample_chart() -> Chart {
    let mut chart = Chart::new("Hit rate <noise> & co", "SNR (dB)", "hit rate (%)")
        .y_span(0.0, 100.0)
        .size(420, 260);
    let snrs = [0.0, 5.0, 10.0, 15.0, 20.0];
    let ours = snrs.iter().zip([30.0, 50.0, 70.0, 80.0, 85.0]);
    let paper = snrs.iter().zip([64.9, 81.7, 87.9, 90.1, 90.9]);
    chart.push(
        Series::line("1 s ht", ours.map(|(&x, y)| (x, y)).collect(), palette(0))
            .marker(Marker::Square),
    );
    chart.push(
        Series::line(
            "1 s paper FE+HT",
            paper.map(|(&x, y)| (x, y)).collect(),
            palette(0),
        )
        .dashed(),
    );
    chart
}

#[test]
fn svg_is_well_formed_and_holds_series_and_labels() {
    let scene = layout(&sample_chart());
    let doc = svg::to_svg(&scene);
    assert!(doc.starts_with("<?xml") && doc.contains("width=\"420\" height=\"260\""));
    let texts = check_xml(&doc);
    for label in [
        "Hit rate &lt;noise&gt; &amp; co",
        "SNR (dB)",
        "hit rate (%)",
        "1 s ht",
        "1 s paper FE+HT",
        "0",
        "20",
        "100",
    ] {
        assert!(texts.iter().any(|t| t == label), "{label} not in {texts:?}");
    }
    let blue = palette(0).hex();
    let solid = doc
        .lines()
        .filter(|l| l.starts_with("<polyline") && l.contains(&blue) && !l.contains("dasharray"))
        .count();
    let dashed = doc
        .lines()
        .filter(|l| l.starts_with("<polyline") && l.contains(&blue) && l.contains("dasharray"))
        .count();
    assert_eq!(
        (solid, dashed),
        (2, 2),
        "one series and one legend sample each"
    );
    // Five data markers and one in the legend.
    assert_eq!(doc.lines().filter(|l| l.starts_with("<polygon")).count(), 6);
    assert!(
        doc.contains("transform=\"rotate(-90"),
        "the y label stands upright"
    );
}

#[test]
fn png_has_the_size_and_draws_lines_and_text() {
    let fonts = Fonts::find().expect(
        "the PNG tests need DejaVu Sans: apt-get install fonts-dejavu-core (or set EARMARK_FONT)",
    );
    let scene = layout(&sample_chart());
    let bytes = png::to_png(&scene, &fonts).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (420, 260));

    let image = tiny_skia::Pixmap::decode_png(&bytes).unwrap();
    let at = |x: f32, y: f32| image.pixel(x.round() as u32, y.round() as u32).unwrap();
    let blue = palette(0);
    // The first data marker (a square) is solid series colour at its centre.
    let marker = scene
        .shapes
        .iter()
        .find_map(|s| match s {
            Shape::Polygon { points, .. } => Some(points.clone()),
            _ => None,
        })
        .unwrap();
    let (cx, cy) = (
        marker.iter().map(|p| p.0).sum::<f32>() / marker.len() as f32,
        marker.iter().map(|p| p.1).sum::<f32>() / marker.len() as f32,
    );
    let p = at(cx, cy);
    assert_eq!((p.red(), p.green(), p.blue()), (blue.0, blue.1, blue.2));
    // The title's band holds dark text pixels; a corner stays white.
    let Some(Shape::Text { y, size, .. }) = scene.shapes.first() else {
        panic!("the title comes first");
    };
    let band = (y - size).max(0.0) as u32..(*y as u32 + 2);
    let dark = band
        .flat_map(|yy| (0..width).map(move |xx| (xx, yy)))
        .filter(|&(xx, yy)| image.pixel(xx, yy).unwrap().red() < 100)
        .count();
    assert!(dark > 100, "only {dark} dark pixels in the title band");
    let corner = image.pixel(1, height - 2).unwrap();
    assert_eq!(
        (corner.red(), corner.green(), corner.blue()),
        (255, 255, 255)
    );
}

#[test]
fn write_chart_writes_the_svg_without_fonts() {
    let dir = crate::test_dir::TempDir::new("plot-unit");
    let written = write_chart(&sample_chart(), dir.path(), "noise", None).unwrap();
    assert_eq!(written.png, None);
    let doc = std::fs::read_to_string(&written.svg).unwrap();
    check_xml(&doc);
    assert!(!dir.join("noise.png").exists());
    let bogus = dir.join("bogus.ttf");
    std::fs::write(&bogus, b"not a font").unwrap();
    let e = Fonts::from_file(&bogus).err().unwrap().to_string();
    assert!(
        e.contains("bogus.ttf") && e.contains("not a TrueType"),
        "{e}"
    );
}
