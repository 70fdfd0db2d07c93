//! Saved searches: those of the pipeline file, those created in the
//! workspace or through the API, and how far each one's digests have got.
//! The workspace's ones and the digest state live in the workspace's SQLite
//! database (`DATA/workspace.sqlite`, WAL, `synchronous=FULL`, the same file
//! as the accounts): many analysts change them at once and the service reads
//! them, and a change answered survives a crash. A data folder of an older
//! glas, with `searches/api.json` and `searches/state.json`, is taken over
//! once (the files are renamed `*.migrated`).
//!
//! A digest covers the mentions stored in log parts after the search's
//! covered sequence number; once it is delivered the number moves to what the
//! index covered when the digest was made. The number only grows, so a
//! mention is never in two digests. A search created through the API starts
//! from the index as it was at creation; one new in the pipeline file starts
//! from the store as it was before the crawl round that first sees it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use glas_core::config::{SavedSearch, plausible_email};
use glas_core::query::QueryError;
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::StoreError;

/// Longest saved-search name accepted.
pub const MAX_NAME_CHARS: usize = 120;
/// Most saved searches the API accepts.
pub const MAX_API_SEARCHES: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiSearch {
    #[serde(flatten)]
    pub search: SavedSearch,
    pub created_at: String,
    /// The log sequence number the index covered at creation.
    pub created_seq: u64,
}

/// A saved search and where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub search: SavedSearch,
    /// `pipeline` (read-only here) or `api`.
    pub origin: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("{0}")]
    Invalid(String),
    #[error("invalid query: {0}")]
    Query(QueryError),
    #[error("a saved search named {0:?} already exists")]
    Exists(String),
    #[error("saved search {0:?} is defined in the pipeline file; change it there")]
    InPipeline(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A search's last digest: when it went out and how many new mentions it
/// announced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LastDigest {
    pub at: String,
    pub mentions: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS saved_searches (
    name TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    recipients TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_seq INTEGER NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS digest_state (
    name TEXT PRIMARY KEY,
    covered INTEGER,
    last_at TEXT,
    last_mentions INTEGER
);
";

/// The pipeline's searches, then the API's whose names it does not take.
fn listed(pipeline: &[SavedSearch], api: &[ApiSearch]) -> Vec<Listed> {
    let mut out: Vec<Listed> = pipeline.iter().map(|s| Listed { search: s.clone(), origin: "pipeline" }).collect();
    for a in api {
        if !pipeline.iter().any(|p| p.name == a.search.name) {
            out.push(Listed { search: a.search.clone(), origin: "api" });
        }
    }
    out
}

/// Whether a search created through the API is named `name`.
fn named(tx: &rusqlite::Transaction<'_>, name: &str) -> rusqlite::Result<bool> {
    Ok(tx.query_row("SELECT 1 FROM saved_searches WHERE name = ?1", [name], |_| Ok(())).optional()?.is_some())
}

/// Moves a search's covered sequence number up to `?2`, never down.
const COVER: &str = "INSERT INTO digest_state (name, covered) VALUES (?1, ?2) \
     ON CONFLICT(name) DO UPDATE SET covered = max(coalesce(covered, 0), excluded.covered)";

/// The files of an older glas, taken over once.
#[derive(Debug, Default, serde::Deserialize)]
struct OldState {
    covered: BTreeMap<String, u64>,
}

pub struct SavedSearches {
    data_dir: PathBuf,
}

/// A search's digests: the sequence number they cover, the last one sent.
type DigestState = (Option<u64>, Option<LastDigest>);

impl SavedSearches {
    pub fn new(data_dir: &Path) -> SavedSearches {
        SavedSearches { data_dir: data_dir.to_path_buf() }
    }

    fn db_path(&self) -> PathBuf {
        self.data_dir.join("workspace.sqlite")
    }

    fn db_error(&self, action: &'static str, e: rusqlite::Error) -> StoreError {
        StoreError::Database { action, path: self.db_path(), reason: e.to_string() }
    }

    /// The database, its tables made and an older folder's files taken over.
    fn open(&self) -> Result<Connection, StoreError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|e| StoreError::io("create data folder", &self.data_dir, e))?;
        let err = |e| self.db_error("open the saved searches", e);
        let mut conn = Connection::open(self.db_path()).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        self.take_over_files(&mut conn)?;
        Ok(conn)
    }

    /// Moves `searches/api.json` and `searches/state.json` of an older glas
    /// into the database, in one transaction, then renames them.
    fn take_over_files(&self, conn: &mut Connection) -> Result<(), StoreError> {
        let dir = self.data_dir.join("searches");
        let (api_path, state_path) = (dir.join("api.json"), dir.join("state.json"));
        if !api_path.exists() && !state_path.exists() {
            return Ok(());
        }
        let read = |path: &Path| -> Result<Option<String>, StoreError> {
            match std::fs::read_to_string(path) {
                Ok(t) => Ok(Some(t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::io("read saved searches", path, e)),
            }
        };
        let corrupt = |path: &Path, e: serde_json::Error| StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("not valid JSON: {e}"),
        };
        let api: Vec<ApiSearch> = match read(&api_path)? {
            Some(t) => serde_json::from_str(&t).map_err(|e| corrupt(&api_path, e))?,
            None => Vec::new(),
        };
        let state: OldState = match read(&state_path)? {
            Some(t) => serde_json::from_str(&t).map_err(|e| corrupt(&state_path, e))?,
            None => OldState::default(),
        };
        let err = |e| self.db_error("take over the saved-search files", e);
        let tx = conn.transaction().map_err(err)?;
        for (i, a) in api.iter().enumerate() {
            tx.execute(
                "INSERT OR IGNORE INTO saved_searches (name, query, recipients, created_at, created_seq, position) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    a.search.name,
                    a.search.query,
                    serde_json::to_string(&a.search.to).expect("serializes"),
                    a.created_at,
                    a.created_seq as i64,
                    i as i64
                ],
            )
            .map_err(err)?;
        }
        for (name, covered) in &state.covered {
            tx.execute(COVER, params![name, *covered as i64]).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        for path in [api_path, state_path] {
            if path.exists() {
                let to = path.with_extension("json.migrated");
                std::fs::rename(&path, &to).map_err(|e| StoreError::io("rename the taken-over file", &path, e))?;
            }
        }
        Ok(())
    }

    /// The searches created in the workspace or through the API, in the
    /// order they were created.
    pub fn api_searches(&self) -> Result<Vec<ApiSearch>, StoreError> {
        let conn = self.open()?;
        let err = |e| self.db_error("read the saved searches", e);
        let mut stmt = conn
            .prepare("SELECT name, query, recipients, created_at, created_seq FROM saved_searches ORDER BY position")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                let to: String = r.get(2)?;
                Ok(ApiSearch {
                    search: SavedSearch {
                        name: r.get(0)?,
                        query: r.get(1)?,
                        to: serde_json::from_str(&to).unwrap_or_default(),
                    },
                    created_at: r.get(3)?,
                    created_seq: r.get::<_, i64>(4)? as u64,
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// The pipeline's searches, then those created through the API.
    pub fn all(&self, pipeline: &[SavedSearch]) -> Result<Vec<Listed>, StoreError> {
        Ok(listed(pipeline, &self.api_searches()?))
    }

    /// The name trimmed, the query, the recipients and the name's freedom
    /// from the pipeline file checked.
    fn checked<'a>(pipeline: &[SavedSearch], search: &'a SavedSearch) -> Result<&'a str, SavedError> {
        let name = search.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(SavedError::Invalid(format!("name must be 1 to {MAX_NAME_CHARS} characters")));
        }
        glas_core::query::parse(&search.query).map_err(SavedError::Query)?;
        if let Some(bad) = search.to.iter().find(|a| !plausible_email(a)) {
            return Err(SavedError::Invalid(format!("{bad:?} is not an email address")));
        }
        if pipeline.iter().any(|p| p.name == name) {
            return Err(SavedError::InPipeline(name.to_string()));
        }
        Ok(name)
    }

    /// Validates and stores a search created through the API.
    pub fn create(&self, pipeline: &[SavedSearch], search: SavedSearch, seq: u64) -> Result<ApiSearch, SavedError> {
        let name = Self::checked(pipeline, &search)?.to_string();
        let mut conn = self.open()?;
        let err = |e| SavedError::Store(self.db_error("save the search", e));
        // Immediate: the count and the insert see the same table, also with
        // another process saving at the same time.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
        let (count, last): (i64, i64) = tx
            .query_row("SELECT count(*), coalesce(max(position), -1) FROM saved_searches", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(err)?;
        if named(&tx, &name).map_err(err)? {
            return Err(SavedError::Exists(name));
        }
        if count as usize >= MAX_API_SEARCHES {
            return Err(SavedError::Invalid(format!("at most {MAX_API_SEARCHES} saved searches")));
        }
        let created = ApiSearch {
            search: SavedSearch { name: name.clone(), ..search },
            created_at: chrono::Utc::now().to_rfc3339(),
            created_seq: seq,
        };
        tx.execute(
            "INSERT INTO saved_searches (name, query, recipients, created_at, created_seq, position) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                name,
                created.search.query,
                serde_json::to_string(&created.search.to).expect("serializes"),
                created.created_at,
                seq as i64,
                last + 1
            ],
        )
        .map_err(err)?;
        // A search once deleted under this name starts afresh.
        tx.execute("DELETE FROM digest_state WHERE name = ?1", [&name]).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(created)
    }

    /// Changes the name, query or recipients of a search created through the
    /// API; `None` when there is no search `name`. Its digests go on from
    /// where they got (under the new name, when renamed).
    pub fn update(
        &self,
        pipeline: &[SavedSearch],
        name: &str,
        search: SavedSearch,
    ) -> Result<Option<ApiSearch>, SavedError> {
        if pipeline.iter().any(|p| p.name == name) {
            return Err(SavedError::InPipeline(name.to_string()));
        }
        let new_name = Self::checked(pipeline, &search)?.to_string();
        let mut conn = self.open()?;
        let err = |e| SavedError::Store(self.db_error("change the search", e));
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
        let found: Option<(String, i64)> = tx
            .query_row("SELECT created_at, created_seq FROM saved_searches WHERE name = ?1", [name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(err)?;
        let Some((created_at, created_seq)) = found else { return Ok(None) };
        if new_name != name {
            if named(&tx, &new_name).map_err(err)? {
                return Err(SavedError::Exists(new_name));
            }
            tx.execute("DELETE FROM digest_state WHERE name = ?1", [&new_name]).map_err(err)?;
            tx.execute("UPDATE digest_state SET name = ?2 WHERE name = ?1", [name, &new_name]).map_err(err)?;
        }
        let to = serde_json::to_string(&search.to).expect("serializes");
        tx.execute(
            "UPDATE saved_searches SET name = ?2, query = ?3, recipients = ?4 WHERE name = ?1",
            params![name, new_name, search.query, to],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Some(ApiSearch {
            search: SavedSearch { name: new_name, ..search },
            created_at,
            created_seq: created_seq as u64,
        }))
    }

    /// Deletes a search created through the API; `false` when there is none.
    pub fn delete(&self, pipeline: &[SavedSearch], name: &str) -> Result<bool, SavedError> {
        if pipeline.iter().any(|p| p.name == name) {
            return Err(SavedError::InPipeline(name.to_string()));
        }
        let mut conn = self.open()?;
        let err = |e| SavedError::Store(self.db_error("delete the search", e));
        let tx = conn.transaction().map_err(err)?;
        let n = tx.execute("DELETE FROM saved_searches WHERE name = ?1", [name]).map_err(err)?;
        if n > 0 {
            tx.execute("DELETE FROM digest_state WHERE name = ?1", [name]).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(n > 0)
    }

    /// Search name → (covered sequence number, last digest).
    fn state(&self) -> Result<BTreeMap<String, DigestState>, StoreError> {
        let conn = self.open()?;
        let err = |e| self.db_error("read the digest state", e);
        let mut stmt = conn.prepare("SELECT name, covered, last_at, last_mentions FROM digest_state").map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                let covered: Option<i64> = r.get(1)?;
                let at: Option<String> = r.get(2)?;
                let mentions: Option<i64> = r.get(3)?;
                let last = at.map(|at| LastDigest { at, mentions: mentions.unwrap_or(0) as u64 });
                Ok((r.get::<_, String>(0)?, (covered.map(|c| c as u64), last)))
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<BTreeMap<_, _>>>().map_err(err)
    }

    /// Where each search's next digest starts: its covered sequence number,
    /// or for a search never digested, its creation (API) or `baseline`.
    pub fn starts(&self, pipeline: &[SavedSearch], baseline: u64) -> Result<Vec<(SavedSearch, u64)>, StoreError> {
        let state = self.state()?;
        let api = self.api_searches()?;
        let mut out = Vec::new();
        for l in listed(pipeline, &api) {
            let start = state.get(&l.search.name).and_then(|s| s.0).unwrap_or_else(|| {
                api.iter().find(|a| a.search.name == l.search.name).map_or(baseline, |a| a.created_seq)
            });
            out.push((l.search, start));
        }
        Ok(out)
    }

    /// Records that `name`'s digests cover the log up to `seq` (never less
    /// than they did).
    pub fn mark_covered(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        let conn = self.open()?;
        conn.execute(COVER, params![name, seq as i64])
            .map(|_| ())
            .map_err(|e| self.db_error("save the digest state", e))
    }

    /// Records a digest delivered: `name`'s digests cover the log up to
    /// `seq`, and the last one, of `mentions` new mentions, went out `at`.
    pub fn mark_sent(
        &self,
        name: &str,
        seq: u64,
        mentions: u64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let conn = self.open()?;
        conn.execute(
            "INSERT INTO digest_state (name, covered, last_at, last_mentions) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(name) DO UPDATE SET covered = max(coalesce(covered, 0), excluded.covered), \
             last_at = excluded.last_at, last_mentions = excluded.last_mentions",
            params![name, seq as i64, at.to_rfc3339(), mentions as i64],
        )
        .map(|_| ())
        .map_err(|e| self.db_error("save the digest state", e))
    }

    /// Each search's last digest sent.
    pub fn last_digests(&self) -> Result<BTreeMap<String, LastDigest>, StoreError> {
        Ok(self.state()?.into_iter().filter_map(|(name, (_, last))| last.map(|l| (name, l))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, query: &str) -> SavedSearch {
        SavedSearch { name: name.into(), query: query.into(), to: vec![] }
    }

    #[test]
    fn create_list_delete_and_state_survive_reopening() {
        let tmp = tempfile::tempdir().unwrap();
        let pipeline = vec![s("Вода", "topic:water")];
        let saved = SavedSearches::new(tmp.path());
        saved.create(&pipeline, s("Дороги", "ямы OR дорога"), 7).unwrap();
        assert!(matches!(saved.create(&pipeline, s("Дороги", "x"), 7), Err(SavedError::Exists(_))));
        assert!(matches!(saved.create(&pipeline, s("Вода", "x"), 7), Err(SavedError::InPipeline(_))));
        assert!(matches!(saved.create(&pipeline, s("Плохой", "(вода"), 7), Err(SavedError::Query(_))));
        let bad_to = SavedSearch { to: vec!["nobody".into()], ..s("Адрес", "вода") };
        assert!(matches!(saved.create(&pipeline, bad_to, 7), Err(SavedError::Invalid(_))));

        let saved = SavedSearches::new(tmp.path());
        let names: Vec<(String, &str)> =
            saved.all(&pipeline).unwrap().into_iter().map(|l| (l.search.name, l.origin)).collect();
        assert_eq!(names, vec![("Вода".to_string(), "pipeline"), ("Дороги".to_string(), "api")]);
        // Never digested: the pipeline one from the baseline, the API one from its creation.
        let starts: Vec<u64> = saved.starts(&pipeline, 3).unwrap().into_iter().map(|(_, n)| n).collect();
        assert_eq!(starts, vec![3, 7]);
        saved.mark_covered("Вода", 12).unwrap();
        saved.mark_covered("Вода", 9).unwrap();
        let starts: Vec<u64> =
            SavedSearches::new(tmp.path()).starts(&pipeline, 3).unwrap().into_iter().map(|(_, n)| n).collect();
        assert_eq!(starts, vec![12, 7]);
        // Edited: renamed, another query and recipient; its digests go on from where they got.
        saved.mark_sent("Дороги", 15, 4, chrono::DateTime::UNIX_EPOCH).unwrap();
        let edited =
            SavedSearch { to: vec!["press@levokumsky.example".into()], ..s(" Дороги и ямы ", "ямы") };
        let got = saved.update(&pipeline, "Дороги", edited.clone()).unwrap().unwrap();
        assert_eq!((got.search.name.as_str(), got.created_seq), ("Дороги и ямы", 7));
        assert_eq!(saved.starts(&pipeline, 3).unwrap()[1], (got.search.clone(), 15));
        assert_eq!(saved.last_digests().unwrap()["Дороги и ямы"].mentions, 4);
        assert!(saved.update(&pipeline, "Нет такого", edited.clone()).unwrap().is_none());
        assert!(matches!(saved.update(&pipeline, "Вода", edited.clone()), Err(SavedError::InPipeline(_))));
        assert!(matches!(saved.update(&pipeline, "Дороги и ямы", s("Вода", "x")), Err(SavedError::InPipeline(_))));
        let bad = s("Дороги и ямы", "(ямы");
        assert!(matches!(saved.update(&pipeline, "Дороги и ямы", bad), Err(SavedError::Query(_))));
        saved.create(&pipeline, s("Дороги", "дорога"), 20).unwrap();
        assert!(matches!(saved.update(&pipeline, "Дороги", edited), Err(SavedError::Exists(_))));
        assert!(saved.delete(&pipeline, "Дороги").unwrap());
        assert!(!saved.delete(&pipeline, "Дороги").unwrap());
        assert!(matches!(saved.delete(&pipeline, "Вода"), Err(SavedError::InPipeline(_))));
    }

    #[test]
    fn an_older_folders_files_are_taken_over_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("searches");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("api.json"),
            r#"[{"name": "Дороги", "query": "ямы", "to": ["a@example.org"], "created_at": "2026-11-01T00:00:00Z", "created_seq": 4}]"#,
        )
        .unwrap();
        std::fs::write(dir.join("state.json"), r#"{"covered": {"Дороги": 9, "Вода": 3}}"#).unwrap();
        let saved = SavedSearches::new(tmp.path());
        let pipeline = vec![s("Вода", "topic:water")];
        let starts = saved.starts(&pipeline, 1).unwrap();
        assert_eq!(starts.iter().map(|(s, n)| (s.name.as_str(), *n)).collect::<Vec<_>>(), [("Вода", 3), ("Дороги", 9)]);
        assert_eq!(saved.api_searches().unwrap()[0].search.to, ["a@example.org"]);
        assert!(!dir.join("api.json").exists() && dir.join("api.json.migrated").exists());
        // Taken over once: the database is the truth from now on.
        saved.delete(&pipeline, "Дороги").unwrap();
        assert!(SavedSearches::new(tmp.path()).api_searches().unwrap().is_empty());
        // A file that is not JSON is an error that names it, and nothing is lost.
        std::fs::write(dir.join("api.json"), "{").unwrap();
        let e = SavedSearches::new(tmp.path()).api_searches().unwrap_err().to_string();
        assert!(e.contains("api.json") && e.contains("not valid JSON"), "{e}");
        assert!(dir.join("api.json").exists());
    }
}
