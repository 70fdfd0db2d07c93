//! The first alert rule: a burst of negative mentions about one topic in one
//! settlement, against that series' own recent rate.
//!
//! At every hour `t` of the scanned span, for each topic × place series:
//! `count` = distinct negative stories (reprint clusters counted once) published
//! in `(t − window, t]`; `baseline` = the same count over the `baseline` span
//! before the window, scaled to one window. The rule fires when
//! `count ≥ min_negative`, `count ≥ ratio × max(baseline, 1)` and at least three
//! distinct authors or sources spoke (so one angry author cannot fire it alone).
//! The score follows SigniTrend's damped form `(count − max(β, baseline)) /
//! (√baseline + β)` with β = 1. Only mentions published at or before `t` are
//! seen at `t` (no look-ahead). A series that fired stays open until it has
//! been below the threshold for 24 hours: an episode opens with one signal
//! (`params.phase = "opened"`) and adds one only when its severity rises
//! (`"escalated"`), never one per hour.
//!
//! This is the thin baseline; the signal issue brings rhythm-aware baselines,
//! pooling, emerging issues and replay evaluation.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, DurationRound, Utc};
use glas_core::config::SignalRules;
use glas_core::{Record, Sentiment, Severity, Signal};

struct Item<'a> {
    at: DateTime<Utc>,
    negative: bool,
    rec: &'a Record,
}

/// Hours a quiet series must stay below threshold before a new episode can open.
const QUIET: i64 = 24;

pub fn detect(
    records: &[Record],
    rules: &SignalRules,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Vec<Signal> {
    let mut series: BTreeMap<(String, String), Vec<Item<'_>>> = BTreeMap::new();
    for r in records {
        let at = r.mention.published_at.with_timezone(&Utc);
        for topic in &r.enrichment.topics {
            for place in &r.enrichment.places {
                series.entry((topic.clone(), place.clone())).or_default().push(Item {
                    at,
                    negative: r.enrichment.sentiment == Sentiment::Negative,
                    rec: r,
                });
            }
        }
    }
    let window = rules.window;
    let mut out = Vec::new();
    let start = from.duration_trunc(Duration::hours(1)).unwrap_or(from) + Duration::hours(1);
    for ((topic, place), mut items) in series {
        items.sort_by_key(|i| i.at);
        let mut open_until: Option<DateTime<Utc>> = None;
        let mut episode_severity = Severity::Low;
        let mut t = start;
        while t <= to {
            let in_window: Vec<&Item> = items.iter().filter(|i| i.at > t - window && i.at <= t).collect();
            let negative: Vec<&Item> = in_window.iter().copied().filter(|i| i.negative).collect();
            let stories: HashSet<&str> = negative.iter().map(|i| i.rec.enrichment.cluster.as_str()).collect();
            let voices: HashSet<&str> = negative
                .iter()
                .map(|i| i.rec.mention.author.as_deref().or(i.rec.mention.source.as_deref()).unwrap_or(""))
                .collect();
            let count = stories.len() as u64;
            let base_from = t - window - rules.baseline;
            let base_stories: HashSet<&str> = items
                .iter()
                .filter(|i| i.negative && i.at > base_from && i.at <= t - window)
                .map(|i| i.rec.enrichment.cluster.as_str())
                .collect();
            let baseline =
                base_stories.len() as f64 * (window.num_seconds() as f64 / rules.baseline.num_seconds() as f64);
            let fires = count >= u64::from(rules.min_negative)
                && count as f64 >= rules.ratio * baseline.max(1.0)
                && voices.len() >= 3;
            if fires {
                let min = u64::from(rules.min_negative);
                let severity = if count >= 3 * min {
                    Severity::High
                } else if count >= 2 * min {
                    Severity::Medium
                } else {
                    Severity::Low
                };
                let opening = open_until.is_none_or(|u| t > u);
                if opening || severity > episode_severity {
                    episode_severity = severity;
                    let mut evidence: Vec<&Item> = negative.clone();
                    evidence.sort_by_key(|i| {
                        std::cmp::Reverse(
                            i.rec.mention.engagement.views.unwrap_or(0)
                                + 10 * i.rec.mention.engagement.comments.unwrap_or(0),
                        )
                    });
                    let score = (count as f64 - baseline.max(1.0)) / (baseline.sqrt() + 1.0);
                    let mut params = serde_json::Map::new();
                    params.insert("rule".into(), "negative_burst".into());
                    params.insert("phase".into(), if opening { "opened" } else { "escalated" }.into());
                    params.insert("min_negative".into(), rules.min_negative.into());
                    params.insert("ratio".into(), rules.ratio.into());
                    params.insert("baseline_span".into(), format!("{}d", rules.baseline.num_days()).into());
                    params.insert("distinct_voices".into(), voices.len().into());
                    params.insert("negative_mentions".into(), negative.len().into());
                    out.push(Signal {
                        detected_at: t.with_timezone(&tz).fixed_offset(),
                        kind: "tension".into(),
                        topic: Some(topic.clone()),
                        place: Some(place.clone()),
                        source: None,
                        severity,
                        score: (score * 10.0).round() / 10.0,
                        window: format_window(window),
                        count,
                        baseline: (baseline * 100.0).round() / 100.0,
                        negative_share: ((negative.len() as f64 / in_window.len().max(1) as f64) * 100.0).round()
                            / 100.0,
                        evidence: evidence.iter().take(20).map(|i| i.rec.mention.id.clone()).collect(),
                        params,
                    });
                }
                open_until = Some(t + Duration::hours(QUIET));
            }
            t += Duration::hours(1);
        }
    }
    out.sort_by(|a, b| a.detected_at.cmp(&b.detected_at).then_with(|| a.topic.cmp(&b.topic)));
    out
}

fn format_window(d: Duration) -> String {
    if d.num_seconds() % 86_400 == 0 {
        format!("{}d", d.num_days())
    } else if d.num_seconds() % 3600 == 0 {
        format!("{}h", d.num_hours())
    } else {
        format!("{}m", d.num_minutes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glas_core::{Enrichment, Mention};

    fn rec(id: usize, at: DateTime<Utc>, negative: bool, author: &str) -> Record {
        Record {
            mention: Mention {
                id: format!("m{id}"),
                source: Some("s".into()),
                url: None,
                published_at: at.fixed_offset(),
                author: Some(author.into()),
                title: None,
                text: String::new(),
                engagement: Default::default(),
                extra: Default::default(),
            },
            enrichment: Enrichment {
                id: format!("m{id}"),
                sentiment: if negative { Sentiment::Negative } else { Sentiment::Neutral },
                topics: vec!["water".into()],
                places: vec!["Заря".into()],
                cluster: format!("c{id}"),
                ..Default::default()
            },
            source_kind: "telegram".into(),
        }
    }

    fn t0() -> DateTime<Utc> {
        "2026-11-20T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn burst_fires_once_per_episode() {
        let mut recs: Vec<Record> = (0..14).map(|d| rec(d, t0() - Duration::days(d as i64 + 1), true, "a")).collect();
        for k in 0..12 {
            recs.push(rec(
                100 + k,
                t0() + Duration::hours(8) + Duration::minutes(20 * k as i64),
                true,
                &format!("author{}", k % 5),
            ));
        }
        let sigs = detect(&recs, &SignalRules::default(), t0(), t0() + Duration::days(2), chrono_tz::Europe::Moscow);
        assert_eq!(sigs.iter().filter(|s| s.params["phase"] == "opened").count(), 1, "{sigs:#?}");
        let s = &sigs[0];
        assert_eq!(s.topic.as_deref(), Some("water"));
        assert!(s.count >= 5 && s.evidence.iter().all(|e| e.starts_with("m1")), "{s:?}");
        // No look-ahead: detection is after the fifth post, not before.
        assert!(s.detected_at.with_timezone(&Utc) >= t0() + Duration::hours(9) + Duration::minutes(20));
    }

    #[test]
    fn an_episode_escalates_but_never_repeats() {
        let mut recs = Vec::new();
        for k in 0..40 {
            recs.push(rec(k, t0() + Duration::minutes(20 * k as i64), true, &format!("author{}", k % 7)));
        }
        let sigs = detect(&recs, &SignalRules::default(), t0(), t0() + Duration::days(2), chrono_tz::Europe::Moscow);
        let phases: Vec<(&str, Severity)> =
            sigs.iter().map(|s| (s.params["phase"].as_str().unwrap(), s.severity)).collect();
        assert_eq!(phases, [("opened", Severity::Low), ("escalated", Severity::Medium), ("escalated", Severity::High)]);
    }

    #[test]
    fn one_author_alone_does_not_fire() {
        let recs: Vec<Record> =
            (0..12).map(|k| rec(k, t0() + Duration::minutes(10 * k as i64), true, "angry")).collect();
        assert!(
            detect(&recs, &SignalRules::default(), t0(), t0() + Duration::days(1), chrono_tz::Europe::Moscow)
                .is_empty()
        );
    }
}
