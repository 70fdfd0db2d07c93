//! Key figures of the feedback loop, computed from the incidents' history
//! alone (never from the current rows), so that any figure of a report can
//! be recomputed by anyone holding the history: new against resolved, share
//! answered on time, median reaction and resolution time (from the first
//! complaint, in clock hours, as regional ratings count them), overdue,
//! escalations and repeat complaints; in total, per service and per topic.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Status;
use crate::db::HistoryEntry;

/// One reaction-and-resolution cycle of an incident: from its creation, or
/// from a repeat complaint that reopened it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cycle {
    /// The first complaint of the cycle (a repeat's own time).
    pub from: DateTime<Utc>,
    pub reaction_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    pub reacted_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// An incident as its history tells it up to some moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub service: String,
    pub topic: Option<String>,
    pub place: Option<String>,
    pub status: Status,
    pub merged: bool,
    /// The public answer of the current cycle.
    pub answered_publicly: Option<DateTime<Utc>>,
    /// Every public answer, by its publication time.
    pub public_answers: Vec<DateTime<Utc>>,
    pub cycles: Vec<Cycle>,
    /// Repeat complaints (reopenings), by when they were recorded.
    pub repeats: Vec<DateTime<Utc>>,
    /// Escalations (a deadline passed), by when they were sent.
    pub escalations: Vec<DateTime<Utc>>,
}

impl Facts {
    fn cycle(&mut self) -> &mut Cycle {
        if self.cycles.is_empty() {
            self.cycles.push(Cycle {
                from: self.created_at,
                reaction_due: None,
                resolution_due: None,
                reacted_at: None,
                resolved_at: None,
            });
        }
        self.cycles.last_mut().expect("one cycle at least")
    }

    /// Whether, at `t`, a deadline has passed unmet.
    pub fn overdue_at(&self, t: DateTime<Utc>) -> bool {
        if self.merged || self.status.closed() || self.status == Status::Postponed {
            return false;
        }
        self.cycles.last().is_some_and(|c| {
            (c.reacted_at.is_none() && c.reaction_due.is_some_and(|d| t > d))
                || (c.resolved_at.is_none() && c.resolution_due.is_some_and(|d| t > d))
        })
    }
}

fn time(v: &serde_json::Value, key: &str) -> Option<DateTime<Utc>> {
    v.get(key)?.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

fn text(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_string)
}

/// Replays the history (entries before `until`, in order) into each
/// incident's facts.
pub fn replay(history: &[HistoryEntry], until: DateTime<Utc>) -> BTreeMap<i64, Facts> {
    let mut out: BTreeMap<i64, Facts> = BTreeMap::new();
    for h in history.iter().filter(|h| h.at < until) {
        if h.action == "created" {
            let first = time(&h.data, "first_complaint_at").unwrap_or(h.at);
            out.insert(
                h.incident,
                Facts {
                    id: h.incident,
                    created_at: h.at,
                    service: text(&h.data, "service").unwrap_or_default(),
                    topic: text(&h.data, "topic"),
                    place: text(&h.data, "place"),
                    status: h.status,
                    merged: false,
                    answered_publicly: None,
                    public_answers: Vec::new(),
                    cycles: vec![Cycle {
                        from: first,
                        reaction_due: time(&h.data, "reaction_due"),
                        resolution_due: time(&h.data, "resolution_due"),
                        reacted_at: None,
                        resolved_at: None,
                    }],
                    repeats: Vec::new(),
                    escalations: Vec::new(),
                },
            );
            continue;
        }
        let Some(f) = out.get_mut(&h.incident) else { continue };
        let before = f.status;
        f.status = h.status;
        match h.action.as_str() {
            "assigned" => {
                if let Some(s) = text(&h.data, "service") {
                    f.service = s;
                }
            }
            "status" => {
                let c = f.cycle();
                if h.status.is_reaction() && c.reacted_at.is_none() {
                    c.reacted_at = Some(h.at);
                }
                match h.status {
                    Status::Resolved => c.resolved_at = Some(h.at),
                    Status::InWork if before.closed() || before == Status::Postponed => {
                        c.resolved_at = None;
                        if let Some(d) = time(&h.data, "resolution_due") {
                            c.resolution_due = Some(d);
                        }
                    }
                    _ => {}
                }
            }
            "public_answer" => {
                let at = time(&h.data, "published_at").unwrap_or(h.at);
                f.answered_publicly.get_or_insert(at);
                f.public_answers.push(at);
                let c = f.cycle();
                c.reacted_at = Some(c.reacted_at.map_or(at, |r| r.min(at)));
            }
            "reopened" => {
                let at = time(&h.data, "complaint_at").unwrap_or(h.at);
                f.repeats.push(h.at);
                f.answered_publicly = None;
                f.cycles.push(Cycle {
                    from: at,
                    reaction_due: time(&h.data, "reaction_due"),
                    resolution_due: time(&h.data, "resolution_due"),
                    reacted_at: None,
                    resolved_at: None,
                });
            }
            "severity" => {
                let (rd, sd) = (time(&h.data, "reaction_due"), time(&h.data, "resolution_due"));
                let c = f.cycle();
                if rd.is_some() {
                    c.reaction_due = rd;
                }
                if sd.is_some() {
                    c.resolution_due = sd;
                }
            }
            "returned" => {
                if let Some(d) = time(&h.data, "resolution_due") {
                    f.cycle().resolution_due = Some(d);
                }
            }
            "absorbed" => {
                if let Some(t) = time(&h.data, "first_complaint_at") {
                    let c = f.cycle();
                    c.from = c.from.min(t);
                }
            }
            "merged" => f.merged = true,
            "overdue" => f.escalations.push(h.at),
            _ => {}
        }
    }
    out
}

/// The figures of one group (all incidents, one service, one topic) over a
/// period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kpi {
    pub group: String,
    /// Incidents created in the period (merged duplicates not counted).
    pub new: u32,
    /// Cycles resolved in the period.
    pub resolved: u32,
    /// Open at the end of the period, and of those past a deadline.
    pub open: u32,
    pub overdue: u32,
    /// Cycles whose first reaction fell in the period, and of those in time.
    pub reactions: u32,
    pub on_time: u32,
    pub median_reaction_hours: Option<f64>,
    pub median_resolution_hours: Option<f64>,
    /// Escalations sent and repeat complaints recorded in the period.
    pub escalations: u32,
    pub repeats: u32,
    /// Public answers in the administration's own channels in the period.
    pub answered_publicly: u32,
}

impl Kpi {
    /// Share of reactions in time (`None` without reactions).
    pub fn on_time_share(&self) -> Option<f64> {
        (self.reactions > 0).then(|| f64::from(self.on_time) / f64::from(self.reactions))
    }
}

/// The figures of a period: in total, per service and per topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub total: Kpi,
    pub by_service: Vec<Kpi>,
    pub by_topic: Vec<Kpi>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn hours(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_seconds().max(0) as f64 / 3600.0
}

/// The figures of `[from, to)` from the history alone.
pub fn report(history: &[HistoryEntry], from: DateTime<Utc>, to: DateTime<Utc>) -> Report {
    let facts = replay(history, to);
    let within = |t: DateTime<Utc>| t >= from && t < to;
    let figures = |group: String, pick: &dyn Fn(&Facts) -> bool| {
        let mut k = Kpi { group, ..Default::default() };
        let (mut reaction, mut resolution) = (Vec::new(), Vec::new());
        for f in facts.values().filter(|f| pick(f)) {
            if f.merged {
                continue;
            }
            k.new += u32::from(within(f.created_at));
            for c in &f.cycles {
                if let Some(r) = c.reacted_at.filter(|&r| within(r)) {
                    k.reactions += 1;
                    k.on_time += u32::from(c.reaction_due.is_none_or(|d| r <= d));
                    reaction.push(hours(c.from, r));
                }
                if let Some(r) = c.resolved_at.filter(|&r| within(r)) {
                    k.resolved += 1;
                    resolution.push(hours(c.from, r));
                }
            }
            if !f.status.closed() {
                k.open += 1;
                k.overdue += u32::from(f.overdue_at(to));
            }
            k.escalations += f.escalations.iter().filter(|&&t| within(t)).count() as u32;
            k.repeats += f.repeats.iter().filter(|&&t| within(t)).count() as u32;
            k.answered_publicly += f.public_answers.iter().filter(|&&t| within(t)).count() as u32;
        }
        k.median_reaction_hours = median(reaction);
        k.median_resolution_hours = median(resolution);
        k
    };
    let mut services: Vec<String> = facts.values().map(|f| f.service.clone()).collect();
    services.sort();
    services.dedup();
    let mut topics: Vec<Option<String>> = facts.values().map(|f| f.topic.clone()).collect();
    topics.sort();
    topics.dedup();
    let busy = |k: &Kpi| k.new + k.resolved + k.open + k.reactions + k.escalations + k.repeats > 0;
    Report {
        from,
        to,
        total: figures("всего".into(), &|_| true),
        by_service: services
            .into_iter()
            .map(|s| figures(s.clone(), &|f: &Facts| f.service == s))
            .filter(busy)
            .collect(),
        by_topic: topics
            .into_iter()
            .map(|t| figures(t.clone().unwrap_or_else(|| "-".into()), &|f: &Facts| f.topic == t))
            .filter(busy)
            .collect(),
    }
}
