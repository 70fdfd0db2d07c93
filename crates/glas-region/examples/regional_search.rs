//! The regional search's speed: every query of a file (one per line:
//! `relevance|date<TAB>query`) over district stores opened once, as a server
//! keeps them; prints each query's milliseconds and the p50 and p99.
//!
//!   cargo run --release -p glas-region --example regional_search -- [--no-facets] QUERIES DATA_DIR...

use glas_store::regional::{OpenDistrict, search};
use glas_store::{SearchRequest, Sort, Store};

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // Facets (counts per value summed over the districts) cost a pass over
    // every match; a page of hits alone does not.
    let facets = args.first().is_none_or(|a| a != "--no-facets");
    if !facets {
        args.remove(0);
    }
    let (queries, dirs) = args.split_first().ok_or_else(|| anyhow::anyhow!("usage: QUERIES DATA_DIR..."))?;
    let districts: Vec<OpenDistrict> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| OpenDistrict {
            id: format!("d{i}"),
            tz: chrono_tz::Europe::Moscow,
            store: Store::open_reader(std::path::Path::new(d)).map(std::sync::Arc::new).map_err(|e| e.to_string()),
        })
        .collect();
    let mut times = Vec::new();
    for line in std::fs::read_to_string(queries)?.lines().filter(|l| !l.trim().is_empty()) {
        let (sort, query) = line.split_once('\t').unwrap_or(("relevance", line));
        let req = SearchRequest {
            query: query.to_string(),
            sort: if sort == "date" { Sort::Date } else { Sort::Relevance },
            facets,
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let res = search(&districts, &req);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(
            res.failed.is_empty(),
            "{query}: {:?}",
            res.failed.iter().map(|f| &f.error).collect::<Vec<_>>()
        );
        times.push(ms);
        println!("{ms:.2}\t{}\t{query}", res.total);
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).saturating_sub(1).min(times.len() - 1)];
    eprintln!(
        "{} queries over {} districts{}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        times.len(),
        dirs.len(),
        if facets { ", facets on" } else { ", no facets" },
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}
