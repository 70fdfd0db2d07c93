//! Accuracy of the whole enrichment on a hand-labelled set
//! (`fixtures/labelled/municipal.tsv`): sentiment and mention type per class,
//! topics per code (multi-label precision and recall), places.

use std::collections::BTreeMap;
use std::path::Path;

use glas_core::{Mention, MentionType, Sentiment};

use crate::metrics::{ClassScore, Confusion};
use crate::sentiment::train::DataError;
use crate::{Analyzer, Genre};

/// One labelled mention.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub line: usize,
    pub sentiment: Sentiment,
    pub mention_type: MentionType,
    pub topics: Vec<String>,
    pub places: Vec<String>,
    pub genre: Genre,
    pub text: String,
}

fn list(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect();
    v.sort();
    v
}

/// Reads the TSV (header: sentiment, type, topics, places, genre, text).
pub fn read(path: &Path) -> Result<Vec<Item>, DataError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| DataError::Io { path: path.display().to_string(), source })?;
    let bad = |line: usize, reason: String| DataError::Format { path: format!("{}:{line}", path.display()), reason };
    let mut out = Vec::new();
    for (i, row) in text.lines().enumerate().skip(1) {
        let line = i + 1;
        if row.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = row.split('\t').collect();
        let [sentiment, kind, topics, places, genre, text] = cols[..] else {
            return Err(bad(line, format!("expected 6 tab-separated columns, found {}", cols.len())));
        };
        let sentiment = match sentiment {
            "negative" => Sentiment::Negative,
            "neutral" => Sentiment::Neutral,
            "positive" => Sentiment::Positive,
            other => return Err(bad(line, format!("unknown sentiment {other:?}"))),
        };
        let mention_type =
            MentionType::parse(kind).ok_or_else(|| bad(line, format!("unknown mention type {kind:?}")))?;
        let genre = match genre {
            "social" => Genre::Social,
            "media" => Genre::Media,
            other => return Err(bad(line, format!("unknown genre {other:?} (social or media)"))),
        };
        out.push(Item {
            line,
            sentiment,
            mention_type,
            topics: list(topics),
            places: list(places),
            genre,
            text: text.to_string(),
        });
    }
    Ok(out)
}

/// Precision and recall of one label of a multi-label task.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LabelScore {
    pub label: String,
    pub support: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl LabelScore {
    pub(crate) fn finish(&mut self) {
        let (tp, fp, fn_) = (self.true_positives as f64, self.false_positives as f64, self.false_negatives as f64);
        self.precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
        self.recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
        let s = self.precision + self.recall;
        self.f1 = if s > 0.0 { 2.0 * self.precision * self.recall / s } else { 0.0 };
        self.support = self.true_positives + self.false_negatives;
    }
}

/// Summary of a single-label task.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassReport {
    pub items: u64,
    pub macro_f1: f64,
    pub accuracy: f64,
    pub classes: Vec<ClassScore>,
}

impl From<&Confusion> for ClassReport {
    fn from(c: &Confusion) -> Self {
        ClassReport { items: c.total(), macro_f1: c.macro_f1(), accuracy: c.accuracy(), classes: c.classes() }
    }
}

/// One disagreement, for reading the errors.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Miss {
    pub line: usize,
    pub field: &'static str,
    pub gold: String,
    pub predicted: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub items: usize,
    pub sentiment: ClassReport,
    pub sentiment_social: ClassReport,
    pub sentiment_media: ClassReport,
    pub mention_type: ClassReport,
    pub topics: Vec<LabelScore>,
    /// Micro-averaged over all codes.
    pub topics_micro: LabelScore,
    pub places: LabelScore,
    pub misses: Vec<Miss>,
}

pub(crate) fn multi(score: &mut BTreeMap<String, LabelScore>, gold: &[String], predicted: &[String]) -> bool {
    let mut same = true;
    for g in gold {
        let s = score.entry(g.clone()).or_insert_with(|| LabelScore { label: g.clone(), ..Default::default() });
        if predicted.contains(g) {
            s.true_positives += 1;
        } else {
            s.false_negatives += 1;
            same = false;
        }
    }
    for p in predicted.iter().filter(|p| !gold.contains(p)) {
        let s = score.entry(p.clone()).or_insert_with(|| LabelScore { label: p.clone(), ..Default::default() });
        s.false_positives += 1;
        same = false;
    }
    same
}

pub fn evaluate(analyzer: &Analyzer, items: &[Item]) -> Report {
    let (mut sent, mut social, mut media, mut types) =
        (Confusion::default(), Confusion::default(), Confusion::default(), Confusion::default());
    let mut topics: BTreeMap<String, LabelScore> = BTreeMap::new();
    let mut places: BTreeMap<String, LabelScore> = BTreeMap::new();
    let mut misses = Vec::new();
    for it in items {
        let m = Mention {
            id: format!("labelled:{}", it.line),
            source: None,
            url: None,
            published_at: chrono::DateTime::UNIX_EPOCH.fixed_offset(),
            author: None,
            title: None,
            text: it.text.clone(),
            engagement: Default::default(),
            extra: Default::default(),
        };
        let kind = if it.genre == Genre::Media { "rss" } else { "telegram" };
        let e = analyzer.enrich(&m, kind);
        let mut miss = |field: &'static str, gold: String, predicted: String| {
            if gold != predicted {
                misses.push(Miss { line: it.line, field, gold, predicted, text: it.text.clone() });
            }
        };
        sent.add(it.sentiment.as_str(), e.sentiment.as_str());
        if it.genre == Genre::Media { &mut media } else { &mut social }
            .add(it.sentiment.as_str(), e.sentiment.as_str());
        miss("sentiment", it.sentiment.as_str().into(), e.sentiment.as_str().into());
        types.add(it.mention_type.as_str(), e.mention_type.as_str());
        miss("type", it.mention_type.as_str().into(), e.mention_type.as_str().into());
        let mut t = e.topics.clone();
        t.sort();
        multi(&mut topics, &it.topics, &t);
        miss("topics", it.topics.join(","), t.join(","));
        let mut p = e.places.clone();
        p.sort();
        multi(&mut places, &it.places, &p);
        miss("places", it.places.join(","), p.join(","));
    }
    let mut micro = LabelScore { label: "all".into(), ..Default::default() };
    let mut topics: Vec<LabelScore> = topics.into_values().collect();
    for s in &mut topics {
        micro.true_positives += s.true_positives;
        micro.false_positives += s.false_positives;
        micro.false_negatives += s.false_negatives;
        s.finish();
    }
    micro.finish();
    let mut place = LabelScore { label: "places".into(), ..Default::default() };
    for s in places.values() {
        place.true_positives += s.true_positives;
        place.false_positives += s.false_positives;
        place.false_negatives += s.false_negatives;
    }
    place.finish();
    Report {
        items: items.len(),
        sentiment: (&sent).into(),
        sentiment_social: (&social).into(),
        sentiment_media: (&media).into(),
        mention_type: (&types).into(),
        topics,
        topics_micro: micro,
        places: place,
        misses,
    }
}
