//! The sentiment lexicon: PolSentiLex (mean of the crowd votes per term,
//! scaled to -1..+1) plus municipal phrases PolSentiLex lacks
//! (`data/municipal.tsv`). Its hits are features of the trained model, read
//! with negation scope ("не", "нет", "ни", "без" up to three words on, within
//! a clause), intensifiers ("очень", "совсем") and the weight of what follows
//! "но" ("хорошо, но дорого" is mostly about the price).

use std::collections::HashMap;

use crate::text::{Token, Tokenizer};

const POLSENTILEX: &str = include_str!("../../data/polsentilex/PolSentiLex-raw.csv");
const MUNICIPAL: &str = include_str!("../../data/municipal.tsv");
const NEGATIONS: &[&str] = &["не", "нет", "ни", "без", "никак"];
/// How many words after a negation it reaches (within a clause).
const NEGATION_SCOPE: usize = 3;

/// If token `i` is a negation, the end (exclusive) of the words it negates:
/// up to [`NEGATION_SCOPE`] words, stopping at the next clause break.
pub(crate) fn negation_end(tokens: &[Token], i: usize) -> Option<usize> {
    if !NEGATIONS.contains(&tokens[i].word.as_str()) {
        return None;
    }
    let end = (i + 1 + NEGATION_SCOPE).min(tokens.len());
    Some(tokens[i + 1..end].iter().position(|t| t.brk).map_or(end, |b| i + 1 + b))
}
const INTENSIFIERS: &[&str] =
    &["очень", "совсем", "абсолютно", "крайне", "слишком", "совершенно", "полностью", "ужасно", "максимально", "так"];
const CONTRASTS: &[&str] = &["но", "однако", "зато", "хотя"];

/// One lexicon term found in a text: where, and its weight after negation,
/// intensifiers and contrast.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Index of the first token.
    pub at: usize,
    /// Tokens covered.
    pub len: usize,
    pub weight: f32,
    pub negated: bool,
}

pub struct Lexicon {
    /// Stem → weight.
    words: HashMap<String, f32>,
    /// First stem → (stem sequence of 2+ words, weight), longest first.
    phrases: HashMap<String, Vec<(Vec<String>, f32)>>,
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
        let mut phrases: HashMap<String, Vec<(Vec<String>, f32)>> = HashMap::new();
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
                _ => phrases.entry(stems[0].clone()).or_default().push((stems, w)),
            }
        }
        for list in phrases.values_mut() {
            list.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        }
        Lexicon { words, phrases }
    }

    pub fn len(&self) -> usize {
        self.words.len() + self.phrases.values().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lexicon terms of a text, in order. A phrase wins over the words
    /// inside it ("нет воды" is one complaint, not "нет" + "вода").
    pub fn hits(&self, tokens: &[Token]) -> Vec<Hit> {
        let mut out = Vec::new();
        let mut negated_until = 0; // tokens before this index are in a negation scope
        let mut boost = 1.0f32;
        let mut after_contrast = false;
        let mut i = 0;
        while i < tokens.len() {
            let t = &tokens[i];
            if t.brk {
                boost = 1.0;
            }
            if CONTRASTS.contains(&t.word.as_str()) {
                after_contrast = true;
            }
            let phrase = self.phrases.get(&t.stem).and_then(|list| {
                list.iter().find(|(p, _)| {
                    tokens.len() - i >= p.len()
                        && tokens[i..i + p.len()]
                            .iter()
                            .zip(p)
                            .enumerate()
                            .all(|(k, (t, s))| &t.stem == s && (k == 0 || !t.brk))
                })
            });
            let (len, w) = match phrase {
                Some((p, w)) => (p.len(), Some(*w)),
                None => (1, self.words.get(&t.stem).copied()),
            };
            if let Some(w) = w {
                let negated = i < negated_until && phrase.is_none();
                let mut weight = if negated { -0.8 * w } else { w } * boost;
                if after_contrast {
                    weight *= 1.5;
                }
                out.push(Hit { at: i, len, weight, negated });
                boost = 1.0;
            } else if INTENSIFIERS.contains(&t.word.as_str()) {
                boost = 1.5;
            }
            if let Some(end) = negation_end(tokens, i) {
                negated_until = end;
            }
            i += len;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(text: &str) -> Vec<f32> {
        let tok = Tokenizer::default();
        Lexicon::builtin(&tok).hits(&tok.tokens(text)).iter().map(|h| h.weight).collect()
    }

    #[test]
    fn lexicon_loads_thousands_of_terms() {
        let tok = Tokenizer::default();
        assert!(Lexicon::builtin(&tok).len() > 2000);
    }

    #[test]
    fn negation_flips_within_its_clause() {
        let pos = weights("хороший ремонт");
        let neg = weights("не хороший ремонт");
        assert!(pos[0] > 0.0 && neg[0] < 0.0, "{pos:?} {neg:?}");
        let after_break = weights("не знаю. хороший ремонт");
        assert!(after_break[0] > 0.0, "{after_break:?}");
    }

    #[test]
    fn phrases_win_and_contrast_weighs_more() {
        assert_eq!(weights("третий день нет воды").len(), 1);
        let plain = weights("плохо");
        let contrasted = weights("хорошо, но плохо");
        assert!(contrasted.last().unwrap().abs() > plain[0].abs());
    }
}
