//! Trend aggregates and the tension index, as polars lazy jobs over the
//! Parquet log.
//!
//! - `hourly.parquet`, `daily.parquet` (+ `daily.csv`): per period × topic ×
//!   place × source kind: mentions, stories (reprint clusters counted once),
//!   negative and positive mentions, negative stories, negative share, net
//!   sentiment `(positive − negative) / mentions`, complaint share, views,
//!   comments, shares, and unique authors. A mention about two topics counts
//!   under both; `none` is "no topic", an empty place is "no settlement".
//! - `tension.parquet` (+ `tension.csv`): the daily tension index per
//!   topic × place, and for the district (`topic = place = "all"`);
//!   `tension_weekly` the same per ISO week.
//!
//! The tension index (documented with its reasons in `SIGNALS.md`): each
//! negative story of a day weighs `(1 + 0.5·complaint) · (1 + 0.25·ln(1 +
//! reach))`, where `reach = views/100 + comments + shares` summed over the
//! story's reprints that day; `P` is the day's sum. Against the series' own
//! usual day `B` (mean `P` over the 28 days before, fewer for a young
//! series), `index = 100 · P / (P + max(B, 1))`: 0 is a day without negative
//! stories, about 50 a usual day, 75 three times the usual, 90 nine times. It
//! is bounded and relative, so weeks and settlements of different size
//! compare; the floor of one story keeps a quiet series' single complaint
//! from reading as a crisis.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::AnalyticsError;

/// Days of history a series' usual day is averaged over.
pub const BASELINE_DAYS: i64 = 28;

/// Files the trend job wrote.
#[derive(Debug, Clone)]
pub struct TrendOutputs {
    pub hourly: PathBuf,
    pub daily: PathBuf,
    pub tension: PathBuf,
    pub tension_weekly: PathBuf,
    pub hourly_rows: usize,
    pub weekly_rows: usize,
    pub daily_rows: usize,
    pub tension_rows: usize,
}

/// Each mention's local time (the offset its source gave).
pub(crate) fn local_time() -> Expr {
    (col("published_at").cast(DataType::Int64) + col("utc_offset_s").cast(DataType::Int64) * lit(1000i64))
        .cast(DataType::Datetime(TimeUnit::Milliseconds, None))
}

/// Mentions with the columns the jobs use, topics and places exploded. The
/// frame has the keys of [`crate::events::with_keys`]: voices and stories are
/// told apart by integers, and every per-mention column is made small before
/// the explosion copies it.
pub fn base(log: LazyFrame) -> LazyFrame {
    let explode = |_: &str| ExplodeOptions { empty_as_null: true, keep_nulls: true };
    log.select([
        local_time().alias("local"),
        col("source_kind"),
        col(crate::events::VOICE_KEY).alias("voice"),
        col("sentiment").eq(lit("negative")).alias("neg"),
        col("sentiment").eq(lit("positive")).alias("pos"),
        col("mention_type").eq(lit("complaint")).alias("complaint"),
        col(crate::events::CLUSTER_KEY).alias("cluster"),
        col("topics"),
        col("places"),
        col("views").fill_null(lit(0i64)),
        col("comments").fill_null(lit(0i64)),
        col("shares").fill_null(lit(0i64)),
    ])
    .explode(by_name(["topics"], true, false), explode("topics"))
    .explode(by_name(["places"], true, false), explode("places"))
    .with_columns([
        col("topics").fill_null(lit("none")).alias("topic"),
        col("places").fill_null(lit("")).alias("place"),
    ])
}

fn aggregates(frame: LazyFrame, period: Expr, name: &str) -> LazyFrame {
    frame
        .with_column(period.alias(name))
        .group_by([col(name), col("topic"), col("place"), col("source_kind")])
        .agg([
            len().cast(DataType::UInt32).alias("mentions"),
            col("cluster").n_unique().cast(DataType::UInt32).alias("stories"),
            col("neg").cast(DataType::UInt32).sum().alias("negative"),
            col("pos").cast(DataType::UInt32).sum().alias("positive"),
            col("cluster").filter(col("neg")).n_unique().cast(DataType::UInt32).alias("negative_stories"),
            col("complaint").cast(DataType::Float64).mean().alias("complaint_share"),
            col("views").sum().alias("views"),
            col("comments").sum().alias("comments"),
            col("shares").sum().alias("shares"),
            col("voice").n_unique().cast(DataType::UInt32).alias("authors"),
        ])
        .with_columns([
            (col("negative").cast(DataType::Float64) / col("mentions").cast(DataType::Float64))
                .round(3, RoundMode::HalfToEven)
                .alias("negative_share"),
            ((col("positive").cast(DataType::Float64) - col("negative").cast(DataType::Float64))
                / col("mentions").cast(DataType::Float64))
            .round(3, RoundMode::HalfToEven)
            .alias("net_sentiment"),
            col("complaint_share").round(3, RoundMode::HalfToEven),
        ])
        .sort([name, "topic", "place", "source_kind"], SortMultipleOptions::default())
}

/// Hourly aggregates (local hour start) of a [`base`] frame.
pub fn hourly(base: LazyFrame) -> LazyFrame {
    aggregates(base, col("local").dt().truncate(lit("1h")), "hour")
}

/// Daily aggregates (local day) of a [`base`] frame.
pub fn daily(base: LazyFrame) -> LazyFrame {
    aggregates(base, col("local").dt().date(), "day")
}

/// Weight of a negative story in the index (see the module docs).
fn story_pressure() -> Expr {
    let reach = col("views").cast(DataType::Float64) / lit(100.0)
        + col("comments").cast(DataType::Float64)
        + col("shares").cast(DataType::Float64);
    (lit(1.0) + lit(0.5) * col("complaint").cast(DataType::Float64))
        * (lit(1.0) + lit(0.25) * (reach + lit(1.0)).log(lit(std::f64::consts::E)))
}

/// The daily tension index per topic × place and for the district, over
/// the local days `first..=last`, from a [`base`] frame.
pub fn tension(base: LazyFrame, first: i32, last: i32) -> PolarsResult<LazyFrame> {
    let negative = base.with_column(col("local").dt().date().alias("day")).filter(col("neg"));
    // One row per story and day: reprints count once, their reach adds up.
    let story = |keys: Vec<Expr>| {
        let mut by = keys.clone();
        by.push(col("cluster"));
        negative
            .clone()
            .group_by(by)
            .agg([col("complaint").any(true), col("views").sum(), col("comments").sum(), col("shares").sum()])
            .with_column(story_pressure().alias("p"))
            .group_by(keys)
            .agg([col("p").sum().alias("pressure"), len().cast(DataType::UInt32).alias("negative_stories")])
    };
    let series = story(vec![col("day"), col("topic"), col("place")]);
    let district = story(vec![col("day")]).with_columns([lit("all").alias("topic"), lit("all").alias("place")]);
    let all = concat(
        [series, district.select([col("day"), col("topic"), col("place"), col("pressure"), col("negative_stories")])],
        UnionArgs::default(),
    )
    .expect("same schema");
    // Every series on every day, so quiet days count in the baseline.
    let days = DataFrame::new(
        (last - first + 1).max(0) as usize,
        vec![Column::new("day".into(), (first..=last).collect::<Vec<i32>>()).cast(&DataType::Date)?],
    )?
    .lazy();
    let keys = all.clone().select([col("topic"), col("place")]).unique(None, UniqueKeepStrategy::Any);
    let grid = keys.cross_join(days, None);
    let over = [col("topic"), col("place")];
    Ok(grid
        .join(
            all,
            [col("day"), col("topic"), col("place")],
            [col("day"), col("topic"), col("place")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([col("pressure").fill_null(lit(0.0)), col("negative_stories").fill_null(lit(0u32))])
        .sort(["topic", "place", "day"], SortMultipleOptions::default())
        .with_columns([
            col("pressure").cum_sum(false).over(over.clone())?.alias("cum"),
            col("day").cum_count(false).over(over.clone())?.alias("n"),
        ])
        .with_columns([
            // Mean pressure of up to BASELINE_DAYS days before this one.
            ((col("cum").shift(lit(1)).over(over.clone())?.fill_null(lit(0.0))
                - col("cum").shift(lit(BASELINE_DAYS + 1)).over(over.clone())?.fill_null(lit(0.0)))
                / (col("n").cast(DataType::Float64) - lit(1.0)).clip(lit(1.0), lit(BASELINE_DAYS as f64)))
            .alias("usual"),
        ])
        .with_column(
            (lit(100.0) * col("pressure")
                / (col("pressure") + when(col("usual").gt(lit(1.0))).then(col("usual")).otherwise(lit(1.0))))
            .round(1, RoundMode::HalfToEven)
            .alias("tension_index"),
        )
        .select([
            col("day"),
            col("topic"),
            col("place"),
            col("negative_stories"),
            col("pressure").round(2, RoundMode::HalfToEven),
            col("usual").round(2, RoundMode::HalfToEven),
            col("tension_index"),
        ])
        .sort(["day", "topic", "place"], SortMultipleOptions::default()))
}

/// The weekly tension index (ISO weeks) from the daily table: the week's
/// pressure against the sum of its days' usual levels, with a floor of one
/// story a day, so a week reads on the same 0–100 scale as a day.
pub fn tension_weekly(daily: LazyFrame) -> LazyFrame {
    daily
        .with_columns([col("day").dt().iso_year().alias("iso_year"), col("day").dt().week().alias("iso_week")])
        .group_by([col("iso_year"), col("iso_week"), col("topic"), col("place")])
        .agg([
            col("day").min().alias("first_day"),
            col("negative_stories").sum(),
            col("pressure").sum(),
            col("usual").sum(),
            len().cast(DataType::UInt32).alias("days"),
        ])
        .with_column(
            (lit(100.0) * col("pressure")
                / (col("pressure")
                    + when(col("usual").gt(col("days").cast(DataType::Float64)))
                        .then(col("usual"))
                        .otherwise(col("days").cast(DataType::Float64))))
            .round(1, RoundMode::HalfToEven)
            .alias("tension_index"),
        )
        .with_columns([col("pressure").round(2, RoundMode::HalfToEven), col("usual").round(2, RoundMode::HalfToEven)])
        .sort(["iso_year", "iso_week", "topic", "place"], SortMultipleOptions::default())
}

/// Computes the tables from the log and writes them under `out_dir`.
pub fn run(log_dir: &Path, out_dir: &Path) -> Result<Option<TrendOutputs>, AnalyticsError> {
    let Some(log) = crate::daily::scan_log(log_dir)? else { return Ok(None) };
    // Only the columns the jobs use: no texts, no ids.
    let mut df = log.select(COLUMNS.map(col)).collect()?;
    crate::events::with_keys(&mut df)?;
    Ok(Some(run_frame(&df, out_dir)?))
}

/// The log columns the trend jobs read.
const COLUMNS: [&str; 13] = [
    "published_at",
    "utc_offset_s",
    "source",
    "source_kind",
    "author",
    "sentiment",
    "mention_type",
    "cluster",
    "topics",
    "places",
    "views",
    "comments",
    "shares",
];

/// The same over a frame [`crate::events::read_log`] returned (read once,
/// shared with the detector).
pub fn run_frame(df: &DataFrame, out_dir: &Path) -> Result<TrendOutputs, AnalyticsError> {
    std::fs::create_dir_all(out_dir).map_err(|e| AnalyticsError::io("create analytics folder", out_dir, e))?;
    let log = df.clone().lazy();
    let span = log
        .clone()
        .select([local_time().dt().date().cast(DataType::Int32).alias("d")])
        .select([col("d").min().alias("lo"), col("d").max().alias("hi")])
        .collect()?;
    let (first, last) = (span.column("lo")?.i32()?.get(0).unwrap_or(0), span.column("hi")?.i32()?.get(0).unwrap_or(0));
    // Topics and places exploded once, for the three jobs.
    let b = base(log).collect()?.lazy();
    let mut h = hourly(b.clone()).collect()?;
    let mut d = daily(b.clone()).collect()?;
    let mut t = tension(b, first, last)?.collect()?;
    let mut w = tension_weekly(t.clone().lazy()).collect()?;
    let write = |df: &mut DataFrame, name: &str, csv: bool| -> Result<PathBuf, AnalyticsError> {
        let pq = out_dir.join(format!("{name}.parquet"));
        let mut f = std::fs::File::create(&pq).map_err(|e| AnalyticsError::io("write", &pq, e))?;
        ParquetWriter::new(&mut f).finish(df)?;
        if csv {
            let path = out_dir.join(format!("{name}.csv"));
            let mut f = std::fs::File::create(&path).map_err(|e| AnalyticsError::io("write", &path, e))?;
            CsvWriter::new(&mut f).finish(df)?;
        }
        Ok(pq)
    };
    Ok(TrendOutputs {
        hourly_rows: h.height(),
        daily_rows: d.height(),
        tension_rows: t.height(),
        hourly: write(&mut h, "hourly", false)?,
        daily: write(&mut d, "daily", true)?,
        tension: write(&mut t, "tension", true)?,
        weekly_rows: w.height(),
        tension_weekly: write(&mut w, "tension_weekly", true)?,
    })
}
