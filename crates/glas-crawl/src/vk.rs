//! `type = "vk"`: a community wall through the VK API.
//!
//! `wall.get` pages of 100 posts, newest first, until the newest post of the
//! previous crawl (the cursor) or `max_pages`; with `comments = true`, the
//! comments of each new post that has some (`wall.getComments`). Each post
//! carries likes, reposts, views and comments counts. An own source (the
//! administration's community) is read further back, over the last
//! [`crate::TRACK_HOURS`]: its recent posts' figures are taken again at every
//! crawl, their new comments collected, and the community's members counted
//! (`groups.getById`). The access token comes from `token_file` or the
//! environment (`token_env`, default `GLAS_VK_TOKEN`) and never appears in
//! errors or logs. API errors are reported by code: rate limits are
//! retried with backoff, an invalid token or denied access fail the source with
//! the reason.

use std::time::Duration;

use glas_core::config::VkOptions;
use glas_core::{Checkpoint, Engagement, Mention};
use serde::Deserialize;

use crate::{CrawlError, CrawlOutput, SourceCtx, Stage};

/// API version the requests ask for.
pub const API_VERSION: &str = "5.199";
const PAGE: u32 = 100;

#[derive(Deserialize)]
struct Envelope<T> {
    response: Option<T>,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    error_code: i64,
    #[serde(default)]
    error_msg: String,
}

#[derive(Deserialize)]
struct Items {
    #[serde(default)]
    items: Vec<Post>,
}

#[derive(Deserialize)]
struct Count {
    #[serde(default)]
    count: i64,
}

#[derive(Deserialize)]
struct Post {
    id: i64,
    owner_id: Option<i64>,
    from_id: Option<i64>,
    date: i64,
    #[serde(default)]
    text: String,
    #[serde(default)]
    is_pinned: Option<i64>,
    likes: Option<Count>,
    reposts: Option<Count>,
    views: Option<Count>,
    comments: Option<Count>,
}

pub async fn crawl(ctx: &SourceCtx<'_>, cp: &Checkpoint, opts: &VkOptions) -> Result<CrawlOutput, CrawlError> {
    let src = ctx.source;
    let token = match &opts.token_file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| ctx.error(&src.url, Stage::Config, format!("cannot read token_file {}: {e}", f.display())))?
            .trim()
            .to_string(),
        None => std::env::var(&opts.token_env).unwrap_or_default(),
    };
    if token.is_empty() {
        let wher = opts.token_file.as_ref().map_or(opts.token_env.clone(), |f| f.display().to_string());
        return Err(ctx.error(&src.url, Stage::Config, format!("VK access token missing: set {wher}")));
    }
    let wall = match (opts.owner_id, &opts.domain) {
        (Some(id), _) => format!("owner_id={id}"),
        (None, Some(d)) => format!("domain={d}"),
        (None, None) => return Err(ctx.error(&src.url, Stage::Config, "vk source needs owner_id or domain".into())),
    };
    let last_seen: i64 = cp.cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut out = CrawlOutput { checkpoint: cp.clone(), ..Default::default() };
    let mut posts: Vec<Post> = Vec::new();
    // Own sources: posts already stored but still followed.
    let mut followed: Vec<Post> = Vec::new();
    for page in 0..opts.max_pages {
        let query = format!("{wall}&count={PAGE}&offset={}", page * PAGE);
        let items: Items = call(ctx, &token, "wall.get", &query, &mut out).await?;
        let n = items.items.len();
        let regular = || items.items.iter().filter(|p| p.is_pinned != Some(1));
        let reached_seen = regular().any(|p| p.id <= last_seen);
        let past_window = !src.own || regular().any(|p| !ctx.tracks(stamp(ctx, p.date)));
        for p in items.items {
            if p.id > last_seen {
                posts.push(p);
            } else if ctx.tracks(stamp(ctx, p.date)) {
                followed.push(p);
            }
        }
        if (reached_seen && past_window) || n < PAGE as usize {
            break;
        }
    }
    let owner_of = |p: &Post| p.owner_id.or(opts.owner_id).unwrap_or(0);
    for p in posts.iter().chain(&followed) {
        let m = post_mention(ctx, owner_of(p), p);
        if ctx.tracks(m.published_at) {
            out.snapshots.push(crate::Snapshot::of(&m));
        }
    }
    if src.own
        && let Some(group) = posts.iter().chain(&followed).map(owner_of).find(|o| *o < 0)
    {
        let query = format!("group_id={}&fields=members_count", -group);
        match call::<serde_json::Value>(ctx, &token, "groups.getById", &query, &mut out).await {
            Ok(v) => out.audience = members(&v),
            Err(e) => out.partial_failures.push(e),
        }
    }
    let fresh = posts.len();
    for (i, p) in posts.iter().chain(&followed).enumerate() {
        let owner = owner_of(p);
        if i < fresh {
            out.mentions.push(post_mention(ctx, owner, p));
        }
        if opts.comments && p.comments.as_ref().is_some_and(|c| c.count > 0) {
            let query = format!("owner_id={owner}&post_id={}&count=100&sort=asc", p.id);
            match call::<Items>(ctx, &token, "wall.getComments", &query, &mut out).await {
                Ok(c) => out.mentions.extend(
                    c.items.iter().filter(|c| !c.text.is_empty()).map(|c| comment_mention(ctx, owner, p.id, c)),
                ),
                Err(e) => out.partial_failures.push(e),
            }
        }
    }
    let newest = posts.iter().map(|p| p.id).max().unwrap_or(0).max(last_seen);
    out.checkpoint.cursor = (newest > 0).then(|| newest.to_string());
    Ok(out)
}

/// Calls one API method, retrying rate-limit errors with backoff.
async fn call<T: for<'de> Deserialize<'de>>(
    ctx: &SourceCtx<'_>,
    token: &str,
    method: &str,
    query: &str,
    out: &mut CrawlOutput,
) -> Result<T, CrawlError> {
    let base = ctx.source.url.trim_end_matches('/');
    let shown = format!("{base}/{method}?{query}&v={API_VERSION}");
    let url = format!("{shown}&access_token={token}");
    let redact = |mut e: CrawlError| {
        e.url = shown.clone();
        e.reason = e.reason.replace(token, "***");
        e
    };
    let mut attempt = 0u32;
    loop {
        let body = match ctx.fetcher.get_api(ctx.source, &url).await.map_err(redact)? {
            crate::Fetch::Body(b) => b,
            crate::Fetch::NotModified => return Err(ctx.error(&shown, Stage::Api, "unexpected 304".into())),
        };
        out.fetched += 1;
        let env: Envelope<T> = envelope(&body.bytes).map_err(|e| ctx.error(&shown, Stage::Parse, e))?;
        match (env.response, env.error) {
            (Some(r), None) => return Ok(r),
            (_, Some(e)) if matches!(e.error_code, 6 | 9 | 29) && attempt < ctx.fetcher.settings().retries => {
                attempt += 1;
                let wait =
                    ctx.fetcher.settings().backoff.to_std().unwrap_or_default().mul_f64(2f64.powi(attempt as i32 - 1));
                tracing::info!(source = %ctx.source.id, code = e.error_code, wait_ms = wait.as_millis() as u64, "VK rate limit; backing off");
                tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
            }
            (_, Some(e)) => return Err(ctx.error(&shown, Stage::Api, describe(&e))),
            (None, None) => {
                return Err(ctx.error(&shown, Stage::Parse, "VK API answer has neither response nor error".into()));
            }
        }
    }
}

fn envelope<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<Envelope<T>, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not a VK API answer: {e}"))
}

/// A `wall.get` (or `wall.getComments`) answer read as the crawler reads
/// it, every item as a post of wall `owner` and as a comment under its
/// post 1: for the fuzzer.
#[doc(hidden)]
pub fn parse_wall(ctx: &SourceCtx<'_>, owner: i64, bytes: &[u8]) -> Result<Vec<Mention>, String> {
    let env: Envelope<Items> = envelope(bytes)?;
    if let Some(e) = env.error {
        return Err(describe(&e));
    }
    let items = env.response.map(|r| r.items).unwrap_or_default();
    Ok(items.iter().flat_map(|p| [post_mention(ctx, owner, p), comment_mention(ctx, owner, 1, p)]).collect())
}

/// `members_count` of `groups.getById`'s answer: `{"groups": [...]}` since
/// API 5.139, a bare array before.
fn members(v: &serde_json::Value) -> Option<i64> {
    let groups = v.get("groups").unwrap_or(v);
    groups.as_array()?.first()?.get("members_count")?.as_i64()
}

fn describe(e: &ApiError) -> String {
    let what = match e.error_code {
        5 => "invalid or expired access token",
        6 | 9 | 29 => "rate limit still exceeded after retries",
        15 | 30 => "access denied (private or closed wall)",
        18 => "the wall's owner is deleted or banned",
        100 | 113 => "wrong owner_id or domain",
        _ => "API error",
    };
    format!("{what} (VK error {}: {})", e.error_code, e.error_msg)
}

fn stamp(ctx: &SourceCtx<'_>, unix: i64) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::from_timestamp(unix, 0).unwrap_or(ctx.now).with_timezone(&ctx.tz).fixed_offset()
}

fn author(from_id: Option<i64>) -> Option<String> {
    // `unsigned_abs`: an id of i64::MIN from a broken answer must not overflow.
    from_id.map(|id| if id < 0 { format!("vk:club{}", id.unsigned_abs()) } else { format!("vk:id{id}") })
}

fn post_mention(ctx: &SourceCtx<'_>, owner: i64, p: &Post) -> Mention {
    let count = |c: &Option<Count>| c.as_ref().map(|c| c.count);
    Mention {
        id: format!("vk:wall{owner}_{}", p.id),
        source: Some(ctx.source.id.clone()),
        url: Some(format!("https://vk.com/wall{owner}_{}", p.id)),
        published_at: stamp(ctx, p.date),
        author: author(p.from_id),
        title: None,
        text: p.text.clone(),
        engagement: Engagement {
            views: count(&p.views),
            likes: count(&p.likes),
            comments: count(&p.comments),
            shares: count(&p.reposts),
        },
        extra: Default::default(),
    }
}

fn comment_mention(ctx: &SourceCtx<'_>, owner: i64, post: i64, c: &Post) -> Mention {
    let mut extra = serde_json::Map::new();
    extra.insert("reply_to".into(), format!("vk:wall{owner}_{post}").into());
    Mention {
        id: format!("vk:wall{owner}_{post}_c{}", c.id),
        source: Some(ctx.source.id.clone()),
        url: Some(format!("https://vk.com/wall{owner}_{post}?reply={}", c.id)),
        published_at: stamp(ctx, c.date),
        author: author(c.from_id),
        title: None,
        text: c.text.clone(),
        engagement: Engagement { likes: c.likes.as_ref().map(|l| l.count), ..Default::default() },
        extra,
    }
}
