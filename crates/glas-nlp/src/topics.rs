//! Municipal topics by rules: the pipeline's taxonomy (by default the
//! built-in one of `glas_core::config::builtin_topics`). Multi-label. Words
//! match whole stems, so "газ" does not fire on "газета"; `word*` matches a
//! prefix of the word; phrases match stem sequences; exclusions take the words
//! they cover away from their topic.

use std::collections::HashMap;

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
    /// Stem → (topic, pattern) of every word pattern and phrase starting with it.
    by_stem: HashMap<String, Vec<(usize, usize)>>,
    /// (topic, pattern, prefix) of the `word*` patterns.
    prefixes: Vec<(usize, usize, String)>,
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
        let topics: Vec<Topic> = rules
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
        let mut by_stem: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let mut prefixes = Vec::new();
        for (t, topic) in topics.iter().enumerate() {
            for (p, (pattern, _)) in topic.patterns.iter().enumerate() {
                match pattern {
                    Pattern::Stem(s) => by_stem.entry(s.clone()).or_default().push((t, p)),
                    Pattern::Phrase(seq) => by_stem.entry(seq[0].clone()).or_default().push((t, p)),
                    Pattern::Prefix(s) => prefixes.push((t, p, s.clone())),
                }
            }
        }
        Topics { topics, by_stem, prefixes }
    }

    /// Whether the taxonomy has this code.
    pub fn has(&self, code: &str) -> bool {
        self.topics.iter().any(|t| t.code == code)
    }

    /// The code's place in the taxonomy (unknown codes last).
    pub fn position(&self, code: &str) -> usize {
        self.topics.iter().position(|t| t.code == code).unwrap_or(usize::MAX)
    }

    /// Codes whose rules match, in taxonomy order.
    pub fn classify(&self, tokens: &[Token]) -> Vec<String> {
        self.explain(tokens).into_iter().map(|m| m.code).collect()
    }

    /// For every topic that matches, in taxonomy order, its first match in
    /// the text that no exclusion covers.
    pub fn explain(&self, tokens: &[Token]) -> Vec<TopicMatch> {
        // (topic, start, len, pattern) of every candidate, in text order.
        let mut candidates: Vec<(usize, usize, usize, usize)> = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            if let Some(list) = self.by_stem.get(&t.stem) {
                for &(topic, p) in list {
                    match &self.topics[topic].patterns[p].0 {
                        Pattern::Stem(_) => candidates.push((topic, i, 1, p)),
                        Pattern::Phrase(seq) => {
                            if tokens.len() - i >= seq.len()
                                && tokens[i..i + seq.len()].iter().zip(seq).all(|(t, s)| &t.stem == s)
                            {
                                candidates.push((topic, i, seq.len(), p));
                            }
                        }
                        Pattern::Prefix(_) => {}
                    }
                }
            }
            for (topic, p, prefix) in &self.prefixes {
                if t.word.starts_with(prefix.as_str()) {
                    candidates.push((*topic, i, 1, *p));
                }
            }
        }
        candidates.sort_by_key(|&(topic, start, _, _)| (topic, start));
        let mut out = Vec::new();
        let mut excluded = vec![false; tokens.len()];
        let mut k = 0;
        while k < candidates.len() {
            let topic = candidates[k].0;
            let end = k + candidates[k..].iter().take_while(|c| c.0 == topic).count();
            let t = &self.topics[topic];
            excluded.iter_mut().for_each(|x| *x = false);
            for e in &t.exclude {
                for start in find_all(tokens, e) {
                    excluded[start..start + e.len()].iter_mut().for_each(|x| *x = true);
                }
            }
            if let Some(&(_, at, len, p)) =
                candidates[k..end].iter().find(|c| !excluded[c.1..c.1 + c.2].iter().any(|x| *x))
            {
                let text = tokens[at..at + len].iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" ");
                out.push(TopicMatch { code: t.code.clone(), rule: t.patterns[p].1.clone(), text });
            }
            k = end;
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
