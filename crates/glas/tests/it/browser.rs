//! The workspace end to end in a real headless Chromium: `glas serve` on a
//! port the OS picked, over the demo's data (`glas demo`), driven by
//! `tests/browser/workspace.mjs` (playwright-core) as a person would use it.
//! `scripts/test` installs Debian's `chromium` and runs `npm ci` in
//! `tests/browser`; without them this test fails and says so.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use glas_web::accounts::{Accounts, Role};

use crate::support::*;

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("GLAS_CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser"] {
        if let Ok(o) = Command::new("sh").args(["-c", &format!("command -v {name}")]).output()
            && o.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        }
    }
    panic!("no Chromium: run scripts/test (it installs Debian's chromium), or set GLAS_CHROMIUM to a Chromium binary")
}

fn browser_scripts() -> PathBuf {
    let dir = repo().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run scripts/test (it runs `npm ci` in tests/browser)"
    );
    dir
}

/// Stops the server however the test ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The demo district's workspace, which also searches `other` across the
/// region (`--district`).
fn serve(data: &Path, other: &Path) -> (Server, String) {
    let demo = repo().join("pipelines/demo.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data", data.to_str().unwrap(), "--pipeline"])
        .arg(demo)
        .arg("--district")
        .arg(other)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    (Server(child), url)
}

#[test]
fn the_workspace_in_headless_chromium_as_analyst_viewer_and_administrator() {
    let (chromium, scripts) = (chromium(), browser_scripts());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // The demo's month: mentions, a weekly report and a signal's episode.
    let demo = glas(&["demo", "--data", data.to_str().unwrap()]);
    assert!(demo.status.success(), "{}", stderr(&demo));
    let accounts = Accounts::open(&data).unwrap();
    for (name, role, password) in [
        ("анна", Role::Analyst, "пароль аналитика"),
        ("глава", Role::Viewer, "пароль главы"),
        ("админ", Role::Admin, "пароль админа"),
    ] {
        accounts.add_user(name, role, password).unwrap();
    }
    accounts.add_service_user("водоканал", "Водоканал", "пароль водоканала").unwrap();
    // The analyst's regional search covers the neighbouring district below.
    accounts.set_districts("анна", &glas_web::accounts::Districts::Listed(vec!["sosed".into()])).unwrap();
    drop(accounts);

    // A neighbouring district with a few water and road complaints of its
    // own, for the search across the region.
    let other = tmp.path().join("sosed.toml");
    std::fs::write(&other, "[district]\nname = \"Соседний округ\"\n[storage]\ndata_dir = \"sosed\"\n").unwrap();
    let lines: Vec<String> = (0..5)
        .map(|i| {
            line(
                &format!("sosed-{i}"),
                "Опять нет воды в посёлке, и дорога разбита, ямы по колено",
                "2026-11-20T10:00:00+03:00",
            )
        })
        .collect();
    std::fs::write(tmp.path().join("sosed.jsonl"), lines.join("\n") + "\n").unwrap();
    let imported =
        glas(&["import", tmp.path().join("sosed.jsonl").to_str().unwrap(), "--pipeline", other.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let (_server, url) = serve(&data, &other);
    // GLAS_SHOTS keeps the screenshots for a person to look at.
    let shots = std::env::var_os("GLAS_SHOTS").map_or_else(|| tmp.path().join("shots"), PathBuf::from);
    let downloads = tmp.path().join("downloads");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::create_dir_all(&downloads).unwrap();
    let run = Command::new("node")
        .arg(scripts.join("workspace.mjs"))
        .current_dir(&scripts)
        .env("GLAS_URL", &url)
        .env("CHROMIUM", &chromium)
        .env("SHOTS", &shots)
        .env("DOWNLOADS", &downloads)
        .env("ANALYST", "анна:пароль аналитика")
        .env("VIEWER", "глава:пароль главы")
        .env("ADMIN", "админ:пароль админа")
        .env("SERVICE", "водоканал:пароль водоканала")
        .output()
        .expect("cannot run node: install Node.js 20 or newer");
    assert!(run.status.success(), "the browser test failed:\n{}\n{}", stdout(&run), stderr(&run));
    let report: serde_json::Value = serde_json::from_str(stdout(&run).lines().last().unwrap()).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 23, "every step ran: {steps:?}");

    // Every screen at both widths, with something on it: not a blank page
    // (the script checked each one's own text was visible and that the page
    // was no wider than the window; the login page inks about 0.6 %).
    let files: Vec<PathBuf> =
        report["screenshots"].as_array().unwrap().iter().map(|f| PathBuf::from(f.as_str().unwrap())).collect();
    assert_eq!(files.len(), 32, "16 screens × 2 widths: {files:?}");
    for f in &files {
        let (share, _, width) = ink(f);
        let want = if f.to_str().unwrap().ends_with("-390.png") { 390 } else { 1280 };
        assert_eq!(width, want, "{}", f.display());
        assert!(share > 0.003, "{} is almost blank ({:.3} inked)", f.display(), share);
    }

    // The export the analyst downloaded holds the search's hits, and the
    // audit log says who exported what.
    let lines = report["export"]["lines"].as_u64().unwrap();
    assert!(lines > 20, "{lines} lines exported");
    let log = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    let export = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "export")
        .expect("the export is in the audit log");
    assert_eq!(export["who"], "анна");
    assert_eq!(export["detail"]["q"], "topic:water OR topic:roads");
    assert!(export["ip"].as_str().is_some_and(|ip| ip == "127.0.0.1"), "{export}");
    // The note on the episode is kept in the workspace database.
    let accounts = Accounts::open(&data).unwrap();
    let notes = accounts.notes(&[report["episode"].as_str().unwrap().to_string()]).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].acknowledged && notes[0].who == "анна" && notes[0].text.contains("бригада"), "{notes:?}");
    // The incidents as the clicks left them: the water one resolved by the
    // service with its comment, the roads one made by the analyst.
    let out = glas(&["--data", data.to_str().unwrap(), "incidents", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let by_id = |id: i64| list.as_array().unwrap().iter().find(|i| i["id"] == id).unwrap().clone();
    assert_eq!(
        (by_id(1)["status"].as_str(), by_id(2)["service"].as_str()),
        (Some("resolved"), Some("Дорожная служба"))
    );
    let shown = glas(&["--data", data.to_str().unwrap(), "incidents", "show", "1", "--json"]);
    let one: serde_json::Value = serde_json::from_str(&stdout(&shown)).unwrap();
    let last = one["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["who"].as_str(), last["comment"].as_str()),
        (Some("водоканал"), Some("Подача воды восстановлена, трубу заменили"))
    );
}
