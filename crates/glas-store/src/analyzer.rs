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

use tantivy::tokenizer::{TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer};

pub const RU_ANALYZER: &str = "ru";

/// Longest token indexed, in bytes (longer ones are URLs, hashes, noise).
const MAX_TOKEN_BYTES: usize = 60;

/// Builds the Russian analyzer used for indexing and querying.
pub fn russian_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(RuTokenizer::default())
        .filter(CachedStemmer::default())
        .filter(Map(expand_abbreviation))
        .build()
}

/// Snowball Russian stemming with a cache of recent words: a language's
/// running text repeats a few tens of thousands of word forms, and stemming
/// was the largest cost of indexing after tantivy's own work.
#[derive(Clone)]
pub struct CachedStemmer {
    cache: StemCache,
}

type StemCache = std::collections::HashMap<String, String, std::hash::BuildHasherDefault<WordHasher>>;

impl Default for CachedStemmer {
    fn default() -> Self {
        CachedStemmer { cache: StemCache::with_capacity_and_hasher(1 << 12, Default::default()) }
    }
}

/// FNV-1a over the word's bytes: words are short and not adversarial here,
/// and SipHash showed up in indexing profiles.
#[derive(Default)]
pub struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let h = if self.0 == 0 { glas_core::FNV_OFFSET } else { self.0 };
        self.0 = bytes.iter().fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(glas_core::FNV_PRIME));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Words remembered per analyzer before the cache starts afresh.
const STEM_CACHE: usize = 200_000;

thread_local! {
    static RUSSIAN: rust_stemmers::Stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::Russian);
}

impl TokenFilter for CachedStemmer {
    type Tokenizer<T: Tokenizer> = CachedStemmerFilter<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> CachedStemmerFilter<T> {
        CachedStemmerFilter { inner: tokenizer, cache: self.cache }
    }
}

#[derive(Clone)]
pub struct CachedStemmerFilter<T> {
    inner: T,
    cache: StemCache,
}

impl<T: Tokenizer> Tokenizer for CachedStemmerFilter<T> {
    type TokenStream<'a> = CachedStemmerStream<'a, T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CachedStemmerStream { inner: self.inner.token_stream(text), cache: &mut self.cache }
    }
}

pub struct CachedStemmerStream<'a, S> {
    inner: S,
    cache: &'a mut StemCache,
}

impl<S: TokenStream> TokenStream for CachedStemmerStream<'_, S> {
    fn advance(&mut self) -> bool {
        if !self.inner.advance() {
            return false;
        }
        let t = self.inner.token_mut();
        if let Some(stem) = self.cache.get(&t.text) {
            t.text.clone_from(stem);
            return true;
        }
        let stem = RUSSIAN.with(|s| s.stem(&t.text).into_owned());
        if self.cache.len() >= STEM_CACHE {
            self.cache.clear();
        }
        self.cache.insert(std::mem::replace(&mut t.text, stem.clone()), stem);
        true
    }
    fn token(&self) -> &Token {
        self.inner.token()
    }
    fn token_mut(&mut self) -> &mut Token {
        self.inner.token_mut()
    }
}

/// Splits at non-alphanumerics and lowercases, folds `ё` and Latin
/// look-alikes in one pass, with fast paths for ASCII and Cyrillic (most of
/// the time indexing Russian text goes to classifying and lowercasing chars).
#[derive(Clone, Default)]
pub struct RuTokenizer {
    token: Token,
}

pub struct RuTokenStream<'a> {
    text: &'a str,
    pos: usize,
    token: &'a mut Token,
}

impl Tokenizer for RuTokenizer {
    type TokenStream<'a> = RuTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> RuTokenStream<'a> {
        self.token.reset();
        RuTokenStream { text, pos: 0, token: &mut self.token }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '\u{0400}'..='\u{04FF}') || (!c.is_ascii() && c.is_alphanumeric())
}

/// Appends `c` lowercased, with `ё` folded into `е`.
fn push_lower(out: &mut String, c: char) {
    match c {
        'A'..='Z' => out.push(c.to_ascii_lowercase()),
        c if c.is_ascii() => out.push(c),
        'Ё' | 'ё' => out.push('е'),
        '\u{0410}'..='\u{042F}' => out.push(char::from_u32(c as u32 + 0x20).unwrap_or(c)),
        '\u{0400}'..='\u{040F}' => out.push(char::from_u32(c as u32 + 0x50).unwrap_or(c)),
        '\u{0430}'..='\u{04FF}' => out.push(c),
        c => out.extend(c.to_lowercase()),
    }
}

impl TokenStream for RuTokenStream<'_> {
    fn advance(&mut self) -> bool {
        loop {
            let rest = &self.text[self.pos..];
            let Some(start) = rest.char_indices().find(|&(_, c)| is_word_char(c)).map(|(i, _)| self.pos + i) else {
                self.pos = self.text.len();
                return false;
            };
            let word = &self.text[start..];
            let end = start + word.char_indices().find(|&(_, c)| !is_word_char(c)).map_or(word.len(), |(i, _)| i);
            self.pos = end;
            if end - start > MAX_TOKEN_BYTES {
                continue;
            }
            self.token.text.clear();
            let (mut cyrillic, mut latin) = (false, false);
            for c in self.text[start..end].chars() {
                cyrillic |= is_cyrillic(c);
                latin |= c.is_ascii_alphabetic();
                push_lower(&mut self.token.text, c);
            }
            if cyrillic
                && latin
                && let Some(folded) = fold_letters(&self.token.text)
            {
                self.token.text = folded;
            }
            self.token.offset_from = start;
            self.token.offset_to = end;
            self.token.position = self.token.position.wrapping_add(1);
            self.token.position_length = 1;
            return true;
        }
    }
    fn token(&self) -> &Token {
        self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
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
