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
pub mod logparts;
mod mention;
pub mod query;
pub mod ru;
mod signal;

pub use checkpoint::Checkpoint;

/// FNV-1a's offset basis and prime: hashes that must not change between
/// builds and platforms (cluster labels, term ids, Message-IDs), unlike std's.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// The 64-bit FNV-1a hash of `bytes`.
#[inline]
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(FNV_OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}
pub use config::Pipeline;
pub use mention::{Engagement, Enrichment, LineError, Mention, MentionType, Record, Sentiment};
pub use signal::{Severity, Signal};

/// Threads for work split over the cores (enrichment, term extraction,
/// hashing): one per core, at most eight.
pub fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8)
}

#[cfg(test)]
mod tests {
    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(super::fnv1a(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(super::fnv1a(*b"foobar"), 0x8594_4171_f739_67e8);
    }
}
