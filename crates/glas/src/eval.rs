//! `glas eval sentiment`: measures the sentiment classifier across genres on
//! the public data sets of the development machine (`../shared/data` by
//! default; they are not shipped): RuSentiTweet's 3-class test split (tweets)
//! and RuSentNE-2023's labelled validation sentences whose entity labels all
//! agree (news). The figures are what BENCHMARKS.md reports.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use glas_core::Mention;
use glas_nlp::Analyzer;
use glas_nlp::metrics::{ClassScore, Confusion};

#[derive(Debug, serde::Serialize)]
pub struct Evaluation {
    pub dataset: String,
    pub items: u64,
    pub macro_f1: f64,
    pub accuracy: f64,
    pub classes: Vec<ClassScore>,
}

fn mention(text: &str) -> Mention {
    Mention {
        id: "eval".into(),
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

fn evaluate(name: &str, analyzer: &Analyzer, items: &[(String, String)]) -> Evaluation {
    let mut c = Confusion::default();
    for (text, gold) in items {
        let predicted = analyzer.enrich(&mention(text), "import").sentiment;
        c.add(gold, predicted.as_str());
    }
    Evaluation {
        dataset: name.into(),
        items: c.total(),
        macro_f1: c.macro_f1(),
        accuracy: c.accuracy(),
        classes: c.classes(),
    }
}

/// RuSentiTweet test split, the three sentiment classes.
fn tweets(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("cannot read '{}'", path.display()))?;
    let mut out = Vec::new();
    for row in r.records() {
        let row = row.with_context(|| format!("malformed row in '{}'", path.display()))?;
        let (text, label) = (row.get(0).unwrap_or(""), row.get(1).unwrap_or(""));
        if matches!(label, "positive" | "neutral" | "negative") {
            out.push((text.to_string(), label.to_string()));
        }
    }
    Ok(out)
}

/// RuSentNE sentences whose entities all carry the same label.
fn news(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .quoting(false)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read '{}'", path.display()))?;
    let mut labels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in r.records() {
        let row = row.with_context(|| format!("malformed row in '{}'", path.display()))?;
        let (Some(sentence), Some(label)) = (row.get(0), row.get(5)) else { continue };
        let label = match label.trim() {
            "-1" => "negative",
            "0" => "neutral",
            "1" => "positive",
            _ => continue,
        };
        labels.entry(sentence.to_string()).or_default().push(label.to_string());
    }
    Ok(labels.into_iter().filter(|(_, l)| l.iter().all(|x| x == &l[0])).map(|(s, l)| (s, l[0].clone())).collect())
}

pub fn sentiment(shared: &Path, analyzer: &Analyzer) -> anyhow::Result<Vec<Evaluation>> {
    let t = tweets(&shared.join("sentiment/rusentitweet/rusentitweet_test.csv"))?;
    let n = news(&shared.join("sentiment/rusentne2023/validation_data_labeled.csv"))?;
    Ok(vec![
        evaluate("RuSentiTweet test (tweets, 3 classes)", analyzer, &t),
        evaluate("RuSentNE-2023 validation (news sentences, agreeing labels)", analyzer, &n),
    ])
}
