//! Training and measuring the sentiment model: `glas train sentiment` and
//! `glas eval sentiment` call into here.
//!
//! Data (not shipped; `../shared/data` on the development machine):
//! RuSentiTweet's 3-class train split (tweets) and RuSentNE-2023's train
//! sentences whose entity labels all agree (news), minus every sentence that
//! also occurs in RuSentNE's validation file, which is the news test set. Each
//! corpus weighs the same in training and, within it, classes are balanced:
//! the goal is macro-F1 in every genre, not accuracy on the largest one.
//!
//! Deterministic: a fixed seed orders the examples, features are indexed in
//! key order, and the artifact is byte-identical from run to run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use glas_core::Sentiment;

use super::features::FeatureVec;
use super::{CLASSES, Classifier, Genre, Model, predict_features};
use crate::metrics::Confusion;
use crate::text::Tokenizer;

/// A text with its gold label.
#[derive(Debug, Clone, PartialEq)]
pub struct Labeled {
    pub text: String,
    pub label: Sentiment,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read '{path}': {source}")]
    Io { path: String, source: std::io::Error },
    #[error("'{path}': {reason}")]
    Format { path: String, reason: String },
}

fn read(path: &Path) -> Result<String, DataError> {
    std::fs::read_to_string(path).map_err(|source| DataError::Io { path: path.display().to_string(), source })
}

fn parse_label(s: &str) -> Option<Sentiment> {
    match s.trim() {
        "negative" | "-1" => Some(Sentiment::Negative),
        "neutral" | "0" => Some(Sentiment::Neutral),
        "positive" | "1" => Some(Sentiment::Positive),
        _ => None,
    }
}

/// RuSentiTweet (`text,label,id` CSV): the three sentiment classes; "speech"
/// and "skip" rows are left out.
pub fn tweets(path: &Path) -> Result<Vec<Labeled>, DataError> {
    let text = read(path)?;
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let mut out = Vec::new();
    for row in r.records() {
        let row = row.map_err(|e| DataError::Format { path: path.display().to_string(), reason: e.to_string() })?;
        if let (Some(t), Some(label)) = (row.get(0), row.get(1).and_then(parse_label)) {
            out.push(Labeled { text: t.to_string(), label });
        }
    }
    Ok(out)
}

/// RuSentNE-2023 TSV (sentence, entity, tag, start, end, label): one row per
/// sentence whose entity labels all agree, in sentence order.
pub fn news(path: &Path) -> Result<Vec<Labeled>, DataError> {
    Ok(news_rows(path)?
        .into_iter()
        .filter_map(|(s, l)| l.iter().all(|x| *x == l[0]).then(|| Labeled { text: s, label: l[0] }))
        .collect())
}

/// RuSentNE sentences for training: those whose labels agree, plus those
/// whose entities are neutral and one-sided (all non-neutral labels the same):
/// the sentence carries that sentiment. Mixed sentences are left out.
pub fn news_for_training(path: &Path) -> Result<Vec<Labeled>, DataError> {
    Ok(news_rows(path)?
        .into_iter()
        .filter_map(|(text, l)| {
            let neg = l.contains(&Sentiment::Negative);
            let pos = l.contains(&Sentiment::Positive);
            let label = match (neg, pos) {
                (true, true) => return None,
                (true, false) => Sentiment::Negative,
                (false, true) => Sentiment::Positive,
                (false, false) => Sentiment::Neutral,
            };
            Some(Labeled { text, label })
        })
        .collect())
}

fn news_rows(path: &Path) -> Result<BTreeMap<String, Vec<Sentiment>>, DataError> {
    let text = read(path)?;
    let mut labels: BTreeMap<String, Vec<Sentiment>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(sentence), Some(label)) = (cols.first(), cols.get(5).and_then(|l| parse_label(l))) else { continue };
        labels.entry(sentence.to_string()).or_default().push(label);
    }
    if labels.is_empty() {
        return Err(DataError::Format { path: path.display().to_string(), reason: "no labelled sentences".into() });
    }
    Ok(labels)
}

/// Municipal posts and press releases written for glas (in the repository):
/// complaints, thanks, questions and neutral releases that say "проблема".
/// Separate from the evaluation set `fixtures/labelled/municipal.tsv`.
pub const MUNICIPAL_TRAIN: &str = include_str!("../../data/sentiment/municipal_train.tsv");

/// [`MUNICIPAL_TRAIN`] split by genre: (social, media).
pub fn municipal_train() -> (Vec<Labeled>, Vec<Labeled>) {
    let (mut social, mut media) = (Vec::new(), Vec::new());
    for line in MUNICIPAL_TRAIN.lines().skip(1) {
        let mut cols = line.splitn(3, '\t');
        let (Some(label), Some(genre), Some(text)) = (cols.next(), cols.next(), cols.next()) else { continue };
        let Some(label) = parse_label(label) else { continue };
        let item = Labeled { text: text.to_string(), label };
        if genre == "media" { media.push(item) } else { social.push(item) }
    }
    (social, media)
}

/// The four corpora of training and evaluation.
pub struct Corpora {
    pub tweets_train: Vec<Labeled>,
    pub tweets_test: Vec<Labeled>,
    pub news_train: Vec<Labeled>,
    /// The training sentences whose entity labels all agree.
    pub news_train_agreeing: HashSet<String>,
    pub news_test: Vec<Labeled>,
}

impl Corpora {
    /// Only the two test sets (the training sets stay empty).
    pub fn load_tests(datasets: &Path) -> Result<Corpora, DataError> {
        let tw = datasets.join("sentiment/rusentitweet");
        let ne = datasets.join("sentiment/rusentne2023");
        Ok(Corpora {
            tweets_train: Vec::new(),
            tweets_test: tweets(&tw.join("rusentitweet_test.csv"))?,
            news_train: Vec::new(),
            news_train_agreeing: HashSet::new(),
            news_test: news(&ne.join("validation_data_labeled.csv"))?,
        })
    }

    /// Reads them from a copy of `../shared/data`.
    pub fn load(datasets: &Path) -> Result<Corpora, DataError> {
        let tw = datasets.join("sentiment/rusentitweet");
        let ne = datasets.join("sentiment/rusentne2023");
        let validation = ne.join("validation_data_labeled.csv");
        let held_out: HashSet<String> = news_rows(&validation)?.into_keys().collect();
        let news_train: Vec<Labeled> = news_for_training(&ne.join("train_data.csv"))?
            .into_iter()
            .filter(|l| !held_out.contains(&l.text))
            .collect();
        let news_train_agreeing = news(&ne.join("train_data.csv"))?.into_iter().map(|l| l.text).collect();
        Ok(Corpora {
            tweets_train: tweets(&tw.join("rusentitweet_train.csv"))?,
            tweets_test: tweets(&tw.join("rusentitweet_test.csv"))?,
            news_train,
            news_train_agreeing,
            news_test: news(&validation)?,
        })
    }
}

pub use crate::linear::Params;

/// The sentiment model's hyper-parameters (weights below `prune` dropped).
pub const PARAMS: Params = Params { epochs: 20, rate: 0.05, l2: 1e-5, min_count: 3, prune: 1e-3, seed: 0x61a5 };

/// One training example.
pub struct Example {
    pub features: FeatureVec,
    pub class: usize,
    pub weight: f32,
}

fn class_index(s: Sentiment) -> usize {
    CLASSES.iter().position(|c| *c == s).unwrap_or(1)
}

/// Examples of several corpora: each corpus weighs its share (1.0 = as much as
/// an average corpus) and, within it, every class weighs the same.
pub fn examples(classifier: &Classifier, tok: &Tokenizer, corpora: &[(&[Labeled], Genre, f32)]) -> Vec<Example> {
    let mut out = Vec::new();
    for &(corpus, genre, share) in corpora {
        let mut per_class = [0usize; 3];
        for l in corpus.iter() {
            per_class[class_index(l.label)] += 1;
        }
        for l in corpus.iter() {
            let c = class_index(l.label);
            // Each corpus totals about 1 (times the mean corpus size, below).
            let present = per_class.iter().filter(|&&n| n > 0).count() as f32;
            let weight = share / (present * per_class[c] as f32);
            out.push(Example { features: classifier.features(&l.text, &tok.tokens(&l.text), genre), class: c, weight });
        }
    }
    let mean = out.len() as f32 / corpora.len().max(1) as f32;
    for e in &mut out {
        e.weight *= mean;
    }
    out
}

/// What [`train`] made.
pub struct Trained {
    pub model: Model,
    pub examples: usize,
    /// How much the media reading's negative score was lowered
    /// ([`MEDIA_SHIFTS`]).
    pub media_shift: f32,
    /// The share of calm held-out news sentences the first fit called
    /// negative at that shift.
    pub held_out_calm_negative: f32,
}

/// The share of calm news a media reading may call negative: a negative news
/// story is what an analyst is asked to look at.
pub const CALM_NEGATIVE: f32 = 0.10;

/// The shifts of the media reading's negative score tried in training.
pub const MEDIA_SHIFTS: [f32; 9] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0];

/// Trains the sentiment model on the training corpora and the municipal
/// posts written for glas.
///
/// News sentences of every mood carry words of conflict, courts and
/// accidents, which the model learns as negative: read as media, a calm
/// sentence is called negative too often (the entities of a sentence about a
/// trial are often neutral). So a first fit holds out a fifth of the news
/// training sentences, the media reading's negative score is lowered by the
/// smallest shift of [`MEDIA_SHIFTS`] at which it calls at most
/// [`CALM_NEGATIVE`] of the calm ones negative, and the final fit on
/// everything carries that shift in the media genre's bias
/// ([`super::features::genre_bias`]). The test sets are never looked at.
pub fn train(classifier: &Classifier, tok: &Tokenizer, corpora: &Corpora) -> Trained {
    let (social, media) = municipal_train();
    let sets = |news: &[Labeled]| -> Vec<Example> {
        examples(
            classifier,
            tok,
            &[
                (&corpora.tweets_train, Genre::Social, 1.0),
                (news, Genre::Media, 1.0),
                // The hand-written municipal posts weigh as much as a whole
                // corpus: they are the genre glas reads most.
                (&social, Genre::Social, 1.0),
                (&media, Genre::Media, 1.0),
            ],
        )
    };
    let (dev, kept): (Vec<Labeled>, Vec<Labeled>) =
        corpora.news_train.iter().cloned().partition(|l| crate::linear::held_out(&l.text));
    // Chosen on the held-out sentences whose entity labels agree: the
    // sentences [`news`] keeps for measuring.
    let dev: Vec<&Labeled> = dev.iter().filter(|l| corpora.news_train_agreeing.contains(&l.text)).collect();
    let first = fit(&sets(&kept), &PARAMS);
    let dev: Vec<([f32; 3], usize)> = dev
        .iter()
        .map(|l| {
            let f = classifier.features(&l.text, &tok.tokens(&l.text), Genre::Media);
            (first.probabilities(&f), class_index(l.label))
        })
        .collect();
    // A calm sentence read as negative at a shift.
    let calm = dev.iter().filter(|(_, gold)| *gold != 0).count().max(1);
    let calm_negative = |shift: f32| {
        let wrong = dev.iter().filter(|(p, gold)| *gold != 0 && p[0].ln() - shift > p[1].ln().max(p[2].ln())).count();
        wrong as f32 / calm as f32
    };
    let media_shift = MEDIA_SHIFTS.iter().copied().find(|&s| calm_negative(s) <= CALM_NEGATIVE).unwrap_or(0.0);
    let all = sets(&corpora.news_train);
    let mut model = fit(&all, &PARAMS);
    model.weights.entry(super::features::genre_bias(Genre::Media)).or_default()[0] -= media_shift;
    Trained { model, examples: all.len(), media_shift, held_out_calm_negative: calm_negative(media_shift) }
}

/// Multinomial logistic regression by AdaGrad.
pub fn fit(examples: &[Example], p: &Params) -> Model {
    // Vocabulary: features in at least `min_count` examples, indexed in key order.
    let (keys, rows) = crate::linear::sparse_rows(examples.iter().map(|e| &e.features), p.min_count);
    let mut w = vec![[0f32; 3]; keys.len()];
    let mut g = vec![[1e-6f32; 3]; keys.len()];
    let mut bias = [0f32; 3];
    let mut gb = [1e-6f32; 3];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = p.seed | 1;
    for _ in 0..p.epochs {
        crate::linear::shuffle(&mut order, &mut rng);
        for &n in &order {
            let (row, e) = (&rows[n], &examples[n]);
            let mut z = bias;
            for &(j, v) in row {
                for k in 0..3 {
                    z[k] += v * w[j as usize][k];
                }
            }
            let prob = super::softmax(z);
            for k in 0..3 {
                let d = (prob[k] - if k == e.class { 1.0 } else { 0.0 }) * e.weight;
                gb[k] += d * d;
                bias[k] -= p.rate * d / gb[k].sqrt();
                for &(j, v) in row {
                    let j = j as usize;
                    let grad = d * v + p.l2 * w[j][k];
                    g[j][k] += grad * grad;
                    w[j][k] -= p.rate * grad / g[j][k].sqrt();
                }
            }
        }
    }
    let weights =
        keys.into_iter().zip(w).filter(|(_, w)| w.iter().any(|x| x.abs() >= p.prune)).collect::<HashMap<_, _, _>>();
    Model { bias, weights }
}

/// Macro-F1 and friends of a model on one labelled set.
pub fn evaluate(classifier: &Classifier, tok: &Tokenizer, items: &[Labeled], genre: Genre) -> Confusion {
    let mut c = Confusion::default();
    let mut f = FeatureVec::default();
    for l in items {
        super::features::extract(&l.text, &tok.tokens(&l.text), &classifier.lexicon, genre, &mut f);
        c.add(l.label.as_str(), predict_features(&classifier.model, &f).label.as_str());
    }
    c
}
