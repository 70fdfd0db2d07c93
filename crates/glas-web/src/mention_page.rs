//! `/mentions/{id}`: one mention as an official reads it — its source link,
//! every enrichment field in Russian, why glas decided so (the same reasons
//! as `glas classify --explain`, when the server has the pipeline's
//! analyzer), the signals' episodes it is evidence of, and its reprints.

use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use glas_core::ru;
use glas_core::ru::escape_html as esc;
use glas_store::StoredMention;

use crate::accounts::Principal;
use crate::page::layout;
use crate::search_page::{link, mention_link};
use crate::{AppState, blocking};

/// Reprints listed on the page (the search shows them all).
const REPRINTS: usize = 20;

pub(crate) async fn mention_page(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let store = st.store.clone();
    let tz = st.tz;
    let wanted = id.clone();
    let found = blocking(st.limits.timeout, move || {
        let Some(m) = store.get(&wanted)? else { return Ok(None) };
        let req = glas_store::SearchRequest {
            query: format!("cluster:{}", m.cluster),
            tz,
            sort: glas_store::Sort::Date,
            limit: REPRINTS + 1,
            collapse: false,
            ..Default::default()
        };
        let reprints = store.search(&req)?;
        Ok(Some((m, reprints)))
    })
    .await;
    let (m, reprints) = match found {
        Ok(Some(x)) => x,
        Ok(None) => {
            let body = format!(
                "<h1>Публикация не найдена</h1><p>В базе нет публикации с идентификатором <code>{}</code>.</p>",
                esc(&id)
            );
            return (StatusCode::NOT_FOUND, Html(layout("Публикация не найдена", Some(&who), &body))).into_response();
        }
        Err(e) => {
            let body = format!("<h1>Публикация</h1><p class=\"error\">{}</p>", esc(&e.reason_ru));
            return (StatusCode::SERVICE_UNAVAILABLE, Html(layout("Публикация", Some(&who), &body))).into_response();
        }
    };
    let mut h = String::with_capacity(16 * 1024);
    let heading = m.title.clone().unwrap_or_else(|| m.text.chars().take(80).collect::<String>() + "…");
    let when = m.published_at.get(..16).unwrap_or(&m.published_at).replace('T', " ");
    let _ = write!(h, "<h1>{}</h1><p class=\"meta\">{} · {}", esc(&heading), esc(&when), esc(&m.source));
    if let Some(a) = &m.author {
        let shown = st.pseudonyms(&who).map_or_else(|| a.clone(), |k| k.pseudonym(a));
        let _ = write!(h, " · {}", esc(&shown));
    }
    if let Some(u) = &m.url {
        let _ = write!(h, " · <a href=\"{}\" rel=\"noopener noreferrer\">открыть в источнике</a>", esc(u));
    }
    let _ = write!(h, "</p><blockquote class=\"{}\">{}</blockquote>", esc(&m.sentiment), esc(&m.text));
    fields(&mut h, &st, &m);
    h.push_str(&crate::incidents_page::create_form(&st, &who, &m));
    let cited = crate::signals_page::episodes_citing(&st, &m.id);
    if !cited.is_empty() {
        h.push_str("<h2>Сигналы, в которых публикация — довод</h2><ul class=\"plain\">");
        for (headline, href) in &cited {
            let _ = write!(h, "<li><a href=\"{}\">{}</a></li>", esc(href), esc(headline));
        }
        h.push_str("</ul>");
    }
    if let Some(analyzer) = &st.analyzer {
        reasons(&mut h, &st, analyzer, &m);
    }
    let others: Vec<_> = reprints.hits.iter().filter(|r| r.id != m.id).take(REPRINTS).collect();
    if !others.is_empty() {
        let _ = write!(h, "<h2>Перепечатки и близкие тексты ({})</h2><ul class=\"plain\">", reprints.total - 1);
        for r in others {
            let when = r.published_at.get(..16).unwrap_or(&r.published_at).replace('T', " ");
            let _ =
                write!(h, "<li><a href=\"{}\">{} · {}</a></li>", esc(&mention_link(&r.id)), esc(&when), esc(&r.source));
        }
        h.push_str("</ul>");
        if reprints.total > REPRINTS + 1 && who.role >= crate::accounts::Role::Analyst {
            let _ = write!(
                h,
                "<p><a href=\"{}\">Все в поиске →</a></p>",
                esc(&link(&format!("cluster:{}", m.cluster), None, 1))
            );
        }
    }
    Html(layout(&heading, Some(&who), &h)).into_response()
}

fn fields(h: &mut String, st: &AppState, m: &StoredMention) {
    let topics: Vec<&str> = m.topics.iter().map(|t| st.topic_name(t)).collect();
    let none = "—".to_string();
    let list = |v: &[String]| if v.is_empty() { none.clone() } else { v.join(", ") };
    let rows = [
        ("Тональность", format!("{} ({:+.2})", ru::sentiment_label(&m.sentiment), m.sentiment_score)),
        ("Тип", ru::type_label(&m.mention_type).to_string()),
        ("Темы", if topics.is_empty() { none.clone() } else { topics.join(", ") }),
        ("Населённые пункты", list(&m.places)),
        ("Лица и организации", list(&m.entities)),
        ("Язык", m.lang.clone()),
        ("Источник", format!("{} ({})", m.source, m.source_kind)),
        ("Идентификатор", m.id.clone()),
    ];
    h.push_str("<table class=\"fields\"><tbody>");
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    h.push_str("</tbody></table>");
}

/// Why: the analyzer run again on the stored text, as `glas classify --explain`.
fn reasons(h: &mut String, st: &AppState, analyzer: &glas_nlp::Analyzer, m: &StoredMention) {
    let mention = glas_core::Mention {
        id: m.id.clone(),
        source: Some(m.source.clone()),
        url: m.url.clone(),
        published_at: chrono::DateTime::parse_from_rfc3339(&m.published_at)
            .unwrap_or_else(|_| chrono::DateTime::UNIX_EPOCH.fixed_offset()),
        author: m.author.clone(),
        title: m.title.clone(),
        text: m.text.clone(),
        engagement: Default::default(),
        extra: Default::default(),
    };
    let (_, why) = analyzer.enrich_explained(&mention, &m.source_kind);
    h.push_str("<h2>Почему так</h2><ul class=\"plain\">");
    let words: Vec<String> = why
        .sentiment
        .iter()
        .map(|c| format!("{} ({})", c.term, if c.weight > 0.0 { "к позитиву" } else { "к негативу" }))
        .collect();
    let [neg, neu, pos] = why.probabilities;
    let _ = write!(
        h,
        "<li>Тональность: вероятности негатив {:.0} %, нейтрально {:.0} %, позитив {:.0} %; прочитано как {}. \
Слова: {}</li>",
        100.0 * neg,
        100.0 * neu,
        100.0 * pos,
        esc(match why.genre {
            "social" => "пост жителя",
            "media" => "текст СМИ",
            _ => "новость (так написан текст)",
        }),
        esc(&if words.is_empty() { "—".to_string() } else { words.join(", ") })
    );
    let complaint: Vec<&str> = why.complaint_words.iter().map(|c| c.term.as_str()).collect();
    let _ = write!(
        h,
        "<li>Жалоба: вероятность {:.0} %{}; тип определён правилом «{}»</li>",
        100.0 * why.complaint,
        if complaint.is_empty() { String::new() } else { format!(" (слова: {})", esc(&complaint.join(", "))) },
        esc(type_rule_ru(why.mention_type))
    );
    for t in &why.topics {
        let by = if t.rule.starts_with("model") { "модель" } else { "правило" };
        let _ = write!(
            h,
            "<li>Тема «{}»: {by} <code>{}</code>{}</li>",
            esc(st.topic_name(&t.code)),
            esc(&t.rule),
            if t.text.is_empty() { String::new() } else { format!(", слова: {}", esc(&t.text)) }
        );
    }
    h.push_str("</ul>");
}

/// The rules behind the mention type (glas-nlp's names), in Russian.
fn type_rule_ru(rule: &str) -> &str {
    match rule {
        "complaint model" => "модель жалоб",
        "media source" => "источник — СМИ",
        "written as news" => "текст написан как новость",
        "thanks, not negative" => "благодарность без негатива",
        "asks" => "вопрос",
        "negative post" => "негативный пост",
        "neither asks, thanks nor complains" => "ни вопрос, ни благодарность, ни жалоба",
        other => other,
    }
}
