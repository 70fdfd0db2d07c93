//! The report as one self-contained HTML page: inline CSS and SVG charts, no
//! external resources, so it opens in a mail client or a browser offline.

use std::fmt::Write;

use glas_core::ru;
use glas_core::ru::escape_html as esc;

use crate::Section;
use crate::charts;
use crate::model::{self, Mark, MentionRow, Model, Table, TallyRow};

/// A chart image referenced from an email's HTML as `cid:NAME`.
pub struct InlineImage {
    pub cid: String,
    pub png: Vec<u8>,
}

/// The page with its charts inline as SVG.
pub fn render(m: &Model) -> String {
    render_with(m, &mut |svg, _| svg)
}

/// The page for an email body: charts as PNG images attached inline, which
/// mail clients show (many drop inline SVG).
pub fn render_email(m: &Model) -> (String, Vec<InlineImage>) {
    let mut images = Vec::new();
    let html = render_with(m, &mut |svg, alt| match charts::to_png(&svg, 2.0) {
        Some(png) => {
            let cid = format!("chart{}@glas", images.len() + 1);
            let width = svg_width(&svg).unwrap_or(640);
            images.push(InlineImage { cid: cid.clone(), png });
            format!(
                "<img src=\"cid:{cid}\" width=\"{width}\" alt=\"{}\" style=\"max-width:100%;height:auto\">",
                esc(alt)
            )
        }
        None => svg,
    });
    (html, images)
}

/// The `width` an SVG declares.
fn svg_width(svg: &str) -> Option<u32> {
    let rest = &svg[svg.find("width=\"")? + 7..];
    rest[..rest.find('"')?].parse().ok()
}

/// `chart(svg, alt)` decides how a chart goes into the page.
fn render_with(m: &Model, chart: &mut dyn FnMut(String, &str) -> String) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{CSS}</style></head><body>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n",
        esc(&m.title),
        esc(&m.title),
        esc(&m.subtitle)
    );
    for &section in &m.sections {
        if (section == Section::Incidents && m.incidents.is_none())
            || (section == Section::MediaPlan && m.media_plan.is_none())
            || (section == Section::OwnVoice && m.own_voice.is_none())
            || (section == Section::Outlook && m.outlook.is_none())
        {
            continue;
        }
        let _ = writeln!(h, "<h2>{}</h2>", section.heading());
        let empty = format!("<p>{}</p>\n", esc(section.when_empty()));
        match section {
            Section::Main => {
                h.push_str("<section class=\"main\">\n");
                if let Some(until) = m.partial_until {
                    let _ = writeln!(
                        h,
                        "<p class=\"sub\">Неделя не завершена: данные по {}; сравнение — с теми же днями прошлой недели.</p>",
                        ru::date_long(until)
                    );
                }
                h.push_str("<ol>\n");
                for f in &m.findings {
                    let class = if f.alarm { " class=\"alarm\"" } else { "" };
                    let _ = writeln!(h, "<li{class}>{}</li>", esc(&f.text));
                }
                h.push_str("</ol></section>\n");
            }
            Section::Days => {
                h.push_str(&chart(charts::days(&m.days), section.heading()));
                h.push('\n');
                table(&mut h, &m.days_table());
            }
            Section::Topics => tally(&mut h, &empty, "Тема", &m.topics, &mut |svg| chart(svg, section.heading())),
            Section::Places => tally(&mut h, &empty, "Населённый пункт", &m.places, &mut |svg| {
                chart(svg, section.heading())
            }),
            Section::Signals | Section::Emerging => {
                let rows = if section == Section::Signals { &m.signals } else { &m.emerging };
                if rows.is_empty() {
                    h.push_str(&empty);
                } else {
                    table(&mut h, &model::signal_table(rows));
                }
            }
            Section::SavedSearches => {
                if m.saved_searches.is_empty() {
                    h.push_str(&empty);
                } else {
                    table(&mut h, &m.saved_searches_table());
                }
            }
            Section::Incidents => {
                if !m.incidents_busy() {
                    h.push_str(&empty);
                } else if let Some(summary) = m.incidents_summary() {
                    let _ = writeln!(h, "<p>{}</p>", esc(&summary));
                    for by_topic in [false, true] {
                        if let Some(t) = m.incidents_table(by_topic) {
                            table(&mut h, &t);
                        }
                    }
                }
            }
            Section::MediaPlan => {
                if let Some(summary) = m.media_plan_summary() {
                    let _ = writeln!(h, "<p>{}</p>", esc(&summary));
                }
                if let Some(t) = m.media_plan_table() {
                    table(&mut h, &t);
                }
                if let Some(summary) = m.pickup_summary() {
                    let _ = writeln!(h, "<p>{}</p>", esc(&summary));
                }
                if let Some(t) = m.pickup_table() {
                    table(&mut h, &t);
                }
            }
            Section::OwnVoice | Section::Outlook => {
                let blocks = if section == Section::Outlook { m.outlook_blocks() } else { m.own_voice_blocks() };
                if blocks.is_empty() {
                    h.push_str(&empty);
                }
                for b in &blocks {
                    match b {
                        crate::model::Block::Para(p) => {
                            let _ = writeln!(h, "<p>{}</p>", esc(p));
                        }
                        crate::model::Block::Table(t, _) => table(&mut h, t),
                    }
                }
            }
            Section::TopNegative => mentions(&mut h, &empty, &m.top_negative),
            Section::TopPositive => mentions(&mut h, &empty, &m.top_positive),
            Section::Sources => {
                if m.sources.is_empty() {
                    h.push_str(&empty);
                } else {
                    let bad = m.sources.iter().filter(|s| !s.ok).count();
                    let _ = writeln!(
                        h,
                        "<p>{}</p>",
                        if bad == 0 {
                            "Все источники работают.".to_string()
                        } else {
                            format!("Требуют внимания: {bad} из {}.", m.sources.len())
                        }
                    );
                    table(&mut h, &m.sources_table());
                }
            }
        }
    }
    let _ = writeln!(h, "<p class=\"foot\">{}</p>\n</body></html>", esc(&m.footnote));
    h
}

fn tally(h: &mut String, empty: &str, first: &str, rows: &[TallyRow], chart: &mut dyn FnMut(String) -> String) {
    if rows.is_empty() {
        h.push_str(empty);
        return;
    }
    h.push_str(&chart(charts::compare(rows)));
    h.push('\n');
    table(h, &model::tally_table(first, rows));
}

/// A table of the model: a marked cell gets its class, a query is code.
fn table(h: &mut String, t: &Table) {
    h.push_str("<table><tr>");
    for name in &t.header {
        let _ = write!(h, "<th>{}</th>", esc(name));
    }
    h.push_str("</tr>\n");
    for row in &t.rows {
        h.push_str("<tr>");
        for cell in row {
            let text = esc(&cell.text);
            let _ = match cell.mark {
                Mark::Plain => write!(h, "<td>{text}</td>"),
                Mark::Severity(s) => write!(h, "<td class=\"sev-{}\">{text}</td>", s.as_str()),
                Mark::Bad => write!(h, "<td class=\"bad\">{text}</td>"),
                Mark::Code => write!(h, "<td><code>{text}</code></td>"),
            };
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn mentions(h: &mut String, empty: &str, rows: &[MentionRow]) {
    if rows.is_empty() {
        h.push_str(empty);
        return;
    }
    h.push_str("<ol class=\"mentions\">\n");
    for r in rows {
        let link = match &r.url {
            Some(u) => format!(" · <a href=\"{}\">открыть</a>", esc(u)),
            None => String::new(),
        };
        let _ = writeln!(
            h,
            "<li><div class=\"meta\">{} · {}{link}</div><div>{}</div></li>",
            esc(&r.when),
            esc(&r.source),
            esc(&r.text)
        );
    }
    h.push_str("</ol>\n");
}

const CSS: &str = "body{font-family:Arial,Helvetica,sans-serif;max-width:820px;margin:24px auto;color:#222;line-height:1.4}\
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}\
.sub,.foot,.meta{color:#666;font-size:13px}table{border-collapse:collapse;width:100%;font-size:14px;margin-top:8px}\
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f3f3f3}svg{max-width:100%;height:auto}\
.main ol{font-size:16px}.alarm{color:#b71c1c;font-weight:bold}.sev-high,.bad{color:#b71c1c;font-weight:bold}.sev-medium{color:#e65100}\
.mentions li{margin-bottom:10px}";
