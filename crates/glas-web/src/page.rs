//! `/search`: the search as a page an official can read, in Russian — where
//! alert emails link to. Same parameters as `/api/search`; the query
//! language is the CLI's. Errors are shown on the page, not as JSON.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use glas_core::ru;
use glas_core::ru::escape_html as esc;
use glas_store::SearchResults;

use crate::{AppState, SearchParams, blocking};

pub(crate) async fn search_page(
    State(st): State<Arc<AppState>>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Html<String> {
    let Ok(Query(p)) = params else {
        return Html(page("", None, None, Err("неверные параметры запроса".into())));
    };
    let (q, since) = (p.q.clone(), p.since.clone());
    let result = match p.request(&st) {
        Err(e) => Err(e.reason_ru),
        Ok(req) => {
            let store = st.store.clone();
            blocking(st.limits.timeout, move || Ok(store.search(&req)?)).await.map_err(|e| e.reason_ru)
        }
    };
    Html(page(&q, since.as_deref(), p.page, result))
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

fn link(q: &str, since: Option<&str>, page: usize) -> String {
    let mut u = url::form_urlencoded::Serializer::new(String::new());
    u.append_pair("q", q);
    if let Some(s) = since {
        u.append_pair("since", s);
    }
    u.append_pair("page", &page.to_string());
    format!("/search?{}", u.finish())
}

fn page(q: &str, since: Option<&str>, page_no: Option<usize>, result: Result<SearchResults, String>) -> String {
    let mut h = String::with_capacity(32 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>Поиск публикаций: {}</title><style>{CSS}</style></head><body>\
<form action=\"/search\"><input name=\"q\" value=\"{}\" placeholder=\"например: вода Величаевское\" autofocus>",
        esc(q),
        esc(q)
    );
    if let Some(s) = since {
        let _ = write!(h, "<input type=\"hidden\" name=\"since\" value=\"{}\">", esc(s));
    }
    h.push_str("<button>Найти</button></form>");
    if let Some(s) = since {
        let _ = write!(h, "<p class=\"meta\">За последние {}.</p>", esc(&ru::window(s)));
    }
    match result {
        Err(reason) => {
            let _ = write!(h, "<p class=\"error\">Запрос не выполнен: {}</p>", esc(&reason));
        }
        Ok(res) => {
            let first = if res.hits.is_empty() { 0 } else { res.offset + 1 };
            let _ = write!(
                h,
                "<p><b>Найдено: {}</b> · показаны {}–{}</p><ol class=\"hits\" start=\"{}\">",
                ru::mentions(res.total as u64),
                first,
                res.offset + res.hits.len(),
                first.max(1)
            );
            for hit in &res.hits {
                let when = hit.published_at.get(..16).unwrap_or(&hit.published_at).replace('T', " ");
                let mut tags = vec![
                    ru::sentiment_label(&hit.sentiment).to_string(),
                    ru::type_label(&hit.mention_type).to_string(),
                ];
                tags.extend(hit.topics.iter().map(|t| glas_core::config::topic_name(t).to_string()));
                tags.extend(hit.places.iter().cloned());
                let _ = write!(
                    h,
                    "<li class=\"{}\"><div class=\"meta\">{} · {} · {}</div>",
                    esc(&hit.sentiment),
                    esc(&when),
                    esc(&hit.source),
                    esc(&tags.join(" · "))
                );
                if let Some(t) = &hit.title {
                    let _ = write!(h, "<div class=\"title\">{}</div>", marked(t, &hit.title_highlights));
                }
                let _ = write!(h, "<div>{}</div>", marked(&hit.snippet, &hit.highlights));
                let mut more = Vec::new();
                if let Some(u) = &hit.url {
                    more.push(format!("<a href=\"{}\">открыть</a>", esc(u)));
                }
                if hit.more_in_cluster > 0 {
                    more.push(esc(&ru::and_more(hit.more_in_cluster)));
                }
                if !more.is_empty() {
                    let _ = write!(h, "<div class=\"meta\">{}</div>", more.join(" · "));
                }
                h.push_str("</li>");
            }
            h.push_str("</ol>");
            let page_no = page_no.unwrap_or(1);
            if res.offset + res.hits.len() < res.total {
                let _ = write!(h, "<p><a href=\"{}\">Следующие →</a></p>", esc(&link(q, since, page_no + 1)));
            }
        }
    }
    h.push_str("<p class=\"meta\">glas · тональность, темы и населённые пункты определены автоматически · перепечатки свёрнуты</p></body></html>");
    h
}

const CSS: &str = "body{font-family:Arial,Helvetica,sans-serif;max-width:820px;margin:20px auto;padding:0 12px;color:#222;line-height:1.4}\
form{display:flex;gap:8px}input[name=q]{flex:1;font-size:16px;padding:6px}button{font-size:16px;padding:6px 14px}\
.meta{color:#666;font-size:13px}.title{font-weight:bold}.error{color:#b71c1c}mark{background:#fff59d}\
.hits li{margin:12px 0;padding-left:6px;border-left:3px solid #ddd}.hits li.negative{border-left-color:#c62828}\
.hits li.positive{border-left-color:#2e7d32}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_escaped_and_bounded() {
        assert_eq!(marked("нет <воды>", &[(7, 17)]), "нет <mark>&lt;воды&gt;</mark>");
        assert_eq!(marked("abc", &[(1, 99)]), "abc", "a range past the end is ignored");
    }
}
