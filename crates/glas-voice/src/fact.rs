//! Plan against fact: each planned item matched to an own publication.
//!
//! A publication can fulfil a row when it came from the row's channel (an own
//! source's id or name; any own channel when the row names none), on a day
//! from the row's first day to `grace` days after its last, and says the
//! same thing: the row's topic among the publication's topics, or enough of
//! the row's words in its text ([`similarity`]). Rows are matched in date
//! order, each to its best candidate (on time before late, then the most
//! similar), a publication fulfilling one row at most.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::Serialize;

use crate::plan::PlanRow;

/// One publication of an own channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnPub {
    pub id: String,
    pub source_id: String,
    pub source_name: String,
    /// The day of publication in the district's time.
    pub day: NaiveDate,
    pub topics: Vec<String>,
    /// Title and text.
    pub text: String,
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Published within the planned days.
    Published,
    /// Published after them (within the grace days).
    Late,
    /// Its last day (and the grace days) passed without it.
    Missing,
    /// Not due yet.
    Upcoming,
}

impl State {
    pub fn label_ru(self) -> &'static str {
        match self {
            State::Published => "вышло",
            State::Late => "вышло с опозданием",
            State::Missing => "не вышло",
            State::Upcoming => "ожидается",
        }
    }
}

/// What became of one planned row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub row: PlanRow,
    pub state: State,
    /// The publication that fulfilled it.
    pub publication: Option<OwnPub>,
    /// Days after the row's last day (late ones).
    pub late_days: i64,
}

impl Outcome {
    /// What became of the row, in Russian, with the days of a delay.
    pub fn state_ru(&self) -> String {
        match self.state {
            State::Late => format!("{} ({} дн.)", self.state.label_ru(), self.late_days),
            s => s.label_ru().to_string(),
        }
    }
}

/// The plan of a period against its own publications.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanFact {
    pub outcomes: Vec<Outcome>,
    /// Own publications of the period no row planned.
    pub unplanned: Vec<OwnPub>,
}

impl PlanFact {
    pub fn count(&self, s: State) -> usize {
        self.outcomes.iter().filter(|o| o.state == s).count()
    }
}

/// Lower-case words of four letters or more, cut to their first six letters:
/// a crude stem that lets "водоснабжения" meet "водоснабжение".
fn stems(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(|w| w.to_lowercase().replace('ё', "е").chars().take(6).collect())
        .collect()
}

/// The share of the row's words found in the publication (0 to 1).
pub fn similarity(subject: &str, text: &str) -> f64 {
    let a = stems(subject);
    if a.is_empty() {
        return 0.0;
    }
    let b = stems(text);
    a.iter().filter(|w| b.contains(*w)).count() as f64 / a.len() as f64
}

/// The share of the row's words a publication must have, without the topic.
const SIMILAR: f64 = 0.5;
/// With the topic matching, fewer words will do.
const SIMILAR_ON_TOPIC: f64 = 0.2;

/// Matches `rows` to `pubs`; `today` decides what is missing or still to
/// come; `grace` days after a row's last day a publication is late, after
/// that missing. `unplanned` lists the own publications from `from` to
/// `to` that no row took.
pub fn plan_vs_fact(
    rows: &[PlanRow],
    pubs: &[OwnPub],
    today: NaiveDate,
    grace: i64,
    period: (NaiveDate, NaiveDate),
) -> PlanFact {
    let mut sorted: Vec<&PlanRow> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.from, r.id));
    let mut used: HashSet<&str> = HashSet::new();
    let mut outcomes = Vec::new();
    for r in sorted {
        let channel = r.channel.trim().to_lowercase();
        let best = pubs
            .iter()
            .filter(|p| !used.contains(p.id.as_str()))
            .filter(|p| {
                channel.is_empty() || p.source_id.to_lowercase() == channel || p.source_name.to_lowercase() == channel
            })
            .filter(|p| p.day >= r.from && (p.day - r.to).num_days() <= grace)
            .filter_map(|p| {
                let sim = similarity(&r.subject, &p.text);
                let on_topic = !r.topic.is_empty() && p.topics.iter().any(|t| t == &r.topic);
                let enough = sim >= SIMILAR || (on_topic && sim >= SIMILAR_ON_TOPIC);
                enough.then_some((p.day > r.to, sim, p))
            })
            .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.day.cmp(&b.2.day)));
        let outcome = match best {
            Some((late, _, p)) => {
                used.insert(p.id.as_str());
                Outcome {
                    row: r.clone(),
                    state: if late { State::Late } else { State::Published },
                    publication: Some(p.clone()),
                    late_days: if late { (p.day - r.to).num_days() } else { 0 },
                }
            }
            None => Outcome {
                row: r.clone(),
                state: if (today - r.to).num_days() > grace || (today > r.to && grace == 0) {
                    State::Missing
                } else {
                    State::Upcoming
                },
                publication: None,
                late_days: 0,
            },
        };
        outcomes.push(outcome);
    }
    let unplanned = pubs
        .iter()
        .filter(|p| !used.contains(p.id.as_str()) && p.day >= period.0 && p.day <= period.1)
        .cloned()
        .collect();
    PlanFact { outcomes, unplanned }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn row(id: i64, from: &str, to: &str, topic: &str, subject: &str) -> PlanRow {
        PlanRow {
            id,
            from: d(from),
            to: d(to),
            channel: "adm".into(),
            topic: topic.into(),
            subject: subject.into(),
            responsible: String::new(),
        }
    }

    fn publ(id: &str, day: &str, topics: &[&str], text: &str) -> OwnPub {
        OwnPub {
            id: id.into(),
            source_id: "adm".into(),
            source_name: "Администрация".into(),
            day: d(day),
            topics: topics.iter().map(|s| s.to_string()).collect(),
            text: text.into(),
            url: format!("https://adm.example/{id}"),
        }
    }

    #[test]
    fn published_late_missing_upcoming_and_unplanned() {
        let rows = [
            row(1, "2026-11-23", "2026-11-23", "water", "Аварийные работы на водопроводе в Величаевском"),
            row(2, "2026-11-24", "2026-11-24", "", "Итоги уборочной кампании"),
            row(3, "2026-11-24", "2026-11-24", "", "Памятка о подготовке к отопительному сезону"),
            row(4, "2026-11-27", "2026-11-27", "", "Итоги недели"),
        ];
        let pubs = [
            publ("a", "2026-11-23", &["water"], "Аварийно-восстановительные работы в Величаевском. Бригада водоканала"),
            publ("b", "2026-11-25", &["agriculture"], "В округе подвели итоги уборочной. Кампания завершена"),
            publ("c", "2026-11-24", &["education"], "В школах округа прошли олимпиады"),
        ];
        let pf = plan_vs_fact(&rows, &pubs, d("2026-11-25"), 0, (d("2026-11-23"), d("2026-11-29")));
        let states: Vec<State> = pf.outcomes.iter().map(|o| o.state).collect();
        assert_eq!(states, [State::Published, State::Missing, State::Missing, State::Upcoming], "{pf:#?}");
        let pf = plan_vs_fact(&rows, &pubs, d("2026-11-25"), 2, (d("2026-11-23"), d("2026-11-29")));
        let states: Vec<State> = pf.outcomes.iter().map(|o| o.state).collect();
        assert_eq!(states, [State::Published, State::Late, State::Upcoming, State::Upcoming], "{pf:#?}");
        assert_eq!(pf.outcomes[1].late_days, 1);
        assert_eq!(pf.unplanned.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["c"]);
        // Another channel's publication fulfils nothing.
        let mut other = rows[0].clone();
        other.channel = "vk-adm".into();
        let pf = plan_vs_fact(&[other], &pubs, d("2026-11-25"), 0, (d("2026-11-23"), d("2026-11-29")));
        assert_eq!(pf.outcomes[0].state, State::Missing);
    }

    #[test]
    fn word_overlap_is_by_crude_stems() {
        assert!(similarity("Восстановление водоснабжения", "водоснабжение восстановлено") >= 0.99);
        assert_eq!(similarity("Итоги недели", "Праздник урожая"), 0.0);
        assert_eq!(similarity("", "x"), 0.0);
    }
}
