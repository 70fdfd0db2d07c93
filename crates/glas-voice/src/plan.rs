//! The media plan in `DATA/workspace.sqlite`: rows added one by one in the
//! workspace or imported from a file (an import replaces the rows of the
//! days it covers, in one transaction: a plan is never half imported).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("media plan database '{path}': {source}")]
    Db { path: String, source: rusqlite::Error },
    /// A row that cannot be kept, said in Russian for the person who wrote it.
    #[error("{0}")]
    Invalid(String),
}

/// One planned publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRow {
    /// 0 until stored.
    #[serde(default)]
    pub id: i64,
    /// The day (or the first day of the range) it is planned for.
    pub from: NaiveDate,
    /// The last day of the range (the same day for a single date).
    pub to: NaiveDate,
    /// Where: an own source's id or name; empty for any own channel.
    pub channel: String,
    /// A topic code of the taxonomy, or empty.
    pub topic: String,
    /// What is to be published.
    pub subject: String,
    /// Who answers for it.
    pub responsible: String,
}

impl PlanRow {
    /// Its days as a table shows them: "23.11", or "23.11–25.11".
    pub fn days_label(&self) -> String {
        if self.from == self.to {
            self.from.format("%d.%m").to_string()
        } else {
            format!("{}–{}", self.from.format("%d.%m"), self.to.format("%d.%m"))
        }
    }

    /// Checks a row as a person would be told.
    pub fn check(&self) -> Result<(), String> {
        if self.to < self.from {
            return Err(format!("дата окончания {} раньше начала {}", self.to, self.from));
        }
        if (self.to - self.from).num_days() > 92 {
            return Err("период длиннее трёх месяцев: разбейте его на строки".into());
        }
        if self.subject.trim().is_empty() {
            return Err("не указано, что публикуется (материал)".into());
        }
        for (name, v, max) in
            [("материал", &self.subject, 500), ("канал", &self.channel, 200), ("ответственный", &self.responsible, 200)]
        {
            if v.chars().count() > max {
                return Err(format!("{name} длиннее {max} символов"));
            }
        }
        Ok(())
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS media_plan (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    day_from TEXT NOT NULL,
    day_to TEXT NOT NULL,
    channel TEXT NOT NULL,
    topic TEXT NOT NULL,
    subject TEXT NOT NULL,
    responsible TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS media_plan_days ON media_plan(day_from, day_to);
CREATE TABLE IF NOT EXISTS media_plan_reminders (
    plan INTEGER PRIMARY KEY,
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS engagement (
    mention TEXT NOT NULL,
    source TEXT NOT NULL,
    published_at TEXT NOT NULL,
    at TEXT NOT NULL,
    views INTEGER,
    likes INTEGER,
    comments INTEGER,
    shares INTEGER,
    PRIMARY KEY (mention, at)
);
CREATE TABLE IF NOT EXISTS audience (
    source TEXT NOT NULL,
    at TEXT NOT NULL,
    members INTEGER NOT NULL,
    PRIMARY KEY (source, at)
);
";

/// Inserts one row, trimmed.
fn insert(c: &Connection, r: &PlanRow, who: &str, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    c.execute(
        "INSERT INTO media_plan(day_from, day_to, channel, topic, subject, responsible, added_by, added_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            r.from.to_string(),
            r.to.to_string(),
            r.channel.trim(),
            r.topic.trim(),
            r.subject.trim(),
            r.responsible.trim(),
            who,
            now.to_rfc3339()
        ],
    )
}

/// The own voice's tables in the workspace database: the media plan, its
/// reminders, and the engagement captures of the own channels (see
/// `engagement.rs`).
pub struct MediaPlan {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<PlanRow> {
    let day = |i: usize| -> rusqlite::Result<NaiveDate> {
        let s: String = r.get(i)?;
        s.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
    };
    Ok(PlanRow {
        id: r.get(0)?,
        from: day(1)?,
        to: day(2)?,
        channel: r.get(3)?,
        topic: r.get(4)?,
        subject: r.get(5)?,
        responsible: r.get(6)?,
    })
}

impl MediaPlan {
    pub fn open(data_dir: &Path) -> Result<MediaPlan, PlanError> {
        let path = data_dir.join("workspace.sqlite");
        let db = |source| PlanError::Db { path: path.display().to_string(), source };
        std::fs::create_dir_all(data_dir).map_err(|e| PlanError::Invalid(e.to_string()))?;
        let conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(MediaPlan { conn: Mutex::new(conn), path })
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, PlanError> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c).map_err(|source| PlanError::Db { path: self.path.display().to_string(), source })
    }

    /// Rows planned on days that meet `[from, to]`, in date order.
    pub fn rows(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<PlanRow>, PlanError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, day_from, day_to, channel, topic, subject, responsible FROM media_plan \
                 WHERE day_from <= ?2 AND day_to >= ?1 ORDER BY day_from, id",
            )?;
            let rows = st.query_map(params![from.to_string(), to.to_string()], row)?;
            rows.collect()
        })
    }

    /// Adds one checked row; returns its id.
    pub fn add(&self, r: &PlanRow, who: &str, now: DateTime<Utc>) -> Result<i64, PlanError> {
        r.check().map_err(PlanError::Invalid)?;
        self.with(|c| {
            insert(c, r, who, now)?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Removes a row; false when there was none.
    pub fn delete(&self, id: i64) -> Result<bool, PlanError> {
        self.with(|c| Ok(c.execute("DELETE FROM media_plan WHERE id = ?1", [id])? == 1))
    }

    /// Imports a whole plan in one transaction: the rows already planned on
    /// the days the file covers (its first to its last day) are replaced by
    /// the file's. Returns (rows replaced, rows imported).
    pub fn import(&self, rows: &[PlanRow], who: &str, now: DateTime<Utc>) -> Result<(usize, usize), PlanError> {
        for (i, r) in rows.iter().enumerate() {
            r.check().map_err(|e| PlanError::Invalid(format!("строка {}: {e}", i + 1)))?;
        }
        let (Some(first), Some(last)) = (rows.iter().map(|r| r.from).min(), rows.iter().map(|r| r.to).max()) else {
            return Err(PlanError::Invalid("в плане нет ни одной строки".into()));
        };
        self.with(|c| {
            let tx = c.transaction()?;
            let replaced = tx.execute(
                "DELETE FROM media_plan WHERE day_from >= ?1 AND day_to <= ?2",
                params![first.to_string(), last.to_string()],
            )?;
            for r in rows {
                insert(&tx, r, who, now)?;
            }
            tx.commit()?;
            Ok((replaced, rows.len()))
        })
    }

    /// The rows starting on `day` whose reminder has not gone out.
    pub fn due_reminders(&self, day: NaiveDate) -> Result<Vec<PlanRow>, PlanError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, day_from, day_to, channel, topic, subject, responsible FROM media_plan \
                 WHERE day_from = ?1 AND id NOT IN (SELECT plan FROM media_plan_reminders) ORDER BY id",
            )?;
            let rows = st.query_map([day.to_string()], row)?;
            rows.collect()
        })
    }

    /// Records that the reminder of these rows went out.
    pub fn reminded(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), PlanError> {
        self.with(|c| {
            let tx = c.transaction()?;
            for id in ids {
                tx.execute(
                    "INSERT OR IGNORE INTO media_plan_reminders(plan, sent_at) VALUES (?1, ?2)",
                    params![id, now.to_rfc3339()],
                )?;
            }
            tx.commit()
        })
    }
}
