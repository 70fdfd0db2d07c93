//! The report's charts, drawn with plotters as SVG: inline in the HTML report
//! and drawn as vectors into the PDF (through usvg, with the bundled font).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::model::{DayRow, TallyRow};

pub const NEGATIVE: RGBColor = RGBColor(0xc6, 0x28, 0x28);
pub const NEUTRAL: RGBColor = RGBColor(0x9e, 0x9e, 0x9e);
pub const POSITIVE: RGBColor = RGBColor(0x2e, 0x7d, 0x32);
const PREVIOUS: RGBColor = RGBColor(0xbd, 0xbd, 0xbd);
const TEXT: RGBColor = RGBColor(0x33, 0x33, 0x33);
/// The family the SVG asks for; the PDF maps it to the bundled font.
pub const FONT: &str = "sans-serif";

/// Pixel size of the day chart.
pub const DAY_CHART: (u32, u32) = (640, 230);

/// Publications per day, stacked by sentiment (negative at the bottom), with
/// the day's total above each bar.
pub fn days(days: &[DayRow]) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, DAY_CHART).into_drawing_area();
        draw_days(&root, days).expect("drawing into a string cannot fail");
        root.present().expect("drawing into a string cannot fail");
    }
    svg
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

fn draw_days(root: &Area, days: &[DayRow]) -> DrawResult {
    root.fill(&WHITE)?;
    let max = days.iter().map(|d| d.tally.total).max().unwrap_or(0).max(1) as f64 * 1.15;
    let n = days.len().max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .margin_top(24)
        .x_label_area_size(28)
        .y_label_area_size(36)
        .build_cartesian_2d(0f64..n, 0f64..max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .x_labels(0)
        .y_labels(5)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xe0, 0xe0, 0xe0))
        .label_style((FONT, 12).into_font().color(&TEXT))
        .draw()?;
    let label = (FONT, 12).into_font().color(&TEXT).pos(Pos::new(HPos::Center, VPos::Top));
    let count = (FONT, 12).into_font().color(&TEXT).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (i, d) in days.iter().enumerate() {
        let (x0, x1) = (i as f64 + 0.18, i as f64 + 0.82);
        let mut base = 0.0;
        for (v, color) in [(d.tally.negative, NEGATIVE), (d.tally.neutral(), NEUTRAL), (d.tally.positive, POSITIVE)] {
            if v > 0 {
                let top = base + v as f64;
                chart.draw_series(std::iter::once(Rectangle::new([(x0, base), (x1, top)], color.filled())))?;
                base = top;
            }
        }
        let (cx, top) = chart.backend_coord(&(i as f64 + 0.5, base));
        root.draw(&Text::new(d.tally.total.to_string(), (cx, top - 3), count.clone()))?;
        let (_, bottom) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(d.label.clone(), (cx, bottom + 6), label.clone()))?;
    }
    // Legend, top left.
    let mut x = 44;
    for (name, color) in [("негативные", NEGATIVE), ("нейтральные", NEUTRAL), ("позитивные", POSITIVE)]
    {
        root.draw(&Rectangle::new([(x, 6), (x + 10, 16)], color.filled()))?;
        root.draw(&Text::new(name, (x + 14, 5), (FONT, 12).into_font().color(&TEXT)))?;
        x += 24 + 7 * name.chars().count() as i32;
    }
    Ok(())
}

/// Rows shown in a comparison chart.
pub const COMPARE_ROWS: usize = 8;

/// Pixel size of a comparison chart of `rows` rows.
pub fn compare_size(rows: usize) -> (u32, u32) {
    (640, 40 + 26 * rows.clamp(1, COMPARE_ROWS) as u32)
}

/// Negative mentions this week (red) against the week before (grey), one
/// pair of bars per topic or settlement, the most negative first.
pub fn compare(rows: &[TallyRow]) -> String {
    let rows: Vec<&TallyRow> =
        rows.iter().filter(|r| r.this.negative + r.previous.negative > 0).take(COMPARE_ROWS).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, compare_size(rows.len())).into_drawing_area();
        draw_compare(&root, &rows).expect("drawing into a string cannot fail");
        root.present().expect("drawing into a string cannot fail");
    }
    svg
}

fn draw_compare(root: &Area, rows: &[&TallyRow]) -> DrawResult {
    root.fill(&WHITE)?;
    let font = || (FONT, 12).into_font().color(&TEXT);
    if rows.is_empty() {
        root.draw(&Text::new("Негативных публикаций не было.", (10, 20), font()))?;
        return Ok(());
    }
    // Room on the right for the value and its change.
    let max = rows.iter().map(|r| r.this.negative.max(r.previous.negative)).max().unwrap_or(1).max(1) as f64 * 1.35;
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .margin_top(24)
        .x_label_area_size(20)
        .y_label_area_size(190)
        .build_cartesian_2d(0f64..max, 0f64..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .y_labels(0)
        .x_labels(6)
        .x_label_formatter(&|v| if v.fract() == 0.0 { format!("{v:.0}") } else { String::new() })
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xe0, 0xe0, 0xe0))
        .label_style(font())
        .draw()?;
    let right = font().pos(Pos::new(HPos::Right, VPos::Center));
    let left = font().pos(Pos::new(HPos::Left, VPos::Center));
    for (i, r) in rows.iter().enumerate() {
        // Top row first: row i occupies [n - i - 1, n - i).
        let y = n - i as f64 - 1.0;
        let bars =
            [(r.this.negative, y + 0.5, y + 0.88, NEGATIVE), (r.previous.negative, y + 0.14, y + 0.46, PREVIOUS)];
        chart.draw_series(
            bars.into_iter()
                .filter(|b| b.0 > 0)
                .map(|(v, y0, y1, color)| Rectangle::new([(0.0, y0), (v as f64, y1)], color.filled())),
        )?;
        let (x0, cy) = chart.backend_coord(&(0.0, y + 0.5));
        let name: String = if r.label.chars().count() > 28 {
            r.label.chars().take(27).chain(['…']).collect()
        } else {
            r.label.clone()
        };
        root.draw(&Text::new(name, (x0 - 8, cy), right.clone()))?;
        let (xe, ye) = chart.backend_coord(&(r.this.negative as f64, y + 0.69));
        root.draw(&Text::new(format!("{} ({})", r.this.negative, r.change()), (xe + 4, ye), left.clone()))?;
    }
    root.draw(&Rectangle::new([(200, 6), (210, 16)], NEGATIVE.filled()))?;
    root.draw(&Text::new("негативных за неделю", (214, 5), font()))?;
    root.draw(&Rectangle::new([(380, 6), (390, 16)], PREVIOUS.filled()))?;
    root.draw(&Text::new("неделей ранее", (394, 5), font()))?;
    Ok(())
}

/// How SVG charts find their font ("sans-serif" is the bundled DejaVu), made
/// once for the PDF and the PNG renderings alike.
pub(crate) static SVG_OPTIONS: std::sync::LazyLock<resvg::usvg::Options<'static>> =
    std::sync::LazyLock::new(svg_options);

fn svg_options() -> resvg::usvg::Options<'static> {
    let mut opt = resvg::usvg::Options::default();
    let db = opt.fontdb_mut();
    db.load_font_data(crate::pdf::REGULAR.to_vec());
    db.load_font_data(crate::pdf::BOLD.to_vec());
    let family = db.faces().next().and_then(|f| f.families.first()).map(|(n, _)| n.clone());
    if let Some(family) = family {
        db.set_sans_serif_family(family.clone());
        opt.font_family = family;
    }
    opt
}

/// A chart as PNG at `scale` × its pixel size, for mail clients that do not
/// show SVG. `None` if the SVG cannot be read (never for our own charts).
pub fn to_png(svg: &str, scale: f32) -> Option<Vec<u8>> {
    use resvg::tiny_skia;
    let tree = resvg::usvg::Tree::from_str(svg, &SVG_OPTIONS).ok()?;
    let size = tree.size().to_int_size().scale_by(scale)?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tally;

    #[test]
    fn charts_are_svg_with_russian_labels_and_one_bar_per_value() {
        let day = |i: u32, neg, all| DayRow {
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, 16 + i).unwrap(),
            label: format!("д{i}"),
            tally: Tally { total: all, negative: neg, positive: 1 },
        };
        let svg = days(&[day(0, 3, 10), day(1, 0, 4), day(2, 4, 5)]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(svg.contains("негативные") && svg.contains("д2"));
        // Negative parts on days 0 and 2 only.
        assert_eq!(
            svg.to_ascii_uppercase().matches("FILL=\"#C62828\"").count(),
            2 + 1,
            "two bars and the legend: {svg}"
        );

        let row = |k: &str, now, before| TallyRow {
            key: k.into(),
            label: k.into(),
            this: Tally { total: now * 2, negative: now, positive: 0 },
            previous: Tally { total: before * 2, negative: before, positive: 0 },
        };
        let svg = compare(&[row("Величаевское", 12, 3), row("Заря", 0, 0)]);
        assert!(svg.contains("Величаевское") && svg.contains("12 (+300%)"), "{svg}");
        assert!(!svg.contains("Заря"), "rows without negative mentions are left out");
        let png = to_png(&svg, 2.0).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
    }
}
