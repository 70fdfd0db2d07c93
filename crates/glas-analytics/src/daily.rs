//! Daily aggregates over the Parquet log, computed with polars' lazy API:
//! mention counts and negative share per day × source and per day × topic.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::AnalyticsError;

/// A lazy scan of every committed part of the log, or `None` when it is empty.
pub fn scan_log(log_dir: &Path) -> Result<Option<LazyFrame>, AnalyticsError> {
    // In folder order (day, then part), the committed parts only.
    let mut parts: Vec<PathBuf> = glas_core::logparts::list(log_dir)
        .map_err(|e| AnalyticsError::io("list log", log_dir, e))?
        .into_iter()
        .map(|p| p.path)
        .collect();
    parts.sort();
    if parts.is_empty() {
        return Ok(None);
    }
    let scans = parts
        .iter()
        .map(|p| LazyFrame::scan_parquet(PlRefPath::new(p.to_string_lossy().as_ref()), ScanArgsParquet::default()))
        .collect::<PolarsResult<Vec<_>>>()?;
    // Diagonal: parts written before a column was added to the log (such as
    // `log_seq`) lack it, and read it as null.
    Ok(Some(concat(scans, UnionArgs { diagonal: true, ..Default::default() })?))
}

/// Runs `read` over the log, again while a writer beside this reader merged
/// parts under it ([`glas_core::logparts::read_consistently`]). The writer
/// itself merges only between its own reads; for it this costs two listings.
pub fn consistent<T, E: From<AnalyticsError>>(log_dir: &Path, read: impl Fn() -> Result<T, E>) -> Result<T, E> {
    let attempt = std::cell::Cell::new(0);
    let list_error = |e| AnalyticsError::io("list log", log_dir, e).into();
    glas_core::logparts::read_consistently(log_dir, list_error, |_| {
        attempt.set(attempt.get() + 1);
        if attempt.get() > 1 {
            tracing::info!(
                attempt = attempt.get(),
                "the log's parts changed while it was read (a merge by the writer); reading again"
            );
        }
        read()
    })
}

/// The local calendar day of each mention (the offset its source gave).
fn local_day() -> Expr {
    crate::trends::local_time().dt().date().alias("day")
}

fn counts() -> [Expr; 3] {
    [
        len().cast(DataType::UInt32).alias("mentions"),
        col("sentiment").eq(lit("negative")).cast(DataType::UInt32).sum().alias("negative"),
        col("sentiment").eq(lit("negative")).cast(DataType::Float64).mean().alias("negative_share"),
    ]
}

/// Per day and source: mentions, negative mentions, negative share.
pub fn by_source(log: LazyFrame) -> PolarsResult<DataFrame> {
    log.select([local_day(), col("source"), col("sentiment")])
        .group_by([col("day"), col("source")])
        .agg(counts())
        .sort(["day", "source"], SortMultipleOptions::default())
        .collect()
}

/// Per day and topic (a mention with two topics counts in both; `none` for
/// mentions without a topic).
pub fn by_topic(log: LazyFrame) -> PolarsResult<DataFrame> {
    log.select([local_day(), col("topics"), col("sentiment")])
        .explode(by_name(["topics"], true, false), ExplodeOptions { empty_as_null: true, keep_nulls: true })
        .with_column(col("topics").fill_null(lit("none")).alias("topic"))
        .group_by([col("day"), col("topic")])
        .agg(counts())
        .sort(["day", "topic"], SortMultipleOptions::default())
        .collect()
}

/// Files the daily job wrote.
#[derive(Debug, Clone)]
pub struct DailyOutputs {
    pub by_source: PathBuf,
    pub by_topic: PathBuf,
    pub days: usize,
}

/// Computes both aggregates over the log (a frame with `published_at`,
/// `utc_offset_s`, `source`, `topics` and `sentiment`, as
/// [`crate::events::read_log`] returns) and writes them as CSV (for people)
/// and Parquet (for tools) under `out_dir`.
pub fn run(log: &DataFrame, out_dir: &Path) -> Result<DailyOutputs, AnalyticsError> {
    std::fs::create_dir_all(out_dir).map_err(|e| AnalyticsError::io("create analytics folder", out_dir, e))?;
    let log = log.clone().lazy();
    let mut src = by_source(log.clone())?;
    let mut top = by_topic(log)?;
    let days = src.column("day")?.n_unique()?;
    let write = |df: &mut DataFrame, name: &str| -> Result<PathBuf, AnalyticsError> {
        let csv = out_dir.join(format!("{name}.csv"));
        let mut f = std::fs::File::create(&csv).map_err(|e| AnalyticsError::io("write", &csv, e))?;
        CsvWriter::new(&mut f).finish(df)?;
        let pq = out_dir.join(format!("{name}.parquet"));
        let mut f = std::fs::File::create(&pq).map_err(|e| AnalyticsError::io("write", &pq, e))?;
        ParquetWriter::new(&mut f).finish(df)?;
        Ok(csv)
    };
    Ok(DailyOutputs {
        by_source: write(&mut src, "daily_by_source")?,
        by_topic: write(&mut top, "daily_by_topic")?,
        days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_repeated_while_the_writer_merges_parts_under_it() {
        let tmp = tempfile::tempdir().unwrap();
        let day = tmp.path().join("day=2026-11-01");
        std::fs::create_dir_all(&day).unwrap();
        for seq in [1, 2] {
            std::fs::write(day.join(glas_core::logparts::part_name(seq)), b"").unwrap();
        }
        // The first read fails on a part merged away during it (1 and 2 into 2).
        let reads = std::cell::Cell::new(0);
        let out = consistent(tmp.path(), || -> Result<usize, AnalyticsError> {
            reads.set(reads.get() + 1);
            if reads.get() == 1 {
                std::fs::remove_file(day.join(glas_core::logparts::part_name(1))).unwrap();
                return Err(AnalyticsError::io("open part", &day, std::io::ErrorKind::NotFound.into()));
            }
            Ok(glas_core::logparts::list(tmp.path()).unwrap().len())
        });
        assert_eq!(out.unwrap(), 1);
        assert_eq!(reads.get(), 2);
        // A read the log did not change under is not repeated, failed or not.
        reads.set(0);
        let out = consistent(tmp.path(), || -> Result<(), AnalyticsError> {
            reads.set(reads.get() + 1);
            Err(AnalyticsError::io("read", &day, std::io::ErrorKind::InvalidData.into()))
        });
        assert!(out.is_err());
        assert_eq!(reads.get(), 1);
        // A log that keeps changing is read three times, then the last answer stands.
        reads.set(0);
        let out = consistent(tmp.path(), || -> Result<u64, AnalyticsError> {
            reads.set(reads.get() + 1);
            let seq = 10 + reads.get();
            std::fs::write(day.join(glas_core::logparts::part_name(seq)), b"").unwrap();
            Ok(seq)
        });
        assert_eq!(out.unwrap(), 13);
        assert_eq!(reads.get(), 3);
    }
}
