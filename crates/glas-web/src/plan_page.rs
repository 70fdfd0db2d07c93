//! `/plan`: the media plan of a week against what the administration's own
//! channels published — each planned item published, late, missing or still
//! to come, with its publication; what was published without a plan; how the
//! media picked the publications up and how residents received them (the
//! weekly report's own voice tables: engagement, comments, unanswered
//! questions, the pages' health, the image index and what moved it). Anyone
//! reads it; analysts add and remove rows (a whole plan is imported with
//! `glas plan import`).

use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate, Utc};
use glas_core::ru::escape_html as esc;
use glas_voice::{MediaPlan, PlanRow, State as Outcome};
use serde::Deserialize;

use crate::AppState;
use crate::accounts::{Principal, Role};
use crate::page::{layout, message_html};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WeekParam {
    #[serde(default)]
    week: String,
}

/// Monday and Sunday of an ISO week "2026-W48" (default: this week).
fn week_days(st: &AppState, week: &str) -> Option<(NaiveDate, String)> {
    let monday = if week.trim().is_empty() {
        let today = Utc::now().with_timezone(&st.tz).date_naive();
        today - Duration::days(chrono::Datelike::weekday(&today).num_days_from_monday() as i64)
    } else {
        let (y, w) = week.trim().split_once("-W")?;
        NaiveDate::from_isoywd_opt(y.parse().ok()?, w.parse().ok()?, chrono::Weekday::Mon)?
    };
    let iso = chrono::Datelike::iso_week(&monday);
    Some((monday, format!("{}-W{:02}", iso.year(), iso.week())))
}

pub(crate) async fn plan_page(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    q: Result<Query<WeekParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let week = q.map(|Query(w)| w.week).unwrap_or_default();
    plan_view(&st, &p, &week, None, StatusCode::OK).await
}

async fn plan_view(
    st: &Arc<AppState>,
    p: &Principal,
    week: &str,
    message: Option<Result<String, String>>,
    status: StatusCode,
) -> Response {
    let Some((monday, label)) = week_days(st, week) else {
        let body =
            format!("<h1>Медиаплан</h1><p class=\"error\">«{}» — не неделя (например, 2026-W48).</p>", esc(week));
        return (StatusCode::BAD_REQUEST, Html(layout("Медиаплан", Some(p), &body))).into_response();
    };
    let sunday = monday + Duration::days(6);
    let Some(stages) = st.stages.clone() else {
        let body = "<h1>Медиаплан</h1><p class=\"error\">Сервер запущен без конфигурации: медиаплан недоступен.</p>";
        return (StatusCode::SERVICE_UNAVAILABLE, Html(layout("Медиаплан", Some(p), body))).into_response();
    };
    let today = Utc::now().with_timezone(&st.tz).date_naive();
    let channels = stages.own_channels();
    let voice = tokio::task::spawn_blocking(move || stages.own_voice(monday, sunday, today))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let (fact, pickups, own) = match voice {
        Ok((fact, pickups, own)) => (Ok(fact), pickups, own),
        Err(e) => (Err(e), Vec::new(), Default::default()),
    };
    let mut h = format!("<h1>Медиаплан {label}</h1>");
    message_html(&mut h, message);
    let prev = (monday - Duration::days(7)).format("%G-W%V");
    let next = (monday + Duration::days(7)).format("%G-W%V");
    let _ = write!(
        h,
        "<p class=\"pager\"><a href=\"/plan?week={}\">← Предыдущая неделя</a> <a href=\"/plan?week={}\">Следующая →</a></p>",
        prev, next
    );
    if channels.is_empty() {
        h.push_str(
            "<p>Собственные каналы администрации не заданы: отметьте их в конфигурации (<code>own = true</code>).</p>",
        );
    }
    match fact {
        Err(e) => {
            let _ = write!(h, "<p class=\"error\">Не удалось сопоставить план с публикациями: {}</p>", esc(&e));
        }
        Ok(pf) => {
            let _ = write!(
                h,
                "<p>Запланировано {}: вышло в срок {}, с опозданием {}, не вышло {}, ожидается {}. Вне плана вышло: {}.</p>",
                pf.outcomes.len(),
                pf.count(Outcome::Published),
                pf.count(Outcome::Late),
                pf.count(Outcome::Missing),
                pf.count(Outcome::Upcoming),
                pf.unplanned.len()
            );
            if !pf.outcomes.is_empty() {
                h.push_str(
                    "<table class=\"plan\"><thead><tr><th>Когда</th><th>Канал</th><th>Материал</th><th>Ответственный</th>\
<th>Итог</th><th>Публикация</th>",
                );
                let analyst = p.role >= Role::Analyst;
                if analyst {
                    h.push_str("<th></th>");
                }
                h.push_str("</tr></thead><tbody>");
                for o in &pf.outcomes {
                    let r = &o.row;
                    let class = match o.state {
                        Outcome::Published => "good",
                        Outcome::Late => "warn",
                        Outcome::Missing => "bad",
                        Outcome::Upcoming => "",
                    };
                    let publication = o.publication.as_ref().map_or(String::new(), |p| {
                        let title: String = p.text.chars().take(80).collect();
                        format!(
                            "{} <a href=\"{}\" rel=\"noreferrer\">{}</a>",
                            p.day.format("%d.%m"),
                            esc(&p.url),
                            esc(&title)
                        )
                    });
                    let _ = write!(
                        h,
                        "<tr class=\"{class}\"><td>{when}</td><td>{}</td><td>{}</td><td>{}</td><td>{state}</td><td>{publication}</td>",
                        esc(if r.channel.is_empty() { "любой" } else { &r.channel }),
                        esc(&r.subject),
                        esc(&r.responsible),
                        when = r.days_label(),
                        state = o.state_ru(),
                    );
                    if analyst {
                        let _ = write!(
                            h,
                            "<td><form method=\"post\" action=\"/plan/{}/delete\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<input type=\"hidden\" name=\"week\" value=\"{label}\"><button>Удалить</button></form></td>",
                            r.id,
                            esc(p.csrf.as_deref().unwrap_or(""))
                        );
                    }
                    h.push_str("</tr>");
                }
                h.push_str("</tbody></table>");
            }
            if !pf.unplanned.is_empty() {
                h.push_str("<h2>Вышло вне плана</h2><ul class=\"plain\">");
                for u in &pf.unplanned {
                    let title: String = u.text.chars().take(100).collect();
                    let _ = write!(
                        h,
                        "<li>{} · {} · <a href=\"{}\" rel=\"noreferrer\">{}</a></li>",
                        u.day.format("%d.%m"),
                        esc(&u.source_name),
                        esc(&u.url),
                        esc(&title)
                    );
                }
                h.push_str("</ul>");
            }
        }
    }
    if !pickups.is_empty() {
        let carried: Vec<&glas_voice::Pickup> = pickups.iter().filter(|x| !x.carried.is_empty()).collect();
        let _ = write!(
            h,
            "<h2>Подхват СМИ</h2><p>СМИ подхватили {} из {} публикаций официальных каналов за неделю.</p>",
            carried.len(),
            pickups.len()
        );
        if !carried.is_empty() {
            h.push_str("<ul class=\"plain\">");
            for x in carried {
                let title: String = x.text.chars().take(90).collect();
                let who: Vec<String> = x
                    .carried
                    .iter()
                    .map(|c| {
                        format!(
                            "<a href=\"{}\" rel=\"noreferrer\">{}</a> ({}, через {:.1} ч)",
                            esc(&c.url),
                            esc(&c.source_name),
                            c.how.label_ru(),
                            c.delay_hours
                        )
                    })
                    .collect();
                let _ = write!(
                    h,
                    "<li>{} <a href=\"{}\" rel=\"noreferrer\">{}</a>: {}</li>",
                    x.published_at.with_timezone(&st.tz).format("%d.%m"),
                    esc(&x.url),
                    esc(&title),
                    who.join("; ")
                );
            }
            h.push_str("</ul>");
        }
    }
    let blocks = glas_report::model::own_voice_blocks(&own);
    if !blocks.is_empty() {
        h.push_str("<h2 id=\"reaction\">Отклик жителей и имидж</h2>");
        for b in &blocks {
            match b {
                glas_report::model::Block::Para(text) => {
                    let _ = write!(h, "<p>{}</p>", esc(text));
                }
                glas_report::model::Block::Table(t, _) => {
                    h.push_str("<table class=\"voice\"><thead><tr>");
                    for c in &t.header {
                        let _ = write!(h, "<th>{}</th>", esc(c));
                    }
                    h.push_str("</tr></thead><tbody>");
                    for row in &t.rows {
                        let bad = row.iter().any(|c| c.mark == glas_report::model::Mark::Bad);
                        h.push_str(if bad { "<tr class=\"bad\">" } else { "<tr>" });
                        for c in row {
                            let _ = write!(h, "<td>{}</td>", esc(&c.text));
                        }
                        h.push_str("</tr>");
                    }
                    h.push_str("</tbody></table>");
                }
            }
        }
    }
    if p.role >= Role::Analyst {
        let _ = write!(
            h,
            "<h2>Добавить в план</h2><form method=\"post\" action=\"/plan\" class=\"card\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"week\" value=\"{label}\">\
<label>С <input type=\"date\" name=\"from\" required value=\"{monday}\"></label>\
<label>По (для периода) <input type=\"date\" name=\"to\"></label><label>Канал <select name=\"channel\"><option value=\"\">любой официальный</option>",
            esc(p.csrf.as_deref().unwrap_or(""))
        );
        for (id, name) in &channels {
            let _ = write!(h, "<option value=\"{}\">{}</option>", esc(id), esc(name));
        }
        h.push_str("</select></label><label>Тема <select name=\"topic\"><option value=\"\">—</option>");
        for (code, name) in &st.topics {
            let _ = write!(h, "<option value=\"{}\">{}</option>", esc(code), esc(name));
        }
        h.push_str(
            "</select></label><label>Материал <input name=\"subject\" required maxlength=\"500\"></label>\
<label>Ответственный <input name=\"responsible\" maxlength=\"200\"></label><button>Добавить</button></form>\
<p class=\"muted\">Весь план из Excel или CSV загружается командой <code>glas plan import ФАЙЛ</code>.</p>",
        );
    }
    (status, Html(layout("Медиаплан", Some(p), &h))).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewRow {
    #[serde(default)]
    week: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    responsible: String,
}

fn plan(st: &AppState) -> Result<MediaPlan, String> {
    MediaPlan::open(&st.data_dir).map_err(|e| e.to_string())
}

pub(crate) async fn add_row(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    form: Result<axum::extract::Form<NewRow>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::extract::Form(f)) = form else {
        return plan_view(&st, &p, "", Some(Err("Форма заполнена неверно.".into())), StatusCode::BAD_REQUEST).await;
    };
    let bad = |m: String| (m, StatusCode::BAD_REQUEST);
    let checked = (|| {
        let from: NaiveDate = f.from.parse().map_err(|_| bad(format!("«{}» — не дата", f.from)))?;
        let to: NaiveDate = if f.to.trim().is_empty() {
            from
        } else {
            f.to.parse().map_err(|_| bad(format!("«{}» — не дата", f.to)))?
        };
        let channels = st.stages.as_ref().map(|s| s.own_channels()).unwrap_or_default();
        if !f.channel.is_empty() && !channels.iter().any(|(id, _)| *id == f.channel) {
            return Err(bad(format!("«{}» — не официальный канал", f.channel)));
        }
        if !f.topic.is_empty() && !st.topics.iter().any(|(c, _)| *c == f.topic) {
            return Err(bad(format!("неизвестная тема «{}»", f.topic)));
        }
        let row = PlanRow {
            id: 0,
            from,
            to,
            channel: f.channel.clone(),
            topic: f.topic.clone(),
            subject: f.subject.clone(),
            responsible: f.responsible.clone(),
        };
        row.check().map_err(bad)?;
        let id = plan(&st)
            .and_then(|m| m.add(&row, &p.name, Utc::now()).map_err(|e| e.to_string()))
            .map_err(|e| (e, StatusCode::INTERNAL_SERVER_ERROR))?;
        Ok((id, row))
    })();
    match checked {
        Ok((id, row)) => {
            st.accounts.record(
                &p.name,
                "media_plan_added",
                serde_json::json!({"id": id, "from": row.from, "to": row.to, "subject": row.subject}),
                p.ip.clone(),
            );
            let week = row.from.format("%G-W%V");
            Redirect::to(&format!("/plan?week={week}")).into_response()
        }
        Err((m, status)) => plan_view(&st, &p, &f.week, Some(Err(format!("Строка не добавлена: {m}"))), status).await,
    }
}

pub(crate) async fn delete_row(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    form: Result<axum::extract::Form<WeekParam>, axum::extract::rejection::FormRejection>,
) -> Response {
    let week = form.map(|axum::extract::Form(w)| w.week).unwrap_or_default();
    match plan(&st).and_then(|m| m.delete(id).map_err(|e| e.to_string())) {
        Ok(true) => {
            st.accounts.record(&p.name, "media_plan_deleted", serde_json::json!({"id": id}), p.ip.clone());
            Redirect::to(&format!("/plan?week={week}")).into_response()
        }
        Ok(false) => {
            plan_view(&st, &p, &week, Some(Err(format!("Строки №{id} в плане нет."))), StatusCode::NOT_FOUND).await
        }
        Err(e) => plan_view(&st, &p, &week, Some(Err(e)), StatusCode::INTERNAL_SERVER_ERROR).await,
    }
}
