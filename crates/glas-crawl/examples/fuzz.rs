//! A mutation fuzzer for everything that reads the outside world, on stable
//! Rust and without a fuzzing toolchain (issue 23): feeds, Telegram preview
//! pages, article HTML, HTML to text, charset decoding, Russian dates, mention
//! lines, robots.txt, canonical URLs, the query language and the pipeline
//! file.
//!
//!     scripts/fuzz                                  # every target, 60 s each
//!     cargo run --release -p glas-crawl --example fuzz -- --seconds 60 [TARGET...]
//!
//! Each target starts from seeds: the repository's fixtures of its kind and
//! the inputs in `fuzz/corpus/TARGET/` (regressions: every crash found is
//! kept there and in a unit test). Each round takes a seed or an input that
//! reached a new output size class, mutates it (bit flips, byte insertions
//! and deletions, repeated and spliced ranges, tokens the parsers care about)
//! and runs the target under `catch_unwind`. A panic is a crash: the input is
//! written to `fuzz/crashes/` and the run goes on. An input that takes longer
//! than a second is reported as slow. The figures (executions, rate,
//! crashes, slow inputs) go to stdout; BENCHMARKS.md records a run.
//! Deterministic for a given `--seed`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::TimeZone as _;
use glas_crawl::{Fetcher, SourceCtx};

/// Tokens the parsers branch on, inserted whole.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "<![CDATA[",
    "]]>",
    "&#",
    "&#x",
    "&amp;",
    ";",
    "\"",
    "'",
    "=",
    "<item>",
    "</item>",
    "<entry>",
    "<pubDate>",
    "<div class=\"tgme_widget_message_wrap",
    "data-post=\"",
    "datetime=\"",
    "<time",
    "<script>",
    "<!--",
    "-->",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\\u",
    "\\",
    "\n",
    "\r\n",
    "\t",
    "\0",
    "null",
    "true",
    "-9223372036854775808",
    "99999999999999999999",
    "0.5e308",
    "января",
    "вчера",
    "сегодня",
    "в 25:61",
    "31",
    "2026",
    "-",
    "+03:00",
    "T",
    "Z",
    "AND",
    "OR",
    "NOT",
    "ИЛИ",
    "(",
    ")",
    "*",
    "~",
    "\u{200b}",
    "\u{feff}",
    "ё",
    "𝔘",
    "\u{301}",
    "[[sources]]",
    "kind = \"rss\"",
    "url = ",
    "Disallow: ",
    "User-agent: *",
    "Allow: /",
    "$",
    "http://",
    "https://x/../",
    "%",
    "%D0",
    "?",
    "#",
    "utm_source=",
    "charset=windows-1251",
    "\u{fffd}",
];

const TARGETS: &[&str] = &[
    "rss",
    "telegram",
    "vk",
    "article",
    "html_text",
    "decode",
    "dates",
    "jsonl",
    "robots",
    "canonical",
    "query",
    "pipeline",
];

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(8) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.insert(at, rng.next() as u8),
            2 if !v.is_empty() => {
                let start = rng.below(v.len());
                let end = (start + 1 + rng.below(64)).min(v.len());
                v.drain(start..end);
            }
            3 if !v.is_empty() => {
                let start = rng.below(v.len());
                let end = (start + 1 + rng.below(256)).min(v.len());
                let chunk = v[start..end].to_vec();
                let times = 1 + rng.below(8);
                for _ in 0..times {
                    v.splice(at..at, chunk.iter().copied());
                }
            }
            4 if !pool.is_empty() => {
                let other = &pool[rng.below(pool.len())];
                if !other.is_empty() {
                    let start = rng.below(other.len());
                    let end = (start + 1 + rng.below(512)).min(other.len());
                    v.splice(at..at, other[start..end].iter().copied());
                }
            }
            5 if v.len() > 1 => v.truncate(at.max(1)),
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                v.splice(at..at, t.iter().copied());
            }
        }
    }
    v.truncate(1 << 20);
    v
}

/// Runs one input through a target; the size of what it produced (a coarse
/// signal of a new path).
fn run(target: &str, input: &[u8], fetcher: &Fetcher) -> usize {
    let text = String::from_utf8_lossy(input);
    let tz = chrono_tz::Europe::Moscow;
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    match target {
        "rss" | "telegram" => {
            let src = glas_crawl::test_source(target, "https://t.me/s/x");
            let ctx = SourceCtx { source: &src, fetcher, tz, now };
            let out = if target == "rss" {
                glas_crawl::rss::parse(input, &ctx)
            } else {
                glas_crawl::telegram::parse(&text, &ctx)
            };
            out.map_or(0, |m| 1 + m.len())
        }
        "article" => {
            let s = glas_crawl::article::Selectors { links: None, title: None, date: None, text: None };
            let a = glas_crawl::article::extract(&text, &s, tz, now);
            let base = url::Url::parse("https://gazeta.example/news/").unwrap();
            a.text.len() / 64 + glas_crawl::article::article_links(&text, &base, &s).len()
        }
        "vk" => {
            let src = glas_crawl::test_source("vk", "https://api.vk.com/method");
            let ctx = SourceCtx { source: &src, fetcher, tz, now };
            glas_crawl::vk::parse_wall(&ctx, -200, input).map_or_else(|e| e.len() / 32, |m| 100 + m.len())
        }
        "html_text" => glas_crawl::text::html_to_text(&text).len() / 64,
        "decode" => {
            let a = glas_crawl::fetch::decode(input, Some("text/html; charset=windows-1251"));
            let b = glas_crawl::fetch::decode(input, None);
            (a.len() + b.len()) / 64
        }
        "dates" => usize::from(glas_crawl::dates::parse(&text, tz, now).is_some()),
        "jsonl" => {
            let (ok, bad) = glas_crawl::jsonl::parse_lines(&text);
            ok.len() * 2 + bad.len()
        }
        "robots" => {
            let r = glas_crawl::robots::Robots::parse(&text, "glas");
            usize::from(r.allows("/news/1")) + 2 * usize::from(r.allows("/"))
        }
        "canonical" => glas_crawl::canon::canonical(&text).len() / 16,
        "query" => {
            glas_core::query::parse(&text).map_or_else(|e| e.to_string().len() / 16, |n| format!("{n:?}").len() / 16)
        }
        "pipeline" => glas_core::Pipeline::parse(&text, Path::new("fuzz.toml"), Path::new("."))
            .map_or_else(|e| 1 + e.0.len(), |p| 100 + p.sources.len()),
        _ => unreachable!("checked at start"),
    }
}

fn files_under(dir: &Path, ext: &[&str], out: &mut Vec<Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            files_under(&p, ext, out);
        } else if (ext.is_empty() || p.file_name().is_some_and(|n| ext.iter().any(|e| n.to_string_lossy().contains(e))))
            && let Ok(b) = std::fs::read(&p)
        {
            out.push(b);
        }
    }
}

fn seeds(repo: &Path, target: &str) -> Vec<Vec<u8>> {
    let f = repo.join("fixtures");
    let mut out = Vec::new();
    let strings = |s: &[&str], out: &mut Vec<Vec<u8>>| out.extend(s.iter().map(|s| s.as_bytes().to_vec()));
    match target {
        "rss" => {
            files_under(&f, &[".xml", ".atom"], &mut out);
        }
        "telegram" => files_under(&f.join("telegram_preview"), &[".html"], &mut out),
        "vk" => files_under(&f.join("vk"), &[".json"], &mut out),
        "article" | "html_text" | "decode" => files_under(&f.join("sites"), &[".html"], &mut out),
        "dates" => strings(
            &[
                "23 ноября 2026, 09:15",
                "вчера в 18:40",
                "сегодня, 7:05",
                "2026-11-23T09:00:00+03:00",
                "23.11.2026 9:00",
                "Пн, 23 ноя",
            ],
            &mut out,
        ),
        "jsonl" => files_under(&f.join("jsonl"), &[".jsonl"], &mut out),
        "robots" => files_under(&f, &["robots.txt"], &mut out),
        "canonical" => strings(
            &["https://Gazeta.example/news/1?utm_source=tg&id=5#top", "http://x/a/../b/./c?", "//host/p", "вода"],
            &mut out,
        ),
        "query" => strings(
            &[
                "вода AND (газ OR свет)",
                "\"нет воды\"~2",
                "topic:water place:Величаевское -тест",
                "NOT (a OR b",
                "сем*",
            ],
            &mut out,
        ),
        "pipeline" => files_under(&repo.join("pipelines"), &[".toml"], &mut out),
        _ => {}
    }
    files_under(&repo.join("fuzz/corpus").join(target), &[], &mut out);
    for s in &mut out {
        s.truncate(256 << 10);
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let seconds: u64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = arg("--seed").and_then(|s| s.parse().ok()).unwrap_or(1);
    // `--trace FILE`: each input is written there before it runs, so one
    // that kills the process (a stack overflow, memory exhausted) is kept.
    let trace = arg("--trace").map(PathBuf::from);
    let named: Vec<String> = std::env::args()
        .skip(1)
        .scan(false, |skip, a| {
            let keep = !*skip && !a.starts_with("--");
            *skip = a.starts_with("--");
            Some(keep.then_some(a))
        })
        .flatten()
        .collect();
    for t in &named {
        if !TARGETS.contains(&t.as_str()) {
            eprintln!("unknown target '{t}'; targets: {}", TARGETS.join(", "));
            std::process::exit(2);
        }
    }
    let targets: Vec<&str> = if named.is_empty() {
        TARGETS.to_vec()
    } else {
        TARGETS.iter().copied().filter(|t| named.iter().any(|n| n == t)).collect()
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let crashes_dir = repo.join("fuzz/crashes");
    std::panic::set_hook(Box::new(|_| {}));
    let fetcher = Fetcher::new(&Default::default());
    println!("| target | seeds | executions | per second | new size classes | crashes | slow (> 1 s) |");
    println!("|---|---|---|---|---|---|---|");
    let mut total_crashes = 0;
    for target in targets {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ target.len() as u64 ^ 0x5bd1_e995);
        let base = seeds(&repo, target);
        let mut pool = base.clone();
        let mut seen: HashSet<usize> = HashSet::new();
        let (mut execs, mut crashes, mut slow) = (0u64, 0usize, 0usize);
        let mut crash_sigs: HashSet<String> = HashSet::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(seconds) {
            let parent = &pool[rng.below(pool.len())];
            let input = mutate(&mut rng, parent, &base);
            if let Some(path) = &trace {
                let _ = std::fs::write(path, &input);
            }
            let t = Instant::now();
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(target, &input, &fetcher)));
            execs += 1;
            if t.elapsed() > Duration::from_secs(1) {
                slow += 1;
            }
            match out {
                Ok(size) => {
                    if seen.insert(size) && pool.len() < 4096 {
                        pool.push(input);
                    }
                }
                Err(e) => {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    crashes += 1;
                    if crash_sigs.insert(msg.clone()) {
                        let _ = std::fs::create_dir_all(&crashes_dir);
                        let file = crashes_dir.join(format!("{target}-{execs}"));
                        let _ = std::fs::write(&file, &input);
                        eprintln!("{target}: crash ({msg}); input in {}", file.display());
                    }
                }
            }
        }
        total_crashes += crash_sigs.len();
        println!(
            "| {target} | {} | {execs} | {:.0} | {} | {crashes} ({} distinct) | {slow} |",
            base.len(),
            execs as f64 / started.elapsed().as_secs_f64(),
            seen.len(),
            crash_sigs.len()
        );
    }
    if total_crashes > 0 {
        std::process::exit(1);
    }
}
