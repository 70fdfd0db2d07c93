//! Crawl state of one source: what a crawler needs to fetch only what is new.

use serde::{Deserialize, Serialize};

/// Saved by the store after the mentions it covers are committed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// Platform-specific position, e.g. the newest Telegram post id seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// When the source last answered successfully (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<String>,
    /// When the source was last crawled, successfully or not (RFC 3339): the
    /// service counts its interval from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<String>,
    /// When the source last delivered a new mention (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_new: Option<String>,
    /// Article URLs or item ids already fetched (bounded), so a restart does
    /// not fetch them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<String>,
    #[serde(default)]
    pub consecutive_failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
