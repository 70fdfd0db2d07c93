//! Signal lines: what `glas replay` writes and what alerts are made from.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// The Russian word an official reads in a subject line.
    pub fn russian(self) -> &'static str {
        match self {
            Severity::Low => "НИЗКИЙ",
            Severity::Medium => "СРЕДНИЙ",
            Severity::High => "ВЫСОКИЙ",
        }
    }
}

/// A signal in the contract's line format, plus the parameters that fired it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub detected_at: DateTime<FixedOffset>,
    /// `tension`, `emerging`, `coordinated` or `source_silent`.
    pub kind: String,
    pub topic: Option<String>,
    pub place: Option<String>,
    /// The source a `source_silent` signal is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub severity: Severity,
    pub score: f64,
    /// The window the count was taken over ("6h").
    pub window: String,
    pub count: u64,
    /// The usual count for such a window.
    pub baseline: f64,
    pub negative_share: f64,
    /// Mention ids, strongest first.
    pub evidence: Vec<String>,
    /// The rule and thresholds that fired it.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl Signal {
    /// Where in its episode the signal stands: `opened`, `escalated` or
    /// `resolved` (`params.phase`); `None` for signals without one.
    pub fn phase(&self) -> Option<&str> {
        self.params.get("phase").and_then(|p| p.as_str())
    }

    /// The series a signal belongs to (kind, topic, place, source); alert
    /// state keyed by it decides whether a signal opens a new episode or
    /// continues one.
    pub fn episode_key(&self) -> String {
        let part = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let mut key = format!("{}|{}|{}", self.kind, part(&self.topic), part(&self.place));
        if let Some(s) = &self.source {
            key.push('|');
            key.push_str(s);
        }
        key
    }
}
