//! The source-health ledger: for every configured source, when it last
//! answered, when it last delivered something new, how much it delivers against
//! its own usual rate, and whether it keeps failing. A source that went silent
//! (no new mention for far longer than its usual gap) or keeps failing is
//! flagged, and becomes a `source_silent` signal.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use glas_core::config::SourceConfig;
use glas_core::{Checkpoint, Severity, Signal};
use polars::prelude::*;

use crate::AnalyticsError;

/// Failures in a row that flag a source as failing.
pub const FAILING_AFTER: u32 = 3;
/// A silent source is one whose quiet lasts this many usual gaps...
pub const SILENT_GAPS: f64 = 4.0;
/// ...and at least this long.
pub const SILENT_MIN_HOURS: i64 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Never crawled yet.
    New,
    Silent,
    Failing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::New => "new",
            Status::Silent => "silent",
            Status::Failing => "failing",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceHealth {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub status: Status,
    pub last_success: Option<String>,
    /// Publication time of the newest mention in the store.
    pub last_mention: Option<DateTime<Utc>>,
    pub per_day_7d: f64,
    pub per_day_30d: f64,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// Hours since the newest mention, and the usual gap between mentions.
    pub silent_hours: Option<f64>,
    pub usual_gap_hours: Option<f64>,
}

/// Mentions in the last 7 and 30 days, and the newest publication (ms).
type Counts = (u32, u32, Option<i64>);

/// [`Counts`] per source id.
fn stats(log_dir: &Path, now: DateTime<Utc>) -> Result<HashMap<String, Counts>, AnalyticsError> {
    let Some(log) = crate::daily::scan_log(log_dir)? else { return Ok(HashMap::new()) };
    let now_ms = now.timestamp_millis();
    let t = || col("published_at").cast(DataType::Int64);
    let df = log
        .select([col("source"), col("published_at")])
        .filter(t().lt_eq(lit(now_ms)))
        .group_by([col("source")])
        .agg([
            t().gt(lit(now_ms - 7 * 86_400_000)).cast(DataType::UInt32).sum().alias("week"),
            t().gt(lit(now_ms - 30 * 86_400_000)).cast(DataType::UInt32).sum().alias("month"),
            t().max().alias("last_ms"),
        ])
        .collect()?;
    let src = df.column("source")?.str()?.clone();
    let week = df.column("week")?.u32()?.clone();
    let month = df.column("month")?.u32()?.clone();
    let last = df.column("last_ms")?.i64()?.clone();
    let mut out = HashMap::new();
    for i in 0..df.height() {
        if let Some(s) = src.get(i) {
            out.insert(s.to_string(), (week.get(i).unwrap_or(0), month.get(i).unwrap_or(0), last.get(i)));
        }
    }
    Ok(out)
}

pub fn ledger(
    sources: &[SourceConfig],
    checkpoints: &std::collections::BTreeMap<String, Checkpoint>,
    log_dir: &Path,
    now: DateTime<Utc>,
) -> Result<Vec<SourceHealth>, AnalyticsError> {
    let stats = stats(log_dir, now)?;
    let mut out = Vec::with_capacity(sources.len());
    for s in sources {
        let cp = checkpoints.get(&s.id);
        let (week, month, last_ms) = stats.get(&s.id).copied().unwrap_or((0, 0, None));
        let last_mention = last_ms.and_then(DateTime::from_timestamp_millis);
        let usual_gap_hours = (month >= 3).then(|| 30.0 * 24.0 / f64::from(month));
        let silent_hours = last_mention.map(|t| (now - t).num_minutes() as f64 / 60.0);
        let failures = cp.map_or(0, |c| c.consecutive_failures);
        let status = if cp.is_none() {
            Status::New
        } else if failures >= FAILING_AFTER {
            Status::Failing
        } else if matches!((silent_hours, usual_gap_hours), (Some(q), Some(g)) if q > (SILENT_GAPS * g).max(SILENT_MIN_HOURS as f64))
        {
            Status::Silent
        } else {
            Status::Ok
        };
        out.push(SourceHealth {
            id: s.id.clone(),
            name: s.name.clone(),
            kind: s.kind.clone(),
            status,
            last_success: cp.and_then(|c| c.last_success.clone()),
            last_mention,
            per_day_7d: f64::from(week) / 7.0,
            per_day_30d: f64::from(month) / 30.0,
            consecutive_failures: failures,
            last_error: cp.and_then(|c| c.last_error.clone()),
            silent_hours,
            usual_gap_hours,
        });
    }
    Ok(out)
}

/// `source_silent` signals for flagged sources (reported, not crisis alarms).
pub fn signals(ledger: &[SourceHealth], now: DateTime<Utc>, tz: chrono_tz::Tz) -> Vec<Signal> {
    ledger
        .iter()
        .filter(|h| matches!(h.status, Status::Silent | Status::Failing))
        .map(|h| {
            let mut params = serde_json::Map::new();
            params.insert("rule".into(), "source_health".into());
            params.insert("status".into(), h.status.as_str().into());
            params.insert("consecutive_failures".into(), h.consecutive_failures.into());
            if let Some(q) = h.silent_hours {
                params.insert("silent_hours".into(), (q.round()).into());
            }
            if let Some(g) = h.usual_gap_hours {
                params.insert("usual_gap_hours".into(), ((g * 10.0).round() / 10.0).into());
            }
            if let Some(e) = &h.last_error {
                params.insert("last_error".into(), e.clone().into());
            }
            Signal {
                detected_at: now.with_timezone(&tz).fixed_offset(),
                kind: "source_silent".into(),
                topic: None,
                place: None,
                source: Some(h.id.clone()),
                severity: if h.status == Status::Failing { Severity::Medium } else { Severity::Low },
                score: h.silent_hours.zip(h.usual_gap_hours).map_or(0.0, |(q, g)| (q / g * 10.0).round() / 10.0),
                window: "30d".into(),
                count: 0,
                baseline: (h.per_day_30d * 100.0).round() / 100.0,
                negative_share: 0.0,
                evidence: Vec::new(),
                params,
            }
        })
        .collect()
}
