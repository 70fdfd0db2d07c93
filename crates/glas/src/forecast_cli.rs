//! `glas forecast` and `glas eval forecast`: the outlook of complaint counts
//! per topic and settlement, on the store or on any `date,key,count` series,
//! and its rolling-origin backtest against the baselines.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use glas_analytics::forecast::{self, Method, Series};

use crate::ops::Ctx;

#[derive(Debug, clap::Args)]
pub struct ForecastArgs {
    /// Forecast this `date,key,count` CSV (one row per day and key; missing
    /// days are zero) instead of the store.
    #[arg(long)]
    pub series: Option<PathBuf>,
    /// Days forecast.
    #[arg(long, default_value_t = 7)]
    pub horizon: usize,
    /// The first day forecast (YYYY-MM-DD); only days before it are seen.
    /// Default: the day after the series' last date (with --series), today
    /// (on the store).
    #[arg(long)]
    pub at: Option<String>,
    /// Where to write `key,date,forecast,lo80,hi80` (default with the store:
    /// DATA/analytics/forecast.csv and .parquet).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Backtest this `date,key,count` CSV instead of generated districts.
    #[arg(long)]
    pub series: Option<PathBuf>,
    /// Generated districts' seeds: "1-5" or "1,5,9".
    #[arg(long, default_value = "1-5")]
    pub seeds: String,
    /// Weeks of rolling origins at the end of the series.
    #[arg(long, default_value_t = 8)]
    pub weeks: usize,
    /// Keys averaged: those with at least this many stories a day over the
    /// backtest (the goal's keys: 1).
    #[arg(long, default_value_t = 1.0)]
    pub min_mean: f64,
    /// Also write each generated district to DIR/seed-N.csv (`date,key,count`),
    /// for other tools to be scored on the same series.
    #[arg(long)]
    pub export: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

use glas_app::outlook::RussianDays;

fn parse_day(s: &str) -> anyhow::Result<NaiveDate> {
    s.parse().map_err(|_| crate::usage(format!("--at {s:?}: write a date such as 2026-11-30")))
}

/// `date,key,count` rows; every bad row is reported with its line, and none
/// is taken when one is bad.
pub fn read_series(path: &Path) -> anyhow::Result<Vec<(NaiveDate, String, f64)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read '{}'", path.display()))?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut lines = text.lines().enumerate();
    let header: Vec<String> = match lines.next() {
        Some((_, h)) => h.trim_start_matches('\u{feff}').split(',').map(|c| c.trim().to_lowercase()).collect(),
        None => return Err(crate::usage(format!("{}: empty file", path.display()))),
    };
    let col = |name: &str| header.iter().position(|c| c == name);
    let (Some(di), Some(ki), Some(ci)) = (col("date"), col("key"), col("count")) else {
        return Err(crate::usage(format!(
            "{}: the header must name the columns date,key,count (found: {})",
            path.display(),
            header.join(",")
        )));
    };
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |j: usize| cells.get(j).copied().unwrap_or("");
        let date = get(di).parse::<NaiveDate>();
        let count = get(ci).parse::<f64>();
        match (date, count) {
            (Ok(d), Ok(c)) if c >= 0.0 && c.is_finite() && !get(ki).is_empty() => {
                rows.push((d, get(ki).to_string(), c))
            }
            (Err(_), _) => errors.push(format!("line {}: {:?} is not a date (YYYY-MM-DD)", i + 1, get(di))),
            (_, Err(_)) => errors.push(format!("line {}: {:?} is not a count", i + 1, get(ci))),
            _ if get(ki).is_empty() => errors.push(format!("line {}: the key is empty", i + 1)),
            _ => errors.push(format!("line {}: a count cannot be negative", i + 1)),
        }
    }
    if !errors.is_empty() {
        errors.truncate(20);
        return Err(crate::usage(format!("{}: nothing read:\n{}", path.display(), errors.join("\n"))));
    }
    if rows.is_empty() {
        return Err(crate::usage(format!("{}: no rows", path.display())));
    }
    Ok(rows)
}

/// `glas forecast`: on `--series` no pipeline is needed; on the store,
/// `load` gives the pipeline's context.
pub fn run(args: &ForecastArgs, load: impl FnOnce() -> anyhow::Result<Ctx>) -> anyhow::Result<ExitCode> {
    if args.horizon == 0 || args.horizon > 90 {
        return Err(crate::usage("--horizon: 1 to 90 days"));
    }
    let started = std::time::Instant::now();
    if let Some(path) = &args.series {
        let rows = read_series(path)?;
        let series = forecast::from_rows(&rows);
        let at = match &args.at {
            Some(a) => parse_day(a)?,
            None => series.iter().map(Series::end).max().unwrap_or_default(),
        };
        let points =
            forecast::forecast(&series, at, args.horizon, Method::Pooled, &RussianDays::new(chrono_tz::Europe::Moscow));
        let out = args.out.clone().unwrap_or_else(|| PathBuf::from("forecast.csv"));
        forecast::write(&points, &out, None)?;
        eprintln!(
            "forecast: {} keys × {} days from {at} → {} ({:.2} s)",
            series.len(),
            args.horizon,
            out.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let ctx = &load()?;
    let at = match &args.at {
        Some(a) => parse_day(a)?,
        None => Utc::now().with_timezone(&ctx.tz()).date_naive(),
    };
    let store = ctx.open_store_reader()?;
    let events = glas_app::outlook::events(ctx, &store)?;
    let series = glas_app::outlook::series_of(ctx, &events, at);
    let points = forecast::forecast(&series, at, args.horizon, Method::Pooled, &RussianDays::new(ctx.tz()));
    let (csv, pq) = match &args.out {
        Some(o) => (o.clone(), None),
        None => {
            let dir = ctx.data_dir.join("analytics");
            (dir.join("forecast.csv"), Some(dir.join("forecast.parquet")))
        }
    };
    forecast::write(&points, &csv, pq.as_deref())?;
    eprintln!("forecast: {} keys × {} days from {at} → {}", series.len(), args.horizon, csv.display());
    Ok(ExitCode::SUCCESS)
}

pub fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let kinds = RussianDays::new(chrono_tz::Europe::Moscow);
    let mut runs: Vec<(String, Vec<forecast::Score>, usize, usize)> = Vec::new();
    if let Some(path) = &args.series {
        let series = forecast::from_rows(&read_series(path)?);
        let (scores, keys) = forecast::backtest(&series, args.weeks, 7, args.min_mean, &kinds);
        runs.push((path.display().to_string(), scores, keys, series.len()));
    } else {
        let seeds = crate::parse_seeds(&args.seeds)
            .ok_or_else(|| crate::usage(format!("--seeds {:?}: write 1-5 or 1,5,9", args.seeds)))?;
        for seed in seeds {
            // A year from September: the heating season's start, the New
            // Year, the spring thaw and the summer inside it.
            let start = NaiveDate::from_ymd_opt(2025, 9, 1).expect("valid date");
            let scale = [0.5, 1.0, 2.0, 4.0][seed as usize % 4];
            let series = forecast::generate::district(seed, start, 365, 12, scale, &kinds);
            if let Some(dir) = &args.export {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create '{}'", dir.display()))?;
                let path = dir.join(format!("seed-{seed}.csv"));
                std::fs::write(&path, forecast::generate::to_csv(&series))
                    .with_context(|| format!("cannot write '{}'", path.display()))?;
            }
            let (scores, keys) = forecast::backtest(&series, args.weeks, 7, args.min_mean, &kinds);
            runs.push((format!("generated district, seed {seed}, scale {scale}"), scores, keys, series.len()));
        }
    }
    if args.json {
        let v: Vec<serde_json::Value> = runs
            .iter()
            .map(|(name, s, keys, all)| serde_json::json!({"data": name, "keys": keys, "series": all, "scores": s}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut mean: Vec<(f64, f64, f64)> = vec![(0.0, 0.0, 0.0); Method::ALL.len()];
    for (name, scores, keys, all) in &runs {
        println!(
            "{name}: {keys} of {all} keys with ≥ {} a day, rolling origins over {} weeks",
            args.min_mean, args.weeks
        );
        for (i, s) in scores.iter().enumerate() {
            println!(
                "  {:<58} MASE {:.3}  × naive {:.3}  80% interval covers {:.1} %",
                s.name,
                s.mase,
                s.relative,
                100.0 * s.coverage
            );
            mean[i].0 += s.mase;
            mean[i].1 += s.relative;
            mean[i].2 += s.coverage;
        }
    }
    if runs.len() > 1 {
        let n = runs.len() as f64;
        println!("mean over {} runs:", runs.len());
        for (i, m) in Method::ALL.iter().enumerate() {
            println!(
                "  {:<58} MASE {:.3}  × naive {:.3}  80% interval covers {:.1} %",
                m.name(),
                mean[i].0 / n,
                mean[i].1 / n,
                100.0 * mean[i].2 / n
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
