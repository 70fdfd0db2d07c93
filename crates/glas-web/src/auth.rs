//! The gate in front of every page and API call: who is asking (a session
//! cookie or an `Authorization: Bearer` token), whether their role may, and
//! whether a form or API change came from the workspace itself (CSRF). Also
//! the login and logout pages.
//!
//! - No session: pages answer 303 to `/login?next=...` (and go back there
//!   after the login, so alert emails' links keep working); `/api/...`
//!   answers 401 JSON.
//! - A role below the path's ([`required_role`]): 403, logged.
//! - A change (any method but GET and HEAD) made with a session cookie must
//!   carry the session's CSRF token, as the form field `csrf` or the header
//!   `X-CSRF-Token`. API tokens are not sent by browsers on their own and
//!   need none.
//! - Failed logins wait a second before the answer and lock the account for
//!   [`LOCK_WINDOW`] after [`crate::accounts::MAX_FAILURES`]; every attempt
//!   is logged.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Form, FromRequest as _, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use glas_core::ru::escape_html as esc;
use serde::Deserialize;

use crate::accounts::{LOCK_WINDOW, LoginRefused, Principal, Role, SESSION_HOURS};
use crate::{ApiError, AppState};

/// The session cookie.
pub const SESSION_COOKIE: &str = "glas_session";
/// The login form's own CSRF cookie (before there is a session).
const LOGIN_COOKIE: &str = "glas_login";

/// The least role a request needs. A viewer reads signals and reports; an
/// analyst also writes notes on signals and makes reports.
pub fn required_role(method: &Method, path: &str) -> Role {
    const ANALYST: [&str; 9] = [
        "/search",
        "/searches",
        "/sources",
        "/signals/note",
        "/api/search",
        "/api/region",
        "/api/facets",
        "/api/export",
        "/api/searches",
    ];
    let change = !matches!(*method, Method::GET | Method::HEAD);
    let under = |p: &str| path == p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'));
    // Services reach their incidents, the landing page (which sends them
    // there) and logout; each handler narrows what a role sees and changes.
    if under("/incidents") || under("/api/incidents") || path == "/" || path == "/logout" {
        return Role::Service;
    }
    if path == "/admin" || path.starts_with("/admin/") {
        Role::Admin
    } else if ANALYST.iter().any(|p| under(p)) || (change && (path == "/reports" || under("/plan"))) {
        Role::Analyst
    } else {
        Role::Viewer
    }
}

/// Paths open without a session.
fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/favicon.ico")
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn client_ip(req: &Request) -> Option<String> {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// Whether the request reached us over TLS (a proxy in front says so).
fn over_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, same_site: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}"
    ))
    .expect("cookie values are hex")
}

/// Who is asking, by token or session cookie.
fn principal(st: &AppState, headers: &HeaderMap) -> Option<Principal> {
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer "))?;
        return st.accounts.bearer(token.trim());
    }
    st.accounts.session(cookie(headers, SESSION_COOKIE)?, Utc::now())
}

/// The principal of a request that passed the gate.
pub fn who(req_extensions: &axum::http::Extensions) -> String {
    req_extensions.get::<Principal>().map_or_else(|| "?".to_string(), |p| p.name.clone())
}

fn unauthorized() -> Response {
    let mut r = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "log in at /login or send Authorization: Bearer TOKEN (glas token create NAME)",
        "нужен вход: страница /login или заголовок Authorization: Bearer с токеном",
    )
    .into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

fn forbidden(api: bool, reason_ru: &str) -> Response {
    if api {
        return ApiError::new(StatusCode::FORBIDDEN, "forbidden", "your role does not allow this", reason_ru)
            .into_response();
    }
    let body = format!("<h1>Нет доступа</h1><p>{}</p><p><a href=\"/\">На главную</a></p>", esc(reason_ru));
    (StatusCode::FORBIDDEN, Html(crate::page::layout("Нет доступа", None, &body))).into_response()
}

/// The middleware: see the module's documentation.
pub async fn gate(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if is_public(&path) {
        return next.run(req).await;
    }
    let api = is_api(&path);
    let Some(mut p) = principal(&st, req.headers()) else {
        if api {
            return unauthorized();
        }
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str()).to_string();
        let next = url::form_urlencoded::Serializer::new(String::new()).append_pair("next", &target).finish();
        return Redirect::to(&format!("/login?{next}")).into_response();
    };
    let ip = client_ip(&req);
    p.ip = ip.clone();
    let need = required_role(req.method(), &path);
    if p.role < need {
        st.accounts.record(
            &p.name,
            "forbidden",
            serde_json::json!({"path": path, "method": req.method().as_str(), "role": p.role.as_str()}),
            ip,
        );
        return forbidden(api, &format!("Эта страница — для роли «{}» и выше.", need.label_ru()));
    }
    let mut req = req;
    if !matches!(*req.method(), Method::GET | Method::HEAD)
        && let Some(csrf) = p.csrf.clone()
    {
        let (ok, rebuilt) = csrf_ok(req, &csrf).await;
        let Some(rebuilt) = rebuilt else {
            return ApiError::bad_request("the request body could not be read", "не удалось прочитать запрос")
                .into_response();
        };
        req = rebuilt;
        if !ok {
            st.accounts.record(&p.name, "csrf_refused", serde_json::json!({"path": path}), ip);
            return forbidden(api, "Форма устарела или отправлена не со страницы glas. Обновите страницу и повторите.");
        }
    }
    req.extensions_mut().insert(p);
    next.run(req).await
}

/// Whether a change carries the session's CSRF token, in the header or as a
/// form field; the request is handed back whole (its body re-made if read).
async fn csrf_ok(req: Request, csrf: &str) -> (bool, Option<Request>) {
    if req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()) == Some(csrf) {
        return (true, Some(req));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (false, Some(req));
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else { return (false, None) };
    let ok = url::form_urlencoded::parse(&bytes).any(|(k, v)| k == "csrf" && v == csrf);
    (ok, Some(Request::from_parts(parts, Body::from(bytes))))
}

/// Only a path of this server: never another site (`//host`, `https://`);
/// bytes that a Location header cannot carry (letters outside ASCII, spaces,
/// line breaks) percent-encoded.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") && !n.starts_with("/login") => {
            let mut out = String::with_capacity(n.len());
            for b in n.bytes() {
                if (0x21..=0x7e).contains(&b) {
                    out.push(char::from(b));
                } else {
                    let _ = write!(out, "%{b:02X}");
                }
            }
            out
        }
        _ => "/".to_string(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

fn login_page(next: &str, error: Option<&str>, secure: bool, status: StatusCode) -> Response {
    let token = crate::accounts::random_token();
    let mut body = String::from("<div class=\"login\"><h1>Вход в glas</h1>");
    if let Some(e) = error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(e));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/login\">\
<label>Имя пользователя<input name=\"username\" autocomplete=\"username\" required autofocus></label>\
<label>Пароль<input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
<input type=\"hidden\" name=\"csrf\" value=\"{token}\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
<button>Войти</button></form>\
<p class=\"meta\">Учётную запись выдаёт администратор glas.</p></div>",
        esc(next)
    );
    let mut r = (status, Html(crate::page::layout("Вход", None, &body))).into_response();
    r.headers_mut().insert(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &token, "/login", 3600, "Strict", secure));
    r
}

pub(crate) async fn login_get(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if principal(&st, &headers).is_some() {
        return Redirect::to(&next).into_response();
    }
    login_page(&next, None, over_tls(&headers), StatusCode::OK)
}

pub(crate) async fn login_post(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let ip = client_ip(&req);
    let headers = req.headers().clone();
    let secure = over_tls(&headers);
    let Ok(Form(form)) = Form::<LoginForm>::from_request(req, &()).await else {
        return login_page("/", Some("Форма входа заполнена неверно."), secure, StatusCode::BAD_REQUEST);
    };
    let next = safe_next(form.next.as_deref());
    if form.csrf.is_empty() || cookie(&headers, LOGIN_COOKIE) != Some(form.csrf.as_str()) {
        return login_page(
            &next,
            Some("Страница входа устарела. Введите имя и пароль ещё раз."),
            secure,
            StatusCode::FORBIDDEN,
        );
    }
    let name = form.username.trim().to_string();
    let accounts = st.accounts.clone();
    let (n, password) = (name.clone(), form.password);
    let result = tokio::task::spawn_blocking(move || accounts.login(&n, &password, Utc::now()))
        .await
        .unwrap_or_else(|e| Err(LoginRefused::Unavailable(e.to_string())));
    match result {
        Ok((id, p)) => {
            st.accounts.record(&p.name, "login", serde_json::json!({"role": p.role.as_str()}), ip);
            let mut r = Redirect::to(&next).into_response();
            let h = r.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &id, "/", SESSION_HOURS * 3600, "Lax", secure));
            h.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", "/login", 0, "Strict", secure));
            r
        }
        Err(LoginRefused::Locked(until)) => {
            st.accounts.record(&name, "login_locked", serde_json::json!({"until": until.to_rfc3339()}), ip);
            let local = until.with_timezone(&st.tz).format("%H:%M");
            let msg = format!(
                "Слишком много неудачных попыток. Вход для этой учётной записи закрыт до {local} ({} мин).",
                LOCK_WINDOW.num_minutes()
            );
            login_page(&next, Some(&msg), secure, StatusCode::TOO_MANY_REQUESTS)
        }
        Err(LoginRefused::Unavailable(e)) => {
            tracing::error!(error = %e, "login failed: the account database");
            let msg = "Вход временно невозможен: база учётных записей недоступна. Сообщите администратору.";
            login_page(&next, Some(msg), secure, StatusCode::SERVICE_UNAVAILABLE)
        }
        Err(LoginRefused::Wrong) => {
            st.accounts.record(&name, "login_failed", serde_json::Value::Null, ip);
            // Slows guessing down; the lock stops it.
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            login_page(&next, Some("Неверное имя пользователя или пароль."), secure, StatusCode::UNAUTHORIZED)
        }
    }
}

pub(crate) async fn logout(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let secure = over_tls(req.headers());
    if let Some(id) = cookie(req.headers(), SESSION_COOKIE)
        && let Err(e) = st.accounts.logout(id)
    {
        tracing::error!(error = %e, "cannot end a session");
    }
    st.accounts.record(&who(req.extensions()), "logout", serde_json::Value::Null, client_ip(&req));
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", "/", 0, "Lax", secure));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_of_requests() {
        let required_role = |path: &str| super::required_role(&Method::GET, path);
        // The landing page sends a service to its incidents.
        assert_eq!(required_role("/"), Role::Service);
        assert_eq!(required_role("/api/mentions/x"), Role::Viewer);
        assert_eq!(required_role("/mentions/x"), Role::Viewer, "a service reads its incidents' snippets only");
        assert_eq!(required_role("/incidents"), Role::Service);
        assert_eq!(super::required_role(&Method::POST, "/incidents/3"), Role::Service);
        assert_eq!(required_role("/api/incidents/3"), Role::Service);
        assert_eq!(required_role("/incidentsx"), Role::Viewer);
        assert_eq!(required_role("/plan"), Role::Viewer);
        assert_eq!(super::required_role(&Method::POST, "/plan/3/delete"), Role::Analyst);
        assert_eq!(required_role("/search"), Role::Analyst);
        assert_eq!(required_role("/searchesx"), Role::Viewer, "a prefix is not the path");
        assert_eq!(required_role("/searches/Вода/delete"), Role::Analyst);
        assert_eq!(required_role("/api/searches/Вода"), Role::Analyst);
        assert_eq!(required_role("/api/export"), Role::Analyst);
        assert_eq!(required_role("/admin/audit"), Role::Admin);
        assert_eq!(required_role("/administration"), Role::Viewer);
        // Reading signals and reports is a viewer's; writing to them an analyst's.
        assert_eq!(required_role("/reports"), Role::Viewer);
        assert_eq!(super::required_role(&Method::POST, "/reports"), Role::Analyst);
        assert_eq!(super::required_role(&Method::POST, "/signals/note"), Role::Analyst);
        assert_eq!(required_role("/signals"), Role::Viewer);
    }

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next(Some("/search?q=topic%3Awater")), "/search?q=topic%3Awater");
        // A Location header carries ASCII only, and never a line break.
        assert_eq!(safe_next(Some("/search?q=вода")), "/search?q=%D0%B2%D0%BE%D0%B4%D0%B0");
        assert_eq!(safe_next(Some("/x\r\nSet-Cookie: a=b")), "/x%0D%0ASet-Cookie:%20a=b");
        for bad in ["https://evil.example/", "//evil.example/", "/\\evil.example", "/login?next=/", "search"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; glas_session=abc; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
