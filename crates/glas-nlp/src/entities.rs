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
        self.entries
            .iter()
            .filter(|e| {
                e.forms.iter().any(|(stems, proper)| {
                    if *proper {
                        name_occurrences(tokens, stems).any(|i| tokens[i].capitalized)
                    } else {
                        find_all(tokens, stems).next().is_some()
                    }
                })
            })
            .map(|e| e.name.clone())
            .collect()
    }
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
