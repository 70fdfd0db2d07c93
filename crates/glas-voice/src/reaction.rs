//! Residents' reaction under the own publications: the comments, their tone,
//! the complaints and questions among them, and the questions no official
//! comment answered.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use glas_core::{MentionType, Sentiment};
use serde::Serialize;

/// A comment under an own publication.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comment {
    pub id: String,
    /// The mention id of the publication it is under.
    pub post: String,
    pub author: Option<String>,
    pub at: DateTime<FixedOffset>,
    pub text: String,
    pub url: String,
    pub sentiment: Sentiment,
    pub kind: MentionType,
    /// Written by the administration's account (the community itself or one
    /// of `official_accounts`).
    pub official: bool,
}

/// The residents' comments under one publication, counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reaction {
    pub post: String,
    /// Residents' comments (the administration's own replies not counted).
    pub comments: usize,
    pub negative: usize,
    pub positive: usize,
    pub complaints: usize,
    pub questions: usize,
    /// Official replies under the publication.
    pub replies: usize,
    /// Residents' questions (complaints that ask included) with no official
    /// comment after them.
    pub unanswered: Vec<Comment>,
}

impl Reaction {
    /// The residents' mood in one Russian word, for a table cell.
    pub fn mood_ru(&self) -> &'static str {
        if self.comments == 0 {
            "—"
        } else if self.negative * 2 > self.comments {
            "негативная"
        } else if self.positive * 2 > self.comments {
            "позитивная"
        } else if self.negative > self.positive {
            "скорее негативная"
        } else {
            "спокойная"
        }
    }
}

/// How one own publication was received: its engagement and the residents'
/// comments under it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Received {
    pub id: String,
    pub source_id: String,
    pub source_name: String,
    pub published_at: DateTime<FixedOffset>,
    /// Title and text.
    pub text: String,
    pub url: String,
    /// Views, likes, comments, reposts at 24 h and 72 h, from the captures
    /// of the own channel's crawls; `latest` falls back to the figures the
    /// post was stored with.
    pub figures: crate::Figures,
    pub reaction: Reaction,
}

/// An official page's health over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageHealth {
    pub source_id: String,
    pub name: String,
    /// Own publications in the period.
    pub posts: usize,
    /// Media plan rows for this channel in the period.
    pub planned: usize,
    /// The longest stretch without a publication, in days (the period's
    /// ends count as bounds).
    pub longest_gap_days: f64,
    /// Subscribers or members as last counted.
    pub audience: Option<i64>,
    /// Mean of (likes + comments + reposts) per publication per 100
    /// subscribers, from each publication's latest figures.
    pub engagement_per_100: Option<f64>,
    /// Residents' questions under the publications, and those answered.
    pub questions: usize,
    pub answered: usize,
}

impl PageHealth {
    /// Share of residents' questions answered, as "75 %" or "—".
    pub fn answered_ru(&self) -> String {
        if self.questions == 0 {
            "—".into()
        } else {
            format!("{:.0} %", 100.0 * self.answered as f64 / self.questions as f64)
        }
    }
}

/// The health of one page from its publications in `[start, end)`.
pub fn page_health(
    source_id: &str,
    name: &str,
    pubs: &[&Received],
    planned: usize,
    audience: Option<i64>,
    (start, end): (DateTime<FixedOffset>, DateTime<FixedOffset>),
) -> PageHealth {
    let mut times: Vec<DateTime<FixedOffset>> = pubs.iter().map(|p| p.published_at).collect();
    times.sort();
    let mut bounds = vec![start];
    bounds.extend(times.iter().copied().filter(|t| *t >= start && *t < end));
    bounds.push(end);
    let longest = bounds.windows(2).map(|w| (w[1] - w[0]).num_minutes()).max().unwrap_or(0) as f64 / 1440.0;
    let engagement_per_100 = audience.filter(|a| *a > 0 && !pubs.is_empty()).map(|a| {
        let total: i64 = pubs
            .iter()
            .filter_map(|p| p.figures.latest.as_ref())
            .map(|e| e.likes.unwrap_or(0) + e.comments.unwrap_or(0) + e.shares.unwrap_or(0))
            .sum();
        100.0 * total as f64 / pubs.len() as f64 / a as f64
    });
    let questions: usize = pubs.iter().map(|p| p.reaction.questions).sum();
    let unanswered: usize = pubs.iter().map(|p| p.reaction.unanswered.len()).sum();
    PageHealth {
        source_id: source_id.into(),
        name: name.into(),
        posts: pubs.len(),
        planned,
        longest_gap_days: longest,
        audience,
        engagement_per_100,
        questions,
        answered: questions - unanswered,
    }
}

/// The reaction under every publication that has comments, by publication id.
/// A question is a comment typed as one or any that asks (`?`: "когда уже
/// заменят водовод?!" is a complaint and a question); it counts as answered
/// once an official comment follows it under the same publication.
pub fn reactions(comments: &[Comment]) -> BTreeMap<String, Reaction> {
    let mut by_post: BTreeMap<String, Vec<&Comment>> = BTreeMap::new();
    for c in comments {
        by_post.entry(c.post.clone()).or_default().push(c);
    }
    let mut out = BTreeMap::new();
    for (post, mut cs) in by_post {
        cs.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        let mut r = Reaction { post: post.clone(), ..Default::default() };
        for (i, c) in cs.iter().enumerate() {
            if c.official {
                r.replies += 1;
                continue;
            }
            r.comments += 1;
            r.negative += usize::from(c.sentiment == Sentiment::Negative);
            r.positive += usize::from(c.sentiment == Sentiment::Positive);
            r.complaints += usize::from(c.kind == MentionType::Complaint);
            // Whatever asks waits for an answer, a complaint that asks too.
            if c.kind == MentionType::Question || c.text.contains('?') {
                r.questions += 1;
                if !cs[i + 1..].iter().any(|later| later.official) {
                    r.unanswered.push((*c).clone());
                }
            }
        }
        out.insert(post, r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, minute: u32, kind: MentionType, sentiment: Sentiment, official: bool) -> Comment {
        Comment {
            id: id.into(),
            post: "p".into(),
            author: None,
            at: DateTime::parse_from_rfc3339(&format!("2026-11-23T10:{minute:02}:00+03:00")).unwrap(),
            text: id.into(),
            url: String::new(),
            sentiment,
            kind,
            official,
        }
    }

    #[test]
    fn questions_before_an_official_reply_are_answered() {
        let cs = vec![
            c("q1", 1, MentionType::Question, Sentiment::Neutral, false),
            c("a", 5, MentionType::News, Sentiment::Neutral, true),
            c("k", 7, MentionType::Complaint, Sentiment::Negative, false),
            c("q2", 9, MentionType::Question, Sentiment::Negative, false),
            c("t", 11, MentionType::Gratitude, Sentiment::Positive, false),
        ];
        let r = &reactions(&cs)["p"];
        assert_eq!((r.comments, r.replies, r.questions, r.complaints), (4, 1, 2, 1));
        assert_eq!((r.negative, r.positive), (2, 1));
        assert_eq!(r.unanswered.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["q2"]);
        assert_eq!(r.mood_ru(), "скорее негативная");
    }
}
