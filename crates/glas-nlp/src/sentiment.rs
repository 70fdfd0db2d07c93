//! Baseline sentiment: a lexicon scorer over stems.
//!
//! This is the honest placeholder the NLP issue replaces with a trained model.
//! Weights come from PolSentiLex (mean of the crowd votes per term, scaled to
//! -1..+1) plus a short list of municipal phrases PolSentiLex lacks
//! (`data/municipal.tsv`). Negation ("не", "нет", "ни", "без") within two words
//! before a term flips it. The score is the sum of weights squashed to -1..+1;
//! ±0.25 separates the three labels.

use std::collections::HashMap;

use glas_core::Sentiment;

use crate::text::{Token, Tokenizer};

const POLSENTILEX: &str = include_str!("../data/polsentilex/PolSentiLex-raw.csv");
const MUNICIPAL: &str = include_str!("../data/municipal.tsv");
const NEGATIONS: &[&str] = &["не", "нет", "ни", "без"];
/// Scores within this distance of zero are neutral.
pub const NEUTRAL_BAND: f32 = 0.25;

/// One term that moved the score (for `--explain` and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub term: String,
    pub weight: f32,
}

pub struct Lexicon {
    /// Stem → weight.
    words: HashMap<String, f32>,
    /// Stem sequences (2+ words) → weight.
    phrases: Vec<(Vec<String>, f32)>,
}

impl Lexicon {
    pub fn builtin(tok: &Tokenizer) -> Lexicon {
        let mut votes: HashMap<String, (f32, u32)> = HashMap::new();
        for line in POLSENTILEX.lines() {
            let line = line.trim_start_matches('\u{feff}');
            let Some((term, vote)) = line.rsplit_once(',') else { continue };
            let Ok(vote) = vote.trim().parse::<f32>() else { continue };
            let stems = tok.stems(term);
            // Multi-word terms are rare; stems of one or two letters ("до" from
            // "доить") collide with function words.
            if stems.len() != 1 || stems[0].chars().count() < 3 {
                continue;
            }
            let e = votes.entry(stems.into_iter().next().unwrap()).or_default();
            e.0 += vote;
            e.1 += 1;
        }
        let mut words: HashMap<String, f32> = votes
            .into_iter()
            .map(|(stem, (sum, n))| (stem, sum / n as f32 / 2.0))
            .filter(|(_, w)| w.abs() >= 0.2)
            .collect();
        let mut phrases = Vec::new();
        for line in MUNICIPAL.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some((term, w)) = line.split_once('\t') else { continue };
            let Ok(w) = w.trim().parse::<f32>() else { continue };
            let stems = tok.stems(term);
            match stems.len() {
                0 => {}
                1 => {
                    words.insert(stems.into_iter().next().unwrap(), w);
                }
                _ => phrases.push((stems, w)),
            }
        }
        Lexicon { words, phrases }
    }

    pub fn len(&self) -> usize {
        self.words.len() + self.phrases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Score in -1..+1, its label, and the terms that drove it.
    pub fn score(&self, tokens: &[Token]) -> (Sentiment, f64, Vec<Contribution>) {
        let mut contributions = Vec::new();
        let mut i = 0;
        'outer: while i < tokens.len() {
            for (phrase, w) in &self.phrases {
                if tokens[i..].len() >= phrase.len()
                    && tokens[i..i + phrase.len()].iter().zip(phrase).all(|(t, p)| &t.stem == p)
                {
                    let term =
                        tokens[i..i + phrase.len()].iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" ");
                    contributions.push(Contribution { term, weight: *w });
                    i += phrase.len();
                    continue 'outer;
                }
            }
            let t = &tokens[i];
            if let Some(&w) = self.words.get(&t.stem) {
                let negated = tokens[i.saturating_sub(2)..i].iter().any(|p| NEGATIONS.contains(&p.word.as_str()));
                let (term, weight) = if negated { (format!("не {}", t.word), -w * 0.8) } else { (t.word.clone(), w) };
                contributions.push(Contribution { term, weight });
            }
            i += 1;
        }
        let sum: f32 = contributions.iter().map(|c| c.weight).sum();
        let score = (sum / 1.5).tanh();
        let label = if score <= -NEUTRAL_BAND {
            Sentiment::Negative
        } else if score >= NEUTRAL_BAND {
            Sentiment::Positive
        } else {
            Sentiment::Neutral
        };
        (label, (f64::from(score) * 100.0).round() / 100.0, contributions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(text: &str) -> Sentiment {
        let tok = Tokenizer::default();
        let lex = Lexicon::builtin(&tok);
        lex.score(&tok.tokens(text)).0
    }

    #[test]
    fn lexicon_loads_thousands_of_terms() {
        let tok = Tokenizer::default();
        assert!(Lexicon::builtin(&tok).len() > 2000);
    }

    #[test]
    fn municipal_complaints_and_thanks() {
        assert_eq!(label("Третий день нет воды в Величаевском, сколько можно!"), Sentiment::Negative);
        assert_eq!(label("Огромное спасибо коммунальщикам, молодцы, всё быстро починили"), Sentiment::Positive);
        assert_eq!(label("Заседание думы состоится в четверг в 10 часов"), Sentiment::Neutral);
    }

    #[test]
    fn negation_flips() {
        let tok = Tokenizer::default();
        let lex = Lexicon::builtin(&tok);
        let (_, pos, _) = lex.score(&tok.tokens("хороший ремонт"));
        let (_, neg, _) = lex.score(&tok.tokens("не хороший ремонт"));
        assert!(pos > 0.0 && neg < 0.0, "{pos} {neg}");
    }
}
