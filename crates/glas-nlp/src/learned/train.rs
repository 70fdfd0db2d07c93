//! Training the complaint and topic model: `glas train enrichment`.
//!
//! Data (not shipped; `../shared/data` on the development machine):
//! - residents' appeals to Kursk region authorities (`appeals_kursk/`, the
//!   contest's train split only): every one a complaint or request, each with
//!   a suggested topic code;
//! - RuSentNE-2023 train sentences (news and opinion, minus every sentence of
//!   its validation file) and RuSentiTweet's train split: not complaints, and
//!   (at a lower weight) no municipal topic;
//! - the municipal posts written for glas (`data/sentiment/municipal_train.tsv`):
//!   negative residents' posts are complaints, thanks and press releases are not.
//!
//! The decision thresholds are chosen on a fifth of the training data held
//! out from a first fit (never on a test split), then the model is fitted on
//! all of it and the thresholds folded into the biases. Deterministic: the
//! same data gives the same file byte for byte.

use std::path::Path;

use glas_core::Sentiment;

use super::{COMPLAINT, FIRST_TOPIC, NEWS};
use crate::linear::{self, Example, Ovr, Params, held_out, sigmoid};
use crate::sentiment::features::{self, FeatureVec};
use crate::sentiment::train::{Corpora, DataError, Labeled, municipal_train};
use crate::text::Tokenizer;

/// One appeal of the public set.
#[derive(Debug, Clone, PartialEq)]
pub struct Appeal {
    pub text: String,
    pub category: String,
    pub subcategory: String,
    /// The glas code, after the review below; empty when none fits.
    pub topic: String,
    pub test: bool,
}

/// The appeals (`appeals_kursk/appeals.csv`). The set's suggested code is
/// kept, except that power-network appeals (suggested `improvement`, like
/// street lighting) are `electricity`, as glas's taxonomy has it.
pub fn appeals(datasets: &Path) -> Result<Vec<Appeal>, DataError> {
    let path = datasets.join("appeals_kursk/appeals.csv");
    let bad = |reason: String| DataError::Format { path: path.display().to_string(), reason };
    let text =
        std::fs::read_to_string(&path).map_err(|source| DataError::Io { path: path.display().to_string(), source })?;
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name).ok_or_else(|| bad(format!("no column '{name}'")));
    let (t, c, s, k, sp) = (col("text")?, col("category")?, col("subcategory")?, col("topic")?, col("split")?);
    let mut out = Vec::new();
    for row in r.records() {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let get = |i: usize| row.get(i).unwrap_or("").to_string();
        let subcategory = get(s);
        let lower = subcategory.to_lowercase();
        let topic = if lower.contains("электросет") || lower.contains("энергоснабжен") {
            "electricity".to_string()
        } else {
            get(k)
        };
        out.push(Appeal { text: get(t), category: get(c), subcategory, topic, test: get(sp) == "test" });
    }
    if out.is_empty() {
        return Err(bad("no appeals".into()));
    }
    Ok(out)
}

struct Item<'a> {
    text: &'a str,
    /// Complaint target, if this corpus teaches it.
    complaint: Option<bool>,
    /// Whether the text is written as news (journalism, press releases) or by
    /// a resident (posts, tweets, appeals).
    news: bool,
    /// Topic code (empty: none) if this corpus teaches topics, and its weight.
    topic: Option<(&'a str, f32)>,
    /// Weight of the complaint target.
    weight: f32,
}

/// What training reports.
#[derive(Debug, Clone)]
pub struct Trained {
    pub model: Ovr,
    pub examples: usize,
    /// The chosen probability threshold of every class (1.0: never fires,
    /// too few examples to learn it).
    pub thresholds: Vec<(String, f32)>,
    /// The probability below which a built-in rule's topic is dropped
    /// ([`super::VETO`], stored in the model), and the classes it applies to.
    pub veto: f32,
    pub vetoing: Vec<String>,
}

/// Trains the model; `codes` are the topic codes it learns (the built-in
/// taxonomy's).
pub fn train(datasets: &Path, codes: &[&str]) -> Result<Trained, DataError> {
    let tok = Tokenizer::default();
    let appeals: Vec<Appeal> = appeals(datasets)?.into_iter().filter(|a| !a.test).collect();
    let corpora = Corpora::load(datasets)?;
    let (social, media) = municipal_train();
    let mut items: Vec<Item> = Vec::new();
    // Each corpus weighs its share of the complaint decision, whatever its size.
    let share = |n: usize, s: f32| s * 2000.0 / n.max(1) as f32;
    let w = share(appeals.len(), 1.0);
    items.extend(appeals.iter().map(|a| Item {
        text: &a.text,
        complaint: Some(true),
        news: false,
        topic: Some((a.topic.as_str(), 1.0)),
        weight: w,
    }));
    let calm = |l: &Labeled| l.label != Sentiment::Negative;
    let w = share(corpora.news_train.len(), 0.5);
    items.extend(corpora.news_train.iter().map(|l| Item {
        text: &l.text,
        complaint: Some(false),
        news: true,
        topic: Some(("", 0.3)),
        weight: w,
    }));
    let w = share(corpora.tweets_train.iter().filter(|l| calm(l)).count(), 0.5);
    for l in &corpora.tweets_train {
        // A negative tweet is not a complaint to an authority, nor clearly
        // not one: it teaches topics only.
        let complaint = calm(l).then_some(false);
        items.push(Item { text: &l.text, complaint, news: false, topic: Some(("", 0.3)), weight: w });
    }
    let complaints = social.iter().filter(|l| l.label == Sentiment::Negative).count();
    let (wc, wn) = (share(complaints, 0.3), share(social.len() + media.len() - complaints, 0.3));
    // A negative press release is news, not a complaint.
    let posts = social.iter().map(|l| (l, l.label == Sentiment::Negative, false));
    for (l, yes, news) in posts.chain(media.iter().map(|l| (l, false, true))) {
        let weight = if yes { wc } else { wn };
        items.push(Item { text: &l.text, complaint: Some(yes), news, topic: None, weight });
    }
    // The register: news and press releases against residents' writing,
    // each side weighing alike.
    let news_texts = items.iter().filter(|i| i.news).count();
    let (news_weight, post_weight) = (share(news_texts, 1.0), share(items.len() - news_texts, 1.0));

    let mut classes: Vec<&str> = vec![COMPLAINT, NEWS];
    classes.extend_from_slice(codes);
    let positives: Vec<usize> =
        classes.iter().map(|c| items.iter().filter(|i| i.topic.is_some_and(|(t, _)| t == *c)).count()).collect();
    let topical = items.iter().filter(|i| i.topic.is_some_and(|(t, _)| !t.is_empty())).count().max(1);
    let example = |i: &Item, f: FeatureVec| {
        let mut targets = Vec::with_capacity(classes.len());
        targets.push(i.complaint.map(|y| (y, i.weight)));
        targets.push(Some((i.news, if i.news { news_weight } else { post_weight })));
        for (c, code) in classes.iter().enumerate().skip(FIRST_TOPIC) {
            targets.push(i.topic.map(|(t, tw)| {
                let yes = t == *code;
                // Positives of a rare topic weigh more, by the square root of
                // their rarity, so a small class is still learned.
                let boost = if yes { (topical as f32 / positives[c].max(1) as f32).sqrt().min(6.0) } else { 1.0 };
                (yes, tw * boost)
            }));
        }
        Example { features: f, targets }
    };
    let feats: Vec<FeatureVec> = items
        .iter()
        .map(|i| {
            let mut f = FeatureVec::default();
            features::words(i.text, &tok.tokens(i.text), &mut f);
            f
        })
        .collect();
    let params = Params::default();

    // First fit without the held-out fifth; thresholds chosen on it.
    let first: Vec<Example> =
        items.iter().zip(&feats).filter(|(i, _)| !held_out(i.text)).map(|(i, f)| example(i, f.clone())).collect();
    let model = linear::fit(&classes, &first, &params);
    drop(first);
    let dev: Vec<(&Item, Vec<f32>, Vec<f32>)> = items
        .iter()
        .zip(&feats)
        .filter(|(i, _)| held_out(i.text))
        .map(|(i, f)| {
            let mut z = Vec::new();
            model.scores(f, &mut z);
            let p = z.iter().map(|&x| sigmoid(x)).collect();
            (i, p, z)
        })
        .collect();
    let mut thresholds = Vec::with_capacity(classes.len());
    for (c, name) in classes.iter().enumerate() {
        let threshold = if c == 0 {
            balanced_threshold(&dev, c, |i| i.complaint)
        } else if c == 1 {
            balanced_threshold(&dev, c, |i| Some(i.news))
        } else if positives[c] < LEARN_MIN {
            1.0
        } else {
            topic_threshold(&dev, c, name)
        };
        thresholds.push((name.to_string(), threshold));
    }

    // The model overrules the rules only on topics the appeals cover broadly:
    // "safety" there is stray animals alone, "education" the queue for a
    // kindergarten; vetoing by them would drop crime and schools.
    let vetoing: Vec<String> = classes
        .iter()
        .enumerate()
        .skip(FIRST_TOPIC)
        .filter(|&(c, _)| positives[c] >= VETO_MIN)
        .map(|(_, name)| name.to_string())
        .collect();
    let veto = veto_floor(&dev, &classes, &thresholds, &vetoing, &tok);

    let all: Vec<Example> = items.iter().zip(feats).map(|(i, f)| example(i, f)).collect();
    let mut model = linear::fit(&classes, &all, &params);
    for (b, (_, t)) in model.bias.iter_mut().zip(&thresholds) {
        *b -= shift(*t);
    }
    for code in &vetoing {
        model.settings.push((format!("{}{code}", super::VETO), veto));
    }
    Ok(Trained { model, examples: all.len(), thresholds, veto, vetoing })
}

/// How much a class's bias moves so that its threshold sits at one half
/// (an unlearned class is moved out of reach).
fn shift(threshold: f32) -> f32 {
    if threshold >= 1.0 { 50.0 } else { (threshold / (1.0 - threshold)).ln() }
}

/// The veto floor with the best macro-F1 of the topics enrichment gives
/// (built-in rules, minus those the model finds less likely than the floor,
/// plus the model's own) on the held-out appeals.
fn veto_floor(
    dev: &[(&Item, Vec<f32>, Vec<f32>)],
    classes: &[&str],
    thresholds: &[(String, f32)],
    vetoing: &[String],
    tok: &Tokenizer,
) -> f32 {
    let rules = crate::topics::Topics::new(glas_core::config::builtin_topics(), tok);
    let appeals: Vec<(&str, Vec<String>, Vec<f32>)> = dev
        .iter()
        .filter(|(i, _, _)| i.complaint == Some(true) && i.topic.is_some())
        .map(|(i, _, z)| {
            let p = z.iter().zip(thresholds).map(|(&z, (_, t))| sigmoid(z - shift(*t))).collect();
            (i.topic.map_or("", |t| t.0), rules.classify(&tok.tokens(i.text)), p)
        })
        .collect();
    // A veto drops only what the model finds very unlikely: rules favour
    // recall (an analyst skips a wrong tag; a missed complaint is lost).
    const FLOORS: [f32; 5] = [0.0, 0.01, 0.02, 0.03, 0.05];
    let score = |floor: f32| {
        let mut f1 = 0.0;
        let mut n = 0;
        for (c, code) in classes.iter().enumerate().skip(FIRST_TOPIC) {
            if thresholds[c].1 >= 1.0 {
                continue;
            }
            let (mut tp, mut fp, mut fneg) = (0f32, 0f32, 0f32);
            for (gold, by_rule, p) in &appeals {
                let vetoed = vetoing.iter().any(|v| v == code) && p[c] < floor;
                let given = p[c] > 0.5 || (by_rule.iter().any(|r| r == code) && !vetoed);
                match (gold == code, given) {
                    (true, true) => tp += 1.0,
                    (false, true) => fp += 1.0,
                    (true, false) => fneg += 1.0,
                    _ => {}
                }
            }
            if tp + fneg > 0.0 {
                f1 += 2.0 * tp / (2.0 * tp + fp + fneg);
                n += 1;
            }
        }
        f1 / n.max(1) as f32
    };
    FLOORS.iter().copied().max_by(|&a, &b| score(a).total_cmp(&score(b)).then(b.total_cmp(&a))).unwrap_or(0.0)
}

/// Training appeals a topic needs to be learned at all (fewer: left to the
/// rules; its threshold would be chosen on a handful of held-out texts).
const LEARN_MIN: usize = 30;

/// Training appeals a topic needs before the model may overrule its rules.
const VETO_MIN: usize = 50;

const GRID: [f32; 19] =
    [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

/// The threshold of a yes/no class (`target`: what an item teaches, if
/// anything) with the best balanced accuracy on the held-out texts: recall on
/// both sides weighs alike.
fn balanced_threshold(dev: &[(&Item, Vec<f32>, Vec<f32>)], c: usize, target: impl Fn(&Item) -> Option<bool>) -> f32 {
    let score = |t: f32| {
        let (mut tp, mut p, mut tn, mut n) = (0f32, 0f32, 0f32, 0f32);
        for (i, probs, _) in dev {
            match target(i) {
                Some(true) => {
                    p += 1.0;
                    tp += f32::from(probs[c] >= t);
                }
                Some(false) => {
                    n += 1.0;
                    tn += f32::from(probs[c] < t);
                }
                None => {}
            }
        }
        tp / p.max(1.0) + tn / n.max(1.0)
    };
    GRID.iter().copied().max_by(|&a, &b| score(a).total_cmp(&score(b)).then(b.total_cmp(&a))).unwrap_or(0.5)
}

/// The threshold of one topic with the best F1 on the held-out texts.
fn topic_threshold(dev: &[(&Item, Vec<f32>, Vec<f32>)], c: usize, name: &str) -> f32 {
    let best = GRID.iter().copied().max_by(|&a, &b| {
        let f1 = |t: f32| {
            let (mut tp, mut fp, mut fneg) = (0f32, 0f32, 0f32);
            for (i, probs, _) in dev {
                let Some((topic, _)) = i.topic else { continue };
                match (topic == name, probs[c] >= t) {
                    (true, true) => tp += 1.0,
                    (false, true) => fp += 1.0,
                    (true, false) => fneg += 1.0,
                    _ => {}
                }
            }
            2.0 * tp / (2.0 * tp + fp + fneg).max(1.0)
        };
        f1(a).total_cmp(&f1(b)).then(b.total_cmp(&a))
    });
    best.unwrap_or(0.5)
}
