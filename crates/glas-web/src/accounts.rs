//! Who may use the workspace: local accounts with roles, login sessions, API
//! tokens and failed logins, in one SQLite database in WAL mode
//! (`DATA/workspace.sqlite`: crash-safe, many readers, one writer at a time),
//! and the audit log (`DATA/audit.jsonl`, append-only, one JSON object per
//! line, flushed to disk before the action it records is answered).
//!
//! Passwords are hashed with Argon2id (the `argon2` crate's defaults: 19 MiB,
//! two passes) and never logged. Session ids and API tokens are 256-bit
//! random strings shown once; the database keeps only their SHA-256, so a
//! copy of it opens no session.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::Digest as _;

/// What an account may do; each role has everything of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A service that answers incidents (Водоканал, the roads department):
    /// sees and updates only its own incidents, nothing else.
    Service,
    /// The head: overview, episodes, reports.
    Viewer,
    /// Plus search, export, saved searches, episode notes.
    Analyst,
    /// Plus accounts and the audit log.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "service" => Some(Role::Service),
            "viewer" => Some(Role::Viewer),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Service => "service",
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// The role's name as the workspace shows it.
    pub fn label_ru(self) -> &'static str {
        match self {
            Role::Service => "служба",
            Role::Viewer => "просмотр",
            Role::Analyst => "аналитик",
            Role::Admin => "администратор",
        }
    }
}

/// The region's other districts an account (or a token) may search beside
/// its own: the regional search covers the workspace's own district and
/// these. Stored as NULL (none), `*` (all, also districts added later) or
/// the districts' ids (their pipeline files' names) joined by commas.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Districts {
    /// Its own district only: no regional search.
    #[default]
    Home,
    /// Every district the workspace is started with.
    All,
    /// These districts' ids.
    Listed(Vec<String>),
}

impl Districts {
    /// `none` (or empty), `all` (or `*`), or ids separated by commas.
    pub fn parse(s: &str) -> Result<Districts, AccountError> {
        let s = s.trim();
        match s {
            "" | "none" => return Ok(Districts::Home),
            "all" | "*" => return Ok(Districts::All),
            _ => {}
        }
        let mut ids: Vec<String> = Vec::new();
        for id in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            check_name(id).map_err(|_| {
                AccountError::Invalid(format!(
                    "district {id:?}: a district is named by its pipeline file's name without .toml \
                     (letters, digits, '.', '_', '-'); or give all, or none"
                ))
            })?;
            if !ids.iter().any(|x| x == id) {
                ids.push(id.to_string());
            }
        }
        Ok(if ids.is_empty() { Districts::Home } else { Districts::Listed(ids) })
    }

    fn stored(&self) -> Option<String> {
        match self {
            Districts::Home => None,
            Districts::All => Some("*".into()),
            Districts::Listed(ids) => Some(ids.join(",")),
        }
    }

    fn from_stored(s: Option<String>) -> Districts {
        s.and_then(|s| Districts::parse(&s).ok()).unwrap_or_default()
    }

    /// Whether another district `id` is covered.
    pub fn covers(&self, id: &str) -> bool {
        match self {
            Districts::Home => false,
            Districts::All => true,
            Districts::Listed(ids) => ids.iter().any(|x| x == id),
        }
    }

    /// As the CLI takes it back: `none`, `all`, or the ids.
    pub fn as_arg(&self) -> String {
        self.stored().map_or("none".into(), |s| if s == "*" { "all".into() } else { s })
    }
}

/// Failed logins of one account within [`LOCK_WINDOW`] that lock it for the
/// rest of the window.
pub const MAX_FAILURES: i64 = 5;
/// How far back failed logins count, and how long a lock lasts.
pub const LOCK_WINDOW: Duration = Duration::minutes(15);
/// How long a session lasts after login (a working day and then some).
pub const SESSION_HOURS: i64 = 12;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Who made a request: an account's session or an API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account's name, or `token:NAME` for an API token.
    pub name: String,
    pub role: Role,
    /// The session's CSRF token (`None` for API tokens, which no browser
    /// sends on its own).
    pub csrf: Option<String>,
    /// The client's address, for the audit log (set by the gate).
    pub ip: Option<String>,
    /// The service an account of the `service` role answers for.
    pub service: Option<String>,
    /// The other districts its regional search covers.
    pub districts: Districts,
}

/// One account, as `glas user list` and the accounts page show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub name: String,
    pub role: String,
    /// The service of a `service` account.
    pub service: Option<String>,
    /// The other districts its regional search covers: `none`, `all` or
    /// ids separated by commas.
    pub districts: String,
    pub disabled: bool,
    pub created: String,
    pub last_login: Option<String>,
}

/// One API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Token {
    pub name: String,
    pub role: String,
    /// As [`User::districts`].
    pub districts: String,
    pub created: String,
    pub revoked: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("account database '{path}': {source}")]
    Db { path: String, source: rusqlite::Error },
    #[error("audit log '{path}': {source}")]
    Audit { path: String, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error("an account named {0:?} already exists")]
    Exists(String),
    #[error("no account named {0:?}")]
    NoSuchUser(String),
    #[error("a token named {0:?} already exists")]
    TokenExists(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefused {
    /// Wrong name or password (the two are not told apart).
    Wrong,
    /// Too many failures lately: locked until then.
    Locked(DateTime<Utc>),
    /// The account database failed: nobody can log in until it is mended.
    Unavailable(String),
}

fn unavailable(e: AccountError) -> LoginRefused {
    LoginRefused::Unavailable(e.to_string())
}

/// The workspace's accounts and audit log.
pub struct Accounts {
    db: Mutex<Connection>,
    db_path: PathBuf,
    audit: Arc<Mutex<AuditFile>>,
    audit_path: PathBuf,
}

/// The audit log's file and whether it holds lines not yet synced.
struct AuditFile {
    file: std::fs::File,
    dirty: bool,
}

/// Events written to the audit log at once but synced by the flusher
/// within [`AUDIT_SYNC`] (a group commit): searches, one per request, would
/// otherwise wait for the disk each. Every other event is synced before
/// its answer.
const LAZY_EVENTS: &[&str] = &["search"];
const AUDIT_SYNC: std::time::Duration = std::time::Duration::from_secs(1);

/// Syncs the audit log while it has unsynced lines, until the accounts go.
fn spawn_audit_flusher(audit: &Arc<Mutex<AuditFile>>) {
    let weak = Arc::downgrade(audit);
    let spawned = std::thread::Builder::new().name("audit-sync".into()).spawn(move || {
        loop {
            std::thread::sleep(AUDIT_SYNC);
            let Some(audit) = weak.upgrade() else { return };
            // The file is synced through a second handle: writers wait for
            // the lock, not for the disk.
            let pending = {
                let mut a = audit.lock().unwrap_or_else(|p| p.into_inner());
                std::mem::take(&mut a.dirty).then(|| a.file.try_clone())
            };
            if let Some(Ok(f)) = pending
                && let Err(e) = f.sync_data()
            {
                tracing::error!(error = %e, "cannot sync the audit log");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the audit log's flusher; searches are synced at once");
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        let a = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        if a.dirty {
            let _ = a.file.sync_data();
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    pub at: String,
    /// Who: an account, `token:NAME`, `cli` (a command on the server), or
    /// the name a failed login gave.
    pub who: String,
    /// What happened: `login`, `login_failed`, `login_locked`, `logout`,
    /// `forbidden`, `search`, `export`, `saved_search_created`,
    /// `saved_search_deleted`, `saved_search_changed`, `user_added`, `user_disabled`,
    /// `user_districts_changed`,
    /// `password_changed`, `token_created`, `token_revoked`, `erasure`,
    /// `erasure_withdrawn`.
    pub event: String,
    /// The details: the query searched or exported, the page refused, the
    /// account changed. Never a password.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn digest(secret: &str) -> String {
    sha2::Sha256::digest(secret.as_bytes()).iter().map(|x| format!("{x:02x}")).collect()
}

fn hasher() -> argon2::Argon2<'static> {
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon2::Params::default())
}

fn hash_password(password: &str) -> Result<String, AccountError> {
    use argon2::password_hash::PasswordHasher as _;
    hasher().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| AccountError::Hash(e.to_string()))
}

fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::password_hash::PasswordVerifier as _;
    argon2::password_hash::phc::PasswordHash::new(stored)
        .is_ok_and(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches, verified against when the name is unknown so
/// that a wrong name takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// Account names: letters, digits, `.`, `_`, `-`, 1 to 64 characters.
pub fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = (1..=64).contains(&name.chars().count())
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::Invalid(format!(
            "name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-' (Russian letters are fine)"
        )))
    }
}

pub fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::Invalid(format!("the password must have at least {MIN_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    last_login TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    csrf TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    created TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS failed_logins (
    name TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS failed_logins_name ON failed_logins(name, at);
CREATE TABLE IF NOT EXISTS episode_notes (
    episode TEXT NOT NULL,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    text TEXT NOT NULL,
    acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS episode_notes_episode ON episode_notes(episode, at);
";

/// A note on a signal's episode (or its acknowledgement), shown to all.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    pub episode: String,
    pub at: String,
    pub who: String,
    /// Empty for a bare acknowledgement.
    pub text: String,
    pub acknowledged: bool,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Accounts {
    /// Opens (creating if needed) the account database and the audit log of
    /// a data folder.
    pub fn open(data_dir: &Path) -> Result<Accounts, AccountError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| AccountError::Audit { path: data_dir.display().to_string(), source })?;
        let db_path = data_dir.join("workspace.sqlite");
        let db_err = |source| AccountError::Db { path: db_path.display().to_string(), source };
        let conn = Connection::open(&db_path).map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db_err)?;
        // FULL: a change answered is on disk, also if the machine loses power.
        conn.pragma_update(None, "synchronous", "FULL").map_err(db_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        // Databases made before service accounts existed get their column.
        let has_service: bool = conn
            .query_row("SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'service'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(db_err)?
            > 0;
        if !has_service {
            conn.execute_batch("ALTER TABLE users ADD COLUMN service TEXT").map_err(db_err)?;
        }
        // ...and before regional search, their districts.
        for table in ["users", "tokens"] {
            let has: bool = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = 'districts'"),
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(db_err)?
                > 0;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN districts TEXT")).map_err(db_err)?;
            }
        }
        let audit_path = data_dir.join("audit.jsonl");
        let audit_err = |source| AccountError::Audit { path: audit_path.display().to_string(), source };
        let mut audit =
            std::fs::OpenOptions::new().create(true).read(true).append(true).open(&audit_path).map_err(audit_err)?;
        // A write cut short by a crash left half a line: end it, so the next
        // entry starts on a line of its own.
        let len = audit.metadata().map_err(audit_err)?.len();
        if len > 0 {
            use std::io::{Read as _, Seek as _};
            let mut last = [0u8; 1];
            audit
                .seek(std::io::SeekFrom::Start(len - 1))
                .and_then(|_| audit.read_exact(&mut last))
                .map_err(audit_err)?;
            if last[0] != b'\n' {
                audit.write_all(b"\n").and_then(|()| audit.sync_data()).map_err(audit_err)?;
            }
        }
        let audit = Arc::new(Mutex::new(AuditFile { file: audit, dirty: false }));
        spawn_audit_flusher(&audit);
        Ok(Accounts { db: Mutex::new(conn), db_path, audit, audit_path })
    }

    fn db<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, AccountError> {
        let mut conn = self.db.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|source| AccountError::Db { path: self.db_path.display().to_string(), source })
    }

    /// Appends one entry to the audit log and syncs it to disk.
    pub fn audit(&self, entry: &AuditEntry) -> Result<(), AccountError> {
        let mut line = serde_json::to_string(entry).expect("an audit entry serializes");
        line.push('\n');
        let mut a = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        let lazy = LAZY_EVENTS.contains(&entry.event.as_str());
        let written = a.file.write_all(line.as_bytes()).and_then(|()| {
            if lazy {
                a.dirty = true;
                Ok(())
            } else {
                // Earlier lazy lines are synced with this one.
                a.dirty = false;
                a.file.sync_data()
            }
        });
        written.map_err(|source| AccountError::Audit { path: self.audit_path.display().to_string(), source })
    }

    /// Records an event now.
    pub fn record(&self, who: &str, event: &str, detail: serde_json::Value, ip: Option<String>) {
        let entry = AuditEntry { at: stamp(Utc::now()), who: who.to_string(), event: event.to_string(), detail, ip };
        if let Err(e) = self.audit(&entry) {
            // The action is not undone, but the failure is loud.
            tracing::error!(error = %e, event, "cannot write the audit log");
        }
    }

    /// The newest `n` entries of the audit log, newest first. Lines that do
    /// not parse (a torn last line after a crash) are skipped.
    pub fn audit_tail(&self, n: usize) -> Result<Vec<AuditEntry>, AccountError> {
        let text = std::fs::read_to_string(&self.audit_path)
            .map_err(|source| AccountError::Audit { path: self.audit_path.display().to_string(), source })?;
        Ok(text.lines().rev().filter_map(|l| serde_json::from_str(l).ok()).take(n).collect())
    }

    pub fn audit_path(&self) -> &Path {
        &self.audit_path
    }

    pub fn add_user(&self, name: &str, role: Role, password: &str) -> Result<(), AccountError> {
        if role == Role::Service {
            return Err(AccountError::Invalid("a service account names its service: add_service_user".into()));
        }
        self.insert_user(name, role, None, password, &Districts::Home)
    }

    /// [`Accounts::add_user`] for an account whose regional search covers
    /// other districts too (in the same statement: the account never exists
    /// without its scope).
    pub fn add_user_covering(
        &self,
        name: &str,
        role: Role,
        password: &str,
        districts: &Districts,
    ) -> Result<(), AccountError> {
        if role < Role::Analyst && *districts != Districts::Home {
            return Err(AccountError::Invalid(format!(
                "only analysts and administrators search: a {} account covers no districts",
                role.as_str()
            )));
        }
        if role == Role::Service {
            return Err(AccountError::Invalid("a service account names its service: add_service_user".into()));
        }
        self.insert_user(name, role, None, password, districts)
    }

    /// An account of the `service` role for one service of the routing.
    pub fn add_service_user(&self, name: &str, service: &str, password: &str) -> Result<(), AccountError> {
        if service.trim().is_empty() {
            return Err(AccountError::Invalid("a service account needs its service's name".into()));
        }
        self.insert_user(name, Role::Service, Some(service.trim()), password, &Districts::Home)
    }

    fn insert_user(
        &self,
        name: &str,
        role: Role,
        service: Option<&str>,
        password: &str,
        districts: &Districts,
    ) -> Result<(), AccountError> {
        check_name(name)?;
        check_password(password)?;
        let hash = hash_password(password)?;
        let added = self.db(|c| {
            c.execute(
                "INSERT INTO users (name, role, hash, created, service, districts) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT(name) DO NOTHING",
                params![name, role.as_str(), hash, stamp(Utc::now()), service, districts.stored()],
            )
        })?;
        if added == 0 {
            return Err(AccountError::Exists(name.to_string()));
        }
        Ok(())
    }

    /// Sets a new password; every session of the account ends.
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), AccountError> {
        check_password(password)?;
        let hash = hash_password(password)?;
        self.change_user(name, "hash", &hash)
    }

    /// Sets the other districts an account's regional search covers; its
    /// sessions end (they carry the old scope).
    pub fn set_districts(&self, name: &str, districts: &Districts) -> Result<(), AccountError> {
        self.change_user(name, "districts", &districts.stored())
    }

    /// Disables an account (it is kept, for the audit log's sake) and ends
    /// its sessions.
    pub fn disable(&self, name: &str) -> Result<(), AccountError> {
        self.change_user(name, "disabled", &1i64)
    }

    /// Sets one column of an account (a name from this file, never from a
    /// request) and ends its sessions, in one transaction.
    fn change_user(&self, name: &str, column: &str, value: &dyn rusqlite::ToSql) -> Result<(), AccountError> {
        let sql = format!("UPDATE users SET {column} = ?2 WHERE name = ?1");
        let changed = self.db(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(&sql, params![name, value])?;
            tx.execute("DELETE FROM sessions WHERE user = ?1", params![name])?;
            tx.commit()?;
            Ok(n)
        })?;
        if changed == 0 {
            return Err(AccountError::NoSuchUser(name.to_string()));
        }
        Ok(())
    }

    pub fn users(&self) -> Result<Vec<User>, AccountError> {
        self.db(|c| {
            let mut st = c.prepare(
                "SELECT name, role, disabled, created, last_login, service, districts FROM users ORDER BY name",
            )?;
            st.query_map([], |r| {
                Ok(User {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    service: r.get(5)?,
                    districts: Districts::from_stored(r.get(6)?).as_arg(),
                    disabled: r.get::<_, i64>(2)? != 0,
                    created: r.get(3)?,
                    last_login: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// Whether any account that is not disabled exists.
    pub fn has_users(&self) -> Result<bool, AccountError> {
        self.db(|c| c.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE disabled = 0)", [], |r| r.get(0)))
    }

    /// Checks a name and password; on success opens a session and returns
    /// its id (the cookie's value) and the principal. Slow by design
    /// (Argon2id): call it off the async threads.
    pub fn login(&self, name: &str, password: &str, now: DateTime<Utc>) -> Result<(String, Principal), LoginRefused> {
        let since = stamp(now - LOCK_WINDOW);
        let failures = self.db(|c| {
            c.query_row(
                "SELECT COUNT(*), MAX(at) FROM failed_logins WHERE name = ?1 AND at > ?2",
                params![name, since],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?)),
            )
        });
        let (failures, last) = failures.map_err(unavailable)?;
        if failures >= MAX_FAILURES {
            let last = last.and_then(|l| DateTime::parse_from_rfc3339(&l).ok()).map_or(now, |t| t.with_timezone(&Utc));
            return Err(LoginRefused::Locked(last + LOCK_WINDOW));
        }
        let row = self
            .db(|c| {
                c.query_row(
                    "SELECT role, hash, disabled, service, districts FROM users WHERE name = ?1",
                    params![name],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)? != 0,
                            r.get::<_, Option<String>>(3)?,
                            Districts::from_stored(r.get(4)?),
                        ))
                    },
                )
                .optional()
            })
            .map_err(unavailable)?;
        let ok = match &row {
            Some((_, hash, disabled, _, _)) => verify_password(password, hash) && !disabled,
            None => {
                verify_password(password, decoy_hash());
                false
            }
        };
        let role = row.as_ref().and_then(|(r, _, _, _, _)| Role::parse(r));
        let (service, districts) = row.map(|(_, _, _, s, d)| (s, d)).unwrap_or_default();
        let (true, Some(role)) = (ok, role) else {
            // A failure that cannot be counted is not answered as a wrong
            // password: the lock depends on the count.
            self.db(|c| c.execute("INSERT INTO failed_logins (name, at) VALUES (?1, ?2)", params![name, stamp(now)]))
                .map_err(unavailable)?;
            if failures + 1 >= MAX_FAILURES {
                return Err(LoginRefused::Locked(now + LOCK_WINDOW));
            }
            return Err(LoginRefused::Wrong);
        };
        let (id, csrf) = (random_token(), random_token());
        let opened = self.db(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM failed_logins WHERE name = ?1 OR at <= ?2", params![name, since])?;
            tx.execute("DELETE FROM sessions WHERE expires <= ?1", params![stamp(now)])?;
            tx.execute(
                "INSERT INTO sessions (id_sha256, user, csrf, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![digest(&id), name, csrf, stamp(now), stamp(now + Duration::hours(SESSION_HOURS))],
            )?;
            tx.execute("UPDATE users SET last_login = ?2 WHERE name = ?1", params![name, stamp(now)])?;
            tx.commit()
        });
        opened.map_err(unavailable)?;
        Ok((id, Principal { name: name.to_string(), role, csrf: Some(csrf), ip: None, service, districts }))
    }

    /// The principal of a live session of an enabled account.
    pub fn session(&self, id: &str, now: DateTime<Utc>) -> Option<Principal> {
        self.db(|c| {
            c.query_row(
                "SELECT s.user, u.role, s.csrf, u.service, u.districts FROM sessions s JOIN users u ON u.name = s.user \
                 WHERE s.id_sha256 = ?1 AND s.expires > ?2 AND u.disabled = 0",
                params![digest(id), stamp(now)],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        Districts::from_stored(r.get(4)?),
                    ))
                },
            )
            .optional()
        })
        .ok()
        .flatten()
        .and_then(|(name, role, csrf, service, districts)| {
            Some(Principal { name, role: Role::parse(&role)?, csrf: Some(csrf), ip: None, service, districts })
        })
    }

    pub fn logout(&self, id: &str) -> Result<(), AccountError> {
        self.db(|c| c.execute("DELETE FROM sessions WHERE id_sha256 = ?1", params![digest(id)])).map(|_| ())
    }

    /// Creates an API token with a role; returns its secret, which is not
    /// stored and cannot be shown again.
    pub fn create_token(&self, name: &str, role: Role) -> Result<String, AccountError> {
        self.create_token_covering(name, role, &Districts::Home)
    }

    /// [`Accounts::create_token`] for a token whose regional search covers
    /// other districts too.
    pub fn create_token_covering(&self, name: &str, role: Role, districts: &Districts) -> Result<String, AccountError> {
        check_name(name)?;
        let secret = format!("glas_{}", random_token());
        let added = self.db(|c| {
            c.execute(
                "INSERT INTO tokens (name, secret_sha256, role, created, districts) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(name) DO NOTHING",
                params![name, digest(&secret), role.as_str(), stamp(Utc::now()), districts.stored()],
            )
        })?;
        if added == 0 {
            return Err(AccountError::TokenExists(name.to_string()));
        }
        Ok(secret)
    }

    /// Revokes a token; false if there is none of that name.
    pub fn revoke_token(&self, name: &str) -> Result<bool, AccountError> {
        self.db(|c| c.execute("UPDATE tokens SET revoked = 1 WHERE name = ?1", params![name])).map(|n| n > 0)
    }

    pub fn tokens(&self) -> Result<Vec<Token>, AccountError> {
        self.db(|c| {
            let mut st = c.prepare("SELECT name, role, created, revoked, districts FROM tokens ORDER BY name")?;
            st.query_map([], |r| {
                Ok(Token {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    districts: Districts::from_stored(r.get(4)?).as_arg(),
                    created: r.get(2)?,
                    revoked: r.get::<_, i64>(3)? != 0,
                })
            })?
            .collect()
        })
    }

    /// Adds a note to an episode (`acknowledged`: the episode is taken up).
    pub fn add_note(&self, episode: &str, who: &str, text: &str, acknowledged: bool) -> Result<(), AccountError> {
        self.db(|c| {
            c.execute(
                "INSERT INTO episode_notes (episode, at, who, text, acknowledged) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![episode, stamp(Utc::now()), who, text, i64::from(acknowledged)],
            )
        })
        .map(|_| ())
    }

    /// The notes of these episodes, oldest first.
    pub fn notes(&self, episodes: &[String]) -> Result<Vec<Note>, AccountError> {
        let mut out = Vec::new();
        self.db(|c| {
            let mut st = c.prepare(
                "SELECT episode, at, who, text, acknowledged FROM episode_notes WHERE episode = ?1 ORDER BY at, rowid",
            )?;
            for e in episodes {
                let rows = st.query_map(params![e], |r| {
                    Ok(Note {
                        episode: r.get(0)?,
                        at: r.get(1)?,
                        who: r.get(2)?,
                        text: r.get(3)?,
                        acknowledged: r.get::<_, i64>(4)? != 0,
                    })
                })?;
                for n in rows {
                    out.push(n?);
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The principal of a live API token.
    pub fn bearer(&self, secret: &str) -> Option<Principal> {
        self.db(|c| {
            c.query_row(
                "SELECT name, role, districts FROM tokens WHERE secret_sha256 = ?1 AND revoked = 0",
                params![digest(secret)],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, Districts::from_stored(r.get(2)?))),
            )
            .optional()
        })
        .ok()
        .flatten()
        .and_then(|(name, role, districts)| {
            let role = Role::parse(&role).filter(|r| *r != Role::Service)?;
            Some(Principal { name: format!("token:{name}"), role, csrf: None, ip: None, service: None, districts })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_sessions_tokens_and_lockout() {
        let tmp = tempfile::tempdir().unwrap();
        let a = Accounts::open(tmp.path()).unwrap();
        assert!(!a.has_users().unwrap());
        assert!(matches!(a.add_user("анна", Role::Analyst, "short"), Err(AccountError::Invalid(_))));
        assert!(matches!(a.add_user("a b", Role::Analyst, "long enough"), Err(AccountError::Invalid(_))));
        a.add_user("анна", Role::Analyst, "верный пароль").unwrap();
        assert!(matches!(a.add_user("анна", Role::Admin, "другой пароль"), Err(AccountError::Exists(_))));
        let now = Utc::now();
        let (id, p) = a.login("анна", "верный пароль", now).unwrap();
        assert_eq!((p.name.as_str(), p.role), ("анна", Role::Analyst));
        assert_eq!(a.session(&id, now), Some(p.clone()));
        assert_eq!(a.session(&id, now + Duration::hours(SESSION_HOURS + 1)), None, "sessions expire");
        assert_eq!(a.session("forged", now), None);
        // The database keeps no session id and no password.
        let raw = std::fs::read(tmp.path().join("workspace.sqlite")).unwrap();
        let wal = std::fs::read(tmp.path().join("workspace.sqlite-wal")).unwrap_or_default();
        for bytes in [&raw, &wal] {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(&id) && !text.contains("верный пароль"));
        }
        a.logout(&id).unwrap();
        assert_eq!(a.session(&id, now), None);

        // Five failures lock the account, even for the right password.
        for i in 0..MAX_FAILURES {
            let r = a.login("анна", "неверный", now);
            assert!(r.is_err());
            if i + 1 < MAX_FAILURES {
                assert_eq!(r.unwrap_err(), LoginRefused::Wrong);
            }
        }
        assert!(matches!(a.login("анна", "верный пароль", now), Err(LoginRefused::Locked(_))));
        // ...until the window has passed.
        assert!(a.login("анна", "верный пароль", now + LOCK_WINDOW + Duration::minutes(1)).is_ok());
        assert_eq!(a.login("никто", "верный пароль", now).unwrap_err(), LoginRefused::Wrong);

        // A new password ends sessions; a disabled account cannot log in.
        let (id, _) = a.login("анна", "верный пароль", now).unwrap();
        a.set_password("анна", "новый пароль 2").unwrap();
        assert_eq!(a.session(&id, now), None);
        a.disable("анна").unwrap();
        assert_eq!(a.login("анна", "новый пароль 2", now).unwrap_err(), LoginRefused::Wrong);
        assert!(matches!(a.disable("никто"), Err(AccountError::NoSuchUser(_))));

        // The districts an account covers travel with its sessions.
        a.add_user("регион", Role::Analyst, "верный пароль").unwrap();
        let (id, p) = a.login("регион", "верный пароль", now).unwrap();
        assert_eq!(p.districts, Districts::Home);
        a.set_districts("регион", &Districts::parse("sosed, kursk,sosed").unwrap()).unwrap();
        assert_eq!(a.session(&id, now), None, "a changed scope ends the sessions");
        let (_, p) = a.login("регион", "верный пароль", now).unwrap();
        assert_eq!(p.districts, Districts::Listed(vec!["sosed".into(), "kursk".into()]));
        assert!(p.districts.covers("kursk") && !p.districts.covers("levokumsky"));
        assert_eq!(a.users().unwrap().iter().find(|u| u.name == "регион").unwrap().districts, "sosed,kursk");
        a.set_districts("регион", &Districts::All).unwrap();
        assert!(a.login("регион", "верный пароль", now).unwrap().1.districts.covers("любой"));
        assert!(matches!(Districts::parse("a b"), Err(AccountError::Invalid(_))));
        let some = Districts::Listed(vec!["sosed".into()]);
        assert!(matches!(
            a.add_user_covering("глава", Role::Viewer, "верный пароль", &some),
            Err(AccountError::Invalid(_))
        ));
        a.add_user_covering("соседи", Role::Analyst, "верный пароль", &some).unwrap();
        assert_eq!(a.login("соседи", "верный пароль", now).unwrap().1.districts, some);
        assert_eq!(Districts::parse(" none ").unwrap(), Districts::Home);
        assert_eq!(Districts::parse("*").unwrap().as_arg(), "all");

        let secret = a.create_token("отчёты", Role::Viewer).unwrap();
        assert_eq!(a.bearer(&secret).map(|p| (p.name, p.role)), Some(("token:отчёты".into(), Role::Viewer)));
        assert!(matches!(a.create_token("отчёты", Role::Viewer), Err(AccountError::TokenExists(_))));
        let regional = a.create_token_covering("регион", Role::Analyst, &Districts::All).unwrap();
        assert_eq!(a.bearer(&regional).unwrap().districts, Districts::All);
        assert!(a.revoke_token("отчёты").unwrap());
        assert_eq!(a.bearer(&secret), None);
        assert!(!a.revoke_token("нет такого").unwrap());
    }

    #[test]
    fn a_broken_account_database_is_not_a_wrong_password() {
        let tmp = tempfile::tempdir().unwrap();
        let a = Accounts::open(tmp.path()).unwrap();
        a.add_user("анна", Role::Analyst, "верный пароль").unwrap();
        let other = Connection::open(tmp.path().join("workspace.sqlite")).unwrap();
        other.execute_batch("DROP TABLE failed_logins").unwrap();
        assert!(matches!(a.login("анна", "верный пароль", Utc::now()), Err(LoginRefused::Unavailable(_))));
    }

    #[test]
    fn the_audit_log_appends_and_survives_a_torn_line() {
        let tmp = tempfile::tempdir().unwrap();
        let a = Accounts::open(tmp.path()).unwrap();
        a.record("анна", "search", serde_json::json!({"q": "вода"}), Some("127.0.0.1".into()));
        // A crash in the middle of a write leaves half a line.
        let mut f = std::fs::OpenOptions::new().append(true).open(a.audit_path()).unwrap();
        f.write_all(b"{\"at\": \"2026-").unwrap();
        drop(f);
        let a = Accounts::open(tmp.path()).unwrap();
        a.record("анна", "logout", serde_json::Value::Null, None);
        let tail = a.audit_tail(10).unwrap();
        assert_eq!(tail.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), ["logout", "search"]);
        assert_eq!(tail[1].detail["q"], "вода");
    }
}
