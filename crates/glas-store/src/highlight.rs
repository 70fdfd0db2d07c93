//! Highlighting: marks every word form whose stem a query asked for (or that
//! starts with a prefix it asked for), and picks the fragment of a text that
//! shows the most distinct matched words.

use std::collections::HashSet;

use tantivy::tokenizer::TextAnalyzer;

use crate::analyzer::analyze;

#[derive(Debug, Default, Clone)]
pub struct Highlighter {
    stems: HashSet<String>,
    prefixes: Vec<String>,
}

/// A fragment and the byte ranges of its marked words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub text: String,
    pub ranges: Vec<(usize, usize)>,
}

impl Highlighter {
    pub fn add_stems(&mut self, stems: impl IntoIterator<Item = String>) {
        self.stems.extend(stems);
    }

    pub fn add_prefix(&mut self, prefix: String) {
        self.prefixes.push(prefix);
    }

    fn matches(&self, stem: &str) -> bool {
        self.stems.contains(stem) || self.prefixes.iter().any(|p| stem.starts_with(p.as_str()))
    }

    /// Matched words of `text` as (byte range, stem).
    fn matched(&self, analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, usize, String)> {
        if self.stems.is_empty() && self.prefixes.is_empty() {
            return Vec::new();
        }
        analyze(analyzer, text)
            .into_iter()
            .filter(|t| self.matches(&t.text))
            .map(|t| (t.offset_from, t.offset_to, t.text))
            .collect()
    }

    /// Byte ranges of matched words in the whole of `text`.
    pub fn mark(&self, analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, usize)> {
        self.matched(analyzer, text).into_iter().map(|(a, b, _)| (a, b)).collect()
    }

    /// The fragment of at most about `max_chars` characters with the most
    /// distinct matched words (the beginning when none match), cut at word
    /// boundaries, with "…" where it was cut.
    pub fn snippet(&self, analyzer: &mut TextAnalyzer, text: &str, max_chars: usize) -> Marked {
        let matched = self.matched(analyzer, text);
        if text.chars().count() <= max_chars {
            return Marked { text: text.to_string(), ranges: matched.into_iter().map(|(a, b, _)| (a, b)).collect() };
        }
        // Byte length of `max_chars` characters from byte `start`.
        let span_end = |start: usize| -> usize {
            text[start..].char_indices().nth(max_chars).map_or(text.len(), |(i, _)| start + i)
        };
        let mut best = (0usize, 0usize, 0usize); // (distinct, total, start)
        for (i, &(a, _, _)) in matched.iter().enumerate() {
            // Start a little before the first word so it reads in context.
            let start = back_to_boundary(text, a, 40);
            let end = span_end(start);
            let inside: Vec<&(usize, usize, String)> =
                matched[i..].iter().take_while(|(x, y, _)| *x >= start && *y <= end).collect();
            let distinct = inside.iter().map(|(_, _, s)| s).collect::<HashSet<_>>().len();
            if (distinct, inside.len()) > (best.0, best.1) {
                best = (distinct, inside.len(), start);
            }
        }
        let start = best.2;
        let mut end = span_end(start);
        if end < text.len() {
            // Cut at the last space inside the window.
            if let Some(sp) = text[start..end].rfind(char::is_whitespace) {
                end = start + sp;
            }
        }
        let prefix = if start > 0 { "…" } else { "" };
        let body_end = start + text[start..end].trim_end().len();
        let mut out = String::with_capacity(body_end - start + 8);
        out.push_str(prefix);
        out.push_str(&text[start..body_end]);
        if body_end < text.len() {
            out.push('…');
        }
        let shift = prefix.len();
        let ranges = matched
            .into_iter()
            .filter(|(a, b, _)| *a >= start && *b <= body_end)
            .map(|(a, b, _)| (a - start + shift, b - start + shift))
            .collect();
        Marked { text: out, ranges }
    }
}

/// A word boundary at most about `max_chars` characters before byte `at`,
/// preferring the start of the sentence.
fn back_to_boundary(text: &str, at: usize, max_chars: usize) -> usize {
    let before = &text[..at];
    let floor = before.char_indices().rev().nth(max_chars).map_or(0, |(i, _)| i);
    if let Some(p) = before[floor..].rfind(['.', '!', '?', '\n']) {
        let s = floor + p + 1;
        return s + (text[s..].len() - text[s..].trim_start().len());
    }
    if floor == 0 {
        return 0;
    }
    match before[floor..].find(char::is_whitespace) {
        Some(p) => {
            let s = floor + p;
            s + (text[s..].len() - text[s..].trim_start().len())
        }
        None => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzer::russian_analyzer;

    #[test]
    fn marks_word_forms_and_prefixes() {
        let mut a = russian_analyzer();
        let mut h = Highlighter::default();
        h.add_stems(analyze(&mut a, "вода").into_iter().map(|t| t.text));
        h.add_prefix("водоснаб".into());
        let text = "Нет воды. Водоснабжение восстановят к вечеру, вода будет.";
        let marked: Vec<&str> = h.mark(&mut a, text).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(marked, vec!["воды", "Водоснабжение", "вода"]);
    }

    #[test]
    fn snippet_shows_the_matching_part_of_a_long_text() {
        let mut a = russian_analyzer();
        let mut h = Highlighter::default();
        h.add_stems(analyze(&mut a, "котельная").into_iter().map(|t| t.text));
        let text = format!(
            "{} Котельная на улице Мира не работает. {}",
            "Вступление без дела. ".repeat(20),
            "Хвост. ".repeat(40)
        );
        let m = h.snippet(&mut a, &text, 120);
        assert!(m.text.starts_with("…Котельная"), "{}", m.text);
        assert!(m.text.ends_with('…'));
        assert_eq!(&m.text[m.ranges[0].0..m.ranges[0].1], "Котельная");
        assert!(m.text.chars().count() <= 122);
    }
}
