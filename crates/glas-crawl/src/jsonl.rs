//! `type = "jsonl"`: a file (path) or URL of mention lines in the contract format.
//! Malformed lines are reported by number and skipped.

use glas_core::{Checkpoint, Mention};
use reqwest::Client;

use crate::http::{self, Fetch};
use crate::{CrawlError, CrawlOutput, SourceCtx, Stage};

pub async fn crawl(client: &Client, ctx: &SourceCtx<'_>, cp: &Checkpoint) -> Result<CrawlOutput, CrawlError> {
    let src = ctx.source;
    let (text, checkpoint) = if src.url.starts_with("http://") || src.url.starts_with("https://") {
        match http::get(client, &src.id, &src.url, src.allow_private, Some(cp)).await? {
            Fetch::NotModified => {
                return Ok(CrawlOutput {
                    mentions: Vec::new(),
                    checkpoint: cp.clone(),
                    not_modified: true,
                    fetched: 1,
                });
            }
            Fetch::Body(b) => (
                http::decode(&b.bytes, b.content_type.as_deref()),
                Checkpoint { etag: b.etag, last_modified: b.last_modified, ..cp.clone() },
            ),
        }
    } else {
        let text = tokio::fs::read_to_string(&src.url)
            .await
            .map_err(|e| ctx.error(&src.url, Stage::Fetch, format!("cannot read file: {e}")))?;
        (text, cp.clone())
    };
    let (mut mentions, errors) = parse_lines(&text);
    for e in &errors {
        tracing::warn!(source = %src.id, url = %src.url, line = e.line, reason = %e.reason, "skipping malformed mention line");
    }
    for m in &mut mentions {
        m.source.get_or_insert_with(|| src.id.clone());
    }
    Ok(CrawlOutput { mentions, checkpoint, not_modified: false, fetched: 1 })
}

/// Parses mention lines; blank lines are ignored, bad ones returned as errors.
pub fn parse_lines(text: &str) -> (Vec<Mention>, Vec<glas_core::LineError>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match Mention::from_line(line, i + 1) {
            Ok(m) => ok.push(m),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}
