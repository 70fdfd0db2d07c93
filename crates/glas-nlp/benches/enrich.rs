//! Enrichment speed and memory, single thread, release build:
//!
//!     cargo bench -p glas-nlp --bench enrich
//!
//! Mentions of about 300 characters are built from the hand-labelled set
//! (`fixtures/labelled/municipal.tsv`: consecutive posts joined until 300
//! characters); the analyzer carries the Levokumsky gazetteer, the built-in
//! taxonomy and the watchlist of `pipelines/levokumsky.toml`.

use std::hint::black_box;
use std::time::Instant;

use glas_core::Mention;
use glas_core::config::Pipeline;
use glas_nlp::Analyzer;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let labelled = std::fs::read_to_string(format!("{root}/fixtures/labelled/municipal.tsv")).unwrap();
    let posts: Vec<&str> = labelled.lines().skip(1).filter_map(|l| l.rsplit('\t').next()).collect();
    let mut texts = Vec::new();
    let mut cur = String::new();
    for p in posts.iter().cycle().take(posts.len() * 4) {
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(p);
        if cur.chars().count() >= 300 {
            texts.push(std::mem::take(&mut cur));
        }
    }
    let mentions: Vec<Mention> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| Mention {
            id: format!("bench:{i}"),
            source: None,
            url: None,
            published_at: chrono::DateTime::UNIX_EPOCH.fixed_offset(),
            author: None,
            title: None,
            text: t.clone(),
            engagement: Default::default(),
            extra: Default::default(),
        })
        .collect();
    let mean_chars = texts.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / texts.len() as f64;

    let before = rss_bytes();
    let pipeline = Pipeline::load(std::path::Path::new(&format!("{root}/pipelines/levokumsky.toml"))).unwrap();
    let analyzer = Analyzer::for_pipeline(&pipeline);
    let loaded = rss_bytes();
    println!(
        "loaded: {} sentiment weights, {} lexicon terms; resident memory +{:.1} MB (process {:.1} MB)",
        analyzer.sentiment().model.weights.len(),
        analyzer.sentiment().lexicon.len(),
        (loaded.saturating_sub(before)) as f64 / 1e6,
        loaded as f64 / 1e6
    );

    for (name, explain) in [("enrich", false), ("enrich_explained", true)] {
        // Warm up, then the best of three rounds over every mention.
        let mut best = f64::MAX;
        for _ in 0..4 {
            let t = Instant::now();
            for m in &mentions {
                if explain {
                    black_box(analyzer.enrich_explained(m, "telegram"));
                } else {
                    black_box(analyzer.enrich(m, "telegram"));
                }
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{name}: {} mentions of {:.0} chars on average, {:.0} mentions/s ({:.1} µs each), one thread",
            mentions.len(),
            mean_chars,
            mentions.len() as f64 / best,
            best * 1e6 / mentions.len() as f64
        );
    }
}
