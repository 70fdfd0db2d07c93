//! The workspace's pages, server-rendered in Russian: the frame every page
//! shares ([`layout`]: the menu by role, who is logged in, logout), the
//! administrators' accounts and audit log. The overview, the search and a
//! mention's page have modules of their own.

use std::fmt::Write;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use glas_core::ru::escape_html as esc;

use crate::AppState;
use crate::accounts::{AccountError, Districts, Principal, Role};

/// The menu: (path, label, least role).
const MENU: [(&str, &str, Role); 9] = [
    ("/", "Обзор", Role::Viewer),
    ("/signals", "Сигналы", Role::Viewer),
    ("/incidents", "Инциденты", Role::Service),
    ("/plan", "Медиаплан", Role::Viewer),
    ("/search", "Поиск", Role::Analyst),
    ("/searches", "Сохранённые поиски", Role::Analyst),
    ("/sources", "Источники", Role::Analyst),
    ("/reports", "Отчёты", Role::Viewer),
    ("/admin/users", "Пользователи и журнал", Role::Admin),
];

/// A whole page: head, the menu for the principal's role (none on the login
/// page), the body.
pub(crate) fn layout(title: &str, who: Option<&Principal>, body: &str) -> String {
    let mut h = String::with_capacity(body.len() + 4096);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · glas</title><style>{CSS}</style></head><body>",
        esc(title)
    );
    if let Some(p) = who {
        h.push_str("<header><nav>");
        for (path, label, role) in MENU {
            if p.role >= role {
                let _ = write!(h, "<a href=\"{path}\">{label}</a>");
            }
        }
        let _ = write!(h, "</nav><div class=\"user\">{} · {}", esc(&p.name), p.role.label_ru());
        if let Some(csrf) = &p.csrf {
            let _ = write!(
                h,
                "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<button class=\"link\">Выйти</button></form>",
                esc(csrf)
            );
        }
        h.push_str("</div></header>");
    }
    let _ = write!(h, "<main>{body}</main></body></html>");
    h
}

/// The hidden field every form of a session carries.
fn csrf_field(p: &Principal) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(p.csrf.as_deref().unwrap_or("")))
}

/// `/admin/users`: accounts, tokens, and a form to add an account.
pub(crate) async fn users_page(State(st): State<Arc<AppState>>, Extension(p): Extension<Principal>) -> Response {
    users_view(&st, &p, None, StatusCode::OK)
}

fn users_view(st: &AppState, p: &Principal, message: Option<Result<String, String>>, status: StatusCode) -> Response {
    let mut body = String::from("<h1>Пользователи</h1><p><a href=\"/admin/audit\">Журнал действий →</a></p>");
    message_html(&mut body, message);
    match st.accounts.users() {
        Err(e) => {
            let _ = write!(body, "<p class=\"error\">{}</p>", esc(&e.to_string()));
        }
        Ok(users) => {
            let region = st.region.is_some();
            let _ = write!(
                body,
                "<table><thead><tr><th>Имя</th><th>Роль</th>{}<th>Состояние</th><th>Последний вход</th><th></th></tr></thead><tbody>",
                if region { "<th>Поиск по региону</th>" } else { "" }
            );
            for u in &users {
                let role = Role::parse(&u.role).map_or(u.role.as_str(), |r| r.label_ru());
                let last = u.last_login.as_deref().map_or("—".to_string(), |t| local_time(st, t));
                let _ = write!(body, "<tr><td>{}</td><td>{}</td>", esc(&u.name), role);
                // Only analysts and administrators search at all.
                let searches = Role::parse(&u.role).is_some_and(|r| r >= Role::Analyst);
                if region && !searches {
                    body.push_str("<td>—</td>");
                } else if region {
                    let covered = Districts::parse(&u.districts).unwrap_or_default();
                    let _ = write!(body, "<td>{}", esc(&districts_ru(st, &covered)));
                    if !u.disabled {
                        let _ = write!(
                            body,
                            "<details><summary>Изменить</summary><form method=\"post\" action=\"/admin/users/{}/districts\">{}{}\
<button>Сохранить</button></form></details>",
                            esc(&url_path(&u.name)),
                            csrf_field(p),
                            district_boxes(st, &covered)
                        );
                    }
                    body.push_str("</td>");
                }
                let _ = write!(
                    body,
                    "<td>{}</td><td>{}</td><td>",
                    if u.disabled { "отключена" } else { "действует" },
                    esc(&last)
                );
                if !u.disabled && u.name != p.name {
                    let _ = write!(
                        body,
                        "<form method=\"post\" action=\"/admin/users/{}/disable\">{}<button>Отключить</button></form>",
                        esc(&url_path(&u.name)),
                        csrf_field(p)
                    );
                }
                body.push_str("</td></tr>");
            }
            body.push_str("</tbody></table>");
        }
    }
    let _ = write!(
        body,
        "<h2>Новая учётная запись</h2><form method=\"post\" action=\"/admin/users\" class=\"stack\">{}\
<label for=\"new-name\">Имя</label><input id=\"new-name\" name=\"name\" required maxlength=\"64\">\
<label for=\"new-role\">Роль</label><select id=\"new-role\" name=\"role\"><option value=\"viewer\">просмотр (глава: обзор, сигналы, отчёты)</option>\
<option value=\"analyst\" selected>аналитик (плюс поиск, выгрузка, сохранённые поиски)</option>\
<option value=\"admin\">администратор (плюс пользователи и журнал)</option></select>\
<label for=\"new-password\">Пароль (не короче {} символов)</label>\
<input id=\"new-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>{}\
<button>Создать</button></form>",
        csrf_field(p),
        crate::accounts::MIN_PASSWORD_CHARS,
        if st.region.is_some() {
            format!(
                "<fieldset><legend>Поиск по региону: кроме своего округа</legend>{}</fieldset>",
                district_boxes(st, &Districts::Home)
            )
        } else {
            String::new()
        }
    );
    if let Ok(tokens) = st.accounts.tokens() {
        body.push_str("<h2>Токены API</h2>");
        if tokens.is_empty() {
            body.push_str(
                "<p class=\"meta\">Нет. Создаются на сервере: <code>glas token create ИМЯ --role analyst</code>.</p>",
            );
        } else {
            body.push_str(
                "<table><thead><tr><th>Имя</th><th>Роль</th><th>Создан</th><th>Состояние</th></tr></thead><tbody>",
            );
            for t in &tokens {
                let role = Role::parse(&t.role).map_or(t.role.as_str(), |r| r.label_ru());
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&t.name),
                    role,
                    esc(&local_time(st, &t.created)),
                    if t.revoked { "отозван" } else { "действует" }
                );
            }
            body.push_str("</tbody></table>");
        }
    }
    (status, Html(layout("Пользователи", Some(p), &body))).into_response()
}

/// A path segment: every byte but letters and digits percent-encoded.
pub(crate) fn url_path(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// An RFC 3339 stamp in the district's time, "2026-12-07 09:30".
pub(crate) fn local_time(st: &AppState, t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&st.tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// The outcome of a form, above the page: done (green) or refused (red).
pub(crate) fn message_html(h: &mut String, message: Option<Result<String, String>>) {
    match message {
        Some(Ok(m)) => {
            let _ = write!(h, "<p class=\"ok\" role=\"status\">{}</p>", esc(&m));
        }
        Some(Err(m)) => {
            let _ = write!(h, "<p class=\"error\" role=\"alert\">{}</p>", esc(&m));
        }
        None => {}
    }
}

/// The region's other districts as checkboxes named `district` (`*`: all,
/// also those added later), the covered ones checked.
fn district_boxes(st: &AppState, covered: &Districts) -> String {
    let Some(region) = &st.region else { return String::new() };
    let mut h = String::new();
    let all = *covered == Districts::All;
    let _ = write!(
        h,
        "<label class=\"check\"><input type=\"checkbox\" name=\"district\" value=\"*\"{}> все округа региона</label>",
        if all { " checked" } else { "" }
    );
    for d in &region.others {
        let _ = write!(
            h,
            "<label class=\"check\"><input type=\"checkbox\" name=\"district\" value=\"{}\"{}> {}</label>",
            esc(&d.id),
            if !all && covered.covers(&d.id) { " checked" } else { "" },
            esc(region.name(&d.id))
        );
    }
    h
}

/// The districts checked in a form's `district` boxes.
fn checked_districts(form: &[(String, String)]) -> Result<Districts, AccountError> {
    let ids: Vec<&str> = form.iter().filter(|(k, _)| k == "district").map(|(_, v)| v.as_str()).collect();
    if ids.contains(&"*") { Ok(Districts::All) } else { Districts::parse(&ids.join(",")) }
}

/// A scope as the users page reads it.
fn districts_ru(st: &AppState, d: &Districts) -> String {
    match d {
        Districts::Home => "только свой округ".into(),
        Districts::All => "все округа".into(),
        Districts::Listed(ids) => {
            let names: Vec<&str> = ids.iter().map(|i| st.region.as_ref().map_or(i.as_str(), |r| r.name(i))).collect();
            format!("свой и: {}", names.join(", "))
        }
    }
}

/// A form's fields in order, repeated names kept (the district boxes).
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

pub(crate) async fn add_user(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    RawForm(body): RawForm,
) -> Response {
    let form = form_fields(&body);
    let name = field(&form, "name").trim().to_string();
    let Some(role) = Role::parse(field(&form, "role")) else {
        return users_view(&st, &p, Some(Err("Выберите роль.".into())), StatusCode::BAD_REQUEST);
    };
    let districts = match checked_districts(&form) {
        Ok(d) => d,
        Err(e) => return users_view(&st, &p, Some(Err(account_error_ru(&e))), StatusCode::BAD_REQUEST),
    };
    let accounts = st.accounts.clone();
    let (n, password, d) = (name.clone(), field(&form, "password").to_string(), districts.clone());
    let r = tokio::task::spawn_blocking(move || accounts.add_user_covering(&n, role, &password, &d)).await;
    match r {
        Ok(Ok(())) => {
            st.accounts.record(
                &p.name,
                "user_added",
                serde_json::json!({"name": name, "role": role.as_str(), "districts": districts.as_arg()}),
                p.ip.clone(),
            );
            users_view(&st, &p, Some(Ok(format!("Учётная запись «{name}» создана."))), StatusCode::CREATED)
        }
        Ok(Err(e)) => users_view(&st, &p, Some(Err(account_error_ru(&e))), StatusCode::BAD_REQUEST),
        Err(e) => users_view(&st, &p, Some(Err(e.to_string())), StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// `POST /admin/users/{name}/districts`: the districts checked become the
/// account's regional scope; its sessions end.
pub(crate) async fn set_districts(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let districts = match checked_districts(&form_fields(&body)) {
        Ok(d) => d,
        Err(e) => return users_view(&st, &p, Some(Err(account_error_ru(&e))), StatusCode::BAD_REQUEST),
    };
    // An unknown name falls through to the account database's own answer.
    let searches = st.accounts.users().map_or(true, |us| {
        us.iter().find(|u| u.name == name).is_none_or(|u| Role::parse(&u.role).is_some_and(|r| r >= Role::Analyst))
    });
    if !searches {
        let refused = "Поиск по региону — для аналитиков и администраторов: этой учётной записи округа не назначаются.";
        return users_view(&st, &p, Some(Err(refused.into())), StatusCode::BAD_REQUEST);
    }
    match st.accounts.set_districts(&name, &districts) {
        Ok(()) => {
            st.accounts.record(
                &p.name,
                "user_districts_changed",
                serde_json::json!({"name": name, "districts": districts.as_arg()}),
                p.ip.clone(),
            );
            let done = format!("Поиск по региону для «{name}»: {}.", districts_ru(&st, &districts));
            users_view(&st, &p, Some(Ok(done)), StatusCode::OK)
        }
        Err(e) => users_view(&st, &p, Some(Err(account_error_ru(&e))), StatusCode::NOT_FOUND),
    }
}

pub(crate) async fn disable_user(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    if name == p.name {
        return users_view(&st, &p, Some(Err("Свою учётную запись отключить нельзя.".into())), StatusCode::BAD_REQUEST);
    }
    match st.accounts.disable(&name) {
        Ok(()) => {
            st.accounts.record(&p.name, "user_disabled", serde_json::json!({"name": name}), p.ip.clone());
            Redirect::to("/admin/users").into_response()
        }
        Err(e) => users_view(&st, &p, Some(Err(account_error_ru(&e))), StatusCode::NOT_FOUND),
    }
}

fn account_error_ru(e: &AccountError) -> String {
    match e {
        AccountError::Exists(n) => format!("Учётная запись «{n}» уже есть."),
        AccountError::NoSuchUser(n) => format!("Учётной записи «{n}» нет."),
        AccountError::Invalid(m) if m.starts_with("only analysts") => {
            "Поиск по региону — для аналитиков и администраторов: для роли «просмотр» округа не отмечаются.".into()
        }
        AccountError::Invalid(_) => format!(
            "Имя — от 1 до 64 букв, цифр, «.», «_» или «-»; пароль — не короче {} символов.",
            crate::accounts::MIN_PASSWORD_CHARS
        ),
        other => format!("Не удалось: {other}"),
    }
}

/// `/admin/audit`: the newest entries of the audit log.
pub(crate) async fn audit_page(State(st): State<Arc<AppState>>, Extension(p): Extension<Principal>) -> Html<String> {
    const SHOWN: usize = 500;
    let mut body = format!(
        "<h1>Журнал действий</h1><p class=\"meta\">Последние {SHOWN} записей, новые сверху. Весь журнал — файл \
<code>{}</code> на сервере.</p>",
        esc(&st.accounts.audit_path().display().to_string())
    );
    match st.accounts.audit_tail(SHOWN) {
        Err(e) => {
            let _ = write!(body, "<p class=\"error\">{}</p>", esc(&e.to_string()));
        }
        Ok(entries) => {
            body.push_str(
                "<table><thead><tr><th>Когда</th><th>Кто</th><th>Что</th><th>Подробности</th><th>Адрес</th></tr></thead><tbody>",
            );
            for e in &entries {
                let detail = detail_ru(&e.detail);
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&local_time(&st, &e.at)),
                    esc(&e.who),
                    esc(event_ru(&e.event)),
                    esc(&detail),
                    esc(e.ip.as_deref().unwrap_or(""))
                );
            }
            body.push_str("</tbody></table>");
        }
    }
    Html(layout("Журнал действий", Some(&p), &body))
}

/// An audit entry's details as "запрос: вода · формат: csv", nulls left out.
fn detail_ru(detail: &serde_json::Value) -> String {
    let Some(map) = detail.as_object() else {
        return if detail.is_null() { String::new() } else { detail.to_string() };
    };
    let mut parts = Vec::new();
    for (key, value) in map {
        let text = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) if key == "role" => Role::parse(s).map_or(s.clone(), |r| r.label_ru().into()),
            serde_json::Value::String(s) if key == "authors" => match s.as_str() {
                "names" => "имена".into(),
                "pseudonyms" => "псевдонимы".into(),
                other => other.into(),
            },
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(v) if v.is_empty() => continue,
            other => other.to_string(),
        };
        let label = match key.as_str() {
            "q" | "query" => "запрос",
            "since" => "за",
            "from" => "с",
            "to" => "по",
            "page" => "страница",
            "format" => "формат",
            "name" => "имя",
            "role" => "роль",
            "path" => "адрес",
            "method" => "метод",
            "until" => "до",
            "recipients" => "получатели",
            "episode" => "эпизод",
            "text" => "текст",
            "week" => "неделя",
            "count" => "публикаций",
            "authors" => "авторы",
            "request" => "запрос на удаление",
            "mentions" => "публикации",
            "file" => "файл",
            other => other,
        };
        parts.push(format!("{label}: {text}"));
    }
    parts.join(" · ")
}

fn event_ru(event: &str) -> &str {
    match event {
        "login" => "вход",
        "login_failed" => "неудачный вход",
        "login_locked" => "вход заблокирован",
        "logout" => "выход",
        "forbidden" => "отказано в доступе",
        "csrf_refused" => "отклонена чужая форма",
        "search" => "поиск",
        "export" => "выгрузка",
        "saved_search_created" => "сохранён поиск",
        "saved_search_deleted" => "удалён сохранённый поиск",
        "saved_search_changed" => "изменён сохранённый поиск",
        "user_added" => "создана учётная запись",
        "user_disabled" => "отключена учётная запись",
        "user_districts_changed" => "изменены округа поиска по региону",
        "password_changed" => "сменён пароль",
        "token_created" => "создан токен API",
        "token_revoked" => "отозван токен API",
        "report_made" => "сделан отчёт",
        "episode_note" => "заметка к сигналу",
        "episode_acknowledged" => "сигнал принят в работу",
        "erasure" => "удаление по запросу",
        "erasure_withdrawn" => "запрос на удаление отозван",
        other => other,
    }
}

/// The workspace's one stylesheet, inlined in every page; the
/// Content-Security-Policy allows it by its hash ([`crate::headers`]).
pub(crate) const CSS: &str = "*{box-sizing:border-box}body{font-family:Arial,Helvetica,sans-serif;margin:0;color:#222;line-height:1.4}\
main{max-width:980px;margin:16px auto;padding:0 12px}\
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:8px;padding:8px 12px;background:#1f3a5f;color:#fff}\
header nav{display:flex;flex-wrap:wrap;gap:14px}header a{color:#fff;text-decoration:none;font-weight:bold}\
header .user{display:flex;gap:10px;align-items:center;font-size:14px}header form{margin:0}\
button.link{background:none;border:1px solid #fff;color:#fff;padding:3px 10px;cursor:pointer;font-size:14px}\
form.query{display:flex;gap:8px}input[name=q]{flex:1;min-width:0;font-size:16px;padding:6px}button{font-size:16px;padding:6px 14px}\
.meta{color:#666;font-size:13px}.title{font-weight:bold}.error{color:#b71c1c}.ok{color:#1b5e20}mark{background:#fff59d}\
.hits{padding-left:24px}.hits li{margin:12px 0;padding-left:6px;border-left:3px solid #ddd;overflow-wrap:anywhere}\
.hits li.negative{border-left-color:#c62828}.hits li.positive{border-left-color:#2e7d32}\
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:14px;display:block;overflow-x:auto}\
th,td{border-bottom:1px solid #ddd;padding:6px;text-align:left;vertical-align:top}td code{font-size:12px;overflow-wrap:anywhere}\
td form{margin:0}td button{font-size:13px;padding:3px 8px}\
.stack{display:flex;flex-direction:column;gap:6px;max-width:420px}.stack button{align-self:flex-start;margin-top:6px}.login label{display:flex;flex-direction:column;gap:4px}\
.stack input,.stack select,.login input{font-size:16px;padding:6px}\
.login{max-width:360px;margin:60px auto}.login form{display:flex;flex-direction:column;gap:12px}\
section.panel{margin:18px 0}section.panel h2{font-size:19px;margin:6px 0}\
table.grid td,table.grid th{text-align:center;border:1px solid #fff;min-width:44px}table.grid th[scope=row]{text-align:left;white-space:nowrap}\
table.grid thead th{font-size:12px;font-weight:normal;color:#444;vertical-align:bottom}table.grid td a{color:inherit;display:block;text-decoration:none;font-weight:bold}\
.b0{background:#f5f5f5;color:#999}.b1{background:#e8f5e9}.b2{background:#fff9c4}.b3{background:#ffe0b2}.b4{background:#ffab91}.b5{background:#e53935;color:#fff}\
td.open{outline:2px solid #b71c1c;outline-offset:-2px}.legend{font-size:12px;color:#555}.sw.open{width:auto;height:auto;color:#b71c1c}\
ul.episodes,ul.flagged{padding-left:0;list-style:none}ul.episodes li,ul.flagged li{margin:6px 0;padding-left:8px;border-left:4px solid #9e9e9e}\
ul.episodes li.bad,ul.flagged li.bad{border-left-color:#c62828}ul.episodes li.warn,ul.flagged li.warn{border-left-color:#ef6c00}.sw.cmp{background:#ef6c00}\
details.filters{margin:8px 0}details.filters form{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end;margin-top:6px}\
details.filters label{display:flex;flex-direction:column;font-size:13px;gap:2px}details.filters select{font-size:14px;padding:4px;max-width:100%}\
.results{display:grid;grid-template-columns:minmax(0,1fr) 220px;gap:20px}\
.facets h3{font-size:14px;margin:12px 0 4px}.facets ul{list-style:none;padding:0;margin:0;font-size:14px}.facets li{margin:2px 0}\
.chart{margin:8px 0}.chart svg{width:100%;height:160px;display:block}.chart .axis{font-size:11px;fill:#666}\
.chart figcaption{font-size:12px;color:#666}.sw{display:inline-block;width:10px;height:10px;margin:0 3px 0 8px}\
.sw.neg{background:#c62828}.sw.neu{background:#9e9e9e}.sw.pos{background:#2e7d32}.pager a{margin-right:16px}\
blockquote{margin:12px 0;padding:8px 12px;border-left:4px solid #ddd;background:#fafafa;white-space:pre-wrap;overflow-wrap:anywhere}\
blockquote.negative{border-left-color:#c62828}blockquote.positive{border-left-color:#2e7d32}\
table.fields{display:table;width:auto}table.fields th{width:180px;color:#555;font-weight:normal}ul.plain{padding-left:18px}\
tr.bad td:first-child{border-left:4px solid #c62828}tr.warn td:first-child{border-left:4px solid #ef6c00}\
tr.good td:first-child{border-left:4px solid #2e7d32}\
section.episode{border:1px solid #ddd;border-left:5px solid #9e9e9e;border-radius:4px;padding:4px 12px 10px;margin:14px 0}\
section.episode.bad{border-left-color:#c62828}section.episode.warn{border-left-color:#ef6c00}\
section.episode h2{font-size:18px;margin:8px 0 2px}ul.evidence,ul.notes{padding-left:18px;font-size:14px}\
form.note{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end}form.note label{display:flex;flex-direction:column;font-size:13px}\
form.note textarea{width:min(480px,80vw);font-size:14px}label.check{display:inline-flex;gap:4px;align-items:center;margin-right:12px}\
fieldset{border:1px solid #ccc;margin:8px 0}form.note label.check{flex-direction:row;gap:4px;align-items:center}\
.muted{color:#666;font-size:13px}.badge{font-size:12px;background:#e8f5e9;color:#1b5e20;padding:1px 6px;border-radius:8px;white-space:nowrap}\
.overdue{color:#b71c1c;font-weight:bold}tr.late td:first-child{border-left:4px solid #c62828}\
form.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:8px 0;font-size:14px}\
table.facts{display:table;width:auto}table.facts th{width:190px;color:#555;font-weight:normal}\
.actions{display:flex;flex-wrap:wrap;gap:12px}form.card{display:flex;flex-direction:column;gap:6px;border:1px solid #ddd;border-radius:4px;padding:8px 12px;width:min(440px,100%)}\
form.card label{display:flex;flex-direction:column;font-size:13px;gap:2px}form.card textarea,form.card input,form.card select{font-size:14px;padding:4px;max-width:100%}\
form.card button{align-self:flex-start}\
@media (max-width:700px){.results{grid-template-columns:1fr}}";
