//! The workspace's accounts, roles, sessions, CSRF and audit log, through
//! its routes (no browser), and `glas user` / `glas token` from the CLI.

use std::io::Write as _;
use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use glas_web::accounts::Role;
use tower::ServiceExt as _;

use crate::search::{App, app};
use crate::support::*;

/// A response's status, headers and body.
pub(crate) struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).map_or("", |v| v.to_str().unwrap())
    }

    /// The value a response sets for a cookie ("" when it clears it).
    fn cookie(&self, name: &str) -> Option<(String, String)> {
        self.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).find_map(|c| {
            let (kv, attrs) = c.split_once(';').unwrap_or((&c, ""));
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| (v.to_string(), attrs.to_string()))
        })
    }

    /// The hidden `csrf` field of the first form on the page.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no csrf field: {}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

/// One request; `cookies` as a Cookie header, `form` as a urlencoded body.
pub(crate) async fn send(app: &App, method: &str, uri: &str, cookies: &str, form: Option<&[(&str, &str)]>) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    if !cookies.is_empty() {
        req = req.header(header::COOKIE, cookies);
    }
    let body = match form {
        Some(fields) => {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                s.append_pair(k, v);
            }
            Body::from(s.finish())
        }
        None => Body::empty(),
    };
    let resp = app.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20).await.unwrap();
    Resp { status, headers, body: String::from_utf8(bytes.to_vec()).unwrap() }
}

async fn with_token(app: &App, token: &str, uri: &str) -> Resp {
    let req = Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20).await.unwrap();
    Resp { status, headers, body: String::from_utf8(bytes.to_vec()).unwrap() }
}

/// Logs in through the form as a browser would; returns the session cookie
/// ("glas_session=...") and the login's answer.
pub(crate) async fn log_in(app: &App, name: &str, password: &str, next: &str) -> (String, Resp) {
    let page = send(app, "GET", &format!("/login?next={}", enc(next)), "", None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let (login_cookie, attrs) = page.cookie("glas_login").expect("the login form sets its CSRF cookie");
    assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"), "{attrs}");
    let csrf = page.csrf();
    let fields = [("username", name), ("password", password), ("csrf", csrf.as_str()), ("next", next)];
    let r = send(app, "POST", "/login", &format!("glas_login={login_cookie}"), Some(&fields)).await;
    let session = r.cookie("glas_session").map(|(v, _)| format!("glas_session={v}")).unwrap_or_default();
    (session, r)
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) fn audit(data: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn workspace() -> (tempfile::TempDir, App) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let app = app(&data);
    let a = &app.state.accounts;
    a.add_user("глава", Role::Viewer, "пароль главы").unwrap();
    a.add_user("анна", Role::Analyst, "пароль анны").unwrap();
    a.add_user("админ", Role::Admin, "пароль админа").unwrap();
    (tmp, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_pages_go_to_the_login_and_back_and_the_api_answers_401() {
    let (tmp, app) = workspace();
    let r = send(&app, "GET", "/api/search?q=%D0%B2%D0%BE%D0%B4%D0%B0", "", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["error"], "unauthorized");
    for path in ["/api/openapi.json", "/api/mentions/x", "/api/nope", "/api"] {
        assert_eq!(send(&app, "GET", path, "", None).await.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // A link from an alert email: to the login, and back after it.
    let link = "/search?q=topic%3Awater&since=7d";
    let r = send(&app, "GET", link, "", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), format!("/login?next={}", enc(link)));
    let (session, r) = log_in(&app, "анна", "пароль анны", link).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, link));
    let (_, attrs) = r.cookie("glas_session").unwrap();
    assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax") && attrs.contains("Max-Age="), "{attrs}");
    assert!(!attrs.contains("Secure"), "plain HTTP on loopback: {attrs}");
    let page = send(&app, "GET", link, &session, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Найдено:") && page.body.contains("анна") && page.body.contains("Выйти"),
        "{}",
        page.body
    );
    // A session of the API too (reads need no CSRF token).
    assert_eq!(
        send(&app, "GET", "/api/search?q=%D0%B2%D0%BE%D0%B4%D0%B0", &session, None).await.status,
        StatusCode::OK
    );
    // Never back to another site; a target typed with Russian letters is
    // encoded, not a broken Location header.
    let (_, r) = log_in(&app, "анна", "пароль анны", "//evil.example/x").await;
    assert_eq!(r.location(), "/");
    let (_, r) = log_in(&app, "анна", "пароль анны", "/search?q=вода").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/search?q=%D0%B2%D0%BE%D0%B4%D0%B0"));

    // Logout needs the form's CSRF token, then ends the session.
    let r = send(&app, "POST", "/logout", &session, Some(&[])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(&app, "POST", "/logout", &session, Some(&[("csrf", page.csrf().as_str())])).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login"));
    assert_eq!(send(&app, "GET", "/", &session, None).await.status, StatusCode::SEE_OTHER);

    let log = audit(&tmp.path().join("data"));
    let events: Vec<(&str, &str)> =
        log.iter().map(|e| (e["who"].as_str().unwrap(), e["event"].as_str().unwrap())).collect();
    for want in [("анна", "login"), ("анна", "search"), ("анна", "csrf_refused"), ("анна", "logout")] {
        assert!(events.contains(&want), "{want:?} in {events:?}");
    }
    assert!(
        !std::fs::read_to_string(tmp.path().join("data/audit.jsonl")).unwrap().contains("пароль"),
        "no password logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_refused_slowly_then_locked_and_logged() {
    let (tmp, app) = workspace();
    let started = std::time::Instant::now();
    let (session, r) = log_in(&app, "анна", "не тот пароль", "/").await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "a failure waits before answering");
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(session.is_empty());
    assert!(r.body.contains("Неверное имя пользователя или пароль"), "{}", r.body);
    // A form posted without the login page's cookie is refused.
    let r = send(&app, "POST", "/login", "", Some(&[("username", "анна"), ("password", "пароль анны"), ("csrf", "x")]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for _ in 0..4 {
        log_in(&app, "анна", "не тот пароль", "/").await;
    }
    // Locked now, even with the right password.
    let (session, r) = log_in(&app, "анна", "пароль анны", "/").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(session.is_empty());
    assert!(r.body.contains("Слишком много неудачных попыток"), "{}", r.body);
    // Other accounts are not locked.
    assert_eq!(log_in(&app, "админ", "пароль админа", "/").await.1.status, StatusCode::SEE_OTHER);
    let log = audit(&tmp.path().join("data"));
    let failed = log.iter().filter(|e| e["event"] == "login_failed" && e["who"] == "анна").count();
    // The fifth failure locks: it and the attempt after it are logged as such.
    assert_eq!(failed, 4);
    assert_eq!(log.iter().filter(|e| e["event"] == "login_locked" && e["who"] == "анна").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_security_headers_and_a_report_its_own_policy() {
    let (tmp, app) = workspace();
    let (session, _) = log_in(&app, "глава", "пароль главы", "/").await;
    let reports = tmp.path().join("data/reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(reports.join("weekly-2026-W48.html"), "<html><style>p{}</style><p>отчёт</p></html>").unwrap();
    let header = |r: &Resp, name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_string());
    // The login page, a page, a refusal, the API's 401, a missing page.
    for (path, cookies) in
        [("/login", ""), ("/", session.as_str()), ("/admin/users", &session), ("/api", ""), ("/nope", &session)]
    {
        let r = send(&app, "GET", path, cookies, None).await;
        let csp = header(&r, "content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe") && !csp.contains("script"), "{csp}");
        assert_eq!(header(&r, "x-frame-options").as_deref(), Some("DENY"), "{path}");
        assert_eq!(header(&r, "x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert_eq!(header(&r, "referrer-policy").as_deref(), Some("same-origin"), "{path}");
    }
    // A report's HTML: its own inline style, sandboxed, no scripts.
    let r = send(&app, "GET", "/reports/weekly-2026-W48.html", &session, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = header(&r, "content-security-policy").unwrap();
    assert!(csp.contains("style-src 'unsafe-inline'") && csp.ends_with("sandbox") && !csp.contains("script"), "{csp}");
    assert_eq!(header(&r, "x-content-type-options").as_deref(), Some("nosniff"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_its_own_and_is_refused_the_rest() {
    let (tmp, app) = workspace();
    // The head: the home page, not search, export or accounts.
    let (viewer, _) = log_in(&app, "глава", "пароль главы", "/").await;
    let home = send(&app, "GET", "/", &viewer, None).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("<h1>Обзор</h1>") && !home.body.contains("href=\"/search"), "{}", home.body);
    // An empty data folder: each panel says why it has nothing to show.
    for empty in ["Индекс напряжённости ещё не рассчитан", "Открытых эпизодов нет", "Публикаций пока нет"]
    {
        assert!(home.body.contains(empty), "{empty}: {}", home.body);
    }
    for path in ["/search?q=%D0%B2%D0%BE%D0%B4%D0%B0", "/admin/users", "/admin/audit"] {
        let r = send(&app, "GET", path, &viewer, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.body.contains("Нет доступа"), "{}", r.body);
    }
    // Reports are read by a viewer, made by an analyst.
    let reports = send(&app, "GET", "/reports", &viewer, None).await;
    assert_eq!(reports.status, StatusCode::OK);
    let r =
        send(&app, "POST", "/reports", &viewer, Some(&[("csrf", home.csrf().as_str()), ("week", "2026-W48")])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(&app, "GET", "/api/export?q=%D0%B2%D0%BE%D0%B4%D0%B0&format=csv", &viewer, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["error"], "forbidden");

    // An analyst: search and export, not accounts.
    let (analyst, _) = log_in(&app, "анна", "пароль анны", "/").await;
    let home = send(&app, "GET", "/", &analyst, None).await;
    assert!(home.body.contains("href=\"/search\"") && !home.body.contains("href=\"/admin/users\""));
    let r = send(&app, "GET", "/api/export?q=%D0%B2%D0%BE%D0%B4%D0%B0&format=csv", &analyst, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(send(&app, "GET", "/admin/users", &analyst, None).await.status, StatusCode::FORBIDDEN);

    // An administrator: accounts and the audit log; adds an account by the form.
    let (admin, _) = log_in(&app, "админ", "пароль админа", "/").await;
    let users = send(&app, "GET", "/admin/users", &admin, None).await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.body.contains("глава") && users.body.contains("просмотр"), "{}", users.body);
    let csrf = users.csrf();
    let form = [("csrf", csrf.as_str()), ("name", "пётр"), ("role", "analyst"), ("password", "пароль петра")];
    let r = send(&app, "POST", "/admin/users", &admin, Some(&form)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.contains("Учётная запись «пётр» создана"), "{}", r.body);
    let r = send(&app, "POST", "/admin/users", &admin, Some(&form)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("уже есть"), "{}", r.body);
    let short = [("csrf", csrf.as_str()), ("name", "ольга"), ("role", "viewer"), ("password", "123")];
    assert_eq!(send(&app, "POST", "/admin/users", &admin, Some(&short)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(log_in(&app, "пётр", "пароль петра", "/").await.1.status, StatusCode::SEE_OTHER);
    // Without the CSRF token the same form is refused and nothing changes.
    let forged = [("name", "взломщик"), ("role", "admin"), ("password", "пароль взломщика")];
    assert_eq!(send(&app, "POST", "/admin/users", &admin, Some(&forged)).await.status, StatusCode::FORBIDDEN);
    assert!(!app.state.accounts.users().unwrap().iter().any(|u| u.name == "взломщик"));
    // Disabling ends the account's sessions.
    let (peter, _) = log_in(&app, "пётр", "пароль петра", "/").await;
    let r =
        send(&app, "POST", &format!("/admin/users/{}/disable", enc("пётр")), &admin, Some(&[("csrf", &csrf)])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(send(&app, "GET", "/", &peter, None).await.status, StatusCode::SEE_OTHER);

    let audit_page = send(&app, "GET", "/admin/audit", &admin, None).await;
    assert_eq!(audit_page.status, StatusCode::OK);
    for word in ["отказано в доступе", "выгрузка", "создана учётная запись", "отключена учётная запись"]
    {
        assert!(audit_page.body.contains(word), "{word}: {}", audit_page.body);
    }
    let log = audit(&tmp.path().join("data"));
    let export = log.iter().find(|e| e["event"] == "export").unwrap();
    assert_eq!((export["who"].as_str(), export["detail"]["q"].as_str()), (Some("анна"), Some("вода")));
    assert!(log.iter().any(|e| e["event"] == "forbidden" && e["who"] == "глава" && e["detail"]["path"] == "/search"));
    assert!(log.iter().any(|e| e["event"] == "forbidden" && e["who"] == "глава" && e["detail"]["path"] == "/reports"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_carry_a_role_and_stop_working_when_revoked() {
    let (_tmp, app) = workspace();
    let viewer = app.state.accounts.create_token("табло", Role::Viewer).unwrap();
    assert_eq!(with_token(&app, &viewer, "/api/openapi.json").await.status, StatusCode::OK);
    assert_eq!(with_token(&app, &viewer, "/api/search?q=%D0%B2%D0%BE%D0%B4%D0%B0").await.status, StatusCode::FORBIDDEN);
    assert_eq!(with_token(&app, &app.token, "/api/search?q=%D0%B2%D0%BE%D0%B4%D0%B0").await.status, StatusCode::OK);
    assert_eq!(
        with_token(&app, "glas_forged", "/api/search?q=%D0%B2%D0%BE%D0%B4%D0%B0").await.status,
        StatusCode::UNAUTHORIZED
    );
    // A change by token needs no CSRF token: browsers do not send tokens.
    let req = Request::post("/api/searches")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"name": "Газ", "query": "topic:gas", "to": []}"#))
        .unwrap();
    assert_eq!(app.router.clone().oneshot(req).await.unwrap().status(), StatusCode::CREATED);
    assert!(app.state.accounts.revoke_token("tests").unwrap());
    assert_eq!(
        with_token(&app, &app.token, "/api/search?q=%D0%B2%D0%BE%D0%B4%D0%B0").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn user_and_token_commands_manage_accounts_with_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let with_stdin = |args: &[&str], input: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_glas"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let r =
        with_stdin(&["user", "add", "admin", "--role", "admin", "--password-stdin", "--data", d], "длинный пароль\n");
    assert!(r.status.success(), "{}", stderr(&r));
    let r =
        with_stdin(&["user", "add", "admin", "--role", "admin", "--password-stdin", "--data", d], "другой пароль\n");
    assert_eq!(r.status.code(), Some(2), "an existing name");
    assert!(stderr(&r).contains("already exists"), "{}", stderr(&r));
    let r = with_stdin(&["user", "add", "olga", "--role", "viewer", "--password-stdin", "--data", d], "short\n");
    assert_eq!(r.status.code(), Some(2));
    assert!(stderr(&r).contains("at least 8"), "{}", stderr(&r));
    let r = with_stdin(&["user", "add", "olga", "--role", "boss", "--password-stdin", "--data", d], "long enough\n");
    assert_eq!(r.status.code(), Some(2), "an unknown role");
    // Without a terminal and without --password-stdin: a clear error.
    let r = with_stdin(&["user", "add", "olga", "--role", "viewer", "--data", d], "");
    assert!(!r.status.success());
    assert!(stderr(&r).contains("--password-stdin"), "{}", stderr(&r));

    let list = glas(&["user", "list", "--json", "--data", d]);
    let users: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!((users[0]["name"].as_str(), users[0]["role"].as_str()), (Some("admin"), Some("admin")));

    // The region's other districts an account's search covers.
    let r = with_stdin(
        &["user", "add", "olga", "--role", "viewer", "--districts", "sosed", "--password-stdin", "--data", d],
        "long enough\n",
    );
    assert_eq!(r.status.code(), Some(2), "a viewer does not search: {}", stderr(&r));
    assert!(glas(&["user", "districts", "admin", "sosed, kursk", "--data", d]).status.success());
    assert_eq!(glas(&["user", "districts", "admin", "a b", "--data", d]).status.code(), Some(2));
    assert_eq!(glas(&["user", "districts", "nobody", "all", "--data", d]).status.code(), Some(2));
    let list = glas(&["user", "list", "--json", "--data", d]);
    let users: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(users[0]["districts"], "sosed,kursk");
    assert!(stdout(&glas(&["user", "list", "--data", d])).contains("округа: sosed,kursk"));

    let r = with_stdin(&["user", "passwd", "admin", "--password-stdin", "--data", d], "новый длинный пароль\n");
    assert!(r.status.success(), "{}", stderr(&r));
    let accounts = glas_web::accounts::Accounts::open(&data).unwrap();
    assert!(accounts.login("admin", "новый длинный пароль", chrono::Utc::now()).is_ok());
    assert!(accounts.login("admin", "длинный пароль", chrono::Utc::now()).is_err());
    drop(accounts);
    assert!(glas(&["user", "disable", "admin", "--data", d]).status.success());
    assert_eq!(glas(&["user", "disable", "nobody", "--data", d]).status.code(), Some(2));

    let r = glas(&["token", "create", "bot", "--role", "viewer", "--data", d]);
    assert!(r.status.success(), "{}", stderr(&r));
    let secret = stdout(&r).trim().to_string();
    assert!(secret.starts_with("glas_") && secret.len() > 40, "{secret}");
    let listed = stdout(&glas(&["token", "list", "--data", d]));
    assert!(listed.contains("bot") && !listed.contains(&secret), "{listed}");
    assert!(glas(&["token", "revoke", "bot", "--data", d]).status.success());
    assert_eq!(glas(&["token", "revoke", "bot2", "--data", d]).status.code(), Some(2));

    let log = audit(&data);
    let events: Vec<&str> = log.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        ["user_added", "user_districts_changed", "password_changed", "user_disabled", "token_created", "token_revoked"]
    );
    assert!(log.iter().all(|e| e["who"].as_str().unwrap().starts_with("cli:")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn episodes_take_notes_from_analysts_with_clear_refusals() {
    let (tmp, app) = workspace();
    let analytics = tmp.path().join("data/analytics");
    std::fs::create_dir_all(&analytics).unwrap();
    let signal = |at: &str, phase: &str| {
        serde_json::json!({
            "detected_at": at, "kind": "tension", "topic": "water", "place": "Величаевское",
            "severity": "high", "score": 9.0, "window": "6h", "count": 9, "baseline": 0.4,
            "negative_share": 1.0, "evidence": ["s:1"], "params": {"phase": phase, "tail_p": 0.0001}
        })
        .to_string()
    };
    let lines = [signal("2026-11-23T07:30:00+03:00", "opened"), signal("2026-11-23T09:00:00+03:00", "escalated")];
    std::fs::write(analytics.join("signals.jsonl"), lines.join("\n") + "\n{torn").unwrap();

    let (viewer, _) = log_in(&app, "глава", "пароль главы", "/").await;
    let page = send(&app, "GET", "/signals", &viewer, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("водоснабжение, Величаевское") && page.body.contains("открыт 23.11 07:30"),
        "{}",
        page.body
    );
    assert!(page.body.contains("усилился 23.11 09:00") && page.body.contains("9 публикаций за 6 ч"), "{}", page.body);
    assert!(!page.body.contains("<textarea"), "a viewer gets no note form");
    let episode = "tension|water|Величаевское@2026-11-23T07:30:00+03:00";
    let csrf = page.csrf();
    let r = send(&app, "POST", "/signals/note", &viewer, Some(&[("csrf", &csrf), ("episode", episode), ("text", "x")]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a viewer cannot write notes");

    let (analyst, _) = log_in(&app, "анна", "пароль анны", "/").await;
    let page = send(&app, "GET", "/signals", &analyst, None).await;
    let csrf = page.csrf();
    let note = |text: &'static str, ack: bool| {
        let mut f = vec![("csrf", csrf.clone()), ("episode", episode.to_string()), ("text", text.to_string())];
        if ack {
            f.push(("ack", "1".into()));
        }
        f
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let app = &app;
        let analyst = analyst.clone();
        async move {
            let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(app, "POST", "/signals/note", &analyst, Some(&refs)).await
        }
    };
    assert_eq!(post(note("", false)).await.status, StatusCode::BAD_REQUEST, "an empty note");
    let mut unknown = note("текст", false);
    unknown[1].1 = "tension|gas|-@2026-01-01T00:00:00+03:00".into();
    assert_eq!(post(unknown).await.status, StatusCode::NOT_FOUND, "an episode no longer listed");
    let mut forged = note("текст", false);
    forged.remove(0);
    assert_eq!(post(forged).await.status, StatusCode::FORBIDDEN, "no CSRF token");
    let r = post(note("Выехала бригада", true)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = send(&app, "GET", "/signals", &viewer, None).await;
    assert!(page.body.contains("Принят в работу: анна") && page.body.contains("Выехала бригада"), "{}", page.body);
    let log = audit(&tmp.path().join("data"));
    assert!(log.iter().any(|e| e["event"] == "episode_acknowledged" && e["detail"]["episode"] == episode));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_are_saved_from_the_page_with_recipients_and_deleted() {
    let (tmp, app) = workspace();
    let (analyst, _) = log_in(&app, "анна", "пароль анны", "/").await;
    let page = send(&app, "GET", "/search?q=topic%3Awater", &analyst, None).await;
    assert!(page.body.contains("Сохранить этот поиск"), "{}", page.body);
    let csrf = page.csrf();
    let save = |name: &'static str, query: &'static str, to: &'static str| {
        let fields = [("csrf", csrf.clone()), ("name", name.into()), ("query", query.into()), ("to", to.into())];
        let (app, analyst) = (&app, analyst.clone());
        async move {
            let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(app, "POST", "/searches", &analyst, Some(&refs)).await
        }
    };
    let r = save("Водоснабжение", "topic:water", "head@levokumsky.example, press@levokumsky.example").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.contains("press@levokumsky.example"), "{}", r.body);
    let r = save("Водоснабжение", "topic:water", "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("уже есть"), "{}", r.body);
    let r = save("Плохой адрес", "topic:water", "не-почта").await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("Не адрес почты"), "{}", r.body);
    let r = save("Плохой запрос", "вода AND (газ", "").await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("Запрос с ошибкой"), "{}", r.body);
    // The API sees what the page saved.
    let listed = with_token(&app, &app.token, "/api/searches").await;
    assert!(listed.body.contains("Водоснабжение") && listed.body.contains("head@levokumsky.example"));
    // Edited: a mistake shows the form again as typed; then saved.
    let edit = format!("/searches/{}/edit", enc("Водоснабжение").replace('+', "%20"));
    let r = send(&app, "GET", &edit, &analyst, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("value=\"topic:water\""), "{}", r.body);
    let fields = |query: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("name", "Водоснабжение".into()),
            ("query", query.into()),
            ("to", "vodokanal@levokumsky.example".into()),
        ]
    };
    let bad = fields("(topic:water");
    let refs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = send(&app, "POST", &edit, &analyst, Some(&refs)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Запрос с ошибкой") && r.body.contains("value=\"(topic:water\""), "{}", r.body);
    let good = fields("topic:water -sentiment:positive");
    let refs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = send(&app, "POST", &edit, &analyst, Some(&refs)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Поиск «Водоснабжение» изменён.") && r.body.contains("vodokanal@levokumsky.example"));
    assert!(r.body.contains("ещё не было"), "no digest yet: {}", r.body);
    // The pipeline file's search is changed in the file, not here.
    let r = send(&app, "GET", &format!("/searches/{}/edit", enc("Вода")), &analyst, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("задан в файле конфигурации"), "{}", r.body);
    let path = format!("/searches/{}/delete", enc("Водоснабжение").replace('+', "%20"));
    let r = send(&app, "POST", &path, &analyst, Some(&[("csrf", csrf.as_str())])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = send(&app, "POST", &path, &analyst, Some(&[("csrf", csrf.as_str())])).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let log = audit(&tmp.path().join("data"));
    assert!(log.iter().any(|e| e["event"] == "saved_search_created" && e["detail"]["recipients"][1] == "press@levokumsky.example"));
    assert!(log.iter().any(|e| e["event"] == "saved_search_deleted"));
    assert!(log.iter().any(
        |e| e["event"] == "saved_search_changed" && e["detail"]["recipients"][0] == "vodokanal@levokumsky.example"
    ));
}

#[test]
fn a_bad_overview_file_is_refused_before_serving_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let file = tmp.path().join("overview.toml");
    std::fs::write(&file, "title = \"Обзор\"\npanels = [\"tension_grid\", \"map\"]\n").unwrap();
    for cmd in ["serve", "run"] {
        let mut args = vec![cmd, "--overview", file.to_str().unwrap(), "--data", d.to_str().unwrap()];
        args.extend(if cmd == "serve" { ["--addr", "127.0.0.1:0"] } else { ["--listen", "127.0.0.1:0"] });
        let out = glas(&args);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("overview.toml") && err.contains("map") && err.contains("tension_grid"), "{cmd}: {err}");
    }
    let missing = glas(&["serve", "--overview", "/nonexistent/o.toml", "--data", d.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("/nonexistent/o.toml"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipelines_own_taxonomy_names_the_topic_filter_and_the_tags() {
    let tmp = crate::search::imported();
    let data = tmp.path().join("data");
    let store = glas_store::Store::open(&data).unwrap();
    let mut state =
        glas_web::AppState::new(std::sync::Arc::new(store), data.clone(), vec![], chrono_tz::Europe::Moscow).unwrap();
    // A district whose taxonomy has one topic, under its own name.
    state.topics = vec![("water".into(), "Вода и канализация".into())];
    let state = std::sync::Arc::new(state);
    let token = state.accounts.create_token("t", Role::Analyst).unwrap();
    let app = App { router: glas_web::router(state.clone()), token: token.clone(), state };
    let r = with_token(&app, &token, "/search?q=topic%3Awater").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<option value=\"water\">Вода и канализация</option>"), "{}", r.body);
    assert!(!r.body.contains("<option value=\"roads\">"), "the filter offers a topic the taxonomy lacks");
    assert!(r.body.contains("· Вода и канализация"), "the hits' tags use the district's name");
}
