//! The learned part of enrichment: whether a mention is a resident's
//! complaint (or a request to fix something, however politely worded),
//! whether it is written as news, and its municipal topics, by one
//! one-vs-rest model ([`crate::linear`]) over the
//! word-level features ([`crate::sentiment::features::words`]).
//!
//! Why a model beside the rules: calm, factual complaints ("На столбе не горит
//! светильник") are most of what residents write, and carry no negative word
//! for the sentiment model or the complaint markers to see; long appeals about
//! entrances, roofs and yards use words no list foresees. The pipeline's
//! `[[topics]]` rules stay the district's way to add or change a topic: a
//! mention's topics are the rules' topics plus the model's (only codes the
//! pipeline's taxonomy has), and `--explain` says which gave each.
//!
//! Trained by `glas train enrichment` on public data (`train`, MODEL.md in
//! `data/enrichment/`) and shipped in the repository. The decision thresholds
//! are folded into the biases at training time, so a class is decided when its
//! probability passes one half.

pub mod train;

use crate::linear::{Ovr, sigmoid};
use crate::sentiment::Contribution;
use crate::sentiment::features::FeatureVec;
use crate::text::Token;

const MODEL: &[u8] = include_bytes!("../../data/enrichment/model.bin");

/// The model's first class.
pub const COMPLAINT: &str = "complaint";

/// The model's second class: the text is written as news (journalism, a
/// press release), not by a resident.
pub const NEWS: &str = "news";

/// The classes from this one on are topic codes.
pub const FIRST_TOPIC: usize = 2;

/// The model's settings `veto.CODE`: below this probability of the topic
/// (its threshold folded in), a built-in rule's topic CODE is dropped. Chosen
/// in training, only for topics the training appeals cover broadly.
pub const VETO: &str = "veto.";

/// A class whose bias is this low was not learned (too few examples): the
/// model neither gives it nor vetoes it (training sets such biases to −50).
const UNLEARNED_BIAS: f32 = -25.0;

/// The complaint decision and the topic model, loaded once.
pub struct Learned {
    model: Ovr,
    /// Per class, the veto floor (0: never vetoes).
    veto: Vec<f32>,
}

/// What the model says of one text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// Probability that the text is a complaint or a request to fix something.
    pub complaint: f32,
    /// Probability that the text is written as news.
    pub news: f32,
    /// Topic codes the model assigns, with their probabilities, in model order.
    pub topics: Vec<(String, f32)>,
    /// Every class's probability, in model order (thresholds folded in: a
    /// class is decided above one half).
    pub probabilities: Vec<f32>,
}

impl Learned {
    pub fn builtin() -> Learned {
        Learned::new(Ovr::from_bytes(MODEL).expect("the shipped enrichment model is well-formed"))
    }

    pub fn new(model: Ovr) -> Learned {
        let veto = model.classes.iter().map(|c| model.setting(&format!("{VETO}{c}")).unwrap_or(0.0)).collect();
        Learned { model, veto }
    }

    /// Whether the model overrules a built-in rule's topic of this class.
    pub fn vetoes(&self, class: usize, d: &Decision) -> bool {
        d.probabilities[class] < self.veto[class]
    }

    pub fn model(&self) -> &Ovr {
        &self.model
    }

    /// The model's index of a topic code it learned.
    pub fn class_of(&self, code: &str) -> Option<usize> {
        let c = self.model.classes.iter().position(|x| x == code)?;
        (self.model.bias[c] > UNLEARNED_BIAS).then_some(c)
    }

    /// The decision on a text's word-level features ([`crate::sentiment::features::words`]).
    pub fn decide(&self, words: &FeatureVec) -> Decision {
        let mut z = Vec::with_capacity(self.model.classes());
        self.model.scores(words, &mut z);
        let probabilities: Vec<f32> = z.iter().map(|&x| sigmoid(x)).collect();
        let mut d = Decision {
            complaint: probabilities[0],
            news: probabilities[1],
            topics: Vec::new(),
            probabilities: Vec::new(),
        };
        for (name, (&zc, &p)) in self.model.classes.iter().zip(z.iter().zip(&probabilities)).skip(FIRST_TOPIC) {
            if zc > 0.0 {
                d.topics.push((name.clone(), p));
            }
        }
        d.probabilities = probabilities;
        d
    }

    /// The words behind one class's score, strongest first (at most `n`;
    /// + towards the class).
    pub fn reasons(&self, class: &str, words: &FeatureVec, tokens: &[Token], n: usize) -> Vec<Contribution> {
        let Some(c) = self.model.classes.iter().position(|x| x == class) else { return Vec::new() };
        let mut per_word: std::collections::HashMap<u32, f32> = std::collections::HashMap::new();
        for &(key, v, word) in &words.items {
            let w = self.model.weight(key, c);
            if w != 0.0 {
                *per_word.entry(word).or_default() += v * w;
            }
        }
        let mut out = crate::sentiment::word_contributions(per_word, tokens);
        out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.term.cmp(&b.term)));
        out.truncate(n);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Tokenizer;

    fn decide(text: &str) -> Decision {
        let tok = Tokenizer::default();
        let mut f = FeatureVec::default();
        crate::sentiment::features::words(text, &tok.tokens(text), &mut f);
        Learned::builtin().decide(&f)
    }

    #[test]
    fn the_shipped_model_reads_calm_complaints_and_news() {
        let m = Learned::builtin();
        assert_eq!(m.model().classes[..FIRST_TOPIC], [COMPLAINT, NEWS]);
        assert!(m.model().classes.iter().any(|c| c == "housing"));
        assert!(decide("На столбе не горит светильник, просим заменить").complaint > 0.5);
        assert!(decide("Прошу отремонтировать крышу нашего дома, течёт в подъезде").complaint > 0.5);
        let news = decide("Губернатор вручил награды лучшим педагогам края");
        assert!(news.complaint < 0.5 && news.news > 0.5, "{news:?}");
        assert!(decide("у нас в подъезде опять лампочки не горят, сколько можно").news < 0.5);
    }
}
