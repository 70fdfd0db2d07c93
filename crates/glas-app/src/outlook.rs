//! The outlook over a pipeline's data: the store's daily counts of
//! complaint-or-negative stories per topic × settlement, topic and district,
//! forecast with the Russian production calendar and the pipeline's heating
//! season; the week ahead against the usual, and a past week's outlook
//! against what happened.

use chrono::{Datelike, Duration, NaiveDate};
use glas_analytics::events::Events;
use glas_analytics::forecast::{self, DayKinds, Method, Point, Series};

use crate::ops::Ctx;

/// Public holidays and transferred working days from the shipped Russian
/// production calendar.
pub struct RussianDays(glas_incidents::calendar::Calendar);

impl RussianDays {
    pub fn new(tz: chrono_tz::Tz) -> RussianDays {
        let nine = chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("valid time");
        let six = chrono::NaiveTime::from_hms_opt(18, 0, 0).expect("valid time");
        RussianDays(glas_incidents::calendar::Calendar::russian(tz, (nine, six)))
    }
}

impl DayKinds for RussianDays {
    fn exception(&self, d: NaiveDate) -> Option<bool> {
        let weekend = d.weekday().num_days_from_monday() >= 5;
        match (weekend, self.0.is_working_day(d)) {
            (false, false) => Some(true),
            (true, true) => Some(false),
            _ => None,
        }
    }
}

/// The store's events, read as columns from the log (as the analysis reads
/// them: no record decoded).
pub fn events(ctx: &Ctx, store: &glas_store::Store) -> anyhow::Result<Events> {
    use anyhow::Context as _;
    let log_dir = store.log().dir();
    let frame = glas_analytics::daily::consistent(log_dir, || glas_analytics::events::read_log(log_dir))
        .context("reading the log failed")?;
    Ok(match frame {
        Some(df) => Events::from_frame(&df, ctx.tz()).context("reading the log failed")?,
        None => Default::default(),
    })
}

/// The series of `events` as of `at` (a year back), pooled, with the
/// pipeline's heating season for `heating`.
pub fn series_of(ctx: &Ctx, ev: &Events, at: NaiveDate) -> Vec<Series> {
    let heating = ctx.pipeline.forecast.heating_season;
    forecast::from_events(ev, ctx.tz(), at - Duration::days(365), at, &|topic| heating.filter(|_| topic == "heating"))
}

/// Every key's forecast for `horizon` days from `at`, seeing only before it.
pub fn points(ctx: &Ctx, series: &[Series], at: NaiveDate, horizon: usize) -> Vec<Point> {
    forecast::forecast(series, at, horizon, Method::Pooled, &RussianDays::new(ctx.tz()))
}

/// The first `days` days of the week from `monday` as forecast from the
/// days before it, per key, with the usual week and, when `actual`, what
/// happened on those days.
pub fn week(ctx: &Ctx, ev: &Events, monday: NaiveDate, days: usize, actual: bool) -> Vec<glas_report::OutlookRow> {
    // The series to the week's end: the forecast from its Monday sees only
    // the days before, and the week's own days are what happened.
    let series = series_of(ctx, ev, monday + Duration::days(7));
    let pts = points(ctx, &series, monday, days);
    rows(&series, &pts, monday, days, actual, span(ctx, ev).map(|(first, _)| first))
}

/// The district days of the first and the newest event (events are in time
/// order).
fn span(ctx: &Ctx, ev: &Events) -> Option<(NaiveDate, NaiveDate)> {
    let day = |at: i64| chrono::DateTime::from_timestamp(at, 0).map(|t| t.with_timezone(&ctx.tz()).date_naive());
    Some((day(ev.events.first()?.at)?, day(ev.events.last()?.at)?))
}

/// Each key's days from `origin` summed: expected, interval, usual week
/// and, when `actual`, what the series holds for those days.
fn rows(
    series: &[Series],
    pts: &[Point],
    origin: NaiveDate,
    days: usize,
    actual: bool,
    first: Option<NaiveDate>,
) -> Vec<glas_report::OutlookRow> {
    let mut by_key: std::collections::HashMap<&str, Vec<&Point>> = std::collections::HashMap::new();
    for p in pts {
        by_key.entry(p.key.as_str()).or_default().push(p);
    }
    let mut out = Vec::new();
    for s in series {
        let (expected, lo, hi) = forecast::sum_interval(by_key.get(s.key.as_str()).map_or(&[][..], |v| v.as_slice()));
        let usual = usual(s, origin, first);
        let actual = actual.then(|| (0..days).map(|k| s.at(origin + Duration::days(k as i64))).sum::<f64>());
        out.push(glas_report::OutlookRow { key: s.key.clone(), label: label(&s.key), expected, lo, hi, usual, actual });
    }
    out
}

/// The key's mean week over the eight before `day`, or over the history
/// there is when it is shorter (from `first`, the store's first day).
fn usual(s: &Series, day: NaiveDate, first: Option<NaiveDate>) -> f64 {
    let back = first.map_or(56, |f| (day - f).num_days().clamp(1, 56));
    (1..=back).map(|k| s.at(day - Duration::days(k))).sum::<f64>() * 7.0 / back as f64
}

/// "water|Величаевское" → "водоснабжение, Величаевское"; "*" → "весь округ".
pub fn label(key: &str) -> String {
    match forecast::key_parts(key) {
        (None, _) => "весь округ".to_string(),
        (Some(t), Some(p)) => format!("{}, {p}", glas_core::config::topic_name(t)),
        (Some(t), None) => format!("{}, весь округ", glas_core::config::topic_name(t)),
    }
}

/// The outlook the weekly report of the week from `monday` shows: the week
/// ahead (from the Monday after) and the report's own week as it was
/// forecast, against what happened.
pub fn report(ctx: &Ctx, ev: &Events, monday: NaiveDate) -> glas_report::Outlook {
    // The report's week so far: the days up to the newest mention.
    let seen = span(ctx, ev).map_or(0, |(_, newest)| ((newest - monday).num_days() + 1).clamp(0, 7) as usize);
    glas_report::Outlook {
        next: week(ctx, ev, monday + Duration::days(7), 7, false),
        this: if seen > 0 { week(ctx, ev, monday, seen, true) } else { Vec::new() },
        this_days: seen,
        ratio: ctx.pipeline.forecast.ratio,
        min_stories: ctx.pipeline.forecast.min_stories,
    }
}

/// The outlook as of `at` for `glas run`'s rounds: the next seven days from
/// the district day of `at` (that day's own stories not seen), every key's
/// days to `analytics/forecast.csv` and `.parquet` and their week to
/// `analytics/outlook.csv` (`key,label,expected,lo80,hi80,usual`), which
/// the overview reads.
pub fn write(ctx: &Ctx, ev: &Events, at: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    let tz = ctx.tz();
    let origin = at.with_timezone(&tz).date_naive();
    let series = series_of(ctx, ev, origin);
    let pts = points(ctx, &series, origin, 7);
    let dir = ctx.data_dir.join("analytics");
    forecast::write(&pts, &dir.join("forecast.csv"), Some(&dir.join("forecast.parquet")))?;
    let first = span(ctx, ev).map(|(first, _)| first);
    let f = &ctx.pipeline.forecast;
    let csv = glas_report::outlook_csv(&rows(&series, &pts, origin, 7, false, first), f.ratio, f.min_stories, origin);
    let path = dir.join("outlook.csv");
    let tmp = dir.join("outlook.csv.tmp");
    std::fs::write(&tmp, csv).and_then(|_| std::fs::rename(&tmp, &path))?;
    Ok(())
}

/// `outlook` signals: at the start of each district day in `(from, to]`,
/// a key whose next seven days are forecast well above its usual week
/// (`[forecast] ratio` times it and `min_stories` stories) opens an outlook
/// episode, and one that grows graver escalates it; a day below the bar
/// ends it. The usual week is read over the history there is (four weeks
/// at least: with less, no outlook). Each signal carries the forecast, its
/// interval and the usual week, and as evidence the key's negative mentions
/// of the week before. Emailed only with `[forecast] alert = true`
/// (`params.alarm`).
pub fn signals(
    ctx: &Ctx,
    ev: &Events,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Vec<glas_core::Signal> {
    use chrono::TimeZone as _;
    let tz = ctx.tz();
    let settings = &ctx.pipeline.forecast;
    let kinds = RussianDays::new(tz);
    let mut out = Vec::new();
    let Some((first, _)) = span(ctx, ev) else { return out };
    // Each key's open outlook episode: its gravest severity so far.
    let mut open: std::collections::HashMap<String, glas_core::Severity> = std::collections::HashMap::new();
    let mut day = from.with_timezone(&tz).date_naive() + Duration::days(1);
    while let Some(start) = tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default()).earliest() {
        if start.with_timezone(&chrono::Utc) > to {
            break;
        }
        let history = (day - first).num_days();
        if history < 28 {
            day += Duration::days(1);
            continue;
        }
        let series = series_of(ctx, ev, day);
        let pts = forecast::forecast(&series, day, 7, Method::Pooled, &kinds);
        for row in rows(&series, &pts, day, 7, false, Some(first)) {
            let ratio = row.ratio();
            let (phase, severity) = if row.tense(settings.ratio, settings.min_stories) {
                let severity = if ratio >= 3.0 {
                    glas_core::Severity::High
                } else if ratio >= 2.0 {
                    glas_core::Severity::Medium
                } else {
                    glas_core::Severity::Low
                };
                match open.get(&row.key) {
                    None => ("opened", severity),
                    Some(&was) if severity > was => ("escalated", severity),
                    Some(_) => continue,
                }
            } else {
                // Below the bar: an open outlook ends.
                match open.remove(&row.key) {
                    Some(was) => ("resolved", was),
                    None => continue,
                }
            };
            if phase != "resolved" {
                open.insert(row.key.clone(), severity);
            }
            let (topic, place) = forecast::key_parts(&row.key);
            let (topic, place) = (topic.map(str::to_string), place.map(str::to_string));
            let mut params = serde_json::Map::new();
            params.insert("alarm".into(), settings.alert.into());
            params.insert("expected".into(), ((row.expected * 10.0).round() / 10.0).into());
            params.insert("lo80".into(), row.lo.into());
            params.insert("hi80".into(), row.hi.into());
            params.insert("ratio".into(), ((ratio * 100.0).round() / 100.0).into());
            params.insert("horizon_days".into(), 7.into());
            params.insert("method".into(), "pooled weekly profile × level, negative binomial".into());
            params.insert("phase".into(), phase.into());
            out.push(glas_core::Signal {
                detected_at: start.fixed_offset(),
                kind: "outlook".into(),
                topic,
                place,
                source: None,
                severity,
                score: (ratio * 100.0).round() / 100.0,
                window: "7d".into(),
                count: row.expected.round() as u64,
                baseline: (row.usual * 10.0).round() / 10.0,
                negative_share: 0.0,
                evidence: evidence(ev, &row.key, start.timestamp()),
                params,
            });
        }
        day += Duration::days(1);
    }
    out
}

/// The key's negative mentions of the week before `at` (Unix seconds),
/// newest first, at most ten.
fn evidence(ev: &Events, key: &str, at: i64) -> Vec<String> {
    let (topic, place) = forecast::key_parts(key);
    let mut ids: Vec<(i64, &str)> = Vec::new();
    for (i, e) in ev.events.iter().enumerate() {
        if !e.negative || e.at >= at || e.at < at - 7 * 86_400 {
            continue;
        }
        let fits = topic.is_none()
            || ev.series_of(e).iter().any(|&(t, p)| {
                Some(ev.topics[t as usize].as_str()) == topic && (place.is_none() || ev.place_name(p) == place)
            });
        if fits {
            ids.push((e.at, ev.ids.get(i as u32)));
        }
    }
    ids.sort_by_key(|x| std::cmp::Reverse(x.0));
    ids.into_iter().take(10).map(|(_, id)| id.to_string()).collect()
}
