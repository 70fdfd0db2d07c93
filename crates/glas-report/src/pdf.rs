//! The report as an A4 PDF for printing (krilla), with the bundled DejaVu font
//! embedded so Russian text prints and copies on any machine, and the same
//! plotters charts as the HTML drawn as vectors.
//!
//! Layout is a simple top-to-bottom flow: headings, wrapped paragraphs, tables
//! whose cells wrap (the header row repeats after a page break) and charts;
//! nothing is split across pages except tables between rows.

use std::sync::LazyLock;

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla_svg::{SurfaceExt, SvgSettings};
use resvg::usvg;

use crate::Section;
use crate::charts;
use crate::model::{self, Mark, MentionRow, Model, Table};
use glas_core::Severity;

pub(crate) static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed.ttf");
pub(crate) static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-Bold.ttf");

/// A4 in points, and the margins.
const PAGE: (f32, f32) = (595.28, 841.89);
const MARGIN_X: f32 = 42.0;
const MARGIN_TOP: f32 = 46.0;
const MARGIN_BOTTOM: f32 = 52.0;
const WIDTH: f32 = PAGE.0 - 2.0 * MARGIN_X;

type Color = (u8, u8, u8);
const BLACK: Color = (0x22, 0x22, 0x22);
const GREY: Color = (0x66, 0x66, 0x66);
const RED: Color = (0xb7, 0x1c, 0x1c);
const ORANGE: Color = (0xe6, 0x51, 0x00);
const RULE: Color = (0xcc, 0xcc, 0xcc);
const HEAD_BG: Color = (0xf0, 0xf0, 0xf0);

#[derive(Debug, thiserror::Error)]
#[error("cannot make the PDF: {0}")]
pub struct PdfError(String);

/// Glyph advances of the bundled fonts, for wrapping text.
struct Metrics {
    regular: ttf_parser::Face<'static>,
    bold: ttf_parser::Face<'static>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    regular: ttf_parser::Face::parse(REGULAR, 0).expect("bundled font parses"),
    bold: ttf_parser::Face::parse(BOLD, 0).expect("bundled font parses"),
});

fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let face = if bold { &METRICS.bold } else { &METRICS.regular };
    let units: u32 = text
        .chars()
        .map(|c| face.glyph_index(c).and_then(|g| face.glyph_hor_advance(g)).unwrap_or(face.units_per_em() / 2) as u32)
        .sum();
    units as f32 * size / face.units_per_em() as f32
}

/// Splits `text` into lines no wider than `width`; a word longer than a line
/// is cut.
fn wrap(text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            if text_width(&candidate, size, bold) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone may still be too long: cut it.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if text_width(&piece, size, bold) > width && piece.chars().count() > 1 {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        lines.push(line);
    }
    lines
}

/// Height in points of a chart of `px` pixels drawn across the text width.
fn chart_height(px: (u32, u32)) -> f32 {
    WIDTH * px.1 as f32 / px.0 as f32
}

enum Op {
    Text { x: f32, y: f32, size: f32, bold: bool, color: Color, text: String },
    Rect { x: f32, y: f32, w: f32, h: f32, color: Color },
    Svg { x: f32, y: f32, w: f32, h: f32, svg: String },
}

/// Pages of drawing operations, filled top to bottom.
struct Flow {
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Flow {
    fn new() -> Flow {
        Flow { pages: vec![Vec::new()], y: MARGIN_TOP }
    }

    fn page(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    fn break_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN_TOP;
    }

    /// Starts a new page unless `h` more points fit on this one.
    fn ensure(&mut self, h: f32) {
        if self.y + h > PAGE.1 - MARGIN_BOTTOM && self.y > MARGIN_TOP {
            self.break_page();
        }
    }

    fn gap(&mut self, h: f32) {
        self.y += h;
    }

    fn text_at(&mut self, x: f32, baseline: f32, size: f32, bold: bool, color: Color, text: &str) {
        self.page().push(Op::Text { x, y: baseline, size, bold, color, text: text.to_string() });
    }

    /// A wrapped paragraph at `indent`.
    fn para(&mut self, text: &str, size: f32, bold: bool, color: Color, indent: f32) {
        let leading = size * 1.35;
        for line in wrap(text, size, bold, WIDTH - indent) {
            self.ensure(leading);
            self.y += leading;
            let y = self.y - leading * 0.28;
            self.text_at(MARGIN_X + indent, y, size, bold, color, &line);
        }
    }

    /// A section heading, kept with at least `keep` points of what follows.
    fn heading(&mut self, text: &str, keep: f32) {
        self.ensure(40.0 + keep);
        self.gap(12.0);
        self.para(text, 13.0, true, BLACK, 0.0);
        let y = self.y + 2.0;
        self.page().push(Op::Rect { x: MARGIN_X, y, w: WIDTH, h: 0.6, color: RULE });
        self.gap(6.0);
    }

    /// An SVG chart of `px` pixels, scaled to the text width.
    fn chart(&mut self, svg: String, px: (u32, u32)) {
        let w = WIDTH;
        let h = chart_height(px);
        self.ensure(h + 4.0);
        let y = self.y;
        self.page().push(Op::Svg { x: MARGIN_X, y, w, h, svg });
        self.y += h + 4.0;
    }

    /// A table; `widths` are fractions of the text width. Rows never split; the
    /// header repeats on every page the table reaches; a row with a marked
    /// cell (a high or medium signal, a failing source) is drawn in its colour.
    fn table(&mut self, t: &Table, widths: &[f32]) {
        const SIZE: f32 = 8.5;
        const PAD: f32 = 3.0;
        let leading = SIZE * 1.3;
        let cols: Vec<f32> = widths.iter().map(|f| f * WIDTH).collect();
        let layout = |cells: &[String], bold: bool| -> (Vec<Vec<String>>, f32) {
            let lines: Vec<Vec<String>> =
                cells.iter().zip(&cols).map(|(c, w)| wrap(c, SIZE, bold, w - 2.0 * PAD)).collect();
            let n = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
            (lines, n as f32 * leading + 2.0 * PAD)
        };
        let (head_lines, head_h) = layout(&t.header, true);
        let draw_row =
            |flow: &mut Flow, lines: &[Vec<String>], h: f32, bold: bool, fill: Option<Color>, color: Option<Color>| {
                let y0 = flow.y;
                if let Some(bg) = fill {
                    flow.page().push(Op::Rect { x: MARGIN_X, y: y0, w: WIDTH, h, color: bg });
                }
                let mut x = MARGIN_X;
                for (cell, w) in lines.iter().zip(&cols) {
                    for (i, l) in cell.iter().enumerate() {
                        let base = y0 + PAD + (i as f32 + 1.0) * leading - leading * 0.25;
                        flow.text_at(x + PAD, base, SIZE, bold, color.unwrap_or(BLACK), l);
                    }
                    x += w;
                }
                flow.page().push(Op::Rect { x: MARGIN_X, y: y0 + h, w: WIDTH, h: 0.4, color: RULE });
                flow.y += h;
            };
        self.ensure(head_h + 2.0 * leading);
        draw_row(self, &head_lines, head_h, true, Some(HEAD_BG), None);
        for row in &t.rows {
            let color = row.iter().find_map(|c| match c.mark {
                Mark::Severity(Severity::High) | Mark::Bad => Some(RED),
                Mark::Severity(Severity::Medium) => Some(ORANGE),
                _ => None,
            });
            let texts: Vec<String> = row.iter().map(|c| c.text.clone()).collect();
            let (lines, h) = layout(&texts, false);
            if self.y + h > PAGE.1 - MARGIN_BOTTOM {
                self.break_page();
                draw_row(self, &head_lines, head_h, true, Some(HEAD_BG), None);
            }
            draw_row(self, &lines, h, false, None, color);
        }
        self.gap(4.0);
    }
}

fn mention_list(flow: &mut Flow, rows: &[MentionRow]) {
    for (i, r) in rows.iter().enumerate() {
        flow.ensure(40.0);
        flow.gap(3.0);
        let meta = match &r.url {
            Some(u) => format!("{}. {} · {} · {u}", i + 1, r.when, r.source),
            None => format!("{}. {} · {}", i + 1, r.when, r.source),
        };
        flow.para(&meta, 8.0, false, GREY, 0.0);
        flow.para(&r.text, 9.5, false, BLACK, 10.0);
    }
}

fn layout(m: &Model) -> Flow {
    let mut f = Flow::new();
    f.para(&m.title, 16.0, true, BLACK, 0.0);
    f.para(&m.subtitle, 8.5, false, GREY, 0.0);
    // How to read it, under the title: at the end it could be left alone
    // on a last page.
    f.para(&m.footnote, 7.5, false, GREY, 0.0);
    for &section in &m.sections {
        if (section == Section::Incidents && m.incidents.is_none())
            || (section == Section::MediaPlan && m.media_plan.is_none())
            || (section == Section::OwnVoice && m.own_voice.is_none())
            || (section == Section::Outlook && m.outlook.is_none())
        {
            continue;
        }
        let empty = section.when_empty();
        match section {
            Section::Main => {
                f.heading(section.heading(), 60.0);
                if let Some(until) = m.partial_until {
                    f.para(
                        &format!(
                            "Неделя не завершена: данные по {}; сравнение — с теми же днями прошлой недели.",
                            glas_core::ru::date_long(until)
                        ),
                        8.5,
                        false,
                        GREY,
                        0.0,
                    );
                }
                for (i, line) in m.findings.iter().enumerate() {
                    let color = if line.alarm { RED } else { BLACK };
                    f.para(&format!("{}. {}", i + 1, line.text), 11.5, line.alarm, color, 0.0);
                    f.gap(2.0);
                }
            }
            Section::Days => {
                f.heading(section.heading(), chart_height(charts::DAY_CHART) + 8.0);
                f.chart(charts::days(&m.days), charts::DAY_CHART);
                f.table(&m.days_table(), &[0.32, 0.17, 0.17, 0.17, 0.17]);
            }
            Section::Topics | Section::Places => {
                let (first, rows) = if section == Section::Topics {
                    ("Тема", &m.topics)
                } else {
                    ("Населённый пункт", &m.places)
                };
                let shown = rows.iter().filter(|r| r.this.negative + r.previous.negative > 0).count();
                let px = charts::compare_size(shown);
                // Keep the heading with its chart.
                f.heading(section.heading(), chart_height(px) + 8.0);
                if rows.is_empty() {
                    f.para(empty, 10.0, false, BLACK, 0.0);
                } else {
                    f.chart(charts::compare(rows), px);
                    f.table(&model::tally_table(first, rows), &[0.36, 0.14, 0.14, 0.14, 0.22]);
                }
            }
            Section::Signals | Section::Emerging => {
                let rows = if section == Section::Signals { &m.signals } else { &m.emerging };
                f.heading(section.heading(), 60.0);
                if rows.is_empty() {
                    f.para(empty, 10.0, false, BLACK, 0.0);
                } else {
                    f.table(&model::signal_table(rows), &[0.13, 0.11, 0.2, 0.16, 0.27, 0.13]);
                }
            }
            Section::SavedSearches => {
                f.heading(section.heading(), 40.0);
                if m.saved_searches.is_empty() {
                    f.para(empty, 10.0, false, BLACK, 0.0);
                } else {
                    f.table(&m.saved_searches_table(), &[0.26, 0.34, 0.13, 0.14, 0.13]);
                }
            }
            Section::TopNegative | Section::TopPositive => {
                let rows = if section == Section::TopNegative { &m.top_negative } else { &m.top_positive };
                f.heading(section.heading(), 60.0);
                if rows.is_empty() {
                    f.para(empty, 10.0, false, BLACK, 0.0);
                }
                mention_list(&mut f, rows);
            }
            Section::Incidents => {
                f.heading(section.heading(), 60.0);
                if !m.incidents_busy() {
                    f.para(empty, 10.0, false, BLACK, 0.0);
                } else if let Some(summary) = m.incidents_summary() {
                    f.para(&summary, 10.0, false, BLACK, 0.0);
                    for by_topic in [false, true] {
                        if let Some(t) = m.incidents_table(by_topic) {
                            f.table(&t, &[0.2, 0.12, 0.12, 0.1, 0.1, 0.12, 0.12, 0.12]);
                        }
                    }
                }
            }
            Section::MediaPlan => {
                f.heading(section.heading(), 60.0);
                if let Some(summary) = m.media_plan_summary() {
                    f.para(&summary, 10.0, false, BLACK, 0.0);
                }
                if let Some(t) = m.media_plan_table() {
                    f.table(&t, &[0.1, 0.16, 0.3, 0.14, 0.3]);
                }
                if let Some(summary) = m.pickup_summary() {
                    f.para(&summary, 10.0, false, BLACK, 0.0);
                }
                if let Some(t) = m.pickup_table() {
                    f.table(&t, &[0.1, 0.4, 0.35, 0.15]);
                }
            }
            Section::OwnVoice | Section::Outlook => {
                f.heading(section.heading(), 60.0);
                let blocks = if section == Section::Outlook { m.outlook_blocks() } else { m.own_voice_blocks() };
                if blocks.is_empty() {
                    f.para(empty, 10.0, false, BLACK, 0.0);
                }
                for b in &blocks {
                    match b {
                        crate::model::Block::Para(p) => f.para(p, 10.0, false, BLACK, 0.0),
                        crate::model::Block::Table(t, w) => f.table(t, w),
                    }
                }
            }
            Section::Sources => {
                f.heading(section.heading(), 40.0);
                if m.sources.is_empty() {
                    f.para(empty, 10.0, false, BLACK, 0.0);
                } else {
                    f.table(&m.sources_table(), &[0.34, 0.18, 0.48]);
                }
            }
        }
    }
    f
}

fn fill(surface: &mut Surface, c: Color) {
    surface.set_fill(Some(Fill {
        paint: rgb::Color::new(c.0, c.1, c.2).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }));
}

pub fn render(m: &Model) -> Result<Vec<u8>, PdfError> {
    let flow = layout(m);
    // The bundled bytes themselves, not a copy of them.
    let font = |bytes: &'static [u8]| {
        let data: std::sync::Arc<dyn AsRef<[u8]> + Send + Sync> = std::sync::Arc::new(bytes);
        Font::new(data.into(), 0).ok_or_else(|| PdfError("bundled font".into()))
    };
    let (regular, bold) = (font(REGULAR)?, font(BOLD)?);
    let mut doc = Document::new();
    doc.set_metadata(Metadata::new().title(m.title.clone()).language("ru".into()).creator("glas".into()));
    let n = flow.pages.len();
    for (i, ops) in flow.pages.into_iter().enumerate() {
        let mut page = doc.start_page_with(PageSettings::from_wh(PAGE.0, PAGE.1).expect("A4 is a valid size"));
        let mut s = page.surface();
        for op in ops {
            match op {
                Op::Text { x, y, size, bold: b, color, text } => {
                    fill(&mut s, color);
                    let font = if b { bold.clone() } else { regular.clone() };
                    s.draw_text(Point::from_xy(x, y), font, size, &text, false, TextDirection::Auto);
                }
                Op::Rect { x, y, w, h, color } => {
                    fill(&mut s, color);
                    let mut pb = PathBuilder::new();
                    if let Some(r) = Rect::from_xywh(x, y, w, h) {
                        pb.push_rect(r);
                    }
                    if let Some(path) = pb.finish() {
                        s.draw_path(&path);
                    }
                }
                Op::Svg { x, y, w, h, svg } => {
                    let tree = usvg::Tree::from_str(&svg, &charts::SVG_OPTIONS)
                        .map_err(|e| PdfError(format!("chart: {e}")))?;
                    s.push_transform(&Transform::from_translate(x, y));
                    s.draw_svg(&tree, Size::from_wh(w, h).expect("chart has a size"), SvgSettings::default());
                    s.pop();
                }
            }
        }
        // Footer: the report and the page number.
        fill(&mut s, GREY);
        let foot = format!("{} · стр. {} из {n}", m.week, i + 1);
        let fw = text_width(&foot, 7.5, false);
        s.draw_text(
            Point::from_xy(PAGE.0 - MARGIN_X - fw, PAGE.1 - 24.0),
            regular.clone(),
            7.5,
            &foot,
            false,
            TextDirection::Auto,
        );
        s.finish();
        page.finish();
    }
    doc.finish().map_err(|e| PdfError(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        let text =
            "Жители Величаевского третий день без воды, водоканал не отвечает на звонки, обещают дать воду к вечеру";
        let lines = wrap(text, 10.0, false, 150.0);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(lines.iter().all(|l| text_width(l, 10.0, false) <= 150.0), "{lines:?}");
        assert_eq!(lines.join(" "), text);
        let long = wrap(&"ж".repeat(200), 10.0, false, 100.0);
        assert!(long.len() > 1 && long.iter().all(|l| text_width(l, 10.0, false) <= 100.0));
    }
}
