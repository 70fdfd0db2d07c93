//! The outlook through the binary: `glas forecast --series` on a counts file
//! anyone could bring (bad rows refused with their line, nothing written;
//! later rows never change a forecast), `glas forecast` on the store, and
//! `glas eval forecast`.

use std::path::Path;

use crate::support::*;

/// Weekdays busy, weekends quiet, from a Monday, for `days` days; a second
/// key ten times quieter.
fn counts(path: &Path, days: i64, extra: &str) {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let mut csv = String::from("date,key,count\n");
    for i in 0..days {
        let d = start + chrono::Duration::days(i);
        let busy = chrono::Datelike::weekday(&d).num_days_from_monday() < 5;
        csv.push_str(&format!("{d},water|Заря,{}\n", if busy { 12 + i % 3 } else { 3 }));
        if i % 10 == 0 {
            csv.push_str(&format!("{d},roads|Заря,1\n"));
        }
    }
    csv.push_str(extra);
    std::fs::write(path, csv).unwrap();
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| l.split(',').map(str::to_string).collect()).collect()
}

#[test]
fn a_counts_file_is_forecast_seeing_only_the_past() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("counts.csv");
    let out = tmp.path().join("forecast.csv");
    counts(&input, 84, "");
    let o = glas(&[
        "forecast",
        "--series",
        input.to_str().unwrap(),
        "--horizon",
        "7",
        "--at",
        "2026-03-30",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = rows(&out);
    assert_eq!(r[0], ["key", "date", "forecast", "lo80", "hi80"]);
    assert_eq!(r.len(), 1 + 3 * 7, "the total, two keys, seven days each: {r:?}");
    let water: Vec<&Vec<String>> = r.iter().filter(|x| x[0] == "water|Заря").collect();
    assert_eq!(water[0][1], "2026-03-30");
    assert_eq!(water[6][1], "2026-04-05");
    let f = |x: &Vec<String>, i: usize| x[i].parse::<f64>().unwrap();
    assert!(f(water[0], 2) >= 10.0 && f(water[0], 2) <= 15.0, "a Monday: {:?}", water[0]);
    assert!(f(water[5], 2) <= 5.0, "a Saturday is quiet: {:?}", water[5]);
    assert!(f(water[0], 3) <= f(water[0], 2) && f(water[0], 2) <= f(water[0], 4));

    // Rows after --at do not change the forecast from it.
    let later = tmp.path().join("later.csv");
    counts(&later, 84, "2026-03-30,water|Заря,500\n2026-04-01,water|Заря,900\n");
    let out2 = tmp.path().join("forecast2.csv");
    let o =
        glas(&["forecast", "--series", later.to_str().unwrap(), "--at", "2026-03-30", "--out", out2.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(rows(&out2), r);

    // A bad row: a clear error with its line, nothing written.
    let bad = tmp.path().join("bad.csv");
    counts(&bad, 20, "2026-13-01,water|Заря,1\n2026-02-01,water|Заря,много\n");
    let out3 = tmp.path().join("forecast3.csv");
    let o = glas(&["forecast", "--series", bad.to_str().unwrap(), "--out", out3.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 24: \"2026-13-01\" is not a date"), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 25: \"много\" is not a count"), "{}", stderr(&o));
    assert!(!out3.exists());
    let o = glas(&["forecast", "--series", input.to_str().unwrap(), "--horizon", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Six calm weeks of water complaints in Величаевское, then three days of
/// an outage: the analysis forecasts next week well above the usual, raises
/// an `outlook` signal with the recent posts as evidence (not emailed: the
/// pipeline does not ask), and writes the outlook the overview reads.
#[test]
fn an_incident_raises_an_outlook_for_the_week_ahead() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lines = tmp.path().join("month.jsonl");
    // Six weeks to Saturday 14 November 2026; the analysis as of the Sunday.
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap();
    let mut out = String::new();
    let mut n = 0;
    for back in (1..=45).rev() {
        let day = today - chrono::Duration::days(back);
        let per_day = if back <= 3 { 20 } else { usize::from(back % 2 == 0) };
        for k in 0..per_day {
            n += 1;
            let at = format!("{day}T{:02}:{:02}:00+03:00", 8 + k / 2, (n * 7) % 60);
            out.push_str(&line(
                &format!("w{n}"),
                &format!("В Величаевском опять нет воды на улице номер {n}, жалуемся уже {k} раз"),
                &at,
            ));
            out.push('\n');
        }
    }
    std::fs::write(&lines, out).unwrap();
    let d = data.to_str().unwrap();
    let o = glas(&["import", lines.to_str().unwrap(), "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = glas(&["analyze", "--data", d, "--at", "2026-11-15T12:00:00+03:00", "--lookback", "2d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let signals = std::fs::read_to_string(data.join("analytics/signals.jsonl")).unwrap();
    let outlook: Vec<serde_json::Value> = signals
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|s| s["kind"] == "outlook" && s["place"] == "Величаевское")
        .collect();
    assert!(!outlook.is_empty(), "{signals}");
    let s = &outlook[0];
    assert_eq!(s["topic"], "water");
    assert_eq!(s["params"]["phase"], "opened");
    assert_eq!(s["params"]["alarm"], false);
    assert!(s["params"]["ratio"].as_f64().unwrap() >= 1.5, "{s}");
    assert!(s["params"]["lo80"].as_f64().unwrap() <= s["params"]["expected"].as_f64().unwrap(), "{s}");
    assert!(s["evidence"].as_array().unwrap().len() >= 10, "{s}");
    let outlook_csv = std::fs::read_to_string(data.join("analytics/outlook.csv")).unwrap();
    assert!(outlook_csv.contains("water|Величаевское,\"водоснабжение, Величаевское\","), "{outlook_csv}");
    // Tense, for the seven days from the analysis' day.
    assert!(
        outlook_csv.lines().any(|l| l.starts_with("water|Величаевское,") && l.ends_with(",1,2026-11-15")),
        "{outlook_csv}"
    );
}

#[test]
fn the_backtest_compares_the_methods() {
    let o = glas(&["eval", "forecast", "--seeds", "1", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let scores = v[0]["scores"].as_array().unwrap();
    let methods: Vec<&str> = scores.iter().map(|s| s["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["seasonal_naive", "moving_average", "holt_winters", "pooled"]);
    assert_eq!(scores[0]["relative"], 1.0);
    let pooled = &scores[3];
    assert!(pooled["relative"].as_f64().unwrap() < 0.85, "{pooled}");
    let coverage = pooled["coverage"].as_f64().unwrap();
    assert!((0.7..=0.9).contains(&coverage), "{pooled}");
}
