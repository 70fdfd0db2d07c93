//! Analyst search end to end: every piece of the query language from the CLI
//! and from the HTTP API (router without a socket, and `glas serve` over a
//! real one), asserting the exact hits on `fixtures/search/mentions.jsonl`;
//! reprint collapsing, paging, facets, exports; saved-search digests received
//! by a real SMTP server.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use glas::fixture_server::FixtureServer;
use glas::ops::{self, Ctx};
use glas_core::config::SavedSearch;
use tower::ServiceExt as _;

use crate::support::*;

/// Query → the ids it must find (reprints not collapsed), in id order.
const CASES: &[(&str, &[u32])] = &[
    // Word forms, ё, Latin look-alikes (s:7 is typed "Вoдa").
    ("вода", &[1, 3, 7, 13, 16]),
    ("воды", &[1, 3, 7, 13, 16]),
    ("елку", &[15]),
    ("ЁЛКА", &[15]),
    // Implicit AND, explicit AND, OR, NOT, -word, Russian operators, groups.
    ("нет воды", &[1, 3, 16]),
    ("вода AND Левокумском", &[13]),
    ("газ OR свет", &[8, 16]),
    ("вода -Величаевское", &[3, 7, 13, 16]),
    ("вода NOT Величаевское NOT Левокумское", &[3, 7, 16]),
    ("(газ OR свет) AND NOT Правокумском", &[16]),
    ("вода ИЛИ газ НЕ Величаевское", &[1, 3, 7, 8, 13, 16]),
    // Phrases keep stop words; proximity; prefixes (stem-aware).
    ("\"нет воды\"", &[1, 16]),
    ("\"нет воды\"~1", &[1, 3, 16]),
    ("\"администрация выделила средства\"~2", &[9, 10, 11]),
    ("водоснаб*", &[2]),
    ("водоснабжени*", &[2]),
    ("ремонт*", &[4, 5, 9, 10, 11]),
    // Streets and house numbers; abbreviations.
    ("\"ул. Гагарина, 15\"", &[4]),
    ("улица Гагарина", &[4]),
    ("Ленина 40", &[13]),
    // Fields.
    ("title:ремонт", &[4, 9, 10]),
    ("заголовок:(ремонт OR водовода)", &[4, 9, 10]),
    ("text:Гагарина", &[4]),
    ("author:Иванов", &[8]),
    ("source:tg-levokumka вода", &[3, 7, 13, 16]),
    ("url:https://t.me/velichaevka*", &[1, 2]),
    ("url:https://vk.com/wall-2_8", &[8]),
    // Enrichment filters, in English and Russian.
    ("sentiment:positive", &[2]),
    ("тональность:позитив", &[2]),
    ("topic:water place:Величаевское", &[1, 2, 9, 10, 11]),
    ("тема:дороги", &[4, 5]),
    ("place:Величаевском sentiment:negative", &[1]),
    ("type:question", &[6, 16]),
    ("тип:жалоба topic:roads", &[5]),
    ("lang:en", &[12]),
    // Dates (district time).
    ("date:[2026-11-05 TO 2026-11-06]", &[4, 5, 6, 7]),
    ("date:2026-11-08", &[9, 10, 11]),
    ("дата:>=2026-11-12", &[15, 16]),
    ("вода date:[* TO 2026-11-04]", &[1, 3]),
    // A function word beside a date is not required.
    ("в date:2026-11-08", &[9, 10, 11]),
];

fn ids(v: &serde_json::Value) -> Vec<u32> {
    let mut out: Vec<u32> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().trim_start_matches("s:").parse().unwrap())
        .collect();
    out.sort();
    out
}

/// A store holding the search fixture, imported through the binary.
pub(crate) fn imported() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out =
        glas(&["import", "--data", data.to_str().unwrap(), fixtures().join("search/mentions.jsonl").to_str().unwrap()]);
    assert!(stdout(&out).contains("imported 16 · duplicate 0 · rejected 0"), "{}{}", stdout(&out), stderr(&out));
    tmp
}

fn search_json(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["search", "--json", "--data", data.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = glas(&all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

pub(crate) fn api_state(data: &Path) -> Arc<glas_web::AppState> {
    let store = glas_store::Store::open(data).unwrap();
    let searches = vec![SavedSearch { name: "Вода".into(), query: "topic:water".into(), to: vec![] }];
    let mut state =
        glas_web::AppState::new(Arc::new(store), data.to_path_buf(), searches, chrono_tz::Europe::Moscow).unwrap();
    state.analyzer = Some(Arc::new(glas_nlp::Analyzer::builtin()));
    Arc::new(state)
}

/// The workspace's routes and an analyst's API token for them.
pub(crate) struct App {
    pub router: axum::Router,
    pub token: String,
    pub state: Arc<glas_web::AppState>,
}

pub(crate) fn app(data: &Path) -> App {
    let state = api_state(data);
    let token = state.accounts.create_token("tests", glas_web::accounts::Role::Analyst).unwrap();
    App { router: glas_web::router(state.clone()), token, state }
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn call(app: &App, method: &str, uri: &str, body: Option<&str>) -> (StatusCode, String, String) {
    let (status, ctype, bytes) = call_raw(app, method, uri, body).await;
    (status, ctype, String::from_utf8(bytes).unwrap())
}

async fn call_raw(app: &App, method: &str, uri: &str, body: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {}", app.token));
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
    (status, ctype, bytes.to_vec())
}

#[test]
fn every_piece_of_the_query_language_finds_exactly_its_hits_from_the_cli() {
    let tmp = imported();
    let data = tmp.path().join("data");
    let mut wrong = Vec::new();
    for (q, want) in CASES {
        let got = ids(&search_json(&data, &[q, "--all-reprints", "--limit", "50"]));
        if got != *want {
            wrong.push(format!("{q:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_piece_of_the_query_language_finds_exactly_its_hits_from_the_api() {
    let tmp = imported();
    let app = app(&tmp.path().join("data"));
    let mut wrong = Vec::new();
    for (q, want) in CASES {
        // Newest first, the API reads the newest hours first.
        for sort in ["relevance", "date"] {
            let uri = format!("/api/search?q={}&collapse=false&size=50&sort={sort}", encode(q));
            let (status, _, body) = call(&app, "GET", &uri, None).await;
            assert_eq!(status, StatusCode::OK, "{q}: {body}");
            let got = ids(&serde_json::from_str(&body).unwrap());
            if got != *want {
                wrong.push(format!("{q:?} by {sort}: got {got:?}, want {want:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Thirty days of twenty mentions, every other one with the phrase "нет
/// воды" and its own settlement, some published at half past the hour.
fn month_of_mentions(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("month.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let places = ["Величаевском", "Левокумке", "Правокумском", "Заре"];
    for day in 0..30u32 {
        for k in 0..20u32 {
            let n = day * 20 + k;
            let text = if n % 2 == 0 {
                format!("Опять нет воды в {}, дом {n}, третий день без воды", places[(n / 2 % 4) as usize])
            } else {
                format!("Вода в {} есть, спасибо за ремонт водовода, дом {n}", places[(n / 2 % 4) as usize])
            };
            let at = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
                + chrono::Duration::days(i64::from(day))
                + chrono::Duration::minutes(i64::from(k) * 67);
            let line = serde_json::json!({"id": format!("m:{n}"), "source": "tg-month",
                "published_at": format!("{}+03:00", at.format("%Y-%m-%dT%H:%M:%S")), "text": text});
            writeln!(f, "{line}").unwrap();
        }
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newest_first_reads_the_newest_hours_and_shows_the_same_hits_as_the_exact_search() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = month_of_mentions(tmp.path());
    let out = glas(&["import", "--data", data.to_str().unwrap(), file.to_str().unwrap(), "--batch", "97"]);
    assert!(stdout(&out).contains("imported 600 ·"), "{}{}", stdout(&out), stderr(&out));
    let app = app(&data);
    let get = async |q: &str, extra: &str| -> serde_json::Value {
        let (status, _, body) = call(&app, "GET", &format!("/api/search?q={}&sort=date{extra}", encode(q)), None).await;
        assert_eq!(status, StatusCode::OK, "{q}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    let order = |v: &serde_json::Value| -> Vec<String> {
        v["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_string()).collect()
    };
    for (q, extra, expected) in [
        // A phrase over the month: the newest days fill the page.
        ("\"нет воды\"", "", Some(300)),
        ("\"нет воды\"", "&page=3&size=20", Some(300)),
        ("\"нет воды\"", "&collapse=false&size=7", Some(300)),
        // Filters and a date range, the query's own and the request's (a
        // bound that is not a whole hour, too).
        ("\"нет воды\" date:[2026-10-05 TO 2026-10-25]", "", Some(210)),
        ("\"нет воды\" place:Величаевское date:[2026-10-05 TO 2026-10-25]", "&size=5", None),
        ("sentiment:negative date:[2026-10-03 TO 2026-10-28]", "&size=5", None),
        ("\"нет воды\"", "&from=2026-10-02&to=2026-10-29", Some(280)),
        ("\"нет воды\" -Заре", "&since=3650d", Some(225)),
    ] {
        let quick = get(q, extra).await;
        let full = get(q, &format!("{extra}&exact_total=true")).await;
        assert_eq!(order(&quick), order(&full), "{q} {extra}");
        assert!(!order(&quick).is_empty(), "{q} {extra}");
        assert!(full.get("total_estimated").is_none(), "{full}");
        let exact = full["total"].as_u64().unwrap() as u32;
        assert!(expected.is_none_or(|n| n == exact), "{q} {extra}: {exact}");
        // Read in part, the count is labelled as an estimate and near;
        // read whole, it is exact.
        let total = quick["total"].as_u64().unwrap() as f64;
        if quick["total_estimated"] == true {
            assert!((total - f64::from(exact)).abs() <= 0.2 * f64::from(exact), "{q} {extra}: {total} for {exact}");
        } else {
            assert_eq!(total, f64::from(exact), "{q} {extra}");
        }
        // A month of a phrase in every other mention: a page of the
        // newest is found long before the oldest day.
        if extra.is_empty() && q == "\"нет воды\"" {
            assert_eq!(quick["total_estimated"], true, "{quick}");
        }
    }
    // Words alone are counted exactly (a lookup); so is everything once
    // every hour was read, and whatever is asked with facets.
    for (q, extra) in [("вода", ""), ("\"нет воды\"", "&size=200"), ("\"нет воды\"", "&facets=true")]
    {
        let v = get(q, extra).await;
        assert!(v.get("total_estimated").is_none(), "{q} {extra}: {v}");
    }
    assert_eq!(get("\"нет воды\"", "&size=200").await["total"], 300);
}

#[test]
fn results_collapse_reprints_page_count_facets_and_highlight_word_forms() {
    let tmp = imported();
    let data = tmp.path().join("data");
    // s:9–s:11 are one story reprinted (the third copy without its headline).
    let v = search_json(&data, &["водовода"]);
    assert_eq!(v["total"], 3);
    assert_eq!(v["hits"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["hits"][0]["more_in_cluster"], 2);
    let text = stdout(&glas(&["search", "водовода", "--data", data.to_str().unwrap()]));
    assert!(text.contains("и ещё 2 публикации"), "{text}");
    assert!(ids(&search_json(&data, &["водовода", "--all-reprints"])) == vec![9, 10, 11]);

    // Newest first, two per page; pages do not overlap and cover the set.
    let mut seen = Vec::new();
    for page in ["1", "2", "3"] {
        let v = search_json(&data, &["вода", "--sort", "date", "--limit", "2", "--page", page]);
        assert_eq!(v["total"], 5);
        let dates: Vec<&str> =
            v["hits"].as_array().unwrap().iter().map(|h| h["published_at"].as_str().unwrap()).collect();
        assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
        seen.extend(ids(&v));
    }
    seen.sort();
    assert_eq!(seen, vec![1, 3, 7, 13, 16]);

    // Facets count the whole result set.
    let v = search_json(&data, &["topic:water", "--facets"]);
    let count = |facet: &str, value: &str| {
        v["facets"][facet]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"] == value)
            .map(|c| c["count"].as_u64().unwrap())
    };
    assert_eq!(v["total"], 9);
    assert_eq!(count("topic", "water"), Some(9));
    assert_eq!(count("place", "Величаевское"), Some(5));
    assert_eq!(count("sentiment", "positive"), Some(1));
    assert_eq!(count("source", "tg-levokumka"), Some(5));
    assert_eq!(count("day", "2026-11-08"), Some(3));
    assert_eq!(count("type", "question"), Some(1));
    let text = stdout(&glas(&["search", "topic:water", "--facets", "--data", data.to_str().unwrap()]));
    assert!(text.contains("Темы: водоснабжение 9"), "{text}");

    // Highlights mark the word forms found, in the title too.
    let v = search_json(&data, &["ремонт"]);
    let hit = v["hits"].as_array().unwrap().iter().find(|h| h["id"] == "s:4").unwrap();
    let mark = |text: &str, ranges: &serde_json::Value| -> Vec<String> {
        ranges
            .as_array()
            .unwrap()
            .iter()
            .map(|r| text[r[0].as_u64().unwrap() as usize..r[1].as_u64().unwrap() as usize].to_string())
            .collect()
    };
    assert_eq!(mark(hit["snippet"].as_str().unwrap(), &hit["highlights"]), vec!["ремонт"]);
    assert_eq!(mark(hit["title"].as_str().unwrap(), &hit["title_highlights"]), vec!["Ремонт"]);
    let v = search_json(&data, &["вода"]);
    let hit = v["hits"].as_array().unwrap().iter().find(|h| h["id"] == "s:7").unwrap();
    assert_eq!(mark(hit["snippet"].as_str().unwrap(), &hit["highlights"]), vec!["Вoдa"]);
}

#[test]
fn exports_hold_exactly_the_filtered_set_with_cyrillic_intact() {
    let tmp = imported();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let csv_path = tmp.path().join("вода.csv");
    let out = glas(&["search", "topic:water -place:Величаевское", "--export", csv_path.to_str().unwrap(), "--data", d]);
    assert!(stdout(&out).contains("Выгружено: 4 публикации"), "{}{}", stdout(&out), stderr(&out));
    let bytes = std::fs::read(&csv_path).unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark for Excel");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut rows = csv::ReaderBuilder::new().delimiter(b';').from_reader(text.as_bytes());
    assert_eq!(rows.headers().unwrap().get(0), Some("Дата"));
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    let mut got: Vec<&str> = rows.iter().map(|r| r.get(13).unwrap()).collect();
    got.sort();
    assert_eq!(got, vec!["s:13", "s:16", "s:3", "s:7"]);
    assert!(rows.iter().any(|r| r.get(3).unwrap().contains("Прорыв трубы на улице Ленина")));
    assert!(rows.iter().all(|r| r.get(6).unwrap().contains("водоснабжение")));

    let jsonl_path = tmp.path().join("out.jsonl");
    glas(&["search", "date:2026-11-08", "--export", jsonl_path.to_str().unwrap(), "--data", d]);
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&jsonl_path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "reprints are all exported");
    assert!(lines.iter().all(|l| l["enrichment"]["places"][0] == "Величаевское"));
    // An export is importable again: the mention line format.
    let again = tempfile::tempdir().unwrap();
    let out = glas(&["import", "--data", again.path().to_str().unwrap(), jsonl_path.to_str().unwrap()]);
    assert!(stdout(&out).contains("imported 3"), "{}", stderr(&out));

    // XLSX from the CLI: the same rows as the JSON Lines.
    let xlsx_path = tmp.path().join("вода.xlsx");
    let out = glas(&["search", "date:2026-11-08", "--export", xlsx_path.to_str().unwrap(), "--data", d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&xlsx_path).unwrap();
    use calamine::Reader as _;
    assert_eq!(wb.worksheet_range("Публикации").unwrap().height(), 1 + 3);

    let bad = glas(&["search", "вода", "--export", tmp.path().join("x.pdf").to_str().unwrap(), "--data", d]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains(".csv, .xlsx or .jsonl"));
}

#[test]
fn syntax_errors_name_the_position_and_the_fix_in_both_languages() {
    let tmp = imported();
    let d = tmp.path().join("data");
    let d = d.to_str().unwrap();
    for (q, pos, ru, en) in [
        ("вода AND (газ OR свет", 10, "добавьте )", "add )"),
        ("вода \"нет газа", 6, "кавычка не закрыта", "unterminated quote"),
        ("titel:ремонт", 1, "может быть, title:", "did you mean title:"),
        ("sentiment:злой", 11, "допустимо negative, neutral, positive", "use one of negative, neutral, positive"),
        ("date:[2026-11-07 TO 2026-11-01]", 6, "поменяйте их местами", "swap them"),
        ("вода OR", 6, "после OR нужно слово", "OR needs a word"),
    ] {
        let out = glas(&["search", q, "--data", d]);
        assert_eq!(out.status.code(), Some(2), "{q}");
        let err = stderr(&out);
        assert!(err.contains(&format!("позиция {pos}:")) && err.contains(&format!("position {pos}:")), "{q}: {err}");
        assert!(err.contains(ru) && err.contains(en), "{q}: {err}");
        // The caret sits under the position.
        let caret = err.lines().find(|l| l.trim() == "^").unwrap_or_else(|| panic!("{err}"));
        assert_eq!(caret.chars().count(), 2 + pos, "{q}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_facets_mentions_exports_saved_searches_and_json_errors() {
    let tmp = imported();
    let app = app(&tmp.path().join("data"));

    let (status, _, body) = call(&app, "GET", "/api/facets?q=topic%3Awater", None).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["total"], 9);
    assert_eq!(v["facets"]["topic"][0], serde_json::json!({"value": "water", "count": 9}));
    // The per-day tones, counted in the same pass, add up to the tone and type facets.
    let (_, _, body) = call(&app, "GET", "/api/facets?q=", None).await;
    let f = &serde_json::from_str::<serde_json::Value>(&body).unwrap()["facets"];
    let facet = |key: &str, value: &str| {
        f[key].as_array().unwrap().iter().find(|c| c["value"] == value).map_or(0, |c| c["count"].as_u64().unwrap())
    };
    let tones = f["day_tone"].as_array().unwrap();
    assert_eq!(tones.len(), f["day"].as_array().unwrap().len());
    let sum = |k: &str| tones.iter().map(|d| d[k].as_u64().unwrap()).sum::<u64>();
    assert!(facet("sentiment", "negative") > 0 && facet("type", "complaint") > 0, "{f}");
    assert_eq!(sum("negative"), facet("sentiment", "negative"));
    assert_eq!(sum("positive"), facet("sentiment", "positive"));
    assert_eq!(sum("complaint"), facet("type", "complaint"));

    let (status, _, body) = call(&app, "GET", "/api/mentions/s:13", None).await;
    assert_eq!(status, StatusCode::OK);
    let m: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(m["text"].as_str().unwrap().starts_with("Прорыв трубы"));
    assert_eq!(m["places"], serde_json::json!(["Левокумское"]));

    let (status, ctype, body) = call(&app, "GET", "/api/export?q=date%3A2026-11-08&format=csv", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/csv"));
    assert!(body.starts_with('\u{feff}'));
    assert_eq!(body.lines().count(), 4, "header and three rows: {body}");
    let (_, ctype, body) = call(&app, "GET", "/api/export?q=lang%3Aen", None).await;
    assert!(ctype.starts_with("application/x-ndjson"));
    assert_eq!(body.lines().count(), 1);
    // XLSX: one sheet, the CSV's columns, a row per mention, scores as numbers.
    let (status, ctype, bytes) = call_raw(&app, "GET", "/api/export?q=topic%3Awater&format=xlsx", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), "{ctype}");
    use calamine::Reader as _;
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(wb.sheet_names(), ["Публикации"]);
    let sheet = wb.worksheet_range("Публикации").unwrap();
    let rows: Vec<_> = sheet.rows().collect();
    assert_eq!(rows.len(), 1 + 9, "the header and the nine water mentions");
    assert_eq!(rows[0][3].to_string(), "Текст");
    assert!(rows.iter().skip(1).all(|r| r[6].to_string().contains("водоснабжение")), "{rows:?}");
    assert!(rows.iter().skip(1).all(|r| matches!(r[5], calamine::Data::Float(_))), "the score is a number");
    assert!(rows.iter().any(|r| r[3].to_string().starts_with("Прорыв трубы")));

    // Errors are JSON with a reason in both languages.
    for (uri, status, code) in [
        ("/api/search?q=%28%D0%B2%D0%BE%D0%B4%D0%B0", StatusCode::BAD_REQUEST, "query_syntax"),
        ("/api/search?q=x&size=1000", StatusCode::BAD_REQUEST, "bad_request"),
        ("/api/search?q=x&page=0", StatusCode::BAD_REQUEST, "bad_request"),
        ("/api/search?q=x&page=100000", StatusCode::BAD_REQUEST, "bad_request"),
        ("/api/search?q=x&since=forever", StatusCode::BAD_REQUEST, "bad_request"),
        ("/api/search?qq=x", StatusCode::BAD_REQUEST, "bad_request"),
        ("/api/export?q=x&format=pdf", StatusCode::BAD_REQUEST, "bad_request"),
        ("/api/export?q=%22x", StatusCode::BAD_REQUEST, "query_syntax"),
        ("/api/mentions/nope", StatusCode::NOT_FOUND, "not_found"),
        ("/api/nope", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (got, ctype, body) = call(&app, "GET", uri, None).await;
        assert_eq!(got, status, "{uri}: {body}");
        assert!(ctype.starts_with("application/json"), "{uri}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"], code, "{uri}: {body}");
        assert!(!v["reason"].as_str().unwrap().is_empty() && !v["reason_ru"].as_str().unwrap().is_empty());
    }
    let long = "вода ".repeat(500);
    let (status, _, body) = call(&app, "GET", &format!("/api/search?q={}", encode(&long)), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("query_too_long"));
    let (_, _, body) = call(&app, "GET", "/api/search?q=%28%D0%B2%D0%BE%D0%B4%D0%B0", None).await;
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["position"], 1);

    // Saved searches: create, list, refuse duplicates and bad input, delete.
    let (status, _, body) = call(
        &app,
        "POST",
        "/api/searches",
        Some(r#"{"name": "Дороги", "query": "topic:roads", "to": ["roads@example.org"]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for (body, status, code) in [
        (r#"{"name": "Дороги", "query": "ямы"}"#, StatusCode::CONFLICT, "exists"),
        (r#"{"name": "Вода", "query": "ямы"}"#, StatusCode::CONFLICT, "in_pipeline"),
        (r#"{"name": "Плохой", "query": "(ямы"}"#, StatusCode::BAD_REQUEST, "query_syntax"),
        (r#"{"name": "Адрес", "query": "ямы", "to": ["nobody"]}"#, StatusCode::BAD_REQUEST, "bad_request"),
        (r#"{"name": 5}"#, StatusCode::BAD_REQUEST, "bad_request"),
    ] {
        let (got, _, resp) = call(&app, "POST", "/api/searches", Some(body)).await;
        assert_eq!(got, status, "{body}: {resp}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&resp).unwrap()["error"], code);
    }
    let (_, _, body) = call(&app, "GET", "/api/searches", None).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let listed: Vec<(&str, &str)> = v["searches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["origin"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, vec![("Вода", "pipeline"), ("Дороги", "api")]);
    // Changed: another query and recipient; bad changes refused as at creation.
    let roads = "/api/searches/%D0%94%D0%BE%D1%80%D0%BE%D0%B3%D0%B8";
    let changed = r#"{"name": "Дороги", "query": "topic:roads -sentiment:positive", "to": ["press@example.org"]}"#;
    let (status, _, body) = call(&app, "PUT", roads, Some(changed)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["to"][0], "press@example.org");
    for (uri, body, status, code) in [
        (roads, r#"{"name": "Дороги", "query": "(ямы"}"#, StatusCode::BAD_REQUEST, "query_syntax"),
        (roads, r#"{"name": "Вода", "query": "ямы"}"#, StatusCode::CONFLICT, "in_pipeline"),
        (
            "/api/searches/%D0%92%D0%BE%D0%B4%D0%B0",
            r#"{"name": "Вода", "query": "ямы"}"#,
            StatusCode::CONFLICT,
            "in_pipeline",
        ),
        ("/api/searches/nope", changed, StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (got, _, resp) = call(&app, "PUT", uri, Some(body)).await;
        assert_eq!(got, status, "{uri} {body}: {resp}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&resp).unwrap()["error"], code);
    }
    let (_, _, body) = call(&app, "GET", "/api/searches", None).await;
    assert!(body.contains("-sentiment:positive"), "{body}");
    let (status, _, _) = call(&app, "DELETE", "/api/searches/%D0%94%D0%BE%D1%80%D0%BE%D0%B3%D0%B8", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&app, "DELETE", "/api/searches/%D0%94%D0%BE%D1%80%D0%BE%D0%B3%D0%B8", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _, body) = call(&app, "GET", "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for path in [
        "/api/search",
        "/api/facets",
        "/api/mentions/{id}",
        "/api/export",
        "/api/searches",
        "/api/searches/{name}",
        "/api/incidents",
        "/api/incidents/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    // A workspace whose pipeline has no incidents says so.
    let (status, _, body) = call(&app, "GET", "/api/incidents", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("incidents_off") && body.contains("[[routing]]"), "{body}");
}

#[test]
fn glas_serve_answers_over_a_real_socket() {
    let tmp = imported();
    let data = tmp.path().join("data");
    let created = glas(&["token", "create", "script", "--data", data.to_str().unwrap()]);
    assert!(created.status.success(), "{}", stderr(&created));
    let token = stdout(&created).trim().to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data", data.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr =
        first.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_else(|| panic!("{first}"));
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    let q = encode("\"нет воды\"");
    write!(
        conn,
        "GET /api/search?q={q}&collapse=false HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    conn.read_to_string(&mut resp).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let body = &resp[resp.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(ids(&serde_json::from_str(body).unwrap()), vec![1, 16]);
}

/// Mentions that match "Вода в Величаевском" and arrive after the first round.
fn new_water_mention(dir: &Path, id: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{}.jsonl", id.replace([':', '/'], "_")));
    std::fs::write(
        &path,
        serde_json::json!({
            "id": id, "source": "tg-velichaevka-online", "published_at": "2026-11-26T09:00:00+03:00",
            "text": "В Величаевском снова нет воды, третий раз за неделю. Водоканал молчит.",
        })
        .to_string(),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_search_digests_reach_a_real_smtp_server_once_per_mention() {
    let sink = SmtpSink::start(0);
    let server = FixtureServer::start(&fixtures()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut pipeline = demo_with_smtp(&server.base_url(), sink.port, &["press@levokumsky.example"]);
    pipeline.searches = vec![SavedSearch {
        name: "Вода в Величаевском".into(),
        query: "topic:water place:Величаевское".into(),
        to: vec!["water@levokumsky.example".into()],
    }];
    let ctx = Ctx::new(pipeline, Some(tmp.path()));

    // First round: every match so far, in one digest to the search's recipients.
    let mut store = ctx.open_store().unwrap();
    let mut enricher = ops::Enricher::new(&ctx, &store).unwrap();
    let baseline = store.indexed_seq().unwrap();
    ops::crawl_once(&ctx, &mut store, &mut enricher).await.unwrap();
    let first = ops::deliver_digests(&ctx, &store, baseline).await.unwrap();
    assert_eq!((first[0].new, first[0].status.as_str()), (40, "sent"), "{first:?}");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(subject(&messages[0]), "Поиск «Вода в Величаевском»: 40 новых публикаций");
    let body = decoded(&messages[0]);
    assert!(body.contains("https://t.me/velichaevka_online/"), "{body}");
    assert!(body.contains("Все публикации: glas search 'topic:water place:Величаевское'"), "{body}");
    let envelope: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sink.dir.path().join("0001.json")).unwrap()).unwrap();
    assert_eq!(envelope["rcpt_tos"], serde_json::json!(["water@levokumsky.example"]));

    // After a restart, a round with nothing new sends nothing.
    drop((store, enricher));
    let mut store = ctx.open_store().unwrap();
    let mut enricher = ops::Enricher::new(&ctx, &store).unwrap();
    let baseline = store.indexed_seq().unwrap();
    ops::crawl_once(&ctx, &mut store, &mut enricher).await.unwrap();
    let second = ops::deliver_digests(&ctx, &store, baseline).await.unwrap();
    assert_eq!((second[0].new, second[0].status.as_str()), (0, "nothing new"));
    assert_eq!(sink.messages().len(), 1);

    // A new match while the SMTP server refuses: the digest fails and is not
    // counted as sent; the next round delivers it, with that mention alone.
    drop(sink);
    // (More refusals than the two attempts allowed here.)
    let refusing = SmtpSink::start(2);
    let mut ctx = ctx;
    let alerts = ctx.pipeline.alerts.as_mut().unwrap();
    alerts.smtp_url = Some(format!("smtp://127.0.0.1:{}", refusing.port));
    alerts.attempts = 2;
    let file = new_water_mention(tmp.path(), "tg:velichaevka_online/9001");
    ops::import_file(&mut store, &mut enricher, &file, 100).unwrap();
    let failed = ops::deliver_digests(&ctx, &store, 0).await.unwrap();
    assert!(failed[0].status.starts_with("failed"), "{failed:?}");
    let retried = ops::deliver_digests(&ctx, &store, 0).await.unwrap();
    assert_eq!((retried[0].new, retried[0].status.as_str()), (1, "sent"), "{retried:?}");
    let messages = refusing.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(subject(&messages[0]), "Поиск «Вода в Величаевском»: 1 новая публикация");
    assert!(decoded(&messages[0]).contains("третий раз за неделю"));
    let again = ops::deliver_digests(&ctx, &store, 0).await.unwrap();
    assert_eq!(again[0].status, "nothing new");
}

#[test]
fn searches_and_reports_read_the_store_while_another_process_writes_it() {
    let tmp = imported();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let total = |args: &[&str]| search_json(&data, args)["total"].as_u64().unwrap();
    let before = total(&["", "--all-reprints"]);

    // This test holds the writer's lock, as `glas run` would.
    let ctx = glas::ops::Ctx::new(glas::demo_pipeline(None).unwrap(), Some(data.as_path()));
    let mut store = ctx.open_store().unwrap();
    let mut enricher = glas::ops::Enricher::new(&ctx, &store).unwrap();
    // Readers work meanwhile; a second writer is refused with a clear error.
    assert_eq!(total(&["", "--all-reprints"]), before);
    let report = glas(&["--data", d, "report", "weekly", "--week", "2026-W48"]);
    assert!(report.status.success(), "{}", stderr(&report));
    let file = new_water_mention(tmp.path(), "tg:velichaevka_online/9100");
    let second = glas(&["--data", d, "import", file.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(1));
    assert!(stderr(&second).contains("in use by another glas process"), "{}", stderr(&second));

    // What the writer commits, the next search sees.
    glas::ops::import_file(&mut store, &mut enricher, &file, 10).unwrap();
    assert_eq!(total(&["", "--all-reprints"]), before + 1);
    assert_eq!(total(&["id:\"tg:velichaevka_online/9100\""]), 1);

    // A reader never writes: in-process, its appends are refused.
    let mut reader = glas_store::Store::open_reader(&data).unwrap();
    let err = reader.append(Vec::new()).unwrap_err();
    assert!(matches!(err, glas_store::StoreError::ReadOnly { .. }), "{err}");
    drop(store);
    // Nobody writing: a reader does not keep a writer out.
    let _reader = glas_store::Store::open_reader(&data).unwrap();
    assert!(ctx.open_store().is_ok(), "a reader held the lock");
}

#[tokio::test]
async fn the_search_page_is_russian_html_with_marked_words_and_errors_on_the_page() {
    let tmp = imported();
    let app = app(&tmp.path().join("data"));
    let (status, ctype, body) = call(&app, "GET", &format!("/search?q={}", encode("topic:water трубы")), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    assert!(body.contains("<html lang=\"ru\">") && body.contains("Найдено: "), "{body}");
    assert!(body.contains("<mark>"), "matched words marked: {body}");
    assert!(body.contains("водоснабжение"), "tags in Russian: {body}");
    assert!(body.contains("value=\"topic:water трубы\""), "the query stays in the box");
    // A syntax error is explained on the page, in Russian, not as JSON.
    let (status, _, body) = call(&app, "GET", &format!("/search?q={}", encode("вода AND (газ")), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Запрос не выполнен: позиция"), "{body}");
    // Paging links keep the query.
    let (_, _, body) = call(&app, "GET", "/search?q=&size=2", None).await;
    assert!(body.contains("Следующие →") && body.contains("page=2"), "{body}");
}
