//! The administration's image index, in the spirit of Медиалогия's
//! МедиаИндекс: every mention that names the administration or one of its
//! officials (`[image] subjects`) weighs by where it appeared, its tone
//! towards them, their role in the text and whether they speak in it; a
//! week's index is the sum. The formula and its weights are the pipeline's
//! (`glas_core::config::ImageSettings`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use glas_core::Sentiment;
use glas_core::config::ImageSettings;
use serde::Serialize;

/// Where a mention appeared, as the index weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Media,
    Social,
    Comment,
}

impl Class {
    pub fn label_ru(self) -> &'static str {
        match self {
            Class::Media => "СМИ",
            Class::Social => "соцсети",
            Class::Comment => "комментарий",
        }
    }
}

/// One mention's contribution to the index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub id: String,
    pub source_name: String,
    pub published_at: DateTime<FixedOffset>,
    /// The district day it was published on.
    pub day: NaiveDate,
    /// Title and text.
    pub text: String,
    pub url: String,
    pub topics: Vec<String>,
    pub class: Class,
    /// Tone towards the subjects.
    pub tone: Sentiment,
    /// The subjects are the text's main ones.
    pub main: bool,
    /// A subject speaks in the text.
    pub quoted: bool,
    pub value: f64,
}

/// `source weight × tone × role × quote`.
pub fn value(s: &ImageSettings, class: Class, tone: Sentiment, main: bool, quoted: bool) -> f64 {
    let weight = match class {
        Class::Media => s.media,
        Class::Social => s.social,
        Class::Comment => s.comment,
    };
    let tone = match tone {
        Sentiment::Positive => 1.0,
        Sentiment::Neutral => s.neutral,
        Sentiment::Negative => -1.0,
    };
    let role = if main { s.main } else { s.secondary };
    weight * tone * role * if quoted { s.quote } else { 1.0 }
}

/// One week of the index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageWeek {
    pub monday: NaiveDate,
    pub index: f64,
    pub mentions: usize,
    pub positive: usize,
    pub negative: usize,
    /// Topic code → the week's index over the mentions of that topic.
    pub by_topic: BTreeMap<String, f64>,
}

/// The index of each week starting on `mondays`.
pub fn weeks(scored: &[Scored], mondays: &[NaiveDate]) -> Vec<ImageWeek> {
    mondays
        .iter()
        .map(|&monday| {
            let mut w =
                ImageWeek { monday, index: 0.0, mentions: 0, positive: 0, negative: 0, by_topic: BTreeMap::new() };
            for s in in_week(scored, monday) {
                w.index += s.value;
                w.mentions += 1;
                w.positive += usize::from(s.tone == Sentiment::Positive);
                w.negative += usize::from(s.tone == Sentiment::Negative);
                for t in &s.topics {
                    *w.by_topic.entry(t.clone()).or_default() += s.value;
                }
            }
            w
        })
        .collect()
}

fn in_week(scored: &[Scored], monday: NaiveDate) -> impl Iterator<Item = &Scored> {
    scored.iter().filter(move |s| s.day >= monday && s.day < monday + Duration::days(7))
}

/// The `n` mentions of the week that moved the index most (largest absolute
/// value first; ties by time).
pub fn movers(scored: &[Scored], monday: NaiveDate, n: usize) -> Vec<Scored> {
    let mut week: Vec<&Scored> = in_week(scored, monday).filter(|s| s.value != 0.0).collect();
    week.sort_by(|a, b| b.value.abs().total_cmp(&a.value.abs()).then(a.published_at.cmp(&b.published_at)));
    week.into_iter().take(n).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(day: &str, tone: Sentiment, class: Class, main: bool, quoted: bool) -> Scored {
        let s = ImageSettings::default();
        let day: NaiveDate = day.parse().unwrap();
        Scored {
            id: format!("{day}-{tone:?}"),
            source_name: "x".into(),
            published_at: DateTime::parse_from_rfc3339(&format!("{day}T10:00:00+03:00")).unwrap(),
            day,
            text: String::new(),
            url: String::new(),
            topics: vec!["water".into()],
            class,
            tone,
            main,
            quoted,
            value: value(&s, class, tone, main, quoted),
        }
    }

    #[test]
    fn the_formula_and_the_weeks() {
        let s = ImageSettings::default();
        assert_eq!(value(&s, Class::Media, Sentiment::Positive, true, true), 1.5);
        assert_eq!(value(&s, Class::Social, Sentiment::Negative, false, false), -0.25);
        assert!((value(&s, Class::Comment, Sentiment::Neutral, true, false) - 0.05).abs() < 1e-9);
        let all = vec![
            scored("2026-11-23", Sentiment::Negative, Class::Media, true, false),
            scored("2026-11-24", Sentiment::Positive, Class::Media, true, true),
            scored("2026-11-29", Sentiment::Negative, Class::Social, false, false),
            scored("2026-11-30", Sentiment::Positive, Class::Social, true, false),
        ];
        let monday: NaiveDate = "2026-11-23".parse().unwrap();
        let w = weeks(&all, &[monday, monday + Duration::days(7)]);
        assert!((w[0].index - (-1.0 + 1.5 - 0.25)).abs() < 1e-9, "{}", w[0].index);
        assert_eq!((w[0].mentions, w[0].positive, w[0].negative), (3, 1, 2));
        assert!((w[0].by_topic["water"] - w[0].index).abs() < 1e-9);
        assert_eq!(w[1].mentions, 1);
        let m = movers(&all, monday, 2);
        assert_eq!(m.iter().map(|s| s.value).collect::<Vec<_>>(), [1.5, -1.0]);
    }
}
