//! Residents' personal data: `glas erase` reaches every copy of a mention
//! (also when killed half-way), keeps it from coming back until withdrawn;
//! `[retention]` pseudonymises and deletes, with a dry run; roles without
//! the right to personal data see pseudonyms in the API and exports, and
//! every export is audited with its count.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use glas_store::Store;
use glas_web::accounts::Role;
use tower::ServiceExt as _;

use crate::support::*;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glas")).args(args).envs(env.iter().copied()).output().unwrap()
}

/// Every file under `dir` but the log's parts and the index (compressed:
/// those are checked through the store), as text.
fn plain_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != "log" && name != "index" {
                out.extend(plain_files(&p));
            }
        } else if !name.ends_with(".parquet") && !name.ends_with(".pdf") && !name.ends_with(".xlsx") {
            let bytes = std::fs::read(&p).unwrap();
            out.push((p.display().to_string(), decoded(&String::from_utf8_lossy(&bytes))));
        }
    }
    out
}

fn total(data: &str, q: &str) -> u64 {
    let out = run(&["search", q, "--json", "--data", data], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["total"].as_u64().unwrap()
}

#[test]
fn an_erasure_reaches_every_copy_survives_a_kill_and_keeps_the_post_out_until_withdrawn() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let d = data.to_str().unwrap();
    let out = run(&["demo", "--data", d], &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Two residents' posts: one quoted by the alerts and the incident, one
    // also by the weekly report.
    let (first_url, first_words) = ("https://t.me/levokumka_live/1296", "на звонки не отвечает");
    let (second_id, second_words) = ("tg:velichaevka_online/1235", "прорвало трубу возле водонапорной");
    assert!(total(d, &format!("\"{first_words}\"")) >= 1);
    assert!(total(d, &format!("\"{second_words}\"")) >= 1);
    let quoting = |words: &str| -> Vec<String> {
        plain_files(&data).into_iter().filter(|(_, text)| text.contains(words)).map(|(p, _)| p).collect()
    };
    let before = quoting(first_words);
    assert!(before.iter().any(|p| p.contains("outbox")), "{before:?}");
    assert!(before.iter().any(|p| p.ends_with("workspace.sqlite") || p.contains("workspace.sqlite-")), "{before:?}");
    let report = data.join("reports/weekly-2026-W48.html");
    assert!(std::fs::read_to_string(&report).unwrap().contains("velichaevka_online/1235"));
    let outbox_before = std::fs::read_dir(data.join("outbox")).unwrap().count();

    // A dry run changes nothing.
    let args = [
        "erase",
        "--data",
        d,
        "--url",
        first_url,
        "--id",
        second_id,
        "--reason",
        "Обращение № 12 от 01.12.2026 (ст. 21 152-ФЗ)",
        "--by",
        "оператор",
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = run(&dry, &[]);
    assert!(stdout(&out).contains("would erase 2 mentions"), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(quoting(first_words), before);

    // Killed right after the log and the index, before the copies elsewhere.
    let out = run(&args, &[("GLAS_FAILPOINT", "erase:after-log")]);
    assert!(!out.status.success(), "the failpoint kills the process");
    assert!(data.join("erasing.json").exists(), "the journal stays for the next start");
    assert_eq!(total(d, &format!("\"{first_words}\"")), 0, "the index already lost it");
    assert!(stdout(&run(&["erase", "--list", "--data", d], &[])).contains("no erasures recorded"));
    // The next writer to open the store finishes the erasure.
    let out = run(&["compact", "--data", d], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!data.join("erasing.json").exists());

    for words in [first_words, second_words] {
        assert_eq!(total(d, &format!("\"{words}\"")), 0, "{words}");
        let left = quoting(words);
        assert!(left.is_empty(), "{words} is still in {left:?}");
    }
    let store = Store::open_reader(&data).unwrap();
    let ids: Vec<String> = store.records().unwrap().into_iter().map(|r| r.mention.id).collect();
    assert!(!ids.iter().any(|i| i == "tg:levokumka_live/1296" || i == second_id));
    assert_eq!(store.index().deleted_docs(), 0, "the index's segments were merged: no deleted text left");
    assert_eq!(store.index().num_docs() as usize, ids.len());
    drop(store);
    // And no file of a merged-away segment is left on the disk.
    let meta = std::fs::read_to_string(data.join("index/meta.json")).unwrap();
    for f in std::fs::read_dir(data.join("index")).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(seg) = name.strip_suffix(".store") {
            let dashed = format!("{}-{}-{}-{}-{}", &seg[..8], &seg[8..12], &seg[12..16], &seg[16..20], &seg[20..]);
            assert!(meta.contains(seg) || meta.contains(&dashed), "{name} is not in the index's last commit");
        }
    }
    let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"event\":\"erasure\"") && !audit.contains(first_url), "{audit}");
    let signals = std::fs::read_to_string(data.join("analytics/signals.jsonl")).unwrap();
    assert!(!signals.contains("levokumka_live/1296") && !signals.contains(second_id));
    assert!(signals.contains("velichaevka_online/1237"), "the other evidence stays");
    // The report was made again without them; the other emails stay.
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(!html.contains("velichaevka_online/1235") && html.contains("Величаевское"));
    let outbox_after = std::fs::read_dir(data.join("outbox")).unwrap().count();
    assert!(outbox_after < outbox_before && outbox_after > 0, "{outbox_before} → {outbox_after}");
    let card = stdout(&run(&["--data", d, "incidents", "show", "1"], &[]));
    assert!(card.contains("Водоснабжение — Величаевское") && !card.contains(first_words), "{card}");

    // The record: who, why, which ids; not the address, not the words.
    let record = std::fs::read_to_string(data.join("erasures.jsonl")).unwrap();
    assert_eq!(record.lines().count(), 1, "{record}");
    let line: serde_json::Value = serde_json::from_str(record.lines().next().unwrap()).unwrap();
    let e = &line["erased"];
    assert_eq!(e["by"], "оператор");
    assert_eq!(e["reason"], "Обращение № 12 от 01.12.2026 (ст. 21 152-ФЗ)");
    assert_eq!(e["ids"], serde_json::json!(["tg:levokumka_live/1296", second_id]));
    assert!(!record.contains(first_url) && !record.contains(first_words), "{record}");
    let request = e["request"].as_str().unwrap().to_string();
    let list = stdout(&run(&["erase", "--list", "--data", d], &[]));
    assert!(list.contains(&request) && list.contains("2 mentions (id, url)"), "{list}");

    // The same post crawled again stays out; after a withdrawal it comes back.
    let again = tmp.path().join("again.jsonl");
    std::fs::write(
        &again,
        format!("{}\n", line_with("tg:levokumka_live/1296", "Снова: Водоканал на звонки не отвечает", first_url)),
    )
    .unwrap();
    let out = run(&["import", "--data", d, again.to_str().unwrap()], &[]);
    assert!(stdout(&out).contains("imported 0 · duplicate 1"), "{}{}", stdout(&out), stderr(&out));
    let out = run(&["erase", "--data", d, "--withdraw", &request, "--reason", "заявитель отозвал"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["import", "--data", d, again.to_str().unwrap()], &[]);
    assert!(stdout(&out).contains("imported 1 · duplicate 0"), "{}{}", stdout(&out), stderr(&out));
    let out = run(&["erase", "--data", d, "--withdraw", &request, "--reason", "ещё раз"], &[]);
    assert_eq!(out.status.code(), Some(2), "withdrawn twice: {}", stderr(&out));
    assert!(stderr(&out).contains("already withdrawn"), "{}", stderr(&out));
    // A request without a reason is refused.
    let out = run(&["erase", "--data", d, "--id", second_id], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--reason"), "{}", stderr(&out));
}

fn line_with(id: &str, text: &str, url: &str) -> String {
    serde_json::json!({"id": id, "text": text, "published_at": "2026-11-23T07:47:00+03:00", "source": "levokumka_live", "url": url})
        .to_string()
}

fn authored(id: &str, author: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    serde_json::json!({
        "id": id, "author": author, "source": "test", "published_at": at.to_rfc3339(),
        "text": format!("{author}: в Величаевском опять нет воды на улице Ленина"),
    })
    .to_string()
}

#[test]
fn retention_pseudonymises_then_deletes_with_a_dry_run_first() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let now = chrono::Utc::now();
    let day = chrono::Duration::days(1);
    let lines = [
        authored("r:new", "Иван Петров", now - day * 10),
        authored("r:old1", "Иван Петров", now - day * 200),
        authored("r:old2", "Иван Петров", now - day * 201),
        authored("r:old3", "Мария Сидорова", now - day * 202),
        authored("r:ancient", "Мария Сидорова", now - day * 1500),
    ];
    let file = tmp.path().join("m.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = run(&["import", "--data", d, file.to_str().unwrap()], &[]);
    assert!(stdout(&out).contains("imported 5"), "{}{}", stdout(&out), stderr(&out));

    let pipeline = tmp.path().join("p.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[storage]\ndata_dir = \"{d}\"\n[retention]\npseudonymise_authors_after_days = 90\ndelete_after_days = 1095\n"
        ),
    )
    .unwrap();
    let p = pipeline.to_str().unwrap();
    let authors = || -> std::collections::BTreeMap<String, String> {
        Store::open_reader(&data)
            .unwrap()
            .records()
            .unwrap()
            .into_iter()
            .map(|r| (r.mention.id, r.mention.author.unwrap_or_default()))
            .collect()
    };
    let out = run(&["--pipeline", p, "retention", "apply", "--dry-run"], &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("authors pseudonymised 3") && text.contains("mentions deleted 1"), "{text}");
    assert_eq!(authors()["r:old1"], "Иван Петров", "a dry run changes nothing");

    let out = run(&["--pipeline", p, "retention", "apply"], &[]);
    assert!(stdout(&out).contains("retention applied: authors pseudonymised 3"), "{}", stdout(&out));
    let a = authors();
    assert_eq!(a.len(), 4, "{a:?}");
    assert!(!a.contains_key("r:ancient"));
    assert_eq!(a["r:new"], "Иван Петров");
    assert!(a["r:old1"].starts_with("аноним-"), "{a:?}");
    assert_eq!(a["r:old1"], a["r:old2"], "one person, one pseudonym: distinct voices still count");
    assert_ne!(a["r:old1"], a["r:old3"]);
    // The index follows: the name finds only the recent post, the pseudonym the old ones.
    assert_eq!(total(d, "author:\"Иван Петров\""), 1);
    assert_eq!(total(d, &format!("author:\"{}\"", a["r:old1"])), 2);
    assert_eq!(Store::open_reader(&data).unwrap().index().deleted_docs(), 0);
    // Again: nothing left to do.
    let out = run(&["--pipeline", p, "retention", "apply"], &[]);
    assert!(stdout(&out).contains("authors pseudonymised 0") && stdout(&out).contains("mentions deleted 0"));
    // An archive imported later: names older than 90 days come in as
    // pseudonyms, posts older than 3 years not at all.
    let late = tmp.path().join("late.jsonl");
    std::fs::write(
        &late,
        [
            authored("r:late", "Мария Сидорова", now - day * 120),
            authored("r:late-old", "Мария Сидорова", now - day * 2000),
        ]
        .join("\n"),
    )
    .unwrap();
    let out = run(&["--pipeline", p, "import", late.to_str().unwrap()], &[]);
    assert!(
        stdout(&out).contains("imported 1 · duplicate 0 · rejected 0 · older than the retention period 1"),
        "{}",
        stdout(&out)
    );
    assert_eq!(authors()["r:late"], a["r:old3"]);
    // Bad settings are refused with their line.
    std::fs::write(
        &pipeline,
        "[storage]\ndata_dir = \"x\"\n[retention]\npseudonymise_authors_after_days = 400\ndelete_after_days = 100\n",
    )
    .unwrap();
    let out = run(&["--pipeline", p, "validate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("delete_after_days must be longer"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_without_personal_data_rights_see_pseudonyms_and_exports_are_audited_with_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let now = chrono::Utc::now();
    let lines: Vec<String> = (0..3)
        .map(|i| {
            authored(
                &format!("w:{i}"),
                if i < 2 { "Иван Петров" } else { "Мария Сидорова" },
                now - chrono::Duration::hours(i + 1),
            )
        })
        .collect();
    let file = tmp.path().join("m.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    assert!(run(&["import", "--data", data.to_str().unwrap(), file.to_str().unwrap()], &[]).status.success());

    let store = Store::open(&data).unwrap();
    let mut state = glas_web::AppState::new(Arc::new(store), data.clone(), vec![], chrono_tz::Europe::Moscow).unwrap();
    state.privacy.personal_data_roles = vec![Role::Admin];
    let state = Arc::new(state);
    let router = glas_web::router(state.clone());
    let analyst = state.accounts.create_token("аналитик", Role::Analyst).unwrap();
    let admin = state.accounts.create_token("админ", Role::Admin).unwrap();
    let get = |token: String, uri: String| {
        let router = router.clone();
        async move {
            let req = Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let q = "/api/search?q=%D0%B2%D0%BE%D0%B4%D1%8B";
    let (status, body) = get(analyst.clone(), q.into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let authors: Vec<&str> = v["hits"].as_array().unwrap().iter().map(|h| h["author"].as_str().unwrap()).collect();
    assert!(authors.iter().all(|a| a.starts_with("аноним-")), "{authors:?}");
    let (_, body) = get(admin.clone(), q.into()).await;
    assert!(body.contains("\"author\":\"Иван Петров\""), "{body}");
    // One mention and the export, the same way.
    let (_, body) = get(analyst.clone(), "/api/mentions/w:0".into()).await;
    assert!(body.contains("\"author\":\"аноним-"), "{body}");
    let (status, csv) = get(analyst.clone(), format!("{q}&format=csv").replace("/api/search", "/api/export")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.matches(";аноним-").count(), 3, "{csv}");
    assert!(!csv.contains(";Иван Петров;"), "{csv}");
    let (_, csv) = get(admin.clone(), format!("{q}&format=csv").replace("/api/search", "/api/export")).await;
    assert!(csv.contains("Иван Петров"), "{csv}");
    // Searching by a name would test a guess: refused.
    let (status, body) = get(analyst.clone(), "/api/search?q=author%3A%D0%98%D0%B2%D0%B0%D0%BD".into()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("персональными данными"), "{body}");
    // Every export is in the audit log with its query, count and how authors went out.
    let audit: Vec<serde_json::Value> = std::fs::read_to_string(data.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["event"] == "export")
        .collect();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["who"], "token:аналитик");
    assert_eq!(audit[0]["detail"]["q"], "воды");
    assert_eq!(audit[0]["detail"]["count"], 3);
    assert_eq!(audit[0]["detail"]["authors"], "pseudonyms");
    assert_eq!(audit[1]["detail"]["authors"], "names");
}

#[test]
fn the_service_applies_retention_by_its_clock_and_carries_out_queued_erasures() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    // The service's clock: 1 March 2027; one post older than 90 days by it.
    let clock = chrono::DateTime::parse_from_rfc3339("2027-03-01T09:00:00+03:00").unwrap().to_utc();
    let day = chrono::Duration::days(1);
    let file = tmp.path().join("m.jsonl");
    std::fs::write(
        &file,
        [authored("s:old", "Иван Петров", clock - day * 120), authored("s:new", "Иван Петров", clock - day * 5)]
            .join("\n"),
    )
    .unwrap();
    assert!(run(&["import", "--data", d, file.to_str().unwrap()], &[]).status.success());
    let pipeline = tmp.path().join("p.toml");
    std::fs::write(
        &pipeline,
        format!("[storage]\ndata_dir = \"{d}\"\n[retention]\npseudonymise_authors_after_days = 90\n"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["--pipeline", pipeline.to_str().unwrap(), "run", "--clock-start", &clock.to_rfc3339()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = data.join("retention.json");
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !done() {
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "timed out waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait("the retention pass", &|| state.exists());
    // An erasure asked for while the service holds the store is queued and
    // carried out by the service.
    let out =
        run(&["--pipeline", pipeline.to_str().unwrap(), "erase", "--id", "s:new", "--reason", "обращение 7"], &[]);
    assert!(stdout(&out).contains("the request is queued"), "{}{}", stdout(&out), stderr(&out));
    wait("the queued erasure", &|| data.join("erasures.jsonl").exists());
    let list = stdout(&run(&["--pipeline", pipeline.to_str().unwrap(), "erase", "--list"], &[]));
    assert!(list.contains("1 mentions (id)") && list.contains("обращение 7"), "{list}");
    // SIGTERM: a clean stop.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    let applied: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(applied["applied_on"], "2027-03-01", "the day by the service's clock");
    let authors: std::collections::BTreeMap<String, String> = Store::open_reader(&data)
        .unwrap()
        .records()
        .unwrap()
        .into_iter()
        .map(|r| (r.mention.id, r.mention.author.unwrap_or_default()))
        .collect();
    assert!(authors["s:old"].starts_with("аноним-"), "{authors:?}");
    assert!(!authors.contains_key("s:new"), "erased by the service: {authors:?}");
    assert_eq!(std::fs::read_dir(data.join("erase-requests")).unwrap().count(), 0, "the request file is gone");
}
