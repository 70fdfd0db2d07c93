//! Export of exactly the mentions a search matches: CSV and XLSX for Excel,
//! JSON Lines for tools.
//!
//! CSV is UTF-8 with a byte-order mark and `;` between fields, which is what
//! Excel with Russian regional settings opens by double-click with Cyrillic
//! intact; headers and labels are in Russian. JSON Lines keeps the mention
//! line format (`id`, `source`, `url`, `published_at`, `author`, `title`,
//! `text`) with the enrichment beside it under `enrichment`, so an export can
//! be imported again.

use std::io::Write;

use glas_core::config::topic_name;
use glas_core::ru::{sentiment_label, type_label};

use crate::privacy::PseudonymKey;
use crate::{SearchRequest, Store, StoreError, StoredMention};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Jsonl,
    Xlsx,
}

/// The most mentions an XLSX export holds: a workbook is built whole in
/// memory before it is sent (CSV and JSON Lines stream, without a limit).
pub const XLSX_MAX_ROWS: usize = 100_000;

/// The longest text a cell of Excel holds.
const XLSX_CELL_CHARS: usize = 32_767;

impl ExportFormat {
    /// From a name or a file extension: `csv`, `xlsx`, `jsonl` (or `json`, `ndjson`).
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "xlsx" => Some(ExportFormat::Xlsx),
            "jsonl" | "json" | "ndjson" => Some(ExportFormat::Jsonl),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson; charset=utf-8",
            ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

const CSV_HEADER: [&str; 14] = [
    "Дата",
    "Источник",
    "Заголовок",
    "Текст",
    "Тональность",
    "Оценка",
    "Темы",
    "Населённые пункты",
    "Тип",
    "Упоминаются",
    "Автор",
    "Ссылка",
    "Кластер перепечаток",
    "ID",
];

/// The column of the tone's score, a number in XLSX.
const SCORE: usize = 5;

/// A mention as a row of [`CSV_HEADER`]'s columns (CSV and XLSX), after its
/// district's name in a regional export.
fn fields(m: &StoredMention, district: Option<&str>) -> Vec<String> {
    let topics: Vec<&str> = m.topics.iter().map(|t| topic_name(t)).collect();
    let mut row = Vec::with_capacity(CSV_HEADER.len() + 1);
    if let Some(d) = district {
        row.push(d.to_string());
    }
    row.extend([
        m.published_at.get(..16).unwrap_or(&m.published_at).replace('T', " "),
        m.source.clone(),
        m.title.clone().unwrap_or_default(),
        m.text.clone(),
        sentiment_label(&m.sentiment).to_string(),
        format!("{:.2}", m.sentiment_score),
        topics.join(", "),
        m.places.join(", "),
        type_label(&m.mention_type).to_string(),
        m.entities.join(", "),
        m.author.clone().unwrap_or_default(),
        m.url.clone().unwrap_or_default(),
        m.cluster.clone(),
        m.id.clone(),
    ]);
    row
}

/// One district's share of a regional export: its id (`district` in JSON
/// Lines), its name as people read it (the first column of CSV and XLSX),
/// its store and the search in its time zone.
pub struct Part<'a> {
    pub district: &'a str,
    pub name: &'a str,
    pub store: &'a Store,
    pub req: &'a SearchRequest,
}

/// Writes every mention matching `req` to `out`; returns how many.
///
/// With `pseudonyms`, every author is written as its pseudonym (for a role
/// without the right to residents' personal data).
pub fn write(
    store: &Store,
    req: &SearchRequest,
    format: ExportFormat,
    out: &mut dyn Write,
    pseudonyms: Option<&PseudonymKey>,
) -> Result<usize, StoreError> {
    write_all(&[(None, store, req)], format, out, pseudonyms)
}

/// [`write`] over several districts, one after the other, each row naming
/// its district; one file with one header.
pub fn write_regional(
    parts: &[Part<'_>],
    format: ExportFormat,
    out: &mut dyn Write,
    pseudonyms: Option<&PseudonymKey>,
) -> Result<usize, StoreError> {
    let parts: Vec<_> = parts.iter().map(|p| (Some((p.district, p.name)), p.store, p.req)).collect();
    write_all(&parts, format, out, pseudonyms)
}

/// A store and its search, with its district's (id, name) in a regional export.
type Source<'a> = (Option<(&'a str, &'a str)>, &'a Store, &'a SearchRequest);

fn write_all(
    parts: &[Source<'_>],
    format: ExportFormat,
    out: &mut dyn Write,
    pseudonyms: Option<&PseudonymKey>,
) -> Result<usize, StoreError> {
    let hide = |mut m: StoredMention| {
        if let Some(k) = pseudonyms {
            m.author = m.author.map(|a| k.pseudonym(&a));
        }
        m
    };
    let regional = parts.iter().any(|(d, _, _)| d.is_some());
    let mut n = 0;
    match format {
        ExportFormat::Jsonl => {
            for &(district, store, req) in parts {
                n += store.export(req, |m| {
                    let m = hide(m);
                    let l = Line { district: district.map(|(id, _)| id), ..line(&m) };
                    serde_json::to_writer(&mut *out, &l).map_err(std::io::Error::other)?;
                    out.write_all(b"\n")
                })?;
            }
        }
        ExportFormat::Csv => {
            out.write_all("\u{feff}".as_bytes()).map_err(StoreError::Export)?;
            let mut w = csv::WriterBuilder::new().delimiter(b';').from_writer(&mut *out);
            w.write_record(header(regional)).map_err(|e| StoreError::Export(e.into()))?;
            for &(district, store, req) in parts {
                n += store.export(req, |m| {
                    w.write_record(fields(&hide(m), district.map(|(_, name)| name))).map_err(std::io::Error::from)
                })?;
            }
            w.flush().map_err(StoreError::Export)?;
        }
        ExportFormat::Xlsx => n = xlsx(parts, regional, out, &hide)?,
    }
    Ok(n)
}

/// The columns, with the district first in a regional export.
fn header(regional: bool) -> Vec<&'static str> {
    let mut h = Vec::with_capacity(CSV_HEADER.len() + 1);
    if regional {
        h.push("Округ");
    }
    h.extend(CSV_HEADER);
    h
}

/// The export as one sheet with the CSV's columns, the header frozen and
/// filtered, scores as numbers; at most [`XLSX_MAX_ROWS`] mentions.
fn xlsx(
    parts: &[Source<'_>],
    regional: bool,
    out: &mut dyn Write,
    hide: &dyn Fn(StoredMention) -> StoredMention,
) -> Result<usize, StoreError> {
    use rust_xlsxwriter::{Format, Workbook};
    let failed = |e: rust_xlsxwriter::XlsxError| StoreError::Export(std::io::Error::other(e.to_string()));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Публикации").map_err(failed)?;
    let bold = Format::new().set_bold().set_background_color(0xF3F3F3);
    let header = header(regional);
    for (c, name) in header.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *name, &bold).map_err(failed)?;
    }
    // The district's column shifts the others one to the right.
    let shift = u16::from(regional);
    let mut row = 0u32;
    let mut n = 0;
    for &(district, store, req) in parts {
        n += store.export(req, |m| {
            if row as usize >= XLSX_MAX_ROWS {
                return Err(std::io::Error::other(format!(
                    "more than {XLSX_MAX_ROWS} mentions: narrow the search or export CSV"
                )));
            }
            row += 1;
            let m = hide(m);
            let cells = fields(&m, district.map(|(_, name)| name));
            for (c, v) in cells.iter().enumerate() {
                let r = if c == SCORE + usize::from(shift) {
                    ws.write_number(row, c as u16, (m.sentiment_score * 100.0).round() / 100.0)
                } else {
                    let v: String = v.chars().take(XLSX_CELL_CHARS).collect();
                    ws.write_string(row, c as u16, v)
                };
                r.map_err(|e| std::io::Error::other(e.to_string()))?;
            }
            Ok(())
        })?;
    }
    ws.set_freeze_panes(1, 0).map_err(failed)?;
    ws.autofilter(0, 0, row, header.len() as u16 - 1).map_err(failed)?;
    if regional {
        ws.set_column_width(0, 22).map_err(failed)?;
    }
    for (c, width) in [(0, 16), (1, 18), (2, 40), (3, 80), (6, 24), (7, 20), (11, 30)] {
        ws.set_column_width(c + shift, width).map_err(failed)?;
    }
    let bytes = wb.save_to_buffer().map_err(failed)?;
    out.write_all(&bytes).map_err(StoreError::Export)?;
    Ok(n)
}

/// One JSON Lines record of an export: the mention line format, enrichment beside it.
#[derive(serde::Serialize)]
pub struct Line<'a> {
    /// The district, in a regional export.
    #[serde(skip_serializing_if = "Option::is_none")]
    district: Option<&'a str>,
    id: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    published_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    text: &'a str,
    enrichment: Enrichment<'a>,
}

#[derive(serde::Serialize)]
struct Enrichment<'a> {
    lang: &'a str,
    sentiment: &'a str,
    sentiment_score: f64,
    topics: &'a [String],
    places: &'a [String],
    mention_type: &'a str,
    entities: &'a [String],
    cluster: &'a str,
}

pub fn line(m: &StoredMention) -> Line<'_> {
    Line {
        district: None,
        id: &m.id,
        source: &m.source,
        url: m.url.as_deref(),
        published_at: &m.published_at,
        author: m.author.as_deref(),
        title: m.title.as_deref(),
        text: &m.text,
        enrichment: Enrichment {
            lang: &m.lang,
            sentiment: &m.sentiment,
            sentiment_score: m.sentiment_score,
            topics: &m.topics,
            places: &m.places,
            mention_type: &m.mention_type,
            entities: &m.entities,
            cluster: &m.cluster,
        },
    }
}
