//! A consistent copy of a data dir while its writer (`glas run`) works
//! (`glas backup`), and its restoration into a new folder (`glas restore`).
//!
//! The copy is taken in an order that keeps everything in it pointing inside
//! the log it holds:
//!
//! 1. the small state files (checkpoints, alert and report state, analytics,
//!    the outbox, reports, the audit log): their writers replace them
//!    atomically, so a copy is the old or the new version; an append-only
//!    `.jsonl` file is cut at its last whole line;
//! 2. the SQLite databases (accounts, incidents, the media plan, engagement),
//!    each by `VACUUM INTO`: a snapshot of one transaction, its WAL included;
//! 3. the log's committed parts, listed as readers list them (a compaction in
//!    progress honoured); a day whose parts a merge replaced during the copy
//!    is copied again.
//!
//! So the checkpoints in a backup never claim more than its log holds: a
//! restored service refetches at most what came after, and the store's
//! dedup by id drops what it already has. The search index is not copied:
//! restoring rebuilds it from the log.
//!
//! `MANIFEST.json`, written last and atomically, lists every file with its
//! size and SHA-256; a folder without it is an incomplete backup, and a file
//! that does not match it is refused at restore. Restoring writes into a
//! temporary sibling of the target and renames it into place, so a restore
//! killed half-way leaves no half-restored store (the next restore removes
//! the leftover).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use glas_core::logparts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's file name in a backup folder.
pub const MANIFEST: &str = "MANIFEST.json";

/// The folder of the data dir's copy inside a backup.
pub const DATA: &str = "data";

/// The pipeline file's copy inside a backup.
pub const PIPELINE: &str = "pipeline.toml";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("failed to {action} '{}': {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Refused(String),
    #[error("the backup in '{}' is damaged: {reason}", path.display())]
    Damaged { path: PathBuf, reason: String },
    #[error("failed to copy the database '{}': {reason}", path.display())]
    Database { path: PathBuf, reason: String },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |source| BackupError::Io { action, path: path.to_path_buf(), source }
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// When the copy began (RFC 3339, UTC).
    pub started: String,
    /// When it was complete.
    pub finished: String,
    /// The glas version that wrote it.
    pub version: String,
    /// The data dir it was taken from, as given.
    pub source: String,
    /// Log parts copied.
    pub parts: usize,
    /// Every file, by its path under the backup folder ('/' separated).
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub bytes: u64,
    pub sha256: String,
}

/// Copies the data dir `data` (and the pipeline file, if given) into `dest`,
/// which must not exist or be empty. Needs no lock: it runs beside the writer.
pub fn backup(data: &Path, pipeline: Option<&Path>, dest: &Path, version: &str) -> Result<Manifest, BackupError> {
    if !data.join("log").is_dir() {
        return Err(BackupError::Refused(format!("'{}' holds no glas store (no log folder)", data.display())));
    }
    empty_or_absent(dest, "the backup folder")?;
    let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let out = dest.join(DATA);
    std::fs::create_dir_all(&out).map_err(io("create", &out))?;
    let mut files = BTreeMap::new();
    if let Some(p) = pipeline {
        let entry = copy_hashed(p, &dest.join(PIPELINE)).map_err(io("copy the pipeline file", p))?;
        files.insert(PIPELINE.to_string(), entry);
    }

    // 1 and 2: everything but the log and the index; databases last.
    let mut databases = Vec::new();
    for path in walk(data, &["log", "index"])?.0 {
        let rel = path.strip_prefix(data).expect("walked under data").to_path_buf();
        if skipped(&rel) {
            continue;
        }
        if is_sqlite(&path)? {
            databases.push(rel);
            continue;
        }
        let target = out.join(&rel);
        make_parent(&target)?;
        let entry = if path.extension().is_some_and(|e| e == "jsonl") {
            copy_whole_lines(&path, &target)?
        } else {
            match copy_hashed(&path, &target) {
                Ok(entry) => entry,
                // Replaced or removed by the writer between the listing and
                // the copy (an outbox message sent, a temporary file).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("copy", &path)(e)),
            }
        };
        files.insert(key(DATA, &rel), entry);
    }
    for rel in databases {
        let target = out.join(&rel);
        make_parent(&target)?;
        vacuum_into(&data.join(&rel), &target)?;
        File::open(&target).and_then(|f| f.sync_all()).map_err(io("sync", &target))?;
        files.insert(key(DATA, &rel), entry(&target)?);
    }

    // 3: the log.
    let log = data.join("log");
    let under_log = |p: &logparts::PartFile| Path::new("log").join(p.path.strip_prefix(&log).expect("part under log"));
    let mut copied: BTreeMap<u64, (logparts::PartFile, FileEntry)> = BTreeMap::new();
    let mut settled = false;
    for _ in 0..10 {
        let parts = logparts::list(&log).map_err(io("list the log parts of", &log))?;
        let mut lost = false;
        for p in &parts {
            if copied.contains_key(&p.seq) {
                continue;
            }
            let target = out.join(under_log(p));
            make_parent(&target)?;
            match copy_hashed(&p.path, &target) {
                Ok(entry) => {
                    copied.insert(p.seq, (p.clone(), entry));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => lost = true,
                Err(e) => return Err(io("copy", &p.path)(e)),
            }
        }
        // Parts a merge replaced meanwhile: copy their days again.
        let now: BTreeSet<u64> =
            logparts::list(&log).map_err(io("list the log parts of", &log))?.iter().map(|p| p.seq).collect();
        let merged_days: BTreeSet<chrono::NaiveDate> =
            copied.values().filter(|(p, _)| !now.contains(&p.seq)).map(|(p, _)| p.day).collect();
        if merged_days.is_empty() && !lost {
            settled = true;
            break;
        }
        copied.retain(|_, (p, _)| {
            let redo = merged_days.contains(&p.day);
            if redo {
                let _ = std::fs::remove_file(out.join(under_log(p)));
            }
            !redo
        });
    }
    if !settled {
        return Err(BackupError::Refused(
            "the log kept changing under the copy (ten tries); try again when the service is between rounds".into(),
        ));
    }
    let parts = copied.len();
    for (p, entry) in copied.into_values() {
        files.insert(key(DATA, &under_log(&p)), entry);
    }

    let manifest = Manifest {
        started,
        finished: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        version: version.to_string(),
        source: data.display().to_string(),
        parts,
        files,
    };
    sync_dirs(dest)?;
    let text = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    let path = dest.join(MANIFEST);
    crate::write_atomic(&path, &text).map_err(io("write", &path))?;
    sync(dest)?;
    Ok(manifest)
}

/// Checks the backup in `src` against its manifest and copies its data into
/// `data`, which must not exist or be empty. The caller opens the store
/// afterwards, which rebuilds the index.
pub fn restore(src: &Path, data: &Path) -> Result<Manifest, BackupError> {
    let manifest = read_manifest(src)?;
    empty_or_absent(data, "the folder to restore into")?;
    let staging = staging_of(data);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io("remove the leftover of a stopped restore", &staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io("create", &staging))?;
    if let Err(e) = stage(src, &manifest, &staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if data.exists() {
        std::fs::remove_dir(data).map_err(io("replace the empty folder", data))?;
    }
    std::fs::rename(&staging, data).map_err(io("move the restored store into", data))?;
    if let Some(parent) = data.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync(parent)?;
    }
    Ok(manifest)
}

/// Copies the backup's data into `staging`, each file checked against the
/// manifest.
fn stage(src: &Path, manifest: &Manifest, staging: &Path) -> Result<(), BackupError> {
    let prefix = format!("{DATA}/");
    for (name, want) in &manifest.files {
        let Some(rel) = name.strip_prefix(&prefix) else { continue };
        let from = src.join(DATA).join(rel);
        let to = staging.join(rel);
        make_parent(&to)?;
        let got = match copy_hashed(&from, &to) {
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(damaged(src, format!("'{name}' is missing")));
            }
            Err(e) => return Err(io("copy", &from)(e)),
        };
        if &got != want {
            return Err(damaged(
                src,
                format!("'{name}' does not match the manifest ({} bytes, expected {})", got.bytes, want.bytes),
            ));
        }
    }
    sync_dirs(staging)
}

/// The manifest of a complete backup.
pub fn read_manifest(src: &Path) -> Result<Manifest, BackupError> {
    let path = src.join(MANIFEST);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(damaged(src, format!("no {MANIFEST}: not a glas backup, or one that did not finish")));
        }
        Err(e) => return Err(io("read", &path)(e)),
    };
    serde_json::from_slice(&text).map_err(|e| damaged(src, format!("{MANIFEST} is not valid: {e}")))
}

fn damaged(src: &Path, reason: String) -> BackupError {
    BackupError::Damaged { path: src.to_path_buf(), reason }
}

/// Where a restore into `data` is staged.
fn staging_of(data: &Path) -> PathBuf {
    let mut name = data.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".restoring");
    data.with_file_name(name)
}

fn empty_or_absent(dir: &Path, what: &str) -> Result<(), BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                Err(BackupError::Refused(format!(
                    "{what} '{}' is not empty; give a new or empty folder",
                    dir.display()
                )))
            } else {
                Ok(())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("read", dir)(e)),
    }
}

/// Files a backup leaves out: the writer's lock, files being written, SQLite
/// side files (the snapshot includes them).
fn skipped(rel: &Path) -> bool {
    let name = rel.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    name == "store.lock"
        || name.ends_with(".tmp")
        || name.ends_with("-wal")
        || name.ends_with("-shm")
        || name.ends_with("-journal")
}

fn is_sqlite(path: &Path) -> Result<bool, BackupError> {
    let mut head = [0u8; 16];
    match File::open(path).and_then(|mut f| f.read_exact(&mut head)) {
        Ok(()) => Ok(&head == b"SQLite format 3\0"),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::NotFound) => Ok(false),
        Err(e) => Err(io("read", path)(e)),
    }
}

fn vacuum_into(from: &Path, to: &Path) -> Result<(), BackupError> {
    let fail = |e: rusqlite::Error| BackupError::Database { path: from.to_path_buf(), reason: e.to_string() };
    let db = rusqlite::Connection::open(from).map_err(fail)?;
    db.busy_timeout(std::time::Duration::from_secs(30)).map_err(fail)?;
    db.execute("VACUUM INTO ?1", [to.to_string_lossy()]).map_err(fail)?;
    Ok(())
}

/// Copies an append-only file up to its last whole line (a writer may be
/// half-way through the next), synced; returns the copy's entry.
fn copy_whole_lines(from: &Path, to: &Path) -> Result<FileEntry, BackupError> {
    let bytes = std::fs::read(from).map_err(io("read", from))?;
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut f = File::create(to).map_err(io("create", to))?;
    f.write_all(&bytes[..end]).and_then(|()| f.sync_all()).map_err(io("write", to))?;
    Ok(FileEntry::of(&bytes[..end]))
}

impl FileEntry {
    fn of(bytes: &[u8]) -> FileEntry {
        let mut h = Sha256::new();
        h.update(bytes);
        FileEntry::finish(h, bytes.len() as u64)
    }

    fn finish(h: Sha256, bytes: u64) -> FileEntry {
        FileEntry { bytes, sha256: h.finalize().iter().map(|b| format!("{b:02x}")).collect() }
    }
}

/// Copies `from` to `to` in one pass, hashing what it copies, and syncs the
/// copy: each file is read once for both.
fn copy_hashed(from: &Path, to: &Path) -> std::io::Result<FileEntry> {
    let mut src = File::open(from)?;
    let mut dst = File::create(to)?;
    let (mut h, mut bytes, mut buf) = (Sha256::new(), 0u64, vec![0u8; 1 << 16]);
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
        bytes += n as u64;
    }
    dst.sync_all()?;
    Ok(FileEntry::finish(h, bytes))
}

/// The entry of a file already written (a database's snapshot).
fn entry(path: &Path) -> Result<FileEntry, BackupError> {
    let bytes = std::fs::read(path).map_err(io("read", path))?;
    Ok(FileEntry::of(&bytes))
}

fn key(prefix: &str, rel: &Path) -> String {
    let mut k = prefix.to_string();
    for c in rel.components() {
        k.push('/');
        k.push_str(&c.as_os_str().to_string_lossy());
    }
    k
}

/// Every regular file under `dir` (sorted) and every folder (`dir` first),
/// leaving out the top-level folders `skip`. A folder removed meanwhile is
/// passed over.
fn walk(dir: &Path, skip: &[&str]) -> Result<(Vec<PathBuf>, Vec<PathBuf>), BackupError> {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && d != dir => continue,
            Err(e) => return Err(io("read", &d)(e)),
        };
        for e in entries {
            let e = e.map_err(io("read", &d))?;
            let t = e.file_type().map_err(io("read", &e.path()))?;
            if t.is_dir() && !(d == dir && skip.iter().any(|s| e.file_name() == **s)) {
                stack.push(e.path());
            } else if t.is_file() {
                files.push(e.path());
            }
        }
        dirs.push(d);
    }
    files.sort();
    Ok((files, dirs))
}

fn make_parent(path: &Path) -> Result<(), BackupError> {
    let parent = path.parent().expect("a file has a folder");
    std::fs::create_dir_all(parent).map_err(io("create", parent))
}

fn sync(dir: &Path) -> Result<(), BackupError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync", dir))
}

/// Syncs every folder under `dir` (each file was synced as it was written),
/// so the manifest is never on disk before what it lists.
fn sync_dirs(dir: &Path) -> Result<(), BackupError> {
    for d in walk(dir, &[])?.1 {
        sync(&d)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_append_only_file_is_cut_at_its_last_whole_line() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a.jsonl"), tmp.path().join("b.jsonl"));
        std::fs::write(&a, "{\"x\":1}\n{\"x\":2}\n{\"x\"").unwrap();
        copy_whole_lines(&a, &b).unwrap();
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "{\"x\":1}\n{\"x\":2}\n");
        std::fs::write(&a, "{\"x\"").unwrap();
        copy_whole_lines(&a, &b).unwrap();
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "");
    }

    #[test]
    fn side_files_and_the_lock_are_left_out() {
        for name in ["store.lock", "checkpoints.json.tmp", "workspace.sqlite-wal", "workspace.sqlite-shm"] {
            assert!(skipped(Path::new(name)), "{name}");
        }
        assert!(!skipped(Path::new("alerts/sent.json")));
        assert_eq!(staging_of(Path::new("/x/data")), Path::new("/x/data.restoring"));
        assert_eq!(key(DATA, Path::new("log/day=2026-11-23/part-1.parquet")), "data/log/day=2026-11-23/part-1.parquet");
    }
}
