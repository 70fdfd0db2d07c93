//! glas-incidents: the feedback loop. A resident's problem found in the
//! mentions becomes an **incident**: one problem in one place, routed to the
//! service that must answer it (`[[routing]]`), with deadlines on the
//! district's working calendar ([`calendar`]), a status with its full history,
//! reminders before a deadline and escalation to the head after it, and the
//! public answer the administration gave in its own channels.
//!
//! State lives in the workspace's SQLite database (`DATA/workspace.sqlite`)
//! beside the accounts: every change is one transaction that updates the
//! incident, appends to its history (append-only: triggers refuse updates and
//! deletes) and queues the emails the change causes, so a process killed at
//! any moment loses no change, applies none twice and queues no email twice.
//! The emails are delivered by the caller ([`Incidents::pending_mail`],
//! [`Incidents::mark_sent`]). Every KPI is computed from the history alone
//! ([`kpi`]).
//!
//! No I/O besides the database; time is always passed in, so deadlines,
//! reminders and escalations are tested across weekends and holidays without
//! waiting.

pub mod calendar;
mod db;
pub mod kpi;
mod mail;

pub use calendar::Calendar;
pub use db::*;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Assigned,
    InWork,
    Answered,
    Resolved,
    Postponed,
    Rejected,
}

pub const STATUSES: [Status; 7] = [
    Status::New,
    Status::Assigned,
    Status::InWork,
    Status::Answered,
    Status::Resolved,
    Status::Postponed,
    Status::Rejected,
];

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Assigned => "assigned",
            Status::InWork => "in_work",
            Status::Answered => "answered",
            Status::Resolved => "resolved",
            Status::Postponed => "postponed",
            Status::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        STATUSES.into_iter().find(|x| x.as_str() == s)
    }

    /// The status as the workspace shows it.
    pub fn label_ru(self) -> &'static str {
        match self {
            Status::New => "новый",
            Status::Assigned => "назначен",
            Status::InWork => "в работе",
            Status::Answered => "дан ответ",
            Status::Resolved => "решён",
            Status::Postponed => "отложен",
            Status::Rejected => "отклонён",
        }
    }

    /// Closed: no deadline runs, a new complaint reopens it.
    pub fn closed(self) -> bool {
        matches!(self, Status::Resolved | Status::Rejected)
    }

    /// Whether a person may move an incident from this status to `to`.
    pub fn may_become(self, to: Status) -> bool {
        use Status::*;
        match (self, to) {
            (a, b) if a == b => false,
            (_, New) => false,
            (New, _) => true,
            (Assigned, _) => true,
            (InWork, Assigned) => false,
            (InWork, _) => true,
            (Answered, Assigned) => false,
            (Answered, _) => true,
            (Postponed, InWork | Resolved | Rejected) => true,
            (Resolved | Rejected, InWork) => true,
            _ => false,
        }
    }

    /// Whether reaching this status is the service's first reaction.
    pub fn is_reaction(self) -> bool {
        !matches!(self, Status::New | Status::Assigned)
    }
}

/// Who changes an incident: a person of the workspace, a token, `cli` or
/// `glas` (the service loop); a `service` account may change only the
/// incidents of its own service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    /// Set for accounts of the `service` role.
    pub service: Option<String>,
}

impl Actor {
    pub fn system() -> Actor {
        Actor { name: "glas".into(), service: None }
    }
}

/// One mention an incident holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub id: String,
    pub published_at: DateTime<Utc>,
    pub url: String,
    pub source: String,
    /// The first words of its text, for cards and emails.
    pub snippet: String,
}

/// How many characters of a mention an incident quotes.
pub const SNIPPET_CHARS: usize = 220;

/// A mention's title and text as an incident quotes them: the title first
/// unless the text already begins with it.
pub fn titled(title: Option<&str>, text: &str) -> String {
    match title {
        Some(t) if !t.is_empty() && !text.starts_with(t) => format!("{t}. {text}"),
        _ => text.to_string(),
    }
}

/// The first characters of a text for a card or an email: at most `n`
/// characters, cut at a word, with an ellipsis when cut.
pub fn snippet(text: &str, n: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= n {
        return text;
    }
    let cut: String = text.chars().take(n).collect();
    let at = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end_matches([',', '.', ';', ':']))
}
