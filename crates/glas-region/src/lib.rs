//! A region on many machines: crawl, enrich and store workers over NATS
//! JetStream, and the search across the districts' indexes.
//!
//! The flow of one mention (every arrow a JetStream publish acknowledged by
//! the server before the message it came from is acknowledged):
//!
//! ```text
//! store writer's scheduler ─ glas.fetch.D.SRC ─▶ crawl worker ─ glas.raw.D ─▶ enrich worker
//!        ▲                                          │                         │
//!        └──────────── glas.store.D.done ◀──────────┘   glas.store.D.rec ◀────┘
//!                      (checkpoint, summary)                  (record)
//! ```
//!
//! Exactly once: a message's id (`Nats-Msg-Id`) is the district and the
//! mention id, so JetStream drops a re-publish within its duplicate window;
//! the store's committed-id set is the final guard after it. A message is
//! acknowledged only once its effect is durable (the next stream's
//! acknowledgement, or the store's commit), so a worker killed mid-message
//! leaves it to be delivered again, to itself or another.

pub mod crawl;
pub mod enrich;
mod lease;
pub mod metrics;
pub mod search;
pub mod store;

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use chrono::{DateTime, Utc};
use glas_app::ops::Ctx;
use glas_core::{Checkpoint, Enrichment, Mention};
use serde::{Deserialize, Serialize};

pub const FETCH_STREAM: &str = "GLAS_FETCH";
pub const RAW_STREAM: &str = "GLAS_RAW";
pub const STORE_STREAM: &str = "GLAS_STORE";
/// Malformed messages, kept for a person to read (never retried).
pub const REJECTED_STREAM: &str = "GLAS_REJECTED";
/// The crawl workers' per-host leases (politeness across workers).
pub const HOSTS_STREAM: &str = "GLAS_HOSTS";

/// A district of the region: its id (the pipeline file's name without
/// `.toml`, used in subjects) and its pipeline.
#[derive(Debug, Clone)]
pub struct District {
    pub id: String,
    pub ctx: Ctx,
}

impl District {
    pub fn new(pipeline_file: &Path, ctx: Ctx) -> anyhow::Result<District> {
        let id = district_id(pipeline_file)?;
        Ok(District { id, ctx })
    }
}

/// A district's id from its pipeline file: `levokumsky.toml` → `levokumsky`.
/// It names subjects and consumers, so only latin letters, digits, `-` and
/// `_` are allowed.
pub fn district_id(pipeline_file: &Path) -> anyhow::Result<String> {
    let stem = pipeline_file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if stem.is_empty() || !stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        anyhow::bail!(
            "'{}': a district's pipeline file must be named by the district's id, in latin letters, digits, '-' and '_' (e.g. levokumsky.toml)",
            pipeline_file.display()
        );
    }
    Ok(stem.to_string())
}

/// Stream limits of the region (`glas worker --stream-max-bytes ...`). The
/// streams discard nothing: when one is full, a publish is refused and the
/// publisher waits and tries again, so a slow store writer slows enrichment
/// and crawling instead of losing mentions.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes each stream may hold.
    pub max_bytes: i64,
    /// How long an unconsumed message may wait before it is dropped (a
    /// region whose store writers are down longer than this loses it).
    pub max_age: Duration,
    /// How long JetStream remembers message ids to drop re-publishes.
    pub duplicate_window: Duration,
    /// Copies of each stream in a nats-server cluster (1 on one server).
    pub replicas: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 30,
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(30 * 60),
            replicas: 1,
        }
    }
}

/// The three kinds of worker, each with its stream and consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Crawl,
    Enrich,
    Store,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Crawl => "crawl",
            Stage::Enrich => "enrich",
            Stage::Store => "store",
        }
    }

    /// The stream this stage reads, and a district's subjects in it.
    fn input(self, district: &str) -> (&'static str, String) {
        match self {
            Stage::Crawl => (FETCH_STREAM, format!("glas.fetch.{district}.>")),
            Stage::Enrich => (RAW_STREAM, raw_subject(district)),
            Stage::Store => (STORE_STREAM, format!("glas.store.{district}.>")),
        }
    }
}

/// A connection to the region's JetStream.
#[derive(Clone)]
pub struct Region {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
}

impl Region {
    /// Connects and makes sure the streams and the hosts bucket exist
    /// (created with `limits` the first time; existing ones are kept as they
    /// are, so a worker started with other limits does not change them).
    pub async fn connect(url: &str, limits: &Limits) -> anyhow::Result<Region> {
        // Several servers of a cluster, comma-separated.
        let servers: Vec<async_nats::ServerAddr> = url
            .split(',')
            .map(|u| u.trim().parse().with_context(|| format!("'{}' is not a NATS server address", u.trim())))
            .collect::<anyhow::Result<_>>()?;
        let client = async_nats::ConnectOptions::new()
            .name("glas")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(servers)
            .await
            .with_context(|| format!("cannot connect to NATS at {url}"))?;
        let js = jetstream::new(client.clone());
        for (name, subjects) in
            [(FETCH_STREAM, "glas.fetch.>"), (RAW_STREAM, "glas.raw.>"), (STORE_STREAM, "glas.store.>")]
        {
            let config = stream::Config {
                name: name.to_string(),
                subjects: vec![subjects.to_string()],
                retention: stream::RetentionPolicy::WorkQueue,
                discard: stream::DiscardPolicy::New,
                storage: stream::StorageType::File,
                max_bytes: limits.max_bytes,
                max_age: limits.max_age,
                duplicate_window: limits.duplicate_window,
                num_replicas: limits.replicas,
                ..Default::default()
            };
            with_retry(&format!("stream {name}"), || js.get_or_create_stream(config.clone())).await?;
        }
        let rejected = stream::Config {
            name: REJECTED_STREAM.to_string(),
            subjects: vec!["glas.rejected.>".to_string()],
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::Old,
            storage: stream::StorageType::File,
            max_bytes: limits.max_bytes / 8,
            max_age: limits.max_age,
            num_replicas: limits.replicas,
            ..Default::default()
        };
        with_retry("stream GLAS_REJECTED", || js.get_or_create_stream(rejected.clone())).await?;
        let hosts = stream::Config {
            name: HOSTS_STREAM.to_string(),
            subjects: vec!["glas.host.>".to_string()],
            retention: stream::RetentionPolicy::Limits,
            // The last lease of each host is all that matters; idle hosts'
            // leases go after a day.
            max_messages_per_subject: 1,
            max_age: Duration::from_secs(24 * 3600),
            storage: stream::StorageType::File,
            num_replicas: limits.replicas,
            ..Default::default()
        };
        with_retry("stream GLAS_HOSTS", || js.get_or_create_stream(hosts.clone())).await?;
        Ok(Region { client, js })
    }

    /// Publishes and waits for JetStream's acknowledgement, trying again while
    /// the stream is full or the server is away (a restart): the caller's
    /// own message stays unacknowledged meanwhile, so nothing is lost either
    /// way. Returns whether JetStream took it as a duplicate.
    pub async fn publish(&self, subject: String, id: &str, payload: bytes::Bytes) -> anyhow::Result<bool> {
        let msg = jetstream::message::PublishMessage::build().payload(payload).message_id(id);
        with_retry(&format!("publish to {subject}"), || async {
            let ack = self.js.send_publish(subject.clone(), msg.clone()).await?;
            Ok::<_, anyhow::Error>(ack.await?.duplicate)
        })
        .await
    }

    /// Publishes many messages with up to `window` acknowledgements awaited
    /// at once; returns how many were duplicates. Each is retried alone on
    /// failure.
    pub async fn publish_all(&self, msgs: Vec<(String, String, bytes::Bytes)>, window: usize) -> anyhow::Result<usize> {
        use futures_util::StreamExt as _;
        let results: Vec<anyhow::Result<bool>> = futures_util::stream::iter(msgs)
            .map(|(subject, id, payload)| async move { self.publish(subject, &id, payload).await })
            .buffer_unordered(window.max(1))
            .collect()
            .await;
        let mut duplicates = 0;
        for r in results {
            duplicates += usize::from(r?);
        }
        Ok(duplicates)
    }

    /// The durable pull consumer of `stage` for `district` (`STAGE-DISTRICT`,
    /// created if missing), its lag watched into `metrics`. Consumers of one
    /// work-queue stream filter disjoint subjects (one per district), which
    /// such streams require; the workers of a stage share them.
    pub async fn consumer(
        &self,
        stage: Stage,
        district: &str,
        ack_wait: Duration,
        max_ack_pending: i64,
        metrics: &std::sync::Arc<metrics::WorkerMetrics>,
    ) -> anyhow::Result<(jetstream::consumer::PullConsumer, String)> {
        let durable = format!("{}-{district}", stage.name());
        let (stream, filter) = stage.input(district);
        let config = jetstream::consumer::pull::Config {
            durable_name: Some(durable.clone()),
            filter_subject: filter,
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait,
            max_ack_pending,
            // A message that keeps failing stays in the stream (a bug to fix,
            // not data to drop): it is retried with the consumer's ack wait.
            max_deliver: -1,
            ..Default::default()
        };
        let consumer = with_retry(&format!("consumer {durable}"), || async {
            let s = self.js.get_stream(stream).await?;
            s.get_or_create_consumer(&durable, config.clone()).await.map_err(anyhow::Error::from)
        })
        .await?;
        metrics::watch_lag(metrics.clone(), consumer.clone(), durable.clone());
        Ok((consumer, durable))
    }

    /// Sets a malformed message aside in `GLAS_REJECTED` (subject
    /// `glas.rejected.ROLE`, the reason in a header) and terminates it, so
    /// it is neither lost nor retried forever.
    pub async fn reject(&self, stage: Stage, msg: &jetstream::Message, reason: &str) -> anyhow::Result<()> {
        tracing::error!(subject = %msg.subject, reason, "malformed message set aside in GLAS_REJECTED");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Glas-Reason", reason.replace(['\r', '\n'], " ").as_str());
        headers.insert("Glas-Subject", msg.subject.as_str());
        let publish = jetstream::message::PublishMessage::build().payload(msg.payload.clone()).headers(headers);
        let subject = format!("glas.rejected.{}", stage.name());
        with_retry("set a malformed message aside", || async {
            self.js.send_publish(subject.clone(), publish.clone()).await?.await.map_err(anyhow::Error::from)
        })
        .await?;
        msg.ack_with(jetstream::AckKind::Term).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

/// Fetches up to `max` messages: what the stream has now; when it has
/// none, waits up to `expires` for one and then takes what else came. So a
/// busy worker takes full batches, an idle one sleeps on the server instead
/// of polling, and a lone message goes on at once. A failed fetch (the
/// server restarting) is logged and reads as none.
pub async fn fetch(
    consumer: &jetstream::consumer::PullConsumer,
    max: usize,
    expires: Duration,
) -> Vec<jetstream::Message> {
    let mut out = take(consumer.fetch().max_messages(max).messages(), Duration::ZERO).await;
    if out.is_empty() {
        out = take(consumer.batch().max_messages(1).expires(expires).messages(), expires).await;
        if !out.is_empty() && max > 1 {
            out.extend(take(consumer.fetch().max_messages(max - 1).messages(), Duration::ZERO).await);
        }
    }
    out
}

/// Collects a pull request's messages. The server ends a request when it
/// expires, but a request sent just before the server went away is never
/// answered: past its expiry and a grace it is given up (messages taken
/// meanwhile are not acknowledged, so they come again).
async fn take(
    batch: impl std::future::Future<
        Output = Result<jetstream::consumer::pull::Batch, jetstream::consumer::pull::BatchError>,
    >,
    expires: Duration,
) -> Vec<jetstream::Message> {
    use futures_util::StreamExt as _;
    let collect = async {
        match batch.await {
            Ok(b) => b.filter_map(|m| async move { m.ok() }).collect().await,
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch messages; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
                Vec::new()
            }
        }
    };
    tokio::time::timeout(expires + Duration::from_secs(5), collect).await.unwrap_or_else(|_| {
        tracing::warn!("a fetch went unanswered (the server restarting?); trying again");
        Vec::new()
    })
}

/// Whether JetStream delivered this message before.
pub fn redelivered(msg: &jetstream::Message) -> bool {
    msg.info().is_ok_and(|i| i.delivered > 1)
}

/// How long a publish or a set-up call is tried before the worker gives up
/// (and exits non-zero, its messages left for redelivery).
const RETRY_FOR: Duration = Duration::from_secs(120);

/// Tries `f` with backoff (50 ms doubling to 2 s) for up to [`RETRY_FOR`].
pub(crate) async fn with_retry<T, E, F, Fut>(what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    let started = std::time::Instant::now();
    let mut wait = Duration::from_millis(50);
    let mut warned = false;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let e: anyhow::Error = e.into();
                if started.elapsed() > RETRY_FOR {
                    return Err(e.context(format!("{what}: still failing after {} s", RETRY_FOR.as_secs())));
                }
                if !warned {
                    tracing::warn!(error = %format!("{e:#}"), "{what} failed; trying again");
                    warned = true;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// A source's id as one subject token (`.` separates tokens; source ids
/// may hold one, never `%`).
pub fn subject_token(source: &str) -> String {
    source.replace('.', "%2E")
}

pub fn fetch_subject(district: &str, source: &str) -> String {
    format!("glas.fetch.{district}.{}", subject_token(source))
}

pub fn raw_subject(district: &str) -> String {
    format!("glas.raw.{district}")
}

pub fn record_subject(district: &str) -> String {
    format!("glas.store.{district}.rec")
}

pub fn done_subject(district: &str) -> String {
    format!("glas.store.{district}.done")
}

/// A source's fetch, published by its district's scheduler when it is due.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchJob {
    pub district: String,
    pub source: String,
    /// The checkpoint the crawl starts from (the store's, at publishing).
    pub checkpoint: Checkpoint,
    pub issued_at: DateTime<Utc>,
    /// Unique per fetch: `SOURCE@MILLIS`.
    pub job: String,
}

/// A fetched mention on its way to enrichment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawMention {
    pub district: String,
    pub source: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    pub fetched_at: DateTime<Utc>,
    pub mention: Mention,
}

/// An enriched mention on its way to its district's store: the raw
/// mention's fields and its enrichment. The reprint cluster and the
/// source's settlement are the store writer's to add: they depend on what
/// the district stored before.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrichedMention {
    #[serde(flatten)]
    pub raw: RawMention,
    pub enrichment: Enrichment,
}

/// The end of a fetch: published after every mention it found is in the
/// raw stream, so a checkpoint never gets ahead of the mentions it covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrawlDone {
    pub source: String,
    pub job: String,
    pub at: DateTime<Utc>,
    /// ok, not modified, partial, failed.
    pub status: String,
    pub fetched: usize,
    pub parsed: usize,
    #[serde(default)]
    pub errors: Vec<String>,
    /// The lines for `crawl/failures.jsonl`.
    #[serde(default)]
    pub failures: Vec<serde_json::Value>,
    pub checkpoint: Checkpoint,
    /// `own` sources: every recent post's engagement seen by this fetch,
    /// and the channel's audience (stored by the writer beside the media
    /// plan, as `glas run` does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<glas_crawl::Snapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<i64>,
}

/// A message's id for JetStream's duplicate window: the district and the
/// mention, so the same post of one channel followed by two districts is
/// kept by both.
pub fn mention_msg_id(district: &str, mention_id: &str) -> String {
    format!("{district}/{mention_id}")
}

/// Stops on SIGINT/SIGTERM: the flag is set and the loops finish the
/// message in hand.
pub fn stop_on_signal() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    glas_app::service::spawn_signal_handler(stop.clone(), std::sync::Arc::new(tokio::sync::Notify::new()))?;
    Ok(stop)
}

/// Waits for a worker's per-district loops; the first to fail ends the
/// worker with its error.
pub(crate) async fn join_loops(mut loops: tokio::task::JoinSet<anyhow::Result<()>>) -> anyhow::Result<()> {
    while let Some(r) = loops.join_next().await {
        r??;
    }
    Ok(())
}

pub(crate) fn stopped(stop: &std::sync::atomic::AtomicBool) -> bool {
    stop.load(std::sync::atomic::Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn district_ids_come_from_file_names_safe_for_subjects() {
        assert_eq!(district_id(Path::new("/etc/glas/levokumsky.toml")).unwrap(), "levokumsky");
        assert_eq!(district_id(Path::new("budennovsk-1.toml")).unwrap(), "budennovsk-1");
        let err = district_id(Path::new("my district.toml")).unwrap_err().to_string();
        assert!(err.contains("latin letters"), "{err}");
        assert!(district_id(Path::new("a.b.toml")).is_err());
    }

    #[test]
    fn a_dotted_source_id_is_one_subject_token() {
        assert_eq!(fetch_subject("d", "vk.wall"), "glas.fetch.d.vk%2Ewall");
        assert_eq!(fetch_subject("d", "rss"), "glas.fetch.d.rss");
    }
}
