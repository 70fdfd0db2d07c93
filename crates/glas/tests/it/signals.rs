//! Signals from the command line: the evaluation on generated scenarios, a
//! scenario replayed through enrichment, and the full recompute of the
//! aggregates and the tension index on the demo's store.

use crate::support::*;

#[test]
fn evaluation_reports_glas_beside_the_reference() {
    let out = glas(&["eval", "signals", "--seeds", "1-4", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["seeds"], serde_json::json!([1, 2, 3, 4]));
    let (g, r) = (&v["glas"], &v["reference"]);
    assert_eq!(g["incidents"], 20, "five incidents a scenario: {v}");
    assert!(g["recall"].as_f64().unwrap() >= 0.95, "{v}");
    assert!(g["false_alarms_per_week"].as_f64().unwrap() <= 0.5, "{v}");
    assert!(g["median_lead_hours"].as_f64().is_some());
    assert!(r["false_alarms_per_week"].as_f64().unwrap() > g["false_alarms_per_week"].as_f64().unwrap(), "{v}");
    assert_eq!(g["coordinated_reported"], g["coordinated_total"]);

    let text = stdout(&glas(&["eval", "signals", "--seeds", "1-2"]));
    assert!(text.contains("reference (mean+3σ)") && text.contains("sudden"), "{text}");
    let bad = glas(&["eval", "signals", "--seeds", "5-1"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn a_scenario_is_written_with_its_truth_and_replays_through_enrichment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sc");
    let out = glas(&["scenario", "--seed", "7", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    let injected = truth["injected"].as_array().unwrap();
    assert_eq!(injected.len(), 9);
    let lines = std::fs::read_to_string(dir.join("mentions.jsonl")).unwrap();
    let ids: std::collections::HashSet<String> = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    assert!(injected.iter().flat_map(|i| i["ids"].as_array().unwrap()).all(|id| ids.contains(id.as_str().unwrap())));
    assert_eq!(std::fs::read_to_string(dir.join("enrichment.jsonl")).unwrap().lines().count(), ids.len());

    let signals = tmp.path().join("signals.jsonl");
    let out = glas(&[
        "replay",
        "--input",
        dir.join("mentions.jsonl").to_str().unwrap(),
        "--step",
        "1h",
        "--out",
        signals.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("replayed {} mentions", ids.len())), "{}", stderr(&out));
    // Every line is a contract signal line.
    for l in std::fs::read_to_string(&signals).unwrap().lines() {
        let s: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(["tension", "emerging", "coordinated"].contains(&s["kind"].as_str().unwrap()), "{s}");
        assert!(s["evidence"].as_array().is_some() && s["params"]["phase"].is_string(), "{s}");
    }
}

#[test]
fn full_recompute_writes_aggregates_tension_index_and_signals() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let d = data.to_str().unwrap();
    assert!(glas(&["demo", "--data", d]).status.success());
    let out = glas(&["analyze", "--full", "--data", d]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("aggregates: ") && text.contains("signals: "), "{text}");

    let tension = std::fs::read_to_string(data.join("analytics/tension.csv")).unwrap();
    let header: Vec<&str> = tension.lines().next().unwrap().split(',').collect();
    assert_eq!(header, ["day", "topic", "place", "negative_stories", "pressure", "usual", "tension_index"]);
    let index = |day: &str, topic: &str, place: &str| -> f64 {
        let row = tension
            .lines()
            .find(|l| l.starts_with(&format!("{day},{topic},{place},")))
            .unwrap_or_else(|| panic!("no row {day} {topic} {place}"));
        row.rsplit(',').next().unwrap().parse().unwrap()
    };
    // The outage day reads as high tension for water in Величаевское, a quiet day does not.
    assert!(index("2026-11-23", "water", "Величаевское") >= 80.0, "{tension}");
    assert!(index("2026-11-10", "water", "Величаевское") < 50.0);
    assert!(index("2026-11-23", "all", "all") > index("2026-11-10", "all", "all"));

    // Weeks read on the same scale: the outage week stands out for the district.
    let weekly = std::fs::read_to_string(data.join("analytics/tension_weekly.csv")).unwrap();
    let week = |w: &str| -> f64 {
        let row = weekly.lines().find(|l| l.starts_with(&format!("2026,{w},all,all,"))).unwrap();
        row.rsplit(',').next().unwrap().parse().unwrap()
    };
    assert!(week("48") > 70.0 && week("47") < 60.0, "{weekly}");

    let daily = std::fs::read_to_string(data.join("analytics/daily.csv")).unwrap();
    assert!(
        daily.starts_with("day,topic,place,source_kind,mentions,stories,negative,positive,negative_stories"),
        "{daily}"
    );
    assert!(data.join("analytics/hourly.parquet").exists());

    let signals = std::fs::read_to_string(data.join("analytics/signals.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(signals.lines().next().unwrap()).unwrap();
    assert_eq!((first["topic"].as_str(), first["place"].as_str()), (Some("water"), Some("Величаевское")), "{signals}");
}
