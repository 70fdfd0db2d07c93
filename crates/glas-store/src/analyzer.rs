//! The Russian analyzer shared by indexing, querying and highlighting.
//!
//! Split at non-alphanumerics (so "ул. Гагарина, 15" gives `ул`, `гагарина`,
//! `15`), drop tokens over 60 bytes, lowercase, fold Latin look-alike letters
//! inside Cyrillic words ("вoда" typed with a Latin `o`), fold `ё` into `е`,
//! Snowball Russian stemming, then expand street abbreviations to the stem of
//! the full word (`ул` → `улиц`), so "улица Гагарина" finds "ул. Гагарина".
//!
//! Stop words are indexed (phrases such as "нет воды" must match), and left
//! out of scoring at query time ([`is_stop_word`]).

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, Token, TokenFilter, TokenStream,
    Tokenizer,
};

pub const RU_ANALYZER: &str = "ru";

/// Builds the Russian analyzer used for indexing and querying.
pub fn russian_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(60))
        .filter(LowerCaser)
        .filter(Map(fold_letters))
        .filter(Stemmer::new(Language::Russian))
        .filter(Map(expand_abbreviation))
        .build()
}

/// The analyzed tokens of `text` (stems), with byte offsets into it.
pub fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<Token> {
    let mut s = analyzer.token_stream(text);
    let mut out = Vec::new();
    while s.advance() {
        out.push(s.token().clone());
    }
    out
}

/// Lowercase Latin letters that look like Cyrillic ones.
fn lookalike(c: char) -> Option<char> {
    Some(match c {
        'a' => 'а',
        'b' => 'в',
        'c' => 'с',
        'e' => 'е',
        'h' => 'н',
        'k' => 'к',
        'm' => 'м',
        'o' => 'о',
        'p' => 'р',
        't' => 'т',
        'x' => 'х',
        'y' => 'у',
        _ => return None,
    })
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}')
}

/// `ё` → `е`; in a word mixing scripts whose Latin letters all have Cyrillic
/// look-alikes, those letters become Cyrillic. Returns `None` when unchanged.
pub fn fold_letters(word: &str) -> Option<String> {
    let has_yo = word.contains('ё');
    let mixed = word.chars().any(is_cyrillic)
        && word.chars().any(|c| c.is_ascii_alphabetic())
        && word.chars().filter(|c| c.is_ascii_alphabetic()).all(|c| lookalike(c).is_some());
    if !has_yo && !mixed {
        return None;
    }
    Some(
        word.chars()
            .map(|c| match c {
                'ё' => 'е',
                c if mixed => lookalike(c).unwrap_or(c),
                c => c,
            })
            .collect(),
    )
}

/// Street and settlement abbreviations, as the stem of the full word.
fn expand_abbreviation(stem: &str) -> Option<String> {
    Some(
        match stem {
            "ул" => "улиц",
            "пер" => "переулок",
            "пл" => "площад",
            "просп" => "проспект",
            "мкр" | "мкрн" => "микрорайон",
            "пос" => "поселок",
            _ => return None,
        }
        .to_string(),
    )
}

/// Russian function words: indexed, but not scored or required in a query of
/// words (they still count inside phrases).
pub fn is_stop_word(word: &str) -> bool {
    const STOP: &[&str] = &[
        "а",
        "без",
        "бы",
        "в",
        "во",
        "вот",
        "все",
        "вы",
        "да",
        "для",
        "до",
        "его",
        "ее",
        "если",
        "же",
        "за",
        "и",
        "из",
        "или",
        "им",
        "их",
        "к",
        "как",
        "ко",
        "ли",
        "мы",
        "на",
        "над",
        "не",
        "но",
        "о",
        "об",
        "он",
        "она",
        "они",
        "оно",
        "от",
        "по",
        "под",
        "при",
        "с",
        "со",
        "так",
        "там",
        "то",
        "тот",
        "ту",
        "у",
        "уже",
        "что",
        "чтобы",
        "это",
        "этот",
        "я",
    ];
    let w = word.to_lowercase().replace('ё', "е");
    STOP.contains(&w.as_str())
}

/// A token filter applying a word → replacement function.
#[derive(Clone, Copy)]
pub struct Map(pub fn(&str) -> Option<String>);

impl TokenFilter for Map {
    type Tokenizer<T: Tokenizer> = MapFilter<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> MapFilter<T> {
        MapFilter(tokenizer, self.0)
    }
}

#[derive(Clone)]
pub struct MapFilter<T>(T, fn(&str) -> Option<String>);

impl<T: Tokenizer> Tokenizer for MapFilter<T> {
    type TokenStream<'a> = MapStream<T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        MapStream(self.0.token_stream(text), self.1)
    }
}

pub struct MapStream<S>(S, fn(&str) -> Option<String>);

impl<S: TokenStream> TokenStream for MapStream<S> {
    fn advance(&mut self) -> bool {
        if !self.0.advance() {
            return false;
        }
        let t = self.0.token_mut();
        if let Some(new) = (self.1)(&t.text) {
            t.text = new;
        }
        true
    }
    fn token(&self) -> &Token {
        self.0.token()
    }
    fn token_mut(&mut self) -> &mut Token {
        self.0.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(text: &str) -> Vec<String> {
        analyze(&mut russian_analyzer(), text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn folds_case_yo_endings_lookalikes_and_abbreviations() {
        assert_eq!(stems("водоснабжения"), stems("Водоснабжение"));
        assert_eq!(stems("Всё"), stems("все"));
        assert_eq!(stems("Величаевском"), stems("величаевское"));
        // Latin o and a inside a Cyrillic word.
        assert_eq!(stems("вoдa"), stems("вода"));
        assert_eq!(stems("COVID"), vec!["covid"]);
        assert_eq!(stems("ул. Гагарина, 15"), stems("улица Гагарина 15"));
        assert_eq!(stems("ул. Гагарина, 15"), vec!["улиц", "гагарин", "15"]);
    }

    #[test]
    fn stop_words() {
        assert!(is_stop_word("НЕ"));
        assert!(is_stop_word("её"));
        assert!(!is_stop_word("вода"));
    }
}
