//! Settlements of the district gazetteer, matched in any case form by stems.
//!
//! Baseline rule for ambiguity: a name must appear capitalized in the text, so
//! "заря" the word does not count while "в Заре" does. Context rules for names
//! that are also surnames or common words come with the NLP issue.

use glas_core::config::Place;

use crate::text::{Token, Tokenizer};
use crate::topics::contains_seq;

pub struct Gazetteer {
    /// (canonical name, stem sequences of the name and its aliases).
    entries: Vec<(String, Vec<Vec<String>>)>,
}

impl Gazetteer {
    pub fn new(places: &[Place], tok: &Tokenizer) -> Gazetteer {
        let entries = places
            .iter()
            .map(|p| {
                let forms = std::iter::once(&p.name)
                    .chain(&p.aliases)
                    .map(|n| tok.stems(n))
                    .filter(|s| !s.is_empty())
                    .collect();
                (p.name.clone(), forms)
            })
            .collect();
        Gazetteer { entries }
    }

    pub fn find(&self, tokens: &[Token]) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, forms)| {
                forms.iter().any(|f| tokens.windows(f.len()).any(|w| w[0].capitalized && contains_seq(w, f)))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaz() -> (Gazetteer, Tokenizer) {
        let tok = Tokenizer::default();
        let places: Vec<Place> = ["Величаевское", "Владимировка", "Бургун-Маджары", "Заря", "Кумская Долина"]
            .iter()
            .map(|n| Place { name: n.to_string(), aliases: vec![] })
            .collect();
        (Gazetteer::new(&places, &tok), tok)
    }

    #[test]
    fn case_forms() {
        let (g, tok) = gaz();
        assert_eq!(g.find(&tok.tokens("Нет воды в Величаевском")), ["Величаевское"]);
        assert_eq!(g.find(&tok.tokens("автобус из Владимировки")), ["Владимировка"]);
        assert_eq!(g.find(&tok.tokens("в Бургун-Маджарах и в Кумской Долине")), ["Бургун-Маджары", "Кумская Долина"]);
        assert_eq!(g.find(&tok.tokens("жители Зари")), ["Заря"]);
        assert!(g.find(&tok.tokens("утренняя заря")).is_empty());
    }
}
