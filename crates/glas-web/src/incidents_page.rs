//! Incidents: the list (`/incidents`, filters by status, service, overdue),
//! the card (`/incidents/{id}`: mentions, deadlines, public answer, history,
//! the actions the role allows) and the JSON API (`/api/incidents`). Analysts
//! and administrators change any incident; a `service` account sees and
//! changes only its own service's; a viewer reads. Every change is one
//! transaction of the incident store and a line of the audit log.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, Utc};
use glas_core::Severity;
use glas_core::ru::escape_html as esc;
use glas_incidents::{Actor, Change, Evidence, Filter, Incident, IncidentError, Incidents, STATUSES, Status};
use serde::Deserialize;

use crate::accounts::{Principal, Role};
use crate::page::{layout, message_html, url_path};
use crate::{ApiError, ApiResult, AppState};

/// Longest comment or reason kept.
const MAX_TEXT_CHARS: usize = 2000;

fn actor(p: &Principal) -> Actor {
    Actor { name: p.name.clone(), service: if p.role == Role::Service { p.service.clone() } else { None } }
}

/// Whether the principal may change incidents (its own, for a service).
fn may_change(p: &Principal) -> bool {
    p.role == Role::Service || p.role >= Role::Analyst
}

/// Whether the principal may see this incident.
fn may_see(p: &Principal, i: &Incident) -> bool {
    p.role != Role::Service || p.service.as_deref() == Some(i.service.as_str())
}

fn store(st: &AppState) -> Result<&Arc<Incidents>, ApiError> {
    st.incidents.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "incidents_off",
            "the pipeline has no [incidents] or [[routing]]",
            "инциденты не настроены: в конвейере нет [[routing]]",
        )
    })
}

fn api_error(e: IncidentError) -> ApiError {
    match e {
        IncidentError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string(), e.to_string()),
        IncidentError::Forbidden(_) => {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "the incident belongs to another service", e.to_string())
        }
        IncidentError::Invalid(m) => ApiError::bad_request(m.clone(), m),
        e => ApiError::internal(e),
    }
}

fn when(st: &AppState, t: DateTime<Utc>) -> String {
    t.with_timezone(&st.tz).format("%d.%m.%Y %H:%M").to_string()
}

fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let m = (to - from).num_minutes().max(0);
    if m < 120 { format!("{m} мин") } else { format!("{:.1} ч", m as f64 / 60.0) }
}

fn severity_ru(s: Severity) -> &'static str {
    match s {
        Severity::High => "высокая",
        Severity::Medium => "средняя",
        Severity::Low => "низкая",
    }
}

fn parse_severity(s: &str) -> Option<Severity> {
    match s {
        "high" => Some(Severity::High),
        "medium" => Some(Severity::Medium),
        "low" => Some(Severity::Low),
        _ => None,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    #[serde(default)]
    status: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    overdue: String,
}

impl ListParams {
    fn filter(&self, p: &Principal) -> Result<Filter, String> {
        let status = match self.status.as_str() {
            "" => None,
            s => Some(Status::parse(s).ok_or_else(|| format!("неизвестный статус «{s}»"))?),
        };
        let service = match (&p.service, p.role) {
            (Some(own), Role::Service) => Some(own.clone()),
            _ => Some(self.service.trim().to_string()).filter(|s| !s.is_empty()),
        };
        let overdue = matches!(self.overdue.as_str(), "1" | "true" | "on" | "yes");
        Ok(Filter { status, service, overdue, open: false })
    }
}

/// `/incidents`.
pub(crate) async fn list_page(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Response {
    let params = q.map(|Query(q)| q).unwrap_or_default();
    let Ok(inc) = store(&st) else {
        let body = "<h1>Инциденты</h1><p>Инциденты не настроены: добавьте в конвейер разделы <code>[incidents]</code> и \
<code>[[routing]]</code> (см. README).</p>";
        return Html(layout("Инциденты", Some(&p), body)).into_response();
    };
    let now = Utc::now();
    let (filter, error) = match params.filter(&p) {
        Ok(f) => (f, None),
        Err(e) => (Filter::default(), Some(e)),
    };
    let list = match inc.list(&filter, now) {
        Ok(l) => l,
        Err(e) => {
            let body = format!(
                "<h1>Инциденты</h1><p class=\"error\">Не удалось прочитать инциденты: {}</p>",
                esc(&e.to_string())
            );
            return (StatusCode::INTERNAL_SERVER_ERROR, Html(layout("Инциденты", Some(&p), &body))).into_response();
        }
    };
    let mut h = String::from("<h1>Инциденты</h1>");
    if let Some(e) = error {
        message_html(&mut h, Some(Err(e)));
    }
    let open = list.iter().filter(|i| !i.status.closed() && i.merged_into.is_none()).count();
    let overdue = list.iter().filter(|i| i.overdue(now).is_some()).count();
    let _ = write!(
        h,
        "<p class=\"muted\">Показано {}: открытых {open}, просроченных {overdue}. Инцидент — одна проблема в одном месте; \
он создаётся из каждого тревожного эпизода и аналитиком из публикаций.</p>",
        list.len()
    );
    // Filters: written into the address, as the search does.
    h.push_str("<form method=\"get\" action=\"/incidents\" class=\"filters\"><label>Статус <select name=\"status\"><option value=\"\">любой</option>");
    for s in STATUSES {
        let sel = if filter.status == Some(s) { " selected" } else { "" };
        let _ = write!(h, "<option value=\"{}\"{sel}>{}</option>", s.as_str(), s.label_ru());
    }
    h.push_str("</select></label>");
    if p.role != Role::Service {
        h.push_str(" <label>Служба <select name=\"service\"><option value=\"\">любая</option>");
        for s in inc.services() {
            let sel = if filter.service.as_deref() == Some(s.as_str()) { " selected" } else { "" };
            let _ = write!(h, "<option{sel}>{}</option>", esc(&s));
        }
        h.push_str("</select></label>");
    }
    let checked = if filter.overdue { " checked" } else { "" };
    let _ = write!(
        h,
        " <label><input type=\"checkbox\" name=\"overdue\" value=\"1\"{checked}> только просроченные</label> \
<button>Показать</button></form>"
    );
    if list.is_empty() {
        h.push_str("<p>Инцидентов нет.</p>");
    } else {
        h.push_str(
            "<table class=\"incidents\"><thead><tr><th>№</th><th>Проблема</th><th>Служба</th><th>Статус</th>\
<th>Серьёзность</th><th>Первая жалоба</th><th>Публикаций</th><th>Сроки</th></tr></thead><tbody>",
        );
        for i in &list {
            let late = i.overdue(now);
            let deadline = match late {
                Some(o) => format!("<span class=\"overdue\">{}</span>", o.label_ru()),
                None if i.status.closed() => "—".to_string(),
                None if i.reacted_at.is_none() => format!("реакция до {}", when(&st, i.reaction_due)),
                None => format!("решение до {}", when(&st, i.resolution_due)),
            };
            let public = if i.answered_publicly() {
                " <span class=\"badge\">ответ опубликован</span>"
            } else {
                ""
            };
            let row_class = if late.is_some() { " class=\"late\"" } else { "" };
            let _ = write!(
                h,
                "<tr{row_class}><td>{id}</td><td><a href=\"/incidents/{id}\">{}</a>{public}</td><td>{}</td><td>{}</td>\
<td>{}</td><td>{}</td><td>{}</td><td>{deadline}</td></tr>",
                esc(&i.title),
                esc(&i.service),
                i.status.label_ru(),
                severity_ru(i.severity),
                when(&st, i.first_complaint_at),
                i.mentions,
                id = i.id,
            );
        }
        h.push_str("</tbody></table>");
    }
    Html(layout("Инциденты", Some(&p), &h)).into_response()
}

/// `/incidents/{id}`.
pub(crate) async fn card_page(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    card_view(&st, &p, &id, None, StatusCode::OK)
}

fn card_view(
    st: &AppState,
    p: &Principal,
    id: &str,
    message: Option<Result<String, String>>,
    status: StatusCode,
) -> Response {
    let not_found = |p: &Principal| {
        let body = format!(
            "<h1>Инцидент не найден</h1><p>Нет инцидента №{}.</p><p><a href=\"/incidents\">Все инциденты</a></p>",
            esc(id)
        );
        (StatusCode::NOT_FOUND, Html(layout("Инцидент не найден", Some(p), &body))).into_response()
    };
    let Ok(inc) = store(st) else { return not_found(p) };
    let Ok(id) = id.parse::<i64>() else { return not_found(p) };
    let loaded = inc.get(id).and_then(|i| Ok((i, inc.mentions(id)?, inc.history(Some(id))?)));
    let (i, mentions, history) = match loaded {
        Ok((Some(i), m, h)) => (i, m, h),
        Ok((None, _, _)) => return not_found(p),
        Err(e) => {
            let body = format!("<h1>Инцидент</h1><p class=\"error\">{}</p>", esc(&e.to_string()));
            return (StatusCode::INTERNAL_SERVER_ERROR, Html(layout("Инцидент", Some(p), &body))).into_response();
        }
    };
    if !may_see(p, &i) {
        let body = "<h1>Нет доступа</h1><p>Этот инцидент у другой службы.</p>";
        return (StatusCode::FORBIDDEN, Html(layout("Нет доступа", Some(p), body))).into_response();
    }
    let now = Utc::now();
    let mut h =
        format!("<p><a href=\"/incidents\">← Все инциденты</a></p><h1>Инцидент №{} — {}</h1>", i.id, esc(&i.title));
    message_html(&mut h, message);
    if let Some(o) = i.overdue(now) {
        let _ = write!(h, "<p class=\"error\" role=\"alert\">Просрочен: {}.</p>", o.label_ru());
    }
    let mut facts: Vec<(&str, String)> = vec![
        ("Служба", esc(&i.service)),
        ("Статус", i.status.label_ru().to_string()),
        ("Серьёзность", severity_ru(i.severity).to_string()),
        ("Первая жалоба", when(st, i.first_complaint_at)),
        ("Последняя жалоба", when(st, i.last_complaint_at)),
        ("Создан", when(st, i.created_at)),
    ];
    let reaction = match i.reacted_at {
        Some(r) => format!(
            "{} — через {} после первой жалобы{}",
            when(st, r),
            hours(i.first_complaint_at, r),
            if r <= i.reaction_due { ", в срок" } else { ", с опозданием" }
        ),
        None => format!("нет; срок — {}", when(st, i.reaction_due)),
    };
    facts.push(("Первая реакция", reaction));
    facts.push((
        "Решение",
        match i.resolved_at {
            Some(r) => format!("{} — через {} после первой жалобы", when(st, r), hours(i.first_complaint_at, r)),
            None => format!("срок — {}", when(st, i.resolution_due)),
        },
    ));
    if let (Some(url), Some(t)) = (&i.public_answer_url, i.public_answer_at) {
        facts.push((
            "Публичный ответ",
            format!(
                "<a href=\"{}\" rel=\"noreferrer\">{}</a> — через {} после первой жалобы",
                esc(url),
                when(st, t),
                hours(i.first_complaint_at, t)
            ),
        ));
    }
    if let Some(d) = i.postponed_until {
        facts.push(("Отложен до", d.format("%d.%m.%Y").to_string()));
    }
    if let Some(r) = &i.reason {
        facts.push(("Причина", esc(r)));
    }
    if i.repeats > 0 {
        facts.push(("Повторные жалобы", i.repeats.to_string()));
    }
    if let Some(into) = i.merged_into {
        facts.push(("Объединён с", format!("<a href=\"/incidents/{into}\">№{into}</a>")));
    }
    if let Some(ep) = &i.episode {
        let opened = ep
            .rsplit_once('@')
            .and_then(|(_, t)| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(String::new, |t| format!(" от {}", when(st, t.with_timezone(&Utc))));
        facts.push(("Эпизод", format!("<a href=\"/signals\">тревожный эпизод{opened}</a>")));
    }
    h.push_str("<table class=\"facts\">");
    for (k, v) in &facts {
        let _ = write!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    h.push_str("</table>");

    let can_change = may_change(p) && i.merged_into.is_none();
    let analyst = p.role >= Role::Analyst;
    if can_change {
        actions_html(&mut h, st, p, &i, now);
    }

    let _ = write!(h, "<h2>Публикации ({})</h2>", mentions.len());
    let split = can_change && analyst && mentions.len() > 1;
    if split {
        let _ = write!(
            h,
            "<form method=\"post\" action=\"/incidents/{}\"><input type=\"hidden\" name=\"action\" value=\"split\">{}",
            i.id,
            csrf(p)
        );
    }
    h.push_str("<ul class=\"evidence\">");
    for m in &mentions {
        let pick = if split {
            format!("<input type=\"checkbox\" name=\"mentions\" value=\"{}\" aria-label=\"выделить\"> ", esc(&m.id))
        } else {
            String::new()
        };
        let card = if p.role >= Role::Viewer {
            format!(" <a href=\"/mentions/{}\">карточка</a>", url_path(&m.id))
        } else {
            String::new()
        };
        let link = if m.url.is_empty() {
            String::new()
        } else {
            format!(" <a href=\"{}\" rel=\"noreferrer\">источник</a>", esc(&m.url))
        };
        let _ = write!(
            h,
            "<li>{pick}<span class=\"muted\">{} · {}</span> {}{card}{link}</li>",
            when(st, m.published_at),
            esc(&m.source),
            esc(&m.snippet)
        );
    }
    h.push_str("</ul>");
    if split {
        h.push_str("<button>Выделить отмеченные в новый инцидент</button></form>");
    }

    h.push_str("<h2>История</h2><table class=\"history\"><thead><tr><th>Когда</th><th>Кто</th><th>Что</th><th>Статус</th><th>Комментарий</th></tr></thead><tbody>");
    for e in history.iter().rev() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            when(st, e.at),
            esc(&e.who),
            esc(&describe(e)),
            e.status.label_ru(),
            esc(e.comment.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</tbody></table>");
    (status, Html(layout(&format!("Инцидент №{}", i.id), Some(p), &h))).into_response()
}

fn csrf(p: &Principal) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(p.csrf.as_deref().unwrap_or("")))
}

/// What a history line did, in words.
fn describe(e: &glas_incidents::HistoryEntry) -> String {
    let s = |k: &str| e.data.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let status_ru = |k: &str| Status::parse(&s(k)).map_or_else(|| s(k), |x| x.label_ru().to_string());
    match e.action.as_str() {
        "created" => match s("origin").as_str() {
            "episode" => "создан из тревожного эпизода".into(),
            "split" => "выделен из другого инцидента".into(),
            _ => "создан аналитиком".into(),
        },
        "assigned" => format!("передан службе «{}»", s("service")),
        "status" => {
            let mut t = format!("статус: {} → {}", status_ru("from"), status_ru("to"));
            if !s("reason").is_empty() {
                let _ = write!(t, "; причина: {}", s("reason"));
            }
            if !s("until").is_empty() {
                let _ = write!(t, "; вернуться {}", s("until"));
            }
            t
        }
        "mention_added" => {
            if e.data.get("repeat").and_then(|v| v.as_bool()) == Some(true) {
                "повторная жалоба".into()
            } else {
                "новая жалоба".into()
            }
        }
        "reopened" => "возобновлён: жалоба после решения".into(),
        "public_answer" => format!("публичный ответ: {}", s("url")),
        "reminder" => format!("напоминание службе: {}", deadline_ru(&s("deadline"))),
        "overdue" => format!("просрочено ({}) — сообщено главе", deadline_ru(&s("deadline"))),
        "severity" => {
            let ru = |k: &str| parse_severity(&s(k)).map_or_else(|| s(k), |x| severity_ru(x).to_string());
            format!("серьёзность: {} → {}", ru("from"), ru("to"))
        }
        "merged" => format!("объединён с №{}", e.data.get("into").and_then(|v| v.as_i64()).unwrap_or_default()),
        "absorbed" => format!("принял публикации №{}", e.data.get("from").and_then(|v| v.as_i64()).unwrap_or_default()),
        "split" => {
            format!("часть публикаций выделена в №{}", e.data.get("to").and_then(|v| v.as_i64()).unwrap_or_default())
        }
        "returned" => "срок переноса истёк: снова в работе".into(),
        "episode" => "связан с тревожным эпизодом".into(),
        "comment" => "комментарий".into(),
        other => other.to_string(),
    }
}

fn deadline_ru(d: &str) -> &'static str {
    if d == "reaction" { "первая реакция" } else { "решение" }
}

fn actions_html(h: &mut String, st: &AppState, p: &Principal, i: &Incident, now: DateTime<Utc>) {
    let allowed: Vec<Status> = STATUSES.into_iter().filter(|s| i.status.may_become(*s)).collect();
    let tomorrow = (now.with_timezone(&st.tz).date_naive() + chrono::Duration::days(1)).format("%Y-%m-%d");
    h.push_str("<h2>Действия</h2><div class=\"actions\">");
    if !allowed.is_empty() {
        let _ = write!(
            h,
            "<form method=\"post\" action=\"/incidents/{id}\" class=\"card\">{csrf}<input type=\"hidden\" name=\"action\" value=\"status\">\
<label>Новый статус <select name=\"status\">",
            id = i.id,
            csrf = csrf(p)
        );
        for s in &allowed {
            let _ = write!(h, "<option value=\"{}\">{}</option>", s.as_str(), s.label_ru());
        }
        let _ = write!(
            h,
            "</select></label><label>Комментарий <textarea name=\"comment\" rows=\"2\"></textarea></label>\
<label>Причина (для «отложен» и «отклонён») <input name=\"reason\"></label>\
<label>Вернуться к инциденту (для «отложен») <input type=\"date\" name=\"until\" min=\"{tomorrow}\"></label>\
<button>Сменить статус</button></form>"
        );
    }
    let _ = write!(
        h,
        "<form method=\"post\" action=\"/incidents/{id}\" class=\"card\">{csrf}<input type=\"hidden\" name=\"action\" value=\"comment\">\
<label>Комментарий <textarea name=\"comment\" rows=\"2\"></textarea></label><button>Добавить комментарий</button></form>",
        id = i.id,
        csrf = csrf(p)
    );
    if p.role >= Role::Analyst {
        if let Some(inc) = &st.incidents {
            let _ = write!(
                h,
                "<form method=\"post\" action=\"/incidents/{id}\" class=\"card\">{csrf}<input type=\"hidden\" name=\"action\" value=\"assign\">\
<label>Передать службе <select name=\"service\">",
                id = i.id,
                csrf = csrf(p)
            );
            for s in inc.services().iter().filter(|s| **s != i.service) {
                let _ = write!(h, "<option>{}</option>", esc(s));
            }
            h.push_str("</select></label><button>Передать</button></form>");
        }
        let _ = write!(
            h,
            "<form method=\"post\" action=\"/incidents/{id}\" class=\"card\">{csrf}<input type=\"hidden\" name=\"action\" value=\"merge\">\
<label>Объединить с инцидентом № <input name=\"into\" inputmode=\"numeric\" size=\"6\"></label><button>Объединить</button></form>",
            id = i.id,
            csrf = csrf(p)
        );
    }
    h.push_str("</div>");
}

/// A change from the card's forms (and the API's JSON).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChangeForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    into: String,
    /// Split: the mentions to move (form: repeated field; JSON: a list).
    #[serde(default)]
    mentions: Vec<String>,
}

impl ChangeForm {
    fn change(&self) -> Result<Change, String> {
        let opt = |s: &str| Some(s.trim().to_string()).filter(|x| !x.is_empty());
        for (name, v) in [("комментарий", &self.comment), ("причина", &self.reason)] {
            if v.chars().count() > MAX_TEXT_CHARS {
                return Err(format!("{name} длиннее {MAX_TEXT_CHARS} символов"));
            }
        }
        match self.action.as_str() {
            "status" => {
                let to =
                    Status::parse(self.status.trim()).ok_or_else(|| format!("неизвестный статус «{}»", self.status))?;
                let until = match self.until.trim() {
                    "" => None,
                    d => Some(
                        NaiveDate::parse_from_str(d, "%Y-%m-%d")
                            .map_err(|_| format!("дата «{d}» не в виде ГГГГ-ММ-ДД"))?,
                    ),
                };
                Ok(Change::Status { to, comment: opt(&self.comment), reason: opt(&self.reason), until })
            }
            "assign" => Ok(Change::Assign { service: self.service.trim().to_string(), comment: opt(&self.comment) }),
            "comment" => Ok(Change::Comment { text: self.comment.clone() }),
            "merge" => {
                let into = self
                    .into
                    .trim()
                    .trim_start_matches('№')
                    .trim()
                    .parse()
                    .map_err(|_| format!("«{}» — не номер инцидента", self.into))?;
                Ok(Change::Merge { into })
            }
            "split" => Ok(Change::Split { mentions: self.mentions.clone() }),
            "" => Err("не указано действие (action)".into()),
            a => Err(format!("неизвестное действие «{a}» (status, assign, comment, merge, split)")),
        }
    }
}

/// The form body with repeated `mentions` fields, which `Form` alone would
/// not gather into a list.
fn parse_form(body: &[u8]) -> ChangeForm {
    let mut f = ChangeForm::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "action" => f.action = v,
            "status" => f.status = v,
            "comment" => f.comment = v,
            "reason" => f.reason = v,
            "until" => f.until = v,
            "service" => f.service = v,
            "into" => f.into = v,
            "mentions" => f.mentions.push(v),
            _ => {}
        }
    }
    f
}

/// `POST /incidents/{id}`: a change from the card.
pub(crate) async fn change_page(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !may_change(&p) {
        return card_view(
            &st,
            &p,
            &id,
            Some(Err("Ваша роль позволяет только смотреть инциденты.".into())),
            StatusCode::FORBIDDEN,
        );
    }
    let form = parse_form(&body);
    let Ok(n) = id.parse::<i64>() else { return card_view(&st, &p, &id, None, StatusCode::NOT_FOUND) };
    let change = match form.change() {
        Ok(c) => c,
        Err(e) => return card_view(&st, &p, &id, Some(Err(e)), StatusCode::BAD_REQUEST),
    };
    let Ok(inc) = store(&st) else { return card_view(&st, &p, &id, None, StatusCode::NOT_FOUND) };
    match inc.change(n, &actor(&p), &change, Utc::now()) {
        Ok(_) => {
            audit(&st, &p, n, &form);
            Redirect::to(&format!("/incidents/{n}")).into_response()
        }
        Err(e @ IncidentError::NotFound(_)) => card_view(&st, &p, &id, Some(Err(e.to_string())), StatusCode::NOT_FOUND),
        Err(e @ IncidentError::Forbidden(_)) => {
            card_view(&st, &p, &id, Some(Err(e.to_string())), StatusCode::FORBIDDEN)
        }
        Err(IncidentError::Invalid(m)) => card_view(&st, &p, &id, Some(Err(m)), StatusCode::BAD_REQUEST),
        Err(e) => card_view(
            &st,
            &p,
            &id,
            Some(Err(format!("Изменение не сохранено: {e}"))),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    }
}

fn audit(st: &AppState, p: &Principal, id: i64, f: &ChangeForm) {
    st.accounts.record(
        &p.name,
        "incident_changed",
        serde_json::json!({"incident": id, "action": f.action, "status": f.status, "service": f.service,
                           "into": f.into, "mentions": f.mentions}),
        p.ip.clone(),
    );
}

/// An incident made from mentions: the mention card's form and the API.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewIncident {
    #[serde(default)]
    mentions: Vec<String>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    place: Option<String>,
    #[serde(default)]
    severity: Option<String>,
}

fn parse_new(body: &[u8]) -> NewIncident {
    let mut f = NewIncident::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "mentions" | "mention" => {
                f.mentions.extend(v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
            }
            "topic" => f.topic = Some(v).filter(|s| !s.is_empty()),
            "place" => f.place = Some(v).filter(|s| !s.is_empty()),
            "severity" => f.severity = Some(v).filter(|s| !s.is_empty()),
            _ => {}
        }
    }
    f
}

/// Creates an incident from stored mentions; its topic and place default to
/// the first mention's.
async fn create(st: &Arc<AppState>, p: &Principal, f: NewIncident) -> ApiResult<i64> {
    if p.role < Role::Analyst {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "analysts create incidents",
            "инциденты создаёт аналитик",
        ));
    }
    let inc = store(st)?.clone();
    if f.mentions.is_empty() {
        return Err(ApiError::bad_request("name one or more mentions", "укажите одну или несколько публикаций"));
    }
    if f.mentions.len() > 500 {
        return Err(ApiError::bad_request("at most 500 mentions at once", "не больше 500 публикаций за раз"));
    }
    let severity = match f.severity.as_deref() {
        None => Severity::Medium,
        Some(s) => parse_severity(s).ok_or_else(|| {
            ApiError::bad_request(
                format!("unknown severity {s:?}"),
                format!("неизвестная серьёзность «{s}» (low, medium, high)"),
            )
        })?,
    };
    let store = st.store.clone();
    let ids = f.mentions.clone();
    let found = crate::blocking(st.limits.timeout, move || {
        let mut out = Vec::new();
        for id in &ids {
            match store.get(id)? {
                Some(m) => out.push(m),
                None => return Ok(Err(id.clone())),
            }
        }
        Ok(Ok(out))
    })
    .await?;
    let mentions =
        found.map_err(|id| ApiError::bad_request(format!("no mention {id:?}"), format!("нет публикации «{id}»")))?;
    let first = &mentions[0];
    let topic = f.topic.clone().or_else(|| first.topics.first().cloned());
    let place = f.place.clone().or_else(|| first.places.first().cloned());
    let evidence: Vec<Evidence> = mentions
        .iter()
        .map(|m| {
            let text = glas_incidents::titled(m.title.as_deref(), &m.text);
            Evidence {
                id: m.id.clone(),
                published_at: DateTime::parse_from_rfc3339(&m.published_at)
                    .map_or_else(|_| Utc::now(), |t| t.with_timezone(&Utc)),
                url: m.url.clone().unwrap_or_default(),
                source: m.source.clone(),
                snippet: glas_incidents::snippet(&text, glas_incidents::SNIPPET_CHARS),
            }
        })
        .collect();
    let id = inc
        .create(&actor(p), topic.as_deref(), place.as_deref(), severity, &evidence, Utc::now())
        .map_err(api_error)?;
    st.accounts.record(
        &p.name,
        "incident_created",
        serde_json::json!({"incident": id, "mentions": f.mentions}),
        p.ip.clone(),
    );
    Ok(id)
}

/// `POST /incidents`: the mention card's «Создать инцидент».
pub(crate) async fn create_page(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: axum::body::Bytes,
) -> Response {
    let f = parse_new(&body);
    let back = f.mentions.first().map(|m| format!("/mentions/{}", url_path(m)));
    match create(&st, &p, f).await {
        Ok(id) => Redirect::to(&format!("/incidents/{id}")).into_response(),
        Err(e) => {
            let link = back.map_or_else(String::new, |b| format!("<p><a href=\"{b}\">← К публикации</a></p>"));
            let body =
                format!("<h1>Инцидент не создан</h1><p class=\"error\" role=\"alert\">{}</p>{link}", esc(&e.reason_ru));
            (e.status, Html(layout("Инцидент не создан", Some(&p), &body))).into_response()
        }
    }
}

/// The form on a mention's card that makes an incident of it (analysts).
pub(crate) fn create_form(st: &AppState, p: &Principal, m: &glas_store::StoredMention) -> String {
    let Some(inc) = &st.incidents else { return String::new() };
    if p.role < Role::Analyst {
        return String::new();
    }
    if let Ok(Some(id)) = inc.incident_of(&m.id) {
        return format!("<p>Публикация входит в <a href=\"/incidents/{id}\">инцидент №{id}</a>.</p>");
    }
    let mut h = format!(
        "<form method=\"post\" action=\"/incidents\" class=\"card\" id=\"new-incident\"><h2>Создать инцидент</h2>{}\
<input type=\"hidden\" name=\"mentions\" value=\"{}\"><label>Тема <select name=\"topic\">",
        csrf(p),
        esc(&m.id)
    );
    for (code, name) in &st.topics {
        let sel = if m.topics.first() == Some(code) { " selected" } else { "" };
        let _ = write!(h, "<option value=\"{}\"{sel}>{}</option>", esc(code), esc(name));
    }
    h.push_str("</select></label><label>Место <select name=\"place\"><option value=\"\">весь округ</option>");
    for (n, pl) in m.places.iter().enumerate() {
        let sel = if n == 0 { " selected" } else { "" };
        let _ = write!(h, "<option{sel}>{}</option>", esc(pl));
    }
    h.push_str(
        "</select></label><label>Серьёзность <select name=\"severity\"><option value=\"low\">низкая</option>\
<option value=\"medium\" selected>средняя</option><option value=\"high\">высокая</option></select></label>\
<button>Создать и передать службе</button></form>",
    );
    h
}

// --- JSON API ---

/// `GET /api/incidents`.
pub(crate) async fn api_list(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    q: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(params) = q.map_err(crate::query_rejection)?;
    let inc = store(&st)?;
    let filter = params.filter(&p).map_err(|e| ApiError::bad_request(e.clone(), e))?;
    let now = Utc::now();
    let list = inc.list(&filter, now).map_err(api_error)?;
    let items: Vec<serde_json::Value> = list.iter().map(|i| incident_json(i, now)).collect();
    Ok(Json(serde_json::json!({"count": items.len(), "incidents": items})))
}

fn incident_json(i: &Incident, now: DateTime<Utc>) -> serde_json::Value {
    let mut v = serde_json::to_value(i).unwrap_or_default();
    v["overdue"] = serde_json::json!(i.overdue(now).map(|o| o.as_str()));
    v
}

/// `GET /api/incidents/{id}`: the incident, its mentions and its history.
pub(crate) async fn api_get(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    let inc = store(&st)?;
    let i = inc.get(id).map_err(api_error)?.ok_or_else(|| api_error(IncidentError::NotFound(id)))?;
    if !may_see(&p, &i) {
        return Err(api_error(IncidentError::Forbidden(id)));
    }
    let mentions = inc.mentions(id).map_err(api_error)?;
    let history = inc.history(Some(id)).map_err(api_error)?;
    let mut v = incident_json(&i, Utc::now());
    v["evidence"] = serde_json::to_value(mentions).unwrap_or_default();
    v["history"] = serde_json::to_value(history).unwrap_or_default();
    Ok(Json(v))
}

/// `POST /api/incidents`: `{"mentions": [...], "topic"?, "place"?, "severity"?}`.
pub(crate) async fn api_create(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Result<Json<NewIncident>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(f) =
        body.map_err(|e| ApiError::bad_request(format!("invalid JSON: {}", e.body_text()), "неверный JSON"))?;
    let id = create(&st, &p, f).await?;
    let i = store(&st)?.get(id).map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(i.map(|i| incident_json(&i, Utc::now())))).into_response())
}

/// `POST /api/incidents/{id}`: `{"action": "status"|"assign"|"comment"|"merge"|"split", ...}`.
pub(crate) async fn api_change(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    if !may_change(&p) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role may only read incidents",
            "ваша роль позволяет только смотреть инциденты",
        ));
    }
    let Json(v) =
        body.map_err(|e| ApiError::bad_request(format!("invalid JSON: {}", e.body_text()), "неверный JSON"))?;
    let text = |k: &str| match v.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let form = ChangeForm {
        action: text("action"),
        status: text("status"),
        comment: text("comment"),
        reason: text("reason"),
        until: text("until"),
        service: text("service"),
        into: text("into"),
        mentions: v
            .get("mentions")
            .and_then(|m| m.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
    };
    let change = form.change().map_err(|e| ApiError::bad_request(e.clone(), e))?;
    let inc = store(&st)?;
    let i = inc.change(id, &actor(&p), &change, Utc::now()).map_err(api_error)?;
    audit(&st, &p, id, &form);
    Ok(Json(incident_json(&i, Utc::now())))
}
