//! glas-crawl: sources that turn the outside world into [`Mention`]s.
//!
//! One file per source kind, one line per kind in [`crawl_source`]'s match.
//! A crawler fetches, parses and returns mentions with the checkpoint that
//! covers them; it never writes to the store. The caller commits the mentions
//! first and saves the checkpoint after, so a crash refetches rather than loses.
//!
//! Kinds now: `rss` (feed-rs), `telegram` (t.me/s web preview), `jsonl`.

pub mod http;
pub mod jsonl;
pub mod rss;
pub mod telegram;
pub mod text;

use std::fmt;

use chrono::{DateTime, Utc};
use glas_core::config::SourceConfig;
use glas_core::{Checkpoint, Mention};
use reqwest::Client;

/// Where in crawling something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Fetch,
    Parse,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Fetch => "fetch",
            Stage::Parse => "parse",
        })
    }
}

/// A failure of one source, with enough context to act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("source '{source_id}': {stage} failed for {url}: {reason}")]
pub struct CrawlError {
    pub source_id: String,
    pub url: String,
    pub stage: Stage,
    pub reason: String,
}

/// What one crawl of one source produced.
#[derive(Debug, Clone)]
pub struct CrawlOutput {
    pub mentions: Vec<Mention>,
    /// To be saved once `mentions` are committed.
    pub checkpoint: Checkpoint,
    /// The server answered 304: nothing changed since the last crawl.
    pub not_modified: bool,
    /// HTTP requests (or files) read.
    pub fetched: usize,
}

/// Everything a source needs besides the network.
pub struct SourceCtx<'a> {
    pub source: &'a SourceConfig,
    /// The district's time zone: dates are given in it.
    pub tz: chrono_tz::Tz,
    /// Stands in for a missing publication date.
    pub now: DateTime<Utc>,
}

impl SourceCtx<'_> {
    pub(crate) fn error(&self, url: &str, stage: Stage, reason: String) -> CrawlError {
        CrawlError { source_id: self.source.id.clone(), url: url.to_string(), stage, reason }
    }
}

/// Crawls one source once.
pub async fn crawl_source(client: &Client, ctx: &SourceCtx<'_>, cp: &Checkpoint) -> Result<CrawlOutput, CrawlError> {
    match ctx.source.kind.as_str() {
        "rss" => rss::crawl(client, ctx, cp).await,
        "telegram" => telegram::crawl(client, ctx, cp).await,
        "jsonl" => jsonl::crawl(client, ctx, cp).await,
        other => Err(ctx.error(
            &ctx.source.url,
            Stage::Fetch,
            format!("unknown source type {other:?} (supported: {})", glas_core::config::SOURCE_KINDS.join(", ")),
        )),
    }
}

pub use http::client;
