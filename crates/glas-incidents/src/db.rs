//! The incident store: SQLite tables beside the workspace's accounts, one
//! transaction per change (incident row, history, queued emails together).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use glas_core::Severity;
use glas_core::config::{IncidentSettings, Pipeline};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::json;

use crate::calendar::{Calendar, CalendarError};
use crate::mail::{self, MailKind};
use crate::{Actor, Evidence, Status};

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("incident database '{path}': {source}")]
    Db { path: String, source: rusqlite::Error },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("the pipeline has no [incidents] or [[routing]]: incidents are off")]
    Disabled,
    /// A request that cannot be carried out, said in Russian for the person
    /// who made it.
    #[error("{0}")]
    Invalid(String),
    #[error("инцидент №{0} не найден")]
    NotFound(i64),
    #[error("инцидент №{0} принадлежит другой службе")]
    Forbidden(i64),
}

type Result<T> = std::result::Result<T, IncidentError>;

/// One incident as it stands (the projection of its history).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub title: String,
    pub topic: Option<String>,
    pub place: Option<String>,
    pub severity: Severity,
    pub status: Status,
    pub service: String,
    /// The signal episode it came from (`kind|topic|place@opened`).
    pub episode: Option<String>,
    pub created_at: DateTime<Utc>,
    pub first_complaint_at: DateTime<Utc>,
    pub last_complaint_at: DateTime<Utc>,
    pub reaction_due: DateTime<Utc>,
    pub resolution_due: DateTime<Utc>,
    /// The service's first reaction: a status past `assigned`, or a public
    /// answer, whichever came first.
    pub reacted_at: Option<DateTime<Utc>>,
    pub public_answer_url: Option<String>,
    pub public_answer_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub postponed_until: Option<NaiveDate>,
    /// Why it was postponed or rejected.
    pub reason: Option<String>,
    /// Complaints that came back within the repeat window after a resolution.
    pub repeats: u32,
    pub merged_into: Option<i64>,
    pub mentions: u32,
    pub updated_at: DateTime<Utc>,
}

/// Which deadline an incident has missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overdue {
    Reaction,
    Resolution,
}

impl Overdue {
    pub fn as_str(self) -> &'static str {
        match self {
            Overdue::Reaction => "reaction",
            Overdue::Resolution => "resolution",
        }
    }

    pub fn label_ru(self) -> &'static str {
        match self {
            Overdue::Reaction => "просрочена первая реакция",
            Overdue::Resolution => "просрочено решение",
        }
    }
}

impl Incident {
    /// The deadline it has missed at `now`, if any (none while postponed,
    /// resolved or rejected).
    pub fn overdue(&self, now: DateTime<Utc>) -> Option<Overdue> {
        if self.status.closed() || self.status == Status::Postponed || self.merged_into.is_some() {
            return None;
        }
        if self.reacted_at.is_none() && now > self.reaction_due {
            return Some(Overdue::Reaction);
        }
        (now > self.resolution_due).then_some(Overdue::Resolution)
    }

    pub fn answered_publicly(&self) -> bool {
        self.public_answer_url.is_some()
    }
}

/// One line of an incident's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub seq: i64,
    pub incident: i64,
    pub at: DateTime<Utc>,
    pub who: String,
    /// `created`, `status`, `assigned`, `mention_added`, `reopened`,
    /// `public_answer`, `reminder`, `overdue`, `severity`, `merged`,
    /// `absorbed`, `split`, `split_from`, `returned`, `comment`.
    pub action: String,
    /// The status after this entry.
    pub status: Status,
    pub comment: Option<String>,
    pub data: serde_json::Value,
}

/// An email a change queued, until it is delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    /// Unique per cause (`incident|kind|moment`): the same cause never
    /// queues a second email, and the Message-ID is made from it.
    pub key: String,
    pub incident: i64,
    pub kind: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attempts: u32,
}

/// A person's change to an incident.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `postponed` needs a reason and a date to return; `rejected` a reason.
    Status {
        to: Status,
        comment: Option<String>,
        reason: Option<String>,
        until: Option<NaiveDate>,
    },
    Assign {
        service: String,
        comment: Option<String>,
    },
    Comment {
        text: String,
    },
    /// Moves every mention into another incident and closes this one.
    Merge {
        into: i64,
    },
    /// Moves these mentions into a new incident of the same service.
    Split {
        mentions: Vec<String>,
    },
}

/// An alarm episode of the detector, as incidents see it.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeInput {
    /// Unique per episode: the series and when it opened.
    pub key: String,
    pub topic: Option<String>,
    pub place: Option<String>,
    pub severity: Severity,
    pub evidence: Vec<Evidence>,
}

/// Which incidents a list shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub status: Option<Status>,
    pub service: Option<String>,
    /// Only those past a deadline.
    pub overdue: bool,
    /// Only those not resolved, rejected or merged.
    pub open: bool,
}

/// What one round of the service did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Round {
    pub created: Vec<i64>,
    pub joined: u32,
    pub reopened: Vec<i64>,
    pub answered_publicly: Vec<i64>,
    pub reminders: u32,
    pub escalations: u32,
    pub returned: Vec<i64>,
}

/// What happened to a complaint offered to the incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// Added to an open incident.
    Joined(i64),
    /// Reopened a resolved incident (a repeat complaint).
    Reopened(i64),
    /// Already held by an incident.
    Known,
    /// No incident for it.
    None,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    topic TEXT,
    place TEXT,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    service TEXT NOT NULL,
    episode TEXT UNIQUE,
    created_at TEXT NOT NULL,
    first_complaint_at TEXT NOT NULL,
    last_complaint_at TEXT NOT NULL,
    reaction_due TEXT NOT NULL,
    resolution_due TEXT NOT NULL,
    reacted_at TEXT,
    public_answer_url TEXT,
    public_answer_at TEXT,
    resolved_at TEXT,
    postponed_until TEXT,
    reason TEXT,
    repeats INTEGER NOT NULL DEFAULT 0,
    merged_into INTEGER,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_series ON incidents(topic, place, status);
CREATE TABLE IF NOT EXISTS incident_mentions (
    incident INTEGER NOT NULL REFERENCES incidents(id),
    mention TEXT NOT NULL,
    published_at TEXT NOT NULL,
    url TEXT NOT NULL,
    source TEXT NOT NULL,
    snippet TEXT NOT NULL,
    PRIMARY KEY (incident, mention)
);
CREATE INDEX IF NOT EXISTS incident_mentions_mention ON incident_mentions(mention);
CREATE TABLE IF NOT EXISTS incident_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident INTEGER NOT NULL REFERENCES incidents(id),
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    comment TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_history_incident ON incident_history(incident, seq);
CREATE TRIGGER IF NOT EXISTS incident_history_no_update BEFORE UPDATE ON incident_history
BEGIN SELECT RAISE(ABORT, 'incident history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS incident_history_no_delete BEFORE DELETE ON incident_history
BEGIN SELECT RAISE(ABORT, 'incident history is append-only'); END;
CREATE TABLE IF NOT EXISTS incident_mail (
    key TEXT PRIMARY KEY,
    incident INTEGER NOT NULL,
    kind TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    html TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS incident_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

const COLUMNS: &str = "id, title, topic, place, severity, status, service, episode, created_at, first_complaint_at, \
last_complaint_at, reaction_due, resolution_due, reacted_at, public_answer_url, public_answer_at, resolved_at, \
postponed_until, reason, repeats, merged_into, updated_at, \
(SELECT COUNT(*) FROM incident_mentions m WHERE m.incident = incidents.id)";

pub(crate) fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn parse_time(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn opt_time(s: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_time).transpose()
}

fn severity(s: &str) -> Severity {
    match s {
        "high" => Severity::High,
        "medium" => Severity::Medium,
        _ => Severity::Low,
    }
}

fn status(s: &str) -> rusqlite::Result<Status> {
    Status::parse(s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown incident status {s:?}").into(),
        )
    })
}

fn row_incident(r: &rusqlite::Row) -> rusqlite::Result<Incident> {
    Ok(Incident {
        id: r.get(0)?,
        title: r.get(1)?,
        topic: r.get(2)?,
        place: r.get(3)?,
        severity: severity(&r.get::<_, String>(4)?),
        status: status(&r.get::<_, String>(5)?)?,
        service: r.get(6)?,
        episode: r.get(7)?,
        created_at: parse_time(&r.get::<_, String>(8)?)?,
        first_complaint_at: parse_time(&r.get::<_, String>(9)?)?,
        last_complaint_at: parse_time(&r.get::<_, String>(10)?)?,
        reaction_due: parse_time(&r.get::<_, String>(11)?)?,
        resolution_due: parse_time(&r.get::<_, String>(12)?)?,
        reacted_at: opt_time(r.get(13)?)?,
        public_answer_url: r.get(14)?,
        public_answer_at: opt_time(r.get(15)?)?,
        resolved_at: opt_time(r.get(16)?)?,
        postponed_until: r.get::<_, Option<String>>(17)?.and_then(|d| d.parse().ok()),
        reason: r.get(18)?,
        repeats: r.get(19)?,
        merged_into: r.get(20)?,
        updated_at: parse_time(&r.get::<_, String>(21)?)?,
        mentions: r.get(22)?,
    })
}

/// The incident whose `column` (`id` or `episode`) is `value`.
fn incident_by(c: &Connection, column: &str, value: &dyn rusqlite::ToSql) -> rusqlite::Result<Option<Incident>> {
    c.query_row(&format!("SELECT {COLUMNS} FROM incidents WHERE {column} = ?1"), [value], row_incident).optional()
}

/// An incident's mentions, oldest first.
fn evidence_of(c: &Connection, id: i64) -> rusqlite::Result<Vec<Evidence>> {
    let mut st = c.prepare(
        "SELECT mention, published_at, url, source, snippet FROM incident_mentions \
         WHERE incident = ?1 ORDER BY published_at, mention",
    )?;
    let rows = st.query_map([id], |r| {
        Ok(Evidence {
            id: r.get(0)?,
            published_at: parse_time(&r.get::<_, String>(1)?)?,
            url: r.get(2)?,
            source: r.get(3)?,
            snippet: r.get(4)?,
        })
    })?;
    rows.collect()
}

/// The incident (not merged away) holding a mention.
fn holder_of(c: &Connection, mention: &str) -> rusqlite::Result<Option<i64>> {
    c.query_row(
        "SELECT m.incident FROM incident_mentions m JOIN incidents i ON i.id = m.incident \
         WHERE m.mention = ?1 AND i.merged_into IS NULL LIMIT 1",
        [mention],
        |r| r.get(0),
    )
    .optional()
}

/// Adds a mention to an incident; false when it held it already.
fn insert_mention(c: &Connection, id: i64, e: &Evidence) -> rusqlite::Result<bool> {
    Ok(c.execute(
        "INSERT OR IGNORE INTO incident_mentions(incident, mention, published_at, url, source, snippet) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, e.id, stamp(e.published_at), e.url, e.source, e.snippet],
    )? == 1)
}

/// The incidents of one district.
pub struct Incidents {
    conn: Mutex<Connection>,
    path: PathBuf,
    settings: IncidentSettings,
    calendar: Calendar,
    /// Topic code → Russian name.
    topics: BTreeMap<String, String>,
    /// The gazetteer's settlements.
    places: Vec<String>,
    district: String,
    /// Where the workspace is opened, for links in emails.
    link_base: Option<String>,
}

impl Incidents {
    /// Opens (creating the tables if needed) the incidents of a pipeline's
    /// data folder.
    pub fn open(data_dir: &Path, pipeline: &Pipeline) -> Result<Incidents> {
        let settings = pipeline.incidents.clone().ok_or(IncidentError::Disabled)?;
        let tz = pipeline.district.timezone;
        let calendar = match &settings.calendar {
            Some(file) => Calendar::load(file, tz, settings.hours)?,
            None => Calendar::russian(tz, settings.hours),
        };
        let path = data_dir.join("workspace.sqlite");
        let db = |source| IncidentError::Db { path: path.display().to_string(), source };
        std::fs::create_dir_all(data_dir).map_err(|e| IncidentError::Invalid(e.to_string()))?;
        let conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        // Residents' words removed (an erasure) are overwritten, not left in
        // free pages.
        conn.pragma_update(None, "secure_delete", "ON").map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        let link_base =
            settings.workspace_url.clone().or_else(|| pipeline.alerts.as_ref().and_then(|a| a.search_url.clone()));
        Ok(Incidents {
            conn: Mutex::new(conn),
            path,
            topics: pipeline.topics.iter().map(|t| (t.code.clone(), t.name.clone())).collect(),
            places: pipeline.places.iter().map(|p| p.name.clone()).collect(),
            district: pipeline.district.name.clone(),
            settings,
            calendar,
            link_base,
        })
    }

    pub fn district(&self) -> &str {
        &self.district
    }

    pub fn settings(&self) -> &IncidentSettings {
        &self.settings
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The services incidents can be assigned to, in routing order.
    pub fn services(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.settings.routing {
            if !out.contains(&r.service) {
                out.push(r.service.clone());
            }
        }
        out
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> IncidentError + '_ {
        move |source| IncidentError::Db { path: self.path.display().to_string(), source }
    }

    /// Erases mentions from the incidents (an erasure request): their rows
    /// of evidence go, and their snippets and links are cut out of every
    /// email the incidents queued or sent, in one transaction. The incidents
    /// themselves and their history (counts, no text) stay. Returns
    /// (evidence rows removed, emails changed).
    pub fn erase_mentions(&self, ids: &[String]) -> Result<(usize, usize)> {
        const GONE: &str = "[удалено по запросу]";
        let db = self.db();
        self.tx(|tx| {
            let mut quoted: Vec<(String, String)> = Vec::new();
            let mut rows = 0;
            for id in ids {
                let mut st =
                    tx.t.prepare_cached("SELECT snippet, url FROM incident_mentions WHERE mention = ?1")
                        .map_err(&db)?;
                let found = st
                    .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .map_err(&db)?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(&db)?;
                quoted.extend(found);
                rows += tx.t.execute("DELETE FROM incident_mentions WHERE mention = ?1", [id]).map_err(&db)?;
            }
            let mut pieces: Vec<String> = Vec::new();
            for (snippet, url) in quoted {
                for p in [snippet, url] {
                    if !p.is_empty() {
                        pieces.push(glas_core::ru::escape_html(&p));
                        pieces.push(p);
                    }
                }
            }
            pieces.sort_by_key(|p| std::cmp::Reverse(p.len()));
            pieces.dedup();
            let mut mails = 0;
            let all: Vec<(String, String, String)> = {
                let mut st = tx.t.prepare("SELECT key, text, html FROM incident_mail").map_err(&db)?;
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(&db)?
                    .collect::<std::result::Result<_, _>>()
                    .map_err(&db)?
            };
            for (key, text, html) in all {
                let (mut t, mut h) = (text.clone(), html.clone());
                for p in &pieces {
                    t = t.replace(p.as_str(), GONE);
                    h = h.replace(p.as_str(), GONE);
                }
                if t != text || h != html {
                    tx.t.execute("UPDATE incident_mail SET text = ?2, html = ?3 WHERE key = ?1", (key, t, h))
                        .map_err(&db)?;
                    mails += 1;
                }
            }
            Ok((rows, mails))
        })
        .and_then(|done| {
            // The old pages leave the write-ahead log for the database file,
            // where they are overwritten (best effort: a reader holding an
            // old snapshot delays it to a later checkpoint).
            self.with(|c| c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(&db))?;
            Ok(done)
        })
    }

    /// In one transaction: all of `f` happens, or none of it.
    fn tx<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let db = self.db();
        self.with(|conn| {
            let t = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&db)?;
            let out = f(&Tx { t: &t, inc: self })?;
            t.commit().map_err(&db)?;
            Ok(out)
        })
    }

    pub fn topic_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.topics.get(code).map_or(code, |s| s.as_str())
    }

    /// "Водоснабжение — Величаевское".
    pub fn title(&self, topic: Option<&str>, place: Option<&str>) -> String {
        let what = topic.map_or("Жалобы жителей", |t| self.topic_name(t));
        let mut chars = what.chars();
        let what: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
        format!("{what} — {}", place.unwrap_or("весь округ"))
    }

    /// The incident's page in the workspace, when its address is known.
    pub fn link(&self, id: i64) -> Option<String> {
        self.link_base.as_ref().map(|b| format!("{b}/incidents/{id}"))
    }

    pub fn get(&self, id: i64) -> Result<Option<Incident>> {
        let db = self.db();
        self.with(|c| incident_by(c, "id", &id).map_err(&db))
    }

    pub fn list(&self, filter: &Filter, now: DateTime<Utc>) -> Result<Vec<Incident>> {
        let db = self.db();
        let all = self.with(|c| {
            let mut st = c.prepare(&format!("SELECT {COLUMNS} FROM incidents ORDER BY id DESC")).map_err(&db)?;
            let rows = st.query_map([], row_incident).map_err(&db)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(&db)
        })?;
        Ok(all
            .into_iter()
            .filter(|i| filter.status.is_none_or(|s| i.status == s))
            .filter(|i| filter.service.as_ref().is_none_or(|s| &i.service == s))
            .filter(|i| !filter.overdue || i.overdue(now).is_some())
            .filter(|i| !filter.open || (!i.status.closed() && i.merged_into.is_none()))
            .collect())
    }

    pub fn mentions(&self, id: i64) -> Result<Vec<Evidence>> {
        let db = self.db();
        self.with(|c| evidence_of(c, id).map_err(&db))
    }

    /// One incident's history, oldest first; `None`: every incident's.
    pub fn history(&self, id: Option<i64>) -> Result<Vec<HistoryEntry>> {
        let db = self.db();
        self.with(|c| {
            let sql = "SELECT seq, incident, at, who, action, status, comment, data FROM incident_history \
                       WHERE ?1 IS NULL OR incident = ?1 ORDER BY seq";
            let mut st = c.prepare(sql).map_err(&db)?;
            let rows = st
                .query_map([id], |r| {
                    Ok(HistoryEntry {
                        seq: r.get(0)?,
                        incident: r.get(1)?,
                        at: parse_time(&r.get::<_, String>(2)?)?,
                        who: r.get(3)?,
                        action: r.get(4)?,
                        status: status(&r.get::<_, String>(5)?)?,
                        comment: r.get(6)?,
                        data: serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or_default(),
                    })
                })
                .map_err(&db)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(&db)
        })
    }

    /// The incident an alarm episode opened (the signals page's episode id).
    pub fn by_episode(&self, key: &str) -> Result<Option<Incident>> {
        let db = self.db();
        self.with(|c| incident_by(c, "episode", &key).map_err(&db))
    }

    /// The incident holding a mention, if any.
    pub fn incident_of(&self, mention: &str) -> Result<Option<i64>> {
        let db = self.db();
        self.with(|c| holder_of(c, mention).map_err(&db))
    }

    /// A named position the caller keeps with the incidents (the log
    /// sequence up to which mentions were offered).
    pub fn cursor(&self, name: &str) -> Result<Option<String>> {
        let db = self.db();
        self.with(|c| {
            c.query_row("SELECT value FROM incident_state WHERE name = ?1", [name], |r| r.get(0))
                .optional()
                .map_err(&db)
        })
    }

    pub fn set_cursor(&self, name: &str, value: &str) -> Result<()> {
        let db = self.db();
        self.with(|c| {
            c.execute(
                "INSERT INTO incident_state(name, value) VALUES (?1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                [name, value],
            )
            .map(drop)
            .map_err(&db)
        })
    }

    /// An alarm episode: opens its incident (routed, deadlines set, the
    /// service emailed), or adds to the one it opened before (new evidence, a
    /// higher severity). An open incident on the same topic and place whose
    /// last complaint is within the join window takes the episode instead of
    /// a new one. Returns the incident and whether it is new.
    pub fn from_episode(&self, ep: &EpisodeInput, now: DateTime<Utc>) -> Result<(i64, bool)> {
        if ep.evidence.is_empty() {
            return Err(IncidentError::Invalid("эпизод без публикаций".into()));
        }
        self.tx(|tx| {
            let existing: Option<i64> = tx.opt_i64("SELECT id FROM incidents WHERE episode = ?1", [&ep.key])?;
            let first = ep.evidence.iter().map(|e| e.published_at).min().unwrap_or(now);
            let target = match existing {
                Some(id) => Some(id),
                None => tx.open_for(ep.topic.as_deref(), ep.place.as_deref(), first)?,
            };
            let Some(id) = target else {
                let id = tx.create(&Actor::system(), ep.topic.as_deref(), ep.place.as_deref(), ep.severity, &ep.evidence, Some(&ep.key), now)?;
                return Ok((id, true));
            };
            let inc = tx.incident(id)?;
            // Closed since: the episode's new posts are complaints that come
            // back, which the complaints' path counts as repeats (and
            // reopens for); they are not slipped into a closed incident.
            if inc.status.closed() || inc.merged_into.is_some() {
                return Ok((id, false));
            }
            if inc.episode.is_none() {
                tx.exec("UPDATE incidents SET episode = ?2 WHERE id = ?1", params![id, ep.key])?;
                tx.history(id, now, "glas", "episode", inc.status, None, json!({"episode": ep.key}))?;
            }
            if ep.severity > inc.severity {
                // A graver episode may have shorter deadlines: counted from
                // the incident's creation, the earlier of old and new.
                let (reaction, resolution) = self.settings.deadlines(inc.topic.as_deref(), ep.severity);
                let cal = &self.calendar;
                let rd = inc.reaction_due.min(cal.add(inc.created_at, cal.working(reaction)));
                let sd = inc.resolution_due.min(cal.add(inc.created_at, cal.working(resolution)));
                tx.exec(
                    "UPDATE incidents SET severity = ?2, reaction_due = ?3, resolution_due = ?4, updated_at = ?5 WHERE id = ?1",
                    params![id, ep.severity.as_str(), stamp(rd), stamp(sd), stamp(now)],
                )?;
                tx.history(
                    id,
                    now,
                    "glas",
                    "severity",
                    inc.status,
                    None,
                    json!({"from": inc.severity.as_str(), "to": ep.severity.as_str(),
                           "reaction_due": stamp(rd), "resolution_due": stamp(sd)}),
                )?;
            }
            for e in &ep.evidence {
                tx.add_mention(id, e, now, false)?;
            }
            Ok((id, false))
        })
    }

    /// An incident made by a person from one or more mentions (a search hit,
    /// a mention card); routed and emailed like any other.
    pub fn create(
        &self,
        actor: &Actor,
        topic: Option<&str>,
        place: Option<&str>,
        severity: Severity,
        evidence: &[Evidence],
        now: DateTime<Utc>,
    ) -> Result<i64> {
        if evidence.is_empty() {
            return Err(IncidentError::Invalid("инцидент создаётся из одной или нескольких публикаций".into()));
        }
        if actor.service.is_some() {
            return Err(IncidentError::Invalid("служба не создаёт инциденты: это делает аналитик".into()));
        }
        if let Some(t) = topic
            && !self.topics.contains_key(t)
        {
            return Err(IncidentError::Invalid(format!("неизвестная тема {t:?}")));
        }
        if let Some(p) = place
            && !self.places.iter().any(|x| x == p)
        {
            return Err(IncidentError::Invalid(format!("населённого пункта «{p}» нет в справочнике округа")));
        }
        self.tx(|tx| {
            for e in evidence {
                if let Some(other) = tx.holder(&e.id)? {
                    return Err(IncidentError::Invalid(format!("публикация {} уже в инциденте №{other}", e.id)));
                }
            }
            tx.create(actor, topic, place, severity, evidence, None, now)
        })
    }

    /// A resident's complaint (or negative post) about `topic` in `place`:
    /// joins the open incident of that topic and place whose last complaint
    /// is within the join window, or reopens one resolved within the repeat
    /// window (a repeat complaint).
    pub fn complaint(&self, e: &Evidence, topic: &str, place: Option<&str>, now: DateTime<Utc>) -> Result<Joined> {
        self.tx(|tx| {
            if tx.holder(&e.id)?.is_some() {
                return Ok(Joined::Known);
            }
            if let Some(id) = tx.open_for(Some(topic), place, e.published_at)? {
                tx.add_mention(id, e, now, false)?;
                return Ok(Joined::Joined(id));
            }
            let since = stamp(e.published_at - self.settings.repeat_window);
            let resolved: Option<i64> = tx.opt_i64(
                "SELECT id FROM incidents WHERE topic IS ?1 AND place IS ?2 AND status = 'resolved' \
                 AND merged_into IS NULL AND resolved_at >= ?3 AND resolved_at <= ?4 ORDER BY resolved_at DESC LIMIT 1",
                params![topic, place, since, stamp(e.published_at)],
            )?;
            let Some(id) = resolved else { return Ok(Joined::None) };
            tx.add_mention(id, e, now, true)?;
            tx.reopen(id, e.published_at, now)?;
            Ok(Joined::Reopened(id))
        })
    }

    /// A post of the administration's own channels about `topics` in
    /// `places`: open incidents of one of those topics and places whose first
    /// complaint came before it, and that have no public answer yet, are
    /// answered publicly by it.
    pub fn public_post(
        &self,
        e: &Evidence,
        topics: &[String],
        places: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>> {
        self.tx(|tx| {
            let candidates = tx.incidents(
                "WHERE public_answer_url IS NULL AND merged_into IS NULL AND status NOT IN ('resolved', 'rejected') \
                 AND first_complaint_at < ?1",
                params![stamp(e.published_at)],
            )?;
            let mut out = Vec::new();
            for inc in candidates {
                let topic_ok = inc.topic.as_ref().is_some_and(|t| topics.contains(t));
                let place_ok = inc.place.as_ref().is_none_or(|p| places.contains(p));
                if !(topic_ok && place_ok) {
                    continue;
                }
                tx.answer(&inc, e, "post", now)?;
                out.push(inc.id);
            }
            Ok(out)
        })
    }

    /// A reply of one of the administration's accounts under a resident's
    /// post (`parent`): the incident holding that post, open and not yet
    /// answered, is answered publicly by it.
    pub fn public_reply(&self, parent: &str, e: &Evidence, now: DateTime<Utc>) -> Result<Option<i64>> {
        self.tx(|tx| {
            let Some(id) = tx.holder(parent)? else { return Ok(None) };
            let inc = tx.incident(id)?;
            if inc.public_answer_url.is_some() || inc.status.closed() || e.published_at < inc.first_complaint_at {
                return Ok(None);
            }
            tx.answer(&inc, e, "reply", now)?;
            Ok(Some(id))
        })
    }

    /// Deadlines at `now`: a reminder to the service when a deadline is
    /// within `remind_before` working time, an escalation to the head (and
    /// the service) once it has passed, and postponed incidents whose date
    /// has come back in work. Each happens once per deadline.
    pub fn tick(&self, now: DateTime<Utc>) -> Result<Round> {
        let mut round = Round::default();
        let open = self.list(&Filter { open: true, ..Default::default() }, now)?;
        for inc in open {
            self.tx(|tx| {
                let inc = tx.incident(inc.id)?;
                if inc.status.closed() || inc.merged_into.is_some() {
                    return Ok(());
                }
                if inc.status == Status::Postponed {
                    let local_today = now.with_timezone(&self.calendar.tz()).date_naive();
                    if inc.postponed_until.is_some_and(|d| d <= local_today) {
                        let (_, resolution) = self.deadlines_of(&inc);
                        let due = self.calendar.add(now, resolution);
                        tx.exec(
                            "UPDATE incidents SET status = 'in_work', resolution_due = ?2, postponed_until = NULL, \
                             updated_at = ?3 WHERE id = ?1",
                            params![inc.id, stamp(due), stamp(now)],
                        )?;
                        tx.history(
                            inc.id,
                            now,
                            "glas",
                            "returned",
                            Status::InWork,
                            None,
                            json!({"resolution_due": stamp(due)}),
                        )?;
                        let inc = tx.incident(inc.id)?;
                        tx.queue(&inc, MailKind::Returned, now)?;
                        round.returned.push(inc.id);
                    }
                    return Ok(());
                }
                let checks = [
                    (Overdue::Reaction, inc.reacted_at.is_none(), inc.reaction_due),
                    (Overdue::Resolution, true, inc.resolution_due),
                ];
                for (which, running, due) in checks {
                    if !running {
                        continue;
                    }
                    if now > due {
                        if tx.queue(&inc, MailKind::Overdue(which), now)? {
                            tx.history(
                                inc.id,
                                now,
                                "glas",
                                "overdue",
                                inc.status,
                                None,
                                json!({"deadline": which.as_str(), "due": stamp(due)}),
                            )?;
                            round.escalations += 1;
                        }
                    } else if self.calendar.between(now, due) <= self.settings.remind_before
                        && tx.queue(&inc, MailKind::Reminder(which), now)?
                    {
                        tx.history(
                            inc.id,
                            now,
                            "glas",
                            "reminder",
                            inc.status,
                            None,
                            json!({"deadline": which.as_str(), "due": stamp(due)}),
                        )?;
                        round.reminders += 1;
                    }
                }
                Ok(())
            })?;
        }
        Ok(round)
    }

    fn deadlines_of(&self, inc: &Incident) -> (Duration, Duration) {
        let (reaction, resolution) = self.settings.deadlines(inc.topic.as_deref(), inc.severity);
        (self.calendar.working(reaction), self.calendar.working(resolution))
    }

    /// A person's change. Service accounts change only their own service's
    /// incidents, and only their status and comments.
    pub fn change(&self, id: i64, actor: &Actor, change: &Change, now: DateTime<Utc>) -> Result<Incident> {
        let text = |s: &Option<String>| s.as_ref().map(|x| x.trim().to_string()).filter(|x| !x.is_empty());
        self.tx(|tx| {
            let inc = tx.incident(id)?;
            if let Some(s) = &actor.service
                && s != &inc.service
            {
                return Err(IncidentError::Forbidden(id));
            }
            if inc.merged_into.is_some() {
                return Err(IncidentError::Invalid(format!(
                    "инцидент №{id} объединён с №{}: изменяйте тот",
                    inc.merged_into.unwrap_or_default()
                )));
            }
            match change {
                Change::Status { to, comment, reason, until } => {
                    if !inc.status.may_become(*to) {
                        return Err(IncidentError::Invalid(format!(
                            "из статуса «{}» нельзя перейти в «{}»",
                            inc.status.label_ru(),
                            to.label_ru()
                        )));
                    }
                    let reason = text(reason);
                    let local_today = now.with_timezone(&self.calendar.tz()).date_naive();
                    match to {
                        Status::Postponed => {
                            if reason.is_none() {
                                return Err(IncidentError::Invalid(
                                    "укажите причину переноса (например, нет средств в этом году)".into(),
                                ));
                            }
                            match until {
                                None => {
                                    return Err(IncidentError::Invalid("укажите дату, когда вернуться к инциденту".into()));
                                }
                                Some(d) if *d <= local_today => {
                                    return Err(IncidentError::Invalid("дата возврата должна быть позже сегодняшней".into()));
                                }
                                Some(_) => {}
                            }
                        }
                        Status::Rejected if reason.is_none() => {
                            return Err(IncidentError::Invalid("укажите причину отклонения".into()));
                        }
                        _ => {}
                    }
                    let until = if *to == Status::Postponed { *until } else { None };
                    let mut sets = vec!["status = ?2", "updated_at = ?3", "postponed_until = ?4", "reason = ?5"];
                    if to.is_reaction() && inc.reacted_at.is_none() {
                        sets.push("reacted_at = ?3");
                    }
                    if *to == Status::Resolved {
                        sets.push("resolved_at = ?3");
                    }
                    let reason_col = if matches!(to, Status::Postponed | Status::Rejected) { reason.clone() } else { None };
                    tx.exec(
                        &format!("UPDATE incidents SET {} WHERE id = ?1", sets.join(", ")),
                        params![id, to.as_str(), stamp(now), until.map(|d| d.to_string()), reason_col],
                    )?;
                    // Back in work from a closed or postponed state: the
                    // resolution deadline runs again from now.
                    let mut data = json!({"from": inc.status.as_str(), "to": to.as_str()});
                    if *to == Status::InWork && matches!(inc.status, Status::Resolved | Status::Rejected | Status::Postponed) {
                        let (_, resolution) = self.deadlines_of(&inc);
                        let due = self.calendar.add(now, resolution);
                        tx.exec("UPDATE incidents SET resolution_due = ?2, resolved_at = NULL WHERE id = ?1", params![id, stamp(due)])?;
                        data["resolution_due"] = json!(stamp(due));
                    }
                    if let Some(r) = &reason {
                        data["reason"] = json!(r);
                    }
                    if let Some(d) = until {
                        data["until"] = json!(d.to_string());
                    }
                    tx.history(id, now, &actor.name, "status", *to, text(comment).as_deref(), data)?;
                }
                Change::Assign { service, comment } => {
                    if actor.service.is_some() {
                        return Err(IncidentError::Invalid("передать инцидент другой службе может аналитик".into()));
                    }
                    let Some(route) = self.settings.routing.iter().find(|r| &r.service == service) else {
                        return Err(IncidentError::Invalid(format!(
                            "нет службы «{service}» (службы: {})",
                            self.services().join(", ")
                        )));
                    };
                    if route.service == inc.service {
                        return Err(IncidentError::Invalid(format!("инцидент уже у службы «{service}»")));
                    }
                    let status = if inc.status == Status::New { Status::Assigned } else { inc.status };
                    tx.exec(
                        "UPDATE incidents SET service = ?2, status = ?3, updated_at = ?4 WHERE id = ?1",
                        params![id, service, status.as_str(), stamp(now)],
                    )?;
                    tx.history(
                        id,
                        now,
                        &actor.name,
                        "assigned",
                        status,
                        text(comment).as_deref(),
                        json!({"from": inc.service, "service": service}),
                    )?;
                    let inc = tx.incident(id)?;
                    tx.queue(&inc, MailKind::Assigned, now)?;
                }
                Change::Comment { text: c } => {
                    let c = c.trim();
                    if c.is_empty() {
                        return Err(IncidentError::Invalid("комментарий пуст".into()));
                    }
                    tx.history(id, now, &actor.name, "comment", inc.status, Some(c), json!({}))?;
                    tx.exec("UPDATE incidents SET updated_at = ?2 WHERE id = ?1", params![id, stamp(now)])?;
                }
                Change::Merge { into } => {
                    if actor.service.is_some() {
                        return Err(IncidentError::Invalid("объединять инциденты может аналитик".into()));
                    }
                    if *into == id {
                        return Err(IncidentError::Invalid("инцидент нельзя объединить с самим собой".into()));
                    }
                    let target = tx.incident(*into)?;
                    if target.merged_into.is_some() {
                        return Err(IncidentError::Invalid(format!("инцидент №{into} сам объединён с другим")));
                    }
                    let moved = tx.move_mentions(id, *into, None)?;
                    tx.exec(
                        "UPDATE incidents SET merged_into = ?2, status = 'rejected', reason = ?3, updated_at = ?4 WHERE id = ?1",
                        params![id, into, format!("объединён с №{into}"), stamp(now)],
                    )?;
                    tx.history(id, now, &actor.name, "merged", Status::Rejected, None, json!({"into": into, "mentions": moved}))?;
                    let first = inc.first_complaint_at.min(target.first_complaint_at);
                    let last = inc.last_complaint_at.max(target.last_complaint_at);
                    tx.exec(
                        "UPDATE incidents SET first_complaint_at = ?2, last_complaint_at = ?3, updated_at = ?4 WHERE id = ?1",
                        params![into, stamp(first), stamp(last), stamp(now)],
                    )?;
                    tx.history(
                        *into,
                        now,
                        &actor.name,
                        "absorbed",
                        target.status,
                        None,
                        json!({"from": id, "mentions": moved, "first_complaint_at": stamp(first)}),
                    )?;
                }
                Change::Split { mentions } => {
                    if actor.service.is_some() {
                        return Err(IncidentError::Invalid("разделять инциденты может аналитик".into()));
                    }
                    let held = tx.held(id)?;
                    if mentions.is_empty() {
                        return Err(IncidentError::Invalid("отметьте публикации, которые выделить в новый инцидент".into()));
                    }
                    if let Some(m) = mentions.iter().find(|m| !held.contains(m)) {
                        return Err(IncidentError::Invalid(format!("публикации {m} нет в инциденте №{id}")));
                    }
                    if mentions.len() >= held.len() {
                        return Err(IncidentError::Invalid("в инциденте должна остаться хотя бы одна публикация".into()));
                    }
                    let evidence: Vec<Evidence> = tx.evidence(id)?.into_iter().filter(|e| mentions.contains(&e.id)).collect();
                    let new = tx.insert_incident(&inc.topic, &inc.place, inc.severity, &inc.service, None, &evidence, now)?;
                    tx.move_mentions(id, new, Some(mentions))?;
                    tx.history(new, now, &actor.name, "created", Status::Assigned, None, tx.created_data(new, "split")?)?;
                    tx.history(id, now, &actor.name, "split", inc.status, None, json!({"to": new, "mentions": mentions}))?;
                    tx.refresh_complaint_times(id)?;
                    let n = tx.incident(new)?;
                    tx.queue(&n, MailKind::Assigned, now)?;
                }
            }
            tx.incident(id)
        })
    }

    /// Emails queued and not yet delivered, oldest first.
    pub fn pending_mail(&self) -> Result<Vec<Mail>> {
        let db = self.db();
        self.with(|c| {
            let mut st = c
                .prepare(
                    "SELECT key, incident, kind, recipients, subject, text, html, attempts FROM incident_mail \
                     WHERE sent_at IS NULL ORDER BY created_at, rowid",
                )
                .map_err(&db)?;
            let rows = st
                .query_map([], |r| {
                    Ok(Mail {
                        key: r.get(0)?,
                        incident: r.get(1)?,
                        kind: r.get(2)?,
                        to: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                        subject: r.get(4)?,
                        text: r.get(5)?,
                        html: r.get(6)?,
                        attempts: r.get(7)?,
                    })
                })
                .map_err(&db)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(&db)
        })
    }

    /// Records a delivery (synced before it returns: a restart does not send
    /// it again).
    pub fn mark_sent(&self, key: &str, now: DateTime<Utc>) -> Result<()> {
        let db = self.db();
        self.with(|c| {
            c.execute(
                "UPDATE incident_mail SET sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE key = ?1",
                params![key, stamp(now)],
            )
            .map(drop)
            .map_err(&db)
        })
    }

    /// Records a failed attempt; the email stays queued.
    pub fn mark_failed(&self, key: &str, error: &str) -> Result<()> {
        let db = self.db();
        self.with(|c| {
            c.execute(
                "UPDATE incident_mail SET attempts = attempts + 1, last_error = ?2 WHERE key = ?1",
                params![key, error],
            )
            .map(drop)
            .map_err(&db)
        })
    }

    /// Every email ever queued: (key, kind, incident, sent).
    pub fn mail_log(&self) -> Result<Vec<(String, String, i64, bool)>> {
        let db = self.db();
        self.with(|c| {
            let mut st = c
                .prepare("SELECT key, kind, incident, sent_at IS NOT NULL FROM incident_mail ORDER BY rowid")
                .map_err(&db)?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(&db)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(&db)
        })
    }
}

/// One transaction's view.
struct Tx<'a> {
    t: &'a Transaction<'a>,
    inc: &'a Incidents,
}

impl Tx<'_> {
    fn err(&self) -> impl Fn(rusqlite::Error) -> IncidentError + '_ {
        self.inc.db()
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize> {
        self.t.execute(sql, p).map_err(self.err())
    }

    fn opt_i64(&self, sql: &str, p: impl rusqlite::Params) -> Result<Option<i64>> {
        self.t.query_row(sql, p, |r| r.get(0)).optional().map_err(self.err())
    }

    fn incident(&self, id: i64) -> Result<Incident> {
        incident_by(self.t, "id", &id).map_err(self.err())?.ok_or(IncidentError::NotFound(id))
    }

    fn incidents(&self, where_: &str, p: impl rusqlite::Params) -> Result<Vec<Incident>> {
        let mut st =
            self.t.prepare(&format!("SELECT {COLUMNS} FROM incidents {where_} ORDER BY id")).map_err(self.err())?;
        let rows = st.query_map(p, row_incident).map_err(self.err())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(self.err())
    }

    /// The incident (not merged away) holding a mention.
    fn holder(&self, mention: &str) -> Result<Option<i64>> {
        holder_of(self.t, mention).map_err(self.err())
    }

    /// Records a public answer (`how`: an own channel's `post`, or a `reply`
    /// under a resident's post): the first reaction if none came before,
    /// and "answered" for an incident not further along.
    fn answer(&self, inc: &Incident, e: &Evidence, how: &str, now: DateTime<Utc>) -> Result<()> {
        let at = e.published_at;
        self.exec(
            "UPDATE incidents SET public_answer_url = ?2, public_answer_at = ?3, \
             reacted_at = COALESCE(reacted_at, ?3), updated_at = ?4 WHERE id = ?1",
            params![inc.id, e.url, stamp(at), stamp(now)],
        )?;
        let status = if matches!(inc.status, Status::New | Status::Assigned | Status::InWork) {
            self.exec("UPDATE incidents SET status = 'answered' WHERE id = ?1", [inc.id])?;
            Status::Answered
        } else {
            inc.status
        };
        self.history(
            inc.id,
            now,
            "glas",
            "public_answer",
            status,
            None,
            json!({"url": e.url, "published_at": stamp(at), "mention": e.id, "snippet": e.snippet,
                   "from": inc.status.as_str(), "how": how}),
        )
    }

    fn held(&self, id: i64) -> Result<Vec<String>> {
        let mut st = self.t.prepare("SELECT mention FROM incident_mentions WHERE incident = ?1").map_err(self.err())?;
        let rows = st.query_map([id], |r| r.get(0)).map_err(self.err())?;
        rows.collect::<rusqlite::Result<Vec<String>>>().map_err(self.err())
    }

    fn evidence(&self, id: i64) -> Result<Vec<Evidence>> {
        evidence_of(self.t, id).map_err(self.err())
    }

    /// The open incident on a topic and place that a complaint published at
    /// `at` joins: its last complaint within the join window before `at`.
    fn open_for(&self, topic: Option<&str>, place: Option<&str>, at: DateTime<Utc>) -> Result<Option<i64>> {
        let since = stamp(at - self.inc.settings.join_window);
        self.opt_i64(
            "SELECT id FROM incidents WHERE topic IS ?1 AND place IS ?2 AND merged_into IS NULL \
             AND status NOT IN ('resolved', 'rejected') AND last_complaint_at >= ?3 \
             ORDER BY last_complaint_at DESC LIMIT 1",
            params![topic, place, since],
        )
    }

    /// Appends one history line: every column of it is an argument, named
    /// at each call, rather than a struct built for one call.
    #[allow(clippy::too_many_arguments)]
    fn history(
        &self,
        id: i64,
        at: DateTime<Utc>,
        who: &str,
        action: &str,
        status: Status,
        comment: Option<&str>,
        data: serde_json::Value,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO incident_history(incident, at, who, action, status, comment, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, stamp(at), who, action, status.as_str(), comment, data.to_string()],
        )
        .map(drop)
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_incident(
        &self,
        topic: &Option<String>,
        place: &Option<String>,
        severity: Severity,
        service: &str,
        episode: Option<&str>,
        evidence: &[Evidence],
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let first = evidence.iter().map(|e| e.published_at).min().unwrap_or(now);
        let last = evidence.iter().map(|e| e.published_at).max().unwrap_or(now);
        let (reaction, resolution) = self.inc.settings.deadlines(topic.as_deref(), severity);
        let cal = &self.inc.calendar;
        // Deadlines run from the moment glas knew of the problem: the
        // incident's creation (not a post from before it was crawled).
        let reaction_due = cal.add(now, cal.working(reaction));
        let resolution_due = cal.add(now, cal.working(resolution));
        self.exec(
            "INSERT INTO incidents(title, topic, place, severity, status, service, episode, created_at, first_complaint_at, \
             last_complaint_at, reaction_due, resolution_due, updated_at) \
             VALUES (?1, ?2, ?3, ?4, 'assigned', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?7)",
            params![
                self.inc.title(topic.as_deref(), place.as_deref()),
                topic,
                place,
                severity.as_str(),
                service,
                episode,
                stamp(now),
                stamp(first),
                stamp(last),
                stamp(reaction_due),
                stamp(resolution_due),
            ],
        )?;
        Ok(self.t.last_insert_rowid())
    }

    /// What a `created` history entry records: everything the KPIs need.
    fn created_data(&self, id: i64, origin: &str) -> Result<serde_json::Value> {
        let i = self.incident(id)?;
        Ok(json!({
            "origin": origin,
            "topic": i.topic,
            "place": i.place,
            "severity": i.severity.as_str(),
            "service": i.service,
            "episode": i.episode,
            "first_complaint_at": stamp(i.first_complaint_at),
            "reaction_due": stamp(i.reaction_due),
            "resolution_due": stamp(i.resolution_due),
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        actor: &Actor,
        topic: Option<&str>,
        place: Option<&str>,
        severity: Severity,
        evidence: &[Evidence],
        episode: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let route = self.inc.settings.route(topic, place).ok_or_else(|| {
            IncidentError::Invalid("нет службы для этого инцидента: добавьте [[routing]] по умолчанию".into())
        })?;
        let (topic, place) = (topic.map(str::to_string), place.map(str::to_string));
        let id = self.insert_incident(&topic, &place, severity, &route.service, episode, evidence, now)?;
        for e in evidence {
            insert_mention(self.t, id, e).map_err(self.err())?;
        }
        let origin = if episode.is_some() { "episode" } else { "manual" };
        let mut data = self.created_data(id, origin)?;
        data["mentions"] = json!(evidence.len());
        self.history(id, now, &actor.name, "created", Status::New, None, data)?;
        self.history(id, now, &actor.name, "assigned", Status::Assigned, None, json!({"service": route.service}))?;
        let inc = self.incident(id)?;
        self.queue(&inc, MailKind::Assigned, now)?;
        Ok(id)
    }

    /// Adds a mention; `repeat` marks a complaint that came back after a
    /// resolution.
    fn add_mention(&self, id: i64, e: &Evidence, now: DateTime<Utc>, repeat: bool) -> Result<bool> {
        let added = insert_mention(self.t, id, e).map_err(self.err())?;
        if added {
            let inc = self.incident(id)?;
            self.exec(
                "UPDATE incidents SET last_complaint_at = MAX(last_complaint_at, ?2), \
                 first_complaint_at = MIN(first_complaint_at, ?2), updated_at = ?3 WHERE id = ?1",
                params![id, stamp(e.published_at), stamp(now)],
            )?;
            self.history(
                id,
                now,
                "glas",
                "mention_added",
                inc.status,
                None,
                json!({"mention": e.id, "published_at": stamp(e.published_at), "repeat": repeat}),
            )?;
        }
        Ok(added)
    }

    /// A resolved incident back in work after a repeat complaint: new
    /// deadlines from now, the service told.
    fn reopen(&self, id: i64, complaint_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
        let inc = self.incident(id)?;
        let (reaction, resolution) = self.inc.deadlines_of(&inc);
        let cal = &self.inc.calendar;
        let (rd, sd) = (cal.add(now, reaction), cal.add(now, resolution));
        self.exec(
            "UPDATE incidents SET status = 'assigned', repeats = repeats + 1, resolved_at = NULL, reacted_at = NULL, \
             public_answer_url = NULL, public_answer_at = NULL, reaction_due = ?2, resolution_due = ?3, updated_at = ?4 \
             WHERE id = ?1",
            params![id, stamp(rd), stamp(sd), stamp(now)],
        )?;
        self.history(
            id,
            now,
            "glas",
            "reopened",
            Status::Assigned,
            None,
            json!({"repeat": true, "complaint_at": stamp(complaint_at), "reaction_due": stamp(rd),
                   "resolution_due": stamp(sd), "from": inc.status.as_str()}),
        )?;
        let inc = self.incident(id)?;
        self.queue(&inc, MailKind::Reopened, now)?;
        Ok(())
    }

    fn move_mentions(&self, from: i64, to: i64, only: Option<&[String]>) -> Result<usize> {
        let ids = match only {
            Some(list) => list.to_vec(),
            None => self.held(from)?,
        };
        for m in &ids {
            self.exec(
                "INSERT OR IGNORE INTO incident_mentions(incident, mention, published_at, url, source, snippet) \
                 SELECT ?2, mention, published_at, url, source, snippet FROM incident_mentions WHERE incident = ?1 AND mention = ?3",
                params![from, to, m],
            )?;
            self.exec("DELETE FROM incident_mentions WHERE incident = ?1 AND mention = ?2", params![from, m])?;
        }
        self.refresh_complaint_times(to)?;
        Ok(ids.len())
    }

    fn refresh_complaint_times(&self, id: i64) -> Result<()> {
        self.exec(
            "UPDATE incidents SET \
             first_complaint_at = COALESCE((SELECT MIN(published_at) FROM incident_mentions WHERE incident = ?1), first_complaint_at), \
             last_complaint_at = COALESCE((SELECT MAX(published_at) FROM incident_mentions WHERE incident = ?1), last_complaint_at) \
             WHERE id = ?1",
            [id],
        )
        .map(drop)
    }

    /// Queues the email a change causes, once per cause; returns whether it
    /// was new.
    fn queue(&self, inc: &Incident, kind: MailKind, now: DateTime<Utc>) -> Result<bool> {
        let evidence = self.evidence(inc.id)?;
        let m = mail::compose(self.inc, inc, kind, &evidence, now);
        if m.to.is_empty() {
            return Ok(false);
        }
        let n = self.exec(
            "INSERT OR IGNORE INTO incident_mail(key, incident, kind, recipients, subject, text, html, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                m.key,
                inc.id,
                m.kind,
                serde_json::to_string(&m.to).expect("addresses serialize"),
                m.subject,
                m.text,
                m.html,
                stamp(now)
            ],
        )?;
        Ok(n == 1)
    }
}
