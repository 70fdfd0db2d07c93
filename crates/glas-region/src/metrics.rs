//! A worker's `/metrics` (Prometheus text): messages handled and published,
//! redeliveries, failures, and each consumer's lag as JetStream reports it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

#[derive(Default)]
pub struct WorkerMetrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    role: &'static str,
    started: i64,
    /// consumer → messages acknowledged.
    handled: BTreeMap<String, u64>,
    /// consumer → messages that came a second time or more.
    redelivered: BTreeMap<String, u64>,
    /// consumer → messages refused as malformed (kept aside, not retried).
    rejected: BTreeMap<String, u64>,
    /// consumer → (pending in the stream, delivered and not yet acknowledged).
    lag: BTreeMap<String, (u64, u64)>,
    published: u64,
    duplicates: u64,
    /// Store writers: mentions committed new, and dropped as already stored.
    stored_new: u64,
    stored_duplicate: u64,
}

impl WorkerMetrics {
    pub fn new(role: &'static str) -> WorkerMetrics {
        let m = WorkerMetrics::default();
        m.with(|i| {
            i.role = role;
            i.started = chrono::Utc::now().timestamp();
        });
        m
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn handled(&self, consumer: &str, n: u64, redelivered: u64) {
        self.with(|i| {
            *i.handled.entry(consumer.to_string()).or_default() += n;
            *i.redelivered.entry(consumer.to_string()).or_default() += redelivered;
        });
    }

    pub fn rejected(&self, consumer: &str) {
        self.with(|i| *i.rejected.entry(consumer.to_string()).or_default() += 1);
    }

    pub fn published(&self, n: u64, duplicates: u64) {
        self.with(|i| {
            i.published += n;
            i.duplicates += duplicates;
        });
    }

    /// A store writer's commit: new and duplicate mentions (their seconds
    /// from the fetch go to the service's `glas_fetch_to_searchable_seconds`).
    pub fn stored(&self, new: u64, duplicate: u64) {
        self.with(|i| {
            i.stored_new += new;
            i.stored_duplicate += duplicate;
        });
    }

    pub fn lag(&self, consumer: &str, pending: u64, ack_pending: u64) {
        self.with(|i| {
            i.lag.insert(consumer.to_string(), (pending, ack_pending));
        });
    }

    pub fn render(&self) -> String {
        self.with(|i| {
            let mut s = String::new();
            let role = i.role;
            let _ = writeln!(s, "# HELP glas_worker_started_seconds When this worker started (Unix time).");
            let _ = writeln!(s, "# TYPE glas_worker_started_seconds gauge");
            let _ = writeln!(s, "glas_worker_started_seconds{{role=\"{role}\"}} {}", i.started);
            let counters = [
                ("glas_worker_messages_total", "Messages handled and acknowledged.", &i.handled),
                ("glas_worker_redeliveries_total", "Messages that came more than once.", &i.redelivered),
                ("glas_worker_rejected_total", "Malformed messages set aside.", &i.rejected),
            ];
            for (name, help, map) in counters {
                let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
                for (consumer, n) in map {
                    let _ = writeln!(s, "{name}{{role=\"{role}\",consumer=\"{consumer}\"}} {n}");
                }
            }
            let _ = writeln!(s, "# HELP glas_worker_published_total Messages published (acknowledged by JetStream).");
            let _ = writeln!(s, "# TYPE glas_worker_published_total counter");
            let _ = writeln!(s, "glas_worker_published_total{{role=\"{role}\"}} {}", i.published);
            let _ = writeln!(s, "# HELP glas_worker_duplicates_total Publishes JetStream dropped as duplicates.");
            let _ = writeln!(s, "# TYPE glas_worker_duplicates_total counter");
            let _ = writeln!(s, "glas_worker_duplicates_total{{role=\"{role}\"}} {}", i.duplicates);
            if role == "store" {
                let _ =
                    writeln!(s, "# HELP glas_region_stored_total Mentions committed by this store writer, by outcome.");
                let _ = writeln!(s, "# TYPE glas_region_stored_total counter");
                let _ = writeln!(s, "glas_region_stored_total{{outcome=\"new\"}} {}", i.stored_new);
                let _ = writeln!(s, "glas_region_stored_total{{outcome=\"duplicate\"}} {}", i.stored_duplicate);
            }
            let _ = writeln!(s, "# HELP glas_worker_queue_pending Messages waiting in the stream for this consumer.");
            let _ = writeln!(s, "# TYPE glas_worker_queue_pending gauge");
            for (consumer, (pending, _)) in &i.lag {
                let _ = writeln!(s, "glas_worker_queue_pending{{role=\"{role}\",consumer=\"{consumer}\"}} {pending}");
            }
            let _ = writeln!(s, "# HELP glas_worker_ack_pending Messages delivered and not yet acknowledged.");
            let _ = writeln!(s, "# TYPE glas_worker_ack_pending gauge");
            for (consumer, (_, ack)) in &i.lag {
                let _ = writeln!(s, "glas_worker_ack_pending{{role=\"{role}\",consumer=\"{consumer}\"}} {ack}");
            }
            s
        })
    }
}

/// Reads a consumer's lag every few seconds into `metrics` until the
/// process ends.
pub fn watch_lag(
    metrics: std::sync::Arc<WorkerMetrics>,
    mut consumer: async_nats::jetstream::consumer::Consumer<async_nats::jetstream::consumer::pull::Config>,
    name: String,
) {
    tokio::spawn(async move {
        loop {
            if let Ok(info) = consumer.info().await {
                metrics.lag(&name, info.num_pending, info.num_ack_pending as u64);
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
}
