//! Crawling over real HTTP on 127.0.0.1, through the `glas` binary: one source
//! of every kind, twice (every post exactly once), and the broken twins, each
//! reported with its reason while the healthy sources complete.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use glas::fixture_server::{FixtureServer, VK_TEST_TOKEN};
use glas_store::Store;

use crate::support::*;

const CRAWL: &str = r#"
[crawl]
delay = "0s"
timeout = "3s"
connect_timeout = "2s"
retries = 2
backoff = "10ms"
max_retry_after = "5s"
"#;

fn source(id: &str, kind: &str, url: &str, extra: &str) -> String {
    format!("\n[[sources]]\nid = \"{id}\"\ntype = \"{kind}\"\nurl = \"{url}\"\nallow_private = true\n{extra}\n")
}

fn write_pipeline(dir: &Path, sources: &str) -> std::path::PathBuf {
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, format!("[storage]\ndata_dir = \"data\"\n{CRAWL}{sources}")).unwrap();
    p
}

fn crawl(pipeline: &Path, env: &[(&str, &str)]) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["crawl", "--once", "--json", "--pipeline"])
        .arg(pipeline)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let summaries: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    (out.status.code(), summaries, stderr(&out))
}

fn by<'a>(summaries: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    summaries.iter().find(|s| s["source"] == id).unwrap_or_else(|| panic!("no summary for {id}"))
}

/// Posts in a channel's saved pages (all pages).
fn telegram_posts(channel: &str) -> usize {
    std::fs::read_dir(fixtures().join("demo/telegram"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&format!("{channel}.html")))
        .map(|p| std::fs::read_to_string(p).unwrap().matches("data-post=").count())
        .sum()
}

fn healthy_sources(base: &str) -> String {
    [
        source("rss", "rss", &format!("{base}/demo/feeds/vestnik-levokumya.xml"), ""),
        source("atom", "rss", &format!("{base}/demo/feeds/stavropolye-vostok.atom"), ""),
        source("rss-full-text", "rss", &format!("{base}/sites/gazeta/rss-leads.xml"), "full_text = true"),
        source("html", "html", &format!("{base}/sites/gazeta/index.html"), ""),
        source("html-1251", "html", &format!("{base}/sites/kumskaya-pravda/index.html"), ""),
        source("tg-paged", "telegram", &format!("{base}/demo/telegram/levokumka_live.html"), ""),
        source("tg-real", "telegram", &format!("{base}/telegram_preview/full.html"), ""),
        source("vk", "vk", &format!("{base}/vk/method"), "owner_id = -100\ncomments = true"),
        source("vk-rate-limited", "vk", &format!("{base}/vk/method"), "owner_id = -101"),
        source("vk-by-domain", "vk", &format!("{base}/vk/method"), "domain = \"velichaevka_vk\""),
        source("jsonl", "jsonl", &fixtures().join("jsonl/appeals.jsonl").display().to_string(), ""),
    ]
    .concat()
}

#[test]
fn every_kind_imports_each_post_exactly_once_across_two_runs() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(FixtureServer::start(&fixtures())).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = write_pipeline(tmp.path(), &healthy_sources(&server.base_url()));
    let env = [("GLAS_VK_TOKEN", VK_TEST_TOKEN)];

    let (code, first, err) = crawl(&pipeline, &env);
    for s in &first {
        assert_ne!(s["status"], "failed", "{s}\n{err}");
        assert_eq!(s["new"], s["parsed"], "{s}");
        assert!(s["parsed"].as_u64().unwrap() > 0, "{s}");
    }
    // Partial: the gallery page without an article, the malformed jsonl line.
    assert_eq!(code, Some(3));
    assert!(by(&first, "html")["errors"][0].as_str().unwrap().contains("no article text found"), "{first:?}");
    assert!(
        by(&first, "jsonl")["errors"][0].as_str().unwrap().contains("line 3: missing required field `published_at`")
    );
    assert_eq!(by(&first, "html")["parsed"], 4);
    assert_eq!(by(&first, "html-1251")["parsed"], 1);
    assert_eq!(by(&first, "tg-paged")["parsed"].as_u64().unwrap() as usize, telegram_posts("levokumka_live"));
    assert!(by(&first, "tg-paged")["fetched"].as_u64().unwrap() >= 5, "paged back with ?before=");
    assert_eq!(by(&first, "vk")["parsed"], 6 + 2, "six posts (pinned included) and two comments");
    assert_eq!(by(&first, "vk-rate-limited")["parsed"], 2, "retried after VK error 6");
    assert_eq!(by(&first, "vk-by-domain")["parsed"], 3, "a wall addressed by domain");
    assert_eq!(by(&first, "jsonl")["parsed"], 3);
    let total: u64 = first.iter().map(|s| s["new"].as_u64().unwrap()).sum();

    let (_, second, _) = crawl(&pipeline, &env);
    for s in &second {
        assert_eq!(s["new"], 0, "second run brought something new: {s}");
    }
    // Nothing is fetched twice: unchanged feeds answer 304, seen articles are skipped.
    assert_eq!(by(&second, "rss")["status"], "not modified");
    assert_eq!(by(&second, "html")["status"], "not modified", "{second:?}");

    let store = Store::open(&tmp.path().join("data")).unwrap();
    let records = store.records().unwrap();
    assert_eq!(records.len() as u64, total);
    assert_eq!(records.iter().map(|r| &r.mention.id).collect::<HashSet<_>>().len() as u64, total);
    let get = |id: &str| records.iter().find(|r| r.mention.id == id).unwrap_or_else(|| panic!("no {id}"));
    let bridge =
        records.iter().find(|r| r.mention.text.contains("Пешеходный мост")).expect("the windows-1251 article, decoded");
    assert_eq!(bridge.mention.published_at.to_rfc3339(), "2026-11-19T11:20:00+03:00");
    assert!(
        bridge.enrichment.places.contains(&"Бургун-Маджары".to_string())
            || bridge.mention.text.contains("Бургун-Маджарах")
    );
    let priyom = records
        .iter()
        .find(|r| r.mention.title.as_deref() == Some("Глава округа проведёт выездной приём в Правокумском"))
        .unwrap();
    assert_eq!(priyom.mention.published_at.to_rfc3339(), "2026-11-22T16:40:00+03:00");
    assert!(!priyom.mention.text.contains("Читайте также") && !priyom.mention.text.contains("Поделиться"));
    // full_text: the feed's lead was replaced by the article, boilerplate removed.
    let full = get("rss:rss-full-text/niva-1");
    assert!(full.mention.text.contains("Работы провели за три дня"), "{}", full.mention.text);
    assert!(!full.mention.text.contains("Поделиться"));
    assert_eq!(by(&first, "rss-full-text")["fetched"], 3, "the feed and its two articles");
    let comment = get("vk:wall-100_518_c9001");
    assert_eq!(comment.mention.extra["reply_to"], "vk:wall-100_518");
    assert_eq!(get("vk:wall-100_518").mention.engagement.views, Some(2300));
    drop(store);

    // As of a day after the demo month ends.
    let out =
        glas(&["sources", "--json", "--at", "2026-11-26T12:00:00+03:00", "--pipeline", pipeline.to_str().unwrap()]);
    let ledger: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(ledger.len(), 11);
    for h in &ledger {
        assert_eq!(h["status"], "ok", "{h}");
        assert!(h["last_success"].is_string());
    }
    drop(server);
}

#[test]
fn broken_twins_are_reported_while_healthy_sources_complete() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(FixtureServer::start(&fixtures())).unwrap();
    let silent = rt.block_on(FixtureServer::silent()).unwrap();
    let b = server.base_url();
    let tmp = tempfile::tempdir().unwrap();
    let sources = [
        source("healthy", "rss", &format!("{b}/demo/feeds/adm-levokumsky.xml"), ""),
        source("retry-after", "rss", &format!("{b}/_misbehave/retry-after"), ""),
        source("truncated", "rss", &format!("{b}/broken/truncated.xml"), ""),
        source("not-a-feed", "rss", &format!("{b}/broken/not-a-feed.xml"), ""),
        source("missing", "rss", &format!("{b}/broken/no-such-file.xml"), ""),
        source("huge", "rss", &format!("{b}/_misbehave/huge"), ""),
        source("never-answers", "rss", &format!("{}/feed.xml", silent.base_url()), ""),
        source("redirect-loop", "rss", &format!("{b}/_misbehave/loop-a"), ""),
        source("robots", "rss", &format!("{b}/private/feed.xml"), ""),
        source("no-links", "html", &format!("{b}/broken/not-a-feed.xml"), ""),
        source("vk-bad-token", "vk", &format!("{b}/vk/method"), "owner_id = -100\ntoken_env = \"GLAS_TEST_BAD_TOKEN\""),
        source("vk-denied", "vk", &format!("{b}/vk/method"), "owner_id = -666"),
        source(
            "vk-no-token",
            "vk",
            &format!("{b}/vk/method"),
            "owner_id = -100\ntoken_env = \"GLAS_TEST_UNSET_TOKEN\"",
        ),
    ]
    .concat();
    let mut sources = sources;
    sources.push_str(&format!(
        "\n[[sources]]\nid = \"private-refused\"\ntype = \"rss\"\nurl = \"{b}/demo/feeds/adm-levokumsky.xml\"\n"
    ));
    let pipeline = write_pipeline(tmp.path(), &sources);
    let (code, s, err) = crawl(&pipeline, &[("GLAS_VK_TOKEN", VK_TEST_TOKEN), ("GLAS_TEST_BAD_TOKEN", "wrong")]);
    assert_eq!(code, Some(3));
    for ok in ["healthy", "retry-after"] {
        assert_eq!(by(&s, ok)["status"], "ok", "{}\n{err}", by(&s, ok));
        assert!(by(&s, ok)["new"].as_u64().unwrap() > 20);
    }
    let reason = |id: &str| {
        let v = by(&s, id);
        assert_eq!(v["status"], "failed", "{v}");
        v["errors"][0].as_str().unwrap().to_string()
    };
    let expect = [
        ("truncated", "parse"),
        ("truncated", "not a valid RSS/Atom/JSON feed"),
        ("not-a-feed", "not a valid RSS/Atom/JSON feed"),
        ("missing", "HTTP status 404 Not Found"),
        ("huge", "response exceeds the 20971520-byte limit"),
        ("never-answers", "timed out"),
        ("redirect-loop", "redirect loop"),
        ("robots", "disallowed by"),
        ("no-links", "no article links found"),
        ("vk-bad-token", "invalid or expired access token (VK error 5"),
        ("vk-denied", "access denied (private or closed wall) (VK error 15"),
        ("vk-no-token", "VK access token missing: set GLAS_TEST_UNSET_TOKEN"),
        ("private-refused", "refusing to fetch private address 127.0.0.1"),
    ];
    for (id, needle) in expect {
        let r = reason(id);
        assert!(r.contains(needle), "{id}: {r:?} lacks {needle:?}");
    }
    assert!(!reason("vk-bad-token").contains("wrong"), "the token must not leak into errors");
    assert!(reason("huge").contains("/_misbehave/huge"), "errors name the URL");

    // Every failure is kept with source, URL, stage and reason.
    let log = std::fs::read_to_string(tmp.path().join("data/crawl/failures.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    for key in ["at", "source", "url", "stage", "reason"] {
        assert!(first.get(key).is_some(), "{first}");
    }
    assert!(log.lines().count() >= expect.len() - 1);
    // Failed or not, every source's attempt is recorded: the service counts
    // its interval from it.
    let checkpoints: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("data/checkpoints.json")).unwrap()).unwrap();
    for id in ["healthy", "missing", "never-answers", "vk-denied"] {
        assert!(checkpoints[id]["last_attempt"].is_string(), "{id}: {}", checkpoints[id]);
    }
    drop((server, silent));
}

#[test]
fn a_source_that_keeps_failing_is_flagged_and_alerted() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(FixtureServer::start(&fixtures())).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let b = server.base_url();
    let sources = format!(
        "{}{}\n[alerts]\nfrom = \"glas@example.org\"\nto = [\"it@example.org\"]\n",
        source("adm", "rss", &format!("{b}/demo/feeds/adm-levokumsky.xml"), ""),
        source("gone", "rss", &format!("{b}/broken/no-such-file.xml"), "name = \"Исчезнувшая газета\""),
    );
    let pipeline = write_pipeline(tmp.path(), &sources);
    for _ in 0..3 {
        crawl(&pipeline, &[]);
    }
    let p = pipeline.to_str().unwrap();
    // As of the day after the fixtures' newest item: the healthy source is
    // not silent then, whatever today's date is.
    let at = "2026-11-26T12:00:00+03:00";
    let out = glas(&["sources", "--at", at, "--pipeline", p]);
    assert_eq!(out.status.code(), Some(3));
    let table = stdout(&out);
    assert!(table.lines().any(|l| l.starts_with("gone ") && l.contains("failing")), "{table}");
    assert!(table.contains("last error:") && table.contains("404"), "{table}");
    let out = glas(&["analyze", "--alert", "--at", at, "--pipeline", p]);
    let text = stdout(&out);
    assert!(text.contains("Источник не работает: «Исчезнувшая газета» — 3 ошибки подряд"), "{text}{}", stderr(&out));
    let outbox: Vec<_> = std::fs::read_dir(tmp.path().join("data/outbox")).unwrap().collect();
    assert_eq!(outbox.len(), 1);
    drop(server);
}
