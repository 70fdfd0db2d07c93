//! The command-line contract: validate, import, classify, search, reindex.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::*;

#[test]
fn validate_reports_every_error_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.toml");
    std::fs::write(
        &p,
        "[storage]\ndata_dir = \"d\"\n\n[[sources]]\nid = \"a\"\ntype = \"rsss\"\nurl = \"https://x.org/f\"\n\n[[sources]]\nid = \"b\"\ntype = \"rss\"\nurl = \"https://x.org/g\"\nallow_private = \"yes\"\n\n[alerts]\nfrom = \"glas\"\nto = [\"press@example.org\"]\n",
    )
    .unwrap();
    let out = glas(&["validate", "--pipeline", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("3 errors"), "{err}");
    assert!(
        err.contains("bad.toml:6:8: unknown source type \"rsss\" (supported: rss, html, telegram, vk, jsonl)"),
        "{err}"
    );
    assert!(err.contains("bad.toml:13:17: `allow_private` must be true or false"), "{err}");
    assert!(err.contains("bad.toml:16:8: \"glas\" is not an email address"), "{err}");

    for good in ["demo.toml", "levokumsky.toml"] {
        let path = repo().join("pipelines").join(good);
        let out = glas(&["validate", "--pipeline", path.to_str().unwrap()]);
        assert!(out.status.success(), "{good}: {}", stderr(&out));
    }
}

#[test]
fn classify_follows_the_enrichment_contract_line_for_line() {
    let input = [
        line(
            "tg:velichaevka_online/1",
            "Третий день нет воды в Величаевском, сколько можно!",
            "2026-11-20T08:15:00+03:00",
        ),
        "{broken".to_string(),
        line(
            "tg:x/2",
            "Спасибо дорожникам: на улице Гагарина во Владимировке засыпали ямы",
            "2026-11-20T09:00:00+03:00",
        ),
    ]
    .join("\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["classify", "--explain"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    let a = &lines[0];
    assert_eq!(a["id"], "tg:velichaevka_online/1");
    assert_eq!(a["lang"], "ru");
    assert_eq!(a["sentiment"], "negative");
    assert!(a["sentiment_score"].as_f64().unwrap() < -0.25);
    assert_eq!(a["topics"], serde_json::json!(["water"]));
    assert_eq!(a["places"], serde_json::json!(["Величаевское"]));
    assert_eq!(a["mention_type"], "complaint");
    assert!(a["entities"].is_array() && a["cluster"].is_string());
    let why = &a["explain"];
    assert_eq!(why["genre"], "social");
    assert!(why["probabilities"]["negative"].as_f64().unwrap() > 0.5, "{why}");
    let words = why["sentiment"].as_array().unwrap();
    assert!(words.iter().any(|c| c["word"] == "нет" && c["weight"].as_f64().unwrap() < 0.0), "{why}");
    assert_eq!(why["topics"][0]["topic"], "water");
    assert_eq!(why["topics"][0]["matched"], "нет воды", "{why}");
    assert_eq!(why["mention_type"], "complaint model");
    assert!(a["complaint_probability"].as_f64().unwrap() > 0.5, "{a}");
    assert!(!why["complaint"].as_array().unwrap().is_empty(), "the words behind the complaint: {why}");
    assert!(lines[1]["error"].as_str().unwrap().starts_with("line 2:"));
    assert_eq!(lines[2]["sentiment"], "positive");
    assert_eq!(lines[2]["mention_type"], "gratitude");
    assert_eq!(lines[2]["topics"], serde_json::json!(["roads"]));
    assert_eq!(lines[2]["places"], serde_json::json!(["Владимировка"]));
    assert!(stderr(&out).contains("stdin:2: rejected: not valid JSON"));
}

#[test]
fn search_uses_russian_morphology_and_marks_matches() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("m.jsonl");
    std::fs::write(
        &file,
        [
            line("a:1", "Плановое отключение: водоснабжение в Заре восстановят к вечеру", "2026-11-20T08:00:00+03:00"),
            line("a:2", "Ямы на дороге к школе засыпали щебнем", "2026-11-21T08:00:00+03:00"),
            line("a:3", "Ещё одна новость о ёлке на площади", "2026-11-22T08:00:00+03:00"),
        ]
        .join("\n"),
    )
    .unwrap();
    let d = data.to_str().unwrap();
    let imp = glas(&["import", "--data", d, file.to_str().unwrap()]);
    assert!(imp.status.success(), "{}", stderr(&imp));
    assert!(stdout(&imp).contains("imported 3 · duplicate 0 · rejected 0"));

    let out = glas(&["search", "водоснабжения", "--data", d]);
    let text = stdout(&out);
    assert!(text.starts_with("Найдено: 1 публикация ·"), "{text}");
    assert!(text.contains("**водоснабжение**"), "{text}");
    assert!(text.contains("2026-11-20 08:00"), "{text}");

    // ё folds to е both ways; JSON carries highlight ranges.
    let out = glas(&["search", "елке", "--json", "--data", d]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["total"], 1);
    let hit = &v["hits"][0];
    assert_eq!(hit["id"], "a:3");
    let (s, e) =
        (hit["highlights"][0][0].as_u64().unwrap() as usize, hit["highlights"][0][1].as_u64().unwrap() as usize);
    assert_eq!(&hit["snippet"].as_str().unwrap()[s..e], "ёлке");

    // Boolean and phrase queries; a date range that excludes everything.
    let out = glas(&["search", "ямы OR водоснабжение", "--json", "--data", d]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["total"], 2);
    let out = glas(&["search", "\"засыпали щебнем\"", "--json", "--data", d]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["total"], 1);
    let out = glas(&["search", "topic:water sentiment:neutral", "--json", "--data", d]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((v["total"].as_u64(), v["hits"][0]["id"].as_str()), (Some(1), Some("a:1")), "{v}");
    let out = glas(&["search", "ямы", "--from", "2026-11-22", "--json", "--data", d]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["total"], 0);
    let out = glas(&["search", "ямы", "--since", "forever", "--data", d]);
    assert_eq!(out.status.code(), Some(2));

    // The index is derived: delete it, rebuild it from the log, search again.
    std::fs::remove_dir_all(data.join("index")).unwrap();
    let out = glas(&["reindex", "--data", d]);
    assert!(stdout(&out).contains("reindexed 3 mentions"), "{}{}", stdout(&out), stderr(&out));
    let out = glas(&["search", "водоснабжения", "--data", d]);
    assert!(stdout(&out).starts_with("Найдено: 1 публикация ·"));
}

#[test]
fn eval_sentiment_reads_both_formats_and_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let tw = tmp.path().join("sentiment/rusentitweet");
    let ne = tmp.path().join("sentiment/rusentne2023");
    std::fs::create_dir_all(&tw).unwrap();
    std::fs::create_dir_all(&ne).unwrap();
    std::fs::write(
        tw.join("rusentitweet_test.csv"),
        "text,label,id\n\"Спасибо, всё отлично!\",positive,1\n\"Опять нет воды, безобразие\",negative,2\nЗаседание в четверг,neutral,3\nкак дела?,speech,4\n",
    )
    .unwrap();
    std::fs::write(
        ne.join("validation_data_labeled.csv"),
        "sentence\tentity\tentity_tag\tentity_pos_start_rel\tentity_pos_end_rel\tlabel\n\
Суд оправдал мэра.\tмэра\tPROFESSION\t12\t16\t1\n\
Суд оправдал мэра.\tСуд\tORGANIZATION\t0\t3\t1\n\
Министр и депутат поспорили.\tМинистр\tPROFESSION\t0\t7\t-1\n\
Министр и депутат поспорили.\tдепутат\tPROFESSION\t10\t17\t0\n",
    )
    .unwrap();
    let out = glas(&["eval", "sentiment", "--json", "--datasets", tmp.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v[0]["items"], 3, "speech acts are not one of the three classes");
    assert_eq!(v[1]["items"], 1, "the sentence whose entities disagree is left out");
    assert!(v[0]["macro_f1"].as_f64().unwrap() > 0.5, "{v}");
}

#[test]
fn eval_enrichment_measures_the_labelled_set() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = glas(&[
        "--pipeline",
        &format!("{root}/pipelines/levokumsky.toml"),
        "eval",
        "enrichment",
        "--json",
        "--labelled",
        &format!("{root}/fixtures/labelled/municipal.tsv"),
        "--datasets",
        &format!("{root}/../shared/data"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    // Public data first, where the development machine has it (CI does).
    let public = &all["public"];
    if std::path::Path::new(&format!("{root}/../shared/data/appeals_kursk")).is_dir() {
        assert!(public["appeals"]["texts"].as_u64().unwrap() > 900, "{public}");
        // Floors under the measured figures (BENCHMARKS.md).
        assert!(public["appeals"]["flagged"].as_f64().unwrap() > 0.95, "{}", public["appeals"]);
        assert!(public["no_topic"].as_f64().unwrap() < 0.1, "{}", public["no_topic"]);
        assert!(public["communal_macro_recall"].as_f64().unwrap() > 0.8, "{public}");
        assert!(public["news_calm"]["texts"].as_u64().unwrap() > 1000, "{public}");
    } else {
        assert!(public.is_null());
    }
    let v = &all["labelled"];
    assert!(v["items"].as_u64().unwrap() >= 700);
    // Floors well under the measured figures (BENCHMARKS.md): a regression
    // in the rules or the model shows here.
    assert!(v["topics_micro"]["f1"].as_f64().unwrap() > 0.8, "{}", v["topics_micro"]);
    assert_eq!(v["topics"].as_array().unwrap().len(), 18, "every code of the contract is labelled");
    assert!(v["places"]["precision"].as_f64().unwrap() > 0.95, "{}", v["places"]);
    assert!(v["sentiment"]["macro_f1"].as_f64().unwrap() > 0.6, "{}", v["sentiment"]);
    assert!(v["mention_type"]["macro_f1"].as_f64().unwrap() > 0.7, "{}", v["mention_type"]);
}

#[test]
fn train_sentiment_is_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let tw = tmp.path().join("sentiment/rusentitweet");
    let ne = tmp.path().join("sentiment/rusentne2023");
    std::fs::create_dir_all(&tw).unwrap();
    std::fs::create_dir_all(&ne).unwrap();
    let mut tweets = String::from("text,label,id\n");
    for (i, (t, l)) in [
        ("Спасибо, всё отлично, молодцы", "positive"),
        ("Опять нет воды, безобразие", "negative"),
        ("Заседание в четверг в десять", "neutral"),
        ("Какая прекрасная погода сегодня", "positive"),
        ("Ужасно, снова отключили свет", "negative"),
        ("Автобус отправляется в восемь", "neutral"),
    ]
    .iter()
    .cycle()
    .take(60)
    .enumerate()
    {
        tweets.push_str(&format!("\"{t} {i}\",{l},{i}\n"));
    }
    std::fs::write(tw.join("rusentitweet_train.csv"), &tweets).unwrap();
    std::fs::write(tw.join("rusentitweet_test.csv"), &tweets).unwrap();
    let news = "sentence\tentity\tentity_tag\tentity_pos_start_rel\tentity_pos_end_rel\tlabel\n\
Суд оправдал мэра.\tмэра\tPROFESSION\t12\t16\t1\n\
Министр раскритиковал депутата.\tдепутата\tPROFESSION\t20\t28\t-1\n\
Совещание прошло в четверг.\tСовещание\tEVENT\t0\t9\t0\n";
    std::fs::write(ne.join("train_data.csv"), news).unwrap();
    std::fs::write(ne.join("validation_data_labeled.csv"), news).unwrap();
    let d = tmp.path().to_str().unwrap();
    let (a, b) = (tmp.path().join("a.bin"), tmp.path().join("b.bin"));
    for out in [&a, &b] {
        let r = glas(&["train", "sentiment", "--datasets", d, "--out", out.to_str().unwrap()]);
        assert!(r.status.success(), "{}", stderr(&r));
        assert!(stdout(&r).contains("RuSentiTweet test"), "{}", stdout(&r));
    }
    let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(a.starts_with(b"GLASSM01") && a.len() > 1000);
    assert_eq!(a, b, "the same data gives the same model, byte for byte");
    let r = glas(&[
        "train",
        "sentiment",
        "--datasets",
        "/nonexistent",
        "--out",
        tmp.path().join("c.bin").to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("/nonexistent"), "{}", stderr(&r));
}

/// The shipped complaint and topic model is what `glas train enrichment`
/// makes from the public data, byte for byte (where the machine has the data:
/// the development machine and CI do; the texts are never in the repository).
#[test]
fn train_enrichment_rebuilds_the_shipped_model() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let datasets = format!("{root}/../shared/data");
    if !std::path::Path::new(&datasets).join("appeals_kursk").is_dir() {
        eprintln!("skipped: no public data at {datasets}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("model.bin");
    let run = glas(&["train", "enrichment", "--datasets", &datasets, "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stdout(&run).contains("appeals (Kursk, test split): 951 texts"), "{}", stdout(&run));
    let shipped = std::fs::read(format!("{root}/crates/glas-nlp/data/enrichment/model.bin")).unwrap();
    assert!(std::fs::read(&out).unwrap() == shipped, "the shipped model is not what training makes");
}
