//! Sentiment: a multinomial logistic regression over hashed features
//! ([`features`]) that include the PolSentiLex lexicon's hits ([`lexicon`]).
//!
//! Trained by `glas train sentiment` from public Russian data (tweets and news
//! sentences, see `data/sentiment/MODEL.md`) and shipped in the repository
//! (`data/sentiment/model.bin`), so nothing is downloaded at run time. Small
//! (a few MB), fast (a few microseconds a mention) and explainable: every
//! feature belongs to a word, so `glas classify --explain` lists the words
//! that pushed the score.

pub mod features;
pub mod lexicon;
pub mod train;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use glas_core::Sentiment;

use crate::text::{Token, Tokenizer};
pub use features::Genre;
use features::{FeatureVec, NO_WORD};
use lexicon::Lexicon;

/// Class order of the model's outputs.
pub const CLASSES: [Sentiment; 3] = [Sentiment::Negative, Sentiment::Neutral, Sentiment::Positive];

const MODEL: &[u8] = include_bytes!("../../data/sentiment/model.bin");
const MAGIC: &[u8; 8] = b"GLASSM01";

/// One word that moved the score (for `--explain`): positive weights push
/// towards positive, negative towards negative.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub term: String,
    pub weight: f32,
}

/// Keys are already hashes: use them as they are.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Weights = HashMap<u64, [f32; 3], BuildHasherDefault<IdHasher>>;

/// The trained weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    pub bias: [f32; 3],
    pub weights: Weights,
}

#[derive(Debug, thiserror::Error)]
#[error("sentiment model: {0}")]
pub struct ModelError(String);

impl Model {
    /// The model shipped in the repository.
    pub fn builtin() -> Model {
        Model::from_bytes(MODEL).expect("the shipped sentiment model is well-formed")
    }

    /// Class probabilities of a feature vector, in [`CLASSES`] order.
    pub fn probabilities(&self, f: &FeatureVec) -> [f32; 3] {
        let mut z = self.bias;
        for &(key, v, _) in &f.items {
            if let Some(w) = self.weights.get(&key) {
                for k in 0..3 {
                    z[k] += v * w[k];
                }
            }
        }
        softmax(z)
    }

    /// Serialized form: magic, scale, bias, then (key, 3 × i16) sorted by key,
    /// little-endian. Weights are quantized to 16 bits.
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = self.weights.values().flatten().chain(&self.bias).fold(0f32, |m, w| m.max(w.abs())).max(1e-6);
        let scale = max / f32::from(i16::MAX);
        let mut keys: Vec<&u64> = self.weights.keys().collect();
        keys.sort();
        let mut out = Vec::with_capacity(24 + keys.len() * 14);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&scale.to_le_bytes());
        out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for b in self.bias {
            out.extend_from_slice(&b.to_le_bytes());
        }
        for k in keys {
            out.extend_from_slice(&k.to_le_bytes());
            for w in self.weights[k] {
                out.extend_from_slice(&((w / scale).round() as i16).to_le_bytes());
            }
        }
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<Model, ModelError> {
        let err = |m: &str| ModelError(m.to_string());
        if b.len() < 28 || &b[..8] != MAGIC {
            return Err(err("not a glas sentiment model (bad magic)"));
        }
        let f32_at = |i: usize| f32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let scale = f32_at(8);
        let n = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
        let bias = [f32_at(16), f32_at(20), f32_at(24)];
        let body = &b[28..];
        if body.len() != n * 14 {
            return Err(err(&format!("truncated: {} weights announced, {} bytes follow", n, body.len())));
        }
        let mut weights = Weights::with_capacity_and_hasher(n, Default::default());
        for c in body.chunks_exact(14) {
            let key = u64::from_le_bytes(c[..8].try_into().unwrap());
            let w = |i: usize| f32::from(i16::from_le_bytes([c[8 + 2 * i], c[9 + 2 * i]])) * scale;
            weights.insert(key, [w(0), w(1), w(2)]);
        }
        Ok(Model { bias, weights })
    }
}

fn softmax(z: [f32; 3]) -> [f32; 3] {
    let m = z.iter().fold(f32::MIN, |a, &b| a.max(b));
    let e = z.map(|x| (x - m).exp());
    let s: f32 = e.iter().sum();
    e.map(|x| x / s)
}

/// The sentiment classifier enrichment uses: lexicon + trained weights.
pub struct Classifier {
    pub lexicon: Lexicon,
    pub model: Model,
}

/// A label, its score in -1..+1 (P(positive) − P(negative)) and the probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub label: Sentiment,
    pub score: f64,
    pub probabilities: [f32; 3],
}

impl Classifier {
    pub fn builtin(tok: &Tokenizer) -> Classifier {
        Classifier { lexicon: Lexicon::builtin(tok), model: Model::builtin() }
    }

    pub fn features(&self, text: &str, tokens: &[Token], genre: Genre) -> FeatureVec {
        let mut f = FeatureVec::default();
        features::extract(text, tokens, &self.lexicon, genre, &mut f);
        f
    }

    pub fn predict(&self, text: &str, tokens: &[Token], genre: Genre) -> Prediction {
        predict_features(&self.model, &self.features(text, tokens, genre))
    }

    /// The prediction and the words that drove it, strongest first.
    pub fn explain(&self, text: &str, tokens: &[Token], genre: Genre) -> (Prediction, Vec<Contribution>) {
        self.explain_features(&self.features(text, tokens, genre), tokens)
    }

    /// [`Classifier::explain`] of computed features.
    pub fn explain_features(&self, f: &FeatureVec, tokens: &[Token]) -> (Prediction, Vec<Contribution>) {
        let p = predict_features(&self.model, f);
        let mut per_word: HashMap<u32, f32> = HashMap::new();
        for &(key, v, word) in &f.items {
            if let Some(w) = self.model.weights.get(&key) {
                *per_word.entry(word).or_default() += v * (w[2] - w[0]);
            }
        }
        let mut out = word_contributions(per_word, tokens);
        out.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()).then_with(|| a.term.cmp(&b.term)));
        out.truncate(10);
        (p, out)
    }
}

/// A model's per-word pushes (summed over each word's features) as the words
/// an explanation shows: those that moved the score by at least 0.05,
/// rounded; signs and emoji under one name. Unsorted.
pub(crate) fn word_contributions(per_word: HashMap<u32, f32>, tokens: &[Token]) -> Vec<Contribution> {
    per_word
        .into_iter()
        .filter(|(_, w)| w.abs() >= 0.05)
        .map(|(i, weight)| {
            let term = if i == NO_WORD {
                "(знаки, эмодзи)".to_string()
            } else {
                tokens.get(i as usize).map_or_else(String::new, |t| t.word.clone())
            };
            Contribution { term, weight: (weight * 100.0).round() / 100.0 }
        })
        .collect()
}

pub fn predict_features(model: &Model, f: &FeatureVec) -> Prediction {
    let p = model.probabilities(f);
    let k = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(1);
    let score = f64::from(p[2] - p[0]);
    Prediction { label: CLASSES[k], score: (score * 100.0).round() / 100.0, probabilities: p }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(text: &str) -> Sentiment {
        let tok = Tokenizer::default();
        Classifier::builtin(&tok).predict(text, &tok.tokens(text), Genre::Social).label
    }

    #[test]
    fn municipal_complaints_thanks_and_releases() {
        assert_eq!(label("Третий день нет воды в Величаевском, сколько можно!"), Sentiment::Negative);
        assert_eq!(label("Опять отключили свет, безобразие"), Sentiment::Negative);
        assert_eq!(label("Огромное спасибо коммунальщикам, молодцы, всё быстро починили"), Sentiment::Positive);
        assert_eq!(label("Заседание думы состоится в четверг в 10 часов"), Sentiment::Neutral);
    }

    #[test]
    fn model_round_trips() {
        let m = Model::builtin();
        assert!(m.weights.len() > 10_000);
        let again = Model::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(again.weights.len(), m.weights.len());
        assert!(Model::from_bytes(b"GLASSM01short").is_err());
    }
}
