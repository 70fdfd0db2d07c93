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
