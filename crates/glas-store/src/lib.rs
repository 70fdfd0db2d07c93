//! glas-store: the store of record and everything derived from it.
//!
//! - [`log`]: the append-only Parquet log, partitioned by day — the only copy
//!   of a mention that matters;
//! - [`index`]: the tantivy search index, derived from the log, rebuilt by
//!   [`Store::reindex`];
//! - [`checkpoints`]: per-source crawl state, saved after the mentions it covers.
//!
//! Ingest is at-least-once and dedup by `id` makes it exactly-once: a part is
//! committed whole (write, sync, rename) before its ids count as seen; the index
//! records the last part it covers and catches up on open. Killing the process
//! at any point and running the same ingest again ends with every mention once
//! in the log and once in the index.
//!
//! One process writes a data dir at a time (an exclusive lock on `store.lock`).

pub mod analyzer;
pub mod backup;
pub mod checkpoints;
pub mod export;
pub mod highlight;
pub mod index;
pub mod log;
pub mod privacy;
pub mod regional;
pub mod saved;
pub mod search;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::Utc;
use glas_core::Record;

pub use checkpoints::Checkpoints;
pub use export::ExportFormat;
pub use glas_core::Checkpoint;
pub use glas_core::query::{self, QueryError};
pub use index::{SearchIndex, StoredMention};
pub use search::{DayTone, FacetCount, Facets, Hit, SearchRequest, SearchResults, Sort, time_window};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to {action} '{}': {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("failed to {action} '{}': {reason}", path.display())]
    Parquet { action: &'static str, path: PathBuf, reason: String },
    #[error("index: failed to {action}: {source}")]
    Index { action: &'static str, source: tantivy::TantivyError },
    #[error("invalid query: {0}")]
    Query(QueryError),
    #[error("failed to write the export: {0}")]
    Export(std::io::Error),
    #[error("store at '{}' is corrupt: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("data dir '{}' is in use by another glas process", path.display())]
    Locked { path: PathBuf },
    #[error("the store at '{}' is open for reading only (another glas process writes it)", path.display())]
    ReadOnly { path: PathBuf },
    #[error("failed to {action} in '{}': {reason}", path.display())]
    Database { action: &'static str, path: PathBuf, reason: String },
}

impl StoreError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io { action, path: path.to_path_buf(), source }
    }
    pub(crate) fn parquet(action: &'static str, path: &Path, e: polars::error::PolarsError) -> StoreError {
        StoreError::Parquet { action, path: path.to_path_buf(), reason: e.to_string() }
    }
    pub(crate) fn index(action: &'static str, source: tantivy::TantivyError) -> StoreError {
        StoreError::Index { action, source }
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new
/// content, never a mix: write a temporary file, sync it, rename it over.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Outcome of one append.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendStats {
    pub new: usize,
    /// Already stored, repeated in the batch, or erased on request.
    pub duplicate: usize,
    /// Older than the retention period: not stored.
    pub expired: usize,
}

/// The pipeline's `[retention]` as ingest applies it: a mention published
/// before `delete_before` is not stored, one before `pseudonymise_before`
/// is stored with its author's pseudonym (the daily pass would do both a day
/// later anyway; an old archive imported must not bring names back).
#[derive(Debug, Clone)]
pub struct IngestRetention {
    pub key: privacy::PseudonymKey,
    pub pseudonymise_before: Option<chrono::DateTime<Utc>>,
    pub delete_before: Option<chrono::DateTime<Utc>>,
}

pub struct Store {
    dir: PathBuf,
    log: log::Log,
    index: SearchIndex,
    /// Every stored id, read from the log the first time dedup needs it:
    /// searches and rebuilds never pay for it.
    ids: std::sync::OnceLock<HashSet<String>>,
    /// The writer's lock; `None` for a reader.
    lock: Option<File>,
    /// Ids erased on request, kept from coming back (writer only).
    blocked: HashSet<String>,
    retention: Option<IngestRetention>,
    /// The last log part added to the index but not committed
    /// ([`Store::append_deferred`]).
    uncommitted: Option<u64>,
}

impl Store {
    /// Opens (or creates) the store in `dir`, removes leftovers of an
    /// interrupted write, and brings the index up to date with the log.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io("create data dir", dir, e))?;
        let lock_path = dir.join("store.lock");
        let lock = File::create(&lock_path).map_err(|e| StoreError::io("create lock", &lock_path, e))?;
        fs2::FileExt::try_lock_exclusive(&lock).map_err(|_| StoreError::Locked { path: dir.to_path_buf() })?;
        let log = log::Log::open(&dir.join("log"))?;
        let index = SearchIndex::open(&dir.join("index"))?;
        let blocked = privacy::blocked_ids(dir)?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            log,
            index,
            ids: std::sync::OnceLock::new(),
            lock: Some(lock),
            blocked,
            retention: None,
            uncommitted: None,
        };
        store.catch_up()?;
        Ok(store)
    }

    /// Opens the store to read it (search, reports), also while another
    /// process (`glas run`) writes it. Nobody writing: it is opened as by
    /// [`Store::open`] (repairs, index caught up), then the lock is let go, so
    /// a long reader (`glas serve`) never keeps the service from starting.
    /// Someone writing: nothing is touched; each search sees the writer's
    /// last commit. Either way, writes fail with [`StoreError::ReadOnly`].
    pub fn open_reader(dir: &Path) -> Result<Store, StoreError> {
        match Store::open(dir) {
            Ok(mut store) => {
                store.lock = None;
                store.index.follow = true;
                Ok(store)
            }
            Err(StoreError::Locked { .. }) => Ok(Store {
                dir: dir.to_path_buf(),
                log: log::Log::open_following(&dir.join("log")),
                index: SearchIndex::open_following(&dir.join("index"))?,
                ids: std::sync::OnceLock::new(),
                lock: None,
                blocked: HashSet::new(),
                retention: None,
                uncommitted: None,
            }),
            Err(e) => Err(e),
        }
    }

    fn writable(&self) -> Result<(), StoreError> {
        if self.lock.is_some() { Ok(()) } else { Err(StoreError::ReadOnly { path: self.dir.clone() }) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log(&self) -> &log::Log {
        &self.log
    }

    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// Applies `[retention]` to what is appended from now on.
    pub fn set_retention(&mut self, retention: Option<IngestRetention>) {
        self.retention = retention;
    }

    /// Keeps these ids from being stored again (an erasure done).
    pub fn block(&mut self, ids: impl IntoIterator<Item = String>) {
        self.blocked.extend(ids);
    }

    /// Lets ids erased by a withdrawn request be stored again.
    pub fn unblock(&mut self, ids: &[String]) {
        for id in ids {
            self.blocked.remove(id);
        }
    }

    fn ids(&self) -> Result<&HashSet<String>, StoreError> {
        if let Some(ids) = self.ids.get() {
            return Ok(ids);
        }
        let loaded = self.log.ids()?;
        Ok(self.ids.get_or_init(|| loaded))
    }

    /// Number of mentions in the log.
    pub fn len(&self) -> Result<usize, StoreError> {
        Ok(self.ids()?.len())
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.ids()?.is_empty())
    }

    pub fn contains(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.ids()?.contains(id))
    }

    /// Commits new records to the log, then to the index. Records whose id is
    /// already stored (or repeated within the batch) are counted and dropped.
    pub fn append(&mut self, records: Vec<Record>) -> Result<AppendStats, StoreError> {
        Ok(self.append_groups(vec![records])?.pop().unwrap_or_default())
    }

    /// Commits several groups of records (one per source, say) together: one
    /// write per day touched and one index commit for all of them, with
    /// new/duplicate counts per group. Duplicates are judged in group order.
    pub fn append_groups(&mut self, groups: Vec<Vec<Record>>) -> Result<Vec<AppendStats>, StoreError> {
        let stats = self.append_to_log(groups)?;
        if let Some(last) = self.uncommitted.take() {
            self.index.commit(last)?;
        }
        Ok(stats)
    }

    /// Like [`Store::append`], but the index's commit waits for
    /// [`Store::commit_index`] (a bulk import commits every few batches: a
    /// commit costs a segment flush and merges). The log is written and
    /// synced as always, so nothing is lost if the process dies before
    /// that commit: opening the store indexes the log parts the index's
    /// last commit does not cover. Searches do not see these mentions
    /// until the commit.
    pub fn append_deferred(&mut self, records: Vec<Record>) -> Result<AppendStats, StoreError> {
        Ok(self.append_to_log(vec![records])?.pop().unwrap_or_default())
    }

    /// Commits what [`Store::append_deferred`] added to the index.
    pub fn commit_index(&mut self) -> Result<(), StoreError> {
        match self.uncommitted.take() {
            Some(last) => self.index.commit(last),
            None => Ok(()),
        }
    }

    /// Writes new records to the log and adds them to the index (not
    /// committed: `uncommitted` holds the last log part added).
    fn append_to_log(&mut self, groups: Vec<Vec<Record>>) -> Result<Vec<AppendStats>, StoreError> {
        self.writable()?;
        let mut all_stats = Vec::with_capacity(groups.len());
        let mut fresh = Vec::with_capacity(groups.iter().map(Vec::len).sum());
        self.ids()?;
        let ids = self.ids.get_mut().expect("loaded above");
        let mut batch_ids = HashSet::new();
        let retention = self.retention.as_ref();
        let older = |r: &Record, cut: Option<chrono::DateTime<Utc>>| cut.is_some_and(|c| r.mention.published_at < c);
        for records in groups {
            let mut stats = AppendStats::default();
            for mut r in records {
                if retention.is_some_and(|k| older(&r, k.delete_before)) {
                    stats.expired += 1;
                } else if ids.contains(&r.mention.id)
                    || self.blocked.contains(&r.mention.id)
                    || !batch_ids.insert(r.mention.id.clone())
                {
                    stats.duplicate += 1;
                } else {
                    if let Some(k) = retention.filter(|k| older(&r, k.pseudonymise_before))
                        && let Some(a) = &r.mention.author
                    {
                        r.mention.author = Some(k.key.pseudonym(a));
                    }
                    stats.new += 1;
                    fresh.push(r);
                }
            }
            all_stats.push(stats);
        }
        if fresh.is_empty() {
            return Ok(all_stats);
        }
        let parts = self.log.append(&fresh, Utc::now())?;
        self.ids.get_mut().expect("loaded above").extend(batch_ids);
        let last = parts.last().map_or(0, |p| p.seq);
        // Each record has the number of its day's part, as the log says.
        let seq_of_day: HashMap<chrono::NaiveDate, u64> = parts.iter().map(|p| (p.day, p.seq)).collect();
        let seqs: Vec<u64> =
            fresh.iter().map(|r| seq_of_day[&r.mention.published_at.with_timezone(&Utc).date_naive()]).collect();
        self.index.add(&fresh, &seqs)?;
        self.uncommitted = Some(last);
        Ok(all_stats)
    }

    /// Merges each day's log parts into one (only parts the index already
    /// covers, so it never indexes a mention twice); only days (UTC) before
    /// `before`, when given. Returns (parts merged, parts written).
    pub fn compact(&mut self, before: Option<chrono::NaiveDate>) -> Result<(usize, usize), StoreError> {
        self.writable()?;
        let upto = self.index.indexed_seq()?;
        self.log.compact(upto, before)
    }

    /// Indexes log parts the index has not seen (after a crash between the two).
    fn catch_up(&mut self) -> Result<(), StoreError> {
        let done = self.index.indexed_seq()?;
        let pending: Vec<log::Part> = self.log.parts()?.into_iter().filter(|p| p.seq > done).collect();
        let Some(last) = pending.last().map(|p| p.seq) else { return Ok(()) };
        tracing::info!(parts = pending.len(), "indexing log parts committed after the last index commit");
        for part in &pending {
            let (recs, seqs) = self.log.read_part_with_seqs(part)?;
            self.index.add(&recs, &seqs)?;
        }
        self.index.commit(last)
    }

    /// Rebuilds the index from the log. Returns the number of documents.
    pub fn reindex(&mut self) -> Result<u64, StoreError> {
        self.writable()?;
        self.index.clear()?;
        self.index.set_merging(false)?;
        let parts = self.log.parts()?;
        for part in &parts {
            // A merged part's mentions keep the numbers they were appended
            // with: a saved search's digest must not see them as new again.
            let (recs, seqs) = self.log.read_part_with_seqs(part)?;
            self.index.add_fresh(&recs, &seqs)?;
        }
        self.index.commit(parts.last().map_or(0, |p| p.seq))?;
        self.index.set_merging(true)?;
        Ok(self.index.num_docs())
    }

    /// Every record in the log, in part order.
    pub fn records(&self) -> Result<Vec<Record>, StoreError> {
        self.read_parts(|parts| {
            parts.iter().map(|p| self.log.read_part(p)).collect::<Result<Vec<_>, _>>().map(|v| v.concat())
        })
    }

    /// The records with these ids (say, the evidence of signals), in log
    /// order; ids not in the log are left out.
    pub fn records_with_ids(&self, ids: &HashSet<String>) -> Result<Vec<Record>, StoreError> {
        self.read_parts(|parts| self.log.records_with_ids(parts, ids))
    }

    /// Runs `read` over the log's parts, again while a writer beside this
    /// reader merged parts under it ([`glas_core::logparts::read_consistently`]).
    fn read_parts<T>(&self, read: impl Fn(&[log::Part]) -> Result<T, StoreError>) -> Result<T, StoreError> {
        // The writer merges parts only itself: its list cannot change.
        if self.lock.is_some() {
            return read(&self.log.parts()?);
        }
        let dir = self.log.dir();
        glas_core::logparts::read_consistently(dir, |e| StoreError::io("list log", dir, e), read)
    }

    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults, StoreError> {
        self.index.search(req)
    }

    /// Every mention matching `req`, handed to `each` (see [`SearchIndex::export`]).
    pub fn export(
        &self,
        req: &SearchRequest,
        each: impl FnMut(StoredMention) -> std::io::Result<()>,
    ) -> Result<usize, StoreError> {
        self.index.export(req, each)
    }

    /// One mention by id, as indexed.
    pub fn get(&self, id: &str) -> Result<Option<StoredMention>, StoreError> {
        self.index.get(id)
    }

    /// The log sequence number the index covers: saved searches remember it.
    pub fn indexed_seq(&self) -> Result<u64, StoreError> {
        self.index.indexed_seq()
    }

    pub fn checkpoints(&self) -> Result<Checkpoints, StoreError> {
        Checkpoints::load(&self.dir.join("checkpoints.json"))
    }
}
