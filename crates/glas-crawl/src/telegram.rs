//! `type = "telegram"`: a public channel's web preview (`https://t.me/s/NAME`).
//!
//! Every `.tgme_widget_message` with a `data-post="channel/ID"` becomes a
//! mention `tg:channel/ID` with its text, time, views, author, and (in `extra`)
//! the channel it was forwarded from. Paging back with `?before=ID` comes with
//! the crawler issue; this reads the newest page.

use glas_core::{Checkpoint, Engagement, Mention};
use reqwest::Client;
use scraper::{Html, Selector};
use serde_json::Value;

use crate::http::{self, Fetch};
use crate::text::element_text;
use crate::{CrawlError, CrawlOutput, SourceCtx, Stage};

pub async fn crawl(client: &Client, ctx: &SourceCtx<'_>, cp: &Checkpoint) -> Result<CrawlOutput, CrawlError> {
    let src = ctx.source;
    let body = match http::get(client, &src.id, &src.url, src.allow_private, Some(cp)).await? {
        Fetch::NotModified => {
            return Ok(CrawlOutput { mentions: Vec::new(), checkpoint: cp.clone(), not_modified: true, fetched: 1 });
        }
        Fetch::Body(b) => b,
    };
    let html = http::decode(&body.bytes, body.content_type.as_deref());
    let mentions = parse(&html, ctx).map_err(|reason| ctx.error(&src.url, Stage::Parse, reason))?;
    let newest = mentions.iter().filter_map(|m| m.id.rsplit('/').next()?.parse::<u64>().ok()).max();
    let cursor = match (newest, cp.cursor.as_deref().and_then(|c| c.parse::<u64>().ok())) {
        (Some(a), Some(b)) => Some(a.max(b).to_string()),
        (a, b) => a.or(b).map(|n| n.to_string()),
    };
    let checkpoint = Checkpoint { etag: body.etag, last_modified: body.last_modified, cursor, ..cp.clone() };
    Ok(CrawlOutput { mentions, checkpoint, not_modified: false, fetched: 1 })
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

/// Parses a channel preview page.
pub fn parse(html: &str, ctx: &SourceCtx<'_>) -> Result<Vec<Mention>, String> {
    let doc = Html::parse_document(html);
    let message = sel(".tgme_widget_message[data-post]");
    let text_sel = sel(".tgme_widget_message_text");
    let time_sel = sel(".tgme_widget_message_date time[datetime]");
    let views_sel = sel(".tgme_widget_message_views");
    let owner_sel = sel(".tgme_widget_message_owner_name");
    let from_author_sel = sel(".tgme_widget_message_from_author");
    let fwd_sel = sel(".tgme_widget_message_forwarded_from_name");
    let poll_q_sel = sel(".tgme_widget_message_poll_question");
    let poll_opt_sel = sel(".tgme_widget_message_poll_option_text");
    let preview_title_sel = sel(".link_preview_title");
    let preview_desc_sel = sel(".link_preview_description");

    let mut out = Vec::new();
    let mut saw_any = false;
    for el in doc.select(&message) {
        saw_any = true;
        let post = el.value().attr("data-post").unwrap_or_default();
        let Some((channel, num)) = post.rsplit_once('/') else { continue };
        if num.parse::<u64>().is_err() {
            continue;
        }
        let Some(time) = el.select(&time_sel).next().and_then(|t| t.value().attr("datetime")) else { continue };
        let Ok(published) = chrono::DateTime::parse_from_rfc3339(time) else { continue };
        let mut text = el.select(&text_sel).next().map(element_text).unwrap_or_default();
        let mut extra = serde_json::Map::new();
        if let Some(q) = el.select(&poll_q_sel).next().map(element_text) {
            let options: Vec<Value> = el.select(&poll_opt_sel).map(|o| Value::String(element_text(o))).collect();
            if text.is_empty() {
                text = q.clone();
            }
            extra.insert("poll".into(), serde_json::json!({"question": q, "options": options}));
        }
        let preview_title = el.select(&preview_title_sel).next().map(element_text);
        let preview_desc = el.select(&preview_desc_sel).next().map(element_text);
        if preview_title.is_some() || preview_desc.is_some() {
            extra.insert(
                "link_preview".into(),
                serde_json::json!({"title": preview_title, "description": preview_desc}),
            );
        }
        if let Some(fwd) = el.select(&fwd_sel).next() {
            extra.insert("forwarded_from".into(), Value::String(element_text(fwd)));
        }
        if text.is_empty() {
            // Media-only posts carry nothing to read; keep the preview text if any.
            text = [preview_title, preview_desc].into_iter().flatten().collect::<Vec<_>>().join("\n");
        }
        if text.is_empty() {
            continue;
        }
        let author = el
            .select(&from_author_sel)
            .next()
            .or_else(|| el.select(&owner_sel).next())
            .map(element_text)
            .filter(|a| !a.is_empty());
        let views = el.select(&views_sel).next().and_then(|v| parse_count(&element_text(v)));
        out.push(Mention {
            id: format!("tg:{channel}/{num}"),
            source: Some(ctx.source.id.clone()),
            url: Some(format!("https://t.me/{channel}/{num}")),
            published_at: published.with_timezone(&ctx.tz).fixed_offset(),
            author,
            title: None,
            text,
            engagement: Engagement { views, ..Default::default() },
            extra,
        });
    }
    if !saw_any && !html.contains("tgme_channel_info") && !html.contains("tgme_widget_message") {
        return Err("not a Telegram channel preview page (no tgme_widget_message elements)".into());
    }
    Ok(out)
}

/// "37.2K" → 37200, "1.1M" → 1100000, "815" → 815.
fn parse_count(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1_000.0),
        'M' | 'm' => (&s[..s.len() - 1], 1_000_000.0),
        _ => (s, 1.0),
    };
    num.replace(',', ".").parse::<f64>().ok().map(|n| (n * mult).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count("37.2K"), Some(37200));
        assert_eq!(parse_count("1.1M"), Some(1_100_000));
        assert_eq!(parse_count("815"), Some(815));
        assert_eq!(parse_count(""), None);
    }
}
