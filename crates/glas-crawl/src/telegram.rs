//! `type = "telegram"`: a public channel's web preview (`https://t.me/s/NAME`).
//!
//! Every `.tgme_widget_message` with a `data-post="channel/ID"` becomes a
//! mention `tg:channel/ID` with its text, time, views, author, and (in `extra`)
//! the channel it was forwarded from, its link preview and poll. The crawl
//! reads the newest page, then pages back with `?before=ID` until it reaches the
//! newest post of the previous crawl (the checkpoint's cursor), or `max_pages`.

use glas_core::{Checkpoint, Engagement, Mention};
use scraper::{Html, Selector};
use serde_json::Value;

use crate::text::element_text;
use crate::{CrawlError, CrawlOutput, SourceCtx, Stage};

pub async fn crawl(ctx: &SourceCtx<'_>, cp: &Checkpoint, max_pages: u32) -> Result<CrawlOutput, CrawlError> {
    let src = ctx.source;
    let last_seen: u64 = cp.cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
    let Some(first) = ctx.fetch_changed(&src.url, cp).await? else { return Ok(CrawlOutput::unchanged(cp)) };
    let mut out = CrawlOutput { checkpoint: first.checkpoint(cp), fetched: 1, ..Default::default() };
    let first_text = first.text();
    let mut page = parse(&first_text, ctx).map_err(|reason| ctx.error(&src.url, Stage::Parse, reason))?;
    if src.own {
        out.audience = subscribers(&first_text);
    }
    let mut oldest_seen = u64::MAX;
    loop {
        out.snapshots.extend(page.iter().filter(|m| ctx.tracks(m.published_at)).map(crate::Snapshot::of));
        let ids: Vec<u64> = page.iter().filter_map(|m| post_number(&m.id)).collect();
        let Some(&oldest) = ids.iter().min() else { break };
        out.mentions.extend(page.into_iter().filter(|m| post_number(&m.id).is_some_and(|n| n > last_seen)));
        // Stop at the previous crawl's newest post, at the page limit, or when a
        // page brings nothing older (a server that ignores `before`).
        if oldest <= last_seen || oldest >= oldest_seen || out.fetched >= max_pages as usize {
            break;
        }
        oldest_seen = oldest;
        let url = page_url(&src.url, oldest);
        let body = match ctx.fetcher.get(src, &url, None).await? {
            crate::Fetch::Body(b) => b,
            crate::Fetch::NotModified => break,
        };
        out.fetched += 1;
        page = parse(&body.text(), ctx).map_err(|reason| ctx.error(&url, Stage::Parse, reason))?;
    }
    out.mentions.sort_by_key(|m| post_number(&m.id));
    out.mentions.dedup_by(|a, b| a.id == b.id);
    out.snapshots.sort_by(|a, b| a.id.cmp(&b.id));
    out.snapshots.dedup_by(|a, b| a.id == b.id);
    let newest = out.mentions.iter().filter_map(|m| post_number(&m.id)).max().unwrap_or(0).max(last_seen);
    out.checkpoint.cursor = (newest > 0).then(|| newest.to_string());
    Ok(out)
}

/// The page before post `before`: `…/s/NAME?before=ID`.
fn page_url(base: &str, before: u64) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            let kept: Vec<(String, String)> =
                u.query_pairs().filter(|(k, _)| k != "before").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            u.query_pairs_mut().clear().extend_pairs(kept).append_pair("before", &before.to_string());
            u.to_string()
        }
        Err(_) => format!("{base}?before={before}"),
    }
}

fn post_number(id: &str) -> Option<u64> {
    id.rsplit('/').next()?.parse().ok()
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

/// The channel's subscribers from the page's header counters.
fn subscribers(html: &str) -> Option<i64> {
    let doc = Html::parse_document(html);
    let value = sel(".counter_value");
    let kind = sel(".counter_type");
    doc.select(&sel(".tgme_channel_info_counter")).find_map(|c| {
        let k = c.select(&kind).next().map(element_text)?;
        (k.starts_with("subscriber") || k.starts_with("подписч"))
            .then(|| c.select(&value).next().and_then(|v| parse_count(&element_text(v))))
            .flatten()
    })
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

    fn parse_fixture(html: &str) -> Vec<Mention> {
        let src = crate::test_source("telegram", "https://t.me/s/x");
        let fetcher = crate::Fetcher::new(&Default::default());
        let ctx = SourceCtx { source: &src, fetcher: &fetcher, tz: chrono_tz::Europe::Moscow, now: chrono::Utc::now() };
        parse(html, &ctx).unwrap()
    }

    #[test]
    fn real_saved_pages_parse() {
        let full = parse_fixture(include_str!("../../../fixtures/telegram_preview/full.html"));
        assert!(full.len() >= 10, "{}", full.len());
        let first = &full[0];
        assert_eq!(first.id, "tg:topwar_official/70989");
        assert_eq!(first.url.as_deref(), Some("https://t.me/topwar_official/70989"));
        assert_eq!(first.published_at.to_rfc3339(), "2023-02-28T10:47:53+03:00");
        assert_eq!(first.engagement.views, Some(37200));
        assert!(first.text.starts_with("В Санкт-Петербурге"), "{}", first.text);
        assert!(full.iter().any(|m| m.extra.contains_key("forwarded_from")));

        let poll = parse_fixture(include_str!("../../../fixtures/telegram_preview/message_poll.html"));
        assert_eq!(poll.len(), 1);
        assert!(poll[0].extra["poll"]["options"].as_array().unwrap().len() >= 2, "{:?}", poll[0].extra);

        let fwd = parse_fixture(include_str!("../../../fixtures/telegram_preview/message_media_forwarded_from.html"));
        assert!(fwd[0].extra["forwarded_from"].as_str().is_some_and(|s| !s.is_empty()));

        let preview = parse_fixture(include_str!("../../../fixtures/telegram_preview/message_link_preview.html"));
        assert!(preview[0].extra.contains_key("link_preview"), "{:?}", preview[0].extra);

        let author = parse_fixture(include_str!("../../../fixtures/telegram_preview/message_with_from_author.html"));
        assert!(author[0].author.is_some());

        assert_eq!(subscribers(include_str!("../../../fixtures/telegram_preview/full.html")), Some(109_000));
        assert_eq!(subscribers(include_str!("../../../fixtures/telegram_preview/message_text.html")), None);
    }

    #[test]
    fn every_saved_page_parses() {
        let pages = [
            ("full.html", include_str!("../../../fixtures/telegram_preview/full.html")),
            ("link_preview.html", include_str!("../../../fixtures/telegram_preview/link_preview.html")),
            ("link_preview_video.html", include_str!("../../../fixtures/telegram_preview/link_preview_video.html")),
            ("media_cicrle_video.html", include_str!("../../../fixtures/telegram_preview/media_cicrle_video.html")),
            ("media_photo.html", include_str!("../../../fixtures/telegram_preview/media_photo.html")),
            ("media_video.html", include_str!("../../../fixtures/telegram_preview/media_video.html")),
            ("media_video_gif.html", include_str!("../../../fixtures/telegram_preview/media_video_gif.html")),
            ("media_video_too_big.html", include_str!("../../../fixtures/telegram_preview/media_video_too_big.html")),
            ("message_link_preview.html", include_str!("../../../fixtures/telegram_preview/message_link_preview.html")),
            (
                "message_link_preview_text_only.html",
                include_str!("../../../fixtures/telegram_preview/message_link_preview_text_only.html"),
            ),
            (
                "message_link_preview_video.html",
                include_str!("../../../fixtures/telegram_preview/message_link_preview_video.html"),
            ),
            ("message_media_file.html", include_str!("../../../fixtures/telegram_preview/message_media_file.html")),
            (
                "message_media_forwarded_from.html",
                include_str!("../../../fixtures/telegram_preview/message_media_forwarded_from.html"),
            ),
            (
                "message_media_photo_and_video.html",
                include_str!("../../../fixtures/telegram_preview/message_media_photo_and_video.html"),
            ),
            (
                "message_media_round_video.html",
                include_str!("../../../fixtures/telegram_preview/message_media_round_video.html"),
            ),
            ("message_poll.html", include_str!("../../../fixtures/telegram_preview/message_poll.html")),
            ("message_sticker.html", include_str!("../../../fixtures/telegram_preview/message_sticker.html")),
            ("message_text.html", include_str!("../../../fixtures/telegram_preview/message_text.html")),
            ("message_voice.html", include_str!("../../../fixtures/telegram_preview/message_voice.html")),
            (
                "message_with_from_author.html",
                include_str!("../../../fixtures/telegram_preview/message_with_from_author.html"),
            ),
            ("poll.html", include_str!("../../../fixtures/telegram_preview/poll.html")),
        ];
        let mut with_posts = 0;
        for (name, html) in pages {
            let posts = parse_fixture(html);
            with_posts += usize::from(!posts.is_empty());
            for p in &posts {
                assert!(p.id.starts_with("tg:") && !p.text.is_empty(), "{name}: {p:?}");
                assert!(p.url.as_deref().is_some_and(|u| u.starts_with("https://t.me/")), "{name}");
            }
        }
        // 13 pages hold whole messages (the rest are fragments of one); of those,
        // a sticker and a round video carry nothing to read.
        assert_eq!(with_posts, 11, "{with_posts} of {} pages gave posts", pages.len());
    }

    #[test]
    fn paging_urls() {
        assert_eq!(page_url("https://t.me/s/levokumka", 1200), "https://t.me/s/levokumka?before=1200");
        assert_eq!(page_url("https://t.me/s/levokumka?before=99&x=1", 50), "https://t.me/s/levokumka?x=1&before=50");
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("37.2K"), Some(37200));
        assert_eq!(parse_count("1.1M"), Some(1_100_000));
        assert_eq!(parse_count("815"), Some(815));
        assert_eq!(parse_count(""), None);
    }
}
