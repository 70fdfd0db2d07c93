//! Tokens as every enrichment rule sees them: lowercase, `ё` folded to `е`,
//! split at anything that is not a letter or digit, then Snowball-stemmed.

use std::cell::RefCell;

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

/// A word of the input with its stem and whether it was capitalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub word: String,
    pub stem: String,
    pub capitalized: bool,
    /// Clause punctuation (`. , ; : ! ? ( ) —`) between this word and the one
    /// before: negation scope and word pairs stop there.
    pub brk: bool,
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
        let mut out = Vec::new();
        let mut brk = false;
        let mut start = None;
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            if is_word_char(c) {
                start.get_or_insert(i);
                continue;
            }
            if let Some(s) = start.take() {
                let w = &text[s..i];
                let capitalized = w.chars().next().is_some_and(char::is_uppercase);
                let word = fold(w);
                let stem = self.stem(&word);
                out.push(Token { word, stem, capitalized, brk });
                brk = false;
            }
            if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '(' | ')' | '—' | '–' | '\n' | '«' | '»' | '"') {
                brk = true;
            }
        }
        out
    }

    /// A folded word's stem. Words repeat (a thousand words make most of
    /// any text), so each thread keeps the stems it made: a table lookup
    /// instead of the Snowball rules, which were a tenth of enrichment.
    fn stem(&self, word: &str) -> String {
        STEMS.with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some(stem) = cache.get(word) {
                return stem.clone();
            }
            let stem = self.stemmer.stem(word).into_owned();
            if cache.len() >= STEM_CACHE_WORDS {
                cache.clear();
            }
            cache.insert(word.to_string(), stem.clone());
            stem
        })
    }

    /// How many words [`Tokenizer::tokens`] would find, without stemming them.
    pub fn count_words(text: &str) -> usize {
        let mut n = 0;
        let mut inside = false;
        for c in text.chars() {
            let word = is_word_char(c);
            n += usize::from(word && !inside);
            inside = word;
        }
        n
    }

    /// Stems of a phrase, in order.
    pub fn stems(&self, phrase: &str) -> Vec<String> {
        self.tokens(phrase).into_iter().map(|t| t.stem).collect()
    }
}

/// Words a thread's stem cache holds before it starts again (some 10 MB).
const STEM_CACHE_WORDS: usize = 1 << 17;

thread_local! {
    /// Folded word → Russian Snowball stem (every [`Tokenizer`] stems so).
    static STEMS: RefCell<FxHashMap<String, String>> = RefCell::new(FxHashMap::default());
}

/// Start indexes of a proper name's stems in a text. A word also matches when
/// it is the stem plus a case ending of up to three letters: Snowball cuts
/// some forms of names differently ("Термите" → "терм", "Кочубея" →
/// "кочубе", "Петрову" → "петров").
pub fn name_occurrences<'a>(tokens: &'a [Token], form: &'a [String]) -> impl Iterator<Item = usize> + 'a {
    let n = form.len();
    let fits = |t: &Token, s: &String| {
        t.stem == *s || (t.word.starts_with(s.as_str()) && t.word.chars().count() <= s.chars().count() + 3)
    };
    (0..(tokens.len() + 1).saturating_sub(n))
        .filter(move |&i| n > 0 && tokens[i..i + n].iter().zip(form).all(|(t, s)| fits(t, s)))
}

/// Letters and digits, with a fast path for ASCII and Cyrillic.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else if ('\u{400}'..='\u{4FF}').contains(&c) {
        c != '\u{482}' && !('\u{483}'..='\u{489}').contains(&c)
    } else {
        c.is_alphanumeric()
    }
}

/// Lowercase with `ё` → `е`.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        match c {
            'А'..='Я' => out.push(char::from_u32(c as u32 + 32).unwrap_or(c)),
            'Ё' | 'ё' => out.push('е'),
            'а'..='я' | 'a'..='z' | '0'..='9' => out.push(c),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
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
        assert!(!toks[1].brk && !toks[2].brk && toks[3].brk, "the hyphen joins, the comma breaks");
        // Cached stems are the stems.
        assert_eq!(t.stems("водоснабжения водоснабжения"), [a[0].clone(), a[0].clone()]);
        for text in ["В Бургун-Маджарах, 15!", "", "—", "Ёлка. «Новый год»"] {
            assert_eq!(Tokenizer::count_words(text), t.tokens(text).len(), "{text}");
        }
    }
}
