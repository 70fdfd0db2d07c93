//! Residents' personal data in the store: pseudonyms, retention and erasure.
//!
//! - [`PseudonymKey`]: the data dir's secret (`pseudonym.key`, readable by
//!   the service alone); an author's pseudonym is a keyed hash of the name,
//!   so one person keeps one pseudonym (distinct voices stay distinct) and
//!   nobody without the key can test a guess.
//! - [`Store::rewrite`]: the log's parts rewritten as compaction writes
//!   them (a whole new file synced, then renamed over the old one), rows
//!   dropped or authors pseudonymised; the index follows and its segments
//!   holding the old documents are merged away, so the old text is gone from
//!   the disk too, not only hidden.
//! - The erasure record `erasures.jsonl` (what, when, by whom, why, never
//!   the content): the erased ids stay blocked from coming back until the
//!   request is withdrawn. (`glas_app::privacy` runs an erasure across the
//!   store and every copy outside it, under a journal.)

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::log::{Part, read_columns};
use crate::{Store, StoreError};

/// What every pseudonym begins with: a reader sees at once that the name
/// was hidden, and a rewrite never hashes a pseudonym again.
pub const PSEUDONYM_PREFIX: &str = "аноним-";

/// The key file in the data dir.
pub const KEY_FILE: &str = "pseudonym.key";

/// The secret behind every pseudonym of one data dir.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

impl PseudonymKey {
    /// Reads `DATA/pseudonym.key`, or creates it (32 random bytes, hex,
    /// mode 0600, written whole or not at all) when the data dir has none.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<PseudonymKey> {
        let path = data_dir.join(KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => PseudonymKey::from_hex(text.trim()).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("'{}' is not a key of 64 hex digits", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(data_dir)?;
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(std::io::Error::other)?;
                let tmp = path.with_extension("key.tmp");
                let mut f = private_file(&tmp)?;
                f.write_all(hex(&key).as_bytes())?;
                f.sync_all()?;
                // Two processes creating it at once: the first one stays.
                match fs::hard_link(&tmp, &path) {
                    Ok(()) => {
                        fs::remove_file(&tmp)?;
                        Ok(PseudonymKey(key))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        fs::remove_file(&tmp)?;
                        PseudonymKey::load_or_create(data_dir)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn from_hex(s: &str) -> Option<PseudonymKey> {
        if s.len() != 64 {
            return None;
        }
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(PseudonymKey(key))
    }

    /// HMAC-SHA-256 of `value` under the key (RFC 2104).
    fn mac(&self, value: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let (mut inner, mut outer) = (Sha256::new(), Sha256::new());
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        inner.update(block.map(|b| b ^ 0x36));
        inner.update(value.as_bytes());
        outer.update(block.map(|b| b ^ 0x5c));
        outer.update(inner.finalize());
        outer.finalize().into()
    }

    /// The author's pseudonym: `аноним-` and 12 hex digits of the keyed
    /// hash (a pseudonym stays as it is).
    pub fn pseudonym(&self, author: &str) -> String {
        if is_pseudonym(author) {
            return author.to_string();
        }
        format!("{PSEUDONYM_PREFIX}{}", &hex(&self.mac(author.trim()))[..12])
    }

    /// A keyed hash of a request's criterion (an author's name, a URL), for
    /// the erasure record: it proves which request it was without keeping
    /// the personal data the request asked to remove.
    pub fn tag(&self, value: &str) -> String {
        hex(&self.mac(value))[..32].to_string()
    }
}

pub fn is_pseudonym(author: &str) -> bool {
    author.starts_with(PSEUDONYM_PREFIX)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// What a rewrite of the log changes. Days are UTC days of `published_at`,
/// as the log is partitioned.
#[derive(Debug, Default)]
pub struct Rewrite<'a> {
    /// Mentions removed wherever they are.
    pub drop_ids: HashSet<String>,
    /// Days before this one are deleted whole.
    pub drop_before: Option<NaiveDate>,
    /// Authors of days before this one are replaced by their pseudonyms.
    pub pseudonymise_before: Option<NaiveDate>,
    pub key: Option<&'a PseudonymKey>,
}

/// What a rewrite changed (or, dry, would change).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RewriteStats {
    /// Mentions removed.
    pub removed: usize,
    /// Mentions whose author became a pseudonym.
    pub pseudonymised: usize,
    /// Parts rewritten (or deleted).
    pub parts: usize,
    /// Days (UTC) touched, oldest first.
    pub days: Vec<NaiveDate>,
    /// The removed mentions' ids.
    #[serde(skip)]
    pub removed_ids: Vec<String>,
}

impl Store {
    /// Rewrites the log as `rw` says, then brings the index in line. With
    /// `dry_run` nothing is written: the figures say what would change.
    /// Running the same rewrite again changes nothing more, so a rewrite
    /// killed half-way is finished by running it again.
    pub fn rewrite(&mut self, rw: &Rewrite<'_>, dry_run: bool) -> Result<RewriteStats, StoreError> {
        if !dry_run {
            self.writable()?;
        }
        let mut stats = RewriteStats::default();
        let parts = self.log.parts()?;
        let last_seq = parts.last().map(|p| p.seq);
        let mut changed_records = Vec::new();
        let mut changed_seqs = Vec::new();
        for part in &parts {
            let drop_day = rw.drop_before.is_some_and(|d| part.day < d);
            let pseudo_day = rw.key.is_some() && rw.pseudonymise_before.is_some_and(|d| part.day < d);
            let has_ids = !rw.drop_ids.is_empty()
                && crate::log::part_ids(part)?.iter().flatten().any(|id| rw.drop_ids.contains(id));
            if !drop_day && !pseudo_day && !has_ids {
                continue;
            }
            let Some(out) = rewrite_part(part, rw, drop_day, pseudo_day)? else { continue };
            stats.parts += 1;
            stats.removed += out.removed.len();
            stats.pseudonymised += out.pseudonymised;
            if stats.days.last() != Some(&part.day) {
                stats.days.push(part.day);
            }
            if !dry_run {
                // The re-pseudonymised rows go to the index as written,
                // decoded from the frame in memory, not read back.
                let decoded =
                    if out.pseudonymised > 0 { Some(crate::log::decode_with_seqs(&out.frame, part)?) } else { None };
                self.commit_rewrite(part, out.frame, last_seq == Some(part.seq))?;
                if let Some((recs, seqs)) = decoded {
                    let touched: HashSet<&str> = out.touched.iter().map(String::as_str).collect();
                    for (r, s) in recs.into_iter().zip(seqs) {
                        if touched.contains(r.mention.id.as_str()) {
                            changed_records.push(r);
                            changed_seqs.push(s);
                        }
                    }
                }
            }
            stats.removed_ids.extend(out.removed);
        }
        stats.days.sort();
        stats.days.dedup();
        if dry_run {
            return Ok(stats);
        }
        if stats.parts == 0 {
            // Nothing left in the log; a run killed before the index was
            // purged left deleted documents or unused files: purge them now.
            self.index.purge_deleted()?;
            return Ok(stats);
        }
        // Mentions removed for good (retention) leave the committed set;
        // erased ones stay blocked by the erasure record.
        if let Some(ids) = self.ids.get_mut() {
            for id in &stats.removed_ids {
                ids.remove(id);
            }
        }
        let upto = self.index.indexed_seq()?;
        self.index.delete_ids(&stats.removed_ids)?;
        self.index.add(&changed_records, &changed_seqs)?;
        self.index.commit(upto)?;
        self.index.purge_deleted()?;
        Ok(stats)
    }

    /// Puts a rewritten part in place of the old one: synced, renamed over
    /// it. An emptied part is deleted, unless it is the log's last (its
    /// number must stay taken: the index's commit points at it).
    fn commit_rewrite(&mut self, part: &Part, frame: DataFrame, is_last: bool) -> Result<(), StoreError> {
        let day_dir = part.path.parent().expect("a part is in its day folder").to_path_buf();
        if frame.height() == 0 && !is_last {
            fs::remove_file(&part.path).map_err(|e| StoreError::io("remove emptied part", &part.path, e))?;
            crate::log::sync_dir(&day_dir)?;
            if fs::read_dir(&day_dir).map(|mut d| d.next().is_none()).unwrap_or(false) {
                let _ = fs::remove_dir(&day_dir);
            }
            return Ok(());
        }
        let tmp = part.path.with_extension("parquet.tmp");
        let mut frame = frame;
        frame.rechunk_mut();
        crate::log::write_part(&mut frame, &tmp)?;
        fs::rename(&tmp, &part.path).map_err(|e| StoreError::io("commit rewritten part", &part.path, e))?;
        crate::log::sync_dir(&day_dir)
    }
}

struct PartRewrite {
    frame: DataFrame,
    removed: Vec<String>,
    pseudonymised: usize,
    /// Ids of the rows whose author changed.
    touched: Vec<String>,
}

/// One part as `rw` wants it; `None` when nothing in it changes.
fn rewrite_part(
    part: &Part,
    rw: &Rewrite<'_>,
    drop_day: bool,
    pseudo_day: bool,
) -> Result<Option<PartRewrite>, StoreError> {
    let df = read_columns(&part.path, None)?;
    let fail = |e| StoreError::parquet("rewrite part", &part.path, e);
    let ids: Vec<Option<String>> =
        df.column("id").and_then(|c| c.str().cloned()).map_err(fail)?.iter().map(|v| v.map(str::to_string)).collect();
    let keep: Vec<bool> =
        ids.iter().map(|id| !drop_day && !id.as_deref().is_some_and(|id| rw.drop_ids.contains(id))).collect();
    let removed: Vec<String> =
        ids.iter().zip(&keep).filter(|(_, k)| !**k).map(|(id, _)| id.clone().unwrap_or_default()).collect();
    let mut frame = df;
    let mut pseudonymised = 0;
    let mut touched = Vec::new();
    if pseudo_day && let Some(key) = rw.key {
        let authors: Vec<Option<String>> = frame
            .column("author")
            .and_then(|c| c.str().cloned())
            .map_err(fail)?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect();
        let mut changed = false;
        let new: Vec<Option<String>> = authors
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                Some(a) if keep[i] && !is_pseudonym(a) => {
                    changed = true;
                    pseudonymised += 1;
                    touched.push(ids[i].clone().unwrap_or_default());
                    Some(key.pseudonym(a))
                }
                other => other.clone(),
            })
            .collect();
        if changed {
            frame.with_column(Column::new("author".into(), new)).map_err(fail)?;
        }
    }
    if removed.is_empty() && pseudonymised == 0 {
        return Ok(None);
    }
    if !removed.is_empty() {
        let mask = BooleanChunked::from_slice("keep".into(), &keep);
        frame = frame.filter(&mask).map_err(fail)?;
    }
    Ok(Some(PartRewrite { frame, removed, pseudonymised, touched }))
}

/// What an erasure request asked for: the kind of criterion and its keyed
/// hash (the value itself, a name or a URL, is personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    /// `id`, `author` or `url`.
    pub kind: String,
    pub tag: String,
}

/// One erasure, as the record keeps it: no content, only what is needed to
/// show it was done and to keep the mentions from coming back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// `E-YYYYMMDD-HHMMSS-xxxx`.
    pub request: String,
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
    pub criteria: Vec<Criterion>,
    /// The erased mentions' ids (references, not content): blocked from
    /// being stored again until the request is withdrawn.
    pub ids: Vec<String>,
    /// Copies removed besides the log and the index, by where they were
    /// (filled in when the erasure is done).
    #[serde(default)]
    pub removed: BTreeMap<String, usize>,
}

/// A line of `erasures.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureLine {
    Erased(Erasure),
    Withdrawn { request: String, at: DateTime<Utc>, by: String, reason: String },
}

pub const ERASURES: &str = "erasures.jsonl";

/// The erasure record of a data dir, oldest first.
pub fn erasures(data_dir: &Path) -> Result<Vec<ErasureLine>, StoreError> {
    let path = data_dir.join(ERASURES);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("read the erasure record", &path, e)),
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // A torn last line (a crash while appending) is not a record yet:
        // the erasure's journal is still there and writes it again.
        match serde_json::from_str(line) {
            Ok(l) => out.push(l),
            Err(_) if n + 1 == text.lines().count() && !text.ends_with('\n') => {}
            Err(e) => {
                return Err(StoreError::Corrupt { path, reason: format!("line {}: {e}", n + 1) });
            }
        }
    }
    Ok(out)
}

/// Ids of erasures not withdrawn.
pub fn blocked_ids(data_dir: &Path) -> Result<HashSet<String>, StoreError> {
    let mut by_request: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in erasures(data_dir)? {
        match line {
            ErasureLine::Erased(e) => {
                by_request.entry(e.request).or_default().extend(e.ids);
            }
            ErasureLine::Withdrawn { request, .. } => {
                by_request.remove(&request);
            }
        }
    }
    Ok(by_request.into_values().flatten().collect())
}

/// Appends a line to the record, synced before it returns. A torn line
/// left by a crash is ended first, so the new line stays whole.
pub fn record(data_dir: &Path, line: &ErasureLine) -> Result<(), StoreError> {
    let path = data_dir.join(ERASURES);
    let write = || -> std::io::Result<()> {
        let torn = fs::read(&path).map(|b| !b.is_empty() && !b.ends_with(b"\n")).unwrap_or(false);
        let mut f = fs::OpenOptions::new().create(true).append(true).open(&path)?;
        let mut text = if torn { String::from("\n") } else { String::new() };
        text.push_str(&serde_json::to_string(line).expect("an erasure serializes"));
        text.push('\n');
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    write().map_err(|e| StoreError::io("write the erasure record", &path, e))
}

/// The ids of stored mentions by an author (the name exactly, after
/// trimming, or its pseudonym) or at a URL (a trailing `/` aside).
pub fn find_ids(
    store: &Store,
    key: &PseudonymKey,
    authors: &[String],
    urls: &[String],
) -> Result<HashSet<String>, StoreError> {
    if authors.is_empty() && urls.is_empty() {
        return Ok(HashSet::new());
    }
    let mut names: HashSet<String> = authors.iter().map(|a| a.trim().to_string()).collect();
    names.extend(authors.iter().map(|a| key.pseudonym(a)));
    let authors = names;
    let urls: HashSet<String> = urls.iter().map(|u| u.trim().trim_end_matches('/').to_string()).collect();
    store.read_parts(|parts| {
        let mut out = HashSet::new();
        for part in parts {
            let df = read_columns(&part.path, Some(&["id", "author", "url"]))?;
            let fail = |e| StoreError::parquet("read authors", &part.path, e);
            let ids = df.column("id").and_then(|c| c.str().cloned()).map_err(fail)?;
            let au = df.column("author").and_then(|c| c.str().cloned()).map_err(fail)?;
            let ur = df.column("url").and_then(|c| c.str().cloned()).map_err(fail)?;
            for ((id, a), u) in ids.iter().zip(au.iter()).zip(ur.iter()) {
                let by_author = a.is_some_and(|a| authors.contains(a.trim()));
                let at_url = u.is_some_and(|u| urls.contains(u.trim_end_matches('/')));
                if (by_author || at_url)
                    && let Some(id) = id
                {
                    out.insert(id.to_string());
                }
            }
        }
        Ok(out)
    })
}
