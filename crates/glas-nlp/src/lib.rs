//! glas-nlp: enrichment of mentions — language, sentiment, municipal topics,
//! settlements, mention type and reprint cluster.
//!
//! Sits between crawling and the store: every mention passes through
//! [`Analyzer::enrich`] before it is committed:
//! - language: whatlang, with short Cyrillic texts taken as Russian;
//! - sentiment: a trained linear model over words, word pairs, character
//!   n-grams and the PolSentiLex lexicon ([`sentiment`]), told the genre
//!   (media or social) by the source, or, where the source does not say (an
//!   import), by the register model of [`learned`];
//! - complaint: a trained decision whether a resident complains or asks for
//!   something to be fixed, however calmly worded ([`learned`]);
//! - topics: the pipeline's taxonomy rules ([`topics`]) plus, for residents'
//!   complaints, a trained multi-label model over the built-in codes ([`learned`]);
//! - places: the gazetteer with context rules for ambiguous names ([`places`]);
//! - entities: the pipeline's watchlist of officials and organizations;
//! - mention type: the complaint decision, then rules over question,
//!   gratitude and complaint markers plus the sentiment;
//! - reprint clusters: SimHash near-duplicates ([`neardup`]).
//!
//! Accuracy on public and hand-labelled data: BENCHMARKS.md.
//!
//! ```
//! use glas_core::{Mention, Sentiment};
//! let analyzer = glas_nlp::Analyzer::builtin();
//! let m = Mention::from_line(r#"{"id": "x", "text": "Третий день нет воды, сколько можно!",
//!     "published_at": "2026-11-20T08:15:00+03:00"}"#, 1).unwrap();
//! let e = analyzer.enrich(&m, "telegram");
//! assert_eq!(e.sentiment, Sentiment::Negative);
//! assert_eq!(e.topics, ["water"]);
//! ```

pub mod entities;
pub mod labelled;
pub mod learned;
pub mod linear;
pub mod metrics;
pub mod neardup;
pub mod places;
pub mod public;
pub mod sentiment;
pub mod stance;
pub mod text;
pub mod topics;

use glas_core::config::{Pipeline, Place, TopicRule, Watch};
use glas_core::{Enrichment, Mention, MentionType, Sentiment};

pub use sentiment::{Contribution, Genre};
pub use topics::TopicMatch;

use entities::Watchlist;
use learned::Learned;
use places::Gazetteer;
use sentiment::Classifier;
use sentiment::features::FeatureVec;
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
    sentiment: Classifier,
    learned: Learned,
    topics: Topics,
    /// Codes whose rules are the built-in ones: the model may overrule them.
    builtin_rules: Vec<String>,
    gazetteer: Gazetteer,
    watchlist: Watchlist,
}

/// Everything [`Analyzer::enrich_explained`] can say about its choices.
#[derive(Debug, Clone, Default)]
pub struct Explanation {
    /// Words that pushed the sentiment, strongest first (+ towards positive).
    pub sentiment: Vec<Contribution>,
    /// Class probabilities: negative, neutral, positive.
    pub probabilities: [f32; 3],
    pub genre: &'static str,
    /// The rule (or the model) behind every topic.
    pub topics: Vec<TopicMatch>,
    /// The rule behind the mention type.
    pub mention_type: &'static str,
    /// The complaint model's probability and the words behind it.
    pub complaint: f32,
    pub complaint_words: Vec<Contribution>,
}

const GRATITUDE: &[&str] = &[
    "спасибо",
    "благодарим",
    "благодарю",
    "благодарность",
    "благодарны",
    "благодарна",
    "благодарен",
    "признательны",
    "поклон",
];
/// Words that open a question even without a question mark.
const QUESTION_OPENERS: &[&str] = &[
    "подскажите",
    "скажите",
    "когда",
    "почему",
    "где",
    "куда",
    "кто",
    "как",
    "зачем",
    "сколько",
    "есть",
    "будет",
    "можно",
];
/// Words of a complaint that a question mark does not soften ("сколько можно?").
const COMPLAINT_MARKERS: &[&str] = &[
    "безобразие",
    "издевательство",
    "сколько",
    "опять",
    "снова",
    "невозможно",
    "жалоба",
    "требуем",
    "позор",
    "надоело",
];

/// The genre of a mention for the sentiment model: media (feeds and news
/// sites, anything with a headline) or social (posts, comments, appeals).
pub fn genre(source_kind: &str, has_title: bool) -> Genre {
    if has_title || matches!(source_kind, "rss" | "html") { Genre::Media } else { Genre::Social }
}

/// Whether a source kind says who writes there: news sites and feeds are
/// media, channels and walls are posts; an import or a JSONL feed does not say.
pub fn declares_genre(source_kind: &str) -> bool {
    !matches!(source_kind, "import" | "jsonl")
}

impl Analyzer {
    pub fn new(places: &[Place], topics: &[TopicRule], watchlist: &[Watch]) -> Analyzer {
        let tok = Tokenizer::default();
        let sentiment = Classifier::builtin(&tok);
        let builtin = glas_core::config::builtin_topics();
        let builtin_rules = topics.iter().filter(|t| builtin.contains(t)).map(|t| t.code.clone()).collect();
        let topics = Topics::new(topics, &tok);
        let gazetteer = Gazetteer::new(places, &tok);
        let watchlist = Watchlist::new(watchlist, &tok);
        Analyzer { tok, sentiment, learned: Learned::builtin(), topics, builtin_rules, gazetteer, watchlist }
    }

    /// The analyzer of a pipeline: its places, taxonomy and watchlist.
    pub fn for_pipeline(p: &Pipeline) -> Analyzer {
        Analyzer::new(&p.places, &p.topics, &p.watchlist)
    }

    /// Built-in taxonomy, no places, no watchlist.
    pub fn builtin() -> Analyzer {
        Analyzer::new(&[], glas_core::config::builtin_topics(), &[])
    }

    /// The sentiment classifier (for evaluation and training).
    pub fn sentiment(&self) -> &Classifier {
        &self.sentiment
    }

    /// Replaces the shipped sentiment weights (a freshly trained model).
    pub fn set_sentiment_model(&mut self, model: sentiment::Model) {
        self.sentiment.model = model;
    }

    /// Replaces the shipped complaint and topic model (a freshly trained one).
    pub fn set_learned_model(&mut self, model: linear::Ovr) {
        self.learned = Learned::new(model);
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tok
    }

    /// Enriches one mention. `source_kind` (`rss`, `telegram`, ...) informs the
    /// mention type: feeds of media outlets carry news, channels carry posts.
    pub fn enrich(&self, m: &Mention, source_kind: &str) -> Enrichment {
        self.analyze(m, source_kind, false).0
    }

    /// The reprint keys (exact-text cluster, SimHash) of a mention: over the
    /// body alone when it is long enough, since outlets that reprint a story
    /// change or drop its headline.
    fn reprint_keys(&self, m: &Mention, full_tokens: &[Token]) -> (String, Option<u64>) {
        if let Some(title) = m.title.as_deref().filter(|t| !t.is_empty()) {
            // The full text is the title, ". ", the body: the body's words
            // are the full text's after the title's (neither key reads the
            // clause breaks, the only thing that differs).
            let body = full_tokens.get(Tokenizer::count_words(title)..).unwrap_or_default();
            if body.len() >= neardup::MIN_WORDS {
                return (cluster_key(body), neardup::simhash(body));
            }
        }
        (cluster_key(full_tokens), neardup::simhash(full_tokens))
    }

    /// Like [`Analyzer::enrich`], plus why.
    pub fn enrich_explained(&self, m: &Mention, source_kind: &str) -> (Enrichment, Explanation) {
        self.analyze(m, source_kind, true)
    }

    /// Enrichment, and the explanation when asked (which costs as much again).
    fn analyze(&self, m: &Mention, source_kind: &str, explain: bool) -> (Enrichment, Explanation) {
        let full = m.full_text();
        let tokens = self.tok.tokens(&full);
        // The complaint and topic model reads the word-level features alone.
        let mut words = FeatureVec::default();
        sentiment::features::words(&full, &tokens, &mut words);
        let decision = self.learned.decide(&words);
        let declared = genre(source_kind, m.title.is_some());
        // A text whose source does not say who writes there (an import, a
        // JSONL feed), written as news and complaining of nothing, is read as
        // news: calm news speaks of courts, accidents and conflicts, which a
        // resident's post would mean as a complaint.
        let as_news = declared == Genre::Social
            && !declares_genre(source_kind)
            && decision.news >= AS_NEWS
            && decision.complaint < 0.5;
        let genre = if as_news { Genre::Media } else { declared };
        let mut features = FeatureVec::default();
        sentiment::features::extract(&full, &tokens, &self.sentiment.lexicon, genre, &mut features);
        let (prediction, contributions) = if explain {
            self.sentiment.explain_features(&features, &tokens)
        } else {
            (sentiment::predict_features(&self.sentiment.model, &features), Vec::new())
        };
        let (sentiment, score) = (prediction.label, prediction.score);
        let (mention_type, type_rule) = if as_news {
            (MentionType::News, "written as news")
        } else {
            mention_type(&full, &tokens, sentiment, genre, decision.complaint)
        };
        let topics = if genre == Genre::Media || decision.complaint < 0.5 {
            // The topic model learned residents' complaints: media texts and
            // other posts keep the rules' topics ("ремонт водовода" in a
            // press release is not roads).
            self.topics.explain(&tokens)
        } else {
            self.topics_of(&tokens, &words, &decision, explain)
        };
        let (cluster, simhash) = self.reprint_keys(m, &tokens);
        let e = Enrichment {
            id: m.id.clone(),
            lang: language(&full),
            sentiment,
            sentiment_score: score,
            topics: topics.iter().map(|t| t.code.clone()).collect(),
            places: self.gazetteer.find(&tokens),
            mention_type,
            entities: self.watchlist.find(&tokens),
            cluster,
            simhash,
        };
        let why = Explanation {
            sentiment: contributions,
            probabilities: prediction.probabilities,
            genre: match (genre, as_news) {
                (Genre::Media, false) => "media",
                (Genre::Media, true) => "media (written as news)",
                (Genre::Social, _) => "social",
            },
            topics,
            mention_type: type_rule,
            complaint: (decision.complaint * 1000.0).round() / 1000.0,
            complaint_words: if explain {
                self.learned.reasons(learned::COMPLAINT, &words, &tokens, 6)
            } else {
                Vec::new()
            },
        };
        (e, why)
    }

    /// The rules' topics plus the model's, in taxonomy order, for residents'
    /// complaints; the model adds only codes the pipeline's taxonomy has. A
    /// built-in rule's topic that the model finds very unlikely is dropped
    /// ("аварийное дерево" is not housing); a district's own rules
    /// (`[[topics]]` in the pipeline) always count.
    fn topics_of(
        &self,
        tokens: &[Token],
        words: &FeatureVec,
        decision: &learned::Decision,
        explain: bool,
    ) -> Vec<TopicMatch> {
        let mut by_rule = self.topics.explain(tokens);
        by_rule.retain(|t| {
            let learned = self.learned.class_of(&t.code);
            !(self.builtin_rules.contains(&t.code) && learned.is_some_and(|c| self.learned.vetoes(c, decision)))
        });
        for (code, p) in &decision.topics {
            if self.topics.has(code) && !by_rule.iter().any(|t| &t.code == code) {
                let why = if explain { self.learned.reasons(code, words, tokens, 3) } else { Vec::new() };
                by_rule.push(TopicMatch {
                    code: code.clone(),
                    rule: format!("model p={:.2}", p),
                    text: why.iter().map(|r| r.term.as_str()).collect::<Vec<_>>().join(", "),
                });
            }
        }
        by_rule.sort_by_key(|t| self.topics.position(&t.code));
        by_rule
    }
}

/// ISO 639-1 code where there is one (ru, uk, en, ...), else whatlang's 639-3.
/// Short texts that whatlang cannot call reliably count as Russian when mostly
/// Cyrillic, since the district writes in Russian.
pub fn language(text: &str) -> String {
    let (mut letters, mut cyrillic, mut russian_only, mut other_cyrillic) = (0usize, 0usize, false, false);
    for c in text.chars() {
        match c {
            'а'..='я' | 'А'..='Я' | 'ё' | 'Ё' => {
                letters += 1;
                cyrillic += 1;
                russian_only |= matches!(c, 'ы' | 'э' | 'Ы' | 'Э');
            }
            'a'..='z' | 'A'..='Z' => letters += 1,
            'і' | 'ї' | 'є' | 'ґ' | 'ў' | 'ј' | 'љ' | 'њ' | 'ћ' | 'ђ' | 'џ' | 'ѓ' | 'ќ' | 'ѕ' | 'І' | 'Ї' | 'Є'
            | 'Ґ' | 'Ў' => {
                letters += 1;
                other_cyrillic = true;
            }
            _ if c.is_alphabetic() => letters += 1,
            _ => {}
        }
    }
    if letters == 0 {
        return "und".into();
    }
    // Mostly Cyrillic with ы or э and none of the letters of Ukrainian,
    // Belarusian, Serbian or Macedonian: Russian, without asking whatlang.
    if cyrillic * 10 >= letters * 9 && russian_only && !other_cyrillic {
        return "ru".into();
    }
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

/// The register model's probability (its threshold folded in at one half) a
/// post needs to be read as news: only when the model is sure, since a
/// resident's short, plainly worded post reads much like a news line.
const AS_NEWS: f32 = 0.8;

/// The complaint probability a text that asks needs to count as a complaint.
const ASKING_COMPLAINT: f32 = 0.8;

/// The mention type and the rule that chose it. `complaint` is the complaint
/// model's probability: a request to fix something is a complaint, however
/// politely worded, and even when it asks a question.
fn mention_type(
    text: &str,
    tokens: &[Token],
    sentiment: Sentiment,
    genre: Genre,
    complaint: f32,
) -> (MentionType, &'static str) {
    let has = |list: &[&str]| tokens.iter().any(|t| list.contains(&t.word.as_str()));
    if genre == Genre::Media {
        return (MentionType::News, "media source");
    }
    if has(GRATITUDE) && sentiment != Sentiment::Negative && complaint < 0.5 {
        return (MentionType::Gratitude, "thanks, not negative");
    }
    let asks = text.contains('?')
        || tokens.first().is_some_and(|t| QUESTION_OPENERS.contains(&t.word.as_str()) && tokens.len() > 2);
    // A text that asks is a complaint only when the model is sure of it
    // ("Подскажите, когда будет автобус?" asks).
    if complaint >= if asks { ASKING_COMPLAINT } else { 0.5 } {
        return (MentionType::Complaint, "complaint model");
    }
    if asks && !(sentiment == Sentiment::Negative && has(COMPLAINT_MARKERS)) {
        return (MentionType::Question, "asks");
    }
    if sentiment == Sentiment::Negative {
        return (MentionType::Complaint, "negative post");
    }
    (MentionType::Other, "neither asks, thanks nor complains")
}

/// Exact-text cluster: a hash of the first 60 words. Reprints with small edits
/// are joined by [`neardup::NearDup`], which needs the mentions seen before.
fn cluster_key(tokens: &[Token]) -> String {
    let h = glas_core::fnv1a(tokens.iter().take(60).flat_map(|t| t.word.bytes().chain([b' '])));
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
        let a = Analyzer::builtin();
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
    fn lines_without_a_source_written_as_news_read_as_news() {
        let a = Analyzer::builtin();
        let line = "Суд приговорил бывшего главу района к трём годам условно за превышение полномочий, \
                    сообщает пресс-служба краевого суда.";
        let (e, why) = a.enrich_explained(&m(line), "import");
        assert_eq!((e.mention_type, why.genre), (MentionType::News, "media (written as news)"), "{why:?}");
        // A channel says who writes there: the source decides.
        assert_eq!(a.enrich_explained(&m(line), "telegram").1.genre, "social");
        // A resident's complaint imported the same way stays a complaint.
        let complaint = a.enrich(&m("Третий день нет воды в Величаевском, сколько можно терпеть!"), "import");
        assert_eq!(complaint.mention_type, MentionType::Complaint);
    }

    #[test]
    fn language_and_cluster() {
        assert_eq!(language("Третий день нет воды в посёлке, когда починят трубу"), "ru");
        assert_eq!(language("The water supply was restored this morning in the village"), "en");
        assert_eq!(language("Нет воды"), "ru");
        let a = Analyzer::builtin();
        let x = a.enrich(&m("Нет воды в Заре."), "telegram").cluster;
        let y = a.enrich(&m("нет  воды в заре!"), "telegram").cluster;
        let z = a.enrich(&m("нет воды в Урожайном"), "telegram").cluster;
        assert_eq!(x, y);
        assert_ne!(x, z);
        // A reprint that drops the headline keeps the story's reprint keys.
        let body =
            "Администрация округа выделила средства на ремонт водовода в Величаевском. Работы начнутся в декабре.";
        let mut news = m(body);
        news.title = Some("«Средства» на ремонт водовода — 2026!".into());
        let (with_title, without) = (a.enrich(&news, "rss"), a.enrich(&m(body), "telegram"));
        assert_eq!((with_title.cluster, with_title.simhash), (without.cluster, without.simhash));
    }
}
