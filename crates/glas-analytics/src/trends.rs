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

/// Codes of the exploded frame's names, each list sorted so that codes order
/// as their names do (sorting by code sorts by name).
struct Codes {
    topics: Vec<String>,
    places: Vec<String>,
    /// Source kinds; code 0 is a mention without one (null).
    kinds: Vec<Option<String>>,
}

/// Topic and place of the district-wide rows of the tension tables.
const ALL: &str = "all";
/// The topic of a mention without one, the place of one that names none.
const NO_TOPIC: &str = "none";
const NO_PLACE: &str = "";

impl Codes {
    fn code(names: &[String], name: &str) -> u64 {
        names.binary_search_by(|n| n.as_str().cmp(name)).map_or(0, |i| i as u64)
    }

    /// Topic × place of a series code (see [`exploded`]).
    fn series(&self, tp: u64) -> (&str, &str) {
        (self.topics[(tp >> 16) as usize & 0xff].as_str(), self.places[tp as usize & 0xffff].as_str())
    }
}

/// Offset that keeps a period (hour or day since 1970, local) positive in a key.
const PERIOD_BIAS: i64 = 1 << 31;

/// One row per mention × topic × place (a mention without a topic counts
/// under `none`, one without a place under `""`), with integer keys built
/// here rather than strings grouped by polars:
///
/// - `series` = topic code << 16 | place code; `kind` the source kind's code;
/// - `hour_key`, `day_key` = (period + bias) << 32 | series << 8 | kind, where
///   the period is the local hour or day since 1970;
/// - `day` (local days since 1970), `neg`, `pos`, `complaint`, `voice` and
///   `cluster` (the keys of [`crate::events::with_keys`]), `views`,
///   `comments`, `shares` (missing as 0).
fn exploded(df: &DataFrame) -> PolarsResult<(DataFrame, Codes)> {
    let too_many = |what: &str, n: usize, max: usize| {
        PolarsError::ComputeError(format!("{n} distinct {what} in the log; the trend job counts at most {max}").into())
    };
    let topics = df.column("topics")?.list()?.clone();
    let places = df.column("places")?.list()?.clone();
    let (topic_at, topic_values) = crate::events::flat_lists(&topics)?;
    let (place_at, place_values) = crate::events::flat_lists(&places)?;
    let kinds = df.column("source_kind")?.str()?.rechunk().into_owned();
    let topic_names = sorted_names(topic_values.iter().copied(), &[NO_TOPIC, ALL]);
    let place_names = sorted_names(place_values.iter().copied(), &[NO_PLACE, ALL]);
    let kind_names = sorted_names(kinds.iter().flatten(), &[]);
    if topic_names.len() > 256 {
        return Err(too_many("topics", topic_names.len(), 256));
    }
    if place_names.len() > 65_536 {
        return Err(too_many("places", place_names.len(), 65_536));
    }
    if kind_names.len() > 255 {
        return Err(too_many("source kinds", kind_names.len(), 255));
    }
    let (topic_coder, place_coder, kind_coder) = (coder(&topic_names), coder(&place_names), coder(&kind_names));
    let topic_code: Vec<u64> = topic_values.iter().map(|t| topic_coder[t]).collect();
    let place_code: Vec<u64> = place_values.iter().map(|p| place_coder[p]).collect();
    let (no_topic, no_place) = (Codes::code(&topic_names, NO_TOPIC), Codes::code(&place_names, NO_PLACE));
    let at = df.column("published_at")?.cast(&DataType::Int64)?.i64()?.rechunk().into_owned();
    let offset = df.column("utc_offset_s")?.cast(&DataType::Int64)?.i64()?.rechunk().into_owned();
    let s = |name: &str| -> PolarsResult<StringChunked> { Ok(df.column(name)?.str()?.rechunk().into_owned()) };
    let (sentiments, types) = (s("sentiment")?, s("mention_type")?);
    let u = |name: &str| -> PolarsResult<UInt64Chunked> { Ok(df.column(name)?.u64()?.rechunk().into_owned()) };
    let (voices, clusters) = (u(crate::events::VOICE_KEY)?, u(crate::events::CLUSTER_KEY)?);
    let i = |name: &str| -> PolarsResult<Int64Chunked> { Ok(df.column(name)?.i64()?.rechunk().into_owned()) };
    let (views, comments, shares) = (i("views")?, i("comments")?, i("shares")?);
    let n = df.height();
    let cap = n + n / 2;
    let mut c = ExplodedColumns::with_capacity(cap);
    for k in 0..n {
        let local_ms = at.get(k).unwrap_or(0) + offset.get(k).unwrap_or(0) * 1000;
        let hour = local_ms.div_euclid(3_600_000);
        let day = local_ms.div_euclid(86_400_000);
        let kind = kinds.get(k).map_or(0, |s| kind_coder[s] + 1);
        let (neg, pos) = match sentiments.get(k) {
            Some("negative") => (true, false),
            Some("positive") => (false, true),
            _ => (false, false),
        };
        let complaint = types.get(k) == Some("complaint");
        let row_topics = &topic_code[topic_at[k]..topic_at[k + 1]];
        let row_places = &place_code[place_at[k]..place_at[k + 1]];
        for &t in if row_topics.is_empty() { std::slice::from_ref(&no_topic) } else { row_topics } {
            for &p in if row_places.is_empty() { std::slice::from_ref(&no_place) } else { row_places } {
                let series = t << 16 | p;
                let key = |period: i64| ((period + PERIOD_BIAS) as u64) << 32 | series << 8 | kind;
                c.hour_key.push(key(hour));
                c.day_key.push(key(day));
                c.day.push(day as i32);
                c.series.push(series as u32);
                c.neg.push(neg);
                c.pos.push(pos);
                c.complaint.push(complaint);
                c.voice.push(voices.get(k).unwrap_or(0));
                c.cluster.push(clusters.get(k).unwrap_or(0));
                c.views.push(views.get(k).unwrap_or(0));
                c.comments.push(comments.get(k).unwrap_or(0));
                c.shares.push(shares.get(k).unwrap_or(0));
            }
        }
    }
    drop((topic_coder, place_coder, kind_coder));
    let mut kinds_out: Vec<Option<String>> = vec![None];
    kinds_out.extend(kind_names.into_iter().map(Some));
    Ok((c.frame()?, Codes { topics: topic_names, places: place_names, kinds: kinds_out }))
}

/// The distinct names of `values` and `extra`, sorted (a million values,
/// a few dozen names: hashed to find them, then sorted).
fn sorted_names<'a>(values: impl Iterator<Item = &'a str>, extra: &[&'a str]) -> Vec<String> {
    let set: PlHashSet<&str> = values.chain(extra.iter().copied()).collect();
    let mut names: Vec<String> = set.into_iter().map(str::to_string).collect();
    names.sort_unstable();
    names
}

/// Name → code (its place in `names`), for coding a million values.
fn coder(names: &[String]) -> PlHashMap<&str, u64> {
    names.iter().enumerate().map(|(i, n)| (n.as_str(), i as u64)).collect()
}

#[derive(Default)]
struct ExplodedColumns {
    hour_key: Vec<u64>,
    day_key: Vec<u64>,
    day: Vec<i32>,
    series: Vec<u32>,
    neg: Vec<bool>,
    pos: Vec<bool>,
    complaint: Vec<bool>,
    voice: Vec<u64>,
    cluster: Vec<u64>,
    views: Vec<i64>,
    comments: Vec<i64>,
    shares: Vec<i64>,
}

impl ExplodedColumns {
    fn with_capacity(n: usize) -> ExplodedColumns {
        ExplodedColumns {
            hour_key: Vec::with_capacity(n),
            day_key: Vec::with_capacity(n),
            day: Vec::with_capacity(n),
            series: Vec::with_capacity(n),
            neg: Vec::with_capacity(n),
            pos: Vec::with_capacity(n),
            complaint: Vec::with_capacity(n),
            voice: Vec::with_capacity(n),
            cluster: Vec::with_capacity(n),
            views: Vec::with_capacity(n),
            comments: Vec::with_capacity(n),
            shares: Vec::with_capacity(n),
        }
    }

    fn frame(self) -> PolarsResult<DataFrame> {
        let n = self.day.len();
        DataFrame::new(
            n,
            vec![
                Column::new("hour_key".into(), self.hour_key),
                Column::new("day_key".into(), self.day_key),
                Column::new("day".into(), self.day),
                Column::new("series".into(), self.series),
                Column::new("neg".into(), self.neg),
                Column::new("pos".into(), self.pos),
                Column::new("complaint".into(), self.complaint),
                Column::new("voice".into(), self.voice),
                Column::new("cluster".into(), self.cluster),
                Column::new("views".into(), self.views),
                Column::new("comments".into(), self.comments),
                Column::new("shares".into(), self.shares),
            ],
        )
    }
}

/// The aggregates of an [`exploded`] frame per `key` column (`hour_key` or
/// `day_key`), sorted by key, the key decoded into the period column `name`
/// (a local datetime or date), `topic`, `place` and `source_kind`.
fn aggregates(frame: LazyFrame, key: &str, name: &str, codes: &Codes) -> PolarsResult<DataFrame> {
    let df = frame
        .group_by([col(key)])
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
        .sort([key], SortMultipleOptions::default())
        .collect()?;
    let keys = df.column(key)?.u64()?.rechunk();
    let n = df.height();
    let (mut period, mut topic, mut place, mut kind) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for k in keys.iter() {
        let k = k.unwrap_or(0);
        period.push((k >> 32) as i64 - PERIOD_BIAS);
        let (t, p) = codes.series(k >> 8);
        topic.push(t);
        place.push(p);
        kind.push(codes.kinds[(k & 0xff) as usize].as_deref());
    }
    let period = if name == "hour" {
        Column::new(name.into(), period.into_iter().map(|h| h * 3_600_000).collect::<Vec<i64>>())
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?
    } else {
        Column::new(name.into(), period.into_iter().map(|d| d as i32).collect::<Vec<i32>>()).cast(&DataType::Date)?
    };
    let mut columns = vec![
        period,
        Column::new("topic".into(), topic),
        Column::new("place".into(), place),
        Column::new("source_kind".into(), kind),
    ];
    columns.extend(df.columns().iter().filter(|c| c.name().as_str() != key).cloned());
    DataFrame::new(n, columns)
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
/// the local days `first..=last` (days since 1970), from an [`exploded`] frame.
fn tension(ex: LazyFrame, codes: &Codes, first: i32, last: i32) -> PolarsResult<DataFrame> {
    let negative = ex.filter(col("neg"));
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
    let district_series = (Codes::code(&codes.topics, ALL) << 16 | Codes::code(&codes.places, ALL)) as u32;
    let series = story(vec![col("day"), col("series")]);
    let district = story(vec![col("day")]).with_column(lit(district_series).cast(DataType::UInt32).alias("series"));
    let all = concat(
        [series, district.select([col("day"), col("series"), col("pressure"), col("negative_stories")])],
        UnionArgs::default(),
    )?;
    // Every series on every day, so quiet days count in the baseline.
    let days = DataFrame::new(
        (last - first + 1).max(0) as usize,
        vec![Column::new("day".into(), (first..=last).collect::<Vec<i32>>())],
    )?
    .lazy();
    let keys = all.clone().select([col("series")]).unique(None, UniqueKeepStrategy::Any);
    let grid = keys.cross_join(days, None);
    let over = [col("series")];
    let df = grid
        .join(all, [col("day"), col("series")], [col("day"), col("series")], JoinArgs::new(JoinType::Left))
        .with_columns([col("pressure").fill_null(lit(0.0)), col("negative_stories").fill_null(lit(0u32))])
        .sort(["series", "day"], SortMultipleOptions::default())
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
            col("series"),
            col("negative_stories"),
            col("pressure").round(2, RoundMode::HalfToEven),
            col("usual").round(2, RoundMode::HalfToEven),
            col("tension_index"),
        ])
        .sort(["day", "series"], SortMultipleOptions::default())
        .collect()?;
    let n = df.height();
    let (mut topic, mut place) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for s in df.column("series")?.u32()?.iter() {
        let (t, p) = codes.series(u64::from(s.unwrap_or(0)));
        topic.push(t);
        place.push(p);
    }
    let mut columns = vec![
        df.column("day")?.cast(&DataType::Date)?,
        Column::new("topic".into(), topic),
        Column::new("place".into(), place),
    ];
    columns.extend(df.columns().iter().filter(|c| !matches!(c.name().as_str(), "day" | "series")).cloned());
    DataFrame::new(n, columns)
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

/// Writes a table beside its place and renames it over it: the workspace
/// reads the tables while `glas run` rewrites them, and never sees a
/// half-written file.
pub(crate) fn replace(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> PolarsResult<()>,
) -> Result<(), AnalyticsError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(|e| AnalyticsError::io("write", &tmp, e))?;
    fill(&mut f)?;
    std::fs::rename(&tmp, path).map_err(|e| AnalyticsError::io("replace", path, e))
}

/// One topic × settlement cell of the tension over the last days.
#[derive(Debug, Clone, PartialEq)]
pub struct TensionCell {
    /// Topic code; `none` for mentions without a topic, `all` for the district.
    pub topic: String,
    /// Settlement; empty for mentions that name none, `all` for the district.
    pub place: String,
    /// The period's tension index, on the daily 0–100 scale.
    pub index: f64,
    pub negative_stories: u32,
    /// The period's pressure (what ranks the cells).
    pub pressure: f64,
}

/// The tension of the `days` local days up to the table's last day, per
/// topic × settlement (and the district), from `tension.parquet`: the
/// period's pressure against the sum of its days' usual levels, with the
/// floor of one story a day, as [`tension_weekly`] reads a week. `None`
/// when the table is empty.
pub fn recent_tension(path: &Path, days: u32) -> Result<Option<(chrono::NaiveDate, Vec<TensionCell>)>, AnalyticsError> {
    let df = LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), ScanArgsParquet::default())?
        .select([col("day"), col("topic"), col("place"), col("negative_stories"), col("pressure"), col("usual")])
        .collect()?;
    let Some(last) = df.column("day")?.date()?.physical().max() else { return Ok(None) };
    let first = last - days.max(1) as i32 + 1;
    let out = df
        .lazy()
        .filter(col("day").cast(DataType::Int32).gt_eq(lit(first)))
        .group_by([col("topic"), col("place")])
        .agg([
            col("negative_stories").sum().cast(DataType::UInt32),
            col("pressure").sum(),
            col("usual").sum(),
            len().cast(DataType::Float64).alias("days"),
        ])
        .with_column(
            (lit(100.0) * col("pressure")
                / (col("pressure") + when(col("usual").gt(col("days"))).then(col("usual")).otherwise(col("days"))))
            .round(1, RoundMode::HalfToEven)
            .alias("index"),
        )
        .collect()?;
    let topic = out.column("topic")?.str()?;
    let place = out.column("place")?.str()?;
    let stories = out.column("negative_stories")?.u32()?;
    let pressure = out.column("pressure")?.f64()?;
    let index = out.column("index")?.f64()?;
    let cells = (0..out.height())
        .map(|i| TensionCell {
            topic: topic.get(i).unwrap_or_default().to_string(),
            place: place.get(i).unwrap_or_default().to_string(),
            index: index.get(i).unwrap_or(0.0),
            negative_stories: stories.get(i).unwrap_or(0),
            pressure: pressure.get(i).unwrap_or(0.0),
        })
        .collect();
    let last = chrono::NaiveDate::from_num_days_from_ce_opt(last + 719_163).expect("a day of the table");
    Ok(Some((last, cells)))
}

/// Computes the tables over a frame [`crate::events::read_log`] returned
/// (read once, shared with the detector) and writes them under `out_dir`.
pub fn run_frame(df: &DataFrame, out_dir: &Path) -> Result<TrendOutputs, AnalyticsError> {
    std::fs::create_dir_all(out_dir).map_err(|e| AnalyticsError::io("create analytics folder", out_dir, e))?;
    // Topics and places exploded once, for the three jobs.
    let (ex, codes) = exploded(df)?;
    let days = ex.column("day")?.i32()?;
    let (first, last) = (days.min().unwrap_or(0), days.max().unwrap_or(0));
    let ex = ex.lazy();
    let mut h = aggregates(ex.clone(), "hour_key", "hour", &codes)?;
    let mut d = aggregates(ex.clone(), "day_key", "day", &codes)?;
    let mut t = tension(ex, &codes, first, last)?;
    let mut w = tension_weekly(t.clone().lazy()).collect()?;
    let write = |df: &mut DataFrame, name: &str, csv: bool| -> Result<PathBuf, AnalyticsError> {
        let pq = out_dir.join(format!("{name}.parquet"));
        replace(&pq, |f| ParquetWriter::new(f).finish(df).map(|_| ()))?;
        if csv {
            replace(&out_dir.join(format!("{name}.csv")), |f| CsvWriter::new(f).finish(df))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Mentions as the log holds them: (local time, topics, places, source
    /// kind, sentiment, type, author, source, cluster, views).
    type Row<'a> = (
        &'a str,
        &'a [&'a str],
        &'a [&'a str],
        Option<&'a str>,
        &'a str,
        &'a str,
        Option<&'a str>,
        &'a str,
        &'a str,
        i64,
    );

    fn frame(rows: &[Row<'_>]) -> DataFrame {
        let ms = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis();
        let list = |name: &str, topics: bool| {
            let series: Vec<Series> =
                rows.iter().map(|r| Series::new("".into(), if topics { r.1 } else { r.2 }.to_vec())).collect();
            Column::new(name.into(), series)
        };
        let n = rows.len();
        let mut df = DataFrame::new(
            n,
            vec![
                Column::new("published_at".into(), rows.iter().map(|r| ms(r.0)).collect::<Vec<i64>>())
                    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                    .unwrap(),
                Column::new("utc_offset_s".into(), vec![3 * 3600i32; n]),
                list("topics", true),
                list("places", false),
                Column::new("source_kind".into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()),
                Column::new("sentiment".into(), rows.iter().map(|r| r.4).collect::<Vec<_>>()),
                Column::new("mention_type".into(), rows.iter().map(|r| r.5).collect::<Vec<_>>()),
                Column::new("author".into(), rows.iter().map(|r| r.6).collect::<Vec<_>>()),
                Column::new("source".into(), rows.iter().map(|r| r.7).collect::<Vec<_>>()),
                Column::new("cluster".into(), rows.iter().map(|r| r.8).collect::<Vec<_>>()),
                Column::new("views".into(), rows.iter().map(|r| r.9).collect::<Vec<_>>()),
                Column::new("comments".into(), vec![0i64; n]),
                Column::new("shares".into(), vec![0i64; n]),
            ],
        )
        .unwrap();
        crate::events::with_keys(&mut df).unwrap();
        df
    }

    fn cells(df: &DataFrame, row: usize) -> Vec<String> {
        df.columns().iter().map(|c| c.get(row).unwrap().to_string().trim_matches('"').to_string()).collect()
    }

    #[test]
    fn aggregates_count_stories_and_voices_once_and_sort_by_name() {
        let df = frame(&[
            (
                "2026-11-23T09:10:00+03:00",
                &["water"],
                &["Величаевское"],
                Some("telegram"),
                "negative",
                "complaint",
                Some("a1"),
                "tg",
                "c1",
                100,
            ),
            // A reprint of the same story by another author.
            (
                "2026-11-23T09:40:00+03:00",
                &["water"],
                &["Величаевское"],
                Some("telegram"),
                "negative",
                "news",
                Some("a2"),
                "tg",
                "c1",
                0,
            ),
            (
                "2026-11-23T09:50:00+03:00",
                &["water", "roads"],
                &[],
                Some("rss"),
                "positive",
                "news",
                Some("a1"),
                "rss1",
                "c2",
                0,
            ),
            // No topic, no kind, no author: `none`, null, the source as the voice.
            ("2026-11-24T01:00:00+03:00", &[], &["Заря"], None, "neutral", "other", None, "site", "c3", 0),
        ]);
        let (ex, codes) = exploded(&df).unwrap();
        assert_eq!(ex.height(), 5, "one row per mention × topic × place");
        let daily = aggregates(ex.clone().lazy(), "day_key", "day", &codes).unwrap();
        let names: Vec<&str> = daily.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "day",
                "topic",
                "place",
                "source_kind",
                "mentions",
                "stories",
                "negative",
                "positive",
                "negative_stories",
                "complaint_share",
                "views",
                "comments",
                "shares",
                "authors",
                "negative_share",
                "net_sentiment"
            ]
        );
        let rows: Vec<Vec<String>> = (0..daily.height()).map(|i| cells(&daily, i)[..14].to_vec()).collect();
        let expect = [
            ["2026-11-23", "roads", "", "rss", "1", "1", "0", "1", "0", "0.0", "0", "0", "0", "1"],
            ["2026-11-23", "water", "", "rss", "1", "1", "0", "1", "0", "0.0", "0", "0", "0", "1"],
            ["2026-11-23", "water", "Величаевское", "telegram", "2", "1", "2", "0", "1", "0.5", "100", "0", "0", "2"],
            ["2026-11-24", "none", "Заря", "null", "1", "1", "0", "0", "0", "0.0", "0", "0", "0", "1"],
        ];
        assert_eq!(rows, expect.map(|r| r.map(str::to_string)).to_vec());

        let hourly = aggregates(ex.clone().lazy(), "hour_key", "hour", &codes).unwrap();
        assert_eq!(cells(&hourly, 0)[0], "2026-11-23 09:00:00");
        assert_eq!(hourly.height(), 4);

        let tension = tension(ex.lazy(), &codes, 20_780, 20_781).unwrap();
        let rows: Vec<Vec<String>> = (0..tension.height()).map(|i| cells(&tension, i)[..4].to_vec()).collect();
        // Every series on both days; the district (`all`) counts the reprinted story once.
        assert_eq!(
            rows,
            [
                ["2026-11-23", "all", "all", "1"],
                ["2026-11-23", "water", "Величаевское", "1"],
                ["2026-11-24", "all", "all", "0"],
                ["2026-11-24", "water", "Величаевское", "0"],
            ]
            .map(|r| r.map(str::to_string))
            .to_vec()
        );
    }

    #[test]
    fn recent_tension_reads_the_last_days_of_the_written_table() {
        let neg = |t: &'static str, place: &'static [&'static str], cluster: &'static str| -> Row<'static> {
            (t, &["water"], place, Some("vk"), "negative", "complaint", Some("a"), "vk1", cluster, 0)
        };
        // Quiet weeks, then three negative stories in Заря on the last day.
        let df = frame(&[
            neg("2026-11-01T10:00:00+03:00", &["Заря"], "c0"),
            neg("2026-11-20T10:00:00+03:00", &["Левокумское"], "c1"),
            neg("2026-11-30T10:00:00+03:00", &["Заря"], "c2"),
            neg("2026-11-30T11:00:00+03:00", &["Заря"], "c3"),
            neg("2026-11-30T12:00:00+03:00", &["Заря"], "c4"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let out = run_frame(&df, dir.path()).unwrap();
        assert!(!dir.path().join("tension.parquet.tmp").exists(), "written in place by rename");
        let (last, cells) = recent_tension(&out.tension, 7).unwrap().unwrap();
        assert_eq!(last, chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        let cell = |place: &str| cells.iter().find(|c| c.topic == "water" && c.place == place).unwrap();
        assert_eq!(cell("Заря").negative_stories, 3, "the story of 1 November is outside the 7 days");
        // Three complaint stories (1.5 each, no reach) against the floor of
        // one a day over 7 days: 100·4.5/(4.5 + 7).
        assert!((cell("Заря").index - 39.1).abs() < 0.05, "{:?}", cell("Заря"));
        assert_eq!(cell("Левокумское").negative_stories, 0);
        assert_eq!(cell("Левокумское").index, 0.0);
        assert!(cells.iter().any(|c| c.topic == "all" && c.place == "all" && c.negative_stories == 3));
    }
}
