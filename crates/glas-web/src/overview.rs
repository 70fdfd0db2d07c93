//! `/`: «Обзор», the landing page. Its panels, their order and periods come
//! from `dashboards/overview.toml` ([`Overview`]), so a district changes its
//! overview without code:
//!
//! - `tension_grid`: topics × settlements coloured by the tension index of
//!   the last days (`DATA/analytics/tension.parquet`, written by the
//!   analysis), the open episodes marked;
//! - `episodes`: the open episodes, most severe first, with their figures and
//!   a link to their evidence;
//! - `volume`: mentions per day with the negative ones and the complaints,
//!   from the index, up to the newest mention;
//! - `sources`: the sources that are silent or failing.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::Html;
use chrono::{Duration, NaiveDate};
use glas_analytics::health::{SourceHealth, Status};
use glas_analytics::trends::TensionCell;
use glas_core::ru::{self, escape_html as esc};
use serde::Deserialize;

use crate::accounts::{Principal, Role};
use crate::page::layout;
use crate::search_page::{filter_term, link};
use crate::signals_page::{Episode, anchor, episodes_off_thread, severity_class};
use crate::status_pages::status_ru;
use crate::{AppState, blocking};

/// The built-in definition (the repository's `dashboards/overview.toml`).
pub const DEFAULT_OVERVIEW: &str = include_str!("../../../dashboards/overview.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Panel {
    TensionGrid,
    Episodes,
    Incidents,
    Volume,
    Sources,
    Outlook,
}

impl Panel {
    /// The panel's name in the file.
    pub fn name(self) -> &'static str {
        match self {
            Panel::TensionGrid => "tension_grid",
            Panel::Episodes => "episodes",
            Panel::Incidents => "incidents",
            Panel::Volume => "volume",
            Panel::Sources => "sources",
            Panel::Outlook => "outlook",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    #[serde(default = "grid_days")]
    pub days: u32,
    #[serde(default = "eight")]
    pub topics: usize,
    #[serde(default = "eight")]
    pub places: usize,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeList {
    #[serde(default = "eight")]
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    #[serde(default = "volume_days")]
    pub days: u32,
}

fn grid_days() -> u32 {
    7
}
fn volume_days() -> u32 {
    30
}
fn eight() -> usize {
    8
}

/// The overview's layout: `dashboards/overview.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overview {
    pub title: String,
    pub panels: Vec<Panel>,
    #[serde(default = "default_grid")]
    pub tension_grid: Grid,
    #[serde(default = "default_episodes")]
    pub episodes: EpisodeList,
    #[serde(default = "default_volume")]
    pub volume: Volume,
}

fn default_grid() -> Grid {
    Grid { days: grid_days(), topics: eight(), places: eight() }
}
fn default_episodes() -> EpisodeList {
    EpisodeList { limit: eight() }
}
fn default_volume() -> Volume {
    Volume { days: volume_days() }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid overview {name}: {reason}")]
pub struct OverviewError {
    pub name: String,
    pub reason: String,
}

impl Overview {
    /// Parses and checks a definition; `name` names it in errors.
    pub fn parse(name: &str, text: &str) -> Result<Overview, OverviewError> {
        let err = |reason: String| OverviewError { name: name.to_string(), reason };
        let o: Overview = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        if o.panels.is_empty() {
            return Err(err(
                "`panels` is empty: name at least one of tension_grid, episodes, incidents, volume, sources".into(),
            ));
        }
        if let Some((i, p)) = o.panels.iter().enumerate().find(|(i, p)| o.panels[..*i].contains(p)) {
            return Err(err(format!("`panels` names {} twice (the second time at position {})", p.name(), i + 1)));
        }
        for (what, v, max) in [
            ("tension_grid.days", o.tension_grid.days as usize, 366),
            ("tension_grid.topics", o.tension_grid.topics, 40),
            ("tension_grid.places", o.tension_grid.places, 40),
            ("episodes.limit", o.episodes.limit, 100),
            ("volume.days", o.volume.days as usize, 366),
        ] {
            if v == 0 || v > max {
                return Err(err(format!("`{what}` is {v}: it must be between 1 and {max}")));
            }
        }
        Ok(o)
    }

    pub fn builtin() -> Overview {
        Overview::parse("dashboards/overview.toml", DEFAULT_OVERVIEW).expect("the built-in overview is valid")
    }
}

/// The tension of the grid's period, or why there is none.
type Tension = Result<Option<(NaiveDate, Vec<TensionCell>)>, String>;

/// Per day of the volume panel: (mentions, negative, complaints).
struct Days {
    first: NaiveDate,
    last: NaiveDate,
    counts: Vec<(u64, u64, u64)>,
}

pub(crate) async fn overview_page(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if p.role == crate::accounts::Role::Service {
        // A service's workspace is its incidents.
        return axum::response::Redirect::to("/incidents").into_response();
    }
    overview_html(st, p).await.into_response()
}

async fn overview_html(st: Arc<AppState>, p: Principal) -> Html<String> {
    let o = st.overview.clone();
    let wants = |panel: Panel| o.panels.contains(&panel);
    // The panels' data, read at the same time: the newest mention (what the
    // store holds, and the day the volume ends) then the volume; the tension
    // table; the sources' ledger.
    let head = async {
        let store = st.store.clone();
        let tz = st.tz;
        let latest = blocking(st.limits.timeout, move || {
            let req = glas_store::SearchRequest {
                tz,
                sort: glas_store::Sort::Date,
                limit: 1,
                collapse: false,
                ..Default::default()
            };
            Ok(store.search(&req)?)
        })
        .await;
        let today = chrono::Utc::now().with_timezone(&st.tz).date_naive();
        let newest_day = latest
            .as_ref()
            .ok()
            .and_then(|r| r.hits.first())
            .and_then(|h| h.published_at.get(..10).and_then(|d| d.parse::<NaiveDate>().ok()).map(|d| d.min(today)));
        let volume = match (wants(Panel::Volume), newest_day) {
            (false, _) => Ok(None),
            (true, Some(last)) => volume(&st, last, o.volume.days).await.map(Some),
            (true, None) => Ok(None),
        };
        (latest, volume)
    };
    let tension = async {
        if !wants(Panel::TensionGrid) {
            return Ok(None);
        }
        let path = st.data_dir.join("analytics/tension.parquet");
        let days = o.tension_grid.days;
        tokio::task::spawn_blocking(move || {
            if !path.exists() {
                return Ok(None);
            }
            glas_analytics::trends::recent_tension(&path, days).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
    };
    let ledger = async {
        let stages = st.stages.clone()?;
        wants(Panel::Sources).then_some(())?;
        Some(tokio::task::spawn_blocking(move || stages.source_health()).await.unwrap_or_else(|e| Err(e.to_string())))
    };
    let ((latest, volume), tension, ledger, signals) = tokio::join!(head, tension, ledger, episodes_off_thread(&st));

    let mut body = format!("<h1>{}</h1>", esc(&o.title));
    match &latest {
        Ok(r) => {
            let _ = write!(body, "<p class=\"meta\">В базе {}", ru::mentions(r.total as u64));
            if let Some(h) = r.hits.first() {
                let when = h.published_at.get(..16).unwrap_or(&h.published_at).replace('T', " ");
                let _ = write!(body, "; самая свежая — {} ({})", esc(&when), esc(&h.source));
            }
            body.push_str(".</p>");
        }
        Err(e) => {
            let _ = write!(body, "<p class=\"error\">База публикаций недоступна: {}</p>", esc(&e.reason_ru));
        }
    }
    let (mut tension, mut volume, mut ledger) = (Some(tension), Some(volume), Some(ledger));
    for panel in &o.panels {
        match panel {
            Panel::TensionGrid => {
                let open: Vec<&Episode> =
                    signals.as_ref().map(|s| s.iter().filter(|e| e.open()).collect()).unwrap_or_default();
                let t = tension.take().unwrap_or(Ok(None));
                grid_panel(&mut body, &st, &o.tension_grid, t, &open, &p);
            }
            Panel::Episodes => episodes_panel(&mut body, &st, &signals, o.episodes.limit),
            Panel::Incidents => incidents_panel(&mut body, &st, o.episodes.limit),
            Panel::Volume => volume_panel(&mut body, volume.take().unwrap_or(Ok(None)), o.volume.days, &p),
            Panel::Sources => sources_panel(&mut body, ledger.take().flatten(), &p),
            Panel::Outlook => outlook_panel(&mut body, &st),
        }
    }
    Html(layout(&o.title, Some(&p), &body))
}

/// The week ahead as the last analysis forecast it (`analytics/outlook.csv`):
/// the district against its usual week, then where it is expected well
/// above the usual, each linked to its search.
fn outlook_panel(body: &mut String, st: &AppState) {
    body.push_str("<section class=\"panel\" id=\"outlook\"><h2>Прогноз на неделю</h2>");
    let Ok(text) = std::fs::read_to_string(st.data_dir.join("analytics/outlook.csv")) else {
        body.push_str("<p class=\"muted\">Прогноза ещё нет: он появится после очередного анализа.</p></section>");
        return;
    };
    let (rows, from) = glas_report::read_outlook_csv(&text);
    let span = from.map_or(String::new(), |f| {
        format!(" с {} по {}", f.format("%d.%m"), (f + chrono::Duration::days(6)).format("%d.%m"))
    });
    if let Some((d, _)) = rows.iter().find(|(r, _)| r.key == "*") {
        let _ = write!(
            body,
            "<p>На 7 дней{span} по округу ожидается негативных историй: <b>{:.0}</b> (80 %: {:.0}–{:.0}); обычно за неделю {:.0}.</p>",
            d.expected, d.lo, d.hi, d.usual
        );
    }
    let mut tense: Vec<&glas_report::OutlookRow> =
        rows.iter().filter(|(r, t)| *t && r.key != "*").map(|(r, _)| r).collect();
    tense.sort_by(|a, b| b.ratio().total_cmp(&a.ratio()));
    if tense.is_empty() {
        body.push_str("<p>Необычной напряжённости не ожидается.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th>Где ожидается выше обычного</th><th>Ожидается</th><th>80 %</th><th>Обычно</th></tr></thead><tbody>",
        );
        for r in tense.iter().take(8) {
            let q = match glas_analytics::forecast::key_parts(&r.key) {
                (Some(t), Some(p)) => format!("topic:{t} place:\"{p}\""),
                (t, _) => format!("topic:{}", t.unwrap_or("")),
            };
            let _ = write!(
                body,
                "<tr class=\"bad\"><td><a href=\"/search?q={}\">{}</a></td><td>{:.0}</td><td>{:.0}–{:.0}</td><td>{:.1}</td></tr>",
                crate::page::url_path(&q),
                esc(&r.label),
                r.expected,
                r.lo,
                r.hi,
                r.usual
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<p class=\"muted\">Прогноз по дням и темам: <code>analytics/forecast.csv</code>; как он сбывается — в еженедельном отчёте.</p></section>");
}

/// The tension index's band, for the cell's colour: 0 none, 1 calm (below
/// 40), 2 usual (40–60), 3 raised (60–75), 4 high (75–90), 5 critical.
fn band(index: f64) -> u8 {
    match index {
        i if i <= 0.0 => 0,
        i if i < 40.0 => 1,
        i if i < 60.0 => 2,
        i if i < 75.0 => 3,
        i if i < 90.0 => 4,
        _ => 5,
    }
}

const BANDS: [(u8, &str); 5] =
    [(1, "ниже обычного"), (2, "обычно (около 50)"), (3, "выше обычного"), (4, "втрое выше обычного"), (5, "кризис")];

/// The rows (topics) and columns (settlements) of the grid: those with the
/// most pressure in the period, at most `limit` each; the district rows
/// (`all`), mentions without a topic and without a settlement left out.
fn most_tense(cells: &[TensionCell], limit: usize, key: fn(&TensionCell) -> &str) -> Vec<&str> {
    let mut sum: HashMap<&str, f64> = HashMap::new();
    for c in cells.iter().filter(|c| c.topic != "all" && c.topic != "none" && c.place != "all" && !c.place.is_empty()) {
        *sum.entry(key(c)).or_default() += c.pressure;
    }
    let mut ranked: Vec<(&str, f64)> = sum.into_iter().filter(|(_, p)| *p > 0.0).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    ranked.into_iter().take(limit).map(|(k, _)| k).collect()
}

fn grid_panel(h: &mut String, st: &AppState, conf: &Grid, tension: Tension, open: &[&Episode], who: &Principal) {
    let _ = write!(h, "<section class=\"panel\" id=\"tension\"><h2>Напряжённость по темам и населённым пунктам</h2>");
    let (last, cells) = match tension {
        Err(e) => {
            let _ = write!(h, "<p class=\"error\">Индекс напряжённости не прочитан: {}</p></section>", esc(&e));
            return;
        }
        Ok(None) => {
            h.push_str(
                "<p>Индекс напряжённости ещё не рассчитан: он появится после первого анализа \
(в работе службы он пересчитывается сам).</p></section>",
            );
            return;
        }
        Ok(Some(t)) => t,
    };
    let first = last - Duration::days(i64::from(conf.days) - 1);
    let _ = write!(h, "<p class=\"meta\">За {} — {}", first.format("%d.%m.%Y"), last.format("%d.%m.%Y"));
    if let Some(d) = cells.iter().find(|c| c.topic == "all" && c.place == "all") {
        let _ = write!(
            h,
            "; по округу индекс <b>{:.0}</b>, {}",
            d.index,
            counted(d.negative_stories as u64, "негативный сюжет", "негативных сюжета", "негативных сюжетов")
        );
    }
    h.push_str(".</p>");
    let topics = most_tense(&cells, conf.topics, |c| &c.topic);
    let places = most_tense(&cells, conf.places, |c| &c.place);
    if topics.is_empty() {
        h.push_str("<p>Негативных сюжетов о темах в населённых пунктах за этот период нет.</p></section>");
        return;
    }
    let at: BTreeMap<(&str, &str), &TensionCell> =
        cells.iter().map(|c| ((c.topic.as_str(), c.place.as_str()), c)).collect();
    // Open episodes by their series.
    let mut marks: BTreeMap<(&str, &str), &Episode> = BTreeMap::new();
    for e in open {
        let s = e.headline();
        if let (Some(t), Some(pl)) = (s.topic.as_deref(), s.place.as_deref()) {
            marks.entry((t, pl)).or_insert(e);
        }
    }
    let range = date_range(first, last);
    h.push_str("<table class=\"grid\"><thead><tr><th>Тема</th>");
    for pl in &places {
        let _ = write!(h, "<th scope=\"col\">{}</th>", esc(pl));
    }
    h.push_str("</tr></thead><tbody>");
    for t in &topics {
        let _ = write!(h, "<tr><th scope=\"row\">{}</th>", esc(st.topic_name(t)));
        for pl in &places {
            let cell = at.get(&(*t, *pl));
            let index = cell.map_or(0.0, |c| c.index);
            let stories = cell.map_or(0, |c| c.negative_stories);
            let mark = marks.get(&(*t, *pl));
            let title = format!(
                "{}, {}: индекс {:.0}, {}{}",
                st.topic_name(t),
                pl,
                index,
                counted(stories as u64, "негативный сюжет", "негативных сюжета", "негативных сюжетов"),
                if mark.is_some() { "; открыт эпизод" } else { "" }
            );
            let _ = write!(
                h,
                "<td class=\"b{}{}\" title=\"{}\">",
                band(index),
                if mark.is_some() { " open" } else { "" },
                esc(&title)
            );
            let text = if cell.is_none() && mark.is_none() { "·".to_string() } else { format!("{index:.0}") };
            if let Some(e) = mark {
                let _ = write!(
                    h,
                    "<a href=\"/signals#{}\" aria-label=\"{}\">● {text}</a>",
                    esc(&anchor(&e.id)),
                    esc(&title)
                );
            } else if who.role >= Role::Analyst && stories > 0 {
                let q = format!("{} {} sentiment:negative {range}", filter_term("topic", t), filter_term("place", pl));
                let _ = write!(h, "<a href=\"{}\" aria-label=\"{}\">{text}</a>", esc(&link(&q, None, 1)), esc(&title));
            } else {
                h.push_str(&text);
            }
            h.push_str("</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table><p class=\"legend\">");
    for (b, label) in BANDS {
        let _ = write!(h, "<span class=\"sw b{b}\"></span>{label} ");
    }
    h.push_str("<span class=\"sw open\">●</span>открыт эпизод</p></section>");
}

fn episodes_panel(h: &mut String, st: &AppState, signals: &Result<Vec<Episode>, String>, limit: usize) {
    h.push_str("<section class=\"panel\" id=\"episodes\"><h2>Открытые эпизоды</h2>");
    let list = match signals {
        Err(e) => {
            let _ = write!(h, "<p class=\"error\">Сигналы не прочитаны: {}</p></section>", esc(e));
            return;
        }
        Ok(l) => l,
    };
    let open: Vec<&Episode> = list.iter().filter(|e| e.open()).collect();
    if open.is_empty() {
        h.push_str("<p>Открытых эпизодов нет: напряжённость в обычных пределах.</p></section>");
        return;
    }
    h.push_str("<ul class=\"episodes\">");
    for e in open.iter().take(limit) {
        let s = e.last();
        let opened = e.life[0].detected_at.with_timezone(&st.tz).format("%d.%m %H:%M");
        let _ = write!(
            h,
            "<li class=\"{}\"><a href=\"/signals#{}\">{}</a><span class=\"meta\"> открыт {opened}{}; доводы — {}</span></li>",
            severity_class(e.severity()),
            esc(&anchor(&e.id)),
            esc(&glas_alert::subject(e.headline())),
            match e.life.len() - 1 {
                0 => String::new(),
                n => format!(", усиливался {}", counted(n as u64, "раз", "раза", "раз")),
            },
            ru::mentions(s.evidence.len() as u64)
        );
    }
    h.push_str("</ul>");
    if open.len() > limit {
        let _ = write!(h, "<p><a href=\"/signals\">Все открытые эпизоды ({})</a></p>", open.len());
    }
    h.push_str("</section>");
}

/// Per-day counts of the `days` days up to `last`: all mentions, negative
/// ones, complaints (the index's day facet, one pass).
async fn volume(st: &Arc<AppState>, last: NaiveDate, days: u32) -> Result<Days, String> {
    let first = last - Duration::days(i64::from(days) - 1);
    let range = date_range(first, last);
    let store = st.store.clone();
    let tz = st.tz;
    blocking(st.limits.timeout, move || {
        let req = glas_store::SearchRequest {
            query: range,
            tz,
            limit: 1,
            collapse: false,
            facets: true,
            ..Default::default()
        };
        let facets = store.search(&req)?.facets.unwrap_or_default();
        let all: HashMap<&str, u64> = facets.day.iter().map(|d| (d.value.as_str(), d.count)).collect();
        let tones: HashMap<&str, &glas_store::DayTone> = facets.day_tone.iter().map(|d| (d.day.as_str(), d)).collect();
        let counts = (0..days)
            .map(|i| {
                let day = (first + Duration::days(i64::from(i))).format("%Y-%m-%d").to_string();
                let tone = tones.get(day.as_str());
                (
                    all.get(day.as_str()).copied().unwrap_or(0),
                    tone.map_or(0, |t| t.negative),
                    tone.map_or(0, |t| t.complaint),
                )
            })
            .collect();
        Ok(Days { first, last, counts })
    })
    .await
    .map_err(|e| e.reason_ru)
}

fn volume_panel(h: &mut String, days: Result<Option<Days>, String>, n: u32, who: &Principal) {
    let _ = write!(
        h,
        "<section class=\"panel\" id=\"volume\"><h2>Публикации за {n} {}</h2>",
        ru::plural(n as u64, "день", "дня", "дней")
    );
    let d = match days {
        Err(e) => {
            let _ = write!(h, "<p class=\"error\">Не удалось посчитать публикации: {}</p></section>", esc(&e));
            return;
        }
        Ok(None) => {
            h.push_str("<p>Публикаций пока нет.</p></section>");
            return;
        }
        Ok(Some(d)) => d,
    };
    let total: u64 = d.counts.iter().map(|c| c.0).sum();
    let negative: u64 = d.counts.iter().map(|c| c.1).sum();
    let complaints: u64 = d.counts.iter().map(|c| c.2).sum();
    let share = |k: u64| if total == 0 { 0.0 } else { 100.0 * k as f64 / total as f64 };
    let _ = write!(
        h,
        "<p>С {} по {}: <b>{}</b>, негативных <b>{:.0} %</b>, жалоб <b>{:.0} %</b>.</p>",
        d.first.format("%d.%m"),
        d.last.format("%d.%m.%Y"),
        ru::mentions(total),
        share(negative),
        share(complaints)
    );
    h.push_str(&volume_chart(&d));
    if who.role >= Role::Analyst {
        let q = date_range(d.first, d.last);
        let _ = write!(h, "<p><a href=\"{}\">Открыть эти публикации в поиске</a></p>", esc(&link(&q, None, 1)));
    }
    h.push_str("</section>");
}

/// Bars of the day's mentions (grey) with the negative ones (red) inside,
/// and the complaints as an orange line, on one scale.
fn volume_chart(d: &Days) -> String {
    let max = d.counts.iter().map(|c| c.0).max().unwrap_or(0).max(1);
    let (w, h, left, bottom) = (720.0f64, 160.0f64, 34.0f64, 22.0f64);
    let slot = (w - left) / d.counts.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = |v: u64| (h - bottom) * v as f64 / max as f64;
    let mut s = format!(
        "<figure class=\"chart\"><svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Публикации по дням\" \
preserveAspectRatio=\"none\"><text x=\"0\" y=\"12\" class=\"axis\">{max}</text>\
<line x1=\"{left}\" y1=\"{0}\" x2=\"{w}\" y2=\"{0}\" stroke=\"#999\"/>",
        h - bottom
    );
    let mut line = Vec::with_capacity(d.counts.len());
    for (i, &(all, neg, complaints)) in d.counts.iter().enumerate() {
        let x = left + i as f64 * slot;
        let day = d.first + Duration::days(i as i64);
        let label = format!("{}: {}, негативных {}, жалоб {}", day.format("%d.%m"), ru::mentions(all), neg, complaints);
        for (v, color) in [(all, "#9e9e9e"), (neg.min(all), "#c62828")] {
            if v > 0 {
                let _ = write!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{}</title></rect>",
                    h - bottom - y(v),
                    y(v),
                    esc(&label)
                );
            }
        }
        line.push(format!("{:.1},{:.1}", x + bar / 2.0, h - bottom - y(complaints.min(all))));
    }
    let _ = write!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#ef6c00\" stroke-width=\"2\"/>\
<text x=\"{left}\" y=\"{h}\" class=\"axis\">{}</text><text x=\"{w}\" y=\"{h}\" class=\"axis\" text-anchor=\"end\">{}</text>\
</svg><figcaption><span class=\"sw neu\"></span>все <span class=\"sw neg\"></span>негативные \
<span class=\"sw cmp\"></span>жалобы</figcaption></figure>",
        line.join(" "),
        d.first.format("%d.%m"),
        d.last.format("%d.%m")
    );
    s
}

/// `ledger`: none when the server has no pipeline's sources.
/// Open incidents: how many, how many overdue, and the overdue ones first
/// (up to `limit`). Left out when the pipeline has no incidents.
fn incidents_panel(h: &mut String, st: &AppState, limit: usize) {
    let Some(inc) = &st.incidents else { return };
    h.push_str("<section class=\"panel\" id=\"incidents\"><h2>Инциденты</h2>");
    let now = chrono::Utc::now();
    let open = match inc.list(&glas_incidents::Filter { open: true, ..Default::default() }, now) {
        Ok(l) => l,
        Err(e) => {
            let _ =
                write!(h, "<p class=\"error\">Не удалось прочитать инциденты: {}</p></section>", esc(&e.to_string()));
            return;
        }
    };
    if open.is_empty() {
        h.push_str("<p class=\"ok\">Открытых инцидентов нет.</p></section>");
        return;
    }
    let mut shown: Vec<&glas_incidents::Incident> = open.iter().collect();
    shown.sort_by_key(|i| (i.overdue(now).is_none(), std::cmp::Reverse(i.severity), std::cmp::Reverse(i.id)));
    let late = open.iter().filter(|i| i.overdue(now).is_some()).count();
    let _ = write!(
        h,
        "<p>Открыто: {}, из них просрочено: {late}. <a href=\"/incidents\">Все инциденты →</a></p><ul class=\"flagged\">",
        open.len()
    );
    for i in shown.into_iter().take(limit) {
        let (class, what) = match i.overdue(now) {
            Some(o) => ("bad", o.label_ru().to_string()),
            None => ("warn", i.status.label_ru().to_string()),
        };
        let _ = write!(
            h,
            "<li class=\"{class}\"><a href=\"/incidents/{}\">№{} {}</a> — {}; {}</li>",
            i.id,
            i.id,
            esc(&i.title),
            esc(&i.service),
            esc(&what)
        );
    }
    h.push_str("</ul></section>");
}

fn sources_panel(h: &mut String, ledger: Option<Result<Vec<SourceHealth>, String>>, who: &Principal) {
    h.push_str("<section class=\"panel\" id=\"sources\"><h2>Источники, требующие внимания</h2>");
    let ledger = match ledger {
        None => {
            h.push_str(
                "<p>Сведения об источниках недоступны: сервер запущен без конфигурации источников.</p></section>",
            );
            return;
        }
        Some(Err(e)) => {
            let _ = write!(h, "<p class=\"error\">Не удалось собрать сведения: {}</p></section>", esc(&e));
            return;
        }
        Some(Ok(l)) => l,
    };
    let mut flagged: Vec<_> = ledger.iter().filter(|s| matches!(s.status, Status::Failing | Status::Silent)).collect();
    flagged.sort_by_key(|s| (s.status != Status::Failing, s.name.clone()));
    if flagged.is_empty() {
        let _ = write!(
            h,
            "<p class=\"ok\">Все {} работают.</p></section>",
            counted(ledger.len() as u64, "источник", "источника", "источников")
        );
        return;
    }
    h.push_str("<ul class=\"flagged\">");
    for s in flagged {
        let what = match (s.status, s.silent_hours) {
            (Status::Failing, _) => format!(
                "ошибки {} подряд{}",
                s.consecutive_failures,
                s.last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
            ),
            (_, Some(hours)) => format!("молчит {hours:.0} ч"),
            _ => "молчит".to_string(),
        };
        let (_, class) = status_ru(s.status);
        let _ = write!(h, "<li class=\"{class}\"><b>{}</b> — {}</li>", esc(&s.name), esc(&what));
    }
    h.push_str("</ul>");
    if who.role >= Role::Analyst {
        h.push_str("<p><a href=\"/sources\">Все источники</a></p>");
    }
    h.push_str("</section>");
}

/// The query condition of the days `first..=last`.
fn date_range(first: NaiveDate, last: NaiveDate) -> String {
    format!("date:[{} TO {}]", first.format("%Y-%m-%d"), last.format("%Y-%m-%d"))
}

/// "3 негативных сюжета": the number and the word in its form.
fn counted(n: u64, one: &str, few: &str, many: &str) -> String {
    format!("{n} {}", ru::plural(n, one, few, many))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_overview_parses_and_bad_ones_say_why() {
        let o = Overview::builtin();
        assert_eq!(
            o.panels,
            [Panel::TensionGrid, Panel::Episodes, Panel::Incidents, Panel::Outlook, Panel::Volume, Panel::Sources]
        );
        assert_eq!((o.tension_grid.days, o.volume.days), (7, 30));
        let e = Overview::parse("x", "title = \"О\"\npanels = [\"map\"]").unwrap_err().to_string();
        assert!(e.contains("tension_grid") && e.contains("map"), "{e}");
        let e =
            Overview::parse("x", "title = \"О\"\npanels = [\"volume\"]\n[volume]\ndays = 0").unwrap_err().to_string();
        assert!(e.contains("volume.days"), "{e}");
        let e = Overview::parse("x", "title = \"О\"\npanels = [\"volume\", \"episodes\", \"volume\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("names volume twice") && e.contains("position 3"), "{e}");
        let e = Overview::parse("x", "title = \"О\"\npanels = [\"volume\"]\ncolour = 1").unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
        // Left-out tables take their defaults.
        let o = Overview::parse("x", "title = \"О\"\npanels = [\"episodes\"]").unwrap();
        assert_eq!(o.episodes.limit, 8);
    }

    fn cell(topic: &str, place: &str, pressure: f64) -> TensionCell {
        TensionCell { topic: topic.into(), place: place.into(), index: 50.0, negative_stories: 1, pressure }
    }

    #[test]
    fn the_grid_shows_the_most_tense_topics_and_places_only() {
        let cells = [
            cell("all", "all", 9.0),
            cell("none", "Заря", 5.0),
            cell("water", "", 7.0),
            cell("water", "Заря", 3.0),
            cell("roads", "Заря", 1.0),
            cell("roads", "Величаевское", 2.5),
            cell("waste", "Бургун-Маджары", 0.0),
        ];
        assert_eq!(most_tense(&cells, 8, |c| &c.topic), ["roads", "water"]);
        assert_eq!(most_tense(&cells, 1, |c| &c.place), ["Заря"]);
        assert_eq!([band(0.0), band(12.0), band(50.0), band(74.9), band(80.0), band(95.0)], [0, 1, 2, 3, 4, 5]);
    }
}
