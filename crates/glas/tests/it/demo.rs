//! `glas demo`, the README's first command, end to end through the binary.

use crate::support::*;

#[test]
fn demo_crawls_analyses_alerts_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let out = glas(&["demo", "--data", data.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("7 sources · "), "{text}");
    assert!(text.contains("· 0 failed"), "{text}");
    assert!(text.contains("водоснабжение, Величаевское"), "{text}");
    assert!(text.contains("ВЫСОКИЙ (усиление): водоснабжение, Величаевское"), "{text}");
    // As live: the opening, then two escalations, each once.
    assert!(text.contains("alerts: 3 sent, 0 already sent earlier, 0 failed"), "{text}");
    assert!(text.contains("НИЗКИЙ: водоснабжение, Величаевское"), "{text}");
    // The own voice: the residents' comments under the administration's
    // announcements in its VK community, and the questions left unanswered.
    assert!(
        text.contains("Уважаемые жители Величаевского! Из-за порыва на во (Администрация округа ВКонтакте): просмотры 24 ч — / 72 ч — / сейчас 3400; комментариев жителей 6 (скорее негативная), вопросов 4, без ответа 2"),
        "{text}"
    );
    assert!(text.contains("без ответа: А компенсацию за дни без воды сделают?"), "{text}");
    assert!(text.contains("страница «Администрация округа ВКонтакте»: публикаций 3"), "{text}");
    assert!(text.contains("Имидж-индекс 2026-W48: "), "{text}");

    // The water outage is one incident for the water utility, answered by
    // the administration's own post, with its reaction time.
    assert!(text.contains("№1 Водоснабжение — Величаевское — Водоканал"), "{text}");
    assert!(
        text.contains("answered publicly 23.11 09:22 (https://vk.com/wall-200_303): reaction time 2.3 h from the first complaint, in time"),
        "{text}"
    );
    let incidents = glas(&["--data", data.to_str().unwrap(), "incidents", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&incidents)).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["service"], "Водоканал");
    // A complaint under the administration's VK announcement (it names no
    // village: the post it is under does) joined the incident.
    let card = stdout(&glas(&["--data", data.to_str().unwrap(), "incidents", "show", "1"]));
    assert!(card.contains("Администрация округа ВКонтакте — Третий раз за год без воды"), "{card}");
    let outbox: Vec<String> = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(outbox.iter().any(|f| f.starts_with("incident-1-assigned-")), "{outbox:?}");

    let report = std::fs::read_to_string(data.join("reports/weekly-2026-W48.html")).unwrap();
    assert!(report.contains("<html lang=\"ru\">"));
    assert!(report.contains("Главное"));
    assert!(report.contains("водоснабжение"));
    assert!(report.contains("Величаевское"));
    assert!(report.contains("<svg"), "chart embedded");
    assert!(report.contains("Обратная связь: инциденты"), "the incidents section");
    assert!(report.contains("Новых инцидентов: 1 (неделей ранее 0)"), "the week's incident figures");
    assert!(report.contains("Первая реакция в срок: 100% (1 из 1)"), "reaction in time");
    assert!(report.contains("<td>Водоканал</td>"), "per service");
    assert!(!report.contains("src=\"http"), "self-contained");
    for ext in ["pdf", "xlsx"] {
        let f = data.join(format!("reports/weekly-2026-W48.{ext}"));
        assert!(std::fs::metadata(&f).is_ok_and(|m| m.len() > 5000), "{}", f.display());
    }

    let outbox: Vec<_> = std::fs::read_dir(data.join("outbox")).unwrap().collect();
    assert!(!outbox.is_empty());
    assert!(data.join("analytics/daily_by_source.csv").exists());
    assert!(data.join("analytics/daily_by_topic.parquet").exists());
    // The outlook: the days ahead per key, and the week ahead in the report.
    let forecast = std::fs::read_to_string(data.join("analytics/forecast.csv")).unwrap();
    assert!(forecast.starts_with("key,date,forecast,lo80,hi80\n"), "{forecast}");
    assert!(forecast.contains("\nwater|Величаевское,2026-11-25,"), "{forecast}");
    assert!(data.join("analytics/forecast.parquet").exists());
    assert!(report.contains("Прогноз на следующую неделю"), "the outlook section");
    assert!(report.contains("сделанный до её начала, и факт"), "the week's forecast against fact");

    // Replay: the same month as a file, stepped as the pipeline says (every
    // 15 minutes), gives the demo's tension signals at the same moments.
    let d = data.to_str().unwrap();
    let month = tmp.path().join("month.jsonl");
    glas(&["search", "", "--export", month.to_str().unwrap(), "--data", d]);
    let replayed_path = tmp.path().join("replayed.jsonl");
    let out = glas(&["replay", "--input", month.to_str().unwrap(), "--out", replayed_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("replayed 460 mentions") && stderr(&out).contains("steps of 15m"),
        "{}",
        stderr(&out)
    );
    let key = |text: &str| -> Vec<(String, String, u64)> {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|s| s["kind"] == "tension")
            .map(|s| {
                (
                    s["detected_at"].as_str().unwrap().to_string(),
                    s["severity"].as_str().unwrap().to_string(),
                    s["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let live = key(&std::fs::read_to_string(data.join("analytics/signals.jsonl")).unwrap());
    let replayed = key(&std::fs::read_to_string(&replayed_path).unwrap());
    assert_eq!(replayed, live);
    assert_eq!(replayed.iter().map(|s| s.1.as_str()).collect::<Vec<_>>(), ["low", "medium", "high"]);

    // Saved searches: the first round's matches are a digest each.
    assert!(text.contains("saved search \"Вода в Величаевском\": 40 new · outbox"), "{text}");
    assert!(report.contains("Сохранённые поиски") && report.contains("Жалобы на дороги"));

    // Deterministic: a second run (the demo starts afresh) prints the same,
    // but for timings and ports.
    let again = stdout(&glas(&["demo", "--data", data.to_str().unwrap()]));
    let strip = |s: &str| {
        s.lines().filter(|l| !l.contains("127.0.0.1") && !l.contains("finished in")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(strip(&text), strip(&again));
}
