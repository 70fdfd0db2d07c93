//! Tone towards a subject (the administration, an official), not the
//! mention's overall tone: the sentiment model reads only the words around
//! each place the subject is named, [`WINDOW`] words either side. Also the
//! subject's role (the text's main subject or a passing one) and whether it
//! speaks in the text (direct speech), which the image index weighs.
//!
//! Measured on RuSentNE-2023 (sentiment towards one named entity in a news
//! sentence) by [`evaluate`]: the window was chosen on training sentences the
//! sentiment model never saw, the validation file only measured.

use std::path::Path;

use glas_core::{Mention, Sentiment};

use crate::sentiment::train::DataError;
use crate::text::Token;
use crate::{Analyzer, Genre};

/// Words read on each side of a subject's name.
pub const WINDOW: usize = 4;

/// The tone towards the watched subjects in one mention.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stance {
    pub sentiment: Sentiment,
    /// P(positive) − P(negative) over the windows.
    pub score: f64,
    /// The subjects are the text's main ones: named in the headline or the
    /// first sentence, or in at least half of the sentences.
    pub main: bool,
    /// A subject speaks in the text: a quotation attributed with a verb of
    /// speech, or "по словам".
    pub quoted: bool,
}

/// Sentences of a text: split after `.`, `!`, `?`, `…` followed by a space,
/// and at line breaks.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_end = false;
    for (i, c) in text.char_indices() {
        if c == '\n' || (prev_end && c.is_whitespace()) {
            let s = text[start..i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + c.len_utf8();
        }
        prev_end = matches!(c, '.' | '!' | '?' | '…');
    }
    let s = text[start..].trim();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

/// Stems of verbs that attribute direct speech.
const SPEECH: &[&str] = &[
    "сказа",
    "заяв",
    "сообщ",
    "отмет",
    "подчеркн",
    "поясн",
    "рассказа",
    "добав",
    "уточн",
    "ответ",
    "обеща",
    "прокомментирова",
];

fn has_direct_speech(sentence: &str, tokens: &[Token]) -> bool {
    let quoted = sentence.contains('«') || sentence.contains('"') || sentence.contains('“');
    let said = tokens.iter().any(|t| SPEECH.iter().any(|s| t.word.starts_with(s)));
    let according = tokens.windows(2).any(|w| w[0].word == "по" && w[1].word.starts_with("слов"));
    (quoted && said) || according
}

/// The words within `window` of the token range `[from, to)`, as text.
fn around(tokens: &[Token], from: usize, to: usize, window: usize) -> String {
    let a = from.saturating_sub(window);
    let b = (to + window).min(tokens.len());
    tokens[a..b].iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" ")
}

impl Analyzer {
    /// The tone towards `subjects` (watchlist names) in a mention, or `None`
    /// when the mention names none of them.
    pub fn stance(&self, m: &Mention, source_kind: &str, subjects: &[String]) -> Option<Stance> {
        let genre = crate::genre(source_kind, m.title.is_some());
        let names = |tokens: &[Token]| self.watchlist.find(tokens).into_iter().any(|n| subjects.contains(&n));
        let in_title = m.title.as_deref().is_some_and(|t| names(&self.tok.tokens(t)));
        let sents = sentences(&m.text);
        let mut windows = Vec::new();
        let (mut hits, mut first, mut quoted) = (0usize, false, false);
        for (i, s) in sents.iter().enumerate() {
            let tokens = self.tok.tokens(s);
            let spans = self.watchlist.spans(&tokens, subjects);
            if spans.is_empty() {
                continue;
            }
            hits += 1;
            first |= i == 0;
            quoted |= has_direct_speech(s, &tokens);
            for (from, to) in spans {
                windows.push(around(&tokens, from, to, WINDOW));
            }
        }
        if in_title {
            windows.push(m.title.clone().unwrap_or_default());
        }
        if windows.is_empty() {
            return None;
        }
        let text = windows.join(". ");
        let p = self.sentiment.predict(&text, &self.tok.tokens(&text), genre);
        Some(Stance {
            sentiment: p.label,
            score: p.score,
            main: in_title || first || hits * 2 >= sents.len().max(1),
            quoted,
        })
    }

    /// The tone towards the entity at characters `[start, end)` of a
    /// sentence, reading `window` words either side (`None`: the whole
    /// sentence).
    pub fn tone_at(&self, sentence: &str, start: usize, end: usize, window: Option<usize>, genre: Genre) -> Sentiment {
        let text = match window {
            None => sentence.to_string(),
            Some(w) => {
                let chars: Vec<char> = sentence.chars().collect();
                let (start, end) = (start.min(chars.len()), end.min(chars.len()).max(start.min(chars.len())));
                let before: String = chars[..start].iter().collect();
                let entity: String = chars[start..end].iter().collect();
                let after: String = chars[end..].iter().collect();
                let (b, e, a) = (self.tok.tokens(&before), self.tok.tokens(&entity), self.tok.tokens(&after));
                let mut all = b.clone();
                all.extend(e.iter().cloned());
                all.extend(a);
                around(&all, b.len(), b.len() + e.len(), w)
            }
        };
        self.sentiment.predict(&text, &self.tok.tokens(&text), genre).label
    }
}

/// One RuSentNE row: a sentence, an entity's character span, its label.
#[derive(Debug, Clone)]
pub struct EntityRow {
    pub sentence: String,
    pub start: usize,
    pub end: usize,
    pub label: Sentiment,
}

/// RuSentNE-2023 rows of a TSV file.
pub fn entity_rows(path: &Path) -> Result<Vec<EntityRow>, DataError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| DataError::Format { path: path.display().to_string(), reason: e.to_string() })?;
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let label = match c.get(5).map(|l| l.trim()) {
            Some("-1") => Sentiment::Negative,
            Some("0") => Sentiment::Neutral,
            Some("1") => Sentiment::Positive,
            _ => continue,
        };
        let (Some(s), Some(Ok(start)), Some(Ok(end))) =
            (c.first(), c.get(3).map(|x| x.parse()), c.get(4).map(|x| x.parse()))
        else {
            continue;
        };
        out.push(EntityRow { sentence: s.to_string(), start, end, label });
    }
    Ok(out)
}

/// Accuracy and macro-F1 of the tone towards entities.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ToneScore {
    pub rows: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// F1 per class: negative, neutral, positive.
    pub f1: [f64; 3],
}

fn class(s: Sentiment) -> usize {
    match s {
        Sentiment::Negative => 0,
        Sentiment::Neutral => 1,
        Sentiment::Positive => 2,
    }
}

pub fn score(gold_pred: impl Iterator<Item = (Sentiment, Sentiment)>) -> ToneScore {
    let mut m = [[0usize; 3]; 3];
    for (g, p) in gold_pred {
        m[class(g)][class(p)] += 1;
    }
    let rows: usize = m.iter().flatten().sum();
    let mut f1 = [0.0; 3];
    for (c, f) in f1.iter_mut().enumerate() {
        let tp = m[c][c] as f64;
        let pred: usize = (0..3).map(|g| m[g][c]).sum();
        let gold: usize = m[c].iter().sum();
        let (p, r) = (tp / pred.max(1) as f64, tp / gold.max(1) as f64);
        *f = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
    }
    ToneScore {
        rows,
        accuracy: (0..3).map(|c| m[c][c]).sum::<usize>() as f64 / rows.max(1) as f64,
        macro_f1: f1.iter().sum::<f64>() / 3.0,
        f1,
    }
}

/// The tone towards entities on RuSentNE-2023: `selection` is measured on the
/// training rows whose sentences the sentiment model left out (entities of
/// mixed labels), for each window tried; `validation` on the validation
/// rows whose sentence is not in the training file (the two files share
/// sentences), with [`WINDOW`].
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ToneReport {
    pub selection: Vec<(String, ToneScore)>,
    pub validation: ToneScore,
    /// The same validation rows read as whole sentences (the mention's tone).
    pub validation_sentence: ToneScore,
}

pub fn evaluate(analyzer: &Analyzer, datasets: &Path) -> Result<ToneReport, DataError> {
    let dir = datasets.join("sentiment/rusentne2023");
    let train = entity_rows(&dir.join("train_data.csv"))?;
    let valid = entity_rows(&dir.join("validation_data_labeled.csv"))?;
    let trained: std::collections::HashSet<String> =
        crate::sentiment::train::news_for_training(&dir.join("train_data.csv"))?.into_iter().map(|l| l.text).collect();
    let in_train: std::collections::HashSet<&str> = train.iter().map(|r| r.sentence.as_str()).collect();
    let held: Vec<&EntityRow> = train.iter().filter(|r| !trained.contains(&r.sentence)).collect();
    let g = Genre::Media;
    let mut report = ToneReport::default();
    for w in [None, Some(4), Some(8), Some(12), Some(20)] {
        let s = score(held.iter().map(|r| (r.label, analyzer.tone_at(&r.sentence, r.start, r.end, w, g))));
        report.selection.push((w.map_or("sentence".into(), |w| format!("±{w} words")), s));
    }
    let v: Vec<&EntityRow> = valid.iter().filter(|r| !in_train.contains(r.sentence.as_str())).collect();
    report.validation =
        score(v.iter().map(|r| (r.label, analyzer.tone_at(&r.sentence, r.start, r.end, Some(WINDOW), g))));
    report.validation_sentence =
        score(v.iter().map(|r| (r.label, analyzer.tone_at(&r.sentence, r.start, r.end, None, g))));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_ends_and_lines() {
        assert_eq!(sentences("Раз. Два! Три?\nЧетыре… пять"), ["Раз.", "Два!", "Три?", "Четыре…", "пять"]);
        assert_eq!(sentences("т.е.конец"), ["т.е.конец"]);
    }

    #[test]
    fn stance_reads_the_subject_not_the_whole_text() {
        let watch = vec![glas_core::config::Watch {
            name: "Глава округа".into(),
            kind: "official".into(),
            variants: vec!["глава округа".into()],
        }];
        let a = Analyzer::new(&[], glas_core::config::builtin_topics(), &watch);
        let subjects = vec!["Глава округа".to_string()];
        let m = |title: Option<&str>, text: &str| Mention {
            id: "x".into(),
            source: None,
            url: None,
            published_at: chrono::DateTime::UNIX_EPOCH.fixed_offset(),
            author: None,
            title: title.map(String::from),
            text: text.into(),
            engagement: Default::default(),
            extra: Default::default(),
        };
        assert_eq!(a.stance(&m(None, "В Величаевском нет воды третий день."), "rss", &subjects), None);
        let s = a
            .stance(
                &m(
                    Some("Глава округа встретился с жителями"),
                    "Жители жаловались на дороги. «Ремонт начнём в апреле», — сказал глава округа.",
                ),
                "rss",
                &subjects,
            )
            .unwrap();
        assert!(s.main && s.quoted, "{s:?}");
        let passing = a
            .stance(
                &m(None, "Открыли новую школу. Дети рады. Учителя тоже. На открытии был и глава округа."),
                "rss",
                &subjects,
            )
            .unwrap();
        assert!(!passing.main && !passing.quoted, "{passing:?}");
    }
}
