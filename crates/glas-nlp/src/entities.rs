//! Watchlists of officials and organizations (`[[watchlist]]` of the
//! pipeline): every name variant is matched in any case form by stems
//! ("глава округа", "главе округа"; "водоканал", "водоканала"). A variant of
//! one capitalized word (a surname: "Иванов") must be capitalized in the text
//! too, so "иванов день" or "ивановы" in lowercase do not count.

use glas_core::config::Watch;

use crate::text::{Token, Tokenizer, name_occurrences};
use crate::topics::find_all;

struct Entry {
    name: String,
    /// (stems, must be capitalized)
    forms: Vec<(Vec<String>, bool)>,
}

pub struct Watchlist {
    entries: Vec<Entry>,
}

impl Watchlist {
    pub fn new(watch: &[Watch], tok: &Tokenizer) -> Watchlist {
        let entries = watch
            .iter()
            .map(|w| {
                let forms = std::iter::once(&w.name)
                    .chain(&w.variants)
                    .filter_map(|v| {
                        let toks = tok.tokens(v);
                        if toks.is_empty() {
                            return None;
                        }
                        let proper = toks.len() == 1 && toks[0].capitalized;
                        Some((toks.into_iter().map(|t| t.stem).collect(), proper))
                    })
                    .collect();
                Entry { name: w.name.clone(), forms }
            })
            .collect();
        Watchlist { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Canonical names of the watched people and organizations a text names.
    pub fn find(&self, tokens: &[Token]) -> Vec<String> {
        self.entries.iter().filter(|e| occurrences(e, tokens).next().is_some()).map(|e| e.name.clone()).collect()
    }

    /// Token ranges `[from, to)` where the entries named `names` occur.
    pub fn spans(&self, tokens: &[Token], names: &[String]) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> =
            self.entries.iter().filter(|e| names.contains(&e.name)).flat_map(|e| occurrences(e, tokens)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Where an entry's forms occur in `tokens`, as token ranges.
fn occurrences<'a>(e: &'a Entry, tokens: &'a [Token]) -> impl Iterator<Item = (usize, usize)> + 'a {
    e.forms.iter().flat_map(move |(stems, proper)| {
        let n = stems.len();
        let starts: Vec<usize> = if *proper {
            name_occurrences(tokens, stems).filter(|&i| tokens[i].capitalized).collect()
        } else {
            find_all(tokens, stems).collect()
        };
        starts.into_iter().map(move |i| (i, i + n))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_in_any_case_form() {
        let tok = Tokenizer::default();
        let watch = vec![
            Watch {
                name: "Глава округа".into(),
                kind: "official".into(),
                variants: vec!["Петров".into(), "глава Левокумского округа".into()],
            },
            Watch {
                name: "Водоканал".into(), kind: "organization".into(), variants: vec!["водоканал".into()]
            },
        ];
        let w = Watchlist::new(&watch, &tok);
        assert_eq!(w.find(&tok.tokens("Жалобу направили главе округа")), ["Глава округа"]);
        assert_eq!(
            w.find(&tok.tokens("Петрову написали три раза, ответа от водоканала нет")),
            ["Глава округа", "Водоканал"]
        );
        assert!(w.find(&tok.tokens("петров день")).is_empty());
    }
}
