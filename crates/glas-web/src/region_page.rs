//! `/search/region`: the search across the region's districts as a page (a
//! workspace started with `glas serve --district`), for an account whose
//! scope covers other districts: this district's and the others' hits
//! ranked together, each naming its district; counts per district, each a
//! link that narrows the search to it; a district that did not answer is
//! named. The filters, the facets, the chart and the exports are the
//! district search page's, summed over the districts.

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
use crate::search_page::{Scope, chart, export_links, facet_lists, filter_form, hit_body, hit_line, link, pager};
use crate::{AppState, SearchParams};

pub(crate) async fn region_page(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Html<String> {
    let Ok(Query(p)) = params else {
        let body = page(&st, &SearchParams::default(), Err("неверные параметры запроса".into()));
        return Html(layout("Поиск по региону", Some(&who), &body));
    };
    let found = match p.request(&st).and_then(|req| st.check_author_query(&who, &req.query).map(|_| req)) {
        Err(e) => Err(e.reason_ru),
        Ok(mut req) => {
            st.audit_search(&who, &p, true);
            req.facets = true;
            crate::regional_search(&st, &who, &p, req).await.map_err(|e| e.reason_ru)
        }
    };
    let title = if p.q.is_empty() {
        "Поиск по региону".to_string()
    } else {
        format!("Поиск по региону: {}", p.q)
    };
    Html(layout(&title, Some(&who), &page(&st, &p, found)))
}

fn page(st: &AppState, p: &SearchParams, found: Result<RegionalResults, String>) -> String {
    let (q, since) = (p.q.as_str(), p.since.as_deref());
    let district = p.district.as_deref().filter(|d| !d.is_empty());
    let scope = Scope::Region { district };
    let mut h = String::with_capacity(32 * 1024);
    let _ = write!(
        h,
        "<form action=\"/search/region\" class=\"query\"><input name=\"q\" value=\"{}\" \
placeholder=\"например: вода\" aria-label=\"Запрос по всем округам\" autofocus>",
        esc(q)
    );
    for (name, value) in [("since", since), ("district", district)] {
        if let Some(v) = value {
            let _ = write!(h, "<input type=\"hidden\" name=\"{name}\" value=\"{}\">", esc(v));
        }
    }
    let _ = write!(
        h,
        "<button>Найти во всех округах</button></form>\
<p class=\"meta\"><a href=\"{}\">Искать только в этом округе</a> (с отбором в инцидент и сохранением поиска)</p>",
        esc(&link(q, since, 1))
    );
    let facets = found.as_ref().ok().and_then(|f| f.facets.as_ref());
    filter_form(&mut h, st, scope, q, since, facets);
    if let Some(s) = since {
        let _ = write!(
            h,
            "<p class=\"meta\">За последние {}. <a href=\"{}\">За всё время</a></p>",
            esc(&ru::window(s)),
            esc(&scope.link(q, None, 1))
        );
    }
    let res = match found {
        Err(reason) => {
            let _ = write!(h, "<p class=\"error\">Запрос не выполнен: {}</p>", esc(&reason));
            return h;
        }
        Ok(r) => r,
    };
    let first = if res.hits.is_empty() { 0 } else { res.offset + 1 };
    let _ = write!(
        h,
        "<p><b>Найдено {}: {}</b> · показаны {}–{}</p>",
        if district.is_some() { "в выбранных округах" } else { "во всех округах" },
        ru::found(res.total as u64, res.total_estimated),
        first,
        res.offset + res.hits.len(),
    );
    // Each district's count narrows the search to it.
    let per: Vec<String> = res
        .per_district
        .iter()
        .map(|(d, n)| {
            let only = Scope::Region { district: Some(d.as_str()) }.link(q, since, 1);
            format!("<a href=\"{}\">{}</a> — {n}", esc(&only), esc(st.district_name(d)))
        })
        .collect();
    let all = if district.is_some() {
        format!(" · <a href=\"{}\">все округа</a>", esc(&Scope::Region { district: None }.link(q, since, 1)))
    } else {
        String::new()
    };
    let _ = write!(h, "<p class=\"meta districts\">По округам: {}{all}</p>", per.join(" · "));
    for f in &res.failed {
        let _ = write!(
            h,
            "<p class=\"error\">Округ «{}» не ответил: {}</p>",
            esc(st.district_name(&f.district)),
            esc(&f.error)
        );
    }
    export_links(&mut h, scope, q, since, res.total);
    h.push_str(&chart(res.facets.as_ref()));
    let home = st.region.as_ref().map(|r| r.home.as_str());
    h.push_str("<div class=\"results\"><div>");
    let _ = write!(h, "<ol class=\"hits\" start=\"{}\">", first.max(1));
    for r in &res.hits {
        let hit = &r.hit;
        let (when, tags) = hit_line(st, hit);
        let _ = write!(
            h,
            "<li class=\"{}\"><div class=\"meta\"><b>{}</b> · {} · {} · {}</div>",
            esc(&hit.sentiment),
            esc(st.district_name(&r.district)),
            esc(&when),
            esc(&hit.source),
            esc(&tags)
        );
        // A mention's own page reads this district's store only.
        hit_body(&mut h, hit, Some(r.district.as_str()) == home);
    }
    h.push_str("</ol>");
    let more = res.offset + res.hits.len() < res.total;
    pager(&mut h, p.page.unwrap_or(1), more, |n| scope.link(q, since, n));
    h.push_str("</div>");
    if let Some(f) = &res.facets {
        facet_lists(&mut h, st, scope, q, since, f);
    }
    h.push_str(
        "</div><p class=\"meta\">glas · каждое совпадение оценено в индексе своего округа · \
счётчики сложены по округам · перепечатки свёрнуты</p>",
    );
    h
}

#[cfg(test)]
mod tests {
    use crate::search_page::Scope;

    #[test]
    fn links_stay_in_the_region_and_its_districts() {
        let all = Scope::Region { district: None };
        assert_eq!(all.link("вода", None, 2), "/search/region?q=%D0%B2%D0%BE%D0%B4%D0%B0&page=2");
        let one = Scope::Region { district: Some("sosed") };
        assert_eq!(
            one.link("вода", Some("7d"), 1),
            "/search/region?q=%D0%B2%D0%BE%D0%B4%D0%B0&since=7d&district=sosed"
        );
    }
}
