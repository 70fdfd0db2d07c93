//! `/signals`: the episodes of the last analysis (`DATA/analytics/
//! signals.jsonl`, written by `glas analyze` and `glas run`), each with its
//! life (opened, escalated, resolved), the figures behind it (count, the
//! usual count, how rare), and its evidence posts; an analyst acknowledges
//! an episode and leaves notes, which everyone sees (kept in the workspace
//! database, logged in the audit log).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use glas_core::Signal;
use glas_core::ru::{self, escape_html as esc};
use serde::Deserialize;

use crate::AppState;
use crate::accounts::{Note, Principal, Role};
use crate::page::layout;
use crate::search_page::mention_link;

/// Evidence posts shown per episode (the rest are a search away).
const EVIDENCE: usize = 5;
/// The longest note accepted.
pub const MAX_NOTE_CHARS: usize = 2000;

/// One episode: the signals of one series from its opening on.
pub(crate) struct Episode {
    /// The episode's identity: its series and when it opened.
    pub(crate) id: String,
    pub(crate) life: Vec<Signal>,
}

impl Episode {
    pub(crate) fn last(&self) -> &Signal {
        self.life.last().expect("an episode has a signal")
    }

    pub(crate) fn open(&self) -> bool {
        self.last().phase() != Some("resolved")
    }

    /// The signal the episode is named by: its latest before any resolution.
    pub(crate) fn headline(&self) -> &Signal {
        self.life.iter().rev().find(|s| s.phase() != Some("resolved")).unwrap_or(&self.life[0])
    }

    pub(crate) fn severity(&self) -> glas_core::Severity {
        self.life.iter().map(|s| s.severity).max().unwrap_or(glas_core::Severity::Low)
    }
}

/// The signals of the last analysis, grouped into episodes: a signal whose
/// phase is `opened` (or that has none) starts one; the others continue the
/// open episode of their series.
pub(crate) fn episodes(signals: Vec<Signal>) -> Vec<Episode> {
    let mut out: Vec<Episode> = Vec::new();
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    for s in signals {
        let key = s.episode_key();
        let continues = matches!(s.phase(), Some("escalated" | "resolved")) && open.contains_key(&key);
        if continues {
            let i = open[&key];
            let resolved = s.phase() == Some("resolved");
            out[i].life.push(s);
            if resolved {
                open.remove(&key);
            }
        } else {
            let id = format!("{key}@{}", s.detected_at.to_rfc3339());
            let resolved = s.phase() == Some("resolved");
            out.push(Episode { id, life: vec![s] });
            if !resolved {
                open.insert(key, out.len() - 1);
            }
        }
    }
    // Open ones first, then by severity, newest first.
    out.sort_by(|a, b| {
        b.open()
            .cmp(&a.open())
            .then(b.severity().cmp(&a.severity()))
            .then(b.last().detected_at.cmp(&a.last().detected_at))
    });
    out
}

pub(crate) fn read_signals(st: &AppState) -> Result<Vec<Signal>, String> {
    read_signals_at(&st.data_dir)
}

/// The episodes of the last analysis, read and grouped off the async
/// threads (the file grows with every signal).
pub(crate) async fn episodes_off_thread(st: &AppState) -> Result<Vec<Episode>, String> {
    let dir = st.data_dir.clone();
    tokio::task::spawn_blocking(move || read_signals_at(&dir).map(episodes))
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
}

fn read_signals_at(data_dir: &std::path::Path) -> Result<Vec<Signal>, String> {
    let path = data_dir.join("analytics/signals.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    // A line that does not parse is skipped, not fatal: the rest still shows.
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

fn phase_ru(s: &Signal) -> &'static str {
    match s.phase() {
        Some("escalated") => "усилился",
        Some("resolved") => "снят",
        _ => "открыт",
    }
}

pub(crate) fn severity_class(s: glas_core::Severity) -> &'static str {
    match s {
        glas_core::Severity::High => "bad",
        glas_core::Severity::Medium => "warn",
        glas_core::Severity::Low => "",
    }
}

pub(crate) async fn signals_page(State(st): State<Arc<AppState>>, Extension(who): Extension<Principal>) -> Response {
    signals_view(&st, &who, None, StatusCode::OK).await
}

async fn signals_view(st: &Arc<AppState>, who: &Principal, message: Option<String>, status: StatusCode) -> Response {
    let list = match episodes_off_thread(st).await {
        Ok(s) => s,
        Err(e) => {
            let body = format!("<h1>Сигналы</h1><p class=\"error\">Не удалось прочитать сигналы: {}</p>", esc(&e));
            return (StatusCode::SERVICE_UNAVAILABLE, Html(layout("Сигналы", Some(who), &body))).into_response();
        }
    };
    let ids: Vec<String> = list.iter().map(|e| e.id.clone()).collect();
    let notes = st.accounts.notes(&ids).unwrap_or_default();
    // The evidence posts' time, source and first words.
    let wanted: Vec<String> =
        list.iter().flat_map(|e| e.last().evidence.iter().take(EVIDENCE).cloned()).collect::<Vec<_>>();
    let store = st.store.clone();
    let posts: BTreeMap<String, glas_store::StoredMention> = tokio::task::spawn_blocking(move || {
        wanted.into_iter().filter_map(|id| store.get(&id).ok().flatten().map(|m| (id, m))).collect()
    })
    .await
    .unwrap_or_default();

    let open = list.iter().filter(|e| e.open()).count();
    let mut h = format!("<h1>Сигналы</h1><p>Эпизодов за период анализа: {}, открыто: <b>{open}</b>.</p>", list.len());
    if let Some(m) = message {
        let _ = write!(h, "<p class=\"error\" role=\"alert\">{}</p>", esc(&m));
    }
    if list.is_empty() {
        h.push_str("<p>Сигналов нет: напряжённость в обычных пределах.</p>");
    }
    for e in &list {
        let last = e.last();
        let window_hours = last.window.trim_end_matches('h').parse::<f64>().unwrap_or(6.0);
        let rarity = last
            .params
            .get("tail_p")
            .and_then(|p| p.as_f64())
            .and_then(|p| ru::rarity(p, window_hours))
            .unwrap_or_else(|| {
                if last.baseline <= 0.0 {
                    "обычно таких публикаций нет вовсе".into()
                } else {
                    String::new()
                }
            });
        let _ = write!(
            h,
            "<section class=\"episode {}\" id=\"{}\"><h2>{}</h2><p class=\"meta\">",
            severity_class(e.severity()),
            esc(&anchor(&e.id)),
            esc(&glas_alert::subject(e.headline()))
        );
        let steps: Vec<String> = e
            .life
            .iter()
            .map(|s| {
                let t = s.detected_at.with_timezone(&st.tz).format("%d.%m %H:%M");
                format!("{} {t} ({})", phase_ru(s), s.severity.russian().to_lowercase())
            })
            .collect();
        let _ = write!(h, "{}</p>", esc(&steps.join(" → ")));
        if last.kind == "outlook" && last.phase() != Some("resolved") {
            let f = |k: &str| last.params.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
            let _ = write!(
                h,
                "<p>Прогноз на 7 дней вперёд: {} (80 %: {:.0}–{:.0}) при обычных {} за неделю.</p>",
                esc(&ru::negative_mentions(last.count)),
                f("lo80"),
                f("hi80"),
                esc(&ru::usual_count(last.baseline))
            );
        } else if last.kind != "source_silent" && last.phase() != Some("resolved") {
            let _ = write!(
                h,
                "<p>{} за {} при обычных {}; негативных {:.0} %{}</p>",
                esc(&ru::mentions(last.count)),
                esc(&ru::window(&last.window)),
                esc(&ru::usual_count(last.baseline)),
                100.0 * last.negative_share,
                if rarity.is_empty() { String::new() } else { format!("; {}", esc(&rarity)) }
            );
        }
        let evidence: Vec<&String> = last.evidence.iter().take(EVIDENCE).collect();
        if !evidence.is_empty() {
            h.push_str("<ul class=\"evidence\">");
            for id in evidence {
                let text = posts.get(id).map_or_else(
                    || id.clone(),
                    |m| {
                        let when = m.published_at.get(..16).unwrap_or(&m.published_at).replace('T', " ");
                        let words: String = m.text.chars().take(140).collect();
                        format!("{when} · {} · {words}", m.source)
                    },
                );
                let _ = write!(h, "<li><a href=\"{}\">{}</a></li>", esc(&mention_link(id)), esc(&text));
            }
            h.push_str("</ul>");
            if last.evidence.len() > EVIDENCE {
                let _ = write!(h, "<p class=\"meta\">и ещё {} публикаций</p>", last.evidence.len() - EVIDENCE);
            }
        }
        if let Some(Ok(Some(i))) = st.incidents.as_ref().map(|inc| inc.by_episode(&e.id)) {
            let late = i.overdue(chrono::Utc::now()).map_or(String::new(), |o| format!(", {}", o.label_ru()));
            let _ = write!(
                h,
                "<p>Инцидент: <a href=\"/incidents/{}\">№{} — {}</a> ({}, {}{late})</p>",
                i.id,
                i.id,
                esc(&i.title),
                esc(&i.service),
                i.status.label_ru()
            );
        }
        let episode_notes: Vec<&Note> = notes.iter().filter(|n| n.episode == e.id).collect();
        if let Some(ack) = episode_notes.iter().find(|n| n.acknowledged) {
            let _ = write!(
                h,
                "<p class=\"ok\">Принят в работу: {}, {}</p>",
                esc(&ack.who),
                esc(&crate::page::local_time(st, &ack.at))
            );
        }
        if !episode_notes.is_empty() {
            h.push_str("<ul class=\"notes\">");
            for n in episode_notes.iter().filter(|n| !n.text.is_empty()) {
                let _ = write!(
                    h,
                    "<li><b>{}</b> <span class=\"meta\">{}</span><br>{}</li>",
                    esc(&n.who),
                    esc(&crate::page::local_time(st, &n.at)),
                    esc(&n.text)
                );
            }
            h.push_str("</ul>");
        }
        if who.role >= Role::Analyst {
            let acked = episode_notes.iter().any(|n| n.acknowledged);
            let _ = write!(
                h,
                "<form method=\"post\" action=\"/signals/note\" class=\"note\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"episode\" value=\"{}\">\
<label>Заметка<textarea name=\"text\" rows=\"2\" maxlength=\"{MAX_NOTE_CHARS}\"></textarea></label>{}\
<button>Сохранить</button></form>",
                esc(who.csrf.as_deref().unwrap_or("")),
                esc(&e.id),
                if acked {
                    String::new()
                } else {
                    "<label class=\"check\"><input type=\"checkbox\" name=\"ack\" value=\"1\"> принять в работу</label>"
                        .to_string()
                }
            );
        }
        h.push_str("</section>");
    }
    (status, Html(layout("Сигналы", Some(who), &h))).into_response()
}

/// The episodes (headline, link on the signals page) a mention is evidence
/// of, for its page.
pub(crate) fn episodes_citing(st: &AppState, mention_id: &str) -> Vec<(String, String)> {
    let Ok(signals) = read_signals(st) else { return Vec::new() };
    episodes(signals)
        .iter()
        .filter(|e| e.life.iter().any(|s| s.evidence.iter().any(|id| id == mention_id)))
        .map(|e| (glas_alert::subject(e.headline()), format!("/signals#{}", anchor(&e.id))))
        .collect()
}

/// An episode id as an HTML anchor.
pub(crate) fn anchor(id: &str) -> String {
    format!("e{:016x}", glas_core::fnv1a(id.bytes()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct NoteForm {
    #[serde(default)]
    episode: String,
    #[serde(default)]
    text: String,
    ack: Option<String>,
}

pub(crate) async fn add_note(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    form: Result<Form<NoteForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return signals_view(&st, &who, Some("Форма заполнена неверно.".into()), StatusCode::BAD_REQUEST).await;
    };
    let text = f.text.trim().to_string();
    let ack = f.ack.is_some();
    if text.chars().count() > MAX_NOTE_CHARS {
        let m = format!("Заметка длиннее {MAX_NOTE_CHARS} символов: сократите её.");
        return signals_view(&st, &who, Some(m), StatusCode::BAD_REQUEST).await;
    }
    if text.is_empty() && !ack {
        let m = "Пустая заметка: напишите текст или отметьте «принять в работу».".to_string();
        return signals_view(&st, &who, Some(m), StatusCode::BAD_REQUEST).await;
    }
    let known = read_signals(&st).map(|s| episodes(s).iter().any(|e| e.id == f.episode)).unwrap_or(false);
    if !known {
        let m = "Этого эпизода больше нет в сигналах: обновите страницу.".to_string();
        return signals_view(&st, &who, Some(m), StatusCode::NOT_FOUND).await;
    }
    if let Err(e) = st.accounts.add_note(&f.episode, &who.name, &text, ack) {
        return signals_view(&st, &who, Some(format!("Заметка не сохранена: {e}")), StatusCode::INTERNAL_SERVER_ERROR)
            .await;
    }
    let event = if ack { "episode_acknowledged" } else { "episode_note" };
    st.accounts.record(&who.name, event, serde_json::json!({"episode": f.episode, "text": text}), who.ip.clone());
    Redirect::to(&format!("/signals#{}", anchor(&f.episode))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(at: &str, phase: &str, severity: &str) -> Signal {
        serde_json::from_value(serde_json::json!({
            "detected_at": at, "kind": "tension", "topic": "water", "place": "Величаевское",
            "severity": severity, "score": 5.0, "window": "6h", "count": 3, "baseline": 0.0,
            "negative_share": 1.0, "evidence": [], "params": {"phase": phase}
        }))
        .unwrap()
    }

    #[test]
    fn signals_group_into_episodes_open_first() {
        let list = episodes(vec![
            signal("2026-11-20T07:30:00+03:00", "opened", "low"),
            signal("2026-11-20T09:00:00+03:00", "escalated", "high"),
            signal("2026-11-21T07:30:00+03:00", "resolved", "low"),
            signal("2026-11-23T07:30:00+03:00", "opened", "medium"),
        ]);
        assert_eq!(list.len(), 2);
        assert!(list[0].open() && list[0].life.len() == 1, "the open episode first");
        assert_eq!(list[1].life.len(), 3);
        assert_eq!(list[1].severity(), glas_core::Severity::High);
        assert_ne!(list[0].id, list[1].id, "one series, two episodes");
    }
}
