//! `type = "rss"`: RSS 0.9x/1.0/2.0, Atom and JSON Feed, parsed by feed-rs.

use chrono::{DateTime, Utc};
use glas_core::{Checkpoint, Mention};
use reqwest::Client;

use crate::http::{self, Fetch};
use crate::text::html_to_text;
use crate::{CrawlError, CrawlOutput, SourceCtx, Stage};

pub async fn crawl(client: &Client, ctx: &SourceCtx<'_>, cp: &Checkpoint) -> Result<CrawlOutput, CrawlError> {
    let src = ctx.source;
    let body = match http::get(client, &src.id, &src.url, src.allow_private, Some(cp)).await? {
        Fetch::NotModified => {
            return Ok(CrawlOutput { mentions: Vec::new(), checkpoint: cp.clone(), not_modified: true, fetched: 1 });
        }
        Fetch::Body(b) => b,
    };
    let mentions = parse(&body.bytes, ctx).map_err(|reason| ctx.error(&src.url, Stage::Parse, reason))?;
    let checkpoint = Checkpoint { etag: body.etag, last_modified: body.last_modified, ..cp.clone() };
    Ok(CrawlOutput { mentions, checkpoint, not_modified: false, fetched: 1 })
}

/// Parses a feed document into mentions of this source.
pub fn parse(bytes: &[u8], ctx: &SourceCtx<'_>) -> Result<Vec<Mention>, String> {
    let feed = feed_rs::parser::parse(bytes).map_err(|e| format!("not a valid RSS/Atom/JSON feed: {e}"))?;
    let mut out = Vec::with_capacity(feed.entries.len());
    for entry in feed.entries {
        let url = entry.links.first().map(|l| l.href.clone());
        let title = entry.title.map(|t| html_to_text(&t.content)).filter(|t| !t.is_empty());
        let body = entry
            .content
            .and_then(|c| c.body)
            .or_else(|| entry.summary.map(|s| s.content))
            .map(|b| html_to_text(&b))
            .unwrap_or_default();
        let text = if body.is_empty() { title.clone().unwrap_or_default() } else { body };
        if text.is_empty() {
            continue;
        }
        let published: DateTime<Utc> = entry.published.or(entry.updated).unwrap_or(ctx.now);
        let key = if entry.id.is_empty() { url.clone().unwrap_or_default() } else { entry.id };
        out.push(Mention {
            id: format!("rss:{}/{}", ctx.source.id, key),
            source: Some(ctx.source.id.clone()),
            url,
            published_at: published.with_timezone(&ctx.tz).fixed_offset(),
            author: entry.authors.first().and_then(|p| p.name.clone()).filter(|n| !n.is_empty()),
            title,
            text,
            engagement: Default::default(),
            extra: Default::default(),
        });
    }
    Ok(out)
}
