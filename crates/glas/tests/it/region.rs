//! A region of two districts over a real nats-server with JetStream on
//! 127.0.0.1 (Debian's `nats-server`, installed by scripts/test): two crawl,
//! two enrich workers and a store writer per district over the loopback
//! fixture sources; workers killed at the worst moments and the server
//! restarted; then every mention once in its district's log and index, the
//! checkpoints those of a plain `glas crawl`, politeness held across
//! workers, and the regional search the union of the districts' hits.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use glas::fixture_server::{FixtureServer, VK_TEST_TOKEN};
use glas_store::Store;

use crate::support::*;

/// A nats-server with JetStream on 127.0.0.1, on a port the OS picked.
struct Nats {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Nats {
    fn start(dir: &Path, port: Option<u16>) -> Nats {
        let bin = std::env::var("GLAS_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let ports = dir.join("ports");
        let _ = std::fs::remove_dir_all(&ports);
        std::fs::create_dir_all(&ports).unwrap();
        let port_arg = port.map_or("-1".to_string(), |p| p.to_string());
        let child = Command::new(&bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port_arg, "-sd"])
            .arg(dir.join("js"))
            .arg("--ports_file_dir")
            .arg(&ports)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("nats.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin}: {e}. Run scripts/test (it installs Debian's nats-server), or set GLAS_NATS_SERVER")
            });
        // Owned from here: a panic below stops the server (Drop).
        let mut nats = Nats { child, dir: dir.to_path_buf(), port: 0 };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let file = std::fs::read_dir(&ports).unwrap().flatten().map(|e| e.path()).next();
            if let Some(text) = file.and_then(|f| std::fs::read_to_string(f).ok()).filter(|t| t.contains("nats")) {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                let url = v["nats"][0].as_str().unwrap();
                nats.port = url.rsplit(':').next().unwrap().parse().unwrap();
                return nats;
            }
            assert!(Instant::now() < deadline, "nats-server did not start: {}", log(&dir.join("nats.log")));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// A planned restart: SIGTERM, wait, start again on the same port and store.
    fn restart(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let again = Nats::start(&self.dir.clone(), Some(self.port));
        let old = std::mem::replace(self, again);
        std::mem::forget(old);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A worker process; its output goes to a file named after it.
struct Worker {
    child: Child,
    name: String,
    out: PathBuf,
}

impl Worker {
    fn spawn(dir: &Path, name: &str, args: &[String], env: &[(&str, &str)]) -> Worker {
        let out = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_glas"))
            .args(args)
            .env("GLAS_LOG", "info")
            .env("GLAS_VK_TOKEN", VK_TEST_TOKEN)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&out).unwrap())
            .spawn()
            .unwrap();
        Worker { child, name: name.to_string(), out }
    }

    fn log(&self) -> String {
        log(&self.out)
    }

    /// Waits for the line `listening on ADDR` and returns ADDR.
    fn listening(&mut self) -> String {
        let mut line = String::new();
        BufReader::new(self.child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        line.trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{}: {line:?}\n{}", self.name, self.log()))
            .to_string()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appeals as a bulk file: enough mentions that the workers are killed
/// with work in hand.
fn appeals(path: &Path, district: &str, n: usize) {
    let places = ["Левокумке", "Величаевском", "Бургун-Маджарах", "Новокумском", "Правокумском"];
    let topics = [
        "опять нет воды с утра, когда дадут",
        "яма на дороге у школы, машины бьют колёса",
        "мусор не вывозят вторую неделю, контейнеры переполнены",
        "не горят фонари на улице, дети идут в темноте",
        "в подъезде течёт крыша, управляющая компания не отвечает",
    ];
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let text = format!(
                "Обращение {i} ({district}): в {} {}. Жители дома {} просят разобраться.",
                places[i % places.len()],
                topics[(i / 5) % topics.len()],
                i % 97
            );
            let at = format!("2026-11-{:02}T{:02}:{:02}:00+03:00", 1 + i % 24, i % 24, i % 60);
            serde_json::json!({"id": format!("{district}-appeal-{i}"), "text": text, "published_at": at}).to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn source(id: &str, kind: &str, url: &str, extra: &str) -> String {
    format!(
        "\n[[sources]]\nid = \"{id}\"\ntype = \"{kind}\"\nurl = \"{url}\"\nallow_private = true\ninterval = \"6h\"\n{extra}\n"
    )
}

const DELAY_MS: u64 = 150;

fn pipeline(dir: &Path, name: &str, sources: &str) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    let text = format!(
        "[district]\nname = \"Округ {name}\"\n[storage]\ndata_dir = \"data-{name}\"\n[crawl]\ndelay = \"{DELAY_MS}ms\"\ntimeout = \"5s\"\nretries = 2\nbackoff = \"10ms\"\n{sources}"
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn ids(data: &Path) -> (usize, BTreeSet<String>) {
    let records = Store::open_reader(data).unwrap().records().unwrap();
    let n = records.len();
    (n, records.into_iter().map(|r| r.mention.id).collect())
}

fn checkpoints(data: &Path) -> HashMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(data.join("checkpoints.json")).unwrap_or_else(|_| "{}".into());
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_region_of_two_districts_stores_each_mention_once_through_killed_workers_and_a_server_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(FixtureServer::start(&fixtures())).unwrap();
    let base = server.base_url();
    appeals(&dir.join("a.jsonl"), "a", 2500);
    appeals(&dir.join("b.jsonl"), "b", 2500);
    let a = pipeline(
        dir,
        "alpha",
        &[
            source("rss", "rss", &format!("{base}/demo/feeds/vestnik-levokumya.xml"), ""),
            source("tg", "telegram", &format!("{base}/demo/telegram/levokumka_live.html"), ""),
            source("appeals", "jsonl", &dir.join("a.jsonl").display().to_string(), ""),
        ]
        .concat(),
    );
    let b = pipeline(
        dir,
        "beta",
        &[
            source("atom", "rss", &format!("{base}/demo/feeds/stavropolye-vostok.atom"), ""),
            source("html", "html", &format!("{base}/sites/gazeta/index.html"), ""),
            source("vk", "vk", &format!("{base}/vk/method"), "owner_id = -100\ncomments = true"),
            // The same channel as alpha's: each district keeps its own copy;
            // here it is the administration's own (its audience is recorded).
            source("tg", "telegram", &format!("{base}/demo/telegram/levokumka_live.html"), "own = true"),
            source("appeals.bulk", "jsonl", &dir.join("b.jsonl").display().to_string(), ""),
        ]
        .concat(),
    );
    // What a plain crawl of each district stores: the region must store the same.
    for (p, name) in [(&a, "alpha"), (&b, "beta")] {
        let out = Command::new(env!("CARGO_BIN_EXE_glas"))
            .args(["crawl", "--once", "--pipeline"])
            .arg(p)
            .arg("--data")
            .arg(dir.join(format!("ref-{name}")))
            .env("GLAS_VK_TOKEN", VK_TEST_TOKEN)
            .output()
            .unwrap();
        // 3: the news site's listing has a broken page, reported as such.
        assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
    }
    let (ref_a, ref_b) = (ids(&dir.join("ref-alpha")).1, ids(&dir.join("ref-beta")).1);
    assert!(ref_a.len() > 2500 && ref_b.len() > 2500, "{} {}", ref_a.len(), ref_b.len());
    let requests_before = server.requests().len();

    let mut nats = Nats::start(dir, None);
    let url = nats.url();
    let (a_s, b_s) = (a.display().to_string(), b.display().to_string());
    let worker = |role: &str, pipeline: &str, more: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["worker", role, "--nats", &url, "--ack-wait", "3", "--pipeline", pipeline]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(more.iter().map(|s| s.to_string()));
        v
    };
    let crawl_args = worker("crawl", &a_s, &["--district", &b_s, "--concurrency", "2"]);
    let enrich_args = worker("enrich", &a_s, &["--district", &b_s, "--batch", "200", "--threads", "1"]);
    let store_a_args = worker("store", &a_s, &["--analyse-every", "2", "--listen", "127.0.0.1:0"]);
    let store_b_args = worker("store", &b_s, &["--analyse-every", "2"]);

    let mut store_a = Worker::spawn(dir, "store-alpha", &store_a_args, &[]);
    let addr = store_a.listening();
    let mut store_b = Worker::spawn(dir, "store-beta", &store_b_args, &[]);
    // The first of each kind dies at its worst moment: a crawl worker after
    // publishing a fetch's mentions and before its end and acknowledgement;
    // an enrich worker after publishing records and before acknowledging.
    let mut crawl1 = Worker::spawn(dir, "crawl-1", &crawl_args, &[("GLAS_FAILPOINT", "crawl:after-raw")]);
    let _crawl2 = Worker::spawn(dir, "crawl-2", &crawl_args, &[]);
    let mut enrich1 = Worker::spawn(dir, "enrich-1", &enrich_args, &[("GLAS_FAILPOINT", "enrich:after-publish")]);
    let mut enrich2 = Worker::spawn(dir, "enrich-2", &enrich_args, &[]);
    for w in [&mut crawl1, &mut enrich1] {
        let status = w.child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL),
            "{} should stop at its failpoint:\n{}",
            w.name,
            w.log()
        );
    }
    // The server restarts with messages in every stream.
    nats.restart();
    // The second enrich worker is killed outright while the work flows.
    std::thread::sleep(Duration::from_millis(300));
    enrich2.child.kill().unwrap();
    enrich2.child.wait().unwrap();
    let mut crawl1b = Worker::spawn(dir, "crawl-1b", &crawl_args, &[]);
    let mut enrich1b = Worker::spawn(dir, "enrich-1b", &enrich_args, &[]);
    let mut enrich2b = Worker::spawn(dir, "enrich-2b", &enrich_args, &[]);

    let (data_a, data_b) = (dir.join("data-alpha"), dir.join("data-beta"));
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let got = |d: &Path| if d.join("log").exists() { ids(d).1 } else { BTreeSet::new() };
        let (ga, gb) = (got(&data_a), got(&data_b));
        if ga.len() >= ref_a.len() && gb.len() >= ref_b.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the region stored {}/{} and {}/{}\nstore-alpha:\n{}\nstore-beta:\n{}\nenrich-1b:\n{}\ncrawl-1b:\n{}",
            ga.len(),
            ref_a.len(),
            gb.len(),
            ref_b.len(),
            store_a.log(),
            store_b.log(),
            enrich1b.log(),
            crawl1b.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Redeliveries still in flight have time to arrive (and be dropped).
    std::thread::sleep(Duration::from_secs(4));
    for (data, reference, name) in [(&data_a, &ref_a, "alpha"), (&data_b, &ref_b, "beta")] {
        let (rows, got) = ids(data);
        assert_eq!(&got, reference, "{name}: the region stored other mentions than a plain crawl");
        assert_eq!(rows, got.len(), "{name}: a mention was stored twice");
        // The index holds each once too.
        let out = glas(&["search", "--json", "--all-reprints", "--limit", "1", "--data", data.to_str().unwrap()]);
        let res: serde_json::Value =
            serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        assert_eq!(res["total"].as_u64(), Some(rows as u64), "{name}: index and log differ");
        // Checkpoints: every source's, with the position a plain crawl reached.
        let (got_cp, ref_cp) = (checkpoints(data), checkpoints(&dir.join(format!("ref-{name}"))));
        assert_eq!(got_cp.len(), ref_cp.len(), "{name}: {got_cp:#?}");
        for (source, r) in &ref_cp {
            let g = &got_cp[source];
            for field in ["cursor", "etag", "last_modified", "seen"] {
                assert_eq!(g[field], r[field], "{name}/{source}: checkpoint field {field}");
            }
            assert!(g["last_success"].is_string() && g["last_new"].is_string(), "{name}/{source}: {g}");
            assert_eq!(g["consecutive_failures"], 0, "{name}/{source}: {g}");
        }
    }
    // The own channel's audience came over the streams to the writer.
    let audience = |data: &Path| -> Vec<(String, i64)> {
        let db = rusqlite::Connection::open(data.join("workspace.sqlite")).unwrap();
        let mut q = db.prepare("SELECT source, members FROM audience ORDER BY source").unwrap();
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(audience(&data_b), vec![("tg".to_string(), 1180)]);
    assert_eq!(audience(&data_b), audience(&dir.join("ref-beta")));
    // The same channel followed by both districts is in both.
    assert!(ref_a.iter().any(|id| id.starts_with("tg:") && ref_b.contains(id)));
    // No id of one district's own files in the other's store.
    assert!(!ids(&data_a).1.iter().any(|id| id.starts_with("b-appeal-")));

    // Politeness across workers and districts: requests to the fixture host
    // never overlapped and came at least the pipelines' delay apart (without
    // the host's lease, two workers' fetches interleave).
    let mut reqs: Vec<_> = server.requests().into_iter().skip(requests_before).collect();
    reqs.sort_by_key(|r| r.0);
    assert!(reqs.len() >= 8, "{reqs:?}");
    for w in reqs.windows(2) {
        let gap = w[1].0.saturating_duration_since(w[0].0);
        assert!(w[1].0 >= w[0].1, "requests overlapped: {} and {}", w[0].2, w[1].2);
        // A fetcher reads robots.txt once and goes on at once, as `glas run` does.
        if w[0].2 != "/robots.txt" {
            assert!(gap >= Duration::from_millis(DELAY_MS * 9 / 10), "{} then {} only {gap:?} apart", w[0].2, w[1].2);
        }
    }

    // The store writer's /metrics: the service's figures and the consumer's.
    let metrics = get(&addr, "/metrics");
    assert!(metrics.contains("glas_worker_messages_total{role=\"store\",consumer=\"store-alpha\"}"), "{metrics}");
    assert!(metrics.contains("glas_worker_queue_pending{role=\"store\",consumer=\"store-alpha\"} 0"), "{metrics}");

    // The regional search: the union of both districts' hits, ranked (a
    // query each district matches fewer than a page of).
    const QUERY: &str = "\"дома 7 просят\"";
    let one = |p: &Path| -> serde_json::Value {
        let out = glas(&["search", QUERY, "--json", "--limit", "100", "--pipeline", p.to_str().unwrap()]);
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)))
    };
    let (sa, sb) = (one(&a), one(&b));
    let out = glas(&["region", "search", QUERY, "--json", "--limit", "100", "--pipeline", &a_s, "--district", &b_s]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let total = |v: &serde_json::Value| v["total"].as_u64().unwrap_or_else(|| panic!("no total in {v}"));
    assert!(total(&sa) > 5 && total(&sb) > 5 && total(&sa) + total(&sb) < 100, "{} {}", total(&sa), total(&sb));
    assert_eq!(total(&r), total(&sa) + total(&sb));
    let hits = r["hits"].as_array().unwrap();
    let expect: BTreeSet<(String, String)> = [("alpha", &sa), ("beta", &sb)]
        .iter()
        .flat_map(|(d, s)| {
            s["hits"].as_array().unwrap().iter().map(move |h| (d.to_string(), h["id"].as_str().unwrap().to_string()))
        })
        .collect();
    let got: BTreeSet<(String, String)> = hits
        .iter()
        .map(|h| (h["district"].as_str().unwrap().to_string(), h["id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, expect);
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "not ranked by score");
    // The same from the API of a workspace started with the other district.
    // Tokens with the role and the districts a regional search covers.
    let token = |name: &str, role: &str, districts: &str| {
        let out = glas(&["token", "create", name, "--role", role, "--districts", districts, "--pipeline", &a_s]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    let (analyst, viewer) = (token("bot-analyst", "analyst", "beta"), token("bot-viewer", "viewer", "all"));
    let local = token("bot-local", "analyst", "none");
    let bad = glas(&["token", "create", "bot-bad", "--districts", "beta gamma", "--pipeline", &a_s]);
    assert_eq!(bad.status.code(), Some(2), "a district named with a space is refused: {}", stderr(&bad));
    let mut serve = Worker::spawn(
        dir,
        "serve",
        &["serve", "--addr", "127.0.0.1:0", "--pipeline", &a_s, "--district", &b_s].map(String::from),
        &[],
    );
    let mut first = String::new();
    BufReader::new(serve.child.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
    let web = first.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().to_string();
    let path =
        "/api/region/search?q=%22%D0%B4%D0%BE%D0%BC%D0%B0%207%20%D0%BF%D1%80%D0%BE%D1%81%D1%8F%D1%82%22&size=100";
    let answer = get_as(&web, path, &analyst);
    let body: serde_json::Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(total(&body), total(&r), "{answer}");
    let api: BTreeSet<(String, String)> = body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["district"].as_str().unwrap().to_string(), h["id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(api, expect);
    // The page: both districts' hits, each naming its district; a link to
    // the page from the district's own search.
    let page = get_as(&web, &path.replacen("/api/region/search", "/search/region", 1), &analyst);
    assert!(page.contains("Найдено во всех округах"), "{page}");
    // Districts by the names people read ([district] name).
    assert!(page.contains("<b>Округ alpha</b>") && page.contains("<b>Округ beta</b>"), "{page}");
    for (name, n) in [("Округ alpha", total(&sa)), ("Округ beta", total(&sb))] {
        assert!(page.contains(&format!(">{name}</a> — {n}")), "{page}");
    }
    // Each district's count narrows the search to it; the facets and the
    // filters are summed over the districts and stay in the region.
    assert!(page.contains("/search/region?q=") && page.contains("district=beta"), "{page}");
    assert!(page.contains("<aside class=\"facets\">") && page.contains("name=\"region\""), "{page}");
    let only_b = get_as(&web, &format!("{path}&district=beta"), &analyst);
    let only_b: serde_json::Value = serde_json::from_str(only_b.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(total(&only_b), total(&sb));
    let one = get_as(&web, "/api/search?q=x&district=beta", &analyst);
    assert!(one.lines().next().unwrap_or_default().contains(" 400 "), "district outside the region's API: {one}");
    // The export: every hit of both districts, each naming its district.
    let export = |format: &str| {
        let p = path.replacen("/api/region/search", "/api/region/export", 1).replace("&size=100", "");
        let r = get_as(&web, &format!("{p}&format={format}"), &analyst);
        assert!(r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200"), "{r}");
        r.split_once("\r\n\r\n").unwrap().1.to_string()
    };
    let lines = export("jsonl");
    let mut per: std::collections::BTreeMap<String, u64> = Default::default();
    for l in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        *per.entry(v["district"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(per, [("alpha".to_string(), total(&sa)), ("beta".to_string(), total(&sb))].into(), "{lines}");
    let csv = export("csv");
    assert!(csv.starts_with("\u{feff}Округ;Дата;Источник"), "{csv}");
    assert!(csv.contains("Округ alpha;") && csv.contains("Округ beta;"), "{csv}");
    // An account covers its own district unless given others: no regional
    // search, and no link to it.
    let refused = get_as(&web, path, &local);
    assert!(refused.lines().next().unwrap_or_default().contains(" 403 "), "{refused}");
    assert!(refused.contains("охватывает только этот округ"), "{refused}");
    assert!(get_as(&web, &format!("{path}&format=csv").replace("/search?", "/export?"), &local).contains(" 403 "));
    assert!(!get_as(&web, "/search?q=x", &local).contains("/search/region"));
    assert!(get_as(&web, "/search?q=x", &analyst).contains("/search/region?q=x"));
    let refused = get_as(&web, path, &viewer);
    assert!(refused.lines().next().unwrap_or_default().contains(" 403 "), "a viewer is not an analyst: {refused}");
    drop(serve);

    // Bad input: a malformed message on a worker's subject is set aside in
    // GLAS_REJECTED with its reason, and the workers go on.
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
        js.publish("glas.raw.alpha", "not json".into()).await.unwrap().await.unwrap();
        js.publish("glas.store.beta.rec", r#"{"source": "tg"}"#.into()).await.unwrap().await.unwrap();
        let mut stream = js.get_stream("GLAS_REJECTED").await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while stream.info().await.unwrap().state.messages < 2 {
            assert!(Instant::now() < deadline, "malformed messages were not set aside");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut reasons = Vec::new();
        for seq in 1..=2 {
            let m = stream.get_raw_message(seq).await.unwrap();
            let header = |name: &str| m.headers.get(name).map(|v| v.as_str().to_string()).unwrap_or_default();
            reasons.push((
                header("Glas-Subject"),
                header("Glas-Reason"),
                String::from_utf8_lossy(&m.payload).to_string(),
            ));
        }
        reasons.sort();
        assert_eq!(reasons[0].0, "glas.raw.alpha");
        assert!(reasons[0].1.starts_with("not a raw mention"), "{reasons:?}");
        assert_eq!(reasons[0].2, "not json");
        assert_eq!(reasons[1].0, "glas.store.beta.rec");
        assert!(reasons[1].1.starts_with("not a record"), "{reasons:?}");
    });
    for w in [&mut store_a, &mut store_b, &mut enrich1b, &mut enrich2b, &mut crawl1b] {
        assert!(w.child.try_wait().unwrap().is_none(), "{} stopped:\n{}", w.name, w.log());
    }
    // One district's failure is reported, not fatal.
    // (its data folder is a file: it cannot be opened)
    std::fs::write(dir.join("gamma.toml"), "[storage]\ndata_dir = \"a.jsonl\"\n").unwrap();
    let out =
        glas(&["region", "search", "вода", "--pipeline", &a_s, "--district", dir.join("gamma.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("alpha"), "{}", stdout(&out));
    assert!(stderr(&out).contains("Округ gamma не ответил"), "{}", stderr(&out));
    drop(nats);
}
