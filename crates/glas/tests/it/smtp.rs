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

    // Every mention a signal cites is at hand for its email, and no other.
    let cited: std::collections::BTreeSet<&str> =
        analysis.signals.iter().flat_map(|s| s.evidence.iter().map(String::as_str)).collect();
    let decoded_ids: std::collections::BTreeSet<&str> =
        analysis.evidence.iter().map(|r| r.mention.id.as_str()).collect();
    assert!(!cited.is_empty());
    assert_eq!(decoded_ids, cited);
    let report = ops::deliver_alerts(&ctx, &analysis.signals, &analysis.evidence).await.unwrap().unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let messages = sink.messages();
    assert_eq!(messages.len(), report.sent.len());
    // Seen at once, the episode's opening and escalations are one email at
    // its current (highest) severity, not an "escalation" of an unsent alert.
    let water_mails: Vec<&String> =
        messages.iter().filter(|m| subject(m).contains("водоснабжение, Величаевское")).collect();
    assert_eq!(water_mails.len(), 1, "{:?}", messages.iter().map(|m| subject(m)).collect::<Vec<_>>());
    let raw = water_mails[0];
    let subj = subject(raw);
    assert!(!subj.contains("усиление"), "{subj}");
    assert!(subj.starts_with(water.last().unwrap().severity.russian()), "{subj}");
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
    let again = ops::deliver_alerts(&ctx, &analysis.signals, &analysis.evidence).await.unwrap().unwrap();
    assert!(again.sent.is_empty());
    assert_eq!(again.suppressed, report.sent.len());
    assert_eq!(sink.messages().len(), messages.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_email_is_retried_with_a_pause_and_a_later_round_retries_what_still_failed() {
    // Refused once: the second attempt, a pause later, delivers.
    let sink = SmtpSink::start(1);
    let tmp = tempfile::tempdir().unwrap();
    let mut pipeline = glas::demo_pipeline(None).unwrap();
    let alerts = pipeline.alerts.as_mut().unwrap();
    alerts.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    alerts.retry_delay = chrono::Duration::milliseconds(300);
    let ctx = Ctx::new(pipeline.clone(), Some(tmp.path()));
    let signal: glas_core::Signal = serde_json::from_str(
        r#"{"detected_at": "2026-11-20T14:00:00+03:00", "kind": "tension", "topic": "water", "place": "Величаевское",
            "severity": "high", "score": 7.4, "window": "6h", "count": 23, "baseline": 1.2, "negative_share": 0.87, "evidence": []}"#,
    )
    .unwrap();
    let t = std::time::Instant::now();
    let once = ops::deliver_alerts(&ctx, std::slice::from_ref(&signal), &[]).await.unwrap().unwrap();
    assert_eq!((once.sent.len(), once.failed.len()), (1, 0));
    assert!(t.elapsed() >= std::time::Duration::from_millis(300), "no pause before the retry");
    assert_eq!(sink.messages().len(), 1);
    drop(sink);

    // Refused more often than the attempts allow: the round fails, the next delivers.
    let sink = SmtpSink::start(3);
    let tmp = tempfile::tempdir().unwrap();
    let alerts = pipeline.alerts.as_mut().unwrap();
    alerts.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    alerts.attempts = 3;
    alerts.retry_delay = chrono::Duration::milliseconds(50);
    let ctx = Ctx::new(pipeline, Some(tmp.path()));
    let first = ops::deliver_alerts(&ctx, std::slice::from_ref(&signal), &[]).await.unwrap().unwrap();
    assert_eq!(first.failed.len(), 1);
    let err = first.failed[0].1.to_string();
    assert!(err.contains("451") && err.contains("attempt 3 of 3"), "{err}");
    assert!(sink.messages().is_empty());
    let second = ops::deliver_alerts(&ctx, std::slice::from_ref(&signal), &[]).await.unwrap().unwrap();
    assert_eq!(second.sent.len(), 1);
    assert_eq!(subject(&sink.messages()[0]), "ВЫСОКИЙ: водоснабжение, Величаевское — 23 негативных публикации за 6 ч");
    let log = std::fs::read_to_string(tmp.path().join("alerts/deliveries.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    assert!(log.lines().next().unwrap().contains("failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_go_over_starttls_and_implicit_tls_trusting_the_pipelines_ca() {
    let signal: glas_core::Signal = serde_json::from_str(
        r#"{"detected_at": "2026-11-20T14:00:00+03:00", "kind": "tension", "topic": "water", "place": "Величаевское",
            "severity": "high", "score": 7.4, "window": "6h", "count": 23, "baseline": 1.2, "negative_share": 0.87, "evidence": []}"#,
    )
    .unwrap();
    for (mode, url) in [("starttls", "smtp://127.0.0.1:{port}?tls=required"), ("implicit", "smtps://127.0.0.1:{port}")]
    {
        // The STARTTLS sink refuses mail before STARTTLS; the other speaks only TLS.
        let sink = SmtpSink::start_with(0, Some(mode));
        let tmp = tempfile::tempdir().unwrap();
        let mut pipeline = glas::demo_pipeline(None).unwrap();
        let alerts = pipeline.alerts.as_mut().unwrap();
        alerts.smtp_url = Some(url.replace("{port}", &sink.port.to_string()));
        alerts.attempts = 1;
        // Without the CA, the server's certificate is not trusted.
        let ctx = Ctx::new(pipeline.clone(), Some(tmp.path()));
        let refused = ops::deliver_alerts(&ctx, std::slice::from_ref(&signal), &[]).await.unwrap().unwrap();
        assert_eq!(refused.failed.len(), 1, "{mode}: delivered to an untrusted server");
        let err = refused.failed[0].1.to_string();
        assert!(err.to_lowercase().contains("certificate"), "{mode}: {err}");
        assert!(sink.messages().is_empty());
        // With the pipeline's CA, it is delivered, encrypted.
        pipeline.alerts.as_mut().unwrap().ca_file = Some(repo().join("tests/support/tls/ca.pem"));
        let ctx = Ctx::new(pipeline, Some(tmp.path()));
        let sent = ops::deliver_alerts(&ctx, std::slice::from_ref(&signal), &[]).await.unwrap().unwrap();
        assert!(
            sent.failed.is_empty(),
            "{mode}: {:?}",
            sent.failed.iter().map(|f| f.1.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(sink.messages().len(), 1, "{mode}");
        assert!(subject(&sink.messages()[0]).starts_with("ВЫСОКИЙ: водоснабжение"), "{mode}");
    }
}
