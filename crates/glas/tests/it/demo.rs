//! `glas demo`, the README's first command, end to end through the binary.

use crate::support::*;

#[test]
fn demo_crawls_analyses_alerts_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let out = glas(&["demo", "--data", data.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("6 sources · "), "{text}");
    assert!(text.contains("· 0 failed"), "{text}");
    assert!(text.contains("водоснабжение, Величаевское"), "{text}");
    assert!(text.contains("ВЫСОКИЙ (усиление): водоснабжение, Величаевское"), "{text}");
    assert!(text.contains("sent, 0 already sent earlier, 0 failed"), "{text}");

    let report = std::fs::read_to_string(data.join("reports/weekly-2026-W48.html")).unwrap();
    assert!(report.contains("<html lang=\"ru\">"));
    assert!(report.contains("Главное"));
    assert!(report.contains("водоснабжение"));
    assert!(report.contains("Величаевское"));
    assert!(report.contains("<svg"), "chart embedded");
    assert!(!report.contains("src=\"http"), "self-contained");

    let outbox: Vec<_> = std::fs::read_dir(data.join("outbox")).unwrap().collect();
    assert!(!outbox.is_empty());
    assert!(data.join("analytics/daily_by_source.csv").exists());
    assert!(data.join("analytics/daily_by_topic.parquet").exists());

    // Saved searches: the first round's matches are a digest each.
    assert!(text.contains("saved search \"Вода в Величаевском\": 37 new · outbox"), "{text}");
    assert!(report.contains("Сохранённые поиски") && report.contains("Жалобы на дороги"));

    // Deterministic: a second run (the demo starts afresh) prints the same,
    // but for timings and ports.
    let again = stdout(&glas(&["demo", "--data", data.to_str().unwrap()]));
    let strip = |s: &str| {
        s.lines().filter(|l| !l.contains("127.0.0.1") && !l.contains("finished in")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(strip(&text), strip(&again));
}
