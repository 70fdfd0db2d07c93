//! The workspace's server time on a large store (issue 18): the overview and
//! search pages with facets and the volume chart, each answered by the whole
//! router (the gate and its token lookup, the searches, the page), without a
//! socket, one request at a time.
//!
//!     scripts/bench-workspace                                  # makes the 1,000,000-mention store once, then this
//!     cargo bench -p glas --bench workspace -- --data DIR [--rounds 30]
//!
//! DIR is a store made by `glas import` and analysed by `glas analyze` (the
//! overview reads the tension table). The sources panel uses the demo
//! pipeline's sources, so its cost (a scan of the log's source column) is
//! the real one. Every answer is checked: status 200 and the page's own text.
//! The source-health ledger is made once before the rounds (its time is
//! printed) and kept for `ops::LEDGER_FRESH`, as it is for visits in that time.
//! Memory: the process's peak and current resident set (VmHWM, VmRSS) after
//! the run, store and index opened, every page answered.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use glas::ops::{self, Ctx};
use tower::ServiceExt as _;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn main() {
    let Some(data) = arg("--data").map(PathBuf::from) else {
        eprintln!("usage: cargo bench -p glas --bench workspace -- --data DIR [--rounds 30]");
        std::process::exit(2);
    };
    let rounds: usize = arg("--rounds").and_then(|r| r.parse().ok()).unwrap_or(30);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let opened = Instant::now();
    let ctx = Ctx::new(glas::demo_pipeline(None).expect("the demo pipeline"), Some(&data));
    let overview = glas_web::overview::Overview::builtin();
    let state =
        ops::workspace(ctx, overview, std::time::Duration::from_secs(60)).expect("the workspace over the store");
    let state = Arc::new(state);
    let name = format!("bench-{}", std::process::id());
    let token = state.accounts.create_token(&name, glas_web::accounts::Role::Analyst).unwrap();
    let docs = state.store.index().num_docs();
    println!("store {} ({docs} mentions) opened in {:.1} s", data.display(), opened.elapsed().as_secs_f64());
    let router = glas_web::router(state.clone());
    // The source ledger, made once here; the pages below reuse it (it is
    // kept for ops::LEDGER_FRESH), as visits within that time do.
    let stages = state.stages.clone().expect("stages");
    let made = (0..3)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(stages.source_health().unwrap());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect::<Vec<_>>();
    println!("source ledger: made in {:.1} ms, then read from memory in {:.3} ms", made[0], made[2]);

    // The corpus of scripts/bench-workspace ends on 2026-11-25.
    let week = "date:[2026-11-19 TO 2026-11-25]";
    let pages: Vec<(&str, String, &str)> = vec![
        ("overview", "/".into(), "Напряжённость по темам"),
        ("search: everything", "/search?q=".into(), "Найдено:"),
        ("search: one word", format!("/search?q={}", enc("вода")), "Найдено:"),
        ("search: phrase", format!("/search?q={}", enc("\"нет воды\"")), "Найдено:"),
        ("search: topic + tone", format!("/search?q={}", enc("topic:water sentiment:negative")), "Найдено:"),
        ("search: words, a week", format!("/search?q={}", enc(&format!("дорога OR ямы {week}"))), "Найдено:"),
        ("search: page 5", format!("/search?q={}&page=5", enc("администрация")), "Найдено:"),
        ("mention page", String::new(), "Почему так"),
    ];
    // A mention to open: the newest one.
    let newest = state
        .store
        .search(&glas_store::SearchRequest { sort: glas_store::Sort::Date, limit: 1, ..Default::default() })
        .unwrap()
        .hits[0]
        .id
        .clone();

    let get = |uri: String| {
        let router = router.clone();
        let token = token.clone();
        rt.block_on(async move {
            let req =
                Request::get(&uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
            let t = Instant::now();
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
            (t.elapsed().as_secs_f64() * 1000.0, status, String::from_utf8_lossy(&body).into_owned())
        })
    };

    println!("{rounds} rounds after one warm-up; server time in ms");
    println!("{:<24} {:>8} {:>8} {:>8}", "page", "p50", "p95", "max");
    let mut all = Vec::new();
    for (label, uri, expect) in &pages {
        let uri = if uri.is_empty() { format!("/mentions/{}", enc(&newest)) } else { uri.clone() };
        let (_, status, body) = get(uri.clone());
        assert!(status.is_success() && body.contains(expect), "{label}: {status}\n{}", &body[..body.len().min(2000)]);
        let mut times: Vec<f64> = (0..rounds).map(|_| get(uri.clone()).0).collect();
        all.extend_from_slice(&times);
        times.sort_by(f64::total_cmp);
        let q = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
        println!("{label:<24} {:>8.1} {:>8.1} {:>8.1}", q(0.5), q(0.95), times[times.len() - 1]);
    }
    all.sort_by(f64::total_cmp);
    let p95 = all[((all.len() as f64 - 1.0) * 0.95).round() as usize];
    println!("all pages: p95 {p95:.1} ms over {} requests", all.len());
    println!(
        "memory: peak resident {} MB, now {} MB",
        common::status_kb("self", "VmHWM:") / 1024,
        common::status_kb("self", "VmRSS:") / 1024
    );
    let _ = state.accounts.revoke_token(&name);
}
