//! The mention: one post, article, comment or message about the district, in the
//! line format of the contract (`ARCHITECTURE.md`, "Mention line format").

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Engagement counters as the platform reports them; absent means unknown, not zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares: Option<i64>,
}

impl Engagement {
    pub fn is_empty(&self) -> bool {
        self == &Engagement::default()
    }
}

/// A mention as it travels between crawlers, the store and outside tools.
///
/// Required: `id`, `text`, `published_at` (RFC 3339). Unknown fields are kept in
/// `extra` and written back out unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub published_at: DateTime<FixedOffset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Engagement::is_empty")]
    pub engagement: Engagement,
    /// Fields this version does not know; kept so a round trip loses nothing.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why one line of a mention file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LineError {
    pub line: usize,
    pub reason: String,
}

impl Mention {
    /// The title and the text as one text ("Title. Text"), what enrichment
    /// reads.
    pub fn full_text(&self) -> String {
        match &self.title {
            Some(t) if !t.is_empty() => format!("{t}. {}", self.text),
            _ => self.text.clone(),
        }
    }

    /// Parses one line of the contract's JSON Lines format. `line` is 1-based and
    /// only used in the error.
    pub fn from_line(text: &str, line: usize) -> Result<Mention, LineError> {
        let err = |reason: String| LineError { line, reason };
        let value: Value = serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
        let Value::Object(obj) = &value else {
            return Err(err("expected a JSON object".into()));
        };
        for field in ["id", "text", "published_at"] {
            match obj.get(field) {
                None | Some(Value::Null) => {
                    return Err(err(format!("missing required field `{field}`")));
                }
                Some(Value::String(_)) => {}
                Some(other) => {
                    return Err(err(format!("field `{field}` must be a string, found {}", json_kind(other))));
                }
            }
        }
        let published = obj["published_at"].as_str().unwrap_or_default();
        if let Err(e) = DateTime::parse_from_rfc3339(published) {
            return Err(err(format!("field `published_at` is not an RFC 3339 date-time ({published:?}): {e}")));
        }
        let mention: Mention = serde_json::from_value(value).map_err(|e| err(format!("invalid mention: {e}")))?;
        if mention.id.trim().is_empty() {
            return Err(err("field `id` is empty".into()));
        }
        Ok(mention)
    }

    /// One line of the contract format, without the trailing newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a mention always serializes")
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What enrichment adds to a mention (`glas classify` output, stored with it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    pub id: String,
    pub lang: String,
    pub sentiment: Sentiment,
    pub sentiment_score: f64,
    pub topics: Vec<String>,
    pub places: Vec<String>,
    pub mention_type: MentionType,
    pub entities: Vec<String>,
    pub cluster: String,
    /// SimHash of the text for near-duplicate detection (absent for texts too
    /// short to call). Stored, not part of the enrichment line.
    #[serde(skip)]
    pub simhash: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    Negative,
    #[default]
    Neutral,
    Positive,
}

impl Sentiment {
    pub fn as_str(self) -> &'static str {
        match self {
            Sentiment::Negative => "negative",
            Sentiment::Neutral => "neutral",
            Sentiment::Positive => "positive",
        }
    }

    pub fn parse(s: &str) -> Option<Sentiment> {
        match s {
            "negative" => Some(Sentiment::Negative),
            "neutral" => Some(Sentiment::Neutral),
            "positive" => Some(Sentiment::Positive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MentionType {
    Complaint,
    Question,
    Gratitude,
    News,
    #[default]
    Other,
}

impl MentionType {
    pub fn as_str(self) -> &'static str {
        match self {
            MentionType::Complaint => "complaint",
            MentionType::Question => "question",
            MentionType::Gratitude => "gratitude",
            MentionType::News => "news",
            MentionType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<MentionType> {
        match s {
            "complaint" => Some(MentionType::Complaint),
            "question" => Some(MentionType::Question),
            "gratitude" => Some(MentionType::Gratitude),
            "news" => Some(MentionType::News),
            "other" => Some(MentionType::Other),
            _ => None,
        }
    }
}

/// A mention with its enrichment and where it came from: the unit the store keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub mention: Mention,
    pub enrichment: Enrichment,
    /// The kind of source that delivered it (`rss`, `telegram`, `jsonl`, `import`).
    pub source_kind: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"id": "tg:levokumka/1234", "source": "tg-levokumka", "url": "https://t.me/levokumka/1234", "published_at": "2026-11-20T08:15:00+03:00", "author": "x", "title": null, "text": "Третий день нет воды", "engagement": {"views": 1200, "likes": 14, "comments": 9, "shares": 2}, "custom": [1, 2]}"#;

    #[test]
    fn parses_the_contract_example_and_keeps_unknown_fields() {
        let m = Mention::from_line(LINE, 1).unwrap();
        assert_eq!(m.id, "tg:levokumka/1234");
        assert_eq!(m.engagement.views, Some(1200));
        assert_eq!(m.title, None);
        assert_eq!(m.extra["custom"], serde_json::json!([1, 2]));
        let again = Mention::from_line(&m.to_line(), 1).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn reports_why_a_line_is_rejected() {
        let e = Mention::from_line(r#"{"id": "a", "text": "t"}"#, 7).unwrap_err();
        assert_eq!(e.line, 7);
        assert!(e.reason.contains("published_at"), "{e}");
        let e = Mention::from_line(r#"{"id": "a", "text": "t", "published_at": "вчера"}"#, 3).unwrap_err();
        assert!(e.reason.contains("RFC 3339"), "{e}");
        let e = Mention::from_line("{not json", 2).unwrap_err();
        assert!(e.reason.contains("not valid JSON"), "{e}");
        let e = Mention::from_line(r#"{"id": 5, "text": "t", "published_at": "2026-11-20T08:15:00Z"}"#, 1).unwrap_err();
        assert!(e.reason.contains("must be a string"), "{e}");
    }
}
