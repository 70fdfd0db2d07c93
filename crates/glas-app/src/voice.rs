//! The administration's own voice over a pipeline's data: the media plan
//! against what the `own = true` sources published, and the reminder the
//! day before a planned item.

use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use glas_core::Record;
use glas_voice::{MediaPlan, OwnPub, PlanFact, PlanRow};

use crate::ops::Ctx;

pub fn open(ctx: &Ctx) -> anyhow::Result<MediaPlan> {
    MediaPlan::open(&ctx.data_dir).context("cannot open the media plan")
}

/// Who speaks in a mention, as the own voice counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice<'a> {
    /// A publication of an own channel.
    OwnPost,
    /// The administration's reply under a post (its community or one of
    /// `official_accounts`).
    OfficialReply(&'a str),
    /// Anyone else, including residents commenting under the own posts.
    Resident,
}

/// Whether `author` is the community that owns the VK wall of the post
/// `parent` (`vk:wall-100_518` is owned by `vk:club100`).
fn wall_owner(parent: &str, author: &str) -> bool {
    parent
        .strip_prefix("vk:wall-")
        .and_then(|rest| rest.split('_').next())
        .is_some_and(|group| author.strip_prefix("vk:club") == Some(group))
}

pub fn voice_of<'a>(ctx: &Ctx, r: &'a Record) -> Voice<'a> {
    let own = r.mention.source.as_deref().and_then(|id| ctx.pipeline.source(id)).is_some_and(|s| s.own);
    match r.mention.extra.get("reply_to").and_then(|v| v.as_str()) {
        Some(parent) => {
            let official = ctx.pipeline.incidents.as_ref().map(|i| i.official_accounts.as_slice()).unwrap_or_default();
            let by_admin = r
                .mention
                .author
                .as_deref()
                .is_some_and(|a| official.iter().any(|o| o == a) || (own && wall_owner(parent, a)));
            if by_admin { Voice::OfficialReply(parent) } else { Voice::Resident }
        }
        None if own => Voice::OwnPost,
        None => Voice::Resident,
    }
}

/// The own channels' publications among `records` published from `from` to
/// `to` (district days).
pub fn own_pubs(ctx: &Ctx, records: &[Record], from: NaiveDate, to: NaiveDate) -> Vec<OwnPub> {
    let own: Vec<&glas_core::config::SourceConfig> = ctx.pipeline.sources.iter().filter(|s| s.own).collect();
    if own.is_empty() {
        return Vec::new();
    }
    let tz = ctx.tz();
    let mut out = Vec::new();
    for r in records {
        let Some(src) = r.mention.source.as_deref().and_then(|id| own.iter().find(|s| s.id == id)) else { continue };
        if voice_of(ctx, r) != Voice::OwnPost {
            continue;
        }
        let day = r.mention.published_at.with_timezone(&tz).date_naive();
        if day < from || day > to {
            continue;
        }
        let text = r.mention.full_text();
        out.push(OwnPub {
            id: r.mention.id.clone(),
            source_id: src.id.clone(),
            source_name: src.name.clone(),
            day,
            topics: r.enrichment.topics.clone(),
            text,
            url: r.mention.url.clone().unwrap_or_default(),
        });
    }
    out.sort_by(|a, b| a.day.cmp(&b.day).then(a.id.cmp(&b.id)));
    out
}

/// The plan of `[from, to]` against the own publications among `records`,
/// as of `today`.
pub fn plan_fact(
    ctx: &Ctx,
    records: &[Record],
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> anyhow::Result<PlanFact> {
    let plan = open(ctx)?;
    let rows = plan.rows(from, to)?;
    let grace = i64::from(ctx.pipeline.media_plan.grace_days);
    // A late publication may come after the period: look that far too.
    let pubs = own_pubs(ctx, records, from, to + Duration::days(grace));
    Ok(glas_voice::plan_vs_fact(&rows, &pubs, today, grace, (from, to)))
}

/// How the media carried the own channels' publications of `[from, to]`
/// (district days): other sources' mentions among `records` up to a week
/// after `to`.
pub fn pickups(ctx: &Ctx, records: &[Record], from: NaiveDate, to: NaiveDate) -> Vec<glas_voice::Pickup> {
    if !ctx.pipeline.sources.iter().any(|s| s.own) {
        return Vec::new();
    }
    let tz = ctx.tz();
    let mut all = Vec::new();
    let mut own_ids = std::collections::HashSet::new();
    for r in records {
        let day = r.mention.published_at.with_timezone(&tz).date_naive();
        if day < from || day > to + Duration::days(7) {
            continue;
        }
        if r.mention.extra.contains_key("reply_to") {
            // Comments neither are publications nor carry them.
            continue;
        }
        let src = r.mention.source.as_deref().and_then(|id| ctx.pipeline.source(id));
        let own = src.is_some_and(|s| s.own);
        if own && day <= to {
            own_ids.insert(r.mention.id.clone());
        }
        let text = r.mention.full_text();
        all.push(glas_voice::Published {
            id: r.mention.id.clone(),
            source_id: r.mention.source.clone().unwrap_or_default(),
            source_name: src.map_or_else(|| r.mention.source.clone().unwrap_or_default(), |s| s.name.clone()),
            own,
            published_at: r.mention.published_at.with_timezone(&Utc),
            cluster: r.enrichment.cluster.clone(),
            text,
            url: r.mention.url.clone().unwrap_or_default(),
        });
    }
    if own_ids.is_empty() {
        return Vec::new();
    }
    glas_voice::pickups(&all, &own_ids)
}

/// A plan file read and checked; topics written as their Russian names
/// become codes, and an unknown topic or channel is an error naming the row.
pub fn read_plan_file(ctx: &Ctx, path: &Path) -> anyhow::Result<Vec<PlanRow>> {
    let mut rows = glas_voice::read_plan(path)?;
    let mut errors = Vec::new();
    for (i, r) in rows.iter_mut().enumerate() {
        if !r.topic.is_empty() {
            let t = r.topic.to_lowercase();
            match ctx.pipeline.topics.iter().find(|x| x.code == t || x.name.to_lowercase() == t) {
                Some(x) => r.topic = x.code.clone(),
                None => {
                    errors.push(format!("строка плана {}: неизвестная тема «{}» (см. glas topics)", i + 1, r.topic))
                }
            }
        }
        if !r.channel.is_empty() {
            let c = r.channel.to_lowercase();
            let known =
                ctx.pipeline.sources.iter().any(|s| s.own && (s.id.to_lowercase() == c || s.name.to_lowercase() == c));
            if !known {
                let own: Vec<&str> = ctx.pipeline.sources.iter().filter(|s| s.own).map(|s| s.id.as_str()).collect();
                errors.push(format!(
                    "строка плана {}: канал «{}» — не собственный источник (own = true: {})",
                    i + 1,
                    r.channel,
                    if own.is_empty() { "нет ни одного".to_string() } else { own.join(", ") }
                ));
            }
        }
    }
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("\n"));
    }
    Ok(rows)
}

/// The day before planned items: one email to `[media_plan] remind_to`
/// listing what is due tomorrow (district time), once per item. Returns how
/// many items it reminded of.
pub async fn remind(ctx: &Ctx, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let (Some(alerts), to) = (&ctx.pipeline.alerts, &ctx.pipeline.media_plan.remind_to) else { return Ok(0) };
    if to.is_empty() {
        return Ok(0);
    }
    let plan = open(ctx)?;
    let tomorrow = now.with_timezone(&ctx.tz()).date_naive() + Duration::days(1);
    let due = plan.due_reminders(tomorrow)?;
    if due.is_empty() {
        return Ok(0);
    }
    let date = tomorrow.format("%d.%m.%Y");
    let subject = format!(
        "Медиаплан на {date}: {} {}",
        due.len(),
        glas_core::ru::plural(due.len() as u64, "публикация", "публикации", "публикаций")
    );
    let mut text = format!("Завтра, {date}, по медиаплану:\n\n");
    let mut html = format!("<p>Завтра, {date}, по медиаплану:</p><ul>");
    for r in &due {
        let channel =
            if r.channel.is_empty() { "любой официальный канал" } else { r.channel.as_str() };
        let who = if r.responsible.is_empty() { String::new() } else { format!(" — отв. {}", r.responsible) };
        text.push_str(&format!("— {} ({channel}){who}\n", r.subject));
        html.push_str(&format!(
            "<li>{} ({}){}</li>",
            glas_core::ru::escape_html(&r.subject),
            glas_core::ru::escape_html(channel),
            glas_core::ru::escape_html(&who)
        ));
    }
    html.push_str("</ul>");
    let key = format!("media-plan|{tomorrow}|{}", due.iter().map(|r| r.id.to_string()).collect::<Vec<_>>().join(","));
    let msg = glas_alert::compose_with_attachments(alerts, to, &subject, &text, &html, &[], &[])?;
    let msg = glas_alert::with_message_id(msg, &glas_alert::message_id(&[&key], &alerts.from));
    glas_alert::deliver_message(alerts, &ctx.data_dir, msg, to, &format!("media-plan-{tomorrow}")).await?;
    plan.reminded(&due.iter().map(|r| r.id).collect::<Vec<_>>(), now)?;
    Ok(due.len())
}

/// How the own channels' publications of `[from, to]` (district days) were
/// received: their engagement figures and the residents' comments under
/// them (comments up to a week after `to`). Newest first.
pub fn receptions(
    ctx: &Ctx,
    db: &MediaPlan,
    records: &[Record],
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<glas_voice::Received>> {
    let pubs = own_pubs(ctx, records, from, to);
    if pubs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: std::collections::HashSet<&str> = pubs.iter().map(|p| p.id.as_str()).collect();
    let mut comments = Vec::new();
    let mut by_id = std::collections::HashMap::new();
    for r in records {
        if ids.contains(r.mention.id.as_str()) {
            by_id.insert(r.mention.id.as_str(), r);
        }
        let Some(parent) = r.mention.extra.get("reply_to").and_then(|v| v.as_str()) else { continue };
        if !ids.contains(parent) {
            continue;
        }
        comments.push(glas_voice::Comment {
            id: r.mention.id.clone(),
            post: parent.to_string(),
            author: r.mention.author.clone(),
            at: r.mention.published_at,
            text: r.mention.text.clone(),
            url: r.mention.url.clone().unwrap_or_default(),
            sentiment: r.enrichment.sentiment,
            kind: r.enrichment.mention_type,
            official: voice_of(ctx, r) != Voice::Resident,
        });
    }
    let mut reactions = glas_voice::reactions(&comments);
    let id_list: Vec<&str> = pubs.iter().map(|p| p.id.as_str()).collect();
    let mut captures = db.captures(&id_list)?;
    let mut out: Vec<glas_voice::Received> = pubs
        .into_iter()
        .filter_map(|p| {
            let r = by_id.get(p.id.as_str())?;
            let mut figures = glas_voice::figures(&captures.remove(&p.id).unwrap_or_default());
            if figures.latest.is_none() && !r.mention.engagement.is_empty() {
                figures.latest = Some(r.mention.engagement.clone());
            }
            let reaction = reactions
                .remove(&p.id)
                .unwrap_or_else(|| glas_voice::Reaction { post: p.id.clone(), ..Default::default() });
            Some(glas_voice::Received {
                id: p.id,
                source_id: p.source_id,
                source_name: p.source_name,
                published_at: r.mention.published_at,
                text: p.text,
                url: p.url,
                figures,
                reaction,
            })
        })
        .collect();
    out.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Each own channel's health over `[from, to]` from the receptions of its
/// publications and the media plan.
pub fn page_health(
    ctx: &Ctx,
    db: &MediaPlan,
    received: &[glas_voice::Received],
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<glas_voice::PageHealth>> {
    let rows = db.rows(from, to)?;
    let tz = ctx.tz();
    let start = glas_store::search::day_start(tz, from).fixed_offset();
    let end = glas_store::search::day_start(tz, to + Duration::days(1)).fixed_offset();
    let mut out = Vec::new();
    for s in ctx.pipeline.sources.iter().filter(|s| s.own) {
        let pubs: Vec<&glas_voice::Received> = received.iter().filter(|r| r.source_id == s.id).collect();
        let planned = rows
            .iter()
            .filter(|r| r.channel.eq_ignore_ascii_case(&s.id) || r.channel.to_lowercase() == s.name.to_lowercase())
            .count();
        let audience = db.audience(&s.id, end.with_timezone(&Utc))?.map(|(_, n)| n);
        out.push(glas_voice::page_health(&s.id, &s.name, &pubs, planned, audience, (start, end)));
    }
    Ok(out)
}

/// Every mention among `records` that names the `[image]` subjects, scored
/// by the image index's formula. The administration's own publications and
/// replies are not counted.
pub fn image_scores(ctx: &Ctx, analyzer: &glas_nlp::Analyzer, records: &[Record]) -> Vec<glas_voice::image::Scored> {
    use glas_voice::image::{Class, Scored, value};
    let settings = &ctx.pipeline.image;
    let subjects = settings.subjects_in(&ctx.pipeline.watchlist);
    if subjects.is_empty() {
        return Vec::new();
    }
    let tz = ctx.tz();
    let mut out = Vec::new();
    for r in records {
        if !r.enrichment.entities.iter().any(|e| subjects.contains(e)) || voice_of(ctx, r) != Voice::Resident {
            continue;
        }
        let src = r.mention.source.as_deref().and_then(|id| ctx.pipeline.source(id));
        let kind = src.map_or(r.source_kind.as_str(), |s| s.kind.as_str());
        let Some(stance) = analyzer.stance(&r.mention, kind, &subjects) else { continue };
        let class = if r.mention.extra.contains_key("reply_to") {
            Class::Comment
        } else if glas_nlp::genre(kind, r.mention.title.is_some()) == glas_nlp::Genre::Media {
            Class::Media
        } else {
            Class::Social
        };
        out.push(Scored {
            id: r.mention.id.clone(),
            source_name: src.map_or_else(|| r.mention.source.clone().unwrap_or_default(), |s| s.name.clone()),
            published_at: r.mention.published_at,
            day: r.mention.published_at.with_timezone(&tz).date_naive(),
            text: r.mention.full_text(),
            url: r.mention.url.clone().unwrap_or_default(),
            topics: r.enrichment.topics.clone(),
            class,
            tone: stance.sentiment,
            main: stance.main,
            quoted: stance.quoted,
            value: value(settings, class, stance.sentiment, stance.main, stance.quoted),
        });
    }
    out
}

/// The own voice of one week: how the own publications were received, the
/// official pages' health, and the image index of the week and the seven
/// before it with the week's movers. `analyzer` reads the tone towards the
/// administration (the pipeline's: the workspace passes the one it holds).
pub fn week(
    ctx: &Ctx,
    analyzer: &glas_nlp::Analyzer,
    records: &[Record],
    monday: NaiveDate,
) -> anyhow::Result<glas_report::OwnVoice> {
    let sunday = monday + Duration::days(6);
    let db = open(ctx)?;
    let received = receptions(ctx, &db, records, monday, sunday)?;
    let pages = page_health(ctx, &db, &received, monday, sunday)?;
    let scored = image_scores(ctx, analyzer, records);
    let mondays: Vec<NaiveDate> = (0..8).rev().map(|k| monday - Duration::weeks(k)).collect();
    Ok(glas_report::OwnVoice {
        received,
        pages,
        image: glas_voice::image::weeks(&scored, &mondays),
        movers: glas_voice::image::movers(&scored, monday, 5),
    })
}
