//! glas-nlp: enrichment of mentions — language, sentiment, municipal topics,
//! settlements, mention type and reprint cluster.
//!
//! Sits between crawling and the store: every mention passes through
//! [`Analyzer::enrich`] before it is committed. Everything here is a
//! **baseline**, documented as such: a lexicon sentiment scorer (PolSentiLex +
//! a municipal list), stem rules for topics and places, and exact-text reprint
//! clusters. The NLP issue replaces these with trained and measured models; the
//! interface (the contract's [`Enrichment`]) stays.
//!
//! ```
//! use glas_core::{Mention, Sentiment};
//! let analyzer = glas_nlp::Analyzer::new(&[]);
//! let m = Mention::from_line(r#"{"id": "x", "text": "Третий день нет воды, сколько можно!",
//!     "published_at": "2026-11-20T08:15:00+03:00"}"#, 1).unwrap();
//! let e = analyzer.enrich(&m, "telegram");
//! assert_eq!(e.sentiment, Sentiment::Negative);
//! assert_eq!(e.topics, ["water"]);
//! ```

pub mod metrics;
pub mod neardup;
pub mod places;
pub mod sentiment;
pub mod text;
pub mod topics;

use glas_core::config::Place;
use glas_core::{Enrichment, Mention, MentionType, Sentiment};

pub use sentiment::Contribution;
pub use topics::DEFAULT_TAXONOMY;

use places::Gazetteer;
use sentiment::Lexicon;
use text::{Token, Tokenizer};
use topics::Topics;

/// Assigns near-duplicate clusters over a stream of enrichments, in order.
pub fn assign_cluster(index: &mut neardup::NearDup, e: &mut Enrichment, published_unix: i64) {
    if let Some(h) = e.simhash {
        e.cluster = neardup::cluster_label(index.assign(h, published_unix));
    }
}

/// Everything enrichment needs, loaded once and shared (read-only) by all threads.
pub struct Analyzer {
    tok: Tokenizer,
    lexicon: Lexicon,
    topics: Topics,
    gazetteer: Gazetteer,
}

const GRATITUDE: &[&str] = &["спасибо", "благодарим", "благодарю", "благодарность", "благодарны", "признательны"];
const QUESTION_WORDS: &[&str] = &["когда", "почему", "где", "кто", "как", "подскажите", "зачем", "сколько", "куда"];
const COMPLAINT_MARKERS: &[&str] = &[
    "нет",
    "опять",
    "снова",
    "сколько",
    "невозможно",
    "жалоба",
    "жалуемся",
    "безобразие",
    "требуем",
    "отключили",
    "прорвало",
    "никто",
];

impl Analyzer {
    pub fn new(places: &[Place]) -> Analyzer {
        let tok = Tokenizer::default();
        let lexicon = Lexicon::builtin(&tok);
        let topics = Topics::builtin(&tok);
        let gazetteer = Gazetteer::new(places, &tok);
        Analyzer { tok, lexicon, topics, gazetteer }
    }

    /// Enriches one mention. `source_kind` (`rss`, `telegram`, ...) informs the
    /// mention type: feeds of media outlets carry news, channels carry posts.
    pub fn enrich(&self, m: &Mention, source_kind: &str) -> Enrichment {
        self.enrich_explained(m, source_kind).0
    }

    /// Like [`Analyzer::enrich`], plus the terms that drove the sentiment.
    pub fn enrich_explained(&self, m: &Mention, source_kind: &str) -> (Enrichment, Vec<Contribution>) {
        let full = match &m.title {
            Some(t) if !t.is_empty() => format!("{t}. {}", m.text),
            _ => m.text.clone(),
        };
        let tokens = self.tok.tokens(&full);
        let (sentiment, score, contributions) = self.lexicon.score(&tokens);
        let mention_type = mention_type(&full, &tokens, sentiment, source_kind, m.title.is_some());
        let e = Enrichment {
            id: m.id.clone(),
            lang: language(&full),
            sentiment,
            sentiment_score: score,
            topics: self.topics.classify(&tokens),
            places: self.gazetteer.find(&tokens),
            mention_type,
            entities: Vec::new(),
            cluster: cluster_key(&tokens),
            simhash: neardup::simhash(&tokens),
        };
        (e, contributions)
    }
}

/// ISO 639-1 code where there is one (ru, uk, en, ...), else whatlang's 639-3.
/// Short texts that whatlang cannot call reliably count as Russian when mostly
/// Cyrillic, since the district writes in Russian.
pub fn language(text: &str) -> String {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    if letters == 0 {
        return "und".into();
    }
    let cyrillic = text.chars().filter(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё')).count();
    match whatlang::detect(text) {
        Some(info) if info.is_reliable() || cyrillic * 2 < letters => match info.lang() {
            whatlang::Lang::Rus => "ru".into(),
            whatlang::Lang::Ukr => "uk".into(),
            whatlang::Lang::Bel => "be".into(),
            whatlang::Lang::Eng => "en".into(),
            whatlang::Lang::Deu => "de".into(),
            other => other.code().into(),
        },
        _ if cyrillic * 2 >= letters => "ru".into(),
        _ => "und".into(),
    }
}

fn mention_type(text: &str, tokens: &[Token], sentiment: Sentiment, source_kind: &str, has_title: bool) -> MentionType {
    let has = |list: &[&str]| tokens.iter().any(|t| list.contains(&t.word.as_str()));
    let is_media = has_title || source_kind == "rss";
    if has(GRATITUDE) && sentiment != Sentiment::Negative {
        return MentionType::Gratitude;
    }
    if !is_media
        && text.contains('?')
        && (has(QUESTION_WORDS) || text.trim_end().ends_with('?'))
        && sentiment != Sentiment::Negative
    {
        return MentionType::Question;
    }
    if !is_media
        && sentiment == Sentiment::Negative
        && (has(COMPLAINT_MARKERS) || text.contains('!') || text.contains('?'))
    {
        return MentionType::Complaint;
    }
    if is_media {
        return MentionType::News;
    }
    if sentiment == Sentiment::Negative {
        return MentionType::Complaint;
    }
    MentionType::Other
}

/// Exact-text cluster: a hash of the first 60 words. Reprints with small edits
/// are joined by [`neardup::NearDup`], which needs the mentions seen before.
fn cluster_key(tokens: &[Token]) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for t in tokens.iter().take(60) {
        for b in t.word.bytes().chain([b' ']) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("c{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Mention {
        Mention {
            id: "t".into(),
            source: None,
            url: None,
            published_at: "2026-11-20T08:15:00+03:00".parse().unwrap(),
            author: None,
            title: None,
            text: text.into(),
            engagement: Default::default(),
            extra: Default::default(),
        }
    }

    #[test]
    fn types() {
        let a = Analyzer::new(&[]);
        assert_eq!(a.enrich(&m("Опять отключили свет, безобразие!"), "telegram").mention_type, MentionType::Complaint);
        assert_eq!(
            a.enrich(&m("Подскажите, когда будет автобус до Левокумского?"), "telegram").mention_type,
            MentionType::Question
        );
        assert_eq!(
            a.enrich(&m("Спасибо водоканалу за быструю работу"), "telegram").mention_type,
            MentionType::Gratitude
        );
        assert_eq!(a.enrich(&m("В округе прошло заседание комиссии"), "rss").mention_type, MentionType::News);
    }

    #[test]
    fn language_and_cluster() {
        assert_eq!(language("Третий день нет воды в посёлке, когда починят трубу"), "ru");
        assert_eq!(language("The water supply was restored this morning in the village"), "en");
        assert_eq!(language("Нет воды"), "ru");
        let a = Analyzer::new(&[]);
        let x = a.enrich(&m("Нет воды в Заре."), "telegram").cluster;
        let y = a.enrich(&m("нет  воды в заре!"), "telegram").cluster;
        let z = a.enrich(&m("нет воды в Урожайном"), "telegram").cluster;
        assert_eq!(x, y);
        assert_ne!(x, z);
    }
}
