//! `type = "rss"`: RSS 0.9x/1.0/2.0, Atom and JSON Feed, parsed by feed-rs.
//! With `full_text = true`, each new item's link is followed (on the source's
//! own hosts) and the article text replaces the feed's lead when longer.

use chrono::{DateTime, Utc};
use glas_core::{Checkpoint, Mention};

use crate::article::{self, Selectors};
use crate::canon::canonical;
use crate::text::html_to_text;
use crate::{CrawlOutput, SourceCtx, Stage, remember};

pub async fn crawl(ctx: &SourceCtx<'_>, cp: &Checkpoint, full_text: bool) -> Result<CrawlOutput, crate::CrawlError> {
    let src = ctx.source;
    let Some(body) = ctx.fetch_changed(&src.url, cp).await? else { return Ok(CrawlOutput::unchanged(cp)) };
    let mut mentions = parse(&body.bytes, ctx).map_err(|reason| ctx.error(&src.url, Stage::Parse, reason))?;
    let mut out = CrawlOutput { checkpoint: body.checkpoint(cp), fetched: 1, ..Default::default() };
    if full_text {
        for m in mentions.iter_mut().filter(|m| !cp.seen.contains(&m.id)) {
            let Some(url) = m.url.clone() else { continue };
            match ctx.fetch_linked(&url).await {
                Ok(page) => {
                    out.fetched += 1;
                    let a = article::extract(&page.text(), &Selectors::default(), ctx.tz, ctx.now);
                    if a.text.chars().count() > m.text.chars().count() {
                        m.text = a.text;
                    }
                }
                Err(e) => out.partial_failures.push(e),
            }
        }
        remember(&mut out.checkpoint.seen, mentions.iter().map(|m| m.id.clone()));
    }
    out.mentions = mentions;
    Ok(out)
}

/// Parses a feed document into mentions of this source.
pub fn parse(bytes: &[u8], ctx: &SourceCtx<'_>) -> Result<Vec<Mention>, String> {
    let feed = feed_rs::parser::parse(bytes).map_err(|e| format!("not a valid RSS/Atom/JSON feed: {e}"))?;
    let base = url::Url::parse(&ctx.source.url).ok();
    let mut out = Vec::with_capacity(feed.entries.len());
    for entry in feed.entries {
        // Links are meant to be absolute; some feeds give paths. Resolve them
        // against the feed's own address.
        let url = entry.links.first().map(|l| match base.as_ref().and_then(|b| b.join(&l.href).ok()) {
            Some(u) => canonical(u.as_str()),
            None => canonical(&l.href),
        });
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
        // feed-rs makes up an id from a hash when the feed has none; a link is steadier.
        let key = match (&url, entry.id.is_empty()) {
            (Some(u), true) => u.clone(),
            _ => entry.id,
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx_parse(bytes: &[u8]) -> Result<Vec<Mention>, String> {
        let src = crate::test_source("rss", "http://x/");
        let fetcher = crate::Fetcher::new(&Default::default());
        let ctx = SourceCtx { source: &src, fetcher: &fetcher, tz: chrono_tz::Europe::Moscow, now: chrono::Utc::now() };
        parse(bytes, &ctx)
    }

    const FEED: &str = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><title>Вестник</title><item><title>Нет воды в Заре</title><guid>g1</guid><pubDate>Mon, 23 Nov 2026 09:00:00 +0300</pubDate><description>&lt;p&gt;Авария на водоводе&lt;/p&gt;</description></item></channel></rss>";

    #[test]
    fn windows_1251_feed_is_decoded() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(FEED);
        let m = ctx_parse(&bytes).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].title.as_deref(), Some("Нет воды в Заре"));
        assert_eq!(m[0].text, "Авария на водоводе");
        assert_eq!(m[0].id, "rss:s/g1");
        assert_eq!(m[0].published_at.to_rfc3339(), "2026-11-23T09:00:00+03:00");
    }

    #[test]
    fn truncated_feed_is_an_error_not_a_panic() {
        let e = ctx_parse(&FEED.as_bytes()[..120]).unwrap_err();
        assert!(e.contains("not a valid RSS/Atom/JSON feed"), "{e}");
    }
}
