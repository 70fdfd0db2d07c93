//! `/search`: the search as a page an official can read, in Russian — where
//! alert emails link to. Same parameters as `/api/search`; the query
//! language is the CLI's, and the query stays the single truth: the filter
//! controls and the facets write themselves into it (`/search/refine`
//! merges them and sends the browser to the new link), so every view is a
//! link that can be shared. Errors are shown on the page, not as JSON.
//!
//! Beside the hits: the volume per day split by tone (an SVG drawn here),
//! the facets (tone, type, topics, settlements, sources), and exports of
//! every hit as CSV and JSON Lines.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate};

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{Html, Redirect};
use glas_core::ru;
use glas_core::ru::escape_html as esc;
use glas_store::{FacetCount, Facets, SearchResults};
use serde::Deserialize;

use crate::accounts::Principal;
use crate::page::layout;
use crate::{AppState, SearchParams, blocking};

/// `q` narrowed by one more condition.
fn and(q: &str, term: &str) -> String {
    let q = q.trim();
    if q.is_empty() { term.to_string() } else { format!("({q}) {term}") }
}

/// `key:value`, quoted when the value is more than one plain word.
pub(crate) fn filter_term(key: &str, value: &str) -> String {
    if !value.is_empty() && value.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
        format!("{key}:{value}")
    } else {
        format!("{key}:\"{}\"", value.replace('"', ""))
    }
}

pub(crate) async fn search_page(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Html<String> {
    let Ok(Query(p)) = params else {
        let body = page(&st, "", None, None, Err("неверные параметры запроса".into()), None, false);
        return Html(layout("Поиск", Some(&who), &body));
    };
    let (q, since) = (p.q.clone(), p.since.clone());
    st.audit_search(&who, &p, false);
    let found = match p.request(&st).and_then(|req| st.check_author_query(&who, &req.query).map(|_| req)) {
        Err(e) => Err(e.reason_ru),
        Ok(mut req) => {
            req.facets = true;
            let store = st.store.clone();
            blocking(st.limits.timeout, move || {
                // The chart's tones come from the same pass as the facets.
                Ok(store.search(&req)?)
            })
            .await
            .map_err(|e| e.reason_ru)
        }
    };
    let title = if q.is_empty() { "Поиск".to_string() } else { format!("Поиск: {q}") };
    let regional = st.searches_region(&who);
    Html(layout(&title, Some(&who), &page(&st, &q, since.as_deref(), p.page, found, who.csrf.clone(), regional)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Refine {
    #[serde(default)]
    q: String,
    since: Option<String>,
    /// Days back from today ([`PERIODS`]).
    period: Option<String>,
    sentiment: Option<String>,
    #[serde(rename = "type")]
    mention_type: Option<String>,
    topic: Option<String>,
    place: Option<String>,
    source: Option<String>,
    lang: Option<String>,
    /// Set: the refined search is the region's (`/search/region`), among
    /// these districts (ids separated by commas; empty: all covered).
    region: Option<String>,
    district: Option<String>,
}

/// `/search/refine`: the filter controls written into the query, then the
/// search of the new query.
pub(crate) async fn refine(State(st): State<Arc<AppState>>, Query(r): Query<Refine>) -> Redirect {
    let mut q = r.q.trim().to_string();
    let days = r.period.as_deref().and_then(|p| p.parse::<u32>().ok()).filter(|d| PERIODS.iter().any(|(p, _)| p == d));
    if let Some(days) = days {
        let today = chrono::Utc::now().with_timezone(&st.tz).date_naive();
        q = and(&q, &period_term(today, days));
    }
    let filters = [
        ("sentiment", &r.sentiment),
        ("type", &r.mention_type),
        ("topic", &r.topic),
        ("place", &r.place),
        ("source", &r.source),
        ("lang", &r.lang),
    ];
    for (key, value) in filters {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            q = and(&q, &filter_term(key, v));
        }
    }
    let since = r.since.as_deref().filter(|s| !s.is_empty());
    match r.region {
        Some(_) => Redirect::to(&region_link(&q, since, r.district.as_deref(), 1)),
        None => Redirect::to(&link(&q, since, 1)),
    }
}

/// The query condition of the last `days` days up to `today`.
fn period_term(today: NaiveDate, days: u32) -> String {
    format!("date:>={}", (today - Duration::days(i64::from(days.max(1)) - 1)).format("%Y-%m-%d"))
}

/// `text` with the byte ranges `marks` wrapped in `<mark>`, all escaped.
fn marked(text: &str, marks: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len() + 16 * marks.len());
    let mut at = 0;
    for &(s, e) in marks {
        if s < at || e > text.len() || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            continue;
        }
        out.push_str(&esc(&text[at..s]));
        let _ = write!(out, "<mark>{}</mark>", esc(&text[s..e]));
        at = e;
    }
    out.push_str(&esc(&text[at..]));
    out
}

/// Links to the previous and the next page (when there are more hits).
pub(crate) fn pager(h: &mut String, page_no: usize, more: bool, link: impl Fn(usize) -> String) {
    let mut nav = Vec::new();
    if page_no > 1 {
        nav.push(format!("<a href=\"{}\">← Предыдущие</a>", esc(&link(page_no - 1))));
    }
    if more {
        nav.push(format!("<a href=\"{}\">Следующие →</a>", esc(&link(page_no + 1))));
    }
    if !nav.is_empty() {
        let _ = write!(h, "<p class=\"pager\">{}</p>", nav.join(" "));
    }
}

/// A hit's time (local, to the minute) and its tags: tone, type, topics,
/// settlements.
pub(crate) fn hit_line(st: &AppState, hit: &glas_store::search::Hit) -> (String, String) {
    let when = hit.published_at.get(..16).unwrap_or(&hit.published_at).replace('T', " ");
    let mut tags = vec![ru::sentiment_label(&hit.sentiment).to_string(), ru::type_label(&hit.mention_type).to_string()];
    tags.extend(hit.topics.iter().map(|t| st.topic_name(t).to_string()));
    tags.extend(hit.places.iter().cloned());
    (when, tags.join(" · "))
}

/// A hit's title, fragment and links, closing its `<li>`; `own` links its
/// page (a hit of this district's store).
pub(crate) fn hit_body(h: &mut String, hit: &glas_store::search::Hit, own: bool) {
    if let Some(t) = &hit.title {
        let _ = write!(h, "<div class=\"title\">{}</div>", marked(t, &hit.title_highlights));
    }
    let _ = write!(h, "<div>{}</div>", marked(&hit.snippet, &hit.highlights));
    let mut more = Vec::new();
    if own {
        more.push(format!("<a href=\"{}\">подробнее</a>", esc(&mention_link(&hit.id))));
    }
    if let Some(u) = &hit.url {
        more.push(format!("<a href=\"{}\" rel=\"noopener noreferrer\">источник</a>", esc(u)));
    }
    if hit.more_in_cluster > 0 {
        more.push(esc(&ru::and_more(hit.more_in_cluster)));
    }
    let _ = write!(h, "<div class=\"meta\">{}</div></li>", more.join(" · "));
}

/// `path` with a search's parameters: the query, the period, the regional
/// search's districts, the page (when past the first), the export's format.
fn search_url(
    path: &str,
    q: &str,
    since: Option<&str>,
    district: Option<&str>,
    page: usize,
    format: Option<&str>,
) -> String {
    let mut u = url::form_urlencoded::Serializer::new(String::new());
    u.append_pair("q", q);
    if let Some(s) = since {
        u.append_pair("since", s);
    }
    if let Some(d) = district.filter(|d| !d.is_empty()) {
        u.append_pair("district", d);
    }
    if page > 1 {
        u.append_pair("page", &page.to_string());
    }
    if let Some(f) = format {
        u.append_pair("format", f);
    }
    format!("{path}?{}", u.finish())
}

pub(crate) fn link(q: &str, since: Option<&str>, page: usize) -> String {
    search_url("/search", q, since, None, page, None)
}

/// A page of the region's search among `district` (all covered: none).
pub(crate) fn region_link(q: &str, since: Option<&str>, district: Option<&str>, page: usize) -> String {
    search_url("/search/region", q, since, district, page, None)
}

/// Where a search page's links lead: this district's search, or the
/// region's among some districts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    District,
    Region { district: Option<&'a str> },
}

impl Scope<'_> {
    pub(crate) fn link(self, q: &str, since: Option<&str>, page: usize) -> String {
        match self {
            Scope::District => link(q, since, page),
            Scope::Region { district } => region_link(q, since, district, page),
        }
    }

    /// The export of every hit of a search (not just the page).
    fn export_link(self, q: &str, since: Option<&str>, format: &str) -> String {
        match self {
            Scope::District => search_url("/api/export", q, since, None, 1, Some(format)),
            Scope::Region { district } => search_url("/api/region/export", q, since, district, 1, Some(format)),
        }
    }
}

/// The export links of a search's hits (CSV, XLSX up to its limit, JSON Lines).
pub(crate) fn export_links(h: &mut String, scope: Scope<'_>, q: &str, since: Option<&str>, total: usize) {
    if total == 0 {
        return;
    }
    let _ = write!(
        h,
        "<p class=\"meta\">Выгрузить все найденные: <a href=\"{}\" download>CSV</a> · <a href=\"{}\" \
download>XLSX</a>{} (Excel) · <a href=\"{}\" download>JSONL</a></p>",
        esc(&scope.export_link(q, since, "csv")),
        esc(&scope.export_link(q, since, "xlsx")),
        if total > glas_store::export::XLSX_MAX_ROWS {
            format!(" — до {} публикаций", glas_store::export::XLSX_MAX_ROWS)
        } else {
            String::new()
        },
        esc(&scope.export_link(q, since, "jsonl"))
    );
}

/// The path of a mention's page.
pub(crate) fn mention_link(id: &str) -> String {
    format!("/mentions/{}", crate::page::url_path(id))
}

/// The period control: days back, today included, written into the query as
/// `date:>=` (so the query holds the whole search, as it does every filter).
const PERIODS: [(u32, &str); 3] = [(1, "сегодня"), (7, "за 7 дней"), (30, "за 30 дней")];
const TONES: [&str; 3] = ["negative", "neutral", "positive"];
const TYPES: [&str; 5] = ["complaint", "question", "gratitude", "news", "other"];
/// The languages the enrichment tells apart (`und`: not determined).
const LANGS: [(&str, &str); 5] =
    [("ru", "русский"), ("uk", "украинский"), ("be", "белорусский"), ("en", "английский"), ("und", "не определён")];

/// One `<select>` of the filter form; `options` are (value, label).
fn select(h: &mut String, name: &str, label: &str, options: &[(String, String)]) {
    let _ = write!(h, "<label>{label}<select name=\"{name}\"><option value=\"\">любой</option>");
    for (value, text) in options {
        let _ = write!(h, "<option value=\"{}\">{}</option>", esc(value), esc(text));
    }
    h.push_str("</select></label>");
}

pub(crate) fn filter_form(
    h: &mut String,
    st: &AppState,
    scope: Scope<'_>,
    q: &str,
    since: Option<&str>,
    facets: Option<&Facets>,
) {
    let _ = write!(
        h,
        "<details class=\"filters\"><summary>Фильтры</summary><form action=\"/search/refine\">\
<input type=\"hidden\" name=\"q\" value=\"{}\">",
        esc(q)
    );
    if let Scope::Region { district } = scope {
        let _ = write!(
            h,
            "<input type=\"hidden\" name=\"region\" value=\"1\"><input type=\"hidden\" name=\"district\" value=\"{}\">",
            esc(district.unwrap_or(""))
        );
    }
    if let Some(s) = since {
        let _ = write!(h, "<input type=\"hidden\" name=\"since\" value=\"{}\">", esc(s));
    }
    let periods: Vec<(String, String)> = PERIODS.iter().map(|(d, n)| (d.to_string(), n.to_string())).collect();
    select(h, "period", "Период", &periods);
    let labelled = |codes: &[&str], f: fn(&str) -> &str| -> Vec<(String, String)> {
        codes.iter().map(|c| (c.to_string(), f(c).to_string())).collect()
    };
    select(h, "sentiment", "Тональность", &labelled(&TONES, ru::sentiment_label));
    select(h, "type", "Тип", &labelled(&TYPES, ru::type_label));
    select(h, "topic", "Тема", &st.topics);
    let langs: Vec<(String, String)> = LANGS.iter().map(|(c, n)| (c.to_string(), n.to_string())).collect();
    select(h, "lang", "Язык", &langs);
    let values = |list: &[FacetCount]| -> Vec<(String, String)> {
        list.iter().take(40).map(|f| (f.value.clone(), f.value.clone())).collect()
    };
    if let Some(f) = facets {
        select(h, "place", "Населённый пункт", &values(&f.place));
        select(h, "source", "Источник", &values(&f.source));
    }
    h.push_str("<button>Применить</button></form></details>");
}

/// Spans longer than this many days are charted by week.
const DAILY_CHART_DAYS: i64 = 92;

/// One bar of the volume chart: its first day, and its mentions, negative
/// and positive ones.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bar {
    from: NaiveDate,
    total: u64,
    negative: u64,
    positive: u64,
}

/// The result's volume from its first day to its last, empty days included
/// (so the axis is time); by ISO week when the span is long. `true`: weeks.
fn bars(f: &glas_store::Facets) -> (Vec<Bar>, bool) {
    let parse = |d: &str| d.parse::<NaiveDate>().ok();
    let mut per_day: BTreeMap<NaiveDate, Bar> = BTreeMap::new();
    for d in &f.day {
        if let Some(day) = parse(&d.value) {
            per_day.insert(day, Bar { from: day, total: d.count, negative: 0, positive: 0 });
        }
    }
    for t in &f.day_tone {
        if let Some(b) = parse(&t.day).and_then(|day| per_day.get_mut(&day)) {
            (b.negative, b.positive) = (t.negative.min(b.total), t.positive.min(b.total - t.negative.min(b.total)));
        }
    }
    let (Some(&first), Some(&last)) = (per_day.keys().next(), per_day.keys().next_back()) else {
        return (Vec::new(), false);
    };
    let weekly = (last - first).num_days() >= DAILY_CHART_DAYS;
    let start =
        |d: NaiveDate| if weekly { d - Duration::days(i64::from(d.weekday().num_days_from_monday())) } else { d };
    let step = Duration::days(if weekly { 7 } else { 1 });
    let mut out = Vec::new();
    let mut at = start(first);
    while at <= last {
        out.push(Bar { from: at, total: 0, negative: 0, positive: 0 });
        at += step;
    }
    for (day, b) in per_day {
        let i = ((start(day) - start(first)).num_days() / step.num_days()) as usize;
        let bar = &mut out[i];
        (bar.total, bar.negative, bar.positive) =
            (bar.total + b.total, bar.negative + b.negative, bar.positive + b.positive);
    }
    (out, weekly)
}

/// Bars of the result's volume per day (per week over long spans), stacked
/// by tone: negative (red) at the bottom, then neutral (grey), then positive
/// (green).
pub(crate) fn chart(facets: Option<&Facets>) -> String {
    let Some((bars, weekly)) = facets.map(bars).filter(|(b, _)| !b.is_empty()) else {
        return String::new();
    };
    let max = bars.iter().map(|d| d.total).max().unwrap_or(1).max(1);
    let (w, h, left, bottom) = (720.0f64, 160.0f64, 34.0f64, 22.0f64);
    let slot = (w - left) / bars.len() as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = |v: u64| (h - bottom) * v as f64 / max as f64;
    let per = if weekly { "неделям" } else { "дням" };
    let mut s = format!(
        "<figure class=\"chart\"><svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Публикации по {per}\" \
preserveAspectRatio=\"none\"><text x=\"0\" y=\"12\" class=\"axis\">{max}</text>\
<line x1=\"{left}\" y1=\"{0}\" x2=\"{w}\" y2=\"{0}\" stroke=\"#999\"/>",
        h - bottom
    );
    let label = |b: &Bar| {
        if weekly {
            format!("неделя с {}", b.from.format("%d.%m.%Y"))
        } else {
            b.from.format("%d.%m.%Y").to_string()
        }
    };
    for (i, b) in bars.iter().enumerate() {
        let neutral = b.total - b.negative - b.positive;
        let x = left + i as f64 * slot;
        let mut base = h - bottom;
        for (v, color) in [(b.negative, "#c62828"), (neutral, "#9e9e9e"), (b.positive, "#2e7d32")] {
            if v == 0 {
                continue;
            }
            let height = y(v);
            base -= height;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{base:.1}\" width=\"{bar:.1}\" height=\"{height:.1}\" fill=\"{color}\">\
<title>{}: {}</title></rect>",
                esc(&label(b)),
                ru::mentions(v)
            );
        }
    }
    let (first, last) = (bars[0].from, bars[bars.len() - 1].from);
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{h}\" class=\"axis\">{}</text><text x=\"{w}\" y=\"{h}\" class=\"axis\" \
text-anchor=\"end\">{}</text></svg><figcaption>По {per}: <span class=\"sw neg\"></span>негатив \
<span class=\"sw neu\"></span>нейтрально <span class=\"sw pos\"></span>позитив</figcaption></figure>",
        first.format("%d.%m.%Y"),
        last.format("%d.%m.%Y")
    );
    s
}

/// The facets as links that add their condition to the query.
pub(crate) fn facet_lists(h: &mut String, st: &AppState, scope: Scope<'_>, q: &str, since: Option<&str>, f: &Facets) {
    h.push_str("<aside class=\"facets\">");
    let mut list = |title: &str, key: &str, items: &[FacetCount], label: &dyn Fn(&str) -> String| {
        if items.is_empty() {
            return;
        }
        let _ = write!(h, "<h3>{title}</h3><ul>");
        for item in items.iter().take(8) {
            let target = scope.link(&and(q, &filter_term(key, &item.value)), since, 1);
            let _ = write!(
                h,
                "<li><a href=\"{}\">{}</a> <span class=\"meta\">{}</span></li>",
                esc(&target),
                esc(&label(&item.value)),
                item.count
            );
        }
        h.push_str("</ul>");
    };
    list("Тональность", "sentiment", &f.sentiment, &|v| ru::sentiment_label(v).to_string());
    list("Тип", "type", &f.mention_type, &|v| ru::type_label(v).to_string());
    list("Темы", "topic", &f.topic, &|v| st.topic_name(v).to_string());
    list("Населённые пункты", "place", &f.place, &|v| v.to_string());
    list("Источники", "source", &f.source, &|v| v.to_string());
    h.push_str("</aside>");
}

fn page(
    st: &AppState,
    q: &str,
    since: Option<&str>,
    page_no: Option<usize>,
    found: Result<SearchResults, String>,
    who_csrf: Option<String>,
    regional: bool,
) -> String {
    let mut h = String::with_capacity(32 * 1024);
    let _ = write!(
        h,
        "<form action=\"/search\" class=\"query\"><input name=\"q\" value=\"{}\" \
placeholder=\"например: вода Величаевское\" aria-label=\"Запрос\" autofocus>",
        esc(q)
    );
    if let Some(s) = since {
        let _ = write!(h, "<input type=\"hidden\" name=\"since\" value=\"{}\">", esc(s));
    }
    h.push_str("<button>Найти</button></form>");
    if regional {
        let _ = write!(
            h,
            "<p class=\"meta\"><a href=\"{}\">Искать во всех округах региона</a></p>",
            esc(&region_link(q, since, None, 1))
        );
    }
    let facets = found.as_ref().ok().and_then(|f| f.facets.as_ref());
    filter_form(&mut h, st, Scope::District, q, since, facets);
    if let Some(s) = since {
        let _ = write!(
            h,
            "<p class=\"meta\">За последние {}. <a href=\"{}\">За всё время</a></p>",
            esc(&ru::window(s)),
            esc(&link(q, None, 1))
        );
    }
    let found = match found {
        Err(reason) => {
            let _ = write!(h, "<p class=\"error\">Запрос не выполнен: {}</p>", esc(&reason));
            return h;
        }
        Ok(f) => f,
    };
    let res = &found;
    let first = if res.hits.is_empty() { 0 } else { res.offset + 1 };
    let _ = write!(
        h,
        "<p><b>Найдено: {}</b> · показаны {}–{}</p>",
        ru::found(res.total as u64, res.total_estimated),
        first,
        res.offset + res.hits.len(),
    );
    export_links(&mut h, Scope::District, q, since, res.total);
    if let Some(csrf) = &who_csrf {
        let _ = write!(
            h,
            "<details class=\"filters\"><summary>Сохранить этот поиск</summary>\
<form method=\"post\" action=\"/searches\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<input type=\"hidden\" name=\"query\" value=\"{}\"><label>Название<input name=\"name\" required maxlength=\"120\"></label>\
<label>Кому присылать новое (адреса через запятую)<input name=\"to\" type=\"text\" size=\"40\"></label>\
<button>Сохранить</button></form></details>",
            esc(csrf),
            esc(q)
        );
    }
    h.push_str(&chart(found.facets.as_ref()));
    let pick_form = st.incidents.is_some() && who_csrf.is_some() && !res.hits.is_empty();
    h.push_str("<div class=\"results\"><div>");
    let _ = write!(h, "<ol class=\"hits\" start=\"{}\">", first.max(1));
    for hit in &res.hits {
        let (when, tags) = hit_line(st, hit);
        // With incidents, each hit can be picked for a new one (the form
        // below the list).
        let pick = if pick_form {
            format!(
                "<label class=\"pick\"><input type=\"checkbox\" name=\"mentions\" value=\"{}\" form=\"new-incident\"> в инцидент</label> · ",
                esc(&hit.id)
            )
        } else {
            String::new()
        };
        let _ = write!(
            h,
            "<li class=\"{}\"><div class=\"meta\">{pick}{} · {} · {}</div>",
            esc(&hit.sentiment),
            esc(&when),
            esc(&hit.source),
            esc(&tags)
        );
        hit_body(&mut h, hit, true);
    }
    h.push_str("</ol>");
    if let (true, Some(csrf)) = (pick_form, &who_csrf) {
        let _ = write!(
            h,
            "<form method=\"post\" action=\"/incidents\" id=\"new-incident\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<button>Создать инцидент из отмеченных</button> <span class=\"meta\">тема и место — как у первой отмеченной публикации</span></form>",
            esc(csrf)
        );
    }
    let more = res.offset + res.hits.len() < res.total;
    pager(&mut h, page_no.unwrap_or(1), more, |n| link(q, since, n));
    h.push_str("</div>");
    if let Some(f) = &res.facets {
        facet_lists(&mut h, st, Scope::District, q, since, f);
    }
    h.push_str(
        "</div><p class=\"meta\">glas · тональность, темы и населённые пункты определены автоматически · \
перепечатки свёрнуты</p>",
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_escaped_and_bounded() {
        assert_eq!(marked("нет <воды>", &[(7, 17)]), "нет <mark>&lt;воды&gt;</mark>");
        assert_eq!(marked("abc", &[(1, 99)]), "abc", "a range past the end is ignored");
    }

    fn facets(days: &[(&str, u64, u64, u64)]) -> glas_store::Facets {
        glas_store::Facets {
            day: days.iter().map(|d| FacetCount { value: d.0.into(), count: d.1 }).collect(),
            day_tone: days
                .iter()
                .map(|d| glas_store::DayTone { day: d.0.into(), negative: d.2, positive: d.3, complaint: 0 })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_chart_keeps_empty_days_and_goes_weekly_over_long_spans() {
        let (b, weekly) = bars(&facets(&[("2026-11-02", 5, 2, 1), ("2026-11-05", 3, 0, 3)]));
        assert!(!weekly);
        assert_eq!(b.len(), 4, "2, 3, 4 and 5 November: {b:?}");
        assert_eq!((b[0].total, b[0].negative, b[0].positive), (5, 2, 1));
        assert_eq!((b[1].total, b[2].total, b[3].total, b[3].positive), (0, 0, 3, 3));
        // 2 November 2026 is a Monday; 100 days later the chart is by week.
        let (b, weekly) = bars(&facets(&[("2026-11-02", 5, 2, 1), ("2026-11-04", 1, 1, 0), ("2027-02-10", 4, 0, 0)]));
        assert!(weekly);
        assert_eq!(b[0].from.to_string(), "2026-11-02");
        assert_eq!((b[0].total, b[0].negative), (6, 3), "a week sums its days");
        assert_eq!(b.last().unwrap().from.to_string(), "2027-02-08");
        assert_eq!(b.iter().map(|x| x.total).sum::<u64>(), 10);
        assert_eq!(bars(&facets(&[])).0.len(), 0);
    }

    #[test]
    fn filters_write_themselves_into_the_query() {
        assert_eq!(and("", "topic:water"), "topic:water");
        assert_eq!(and("вода OR газ", "topic:water"), "(вода OR газ) topic:water");
        assert_eq!(filter_term("place", "Величаевское"), "place:Величаевское");
        assert_eq!(filter_term("place", "Новая Николаевка"), "place:\"Новая Николаевка\"");
        assert_eq!(filter_term("source", "tg-velichaevka"), "source:tg-velichaevka");
        assert_eq!(filter_term("source", "a\"b c"), "source:\"ab c\"");
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(period_term(today, 1), "date:>=2026-12-07");
        assert_eq!(period_term(today, 7), "date:>=2026-12-01");
        assert_eq!(period_term(today, 30), "date:>=2026-11-08");
    }
}
