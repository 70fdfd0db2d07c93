//! Alert emails reach a real SMTP server (aiosmtpd on loopback): the demo's
//! water-outage episode produces exactly one alert, in Russian, with evidence,
//! and a second round sends nothing new.

use glas::fixture_server::FixtureServer;
use glas::ops::{self, Ctx};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn water_outage_alert_is_received_once_by_a_real_smtp_server() {
    let sink = SmtpSink::start(0);
    let server = FixtureServer::start(&fixtures()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pipeline =
        demo_with_smtp(&server.base_url(), sink.port, &["press@levokumsky.example", "head@levokumsky.example"]);
    let ctx = Ctx::new(pipeline, Some(tmp.path()));
    let mut store = ctx.open_store().unwrap();
    let mut enricher = ops::Enricher::new(&ctx, &store).unwrap();
    ops::crawl_once(&ctx, &mut store, &mut enricher).await.unwrap();
    let at = "2026-11-26T00:00:00+03:00"
        .parse::<chrono::DateTime<chrono::FixedOffset>>()
        .unwrap()
        .with_timezone(&chrono::Utc);
    let analysis = ops::analyze(&ctx, &store, at, chrono::Duration::days(30)).unwrap();
    let water: Vec<_> = analysis.signals.iter().filter(|s| s.topic.as_deref() == Some("water")).collect();
    let opened = water.iter().filter(|s| s.params["phase"] == "opened").count();
    assert_eq!(opened, 1, "one episode opens once: {:#?}", analysis.signals);
    assert!(water.windows(2).all(|w| w[0].severity < w[1].severity), "later signals only escalate: {water:#?}");

    let report = ops::deliver_alerts(&ctx, &analysis.signals, &analysis.records).await.unwrap().unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let messages = sink.messages();
    assert_eq!(messages.len(), report.sent.len());
    assert_eq!(messages.iter().filter(|m| subject(m).contains("водоснабжение, Величаевское")).count(), water.len());
    let raw = messages
        .iter()
        .find(|m| subject(m).contains("водоснабжение, Величаевское") && !subject(m).contains("усиление"))
        .unwrap_or_else(|| {
            panic!("no water alert among {:?}", messages.iter().map(|m| subject(m)).collect::<Vec<_>>())
        });
    let subj = subject(raw);
    assert!(subj.contains("негативных публикаций за 6 ч") || subj.contains("негативных публикации за 6 ч"), "{subj}");
    assert!(["ВЫСОКИЙ", "СРЕДНИЙ", "НИЗКИЙ"].iter().any(|s| subj.starts_with(s)), "{subj}");
    let body = decoded(raw);
    assert!(body.contains("multipart/alternative"), "multipart");
    assert!(body.contains("text/plain") && body.contains("text/html"));
    assert!(body.contains("Главные публикации"), "{body}");
    assert!(body.contains("https://t.me/velichaevka_online/"), "evidence links");
    assert!(body.contains("Перепечатки одного материала считаются один раз"));
    let envelope: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sink.dir.path().join("0001.json")).unwrap()).unwrap();
    assert_eq!(envelope["rcpt_tos"], serde_json::json!(["press@levokumsky.example", "head@levokumsky.example"]));

    // A second round (as after a restart) sends nothing new.
    let again = ops::deliver_alerts(&ctx, &analysis.signals, &analysis.records).await.unwrap().unwrap();
    assert!(again.sent.is_empty());
    assert_eq!(again.suppressed, report.sent.len());
    assert_eq!(sink.messages().len(), messages.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejecting_server_fails_the_delivery_and_a_later_round_retries() {
    let sink = SmtpSink::start(1);
    let tmp = tempfile::tempdir().unwrap();
    let mut pipeline = glas::demo_pipeline(None).unwrap();
    pipeline.alerts.as_mut().unwrap().smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    let ctx = Ctx::new(pipeline, Some(tmp.path()));
    let signal: glas_core::Signal = serde_json::from_str(
        r#"{"detected_at": "2026-11-20T14:00:00+03:00", "kind": "tension", "topic": "water", "place": "Величаевское",
            "severity": "high", "score": 7.4, "window": "6h", "count": 23, "baseline": 1.2, "negative_share": 0.87, "evidence": []}"#,
    )
    .unwrap();
    let first = ops::deliver_alerts(&ctx, std::slice::from_ref(&signal), &[]).await.unwrap().unwrap();
    assert_eq!(first.failed.len(), 1);
    assert!(first.failed[0].1.to_string().contains("451"), "{}", first.failed[0].1);
    assert!(sink.messages().is_empty());
    let second = ops::deliver_alerts(&ctx, std::slice::from_ref(&signal), &[]).await.unwrap().unwrap();
    assert_eq!(second.sent.len(), 1);
    assert_eq!(subject(&sink.messages()[0]), "ВЫСОКИЙ: водоснабжение, Величаевское — 23 негативных публикации за 6 ч");
    let log = std::fs::read_to_string(tmp.path().join("alerts/deliveries.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    assert!(log.lines().next().unwrap().contains("failed"));
}
