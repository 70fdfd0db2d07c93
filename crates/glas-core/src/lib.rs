//! glas-core: the vocabulary every other glas crate speaks.
//!
//! - [`Mention`]: one post or article, in the contract's JSON Lines format;
//! - [`Enrichment`]: what the NLP stage adds (language, sentiment, topics, ...);
//! - [`config::Pipeline`]: a validated `pipelines/*.toml`;
//! - [`Signal`]: an early-warning signal with its evidence.
//!
//! No I/O beyond reading a pipeline file; no async.
//!
//! ```
//! let m = glas_core::Mention::from_line(
//!     r#"{"id": "rss:a/1", "text": "Нет воды", "published_at": "2026-11-20T08:15:00+03:00"}"#, 1,
//! ).unwrap();
//! assert_eq!(m.id, "rss:a/1");
//! ```

mod checkpoint;
pub mod config;
mod mention;
pub mod query;
pub mod ru;
mod signal;

pub use checkpoint::Checkpoint;
pub use config::Pipeline;
pub use mention::{Engagement, Enrichment, LineError, Mention, MentionType, Record, Sentiment};
pub use signal::{Severity, Signal};
