//! `glas serve` under load over real sockets on 127.0.0.1 (issue 23): many
//! logged-in people at once, each with their own session, doing a mix of
//! search pages, API searches with facets, exports and page views, while
//! others hold idle connections, type their request one byte a second, or
//! send bodies far over the limit.
//!
//!     scripts/bench-load                               # a 100,000-mention store, 50 clients, 60 s
//!     cargo bench -p glas --bench load -- --data DIR [--clients 50] [--seconds 60] [--idle 300] [--slow 10]
//!
//! Every answer of the people is checked (status 200 and a line of the
//! page's own text); an error is counted, never retried. The server is the
//! release `glas serve` as a child process; its memory (VmRSS, VmHWM) is
//! sampled every second.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn num(name: &str, default: usize) -> usize {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

const QUERIES: [&str; 8] =
    ["вода", "дорога", "отопление", "\"нет воды\"", "мусор", "администрация", "свет улица", "ремонт"];

/// The request kinds of the mix, in proportion, with a line each answer must hold.
const MIX: [(&str, &str); 10] = [
    ("search page", "Найдено:"),
    ("search page", "Найдено:"),
    ("search page", "Найдено:"),
    ("search page", "Найдено:"),
    ("API search + facets", "\"total\""),
    ("API search + facets", "\"total\""),
    ("export CSV", "Дата"),
    ("overview", "<h1>Обзор</h1>"),
    ("overview", "<h1>Обзор</h1>"),
    ("signals", "Сигналы"),
];

fn path_of(kind: usize, q: &str) -> String {
    match kind {
        0..=3 => format!("/search?q={}", enc(q)),
        4 | 5 => format!("/api/search?q={}&facets=true", enc(q)),
        6 => format!("/api/export?q={}&format=csv&since=1d", enc(q)),
        7 | 8 => "/".to_string(),
        _ => "/signals".to_string(),
    }
}

fn cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get_all(reqwest::header::SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let (kv, _) = v.split_once(';').unwrap_or((v, ""));
        let (k, val) = kv.split_once('=')?;
        (k == name && !val.is_empty()).then(|| val.to_string())
    })
}

async fn log_in(client: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let r = client.get(format!("{base}/login")).send().await.expect("login page");
    let csrf = cookie_value(&r, "glas_login").expect("login cookie");
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("username", user), ("password", password), ("csrf", csrf.as_str()), ("next", "/")])
        .finish();
    let r = client
        .post(format!("{base}/login"))
        .header(reqwest::header::COOKIE, format!("glas_login={csrf}"))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("login");
    cookie_value(&r, "glas_session").unwrap_or_else(|| panic!("no session: {}", r.status()))
}

#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    errors: u64,
    first_error: Option<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let Some(data) = arg("--data") else {
        eprintln!(
            "usage: cargo bench -p glas --bench load -- --data DIR [--clients 50] [--seconds 60] [--idle 300] [--slow 10]"
        );
        std::process::exit(2);
    };
    let (clients, seconds, idle, slow) =
        (num("--clients", 50), num("--seconds", 60), num("--idle", 300), num("--slow", 10));
    let glas = env!("CARGO_BIN_EXE_glas");
    let password = "пароль нагрузки";
    let mut add = Command::new(glas)
        .args(["user", "add", "load", "--role", "analyst", "--password-stdin", "--data", &data])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("glas user add");
    add.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = add.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() || err.contains("exists"), "user add: {err}");
    let mut server = Command::new(glas)
        .args(["serve", "--addr", "127.0.0.1:0", "--data", &data])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("glas serve");
    let pid = server.id().to_string();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).expect("address").to_string();
    let base = format!("http://{addr}");
    let rss_start = common::status_kb(&pid, "VmRSS:");
    println!("glas serve on {base}, {clients} clients for {seconds} s, {idle} idle connections, {slow} slow senders");

    // reqwest is built without a bundled crypto provider (plain HTTP here).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(rss_start));
    let (tallies, adversaries) = rt.block_on(async {
        // Idle connections and slow senders (threads: one byte a second), held
        // for the whole run.
        let mut held = Vec::new();
        for _ in 0..idle {
            held.push(std::net::TcpStream::connect(&addr).expect("idle connection"));
        }
        let slow_sent = Arc::new(AtomicU64::new(0));
        let slow_cut = Arc::new(AtomicU64::new(0));
        for _ in 0..slow {
            let (addr, stop, sent, cut) = (addr.clone(), stop.clone(), slow_sent.clone(), slow_cut.clone());
            std::thread::spawn(move || {
                let Ok(mut s) = std::net::TcpStream::connect(&addr) else { return };
                for b in b"GET /search?q=%D0%B2%D0%BE%D0%B4%D0%B0 HTTP/1.1\r\nHost: x\r\n".iter().cycle() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if s.write_all(&[*b]).is_err() {
                        // The server cut the connection off.
                        cut.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
        // Bodies far over the limit (64 KiB), sent again and again.
        let oversized = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        {
            let (base, stop, oversized, refused) = (base.clone(), stop.clone(), oversized.clone(), refused.clone());
            let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
            let session = log_in(&client, &base, "load", password).await;
            tokio::spawn(async move {
                let body = vec![b'x'; 4 << 20];
                while !stop.load(Ordering::Relaxed) {
                    let r = client
                        .post(format!("{base}/api/searches"))
                        .header(reqwest::header::COOKIE, format!("glas_session={session}"))
                        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(body.clone())
                        .send()
                        .await;
                    oversized.fetch_add(1, Ordering::Relaxed);
                    if r.is_ok_and(|r| r.status().is_client_error()) {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
        // Memory, every second.
        {
            let (stop, peak, pid) = (stop.clone(), peak_rss.clone(), pid.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(common::status_kb(&pid, "VmRSS:"), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
        // The people: each logs in, then works through the mix.
        let logged_in = Instant::now();
        let mut sessions = Vec::new();
        for _ in 0..clients {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let session = log_in(&client, &base, "load", password).await;
            sessions.push((client, session));
        }
        println!("{clients} logins in {:.1} s (Argon2id each)", logged_in.elapsed().as_secs_f64());
        let deadline = Instant::now() + Duration::from_secs(seconds as u64);
        let mut tasks = Vec::new();
        for (c, (client, session)) in sessions.into_iter().enumerate() {
            let base = base.clone();
            tasks.push(tokio::spawn(async move {
                let mut tally: BTreeMap<&'static str, Tally> = BTreeMap::new();
                let mut i = c;
                while Instant::now() < deadline {
                    let kind = i % MIX.len();
                    let (name, want) = MIX[kind];
                    let path = path_of(kind, QUERIES[(i / MIX.len()) % QUERIES.len()]);
                    let started = Instant::now();
                    let result = async {
                        let r = client
                            .get(format!("{base}{path}"))
                            .header(reqwest::header::COOKIE, format!("glas_session={session}"))
                            .send()
                            .await
                            .map_err(|e| e.to_string())?;
                        let status = r.status();
                        let body = r.text().await.map_err(|e| e.to_string())?;
                        if status != reqwest::StatusCode::OK {
                            return Err(format!("{path}: {status}"));
                        }
                        if !body.contains(want) {
                            return Err(format!("{path}: the answer lacks {want:?}"));
                        }
                        Ok(())
                    }
                    .await;
                    let t = tally.entry(name).or_default();
                    match result {
                        Ok(()) => t.latencies.push(started.elapsed().as_secs_f64() * 1000.0),
                        Err(e) => {
                            t.errors += 1;
                            t.first_error.get_or_insert(e);
                        }
                    }
                    i += 1;
                }
                tally
            }));
        }
        let mut all: BTreeMap<&'static str, Tally> = BTreeMap::new();
        for t in tasks {
            for (k, v) in t.await.unwrap() {
                let e = all.entry(k).or_default();
                e.latencies.extend(v.latencies);
                e.errors += v.errors;
                if e.first_error.is_none() {
                    e.first_error = v.first_error;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        // The idle connections the server closed (a header time limit) or
        // still holds.
        let open = held
            .iter()
            .filter(|c| {
                let _ = c.set_nonblocking(true);
                let mut b = [0u8; 1];
                !matches!(std::io::Read::read(&mut &**c, &mut b), Ok(0))
            })
            .count();
        let closed = held.len() - open;
        drop(held);
        (
            all,
            (
                open,
                closed,
                slow_cut.load(Ordering::Relaxed),
                slow_sent.load(Ordering::Relaxed),
                oversized.load(Ordering::Relaxed),
                refused.load(Ordering::Relaxed),
            ),
        )
    });

    let (mut total, mut errors, mut every) = (0usize, 0u64, Vec::new());
    println!("| request | answered | errors | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for (name, t) in &tallies {
        let mut l = t.latencies.clone();
        l.sort_by(f64::total_cmp);
        println!(
            "| {name} | {} | {} | {:.1} | {:.1} | {:.1} |",
            l.len(),
            t.errors,
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            l.last().copied().unwrap_or(f64::NAN)
        );
        if let Some(e) = &t.first_error {
            println!("  first error: {e}");
        }
        total += l.len();
        errors += t.errors;
        every.extend(l);
    }
    every.sort_by(f64::total_cmp);
    println!(
        "| all | {total} ({:.0}/s) | {errors} | {:.1} | {:.1} | {:.1} |",
        total as f64 / seconds as f64,
        percentile(&every, 0.5),
        percentile(&every, 0.99),
        every.last().copied().unwrap_or(f64::NAN)
    );
    let (open, closed, slow_cut, slow_bytes, oversized, refused) = adversaries;
    println!(
        "idle connections: {open} still open, {closed} closed by the server; slow senders: {slow_cut} of {slow} cut off, {slow_bytes} bytes sent; oversized bodies: {oversized} sent, {refused} refused with 4xx"
    );
    println!(
        "server memory: VmRSS {} MB at start, peak sampled {} MB, VmHWM {} MB",
        rss_start / 1024,
        peak_rss.load(Ordering::Relaxed) / 1024,
        common::status_kb(&pid, "VmHWM:") / 1024
    );
    let _ = server.kill();
    let _ = server.wait();
}
