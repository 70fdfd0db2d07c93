//! The feedback loop's stage of a round: alarm episodes become incidents,
//! new complaints join or reopen them, the administration's own posts answer
//! them publicly, deadlines remind and escalate, and the queued emails go out.

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use glas_core::{MentionType, Record, Sentiment, Signal};
use glas_incidents::{EpisodeInput, Evidence, Incidents, Joined, Round};
use glas_store::Store;

use crate::ops::Ctx;

/// The log position up to which mentions were offered to the incidents.
const CURSOR: &str = "log_seq";

/// What one round did, and its emails.
#[derive(Debug, Default)]
pub struct RoundOutcome {
    pub round: Round,
    /// (subject, where it went) of every email delivered.
    pub sent: Vec<(String, String)>,
    /// (subject, why) of every email that failed (retried next round).
    pub failed: Vec<(String, String)>,
}

/// Opens the district's incidents; `None` when the pipeline has none.
pub fn open(ctx: &Ctx) -> anyhow::Result<Option<Incidents>> {
    if ctx.pipeline.incidents.is_none() {
        return Ok(None);
    }
    Ok(Some(Incidents::open(&ctx.data_dir, &ctx.pipeline).context("cannot open the incidents")?))
}

/// A record as incident evidence.
pub fn evidence(ctx: &Ctx, r: &Record) -> Evidence {
    let text = glas_incidents::titled(r.mention.title.as_deref(), &r.mention.text);
    Evidence {
        id: r.mention.id.clone(),
        published_at: r.mention.published_at.with_timezone(&Utc),
        url: r.mention.url.clone().unwrap_or_default(),
        source: source_name(ctx, r.mention.source.as_deref()),
        snippet: glas_incidents::snippet(&text, glas_incidents::SNIPPET_CHARS),
    }
}

fn source_name(ctx: &Ctx, id: Option<&str>) -> String {
    match id {
        Some(id) => ctx.pipeline.source(id).map_or_else(|| id.to_string(), |s| s.name.clone()),
        None => "импорт".to_string(),
    }
}

fn is_own(ctx: &Ctx, r: &Record) -> bool {
    crate::voice::voice_of(ctx, r) != crate::voice::Voice::Resident
}

/// The alarm episodes among `signals` (a `tension` or `emerging` episode
/// opened or escalated), each keyed by its series and when it opened.
pub fn episodes(ctx: &Ctx, signals: &[Signal], records: &[Record]) -> Vec<EpisodeInput> {
    let by_id: HashMap<&str, &Record> = records.iter().map(|r| (r.mention.id.as_str(), r)).collect();
    let mut sorted: Vec<&Signal> = signals.iter().collect();
    sorted.sort_by_key(|s| s.detected_at);
    let mut opened: HashMap<String, String> = HashMap::new();
    let mut out: Vec<EpisodeInput> = Vec::new();
    for s in sorted {
        let series = s.episode_key();
        let phase = s.phase().unwrap_or("");
        // The same episode id as the workspace's signals page gives it.
        if phase == "opened" {
            opened.insert(series.clone(), s.detected_at.to_rfc3339());
        }
        let alarm = s.params.get("alarm").and_then(|a| a.as_bool()).unwrap_or(true);
        if !matches!(s.kind.as_str(), "tension" | "emerging") || !matches!(phase, "opened" | "escalated") || !alarm {
            continue;
        }
        let since = opened.get(&series).cloned().unwrap_or_else(|| s.detected_at.to_rfc3339());
        let key = format!("{series}@{since}");
        let evidence: Vec<Evidence> =
            s.evidence.iter().filter_map(|id| by_id.get(id.as_str())).map(|r| evidence(ctx, r)).collect();
        if evidence.is_empty() {
            continue;
        }
        // One input per episode, at its gravest, with all its evidence: the
        // service is told once, of what the episode has become by now.
        match out.iter_mut().find(|e| e.key == key) {
            Some(e) => {
                e.severity = e.severity.max(s.severity);
                for x in evidence {
                    if !e.evidence.iter().any(|y| y.id == x.id) {
                        e.evidence.push(x);
                    }
                }
            }
            None => out.push(EpisodeInput {
                key,
                topic: s.topic.clone(),
                place: s.place.clone(),
                severity: s.severity,
                evidence,
            }),
        }
    }
    out
}

/// Whether a record is a resident's complaint the incidents take.
fn complains(ctx: &Ctx, r: &Record) -> bool {
    !is_own(ctx, r)
        && !r.enrichment.topics.is_empty()
        && (r.enrichment.mention_type == MentionType::Complaint || r.enrichment.sentiment == Sentiment::Negative)
}

/// The round's incident work at `now`: episodes, then the mentions stored
/// since the last round (oldest first), then deadlines, then the emails.
pub async fn round(
    ctx: &Ctx,
    store: &Store,
    signals: &[Signal],
    records: &[Record],
    now: DateTime<Utc>,
) -> anyhow::Result<Option<RoundOutcome>> {
    let Some(inc) = open(ctx)? else { return Ok(None) };
    let mut out = RoundOutcome::default();
    for ep in episodes(ctx, signals, records) {
        let (id, new) = inc.from_episode(&ep, now)?;
        if new {
            out.round.created.push(id);
        }
        crate::failpoint("incidents:after-episode");
    }
    // Mentions stored since the last round, oldest first. A restart offers
    // some again: an incident takes a mention once.
    let cursor: u64 = inc.cursor(CURSOR)?.and_then(|c| c.parse().ok()).unwrap_or(0);
    let log = store.log();
    let mut fresh: Vec<Record> = Vec::new();
    let mut newest = cursor;
    for part in log.parts()?.into_iter().filter(|p| p.seq > cursor) {
        let (rows, seqs) = log.read_part_with_seqs(&part)?;
        for (r, seq) in rows.into_iter().zip(seqs) {
            if seq > cursor {
                newest = newest.max(seq);
                fresh.push(r);
            }
        }
    }
    fresh.sort_by_key(|r| r.mention.published_at);
    offer(ctx, &inc, &fresh, records, now, &mut out.round)?;
    if newest > cursor {
        inc.set_cursor(CURSOR, &newest.to_string())?;
    }
    let ticked = inc.tick(now)?;
    out.round.reminders = ticked.reminders;
    out.round.escalations = ticked.escalations;
    out.round.returned = ticked.returned;
    deliver(ctx, &inc, &mut out).await?;
    Ok(Some(out))
}

/// Offers mentions (oldest first) to the incidents: the administration's own
/// posts, and its accounts' replies under residents' posts
/// (`official_accounts`), may answer open incidents publicly; residents'
/// complaints join open incidents of their topic and place, or reopen
/// resolved ones. A resident's comment under an own post that names no topic
/// or place takes the post's (the conversation is about it); `context` holds
/// the records such posts are looked up in besides `records`.
pub fn offer(
    ctx: &Ctx,
    inc: &Incidents,
    records: &[Record],
    context: &[Record],
    now: DateTime<Utc>,
    round: &mut Round,
) -> anyhow::Result<()> {
    let posts: HashMap<&str, &Record> = context
        .iter()
        .chain(records)
        .filter(|r| crate::voice::voice_of(ctx, r) == crate::voice::Voice::OwnPost)
        .map(|r| (r.mention.id.as_str(), r))
        .collect();
    for r in records {
        let voice = crate::voice::voice_of(ctx, r);
        let in_context;
        let r = match r.mention.extra.get("reply_to").and_then(|v| v.as_str()).and_then(|p| posts.get(p)) {
            Some(post) if voice == crate::voice::Voice::Resident => {
                let mut c = r.clone();
                if c.enrichment.topics.is_empty() {
                    c.enrichment.topics = post.enrichment.topics.clone();
                }
                if c.enrichment.places.is_empty() {
                    c.enrichment.places = post.enrichment.places.clone();
                }
                in_context = c;
                &in_context
            }
            _ => r,
        };
        // A reply of the administration's account under a resident's post.
        if let crate::voice::Voice::OfficialReply(parent) = voice {
            let e = evidence(ctx, r);
            round.answered_publicly.extend(inc.public_reply(parent, &e, now)?);
            continue;
        }
        if voice == crate::voice::Voice::OwnPost {
            let e = evidence(ctx, r);
            round.answered_publicly.extend(inc.public_post(&e, &r.enrichment.topics, &r.enrichment.places, now)?);
            continue;
        }
        if !complains(ctx, r) {
            continue;
        }
        let e = evidence(ctx, r);
        let places: Vec<Option<&str>> = if r.enrichment.places.is_empty() {
            vec![None]
        } else {
            r.enrichment.places.iter().map(|p| Some(p.as_str())).collect()
        };
        'found: for topic in &r.enrichment.topics {
            for place in &places {
                match inc.complaint(&e, topic, *place, now)? {
                    Joined::Joined(_) => {
                        round.joined += 1;
                        break 'found;
                    }
                    Joined::Reopened(id) => {
                        round.reopened.push(id);
                        break 'found;
                    }
                    Joined::Known => break 'found,
                    Joined::None => {}
                }
            }
        }
    }
    Ok(())
}

/// Delivers the queued incident emails through `[alerts]` (or to the
/// outbox), each marked sent as soon as it went; a failure stays queued for
/// the next round. The Message-ID comes from the email's cause, so the one
/// repeat a crash can cause (after the server accepted, before it was marked)
/// is the same message to mail systems that drop duplicates.
pub async fn deliver(ctx: &Ctx, inc: &Incidents, out: &mut RoundOutcome) -> anyhow::Result<()> {
    let Some(alerts) = &ctx.pipeline.alerts else { return Ok(()) };
    for m in inc.pending_mail()? {
        let msg = glas_alert::compose_with_attachments(alerts, &m.to, &m.subject, &m.text, &m.html, &[], &[])
            .map(|msg| glas_alert::with_message_id(msg, &glas_alert::message_id(&[&m.key], &alerts.from)));
        let name = format!("incident-{}-{}-{:016x}", m.incident, m.kind, glas_core::fnv1a(m.key.bytes()));
        let result = match msg {
            Ok(msg) => glas_alert::deliver_message(alerts, &ctx.data_dir, msg, &m.to, &name).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(d) => {
                crate::failpoint("incidents:mail-accepted");
                inc.mark_sent(&m.key, Utc::now())?;
                let to = match d {
                    glas_alert::Delivered::Smtp { to } => to.join(", "),
                    glas_alert::Delivered::Outbox { path } => path.display().to_string(),
                };
                tracing::info!(subject = %m.subject, %to, "incident email sent");
                out.sent.push((m.subject, to));
            }
            Err(e) => {
                inc.mark_failed(&m.key, &e.to_string())?;
                tracing::error!(subject = %m.subject, error = %e, "incident email failed; retried next round");
                out.failed.push((m.subject, e.to_string()));
            }
        }
    }
    Ok(())
}
