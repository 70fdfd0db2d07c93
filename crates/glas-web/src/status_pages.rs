//! `/sources` (the source-health ledger, silent and failing first) and
//! `/reports` (every weekly report: HTML to view, PDF and XLSX to download,
//! and a week made on demand). The stages behind them belong to the CLI
//! crate, which hands them over as [`Stages`].

use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use glas_analytics::health::{SourceHealth, Status};
use glas_core::ru::escape_html as esc;
use serde::Deserialize;

use crate::AppState;
use crate::accounts::{Principal, Role};
use crate::page::layout;

/// What the workspace shows but does not compute itself: `glas serve`
/// composes the stages (the pipeline's sources, the report builder).
pub trait Stages: Send + Sync {
    /// The source-health ledger as of now.
    fn source_health(&self) -> Result<Vec<SourceHealth>, String>;
    /// Writes the weekly report of an ISO week ("2026-W48") to
    /// `DATA/reports/`.
    fn weekly_report(&self, week: &str) -> Result<(), String>;
    /// The media plan of `[from, to]` against the own channels, as of
    /// `today`, how the media carried the own publications of those days, and
    /// how they were received (with the image index of the week from `from`).
    fn own_voice(
        &self,
        _from: chrono::NaiveDate,
        _to: chrono::NaiveDate,
        _today: chrono::NaiveDate,
    ) -> Result<(glas_voice::PlanFact, Vec<glas_voice::Pickup>, glas_report::OwnVoice), String> {
        Err("медиаплан недоступен: сервер запущен без конфигурации".into())
    }
    /// The own channels (`own = true` sources) as (id, name).
    fn own_channels(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// A status in Russian, and the class that colours it.
pub(crate) fn status_ru(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Failing => ("ошибки", "bad"),
        Status::Silent => ("молчит", "warn"),
        Status::New => ("ещё не опрашивался", ""),
        Status::Ok => ("работает", "good"),
    }
}

fn unavailable(who: &Principal, title: &str, why: &str) -> Response {
    let body = format!("<h1>{}</h1><p class=\"error\">{}</p>", esc(title), esc(why));
    (StatusCode::SERVICE_UNAVAILABLE, Html(layout(title, Some(who), &body))).into_response()
}

pub(crate) async fn sources_page(State(st): State<Arc<AppState>>, Extension(who): Extension<Principal>) -> Response {
    let Some(stages) = st.stages.clone() else {
        return unavailable(&who, "Источники", "Сервер запущен без конфигурации источников.");
    };
    let ledger = match tokio::task::spawn_blocking(move || stages.source_health()).await {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return unavailable(&who, "Источники", &format!("Не удалось собрать сведения: {e}")),
        Err(e) => return unavailable(&who, "Источники", &e.to_string()),
    };
    let mut rows: Vec<&SourceHealth> = ledger.iter().collect();
    let rank = |s: Status| match s {
        Status::Failing => 0,
        Status::Silent => 1,
        Status::New => 2,
        Status::Ok => 3,
    };
    rows.sort_by(|a, b| rank(a.status).cmp(&rank(b.status)).then_with(|| a.name.cmp(&b.name)));
    let flagged = rows.iter().filter(|r| matches!(r.status, Status::Failing | Status::Silent)).count();
    let new = rows.iter().filter(|r| r.status == Status::New).count();
    let tz = st.tz;
    let local = |t: &str| crate::page::local_time(&st, t);
    let mut h = format!(
        "<h1>Источники</h1><p>{} {}; {}.</p>",
        rows.len(),
        glas_core::ru::plural(rows.len() as u64, "источник", "источника", "источников"),
        match (flagged, new) {
            (0, 0) => "все работают".to_string(),
            (0, n) => format!("ещё не опрашивались: {n}, остальные работают"),
            (f, _) => format!("требуют внимания: {f}"),
        }
    );
    h.push_str(
        "<table class=\"ledger\"><thead><tr><th>Источник</th><th>Состояние</th><th>Последний успешный опрос</th>\
<th>Последняя публикация</th><th>В день (7 / 30 дней)</th><th>Ошибок подряд</th></tr></thead><tbody>",
    );
    for r in rows {
        let (status, class) = status_ru(r.status);
        let silent = match (r.status, r.silent_hours) {
            (Status::Silent, Some(hours)) => format!(" — {:.0} ч без публикаций", hours),
            _ => String::new(),
        };
        let _ = write!(
            h,
            "<tr class=\"{class}\"><td>{}<div class=\"meta\">{} · {}</div></td><td>{}{}</td><td>{}</td><td>{}</td>\
<td>{:.1} / {:.1}</td><td>{}</td></tr>",
            esc(&r.name),
            esc(&r.id),
            esc(&r.kind),
            status,
            esc(&silent),
            r.last_success.as_deref().map_or("—".to_string(), local),
            r.last_mention.map_or("—".to_string(), |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()),
            r.per_day_7d,
            r.per_day_30d,
            r.consecutive_failures
        );
        if let Some(e) = r.last_error.as_deref().filter(|_| r.status != Status::Ok) {
            let _ = write!(
                h,
                "<tr class=\"{class}\"><td colspan=\"6\" class=\"meta\">Последняя ошибка: {}</td></tr>",
                esc(e)
            );
        }
    }
    h.push_str("</tbody></table>");
    Html(layout("Источники", Some(&who), &h)).into_response()
}

/// The weekly reports in `DATA/reports/`, newest week first: (week, the
/// formats present).
fn reports(st: &AppState) -> Vec<(String, Vec<&'static str>)> {
    let mut weeks: std::collections::BTreeMap<String, Vec<&'static str>> = Default::default();
    let Ok(dir) = std::fs::read_dir(st.data_dir.join("reports")) else { return Vec::new() };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some((week, ext)) = report_file(&name) {
            weeks.entry(week.to_string()).or_default().push(ext);
        }
    }
    let mut out: Vec<(String, Vec<&'static str>)> = weeks.into_iter().collect();
    out.reverse();
    for (_, exts) in &mut out {
        exts.sort_by_key(|e| ["html", "pdf", "xlsx"].iter().position(|x| x == e));
    }
    out
}

/// `weekly-2026-W48.pdf` → ("2026-W48", "pdf"); anything else → None (so
/// no other file of the data folder can be asked for).
fn report_file(name: &str) -> Option<(&str, &'static str)> {
    let rest = name.strip_prefix("weekly-")?;
    let (week, ext) = rest.rsplit_once('.')?;
    let ext = ["html", "pdf", "xlsx"].into_iter().find(|e| *e == ext)?;
    let ok = week.len() == 8
        && week.as_bytes()[4] == b'-'
        && week.as_bytes()[5] == b'W'
        && week[..4].bytes().all(|b| b.is_ascii_digit())
        && week[6..].bytes().all(|b| b.is_ascii_digit());
    ok.then_some((week, ext))
}

pub(crate) async fn reports_page(State(st): State<Arc<AppState>>, Extension(who): Extension<Principal>) -> Response {
    reports_view(&st, &who, None, StatusCode::OK)
}

fn reports_view(
    st: &AppState,
    who: &Principal,
    message: Option<Result<String, String>>,
    status: StatusCode,
) -> Response {
    let mut h = String::from("<h1>Отчёты</h1>");
    crate::page::message_html(&mut h, message);
    let list = reports(st);
    if list.is_empty() {
        h.push_str("<p>Отчётов ещё нет: сервис пишет еженедельный отчёт по расписанию.</p>");
    } else {
        h.push_str("<table><thead><tr><th>Неделя</th><th>Файлы</th></tr></thead><tbody>");
        for (week, exts) in &list {
            let links: Vec<String> = exts
                .iter()
                .map(|e| {
                    let label = match *e {
                        "html" => "открыть",
                        "pdf" => "PDF для печати",
                        _ => "XLSX с таблицами",
                    };
                    format!("<a href=\"/reports/weekly-{}.{e}\">{label}</a>", esc(week))
                })
                .collect();
            let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(week), links.join(" · "));
        }
        h.push_str("</tbody></table>");
    }
    if who.role >= Role::Analyst && st.stages.is_some() {
        let this_week = {
            let today = Utc::now().with_timezone(&st.tz).date_naive();
            let w = chrono::Datelike::iso_week(&today);
            format!("{}-W{:02}", w.year(), w.week())
        };
        let _ = write!(
            h,
            "<h2>Отчёт за неделю сейчас</h2><form method=\"post\" action=\"/reports\" class=\"stack\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><label for=\"week\">Неделя (ГГГГ-Wнн)</label>\
<input id=\"week\" name=\"week\" value=\"{this_week}\" pattern=\"[0-9]{{4}}-W[0-9]{{2}}\" required>\
<button>Сделать отчёт</button></form>",
            esc(who.csrf.as_deref().unwrap_or(""))
        );
    }
    (status, Html(layout("Отчёты", Some(who), &h))).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct MakeReport {
    #[serde(default)]
    week: String,
}

pub(crate) async fn make_report(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    form: Result<Form<MakeReport>, axum::extract::rejection::FormRejection>,
) -> Response {
    let week = form.map(|Form(f)| f.week.trim().to_string()).unwrap_or_default();
    if report_file(&format!("weekly-{week}.html")).is_none() {
        let msg = format!("«{week}» — не неделя: нужно как 2026-W48.");
        return reports_view(&st, &who, Some(Err(msg)), StatusCode::BAD_REQUEST);
    }
    let Some(stages) = st.stages.clone() else {
        return reports_view(
            &st,
            &who,
            Some(Err("Сервер запущен без конфигурации.".into())),
            StatusCode::SERVICE_UNAVAILABLE,
        );
    };
    let w = week.clone();
    match tokio::task::spawn_blocking(move || stages.weekly_report(&w)).await {
        Ok(Ok(())) => {
            st.accounts.record(&who.name, "report_made", serde_json::json!({"week": week}), who.ip.clone());
            Redirect::to("/reports").into_response()
        }
        Ok(Err(e)) => {
            reports_view(&st, &who, Some(Err(format!("Отчёт не сделан: {e}"))), StatusCode::INTERNAL_SERVER_ERROR)
        }
        Err(e) => reports_view(&st, &who, Some(Err(e.to_string())), StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// One report file: HTML shown in the browser, PDF and XLSX downloaded.
pub(crate) async fn report_file_get(State(st): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some((_, ext)) = report_file(&name) else {
        return (StatusCode::NOT_FOUND, "нет такого отчёта").into_response();
    };
    let path = st.data_dir.join("reports").join(&name);
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return (StatusCode::NOT_FOUND, "нет такого отчёта").into_response();
    };
    let (ctype, disposition) = match ext {
        "html" => ("text/html; charset=utf-8", "inline"),
        "pdf" => ("application/pdf", "attachment"),
        _ => ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "attachment"),
    };
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(crate::headers::REPORT_CSP));
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_report_files_can_be_asked_for() {
        assert_eq!(report_file("weekly-2026-W48.pdf"), Some(("2026-W48", "pdf")));
        for bad in
            ["weekly-2026-W48.sqlite", "../audit.jsonl", "weekly-../../x.html", "weekly-2026-48.html", "audit.jsonl"]
        {
            assert_eq!(report_file(bad), None, "{bad}");
        }
    }
}
