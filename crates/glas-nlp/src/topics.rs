//! Municipal topics by rules: the pipeline's taxonomy (by default the
//! built-in one of `glas_core::config::builtin_topics`). Multi-label. Words
//! match whole stems, so "газ" does not fire on "газета"; `word*` matches a
//! prefix of the word; phrases match stem sequences; exclusions take the words
//! they cover away from their topic.

use glas_core::config::TopicRule;

use crate::text::{Token, Tokenizer};

enum Pattern {
    Stem(String),
    Prefix(String),
    Phrase(Vec<String>),
}

struct Topic {
    code: String,
    patterns: Vec<(Pattern, String)>,
    exclude: Vec<Vec<String>>,
}

pub struct Topics {
    topics: Vec<Topic>,
}

/// Why a topic was assigned: the code and the rule that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicMatch {
    pub code: String,
    pub rule: String,
    /// The words of the text it matched.
    pub text: String,
}

impl Topics {
    pub fn new(rules: &[TopicRule], tok: &Tokenizer) -> Topics {
        let topics = rules
            .iter()
            .map(|r| {
                let mut patterns = Vec::new();
                for w in &r.words {
                    let p = match w.strip_suffix('*') {
                        Some(prefix) => Pattern::Prefix(crate::text::fold(prefix)),
                        None => match tok.stems(w).as_slice() {
                            [] => continue,
                            [one] => Pattern::Stem(one.clone()),
                            many => Pattern::Phrase(many.to_vec()),
                        },
                    };
                    patterns.push((p, w.clone()));
                }
                for ph in &r.phrases {
                    let stems = tok.stems(ph);
                    if !stems.is_empty() {
                        patterns.push((Pattern::Phrase(stems), ph.clone()));
                    }
                }
                let exclude = r.exclude.iter().map(|e| tok.stems(e)).filter(|s| !s.is_empty()).collect();
                Topic { code: r.code.clone(), patterns, exclude }
            })
            .collect();
        Topics { topics }
    }

    /// Codes whose rules match, in taxonomy order.
    pub fn classify(&self, tokens: &[Token]) -> Vec<String> {
        self.explain(tokens).into_iter().map(|m| m.code).collect()
    }

    /// The first matching rule of every topic that matches.
    pub fn explain(&self, tokens: &[Token]) -> Vec<TopicMatch> {
        let mut out = Vec::new();
        let mut excluded = vec![false; tokens.len()];
        for topic in &self.topics {
            excluded.iter_mut().for_each(|x| *x = false);
            for e in &topic.exclude {
                for start in find_all(tokens, e) {
                    excluded[start..start + e.len()].iter_mut().for_each(|x| *x = true);
                }
            }
            let found = topic.patterns.iter().find_map(|(p, rule)| {
                let (at, len) = match p {
                    Pattern::Stem(s) => (tokens.iter().enumerate().position(|(i, t)| !excluded[i] && &t.stem == s)?, 1),
                    Pattern::Prefix(s) => (
                        tokens.iter().enumerate().position(|(i, t)| !excluded[i] && t.word.starts_with(s.as_str()))?,
                        1,
                    ),
                    Pattern::Phrase(seq) => {
                        (find_all(tokens, seq).find(|&i| !excluded[i..i + seq.len()].iter().any(|x| *x))?, seq.len())
                    }
                };
                let text = tokens[at..at + len].iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" ");
                Some(TopicMatch { code: topic.code.clone(), rule: rule.clone(), text })
            });
            out.extend(found);
        }
        out
    }
}

/// Start indexes of every occurrence of a stem sequence.
pub(crate) fn find_all<'a>(tokens: &'a [Token], seq: &'a [String]) -> impl Iterator<Item = usize> + 'a {
    let n = seq.len();
    (0..(tokens.len() + 1).saturating_sub(n))
        .filter(move |&i| n > 0 && tokens[i..i + n].iter().zip(seq).all(|(t, s)| &t.stem == s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(text: &str) -> Vec<String> {
        let tok = Tokenizer::default();
        Topics::new(glas_core::config::builtin_topics(), &tok).classify(&tok.tokens(text))
    }

    #[test]
    fn residents_phrasing() {
        assert_eq!(topics("Прорвало трубу, напор слабый"), ["water"]);
        assert_eq!(topics("Мусор не вывозят неделю"), ["waste"]);
        assert_eq!(topics("Ямы на Гагарина"), ["roads"]);
        assert_eq!(topics("Фонари не горят"), ["improvement"]);
        assert_eq!(topics("В поликлинике нет терапевта"), ["healthcare"]);
        assert!(topics("Свежая газета вышла").is_empty());
    }

    #[test]
    fn prefixes_and_exclusions() {
        assert_eq!(topics("Газопроводчики приехали"), ["gas"]);
        assert!(topics("Ничего нового под белым светом").is_empty(), "exclusion");
        assert_eq!(topics("Опять нет света"), ["electricity"]);
    }
}
