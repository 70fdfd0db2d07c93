//! glas-report: the weekly tension report in Russian, as a self-contained HTML
//! page, an A4 PDF and an XLSX workbook of its tables.
//!
//! Made from records and signals only (no I/O here), so any ISO week can be
//! regenerated from the store. The content is computed once ([`model`]) and
//! rendered by each format; the sections and their order come from the
//! dashboard file. Reading order: the main findings in three lines, volume and
//! sentiment by day, tension by topic and by settlement against the previous
//! week, the week's signals and their status, emerging issues, saved-search
//! counts, the most negative and most positive mentions with links, and source
//! health. No external resources: the HTML opens in a mail client or a browser
//! without a network; the PDF embeds its font.

pub mod charts;
mod dashboard;
pub mod html;
pub mod model;
pub mod pdf;
pub mod xlsx;

pub use dashboard::{Dashboard, DashboardError, Section};

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use glas_core::config::District;
use glas_core::{Record, Signal};

/// An ISO week, "2026-W47".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u32,
}

impl IsoWeek {
    pub fn parse(s: &str) -> Option<IsoWeek> {
        let (y, w) = s.split_once("-W").or_else(|| s.split_once("-w"))?;
        let week = IsoWeek { year: y.parse().ok()?, week: w.parse().ok()? };
        week.monday().map(|_| week)
    }

    pub fn of(day: NaiveDate) -> IsoWeek {
        let w = day.iso_week();
        IsoWeek { year: w.year(), week: w.week() }
    }

    pub fn monday(&self) -> Option<NaiveDate> {
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)
    }

    pub fn previous(&self) -> IsoWeek {
        IsoWeek::of(self.monday().expect("valid week") - Duration::days(7))
    }
}

impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

/// The last day with data when `week` is still running (its Sunday not yet
/// reached), else `None`.
pub fn data_until(records: &[Record], week: IsoWeek, tz: chrono_tz::Tz) -> Option<NaiveDate> {
    let mon = week.monday().expect("valid week");
    let last = records.iter().map(|r| local_day(r, tz)).max()?;
    (mon..mon + Duration::days(6)).contains(&last).then_some(last)
}

/// Where the week before `week` ends (exclusive) when the two are compared:
/// its Monday's start, or, while `week` is still running, the same weekday
/// as its last day with data, so both cover the same days.
pub fn previous_week_end(records: &[Record], week: IsoWeek, tz: chrono_tz::Tz) -> NaiveDate {
    let mon = week.monday().expect("valid week");
    data_until(records, week, tz).map_or(mon, |d| d - Duration::days(6))
}

/// What the report is about, computed once and rendered.
pub struct Weekly<'a> {
    pub dashboard: &'a Dashboard,
    pub district: &'a District,
    pub week: IsoWeek,
    pub records: &'a [Record],
    pub signals: &'a [Signal],
    /// Source id → the name readers know it by.
    pub source_names: &'a BTreeMap<String, String>,
    /// Matches of each saved search this week and the week before.
    pub saved_searches: &'a [SavedCount],
    /// How each source fared, as of the report's making.
    pub sources: &'a [SourceStatus],
    /// The feedback loop's figures of the week and the week before (none:
    /// the pipeline has no incidents; the section is left out).
    pub incidents: Option<&'a IncidentWeek>,
    /// The week's media plan against the own channels (none: the pipeline
    /// has no own channel; the section is left out).
    pub media_plan: Option<&'a glas_voice::PlanFact>,
    /// How the media carried the week's own publications.
    pub pickups: &'a [glas_voice::Pickup],
    /// How the own publications were received, the pages' health and the
    /// image index (none: no own channel; the section is left out).
    pub own_voice: Option<&'a OwnVoice>,
    /// The week ahead and the report's week against its forecast.
    pub outlook: Option<&'a Outlook>,
}

/// One key's week in the outlook: forecast (expected stories and an 80 %
/// range), the usual week, and what happened once the week is over.
#[derive(Debug, Clone, PartialEq)]
pub struct OutlookRow {
    pub key: String,
    /// "водоснабжение, Величаевское".
    pub label: String,
    pub expected: f64,
    pub lo: f64,
    pub hi: f64,
    /// The mean week of the eight before.
    pub usual: f64,
    pub actual: Option<f64>,
}

impl OutlookRow {
    /// Expected well above the usual: at least `ratio` times it and
    /// `min_stories` stories.
    pub fn tense(&self, ratio: f64, min_stories: f64) -> bool {
        self.expected >= min_stories && self.ratio() >= ratio
    }

    /// Expected against the usual week (a usual week under half a story
    /// counts as half).
    pub fn ratio(&self) -> f64 {
        self.expected / self.usual.max(0.5)
    }
}

/// The week ahead as `analytics/outlook.csv` holds it
/// (`key,label,expected,lo80,hi80,usual,tense,from`), for the overview;
/// `tense` is 1 for a week expected well above the usual (`ratio`,
/// `min_stories`), `from` the first day forecast.
pub fn outlook_csv(rows: &[OutlookRow], ratio: f64, min_stories: f64, from: chrono::NaiveDate) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut put = |cells: &[String]| w.write_record(cells).expect("writing to memory");
    put(&["key", "label", "expected", "lo80", "hi80", "usual", "tense", "from"].map(String::from));
    for r in rows {
        put(&[
            r.key.clone(),
            r.label.clone(),
            format!("{:.1}", r.expected),
            r.lo.to_string(),
            r.hi.to_string(),
            format!("{:.1}", r.usual),
            u8::from(r.tense(ratio, min_stories)).to_string(),
            from.to_string(),
        ]);
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("the cells are text")
}

/// [`outlook_csv`]'s text read back, each row with its `tense` flag, and
/// the first day forecast; rows that do not parse are skipped.
pub fn read_outlook_csv(text: &str) -> (Vec<(OutlookRow, bool)>, Option<chrono::NaiveDate>) {
    let mut rd = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut from = None;
    for row in rd.records().flatten() {
        from = from.or_else(|| row.get(7).and_then(|d| d.parse().ok()));
        let f = |i: usize| row.get(i).and_then(|x| x.parse::<f64>().ok());
        let (Some(key), Some(label), Some(expected), Some(lo), Some(hi), Some(usual)) =
            (row.get(0), row.get(1), f(2), f(3), f(4), f(5))
        else {
            continue;
        };
        let tense = row.get(6) == Some("1");
        out.push((OutlookRow { key: key.into(), label: label.into(), expected, lo, hi, usual, actual: None }, tense));
    }
    (out, from)
}

/// The outlook of a report: the week ahead, and the report's week as it was
/// forecast beside what happened (forecast against actual).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outlook {
    pub next: Vec<OutlookRow>,
    /// The report's week, its first `this_days` days (all seven once it is
    /// over).
    pub this: Vec<OutlookRow>,
    pub this_days: usize,
    pub ratio: f64,
    pub min_stories: f64,
}

/// The own voice's week: receptions, the official pages, the image index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnVoice {
    /// The week's own publications, newest first.
    pub received: Vec<glas_voice::Received>,
    pub pages: Vec<glas_voice::PageHealth>,
    /// The image index of the report's week and the weeks before, oldest first.
    pub image: Vec<glas_voice::image::ImageWeek>,
    /// The week's mentions that moved the index most.
    pub movers: Vec<glas_voice::image::Scored>,
}

/// The incidents' key figures of the report's week and the week before,
/// computed from their history ([`glas_incidents::kpi`]).
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentWeek {
    pub this: glas_incidents::kpi::Report,
    pub previous: glas_incidents::kpi::Report,
    /// Topic code → the name readers know it by.
    pub topic_names: BTreeMap<String, String>,
}

/// A source's health as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    pub name: String,
    /// "работает", "молчит", "ошибки".
    pub status: String,
    pub detail: String,
    pub ok: bool,
}

/// A saved search's matches in the report's week and the week before (over
/// the same days when the week is still running).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCount {
    pub name: String,
    pub query: String,
    pub this_week: u64,
    pub previous_week: u64,
}

fn local_day(r: &Record, tz: chrono_tz::Tz) -> NaiveDate {
    r.mention.published_at.with_timezone(&tz).date_naive()
}

impl Weekly<'_> {
    /// The self-contained HTML page.
    pub fn render_html(&self) -> String {
        self.model().render_html()
    }
}

impl model::Model {
    /// The self-contained HTML page.
    pub fn render_html(&self) -> String {
        html::render(self)
    }

    /// The HTML page for an email body, its charts as inline PNG images.
    pub fn render_email_html(&self) -> (String, Vec<html::InlineImage>) {
        html::render_email(self)
    }

    /// The A4 PDF for printing.
    pub fn render_pdf(&self) -> Result<Vec<u8>, pdf::PdfError> {
        pdf::render(self)
    }

    /// The data tables as an Excel workbook.
    pub fn render_xlsx(&self) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        xlsx::render(self)
    }

    /// The main findings as plain text, for an email's text part.
    pub fn render_text(&self) -> String {
        let mut t = format!("{}\n\n", self.title);
        for (i, f) in self.findings.iter().enumerate() {
            t.push_str(&format!("{}. {}\n", i + 1, f.text));
        }
        t.push_str("\nПолный отчёт — во вложениях: PDF для печати и XLSX с таблицами.\n");
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks() {
        let w = IsoWeek::parse("2026-W47").unwrap();
        assert_eq!(w.monday().unwrap(), NaiveDate::from_ymd_opt(2026, 11, 16).unwrap());
        assert_eq!(w.to_string(), "2026-W47");
        assert_eq!(w.previous().to_string(), "2026-W46");
        assert_eq!(IsoWeek::of(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()), w);
        assert!(IsoWeek::parse("2026-W60").is_none());
        assert!(IsoWeek::parse("47").is_none());
    }
}
