//! Enrichment measured on public data glas did not write: the test split of
//! residents' appeals to Kursk region authorities (every one a complaint or a
//! request, with a topic), and calm (neutral or positive) sentences of news
//! and opinion journalism (RuSentNE-2023's validation file) and tweets
//! (RuSentiTweet's test split), which should not be flagged. `glas eval
//! enrichment` reports these first; the figures are in BENCHMARKS.md.
//!
//! Every text is enriched as `glas classify` or `glas import` would enrich a
//! line without a source (a resident's post), so nothing tells the analyzer
//! which set it came from.

use std::collections::BTreeMap;
use std::path::Path;

use glas_core::{Enrichment, Mention, MentionType, Sentiment};

use crate::Analyzer;
use crate::labelled::{LabelScore, multi};
use crate::sentiment::train::{DataError, Labeled, news, tweets};

/// The six codes of housing and communal services the goals name.
pub const COMMUNAL: [&str; 6] = ["water", "heating", "roads", "waste", "housing", "improvement"];

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Flags {
    pub texts: usize,
    /// Share flagged complaint or negative (what the detector counts).
    pub flagged: f64,
    pub complaint: f64,
    pub negative: f64,
}

impl Flags {
    fn of(enriched: &[Enrichment]) -> Flags {
        let (mut flagged, mut complaint, mut negative) = (0usize, 0usize, 0usize);
        for e in enriched {
            let c = e.mention_type == MentionType::Complaint;
            let n = e.sentiment == Sentiment::Negative;
            flagged += usize::from(c || n);
            complaint += usize::from(c);
            negative += usize::from(n);
        }
        let share = |k: usize| k as f64 / enriched.len().max(1) as f64;
        Flags { texts: enriched.len(), flagged: share(flagged), complaint: share(complaint), negative: share(negative) }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PublicReport {
    /// Appeals of the test split.
    pub appeals: Flags,
    /// Share of appeals with no topic at all.
    pub no_topic: f64,
    /// Per code: gold = the appeal's code (one each), predicted = its topics.
    pub topics: Vec<LabelScore>,
    /// Macro recall and the lowest precision over [`COMMUNAL`].
    pub communal_macro_recall: f64,
    pub communal_min_precision: f64,
    /// Gold code → the codes given to its appeals, most frequent first
    /// ("-" for none).
    pub confusion: BTreeMap<String, Vec<(String, usize)>>,
    /// Calm news and opinion sentences (all entity labels neutral or positive).
    pub news_calm: Flags,
    /// Calm tweets (neutral or positive).
    pub tweets_calm: Flags,
}

/// Texts enriched as source-less lines.
fn enrich<'a>(analyzer: &Analyzer, texts: impl Iterator<Item = &'a str>) -> Vec<Enrichment> {
    texts.map(|t| analyzer.enrich(&mention(t), "import")).collect()
}

fn mention(text: &str) -> Mention {
    Mention {
        id: "public".into(),
        source: None,
        url: None,
        published_at: chrono::DateTime::UNIX_EPOCH.fixed_offset(),
        author: None,
        title: None,
        text: text.to_string(),
        engagement: Default::default(),
        extra: Default::default(),
    }
}

/// Measures the analyzer on the public sets under `datasets` (a copy of
/// `../shared/data`).
pub fn evaluate(analyzer: &Analyzer, datasets: &Path) -> Result<PublicReport, DataError> {
    let appeals: Vec<_> = crate::learned::train::appeals(datasets)?.into_iter().filter(|a| a.test).collect();
    let enriched = enrich(analyzer, appeals.iter().map(|a| a.text.as_str()));
    let mut report = PublicReport { appeals: Flags::of(&enriched), ..Default::default() };
    let mut scores: BTreeMap<String, LabelScore> = BTreeMap::new();
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut none = 0usize;
    for (a, e) in appeals.iter().zip(&enriched) {
        none += usize::from(e.topics.is_empty());
        let gold: Vec<String> = if a.topic.is_empty() { Vec::new() } else { vec![a.topic.clone()] };
        multi(&mut scores, &gold, &e.topics);
        let row = confusion.entry(if a.topic.is_empty() { "-".into() } else { a.topic.clone() }).or_default();
        if e.topics.is_empty() {
            *row.entry("-".into()).or_default() += 1;
        }
        for t in &e.topics {
            *row.entry(t.clone()).or_default() += 1;
        }
    }
    report.no_topic = none as f64 / appeals.len().max(1) as f64;
    report.topics = scores
        .into_values()
        .map(|mut s| {
            s.finish();
            s
        })
        .collect();
    let communal: Vec<&LabelScore> = report.topics.iter().filter(|s| COMMUNAL.contains(&s.label.as_str())).collect();
    report.communal_macro_recall = communal.iter().map(|s| s.recall).sum::<f64>() / communal.len().max(1) as f64;
    report.communal_min_precision = communal.iter().map(|s| s.precision).fold(1.0, f64::min);
    report.confusion = confusion
        .into_iter()
        .map(|(gold, row)| {
            let mut v: Vec<(String, usize)> = row.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            (gold, v)
        })
        .collect();
    let calm = |v: Vec<Labeled>| -> Vec<String> {
        v.into_iter().filter(|l| l.label != Sentiment::Negative).map(|l| l.text).collect()
    };
    let ne = calm(news(&datasets.join("sentiment/rusentne2023/validation_data_labeled.csv"))?);
    report.news_calm = Flags::of(&enrich(analyzer, ne.iter().map(String::as_str)));
    let tw = calm(tweets(&datasets.join("sentiment/rusentitweet/rusentitweet_test.csv"))?);
    report.tweets_calm = Flags::of(&enrich(analyzer, tw.iter().map(String::as_str)));
    Ok(report)
}
