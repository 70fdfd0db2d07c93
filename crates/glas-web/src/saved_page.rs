//! `/searches`: the saved searches (the pipeline file's, read-only here, and
//! those saved in the workspace or through the API) with their recipients
//! and their last digest; a search saved from the search page, edited or
//! deleted here. The digests that `glas run` emails to the recipients cover
//! what is new since the save, and an edited search's go on from where they
//! got.

use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use glas_core::config::SavedSearch;
use glas_core::ru::escape_html as esc;
use glas_store::saved::{SavedError, SavedSearches};
use serde::Deserialize;

use crate::AppState;
use crate::accounts::Principal;
use crate::page::{layout, message_html, url_path};
use crate::search_page::link;

pub(crate) async fn searches_page(State(st): State<Arc<AppState>>, Extension(who): Extension<Principal>) -> Response {
    searches_view(&st, &who, None, StatusCode::OK)
}

fn searches_view(
    st: &AppState,
    who: &Principal,
    message: Option<Result<String, String>>,
    status: StatusCode,
) -> Response {
    let mut h = String::from("<h1>Сохранённые поиски</h1>");
    message_html(&mut h, message);
    let saved = SavedSearches::new(&st.data_dir);
    let last = saved.last_digests().unwrap_or_default();
    match saved.all(&st.pipeline_searches) {
        Err(e) => {
            let _ = write!(h, "<p class=\"error\">Не удалось прочитать поиски: {}</p>", esc(&e.to_string()));
        }
        Ok(list) if list.is_empty() => {
            h.push_str("<p>Сохранённых поисков нет. Сохранить можно со страницы поиска: «Сохранить этот поиск».</p>");
        }
        Ok(list) => {
            h.push_str(
                "<table><thead><tr><th>Название</th><th>Запрос</th><th>Кому присылать новое</th>\
<th>Последняя рассылка</th><th></th></tr></thead><tbody>",
            );
            for s in &list {
                let to = if s.search.to.is_empty() { "—".to_string() } else { s.search.to.join(", ") };
                let digest = last.get(&s.search.name).map_or_else(
                    || "ещё не было".to_string(),
                    |d| format!("{}, {}", crate::page::local_time(st, &d.at), glas_core::ru::mentions(d.mentions)),
                );
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>",
                    esc(&s.search.name),
                    esc(&link(&s.search.query, None, 1)),
                    esc(&s.search.query),
                    esc(&to),
                    esc(&digest)
                );
                if s.origin == "pipeline" {
                    h.push_str("<span class=\"meta\">в файле конфигурации</span>");
                } else {
                    let _ = write!(
                        h,
                        "<a href=\"/searches/{0}/edit\">Изменить</a><form method=\"post\" action=\"/searches/{0}/delete\">\
<input type=\"hidden\" name=\"csrf\" value=\"{1}\"><button>Удалить</button></form>",
                        esc(&url_path(&s.search.name)),
                        esc(who.csrf.as_deref().unwrap_or(""))
                    );
                }
                h.push_str("</td></tr>");
            }
            h.push_str("</tbody></table>");
        }
    }
    (status, Html(layout("Сохранённые поиски", Some(who), &h))).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct SaveForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    query: String,
    /// Addresses separated by commas, semicolons or spaces.
    #[serde(default)]
    to: String,
}

fn saved_error_ru(e: &SavedError) -> String {
    match e {
        SavedError::Query(q) => format!("Запрос с ошибкой: позиция {}: {}", q.position, q.message_ru),
        SavedError::Invalid(r) if r.contains("email") => format!("Не адрес почты: {r}"),
        SavedError::Invalid(_) => {
            format!("Название — от 1 до {} символов.", glas_store::saved::MAX_NAME_CHARS)
        }
        SavedError::Exists(n) => format!("Поиск «{n}» уже есть: выберите другое название."),
        SavedError::InPipeline(n) => format!("Поиск «{n}» задан в файле конфигурации — меняйте его там."),
        SavedError::Store(e) => format!("Не удалось сохранить: {e}"),
    }
}

/// Addresses separated by commas, semicolons, spaces or lines.
fn recipients(to: &str) -> Vec<String> {
    to.split([',', ';', ' ', '\n']).map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect()
}

/// `/searches/{name}/edit`: the search's name, query and recipients in a form.
pub(crate) async fn edit_page(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    if st.pipeline_searches.iter().any(|p| p.name == name) {
        let m = saved_error_ru(&SavedError::InPipeline(name));
        return searches_view(&st, &who, Some(Err(m)), StatusCode::CONFLICT);
    }
    let found = SavedSearches::new(&st.data_dir).api_searches().map(|l| l.into_iter().find(|a| a.search.name == name));
    match found {
        Ok(Some(a)) => {
            let form = SaveForm { name: a.search.name, query: a.search.query, to: a.search.to.join(", ") };
            edit_view(&who, &name, &form, None, StatusCode::OK)
        }
        Ok(None) => searches_view(&st, &who, Some(Err(format!("Поиска «{name}» нет."))), StatusCode::NOT_FOUND),
        Err(e) => searches_view(&st, &who, Some(Err(e.to_string())), StatusCode::INTERNAL_SERVER_ERROR),
    }
}

fn edit_view(who: &Principal, name: &str, f: &SaveForm, error: Option<String>, status: StatusCode) -> Response {
    let mut h = format!("<h1>Изменить поиск «{}»</h1>", esc(name));
    message_html(&mut h, error.map(Err));
    let _ = write!(
        h,
        "<form method=\"post\" action=\"/searches/{}/edit\" class=\"stack\"><input type=\"hidden\" name=\"csrf\" \
value=\"{}\"><label>Название<input name=\"name\" value=\"{}\" required maxlength=\"{}\"></label>\
<label>Запрос<input name=\"query\" value=\"{}\"></label><label>Кому присылать новое (адреса через запятую)\
<input name=\"to\" value=\"{}\"></label><p class=\"meta\">Рассылка продолжится с того места, где остановилась: \
уже отправленное не придёт снова.</p><button>Сохранить</button></form><p><a href=\"/searches\">← К списку поисков</a></p>",
        esc(&url_path(name)),
        esc(who.csrf.as_deref().unwrap_or("")),
        esc(&f.name),
        glas_store::saved::MAX_NAME_CHARS,
        esc(&f.query),
        esc(&f.to)
    );
    (status, Html(layout("Изменить поиск", Some(who), &h))).into_response()
}

pub(crate) async fn edit_search(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    form: Result<Form<SaveForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return searches_view(&st, &who, Some(Err("Форма заполнена неверно.".into())), StatusCode::BAD_REQUEST);
    };
    let search = SavedSearch { name: f.name.trim().to_string(), query: f.query.clone(), to: recipients(&f.to) };
    let _guard = st.saved_lock.lock().await;
    match SavedSearches::new(&st.data_dir).update(&st.pipeline_searches, &name, search) {
        Ok(Some(u)) => {
            let s = &u.search;
            st.accounts.record(
                &who.name,
                "saved_search_changed",
                serde_json::json!({"name": name, "new_name": s.name, "query": s.query, "recipients": s.to}),
                who.ip.clone(),
            );
            searches_view(&st, &who, Some(Ok(format!("Поиск «{}» изменён.", s.name))), StatusCode::OK)
        }
        Ok(None) => searches_view(&st, &who, Some(Err(format!("Поиска «{name}» нет."))), StatusCode::NOT_FOUND),
        // The form again, as it was filled, with what to fix.
        Err(e) => edit_view(&who, &name, &f, Some(saved_error_ru(&e)), StatusCode::BAD_REQUEST),
    }
}

pub(crate) async fn save_search(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    form: Result<Form<SaveForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return searches_view(&st, &who, Some(Err("Форма заполнена неверно.".into())), StatusCode::BAD_REQUEST);
    };
    let search = SavedSearch { name: f.name.trim().to_string(), query: f.query, to: recipients(&f.to) };
    let _guard = st.saved_lock.lock().await;
    let seq = match st.store.indexed_seq() {
        Ok(s) => s,
        Err(e) => {
            let m = format!("Не удалось сохранить: {e}");
            return searches_view(&st, &who, Some(Err(m)), StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    match SavedSearches::new(&st.data_dir).create(&st.pipeline_searches, search, seq) {
        Ok(created) => {
            let s = &created.search;
            st.accounts.record(
                &who.name,
                "saved_search_created",
                serde_json::json!({"name": s.name, "query": s.query, "recipients": s.to}),
                who.ip.clone(),
            );
            let m = format!("Поиск «{}» сохранён.", s.name);
            searches_view(&st, &who, Some(Ok(m)), StatusCode::CREATED)
        }
        Err(e) => searches_view(&st, &who, Some(Err(saved_error_ru(&e))), StatusCode::BAD_REQUEST),
    }
}

pub(crate) async fn delete_search(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    let _guard = st.saved_lock.lock().await;
    match SavedSearches::new(&st.data_dir).delete(&st.pipeline_searches, &name) {
        Ok(true) => {
            st.accounts.record(&who.name, "saved_search_deleted", serde_json::json!({"name": name}), who.ip.clone());
            Redirect::to("/searches").into_response()
        }
        Ok(false) => searches_view(&st, &who, Some(Err(format!("Поиска «{name}» нет."))), StatusCode::NOT_FOUND),
        Err(e) => searches_view(&st, &who, Some(Err(saved_error_ru(&e))), StatusCode::BAD_REQUEST),
    }
}
