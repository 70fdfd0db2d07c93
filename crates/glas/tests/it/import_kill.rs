//! The store of record survives SIGKILL: kill an import mid-way, run it again,
//! and every mention is in the log and the index exactly once.

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use glas_store::Store;

use crate::support::*;

const N: usize = 12_000;

fn write_input(path: &std::path::Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let places = ["Величаевском", "Заре", "Владимировке", "Турксаде"];
    for i in 0..N {
        // 400 a day over 30 days: batches of 300 touch one or two day partitions.
        let day = 1 + (i / 400) % 30;
        let text = format!("Сообщение {i}: нет воды в {} на улице Гагарина, дом {}", places[i % places.len()], i % 90);
        writeln!(f, "{}", line(&format!("imp:{i}"), &text, &format!("2026-11-{day:02}T{:02}:15:00+03:00", i % 24)))
            .unwrap();
        if i == 500 {
            writeln!(f, "{{this is not json").unwrap();
        }
    }
}

fn parts(data: &std::path::Path) -> usize {
    let log = data.join("log");
    if !log.exists() {
        return 0;
    }
    std::fs::read_dir(&log)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
        .filter(|f| f.as_ref().unwrap().path().extension().is_some_and(|e| e == "parquet"))
        .count()
}

fn import(data: &std::path::Path, input: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["import", "--batch", "300", "--data"])
        .arg(data)
        .arg(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_mid_import_then_rerun_keeps_every_mention_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = tmp.path().join("mentions.jsonl");
    write_input(&input);

    // Kill twice at different depths, then let the third run finish.
    for threshold in [3, 30] {
        let mut child = import(&data, &input);
        let deadline = Instant::now() + Duration::from_secs(120);
        while parts(&data) < threshold {
            assert!(Instant::now() < deadline, "import made no progress");
            if let Some(status) = child.try_wait().unwrap() {
                panic!("import finished before it could be killed ({status}); raise N");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "the import was not killed");
    }

    let out = import(&data, &input).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "rejected line must give exit code 3: {}", stderr(&out));
    assert!(stderr(&out).contains(":502: rejected: not valid JSON"), "{}", stderr(&out));
    let summary = stdout(&out);
    assert!(summary.contains("rejected 1"), "{summary}");

    let store = Store::open(&data).unwrap();
    let records = store.records().unwrap();
    assert_eq!(records.len(), N, "log rows");
    let unique: HashSet<&str> = records.iter().map(|r| r.mention.id.as_str()).collect();
    assert_eq!(unique.len(), N, "duplicate rows in the log");
    assert_eq!(store.index().num_docs(), N as u64, "index documents");
    let indexed = store.index().all_ids().unwrap();
    let indexed_unique: HashSet<&String> = indexed.iter().collect();
    assert_eq!(indexed_unique.len(), N);

    // Re-importing the whole file adds nothing.
    drop(store);
    let again = import(&data, &input).wait_with_output().unwrap();
    assert!(stdout(&again).contains(&format!("imported 0 · duplicate {N} · rejected 1")), "{}", stdout(&again));
}

fn record(i: usize, day: usize) -> glas_core::Record {
    let at = format!("2026-11-{day:02}T10:{:02}:00+03:00", i % 60);
    let mention: glas_core::Mention =
        serde_json::from_str(&line(&format!("c:{i}"), &format!("Сообщение {i}"), &at)).unwrap();
    let enrichment = glas_core::Enrichment { id: mention.id.clone(), cluster: format!("c{i}"), ..Default::default() };
    glas_core::Record { mention, enrichment, source_kind: "import".into() }
}

/// Ids of the log per UTC day, each day's in row order.
fn ids_by_day(store: &Store) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in store.records().unwrap() {
        let day = r.mention.published_at.with_timezone(&chrono::Utc).date_naive().to_string();
        out.entry(day).or_default().push(r.mention.id);
    }
    out
}

#[test]
fn compaction_merges_each_day_and_a_killed_one_is_finished_or_undone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let day1 = data.join("log/day=2026-11-01");
    let before = {
        let mut store = Store::open(&data).unwrap();
        for batch in 0..6 {
            store.append((0..50).map(|k| record(batch * 50 + k, 1 + k % 3)).collect()).unwrap();
        }
        assert_eq!(parts(&data), 18, "six batches over three days");
        let before = ids_by_day(&store);
        assert_eq!(store.compact(None).unwrap(), (18, 3));
        assert_eq!(parts(&data), 3);
        assert_eq!(ids_by_day(&store), before, "the same mentions, each day's in order");
        assert_eq!(store.index().num_docs(), 300);
        // Later parts number after the merged ones.
        store.append(vec![record(1000, 1)]).unwrap();
        assert_eq!(parts(&data), 4);
        ids_by_day(&store)
    };

    // Killed after the merged part was put in place, before the parts it
    // replaced were deleted: readers do not list them, the next open deletes them.
    let old: Vec<std::path::PathBuf> = glas_core::logparts::list(&data.join("log"))
        .unwrap()
        .into_iter()
        .filter(|p| p.path.starts_with(&day1))
        .map(|p| p.path)
        .collect();
    assert_eq!(old.len(), 2);
    let saved: Vec<Vec<u8>> = old.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let seq = |p: &std::path::Path| -> u64 { p.file_name().unwrap().to_str().unwrap()[5..15].parse().unwrap() };
    let journal = glas_core::logparts::Compaction { into: seq(&old[1]), from: old.iter().map(|p| seq(p)).collect() };
    Store::open(&data).unwrap().compact(None).unwrap();
    std::fs::write(&old[0], &saved[0]).unwrap();
    std::fs::write(day1.join(glas_core::logparts::COMPACTING), serde_json::to_string(&journal).unwrap()).unwrap();
    assert_eq!(parts(&data), 4, "the replaced part is back on disk");
    let listed = glas_core::logparts::list(&data.join("log")).unwrap();
    assert_eq!(listed.len(), 3, "but not listed");
    let store = Store::open(&data).unwrap();
    assert_eq!(parts(&data), 3, "and deleted on open");
    assert!(!day1.join(glas_core::logparts::COMPACTING).exists());
    assert_eq!(ids_by_day(&store), before);
    drop(store);

    // Killed while the merged part was being written: it is dropped, the
    // parts stay.
    std::fs::write(day1.join(glas_core::logparts::merging_name(999)), b"half a part").unwrap();
    let journal = glas_core::logparts::Compaction { into: 999, from: vec![journal.into] };
    std::fs::write(day1.join(glas_core::logparts::COMPACTING), serde_json::to_string(&journal).unwrap()).unwrap();
    assert_eq!(glas_core::logparts::list(&data.join("log")).unwrap().len(), 3);
    let store = Store::open(&data).unwrap();
    assert!(
        !day1.join(glas_core::logparts::merging_name(999)).exists()
            && !day1.join(glas_core::logparts::COMPACTING).exists()
    );
    assert_eq!(ids_by_day(&store), before);
    drop(store);

    // Killed before its journal was written: the merged part being written goes.
    std::fs::write(day1.join(glas_core::logparts::merging_name(998)), b"half a part").unwrap();
    let store = Store::open(&data).unwrap();
    assert!(!day1.join(glas_core::logparts::merging_name(998)).exists());
    assert_eq!(ids_by_day(&store), before);
}

/// Ids of the mentions a saved-search digest would call new after log part `seq`.
fn new_since(store: &Store, seq: u64) -> Vec<String> {
    let req = glas_store::SearchRequest { after_seq: Some(seq), limit: 100, collapse: false, ..Default::default() };
    let mut ids: Vec<String> = store.search(&req).unwrap().hits.into_iter().map(|h| h.id).collect();
    ids.sort();
    ids
}

#[test]
fn mentions_keep_their_sequence_numbers_through_compaction_and_a_rebuilt_index() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // A part written before the log had a `log_seq` column (two mentions of
    // 2 November, `fixtures/store/`): the store indexes it at open.
    let day2 = data.join("log/day=2026-11-02");
    std::fs::create_dir_all(&day2).unwrap();
    std::fs::copy(fixtures().join("store/part-before-log-seq.parquet"), day2.join(glas_core::logparts::part_name(1)))
        .unwrap();
    let mut store = Store::open(&data).unwrap();
    assert_eq!(store.indexed_seq().unwrap(), 1);
    store.append(vec![record(1, 2), record(2, 2)]).unwrap();
    // A digest is sent here: it covers parts 1 and 2.
    let covered = store.indexed_seq().unwrap();
    assert_eq!(covered, 2);
    store.append(vec![record(3, 2), record(4, 3)]).unwrap();
    let digests_see_what_came_after = |store: &Store| {
        assert_eq!(new_since(store, 0), ["c:1", "c:2", "c:3", "c:4", "old:1", "old:2"]);
        assert_eq!(new_since(store, 1), ["c:1", "c:2", "c:3", "c:4"]);
        assert_eq!(new_since(store, covered), ["c:3", "c:4"]);
    };
    // The analytics read every mention, whichever schema its part has.
    let analytics_read_all = || {
        let out = glas(&["analyze", "--full", "--data", data.to_str().unwrap()]);
        assert!(stdout(&out).contains("read 6 mentions from the log"), "{}{}", stdout(&out), stderr(&out));
    };
    digests_see_what_came_after(&store);
    drop(store);
    analytics_read_all();

    // 2 November's three parts become one; a rebuilt index still knows which
    // mentions came after the digest.
    let mut store = Store::open(&data).unwrap();
    assert_eq!(store.compact(None).unwrap(), (3, 1));
    assert_eq!(store.reindex().unwrap(), 6);
    digests_see_what_came_after(&store);
    drop(store);
    analytics_read_all();
}
