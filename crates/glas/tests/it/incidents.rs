//! Incidents through the workspace's routes and API, over the demo month as
//! `glas demo` leaves it: who sees and changes what, forms with their
//! refusals, an incident made from a mention's card, the JSON API, and the
//! CLI's list and KPI table.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use glas_web::accounts::Role;
use tower::ServiceExt as _;

use crate::support::*;
use crate::workspace::{audit, log_in, send};

struct Demo {
    _tmp: tempfile::TempDir,
    data: std::path::PathBuf,
    state: Arc<glas_web::AppState>,
    router: axum::Router,
    token: String,
}

fn demo() -> Demo {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let out = glas(&["demo", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pipeline = glas::demo_pipeline(Some("http://127.0.0.1:9")).unwrap();
    let ctx = glas::ops::Ctx::new(pipeline, Some(&data));
    let state =
        glas::ops::workspace(ctx, glas_web::overview::Overview::builtin(), std::time::Duration::from_secs(10)).unwrap();
    let a = &state.accounts;
    a.add_user("глава", Role::Viewer, "пароль главы").unwrap();
    a.add_user("анна", Role::Analyst, "пароль анны").unwrap();
    a.add_service_user("водоканал", "Водоканал", "пароль водоканала").unwrap();
    a.add_service_user("дороги", "Дорожная служба", "пароль дорожников").unwrap();
    let token = a.create_token("скрипт", Role::Analyst).unwrap();
    let state = Arc::new(state);
    Demo { _tmp: tmp, data, router: glas_web::router(state.clone()), state, token }
}

/// An API call with the analyst's token and a JSON body.
async fn api(d: &Demo, method: &str, uri: &str, body: Option<serde_json::Value>) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {}", d.token));
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap();
    let resp = d.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

fn app(d: &Demo) -> crate::search::App {
    crate::search::App { router: d.router.clone(), token: d.token.clone(), state: d.state.clone() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_and_changes_incidents_as_it_may() {
    let d = demo();
    let app = app(&d);
    // The service: its incidents are its workspace, and nothing else.
    let (water, r) = log_in(&app, "водоканал", "пароль водоканала", "/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let home = send(&app, "GET", "/", &water, None).await;
    assert_eq!((home.status, home.location()), (StatusCode::SEE_OTHER, "/incidents"));
    let list = send(&app, "GET", "/incidents", &water, None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains("Водоснабжение — Величаевское") && list.body.contains("ответ опубликован"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("href=\"/search\""), "a service's menu has no search");
    assert_eq!(send(&app, "GET", "/search", &water, None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&app, "GET", "/signals", &water, None).await.status, StatusCode::FORBIDDEN);
    let card = send(&app, "GET", "/incidents/1", &water, None).await;
    assert_eq!(card.status, StatusCode::OK);
    for want in
        ["Публичный ответ", "vk.com/wall-200_303", "создан из тревожного эпизода", "Сменить статус", "Водоканал"]
    {
        assert!(card.body.contains(want), "{want}: {}", card.body);
    }
    assert!(!card.body.contains("Передать службе"), "a service does not reassign");

    // Another service sees neither the incident nor its card.
    let (roads, _) = log_in(&app, "дороги", "пароль дорожников", "/").await;
    let list = send(&app, "GET", "/incidents", &roads, None).await;
    assert!(!list.body.contains("Величаевское"), "{}", list.body);
    assert_eq!(send(&app, "GET", "/incidents/1", &roads, None).await.status, StatusCode::FORBIDDEN);

    // The head reads, without forms; a change is refused.
    let (head, _) = log_in(&app, "глава", "пароль главы", "/").await;
    let card = send(&app, "GET", "/incidents/1", &head, None).await;
    assert!(card.status == StatusCode::OK && !card.body.contains("Сменить статус"), "{}", card.body);
    let csrf = card.csrf();
    let r =
        send(&app, "POST", "/incidents/1", &head, Some(&[("csrf", &csrf), ("action", "comment"), ("comment", "x")]))
            .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The service's changes, with the refusals a person reads.
    let csrf = send(&app, "GET", "/incidents/1", &water, None).await.csrf();
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let (app, water, csrf) = (&app, water.clone(), csrf.clone());
        async move {
            let mut f: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
            f.extend(fields);
            send(app, "POST", "/incidents/1", &water, Some(&f)).await
        }
    };
    let r = post(vec![("action", "status"), ("status", "postponed")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("укажите причину переноса"), "{}", r.body);
    let r =
        post(vec![("action", "status"), ("status", "postponed"), ("reason", "нет средств"), ("until", "01.04.2027")])
            .await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("ГГГГ-ММ-ДД"), "{}", r.body);
    let r = post(vec![("action", "assign"), ("service", "Дорожная служба")]).await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("аналитик"), "{}", r.body);
    let r = post(vec![("action", "fly")]).await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("неизвестное действие"), "{}", r.body);
    let r = send(&app, "POST", "/incidents/1", &water, Some(&[("action", "comment"), ("comment", "без токена")])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token");
    let r = post(vec![("action", "status"), ("status", "resolved"), ("comment", "Подача воды восстановлена")]).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/incidents/1"), "{}", r.body);
    let card = send(&app, "GET", "/incidents/1", &water, None).await;
    assert!(card.body.contains("решён") && card.body.contains("Подача воды восстановлена"), "{}", card.body);
    assert!(audit(&d.data).iter().any(|e| e["event"] == "incident_changed" && e["who"] == "водоканал"));

    // An analyst makes an incident of a roads post from its card: it goes
    // to the roads service, which now sees it.
    let hit = d
        .state
        .store
        .search(&glas_store::SearchRequest {
            query: "topic:roads place:Левокумское".into(),
            limit: 1,
            tz: chrono_tz::Europe::Moscow,
            ..Default::default()
        })
        .unwrap();
    let id = hit.hits[0].id.clone();
    let (analyst, _) = log_in(&app, "анна", "пароль анны", "/").await;
    let card = send(&app, "GET", &format!("/mentions/{}", enc(&id)), &analyst, None).await;
    assert!(card.body.contains("Создать инцидент") && card.body.contains("Создать и передать службе"), "{}", card.body);
    let csrf = card.csrf();
    let r = send(
        &app,
        "POST",
        "/incidents",
        &analyst,
        Some(&[
            ("csrf", &csrf),
            ("mentions", &id),
            ("topic", "roads"),
            ("place", "Левокумское"),
            ("severity", "medium"),
        ]),
    )
    .await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/incidents/2"), "{}", r.body);
    let list = send(&app, "GET", "/incidents", &roads, None).await;
    assert!(list.body.contains("Дороги — Левокумское") || list.body.contains("Левокумское"), "{}", list.body);
    let card = send(&app, "GET", &format!("/mentions/{}", enc(&id)), &analyst, None).await;
    assert!(card.body.contains("входит в <a href=\"/incidents/2\">инцидент №2</a>"), "{}", card.body);
    // «Обзор» lists the open incident; the episode on «Сигналы» links its own.
    let home = send(&app, "GET", "/", &analyst, None).await;
    assert!(home.body.contains("id=\"incidents\"") && home.body.contains("Открыто: 1"), "{}", home.body);
    assert!(home.body.contains("<a href=\"/incidents/2\">№2"), "{}", home.body);
    let signals = send(&app, "GET", "/signals", &analyst, None).await;
    assert!(
        signals
            .body
            .contains("Инцидент: <a href=\"/incidents/1\">№1 — Водоснабжение — Величаевское</a> (Водоканал, решён)"),
        "{}",
        signals.body
    );
    let again = send(&app, "POST", "/incidents", &analyst, Some(&[("csrf", &csrf), ("mentions", &id)])).await;
    assert!(again.status == StatusCode::BAD_REQUEST && again.body.contains("уже в инциденте №2"), "{}", again.body);
    // From the search: two hits picked, one button.
    let found =
        send(&app, "GET", &format!("/search?q={}", enc("sentiment:negative NOT topic:water")), &analyst, None).await;
    assert!(
        found.body.contains("Создать инцидент из отмеченных") && found.body.contains("form=\"new-incident\""),
        "{}",
        found.body
    );
    let ids: Vec<String> = found
        .body
        .match_indices("name=\"mentions\" value=\"")
        .map(|(at, m)| {
            let rest = &found.body[at + m.len()..];
            rest[..rest.find('"').unwrap()].replace("&#x2F;", "/").replace("&#47;", "/")
        })
        .filter(|i| *i != id)
        .take(2)
        .collect();
    assert_eq!(ids.len(), 2, "{}", found.body);
    let picked = [("csrf", csrf.as_str()), ("mentions", ids[0].as_str()), ("mentions", ids[1].as_str())];
    let r = send(&app, "POST", "/incidents", &analyst, Some(&picked)).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/incidents/3"), "{}", r.body);
    assert_eq!(d.state.incidents.as_ref().unwrap().get(3).unwrap().unwrap().mentions, 2);
    let none = send(&app, "POST", "/incidents", &analyst, Some(&[("csrf", csrf.as_str())])).await;
    assert!(
        none.status == StatusCode::BAD_REQUEST && none.body.contains("укажите одну или несколько публикаций"),
        "{}",
        none.body
    );
    // Its email went to the roads service (queued until the next round).
    let inc = d.state.incidents.as_ref().unwrap();
    let mail = inc.pending_mail().unwrap();
    assert!(mail.iter().any(|m| m.incident == 2 && m.to == ["roads@levokumsky.example"]), "{mail:?}");
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_shows_creates_and_changes_incidents_with_clear_errors() {
    let d = demo();
    let (s, v) = api(&d, "GET", "/api/incidents", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["count"], 1);
    let i = &v["incidents"][0];
    assert_eq!((i["service"].as_str(), i["status"].as_str()), (Some("Водоканал"), Some("answered")));
    assert!(i["public_answer_url"].as_str().unwrap().contains("vk.com/wall-200_303"));
    let (s, v) = api(&d, "GET", "/api/incidents/1", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["evidence"].as_array().unwrap().len() as u64, v["mentions"].as_u64().unwrap());
    assert_eq!(v["history"][0]["action"], "created");
    let (s, v) = api(&d, "GET", "/api/incidents?status=bogus", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["reason_ru"].as_str().unwrap().contains("неизвестный статус"), "{v}");
    assert_eq!(api(&d, "GET", "/api/incidents/999", None).await.0, StatusCode::NOT_FOUND);
    let (s, v) = api(&d, "GET", "/api/incidents?service=Водоканал&status=answered", None).await;
    assert_eq!((s, v["count"].as_u64()), (StatusCode::OK, Some(1)));

    let (s, v) = api(&d, "POST", "/api/incidents", Some(serde_json::json!({"mentions": ["нет-такой"]}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["reason_ru"].as_str().unwrap().contains("нет публикации"), "{v}");
    let (s, _) = api(&d, "POST", "/api/incidents", Some(serde_json::json!({"mentions": []}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let id = d
        .state
        .store
        .search(&glas_store::SearchRequest {
            query: "topic:roads".into(),
            limit: 1,
            tz: chrono_tz::Europe::Moscow,
            ..Default::default()
        })
        .unwrap()
        .hits[0]
        .id
        .clone();
    let (s, v) =
        api(&d, "POST", "/api/incidents", Some(serde_json::json!({"mentions": [id], "severity": "high"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!((v["id"].as_i64(), v["topic"].as_str(), v["severity"].as_str()), (Some(2), Some("roads"), Some("high")));
    let (s, v) = api(
        &d,
        "POST",
        "/api/incidents/2",
        Some(serde_json::json!({"action": "status", "status": "in_work", "comment": "выехали"})),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("in_work")), "{v}");
    assert!(v["reacted_at"].is_string());
    let (s, v) =
        api(&d, "POST", "/api/incidents/2", Some(serde_json::json!({"action": "status", "status": "rejected"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["reason_ru"].as_str().unwrap().contains("причину отклонения"), "{v}");
    let (s, v) = api(&d, "POST", "/api/incidents/2", Some(serde_json::json!({"action": "merge", "into": 1}))).await;
    assert_eq!((s, v["merged_into"].as_i64()), (StatusCode::OK, Some(1)), "{v}");
    let (s, _) =
        api(&d, "POST", "/api/incidents/2", Some(serde_json::json!({"action": "comment", "comment": "x"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a merged incident is changed through the one it joined");

    // The command line reads the same store.
    let dd = d.data.to_str().unwrap();
    let out = glas(&["--data", dd, "incidents", "--status", "answered"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Водоснабжение — Величаевское") && stdout(&out).contains("ответ опубликован"));
    let out = glas(&["--data", dd, "incidents", "--status", "lost"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = glas(&["--data", dd, "incidents", "show", "1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(v["history"].as_array().unwrap().iter().any(|h| h["action"] == "absorbed"));
    let xlsx = d.data.join("kpi.xlsx");
    let out = glas(&["--data", dd, "incidents", "kpi", "--month", "2026-11", "--out", xlsx.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    kpi_sheet_holds(&xlsx);
    let out = glas(&["--data", dd, "incidents", "kpi", "--week", "2026-W48", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((v["total"]["new"].as_u64(), v["total"]["answered_publicly"].as_u64()), (Some(1), Some(1)), "{v}");
    assert_eq!(v["total"]["on_time"], 1);
}

fn kpi_sheet_holds(path: &Path) {
    use calamine::{Reader, open_workbook_auto};
    let mut wb = open_workbook_auto(path).unwrap();
    assert_eq!(wb.sheet_names(), ["По службам", "По темам"]);
    let sheet = wb.worksheet_range("По службам").unwrap();
    let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    assert_eq!(rows[1][0], "Служба");
    assert_eq!(rows[2][0], "Всего");
    assert!(rows.iter().any(|r| r[0] == "Водоканал" && r[1] == "1"), "{rows:?}");
}

/// A reply of the administration's VK community under a resident's post
/// answers the incident that holds the post; a resident's reply does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_official_reply_under_a_residents_post_answers_its_incident() {
    let tmp = tempfile::tempdir().unwrap();
    let text = r#"
[district]
name = "Левокумский муниципальный округ"
[storage]
data_dir = "data"
[[sources]]
id = "vk-velichaevka"
type = "vk"
owner_id = -100
comments = true
place = "Величаевское"
[alerts]
from = "glas@levokumsky.example"
to = ["press@levokumsky.example"]
[incidents]
official_accounts = ["vk:club200"]
[[routing]]
service = "Водоканал"
topics = ["water"]
to = ["dispatch@vodokanal.example"]
[[routing]]
service = "Администрация"
to = ["adm@levokumsky.example"]
[[places]]
name = "Величаевское"
aliases = ["Величаевка"]
"#;
    let pipeline = glas_core::Pipeline::parse(text, Path::new("p.toml"), tmp.path()).unwrap();
    let ctx = glas::ops::Ctx::new(pipeline, Some(&tmp.path().join("data")));
    let inc = glas_app::incidents::open(&ctx).unwrap().unwrap();
    let mut enricher = glas::ops::Enricher::fresh(&ctx);
    let mut record = |line: serde_json::Value| {
        let m = glas_core::Mention::from_line(&line.to_string(), 1).unwrap();
        enricher.enrich_one(m, "vk", Some("Величаевское"))
    };
    let post = record(serde_json::json!({
        "id": "vk:wall-100_518", "source": "vk-velichaevka", "url": "https://vk.com/wall-100_518",
        "published_at": "2026-11-23T08:00:00+03:00", "author": "vk:id5",
        "text": "Третий день нет воды в Величаевке, когда дадут воду?"}));
    let resident = record(serde_json::json!({
        "id": "vk:wall-100_518_c8", "source": "vk-velichaevka", "url": "https://vk.com/wall-100_518?reply=8",
        "published_at": "2026-11-23T08:40:00+03:00", "author": "vk:id7", "reply_to": "vk:wall-100_518",
        "text": "Поддерживаю, у нас тоже сухо"}));
    let official = record(serde_json::json!({
        "id": "vk:wall-100_518_c9", "source": "vk-velichaevka", "url": "https://vk.com/wall-100_518?reply=9",
        "published_at": "2026-11-23T09:10:00+03:00", "author": "vk:club200", "reply_to": "vk:wall-100_518",
        "text": "Здравствуйте! Аварийная бригада на месте, подачу воды восстановят к 18:00."}));
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T08:30:00+03:00").unwrap().with_timezone(&chrono::Utc);
    let ep = glas_incidents::EpisodeInput {
        key: "tension|water|Величаевское@2026-11-23T08:30:00+03:00".into(),
        topic: Some("water".into()),
        place: Some("Величаевское".into()),
        severity: glas_core::Severity::High,
        evidence: vec![glas_app::incidents::evidence(&ctx, &post)],
    };
    let (id, _) = inc.from_episode(&ep, now).unwrap();
    let mut round = glas_incidents::Round::default();
    let later = now + chrono::Duration::hours(1);
    glas_app::incidents::offer(&ctx, &inc, std::slice::from_ref(&resident), &[], later, &mut round).unwrap();
    assert!(round.answered_publicly.is_empty(), "a resident's reply is no answer");
    glas_app::incidents::offer(&ctx, &inc, &[official], &[], later, &mut round).unwrap();
    assert_eq!(round.answered_publicly, [id]);
    let i = inc.get(id).unwrap().unwrap();
    assert_eq!(i.public_answer_url.as_deref(), Some("https://vk.com/wall-100_518?reply=9"));
    assert_eq!(i.status, glas_incidents::Status::Answered);
    let h = inc.history(Some(id)).unwrap();
    assert!(h.iter().any(|e| e.action == "public_answer" && e.data["how"] == "reply"), "{h:?}");
}
