//! The file layout of the Parquet log, shared by its writer (`glas-store`)
//! and its readers (the analytics jobs): which part files are committed.
//!
//! `log/day=YYYY-MM-DD/part-NNNNNNNNNN.parquet`, `N` a sequence number that
//! grows with every part written. Compaction merges a day's parts into one
//! that takes the largest of their numbers. While it runs, the day holds a
//! journal, [`COMPACTING`], naming the merged part and the parts it
//! replaces; once the merged part is in place (its file being written,
//! [`merging_name`], is gone: renamed into place), the
//! replaced parts are no longer listed by [`list`], even before they are
//! deleted, so a reader that lists the parts never counts a mention twice.
//! (One that listed them a moment before the switch and opens the files
//! after it can still read a day twice or miss a file: [`read_consistently`]
//! reads again when the list changed during its read.)

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Journal of a compaction in progress, in its day's folder.
pub const COMPACTING: &str = "compacting.json";

/// What a compaction in progress writes (`into`) and replaces (`from`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compaction {
    pub into: u64,
    pub from: Vec<u64>,
}

/// One committed part file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFile {
    pub seq: u64,
    pub day: NaiveDate,
    pub path: PathBuf,
}

pub fn part_name(seq: u64) -> String {
    format!("part-{seq:010}.parquet")
}

/// The file a merged part is written to before it is renamed into place.
/// Not `.tmp`: nothing but the compaction's own recovery may delete it, or
/// its absence would read as "in place".
pub fn merging_name(seq: u64) -> String {
    format!("{}.merging", part_name(seq))
}

fn part_seq(path: &Path) -> Option<u64> {
    path.file_name()?.to_str()?.strip_prefix("part-")?.strip_suffix(".parquet")?.parse().ok()
}

/// The compaction journal of a day folder, if one is there and readable.
pub fn compaction(day_dir: &Path) -> Option<Compaction> {
    let text = std::fs::read_to_string(day_dir.join(COMPACTING)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether a journal's merged part is in place (its [`merging_name`] file
/// is gone).
pub fn merged_in_place(day_dir: &Path, c: &Compaction) -> bool {
    !day_dir.join(merging_name(c.into)).exists()
}

/// The entries of a folder, sorted by path.
pub fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<Vec<_>>>()?;
    out.sort();
    Ok(out)
}

/// Every committed part of the log in `dir`, in sequence order. A missing
/// folder is an empty log.
pub fn list(dir: &Path) -> std::io::Result<Vec<PartFile>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut parts = Vec::new();
    for day_dir in sorted_entries(dir)? {
        let Some(day) = day_dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("day="))
            .and_then(|d| d.parse::<NaiveDate>().ok())
        else {
            continue;
        };
        let replaced: Vec<u64> = match compaction(&day_dir) {
            Some(c) if merged_in_place(&day_dir, &c) => c.from.into_iter().filter(|&s| s != c.into).collect(),
            _ => Vec::new(),
        };
        for path in sorted_entries(&day_dir)? {
            if let Some(seq) = part_seq(&path)
                && !replaced.contains(&seq)
            {
                parts.push(PartFile { seq, day, path });
            }
        }
    }
    parts.sort_by_key(|p| p.seq);
    Ok(parts)
}

/// Runs `read` over the committed parts of the log in `dir` and runs it
/// again while the list of parts changed during the read: a writer beside
/// this reader may merge a day's parts meanwhile, so a part listed is gone
/// when read, or a day is read both before and after its merge. A read
/// that succeeded is taken after three tries (a busy writer appends all the
/// time: what it read was whole); one that failed while the list changed
/// is tried up to twenty times. `list_error` turns a failure to list into `E`.
pub fn read_consistently<T, E>(
    dir: &Path,
    list_error: impl Fn(std::io::Error) -> E,
    read: impl Fn(&[PartFile]) -> Result<T, E>,
) -> Result<T, E> {
    let mut attempt = 1;
    loop {
        let parts = list(dir).map_err(&list_error)?;
        let out = read(&parts);
        let settled = list(dir).ok().as_ref() == Some(&parts);
        if settled || (attempt >= 3 && out.is_ok()) || attempt >= 20 {
            return out;
        }
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_replaced_by_a_merged_part_in_place_are_not_listed() {
        let tmp = std::env::temp_dir().join(format!("glas-logparts-{}", std::process::id()));
        let day = tmp.join("day=2026-11-23");
        std::fs::create_dir_all(&day).unwrap();
        for seq in [3, 7, 9] {
            std::fs::write(day.join(part_name(seq)), b"").unwrap();
        }
        std::fs::write(day.join(merging_name(9)), b"").unwrap();
        let journal = Compaction { into: 9, from: vec![3, 7, 9] };
        std::fs::write(day.join(COMPACTING), serde_json::to_string(&journal).unwrap()).unwrap();
        let seqs = || list(&tmp).unwrap().iter().map(|p| p.seq).collect::<Vec<_>>();
        // The merged part is still being written: the old parts are the log.
        assert_eq!(seqs(), [3, 7, 9]);
        // It is in place: only it.
        std::fs::remove_file(day.join(merging_name(9))).unwrap();
        assert_eq!(seqs(), [9]);
        std::fs::remove_dir_all(&tmp).unwrap();
        assert!(list(&tmp).unwrap().is_empty());
    }
}
