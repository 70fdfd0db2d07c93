//! Residents' personal data across the whole data dir: erasure on request
//! and retention, wherever a mention was copied.
//!
//! An erasure runs under a journal (`DATA/erasing.json`, written before
//! anything is removed): the log's parts and the index
//! ([`glas_store::Store::rewrite`]), the signals' evidence, the incidents'
//! evidence and emails, the outbox's emails, the weekly reports that quoted
//! the mentions (made again without them); then the record
//! (`erasures.jsonl`) and the store's block on the ids; then the journal
//! goes. Every step can run twice, so a process killed on the way finishes
//! the erasure at the next writer's start ([`prepare`]).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use glas_store::Store;
use glas_store::privacy::{
    self as store_privacy, Criterion, Erasure, ErasureLine, PseudonymKey, Rewrite, RewriteStats,
};
use serde::{Deserialize, Serialize};

use crate::ops::Ctx;

const JOURNAL: &str = "erasing.json";
const RETENTION_STATE: &str = "retention.json";

/// The data dir's pseudonym key (created at first use).
pub fn key(ctx: &Ctx) -> anyhow::Result<PseudonymKey> {
    PseudonymKey::load_or_create(&ctx.data_dir)
        .with_context(|| format!("cannot read or create the pseudonym key in '{}'", ctx.data_dir.display()))
}

/// Readies a store just opened for writing: `[retention]` applied to what
/// is appended, and an erasure a killed process left half done finished.
pub fn prepare(ctx: &Ctx, store: &mut Store) -> anyhow::Result<()> {
    retain_at_ingest(ctx, store, Utc::now())?;
    if let Some(journal) = read_journal(&ctx.data_dir)? {
        tracing::warn!(request = %journal.erasure.request, "finishing an erasure an interrupted run left");
        finish(ctx, store, journal).context("cannot finish the interrupted erasure")?;
    }
    Ok(())
}

/// Applies `[retention]` to what is appended from now on, as of `now`
/// (the service moves it with its clock).
pub fn retain_at_ingest(ctx: &Ctx, store: &mut Store, now: DateTime<Utc>) -> anyhow::Result<()> {
    let r = ctx.pipeline.retention;
    if r.is_off() {
        return Ok(());
    }
    let before = |n: u32| (n > 0).then(|| now - Duration::days(i64::from(n)));
    store.set_retention(Some(glas_store::IngestRetention {
        key: key(ctx)?,
        pseudonymise_before: before(r.pseudonymise_authors_after_days),
        delete_before: before(r.delete_after_days),
    }));
    Ok(())
}

/// What an erasure request names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EraseRequest {
    pub ids: Vec<String>,
    pub authors: Vec<String>,
    pub urls: Vec<String>,
    /// Who asked for it to be done (an operator's name).
    pub by: String,
    /// Why: the request's number and ground, as the operator writes it.
    pub reason: String,
}

/// What an erasure did (or, dry, would do).
#[derive(Debug)]
pub struct EraseOutcome {
    /// The record written (the request number is empty on a dry run).
    pub erasure: Erasure,
    /// Mentions found in the log.
    pub found: usize,
    /// Ids given with `--id` that the store does not hold (blocked anyway).
    pub not_stored: Vec<String>,
    pub log: RewriteStats,
}

/// The journal: the erasure and, for finding the copies outside the store
/// once the log no longer has them, the mentions' addresses (never kept
/// after the erasure is done).
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    erasure: Erasure,
    #[serde(default)]
    urls: Vec<String>,
}

/// Erases the mentions `req` names, everywhere (see the module's doc).
pub fn erase(
    ctx: &Ctx,
    store: &mut Store,
    req: &EraseRequest,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<EraseOutcome> {
    anyhow::ensure!(
        !req.ids.is_empty() || !req.authors.is_empty() || !req.urls.is_empty(),
        "name what to erase: --id, --author or --url"
    );
    anyhow::ensure!(!req.reason.trim().is_empty(), "say why (--reason): the request's number and ground");
    let key = key(ctx)?;
    let mut ids = store_privacy::find_ids(store, &key, &req.authors, &req.urls)?;
    let mut not_stored = Vec::new();
    for id in &req.ids {
        if !store.contains(id)? {
            not_stored.push(id.clone());
        }
        ids.insert(id.clone());
    }
    let records = store.records_with_ids(&ids)?;
    let urls: Vec<String> = records.iter().filter_map(|r| r.mention.url.clone()).collect();
    let mut criteria = Vec::new();
    for (kind, values) in [("id", &req.ids), ("author", &req.authors), ("url", &req.urls)] {
        criteria.extend(values.iter().map(|v| Criterion { kind: kind.into(), tag: key.tag(v.trim()) }));
    }
    let mut sorted: Vec<String> = ids.iter().cloned().collect();
    sorted.sort();
    let erasure = Erasure {
        request: if dry_run { String::new() } else { request_id(now, &sorted) },
        at: now,
        by: req.by.clone(),
        reason: req.reason.trim().to_string(),
        criteria,
        ids: sorted,
        removed: BTreeMap::new(),
    };
    let found = records.len();
    if dry_run {
        let log = store.rewrite(&Rewrite { drop_ids: ids, ..Default::default() }, true)?;
        return Ok(EraseOutcome { erasure, found, not_stored, log });
    }
    let journal = Journal { erasure, urls };
    write_journal(&ctx.data_dir, &journal)?;
    let (erasure, log) = finish(ctx, store, journal)?;
    Ok(EraseOutcome { erasure, found, not_stored, log })
}

/// Where `glas erase` leaves a request while `glas run` holds the store.
const QUEUE: &str = "erase-requests";

/// Leaves `req` for the running service (which holds the store's lock) to
/// carry out at its next check; returns the file.
pub fn queue(ctx: &Ctx, req: &EraseRequest, now: DateTime<Utc>) -> anyhow::Result<std::path::PathBuf> {
    let dir = ctx.data_dir.join(QUEUE);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create '{}'", dir.display()))?;
    let path = dir.join(format!("{}-{:09}.json", now.format("%Y%m%dT%H%M%S"), now.timestamp_subsec_nanos()));
    crate::ops::write_atomic(&path, &serde_json::to_vec_pretty(req).expect("a request serializes"))?;
    Ok(path)
}

/// Wakes the service's loop within two seconds of a request being queued
/// (it would otherwise sleep up to a minute).
pub fn watch_queue(ctx: &Ctx, wake: std::sync::Arc<tokio::sync::Notify>) {
    let dir = ctx.data_dir.join(QUEUE);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let waiting = std::fs::read_dir(&dir)
                .is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))));
            if waiting {
                wake.notify_one();
            }
        }
    });
}

/// Carries out the requests `glas erase` queued, oldest first; each file
/// goes once its erasure is recorded (one that cannot be read or carried
/// out is renamed `.failed`, with the reason in the log). Returns how many
/// were done.
pub fn run_queued(ctx: &Ctx, store: &mut Store, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let dir = ctx.data_dir.join(QUEUE);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(0) };
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut done = 0;
    for path in files {
        let outcome = std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|b| serde_json::from_slice::<EraseRequest>(&b).map_err(anyhow::Error::from))
            .and_then(|req| erase(ctx, store, &req, now, false));
        match outcome {
            Ok(out) => {
                tracing::info!(request = %out.erasure.request, mentions = out.erasure.ids.len(), "queued erasure done");
                std::fs::remove_file(&path).with_context(|| format!("cannot remove '{}'", path.display()))?;
                done += 1;
            }
            Err(e) => {
                tracing::error!(file = %path.display(), error = format!("{e:#}"), "queued erasure failed; set aside");
                let _ = std::fs::rename(&path, path.with_extension("failed"));
            }
        }
    }
    Ok(done)
}

/// Every step of an erasure after its journal: each one idempotent.
fn finish(ctx: &Ctx, store: &mut Store, journal: Journal) -> anyhow::Result<(Erasure, RewriteStats)> {
    let Journal { mut erasure, urls } = journal;
    let ids: HashSet<String> = erasure.ids.iter().cloned().collect();
    let log = store.rewrite(&Rewrite { drop_ids: ids.clone(), ..Default::default() }, false)?;
    crate::failpoint("erase:after-log");
    let mut removed = remove_copies(ctx, &ids)?;
    removed.insert("outbox_emails".into(), erase_outbox(&ctx.data_dir, &ids, &urls)?);
    removed.insert("weekly_reports".into(), remake_reports(ctx, store, &ids, &urls)?);
    erasure.removed = removed;
    store.block(erasure.ids.iter().cloned());
    // A journal found again after the record was written (killed before
    // it was removed) must not record the erasure twice.
    let already = store_privacy::erasures(&ctx.data_dir)?
        .iter()
        .any(|l| matches!(l, ErasureLine::Erased(e) if e.request == erasure.request));
    if !already {
        store_privacy::record(&ctx.data_dir, &ErasureLine::Erased(erasure.clone()))?;
        // The workspace's audit log names it too (request and count only).
        glas_web::accounts::Accounts::open(&ctx.data_dir).context("cannot open the audit log")?.record(
            &format!("cli:{}", erasure.by),
            "erasure",
            serde_json::json!({"request": erasure.request, "mentions": erasure.ids.len()}),
            None,
        );
    }
    remove_journal(&ctx.data_dir)?;
    Ok((erasure, log))
}

/// The copies of mentions outside the log and the index that are no
/// product anyone was sent: the signals' evidence and the incidents'.
fn remove_copies(ctx: &Ctx, ids: &HashSet<String>) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut removed = BTreeMap::new();
    removed.insert("signal_evidence".into(), strip_signal_evidence(&ctx.data_dir, ids)?);
    if let Some(inc) = crate::incidents::open(ctx)? {
        let list: Vec<String> = ids.iter().cloned().collect();
        let (rows, mails) = inc.erase_mentions(&list).context("cannot erase the mentions from the incidents")?;
        removed.insert("incident_evidence".into(), rows);
        removed.insert("incident_emails".into(), mails);
    }
    Ok(removed)
}

/// Removes the ids from the evidence of `analytics/signals.jsonl` (the next
/// analysis writes the file afresh from the log anyway). Returns the
/// signals changed.
fn strip_signal_evidence(data_dir: &Path, ids: &HashSet<String>) -> anyhow::Result<usize> {
    let path = data_dir.join("analytics").join("signals.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot read '{}'", path.display())),
    };
    let mut changed = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => {
                out.push_str(line);
                out.push('\n');
                continue;
            }
        };
        if let Some(ev) = v.get_mut("evidence").and_then(|e| e.as_array_mut()) {
            let before = ev.len();
            ev.retain(|id| !id.as_str().is_some_and(|id| ids.contains(id)));
            if ev.len() != before {
                changed += 1;
                out.push_str(&v.to_string());
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    if changed > 0 {
        crate::ops::write_atomic(&path, out.as_bytes())?;
    }
    Ok(changed)
}

/// Deletes the outbox's emails that quote an erased mention (its address
/// or id, in the raw message or in a base64 body). Returns how many.
fn erase_outbox(data_dir: &Path, ids: &HashSet<String>, urls: &[String]) -> anyhow::Result<usize> {
    let dir = data_dir.join("outbox");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot list '{}'", dir.display())),
    };
    let needles: Vec<&str> = urls.iter().map(String::as_str).chain(ids.iter().map(String::as_str)).collect();
    let mut removed = 0;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read_to_string(&path).with_context(|| format!("cannot read '{}'", path.display()))?;
        let decoded = decode_base64_bodies(&raw) + &decode_quoted_printable(&raw);
        if needles.iter().any(|n| raw.contains(n) || decoded.contains(n)) {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove '{}'", path.display()))?;
            removed += 1;
        }
    }
    if removed > 0 {
        std::fs::File::open(&dir).and_then(|d| d.sync_all()).ok();
    }
    Ok(removed)
}

/// The text of a message's base64 parts: each run of base64 lines after a
/// part's blank line, decoded (what cannot be decoded is skipped).
fn decode_base64_bodies(raw: &str) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(run.as_bytes()) {
            out.push_str(&String::from_utf8_lossy(&bytes));
            out.push('\n');
        }
        run.clear();
    };
    for line in raw.lines() {
        let line = line.trim_end_matches('\r');
        let b64 = !line.is_empty() && line.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
        if b64 {
            run.push_str(line);
        } else if !run.is_empty() {
            flush(&mut run, &mut out);
        }
    }
    if !run.is_empty() {
        flush(&mut run, &mut out);
    }
    out
}

/// A message read as quoted-printable: soft line breaks joined, `=XX`
/// bytes decoded (harmless on parts that are not).
fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && let Some(v) = b.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes again, from the log without the erased mentions, every weekly
/// report whose page quoted one. Returns how many weeks.
fn remake_reports(ctx: &Ctx, store: &Store, ids: &HashSet<String>, urls: &[String]) -> anyhow::Result<usize> {
    let dir = ctx.data_dir.join("reports");
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(0) };
    let mut weeks = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(week) = name.strip_prefix("weekly-").and_then(|n| n.strip_suffix(".html")) else { continue };
        let Some(week) = glas_report::IsoWeek::parse(week) else { continue };
        let html = std::fs::read_to_string(&path).with_context(|| format!("cannot read '{}'", path.display()))?;
        if urls.iter().any(|u| html.contains(u.as_str()) || html.contains(&glas_core::ru::escape_html(u)))
            || ids.iter().any(|id| html.contains(id.as_str()))
        {
            weeks.push(week);
        }
    }
    if weeks.is_empty() {
        return Ok(0);
    }
    let records = store.records()?;
    for &week in &weeks {
        crate::ops::weekly_report(ctx, store, &records, week, &glas_report::Dashboard::default_weekly())
            .with_context(|| format!("cannot make the report of {week} again"))?;
    }
    Ok(weeks.len())
}

/// Withdraws an erasure request: its ids may be stored again (the erased
/// mentions themselves come back only if a source still has them).
pub fn withdraw(ctx: &Ctx, store: &mut Store, request: &str, by: &str, reason: &str) -> anyhow::Result<usize> {
    anyhow::ensure!(!reason.trim().is_empty(), "say why the request is withdrawn (--reason)");
    let lines = store_privacy::erasures(&ctx.data_dir)?;
    let withdrawn = lines.iter().any(|l| matches!(l, ErasureLine::Withdrawn { request: r, .. } if r == request));
    let Some(e) = lines.iter().find_map(|l| match l {
        ErasureLine::Erased(e) if e.request == request => Some(e),
        _ => None,
    }) else {
        anyhow::bail!("no erasure request {request:?} in '{}'", ctx.data_dir.join(store_privacy::ERASURES).display())
    };
    anyhow::ensure!(!withdrawn, "erasure request {request} is already withdrawn");
    store_privacy::record(
        &ctx.data_dir,
        &ErasureLine::Withdrawn {
            request: request.to_string(),
            at: Utc::now(),
            by: by.to_string(),
            reason: reason.trim().to_string(),
        },
    )?;
    store.unblock(&e.ids);
    Ok(e.ids.len())
}

/// `E-20261207-153012-1a2b`: the time and a hash of the ids.
fn request_id(now: DateTime<Utc>, ids: &[String]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ids.hash(&mut h);
    now.timestamp_nanos_opt().hash(&mut h);
    format!("E-{}-{:04x}", now.format("%Y%m%d-%H%M%S"), h.finish() & 0xffff)
}

fn read_journal(data_dir: &Path) -> anyhow::Result<Option<Journal>> {
    let path = data_dir.join(JOURNAL);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .with_context(|| format!("the erasure journal '{}' is damaged", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read '{}'", path.display())),
    }
}

fn write_journal(data_dir: &Path, j: &Journal) -> anyhow::Result<()> {
    crate::ops::write_atomic(&data_dir.join(JOURNAL), &serde_json::to_vec_pretty(j).expect("a journal serializes"))
}

fn remove_journal(data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join(JOURNAL);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove '{}'", path.display()))
        }
        _ => Ok(()),
    }
}

/// What a retention pass did (or, dry, would do).
#[derive(Debug)]
pub struct RetentionOutcome {
    /// Authors of days before this one are pseudonymised.
    pub pseudonymise_before: Option<NaiveDate>,
    /// Days before this one are deleted.
    pub delete_before: Option<NaiveDate>,
    pub log: RewriteStats,
    /// Copies outside the log removed with the deleted mentions.
    pub removed: BTreeMap<String, usize>,
}

/// Applies `[retention]` as of `now`: authors of mentions published more
/// than N days ago become pseudonyms, mentions older than M days go (with
/// their copies in the signals' and the incidents' evidence).
pub fn apply_retention(
    ctx: &Ctx,
    store: &mut Store,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<RetentionOutcome> {
    let r = ctx.pipeline.retention;
    let today = now.date_naive();
    let before = |days: u32| (days > 0).then(|| today - Duration::days(i64::from(days)));
    let key = key(ctx)?;
    let rw = Rewrite {
        drop_ids: HashSet::new(),
        drop_before: before(r.delete_after_days),
        pseudonymise_before: before(r.pseudonymise_authors_after_days),
        key: Some(&key),
    };
    let log = store.rewrite(&rw, dry_run)?;
    let removed = if dry_run || log.removed_ids.is_empty() {
        BTreeMap::new()
    } else {
        remove_copies(ctx, &log.removed_ids.iter().cloned().collect())?
    };
    if !dry_run {
        crate::ops::write_atomic(
            &ctx.data_dir.join(RETENTION_STATE),
            serde_json::json!({ "applied_on": today.to_string() }).to_string().as_bytes(),
        )?;
    }
    Ok(RetentionOutcome { pseudonymise_before: rw.pseudonymise_before, delete_before: rw.drop_before, log, removed })
}

/// Whether the daily retention pass has not run on `now`'s day yet.
pub fn retention_due(ctx: &Ctx, now: DateTime<Utc>) -> bool {
    if ctx.pipeline.retention.is_off() {
        return false;
    }
    let applied = std::fs::read(ctx.data_dir.join(RETENTION_STATE))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("applied_on").and_then(|d| d.as_str()).map(str::to_string));
    applied.as_deref() != Some(now.date_naive().to_string().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_bodies_are_read_across_lines() {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode("Нет воды https://t.me/x/1 — пишут жители");
        let (a, b) = body.split_at(20);
        let raw = format!("Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\n{a}\r\n{b}\r\n--boundary\r\n");
        assert!(decode_base64_bodies(&raw).contains("https://t.me/x/1"));
        let qp = "Content-Transfer-Encoding: quoted-printable\r\n\r\n=D0=9D=D0=B5=D1=82 https://t.me/x=\r\n/1\r\n";
        assert!(decode_quoted_printable(qp).contains("Нет https://t.me/x/1"));
    }
}
