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

use std::collections::{BTreeMap, HashMap};

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

/// Signals at every hour of `(from, to]`; see [`detect_stepped`].
pub fn detect(
    records: &[Record],
    rules: &SignalRules,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Vec<Signal> {
    detect_stepped(records, rules, from, to, tz, Duration::hours(1))
}

/// Distinct values among the items a window holds, kept as counts so items
/// can enter and leave one at a time.
#[derive(Default)]
struct Distinct<'a>(HashMap<&'a str, u32>);

impl<'a> Distinct<'a> {
    fn add(&mut self, k: &'a str) {
        *self.0.entry(k).or_default() += 1;
    }
    fn remove(&mut self, k: &'a str) {
        if let Some(n) = self.0.get_mut(k) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(k);
            }
        }
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

fn voice<'a>(i: &Item<'a>) -> &'a str {
    i.rec.mention.author.as_deref().or(i.rec.mention.source.as_deref()).unwrap_or("")
}

/// Signals at every `step` of `(from, to]`, as if live at each step: only
/// mentions published at or before the step are seen.
///
/// Incremental: each series' mentions are walked once, in time order, with
/// the window `(t − window, t]` and the baseline span before it kept as
/// counts that mentions enter and leave; steps with no negative mention in
/// the window are skipped (nothing can fire there). Replaying a month at
/// hourly steps costs about one pass over the mentions.
pub fn detect_stepped(
    records: &[Record],
    rules: &SignalRules,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: chrono_tz::Tz,
    step: Duration,
) -> Vec<Signal> {
    let step = if step <= Duration::zero() { Duration::hours(1) } else { step };
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
    let start = from.duration_trunc(step).unwrap_or(from) + step;
    for ((topic, place), mut items) in series {
        items.sort_by_key(|i| i.at);
        let mut open_until: Option<DateTime<Utc>> = None;
        let mut episode_severity = Severity::Low;
        // items[lo_b..lo_w]: the baseline span; items[lo_w..hi]: the window.
        let (mut lo_b, mut lo_w, mut hi) = (0usize, 0usize, 0usize);
        let (mut stories, mut voices, mut base) = (Distinct::default(), Distinct::default(), Distinct::default());
        let mut negatives = 0usize;
        let mut t = start;
        while t <= to {
            while hi < items.len() && items[hi].at <= t {
                if items[hi].negative {
                    stories.add(&items[hi].rec.enrichment.cluster);
                    voices.add(voice(&items[hi]));
                    negatives += 1;
                }
                hi += 1;
            }
            while lo_w < hi && items[lo_w].at <= t - window {
                if items[lo_w].negative {
                    stories.remove(&items[lo_w].rec.enrichment.cluster);
                    voices.remove(voice(&items[lo_w]));
                    negatives -= 1;
                    base.add(&items[lo_w].rec.enrichment.cluster);
                }
                lo_w += 1;
            }
            while lo_b < lo_w && items[lo_b].at <= t - window - rules.baseline {
                if items[lo_b].negative {
                    base.remove(&items[lo_b].rec.enrichment.cluster);
                }
                lo_b += 1;
            }
            if negatives == 0 {
                // Nothing can fire until the next mention arrives: jump to its step.
                let Some(next) = items.get(hi) else { break };
                let behind = (next.at - t).num_seconds().max(0);
                let steps = (behind + step.num_seconds() - 1) / step.num_seconds();
                t += step * steps.max(1) as i32;
                continue;
            }
            let count = stories.len() as u64;
            let baseline = base.len() as f64 * (window.num_seconds() as f64 / rules.baseline.num_seconds() as f64);
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
                    let in_window = &items[lo_w..hi];
                    let mut evidence: Vec<&Item> = in_window.iter().filter(|i| i.negative).collect();
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
                    params.insert("negative_mentions".into(), negatives.into());
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
                        negative_share: ((negatives as f64 / in_window.len().max(1) as f64) * 100.0).round() / 100.0,
                        evidence: evidence.iter().take(20).map(|i| i.rec.mention.id.clone()).collect(),
                        params,
                    });
                }
                open_until = Some(t + Duration::hours(QUIET));
            }
            t += step;
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

    /// The detector's rule, recomputed from scratch at every step: what the
    /// incremental walk must agree with.
    fn naive(
        recs: &[Record],
        rules: &SignalRules,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: Duration,
    ) -> Vec<(DateTime<Utc>, u64, u64)> {
        let mut fired = Vec::new();
        let mut t = from.duration_trunc(step).unwrap() + step;
        while t <= to {
            let neg = |lo: DateTime<Utc>, hi: DateTime<Utc>| -> Vec<&Record> {
                recs.iter()
                    .filter(|r| r.enrichment.sentiment == Sentiment::Negative)
                    .filter(|r| r.mention.published_at > lo && r.mention.published_at <= hi)
                    .collect()
            };
            let win = neg(t - rules.window, t);
            let stories: std::collections::HashSet<&str> = win.iter().map(|r| r.enrichment.cluster.as_str()).collect();
            let voices: std::collections::HashSet<&str> =
                win.iter().map(|r| r.mention.author.as_deref().unwrap()).collect();
            let base: std::collections::HashSet<&str> = neg(t - rules.window - rules.baseline, t - rules.window)
                .iter()
                .map(|r| r.enrichment.cluster.as_str())
                .collect();
            let baseline = base.len() as f64 * rules.window.num_seconds() as f64 / rules.baseline.num_seconds() as f64;
            let count = stories.len() as u64;
            if count >= u64::from(rules.min_negative)
                && count as f64 >= rules.ratio * baseline.max(1.0)
                && voices.len() >= 3
            {
                fired.push((t, count, (baseline * 100.0).round() as u64));
            }
            t += step;
        }
        fired
    }

    #[test]
    fn incremental_walk_agrees_with_recomputing_every_step() {
        // A month of background grumbling with two bursts, pseudo-random but fixed.
        let mut x: u64 = 7;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut recs = Vec::new();
        for k in 0..600usize {
            let burst = k % 10 < 3 && (200..260).contains(&k) || (450..480).contains(&k);
            let minutes = if burst { 3000 + (k as i64) * 7 } else { (next() % (30 * 24 * 60)) as i64 };
            let minutes = if (450..480).contains(&k) { 20_000 + (k as i64 - 450) * 11 } else { minutes };
            recs.push(rec(k, t0() + Duration::minutes(minutes), next() % 3 != 0 || burst, &format!("a{}", next() % 9)));
        }
        let rules = SignalRules::default();
        let (from, to) = (t0() - Duration::hours(1), t0() + Duration::days(31));
        for step in [Duration::hours(1), Duration::minutes(30), Duration::hours(3)] {
            let want = naive(&recs, &rules, from, to, step);
            // Every firing step, not only episode changes: compare with the episode-free view.
            let got = detect_stepped(&recs, &rules, from, to, chrono_tz::Europe::Moscow, step);
            assert!(!want.is_empty(), "the stream has bursts");
            for s in &got {
                let at = s.detected_at.with_timezone(&Utc);
                let w = want.iter().find(|w| w.0 == at).unwrap_or_else(|| panic!("{at} fired only incrementally"));
                assert_eq!((s.count, (s.baseline * 100.0).round() as u64), (w.1, w.2), "at {at}");
            }
            // And the first firing of the stream is the same step.
            assert_eq!(
                got.first().map(|s| s.detected_at.with_timezone(&Utc)),
                want.first().map(|w| w.0),
                "step {step}"
            );
        }
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
