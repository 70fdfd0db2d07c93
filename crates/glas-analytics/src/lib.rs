//! glas-analytics: jobs over the store of record.
//!
//! - [`daily`]: polars aggregates (per day × source, per day × topic), written
//!   to `analytics/` as CSV and Parquet;
//! - [`events`]: mentions reduced to what the detector needs;
//! - [`trends`]: hourly and daily aggregates, the tension index (polars);
//! - [`signals`]: tension, emerging and coordinated signals, incremental;
//! - [`scenario`], [`evaluate`]: labelled streams and the detector's scores;
//! - [`health`]: the source-health ledger and `source_silent` signals;
//! - [`forecast`]: the outlook, daily counts forecast per key with intervals,
//!   the baselines and the rolling-origin backtest.

pub mod daily;
pub mod evaluate;
pub mod events;
pub mod forecast;
pub mod health;
pub mod scenario;
pub mod signals;
pub mod trends;

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("failed to {action} '{}': {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),
}

impl AnalyticsError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> AnalyticsError {
        AnalyticsError::Io { action, path: path.to_path_buf(), source }
    }
}
