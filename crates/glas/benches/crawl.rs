//! Crawl benchmark: N feeds of 50 items served on loopback, politeness off.
//!
//!     cargo bench -p glas --bench crawl -- [--feeds 1000] [--dir DIR] [--keep]
//!
//! Writes the feeds (deterministic Russian items) to DIR, then measures:
//! 1. parse only: feed-rs parsing and mapping every file to mentions, one thread
//!    (the same work Python's feedparser does in `benches/feedparser_bench.py`);
//! 2. fetch + parse: every feed fetched over HTTP from 127.0.0.1 and parsed,
//!    sources 16 at a time. The feeds are spread over 16 servers (ports), as a
//!    thousand real feeds live on many hosts: glas keeps one request at a time
//!    per host, so one host would serialise the whole round;
//! 3. the whole crawl round: fetch, parse, enrich, commit to the Parquet log and
//!    the tantivy index (`glas crawl --once`'s work).
//!
//! Each result is checked (item counts) inside the run; peak memory is the
//! process's VmHWM, reset before stages 2 and 3 (stage 1 holds every file and
//! mention in memory on purpose, to time parsing alone).

use std::path::{Path, PathBuf};
use std::time::Instant;

use glas::fixture_server::FixtureServer;
use glas::ops::{self, Ctx};
use glas_core::config::{CrawlSettings, SourceConfig, SourceOptions};

const ITEMS: usize = 50;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// Resets the peak-RSS mark (Linux), so each stage reports its own peak.
fn reset_peak() {
    // Hand freed heap back first, or the mark starts at what earlier stages left.
    // SAFETY: malloc_trim only releases free memory of the glibc allocator.
    unsafe {
        libc::malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

const TITLES: &[&str] = &[
    "В {p} отремонтировали водопровод на улице {s}",
    "Жители {p} жалуются на ямы на дороге",
    "Глава округа провёл приём граждан в {p}",
    "В {p} открылась новая спортивная площадка",
    "Мусор в {p} не вывозят вторую неделю",
    "Аграрии {p} завершили уборку урожая",
];
const PLACES: &[&str] = &["Левокумском", "Величаевском", "Владимировке", "Заре", "Турксаде", "Урожайном"];
const STREETS: &[&str] = &["Гагарина", "Ленина", "Мира", "Садовой", "Кирова"];

fn write_feeds(dir: &Path, n: usize) -> usize {
    std::fs::create_dir_all(dir).unwrap();
    let mut total = 0;
    for f in 0..n {
        let mut xml = String::with_capacity(60_000);
        xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>");
        xml.push_str(&format!(
            "<title>Новости округа {f}</title><link>https://news{f}.example/</link><description>Лента {f}</description>"
        ));
        for i in 0..ITEMS {
            let k = f * ITEMS + i;
            let (p, s) = (PLACES[k % PLACES.len()], STREETS[k % STREETS.len()]);
            let title = TITLES[k % TITLES.len()].replace("{p}", p).replace("{s}", s);
            let day = 1 + k % 28;
            xml.push_str(&format!(
                "<item><title>{title}</title><link>https://news{f}.example/2026/11/{day:02}/{k}.html</link><guid>n{f}-{i}</guid>\
<pubDate>{}, {day:02} Nov 2026 {:02}:{:02}:00 +0300</pubDate>\
<description>&lt;p&gt;{title}. По словам жителей, проблема тянется с весны, обращения в администрацию округа остаются без ответа. \
В управлении пообещали разобраться до конца месяца и сообщить о результатах на сайте. Материал {k}.&lt;/p&gt;</description></item>",
                ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][(day + 6) % 7],
                k % 24,
                k % 60
            ));
            total += 1;
        }
        xml.push_str("</channel></rss>\n");
        std::fs::write(dir.join(format!("feed-{f:04}.xml")), xml).unwrap();
    }
    total
}

fn source(id: usize, url: String) -> SourceConfig {
    SourceConfig {
        id: format!("feed-{id:04}"),
        kind: "rss".into(),
        name: format!("feed {id}"),
        url,
        allow_private: true,
        interval: chrono::Duration::minutes(15),
        place: None,
        hosts: Vec::new(),
        own: false,
        options: SourceOptions::Rss { full_text: false },
    }
}

fn main() {
    let n: usize = arg("--feeds").and_then(|v| v.parse().ok()).unwrap_or(1000);
    let dir: PathBuf =
        arg("--dir").map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join(format!("glas-bench-feeds-{n}")));
    let feeds_dir = dir.join("feeds");
    let _ = std::fs::remove_dir_all(&dir);
    let expected = write_feeds(&feeds_dir, n);
    let bytes: u64 = std::fs::read_dir(&feeds_dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    println!("feeds: {n} × {ITEMS} items = {expected} items, {:.1} MB in {}", bytes as f64 / 1e6, feeds_dir.display());

    // 1. Parse only, one thread.
    let fetcher = glas_crawl::Fetcher::new(&CrawlSettings::default());
    let probe = source(0, String::new());
    let ctx = glas_crawl::SourceCtx {
        source: &probe,
        fetcher: &fetcher,
        tz: chrono_tz::Europe::Moscow,
        now: chrono::Utc::now(),
    };
    let files: Vec<Vec<u8>> =
        (0..n).map(|f| std::fs::read(feeds_dir.join(format!("feed-{f:04}.xml"))).unwrap()).collect();
    let t = Instant::now();
    let mut mentions = Vec::with_capacity(expected);
    for b in &files {
        mentions.extend(glas_crawl::rss::parse(b, &ctx).unwrap());
    }
    let dt = t.elapsed().as_secs_f64();
    assert_eq!(mentions.len(), expected);
    println!(
        "parse only (1 thread):   {dt:>7.3} s  {:>10.0} items/s  peak RSS {:.0} MB",
        expected as f64 / dt,
        peak_rss_mb()
    );
    drop(files);

    // Enrichment alone (the baseline analyzers), one thread.
    let analyzer = glas_nlp::Analyzer::for_pipeline(&glas::demo_pipeline(None).unwrap());
    let t = Instant::now();
    let negative =
        mentions.iter().filter(|m| analyzer.enrich(m, "rss").sentiment == glas_core::Sentiment::Negative).count();
    let dt = t.elapsed().as_secs_f64();
    assert!(negative > 0);
    println!("enrich only (1 thread):  {dt:>7.3} s  {:>10.0} items/s", expected as f64 / dt);
    drop(mentions);

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut servers = Vec::new();
        for _ in 0..16 {
            servers.push(FixtureServer::start(&dir).await.unwrap());
        }
        let settings = CrawlSettings { delay: chrono::Duration::zero(), ..CrawlSettings::default() };
        let sources: Vec<SourceConfig> = (0..n)
            .map(|f| source(f, format!("{}/feeds/feed-{f:04}.xml", servers[f % servers.len()].base_url())))
            .collect();

        // 2. Fetch + parse over loopback.
        reset_peak();
        let fetcher = std::sync::Arc::new(glas_crawl::Fetcher::new(&settings));
        let t = Instant::now();
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
        let mut tasks = tokio::task::JoinSet::new();
        for s in sources.clone() {
            let (fetcher, limit) = (fetcher.clone(), limit.clone());
            tasks.spawn(async move {
                let _p = limit.acquire_owned().await.unwrap();
                let ctx = glas_crawl::SourceCtx {
                    source: &s,
                    fetcher: &fetcher,
                    tz: chrono_tz::Europe::Moscow,
                    now: chrono::Utc::now(),
                };
                glas_crawl::crawl_source(&ctx, &Default::default()).await.unwrap().mentions.len()
            });
        }
        let mut got = 0;
        while let Some(r) = tasks.join_next().await {
            got += r.unwrap();
        }
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(got, expected);
        println!(
            "fetch + parse (HTTP):    {dt:>7.3} s  {:>10.0} items/s  peak RSS {:.0} MB",
            expected as f64 / dt,
            peak_rss_mb()
        );

        // 3. The whole crawl round into a fresh store.
        reset_peak();
        let mut pipeline = glas::demo_pipeline(None).unwrap();
        pipeline.sources = sources;
        pipeline.crawl = settings;
        let ctx = Ctx::new(pipeline, Some(&dir.join("data")));
        let mut store = ctx.open_store().unwrap();
        let mut enricher = ops::Enricher::new(&ctx, &store).unwrap();
        let t = Instant::now();
        let summaries = ops::crawl_once(&ctx, &mut store, &mut enricher).await.unwrap();
        let dt = t.elapsed().as_secs_f64();
        let new: usize = summaries.iter().map(|s| s.new).sum();
        assert_eq!(new, expected);
        assert_eq!(store.index().num_docs() as usize, expected);
        println!(
            "crawl round (→ store):   {dt:>7.3} s  {:>10.0} items/s  peak RSS {:.0} MB",
            expected as f64 / dt,
            peak_rss_mb()
        );
    });
    if std::env::args().all(|a| a != "--keep") {
        let _ = std::fs::remove_dir_all(dir.join("data"));
    }
}
