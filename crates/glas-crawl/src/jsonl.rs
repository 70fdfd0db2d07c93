//! `type = "jsonl"`: a file (path) or URL of mention lines in the contract format.
//! Malformed lines are reported by number and skipped.

use glas_core::{Checkpoint, Mention};

use crate::{CrawlError, CrawlOutput, SourceCtx, Stage};

pub async fn crawl(ctx: &SourceCtx<'_>, cp: &Checkpoint) -> Result<CrawlOutput, CrawlError> {
    let src = ctx.source;
    let (text, checkpoint) = if src.url.starts_with("http://") || src.url.starts_with("https://") {
        let Some(body) = ctx.fetch_changed(&src.url, cp).await? else { return Ok(CrawlOutput::unchanged(cp)) };
        (body.text(), body.checkpoint(cp))
    } else {
        let text = tokio::fs::read_to_string(&src.url)
            .await
            .map_err(|e| ctx.error(&src.url, Stage::Fetch, format!("cannot read file: {e}")))?;
        (text, cp.clone())
    };
    let (mut mentions, errors) = parse_lines(&text);
    for m in &mut mentions {
        m.source.get_or_insert_with(|| src.id.clone());
    }
    let partial_failures = errors
        .into_iter()
        .map(|e| ctx.error(&src.url, Stage::Parse, format!("line {}: {}", e.line, e.reason)))
        .collect();
    Ok(CrawlOutput { mentions, checkpoint, fetched: 1, partial_failures, ..Default::default() })
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
