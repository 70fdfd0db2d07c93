//! `glas backup` beside a running writer and `glas restore` into a new
//! folder: the same mentions, search and accounts; every refusal clear.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use glas_store::Store;

use crate::support::*;

fn write_lines(path: &Path, prefix: &str, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        let day = 1 + (i / 300) % 28;
        let text = format!("{prefix} {i}: нет воды в Величаевском на улице Гагарина, дом {}", i % 70);
        writeln!(
            f,
            "{}",
            line(&format!("{prefix}:{i}"), &text, &format!("2026-11-{day:02}T{:02}:10:00+03:00", i % 24))
        )
        .unwrap();
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glas")).args(args).output().unwrap()
}

fn records(data: &Path) -> Vec<(String, String)> {
    let mut r: Vec<(String, String)> = Store::open_reader(data)
        .unwrap()
        .records()
        .unwrap()
        .into_iter()
        .map(|r| (r.mention.id, r.mention.text))
        .collect();
    r.sort();
    r
}

fn total(data: &Path, query: &str) -> u64 {
    let out = run(&["search", query, "--json", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["total"].as_u64().unwrap()
}

fn part_count(data: &Path) -> usize {
    glas_core::logparts::list(&data.join("log")).map_or(0, |p| p.len())
}

#[test]
fn a_backup_taken_while_importing_restores_into_a_new_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let s = |name: &str| p(name).to_str().unwrap().to_string();
    write_lines(&p("first.jsonl"), "первая", 3000);
    write_lines(&p("second.jsonl"), "вторая", 15000);
    let out = run(&["import", "--data", &s("a"), &s("first.jsonl")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut add = Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["user", "add", "анна", "--role", "analyst", "--password-stdin", "--data", &s("a")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all("пароль анны\n".as_bytes()).unwrap();
    assert!(add.wait_with_output().unwrap().status.success());

    // A backup while an import writes the store (small batches: many parts).
    let before = part_count(&p("a"));
    let mut writer = Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["import", "--batch", "200", "--data", &s("a"), &s("second.jsonl")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while part_count(&p("a")) < before + 5 {
        assert!(Instant::now() < deadline, "the import made no progress");
        assert!(writer.try_wait().unwrap().is_none(), "the import finished before the backup; raise its size");
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = run(&["backup", "--data", &s("a"), &s("during")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let still_writing = writer.try_wait().unwrap().is_none();
    let w = writer.wait_with_output().unwrap();
    assert!(w.status.success(), "{}", stderr(&w));

    // A quiet backup with the pipeline file; restored into a new folder it
    // holds the same mentions, the same search and the same accounts.
    let pipeline = repo().join("pipelines/demo.toml");
    let out = run(&["backup", "--data", &s("a"), "--pipeline", pipeline.to_str().unwrap(), &s("quiet")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("log parts"), "{}", stdout(&out));
    assert!(p("quiet/MANIFEST.json").exists() && p("quiet/pipeline.toml").exists());
    assert!(!p("quiet/data/index").exists() && !p("quiet/data/store.lock").exists(), "index and lock are not copied");
    let out = run(&["restore", "--data", &s("c"), &s("quiet")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("18000 mentions, index rebuilt"), "{}", stdout(&out));
    let all = records(&p("a"));
    assert_eq!(all.len(), 18000);
    assert_eq!(records(&p("c")), all, "the restored log differs");
    assert_eq!(total(&p("c"), "воды"), total(&p("a"), "воды"));
    assert_eq!(total(&p("c"), "воды"), 18000);
    let users = run(&["user", "list", "--data", &s("c")]);
    assert!(stdout(&users).contains("анна"), "{}", stdout(&users));

    // The backup taken mid-import: a consistent prefix, every mention once.
    let out = run(&["restore", "--data", &s("d"), &s("during")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let during = records(&p("d"));
    let ids: HashSet<&str> = during.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), during.len(), "a mention twice in the backup taken mid-import");
    let all_ids: HashSet<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    assert!(ids.is_subset(&all_ids));
    assert!((0..3000).all(|i| ids.contains(format!("первая:{i}").as_str())), "the first import is not whole");
    assert!(during.len() > 3000, "nothing of the running import was copied");
    if still_writing {
        assert!(during.len() < 18000, "the import was still running: its end cannot be in the copy");
    }
    assert_eq!(total(&p("d"), "воды") as usize, during.len());

    // Refusals: a folder not empty, a damaged file, a backup without a
    // manifest; nothing is left half-restored.
    let out = run(&["restore", "--data", &s("c"), &s("quiet")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    let out = run(&["backup", "--data", &s("a"), &s("quiet")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    let part = glas_core::logparts::list(&p("during/data/log")).unwrap().remove(0).path;
    let mut bytes = std::fs::read(&part).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&part, bytes).unwrap();
    let out = run(&["restore", "--data", &s("e"), &s("during")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not match the manifest"), "{}", stderr(&out));
    assert!(!p("e").exists() && !p("e.restoring").exists(), "a refused restore left files");
    std::fs::remove_file(p("during/MANIFEST.json")).unwrap();
    let out = run(&["restore", "--data", &s("e"), &s("during")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not finish"), "{}", stderr(&out));
    // The leftover of a restore that was killed is cleared by the next.
    std::fs::create_dir_all(p("f.restoring/log")).unwrap();
    std::fs::write(p("f.restoring/log/junk"), "x").unwrap();
    let out = run(&["restore", "--data", &s("f"), &s("quiet")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!p("f.restoring").exists() && !p("f/log/junk").exists());
    assert_eq!(records(&p("f")), all);
}
