//! `type = "html"`: a news site without a feed. The listing page (`url`) gives
//! article links (by `link_selector`, or by headline heuristics); each article
//! not fetched before is read for its title, date (meta tags, `<time>`,
//! Russian date text) and main text. Selectors override the defaults.

use glas_core::config::HtmlOptions;
use glas_core::{Checkpoint, Mention};
use scraper::Selector;

use crate::article::{self, Selectors};
use crate::canon::canonical;
use crate::{CrawlError, CrawlOutput, SourceCtx, Stage, remember};

fn compile(ctx: &SourceCtx<'_>, s: &Option<glas_core::config::Located>) -> Result<Option<Selector>, CrawlError> {
    match s {
        None => Ok(None),
        Some(l) => Selector::parse(&l.value)
            .map(Some)
            .map_err(|e| ctx.error(&ctx.source.url, Stage::Config, format!("invalid CSS selector {:?}: {e}", l.value))),
    }
}

pub async fn crawl(ctx: &SourceCtx<'_>, cp: &Checkpoint, opts: &HtmlOptions) -> Result<CrawlOutput, CrawlError> {
    let src = ctx.source;
    let selectors = Selectors {
        links: compile(ctx, &opts.link_selector)?,
        title: compile(ctx, &opts.title_selector)?,
        date: compile(ctx, &opts.date_selector)?,
        text: compile(ctx, &opts.text_selector)?,
    };
    let Some(listing) = ctx.fetch_changed(&src.url, cp).await? else { return Ok(CrawlOutput::unchanged(cp)) };
    let base = url::Url::parse(&listing.url).map_err(|e| ctx.error(&listing.url, Stage::Parse, e.to_string()))?;
    let links: Vec<String> = article::article_links(&listing.text(), &base, &selectors)
        .into_iter()
        .map(|l| canonical(&l))
        .filter(|l| ctx.host_allowed(l))
        .collect();
    if links.is_empty() {
        return Err(ctx.error(
            &src.url,
            Stage::Parse,
            "no article links found on the listing page (set link_selector)".into(),
        ));
    }
    let mut out = CrawlOutput { checkpoint: listing.checkpoint(cp), fetched: 1, ..Default::default() };
    let fresh: Vec<String> =
        links.into_iter().filter(|l| !cp.seen.contains(l)).take(opts.max_articles as usize).collect();
    let mut done = Vec::new();
    for link in fresh {
        let page = match ctx.fetch_linked(&link).await {
            Ok(p) => p,
            Err(e) => {
                out.partial_failures.push(e);
                continue;
            }
        };
        out.fetched += 1;
        let a = article::extract(&page.text(), &selectors, ctx.tz, ctx.now);
        // A page that holds no article is remembered too: fetching it again would not help.
        done.push(link.clone());
        if a.text.chars().count() < 40 {
            out.partial_failures.push(ctx.error(
                &link,
                Stage::Parse,
                "no article text found on the page (set text_selector)".into(),
            ));
            continue;
        }
        let url = a.canonical.as_deref().map(|c| page_url(&link, c)).unwrap_or_else(|| link.clone());
        let mut extra = serde_json::Map::new();
        if a.published.is_none() {
            extra.insert("date_missing".into(), true.into());
        }
        out.mentions.push(Mention {
            id: format!("html:{}/{}", src.id, url),
            source: Some(src.id.clone()),
            url: Some(url),
            published_at: a.published.unwrap_or_else(|| ctx.now.with_timezone(&ctx.tz).fixed_offset()),
            author: None,
            title: a.title,
            text: a.text,
            engagement: Default::default(),
            extra,
        });
    }
    remember(&mut out.checkpoint.seen, done);
    Ok(out)
}

/// The page's canonical URL when it stays on the same host, else the link.
fn page_url(link: &str, canonical_href: &str) -> String {
    let Ok(base) = url::Url::parse(link) else { return link.to_string() };
    match base.join(canonical_href) {
        Ok(c) if c.host_str() == base.host_str() => canonical(c.as_str()),
        _ => link.to_string(),
    }
}
