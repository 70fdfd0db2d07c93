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
