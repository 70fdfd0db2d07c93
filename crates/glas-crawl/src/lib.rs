//! glas-crawl: sources that turn the outside world into [`Mention`]s.
//!
//! One file per source kind, one line per kind in [`crawl_source`]'s match:
//! `rss` (RSS, Atom, JSON Feed; optionally the full article behind each item),
//! `html` (sites without feeds: a listing page and its articles), `telegram`
//! (public channel web preview, paging back), `vk` (community walls through the
//! VK API), `jsonl` (files or URLs of mention lines).
//!
//! A crawler fetches through the shared, polite [`Fetcher`], parses, and returns
//! mentions with the checkpoint that covers them; it never writes to the store.
//! The caller commits the mentions first and saves the checkpoint after, so a
//! crash refetches rather than loses.

pub mod article;
pub mod canon;
pub mod dates;
pub mod fetch;
pub mod html;
pub mod jsonl;
pub mod robots;
pub mod rss;
pub mod telegram;
pub mod text;
pub mod vk;

use std::fmt;

use chrono::{DateTime, Utc};
use glas_core::config::{ConfigError, SourceConfig, SourceOptions};
use glas_core::{Checkpoint, Mention};

pub use fetch::{Body, Fetch, Fetcher};

/// Where in crawling something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The source's configuration (a missing token, a bad selector).
    Config,
    /// robots.txt forbids the URL.
    Robots,
    Fetch,
    Parse,
    /// The platform's API answered with an error.
    Api,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Config => "config",
            Stage::Robots => "robots",
            Stage::Fetch => "fetch",
            Stage::Parse => "parse",
            Stage::Api => "api",
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
#[derive(Debug, Clone, Default)]
pub struct CrawlOutput {
    pub mentions: Vec<Mention>,
    /// To be saved once `mentions` are committed.
    pub checkpoint: Checkpoint,
    /// The server answered 304: nothing changed since the last crawl.
    pub not_modified: bool,
    /// Pages or files read.
    pub fetched: usize,
    /// Parts that failed while the source as a whole worked (one article page
    /// of a listing, the comments of one post).
    pub partial_failures: Vec<CrawlError>,
    /// Own sources only: the engagement of every recent post seen on this
    /// crawl, new or already stored, so its figures become a time series.
    pub snapshots: Vec<Snapshot>,
    /// Own sources only: the channel's subscribers or the community's members,
    /// when the page or the API shows them.
    pub audience: Option<i64>,
}

/// A post's engagement as one crawl saw it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// The mention id of the post.
    pub id: String,
    pub published_at: chrono::DateTime<chrono::FixedOffset>,
    pub engagement: glas_core::Engagement,
}

impl Snapshot {
    fn of(m: &Mention) -> Snapshot {
        Snapshot { id: m.id.clone(), published_at: m.published_at, engagement: m.engagement.clone() }
    }
}

/// How far back an own channel's posts are re-read at each crawl: past the
/// 72 hours the engagement figures are reported at.
pub const TRACK_HOURS: i64 = 96;

impl SourceCtx<'_> {
    /// Whether a post published at `at` is still followed (own sources only).
    pub(crate) fn tracks(&self, at: chrono::DateTime<chrono::FixedOffset>) -> bool {
        self.source.own && self.now.signed_duration_since(at) <= chrono::Duration::hours(TRACK_HOURS)
    }
}

impl CrawlOutput {
    fn unchanged(cp: &Checkpoint) -> CrawlOutput {
        CrawlOutput { checkpoint: cp.clone(), not_modified: true, fetched: 1, ..Default::default() }
    }
}

/// Everything a source needs besides its checkpoint.
pub struct SourceCtx<'a> {
    pub source: &'a SourceConfig,
    pub fetcher: &'a Fetcher,
    /// The district's time zone: dates without an offset are read in it.
    pub tz: chrono_tz::Tz,
    /// Stands in for a missing publication date.
    pub now: DateTime<Utc>,
}

impl SourceCtx<'_> {
    pub(crate) fn error(&self, url: &str, stage: Stage, reason: String) -> CrawlError {
        CrawlError { source_id: self.source.id.clone(), url: url.to_string(), stage, reason }
    }

    /// GETs `url` with the validators of `cp`; `None` when unchanged.
    pub(crate) async fn fetch_changed(&self, url: &str, cp: &Checkpoint) -> Result<Option<Body>, CrawlError> {
        match self.fetcher.get(self.source, url, Some(cp)).await? {
            Fetch::NotModified => Ok(None),
            Fetch::Body(b) => Ok(Some(b)),
        }
    }

    /// GETs a page a link led to; only hosts configured for the source.
    pub(crate) async fn fetch_linked(&self, url: &str) -> Result<Body, CrawlError> {
        if !self.host_allowed(url) {
            return Err(self.error(
                url,
                Stage::Fetch,
                "host not configured for this source (add it to `hosts` to follow such links)".into(),
            ));
        }
        match self.fetcher.get(self.source, url, None).await? {
            Fetch::Body(b) => Ok(b),
            Fetch::NotModified => Err(self.error(url, Stage::Fetch, "unexpected 304 without validators".into())),
        }
    }

    /// Whether links to `url` may be followed: the source's own host or one of
    /// its `hosts`.
    pub fn host_allowed(&self, url: &str) -> bool {
        let Some(h) = canon::host(url) else { return false };
        canon::host(&self.source.url).as_deref() == Some(h.as_str())
            || self.source.hosts.iter().any(|allowed| allowed.trim_start_matches("www.").eq_ignore_ascii_case(&h))
    }
}

/// Crawls one source once.
pub async fn crawl_source(ctx: &SourceCtx<'_>, cp: &Checkpoint) -> Result<CrawlOutput, CrawlError> {
    match &ctx.source.options {
        SourceOptions::Rss { full_text } => rss::crawl(ctx, cp, *full_text).await,
        SourceOptions::Html(opts) => html::crawl(ctx, cp, opts).await,
        SourceOptions::Telegram { max_pages } => telegram::crawl(ctx, cp, *max_pages).await,
        SourceOptions::Vk(opts) => vk::crawl(ctx, cp, opts).await,
        SourceOptions::Jsonl => jsonl::crawl(ctx, cp).await,
    }
}

/// Checks what only the crawler can: CSS selectors parse. Errors carry the
/// file and line of the value.
pub fn validate(sources: &[SourceConfig]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for s in sources {
        if let SourceOptions::Html(o) = &s.options {
            for l in [&o.link_selector, &o.title_selector, &o.date_selector, &o.text_selector].into_iter().flatten() {
                if let Err(e) = scraper::Selector::parse(&l.value) {
                    errors.push(l.error(format!("invalid CSS selector {:?}: {e}", l.value)));
                }
            }
        }
    }
    errors
}

/// Remembers `ids` as seen, newest last, keeping at most `SEEN_LIMIT`.
pub(crate) fn remember(seen: &mut Vec<String>, ids: impl IntoIterator<Item = String>) {
    for id in ids {
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    if seen.len() > SEEN_LIMIT {
        seen.drain(..seen.len() - SEEN_LIMIT);
    }
}

/// How many article URLs a source remembers as already fetched.
pub const SEEN_LIMIT: usize = 2000;

/// A minimal source of `kind` at `url` (private addresses allowed), for
/// tests and the fuzzer (`examples/fuzz.rs`).
#[doc(hidden)]
pub fn test_source(kind: &str, url: &str) -> SourceConfig {
    let options = match kind {
        "rss" => SourceOptions::Rss { full_text: false },
        "telegram" => SourceOptions::Telegram { max_pages: 3 },
        _ => SourceOptions::Jsonl,
    };
    SourceConfig {
        id: "s".into(),
        kind: kind.into(),
        name: "s".into(),
        url: url.into(),
        allow_private: true,
        interval: chrono::Duration::minutes(15),
        place: None,
        hosts: Vec::new(),
        own: false,
        options,
    }
}
