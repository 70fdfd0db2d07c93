//! `/search/region`: the search across the region's districts as a page (a
//! workspace started with `glas serve --district`): this district's and the
//! others' hits ranked together, each naming its district; counts per
//! district; a district that did not answer is named. The region-wide
//! filters and exports stay on the district's own search page.

use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use glas_core::ru;
use glas_core::ru::escape_html as esc;
use glas_store::regional::RegionalResults;

use crate::accounts::Principal;
use crate::page::layout;
use crate::search_page::{hit_body, hit_line, link, pager};
use crate::{AppState, SearchParams};

pub(crate) async fn region_page(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Html<String> {
    let Ok(Query(p)) = params else {
        let body = page(&st, "", 1, Err("неверные параметры запроса".into()));
        return Html(layout("Поиск по региону", Some(&who), &body));
    };
    let found = match p.request(&st).and_then(|req| st.check_author_query(&who, &req.query).map(|_| req)) {
        Err(e) => Err(e.reason_ru),
        Ok(req) => {
            st.audit_search(&who, &p, true);
            crate::regional_search(&st, &who, req).await.map_err(|e| e.reason_ru)
        }
    };
    let title = if p.q.is_empty() {
        "Поиск по региону".to_string()
    } else {
        format!("Поиск по региону: {}", p.q)
    };
    Html(layout(&title, Some(&who), &page(&st, &p.q, p.page.unwrap_or(1), found)))
}

fn region_link(q: &str, page: usize) -> String {
    link(q, None, page).replacen("/search?", "/search/region?", 1)
}

fn page(st: &AppState, q: &str, page_no: usize, found: Result<RegionalResults, String>) -> String {
    let mut h = String::with_capacity(16 * 1024);
    let _ = write!(
        h,
        "<form action=\"/search/region\" class=\"query\"><input name=\"q\" value=\"{}\" \
placeholder=\"например: вода\" aria-label=\"Запрос по всем округам\" autofocus><button>Найти во всех округах</button></form>\
<p class=\"meta\"><a href=\"{}\">Искать только в этом округе</a> (с фильтрами и выгрузкой)</p>",
        esc(q),
        esc(&link(q, None, 1))
    );
    let res = match found {
        Err(reason) => {
            let _ = write!(h, "<p class=\"error\">Запрос не выполнен: {}</p>", esc(&reason));
            return h;
        }
        Ok(r) => r,
    };
    let Some(region) = st.region.as_ref() else {
        h.push_str("<p class=\"error\">Этот сервер работает с одним округом: поиск по региону не настроен.</p>");
        return h;
    };
    let first = if res.hits.is_empty() { 0 } else { res.offset + 1 };
    let per: Vec<String> = res.per_district.iter().map(|(d, n)| format!("{} — {n}", esc(region.name(d)))).collect();
    let _ = write!(
        h,
        "<p><b>Найдено во всех округах: {}</b> · показаны {}–{}</p><p class=\"meta\">По округам: {}</p>",
        ru::mentions(res.total as u64),
        first,
        res.offset + res.hits.len(),
        per.join(" · ")
    );
    for f in &res.failed {
        let _ =
            write!(h, "<p class=\"error\">Округ «{}» не ответил: {}</p>", esc(region.name(&f.district)), esc(&f.error));
    }
    let _ = write!(h, "<ol class=\"hits\" start=\"{}\">", first.max(1));
    for r in &res.hits {
        let hit = &r.hit;
        let (when, tags) = hit_line(st, hit);
        let _ = write!(
            h,
            "<li class=\"{}\"><div class=\"meta\"><b>{}</b> · {} · {} · {}</div>",
            esc(&hit.sentiment),
            esc(region.name(&r.district)),
            esc(&when),
            esc(&hit.source),
            esc(&tags)
        );
        // A mention's own page reads this district's store only.
        hit_body(&mut h, hit, r.district == region.home);
    }
    h.push_str("</ol>");
    let more = res.offset + res.hits.len() < res.total;
    pager(&mut h, page_no, more, |n| region_link(q, n));
    h.push_str("<p class=\"meta\">glas · каждое совпадение оценено в индексе своего округа · перепечатки свёрнуты</p>");
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_stay_in_the_region() {
        assert_eq!(super::region_link("вода", 2), "/search/region?q=%D0%B2%D0%BE%D0%B4%D0%B0&page=2");
    }
}
