//! Tokens as every enrichment rule sees them: lowercase, `ё` folded to `е`,
//! split at anything that is not a letter or digit, then Snowball-stemmed.

use rust_stemmers::{Algorithm, Stemmer};

/// A word of the input with its stem and whether it was capitalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub word: String,
    pub stem: String,
    pub capitalized: bool,
}

pub struct Tokenizer {
    stemmer: Stemmer,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer { stemmer: Stemmer::create(Algorithm::Russian) }
    }
}

impl Tokenizer {
    pub fn tokens(&self, text: &str) -> Vec<Token> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| {
                let capitalized = w.chars().next().is_some_and(char::is_uppercase);
                let word = fold(w);
                let stem = self.stemmer.stem(&word).into_owned();
                Token { word, stem, capitalized }
            })
            .collect()
    }

    /// Stems of a phrase, in order.
    pub fn stems(&self, phrase: &str) -> Vec<String> {
        self.tokens(phrase).into_iter().map(|t| t.stem).collect()
    }
}

/// Lowercase with `ё` → `е`.
pub fn fold(word: &str) -> String {
    word.chars().flat_map(char::to_lowercase).map(|c| if c == 'ё' { 'е' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_and_stems_case_forms_together() {
        let t = Tokenizer::default();
        let a = t.stems("водоснабжения Величаевском");
        let b = t.stems("Водоснабжение величаевское");
        assert_eq!(a, b);
        assert_eq!(fold("Ёлка"), "елка");
        let toks = t.tokens("В Бургун-Маджарах, 15!");
        assert_eq!(toks.len(), 4);
        assert!(toks[1].capitalized && !toks[0].word.is_empty());
    }
}
