//! Pickup: how the media carried the administration's own publications.
//!
//! Another source's mention published after an own publication picks it up
//! when it is a **reprint** (the same reprint cluster: the same text, as the
//! store's exact-text key finds it), **links** to it (its URL in the text),
//! or **quotes** it (a sentence of eight words or more of the own text,
//! word for word). Each outlet's mention counts once, by the strongest of
//! the three.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A mention as pickup reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub id: String,
    pub source_id: String,
    pub source_name: String,
    /// An `own = true` source's.
    pub own: bool,
    pub published_at: DateTime<Utc>,
    /// The reprint cluster key (empty: none).
    pub cluster: String,
    /// Title and text.
    pub text: String,
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    Reprint,
    Link,
    Quote,
}

impl How {
    pub fn label_ru(self) -> &'static str {
        match self {
            How::Reprint => "перепечатка",
            How::Link => "ссылка",
            How::Quote => "цитата",
        }
    }
}

/// One outlet's mention that picked an own publication up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Carried {
    pub id: String,
    pub source_name: String,
    pub url: String,
    pub how: How,
    /// Hours after the own publication.
    pub delay_hours: f64,
    /// For a quote: the sentence quoted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// An own publication and who carried it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pickup {
    pub id: String,
    pub source_name: String,
    pub published_at: DateTime<Utc>,
    pub text: String,
    pub url: String,
    pub carried: Vec<Carried>,
}

impl Pickup {
    /// Hours to the first pickup.
    pub fn first_delay_hours(&self) -> Option<f64> {
        self.carried.iter().map(|c| c.delay_hours).min_by(f64::total_cmp)
    }

    /// Distinct outlets that carried it.
    pub fn outlets(&self) -> usize {
        self.carried.iter().map(|c| c.source_name.as_str()).collect::<HashSet<_>>().len()
    }
}

/// Words of a text, lower case, `ё` as `е`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('ё', "е"))
        .collect()
}

/// The own text's sentences of eight words or more, as word lists.
fn sentences(text: &str) -> Vec<(String, Vec<String>)> {
    text.split(['.', '!', '?', '\n'])
        .map(str::trim)
        .map(|s| (s.to_string(), words(s)))
        .filter(|(_, w)| w.len() >= 8)
        .collect()
}

fn contains_run(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every own publication among `all` (in `own_ids`, or all own ones when
/// empty) with the mentions that carried it.
pub fn pickups(all: &[Published], own_ids: &HashSet<String>) -> Vec<Pickup> {
    let others: Vec<(&Published, Vec<String>)> = all.iter().filter(|p| !p.own).map(|p| (p, words(&p.text))).collect();
    let mut out = Vec::new();
    for o in all.iter().filter(|p| p.own && (own_ids.is_empty() || own_ids.contains(&p.id))) {
        let quotes = sentences(&o.text);
        let url = o.url.trim_end_matches('/');
        let mut carried: Vec<Carried> = Vec::new();
        for (m, mw) in &others {
            if m.published_at < o.published_at {
                continue;
            }
            let mut how = None;
            let mut quote = None;
            if !o.cluster.is_empty() && m.cluster == o.cluster {
                how = Some(How::Reprint);
            } else if url.len() > 10 && m.text.contains(url) {
                how = Some(How::Link);
            } else if let Some((s, _)) = quotes.iter().find(|(_, w)| contains_run(mw, w)) {
                how = Some(How::Quote);
                quote = Some(s.clone());
            }
            if let Some(how) = how {
                carried.push(Carried {
                    id: m.id.clone(),
                    source_name: m.source_name.clone(),
                    url: m.url.clone(),
                    how,
                    delay_hours: (m.published_at - o.published_at).num_minutes() as f64 / 60.0,
                    quote,
                });
            }
        }
        carried.sort_by(|a, b| a.delay_hours.total_cmp(&b.delay_hours).then(a.id.cmp(&b.id)));
        out.push(Pickup {
            id: o.id.clone(),
            source_name: o.source_name.clone(),
            published_at: o.published_at,
            text: o.text.clone(),
            url: o.url.clone(),
            carried,
        });
    }
    out.sort_by_key(|p| p.published_at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, own: bool, at: &str, cluster: &str, text: &str) -> Published {
        Published {
            id: id.into(),
            source_id: if own { "adm".into() } else { format!("src-{id}") },
            source_name: if own { "Администрация".into() } else { format!("СМИ {id}") },
            own,
            published_at: DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc),
            cluster: cluster.into(),
            text: text.into(),
            url: format!("https://example.org/{id}"),
        }
    }

    #[test]
    fn reprints_links_and_quotes_after_the_own_publication() {
        let release = "Аварийно-восстановительные работы. На водоводе в селе Величаевское произошёл порыв, аварийная бригада водоканала приступила к ремонту.";
        let all = [
            p("own", true, "2026-11-23T11:40:00+03:00", "c1", release),
            p("r", false, "2026-11-23T12:52:00+03:00", "c1", release),
            p("early", false, "2026-11-23T10:00:00+03:00", "c1", release),
            p("l", false, "2026-11-23T15:00:00+03:00", "c9", "Подробнее на сайте: https://example.org/own"),
            p(
                "q",
                false,
                "2026-11-24T09:00:00+03:00",
                "c8",
                "В администрации сообщили: на водоводе в селе Величаевское произошёл порыв, аварийная бригада водоканала приступила к ремонту. Жители недовольны.",
            ),
            p("no", false, "2026-11-24T09:00:00+03:00", "c7", "На водоводе порыв, бригада работает"),
        ];
        let got = pickups(&all, &HashSet::new());
        assert_eq!(got.len(), 1);
        let hows: Vec<(&str, How)> = got[0].carried.iter().map(|c| (c.id.as_str(), c.how)).collect();
        assert_eq!(hows, [("r", How::Reprint), ("l", How::Link), ("q", How::Quote)]);
        assert_eq!(got[0].first_delay_hours(), Some(1.2));
        assert_eq!(got[0].outlets(), 3);
        assert!(got[0].carried[2].quote.as_deref().unwrap().starts_with("На водоводе"));
    }
}
