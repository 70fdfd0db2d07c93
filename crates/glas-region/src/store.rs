//! `glas worker store`: a district's single writer. It schedules the
//! district's fetches, commits the enriched records to the Parquet log and
//! the index (adding the reprint cluster and the source's settlement, which
//! depend on what the district stored before), saves checkpoints, and runs
//! analytics, alerts, incidents, digests, reports and the workspace as
//! `glas run` does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream::LastRawMessageErrorKind};
use chrono::{DateTime, Utc};
use glas_app::ops::{self, Ctx, Enricher, SourceSummary};
use glas_app::service;
use glas_core::Record;
use glas_store::Store;

use crate::metrics::WorkerMetrics;
use crate::{District, Region};

/// How long a forming commit waits for more records after its first.
const COMMIT_WAIT: Duration = Duration::from_millis(300);

pub struct StoreOptions {
    /// Records committed together at most.
    pub batch: usize,
    pub ack_wait: Duration,
    /// Analytics, alerts and digests run at most this often while new
    /// mentions arrive.
    pub analyse_every: Duration,
    /// A fetch job not ended in this time, and no longer in the stream, is
    /// taken as lost and published again.
    pub job_timeout: Duration,
    /// The workspace, `/metrics` and `/healthz`, as `glas run --listen`.
    pub listen: Option<SocketAddr>,
    pub overview: glas_web::overview::Overview,
    pub timeout: Duration,
    pub web: glas_web::serve::ServeOptions,
}

pub async fn run(
    region: Region,
    district: District,
    opts: StoreOptions,
    metrics: Arc<WorkerMetrics>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<()> {
    let ctx = &district.ctx;
    let d = district.id.as_str();
    let mut store = ctx.open_store()?;
    let service_metrics = Arc::new(service::Metrics::default());
    if let Some(addr) = opts.listen {
        let (s, w) = (service_metrics.clone(), metrics.clone());
        let render: service::RenderMetrics = Arc::new(move || s.render() + &w.render());
        service::listen(ctx, addr, Some((opts.overview.clone(), opts.timeout)), opts.web.clone(), render).await?;
    }
    let mut enricher = Enricher::new(ctx, &store)?;
    let (consumer, durable) =
        region.consumer(crate::Stage::Store, d, opts.ack_wait, (opts.batch * 2) as i64, &metrics).await?;
    let fetch_stream = region.js.get_stream(crate::FETCH_STREAM).await?;
    let mut scheduler =
        Scheduler { due: service::first_due(ctx, &store.checkpoints()?, Utc::now()), issued: HashMap::new() };
    service::start_report_schedule(ctx, Utc::now())?;
    let mut seen_signals = HashSet::new();
    let mut baseline = store.indexed_seq()?;
    let mut analysis_due = false;
    // The earliest fetch of the mentions committed since the last analysis.
    let mut oldest_new: Option<DateTime<Utc>> = None;
    let mut last_analysis: Option<Instant> = None;
    let mut last_quiet = Instant::now();
    tracing::info!(district = d, sources = ctx.pipeline.sources.len(), data = %ctx.data_dir.display(), "store writer started");
    while !crate::stopped(&stop) {
        scheduler.publish_due(&region, &fetch_stream, d, ctx, &store, opts.job_timeout).await?;
        let mut batch = crate::fetch(&consumer, opts.batch, Duration::from_millis(500)).await;
        // A commit (a log part per day, an index commit) costs the same for
        // ten records as for ten thousand: gather what comes within
        // COMMIT_WAIT of the first, as `glas run` batches its sources.
        let until = Instant::now() + COMMIT_WAIT;
        while !batch.is_empty() && batch.len() < opts.batch {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let more = crate::fetch(&consumer, opts.batch - batch.len(), left).await;
            if more.is_empty() {
                break;
            }
            batch.extend(more);
        }
        if !batch.is_empty() {
            let n = batch.len() as u64;
            let again = batch.iter().filter(|m| crate::redelivered(m)).count() as u64;
            let done = commit(&region, ctx, &mut store, &mut enricher, &service_metrics, &metrics, batch).await?;
            // As after each of `glas run`'s rounds: new mentions, or a fetch
            // that ended (a source silent or failing is news too).
            analysis_due |= done.new > 0 || !done.ended.is_empty();
            oldest_new = match (oldest_new, done.oldest_fetch) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for (source, job) in done.ended {
                scheduler.finished(ctx, &source, &job, Utc::now());
            }
            metrics.handled(&durable, n, again);
        }
        if analysis_due && last_analysis.is_none_or(|t| t.elapsed() >= opts.analyse_every) {
            let started = Instant::now();
            // The alerts' latency counts from the earliest fetch of the
            // mentions this analysis is the first to see.
            let fetched = oldest_new.take().map(|at| {
                Instant::now().checked_sub((Utc::now() - at).to_std().unwrap_or_default()).unwrap_or_else(Instant::now)
            });
            service::after_commit(ctx, &mut store, baseline, Utc::now(), &service_metrics, &mut seen_signals, fetched)
                .await;
            service_metrics.round_done(started);
            baseline = store.indexed_seq()?;
            analysis_due = false;
            last_analysis = Some(Instant::now());
        }
        if last_quiet.elapsed() >= Duration::from_secs(30) {
            service::between_rounds(ctx, &mut store, Utc::now(), &service_metrics).await;
            last_quiet = Instant::now();
        }
    }
    tracing::info!(district = d, "store writer stopped");
    Ok(())
}

/// What a batch's commit did.
struct Committed {
    /// Mentions new to the store.
    new: usize,
    /// The fetches that ended: (source, job).
    ended: Vec<(String, String)>,
    /// The earliest fetch of the new mentions.
    oldest_fetch: Option<DateTime<Utc>>,
}

/// Commits one batch: the records (duplicates dropped by the store), then
/// the fetches' checkpoints, then the acknowledgements.
async fn commit(
    region: &Region,
    ctx: &Ctx,
    store: &mut Store,
    enricher: &mut Enricher,
    service_metrics: &service::Metrics,
    worker_metrics: &WorkerMetrics,
    batch: Vec<jetstream::Message>,
) -> anyhow::Result<Committed> {
    let mut records: Vec<crate::EnrichedMention> = Vec::new();
    let mut dones: Vec<crate::CrawlDone> = Vec::new();
    let mut keep = Vec::with_capacity(batch.len());
    for msg in batch {
        let parsed = if msg.subject.ends_with(".rec") {
            serde_json::from_slice(&msg.payload).map(|r| records.push(r)).map_err(|e| format!("not a record: {e}"))
        } else if msg.subject.ends_with(".done") {
            serde_json::from_slice(&msg.payload).map(|r| dones.push(r)).map_err(|e| format!("not a fetch's end: {e}"))
        } else {
            Err(format!("unknown subject {}", msg.subject))
        };
        match parsed {
            Ok(()) => keep.push(msg),
            Err(reason) => region.reject(crate::Stage::Store, &msg, &reason).await?,
        }
    }
    let now = Utc::now();
    glas_app::privacy::retain_at_ingest(ctx, store, now)?;
    // Publication order, as `glas run` enriches, so reprints join the
    // earliest of their cluster.
    records.sort_by(|a, b| {
        (a.raw.mention.published_at, &a.raw.mention.id).cmp(&(b.raw.mention.published_at, &b.raw.mention.id))
    });
    let mut by_source: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    let mut fetched: HashMap<String, DateTime<Utc>> = HashMap::new();
    for e in records {
        let raw = e.raw;
        fetched.insert(raw.mention.id.clone(), raw.fetched_at);
        let record = enricher.finish(raw.mention, e.enrichment, &raw.kind, raw.place.as_deref());
        by_source.entry(raw.source).or_default().push(record);
    }
    let (sources, groups): (Vec<String>, Vec<Vec<Record>>) = by_source.into_iter().unzip();
    let committed: HashSet<String> = fetched.keys().filter(|id| !store.contains(id).unwrap_or(true)).cloned().collect();
    let stats = store.append_groups(groups)?;
    let searchable = Utc::now();
    let fetches: Vec<DateTime<Utc>> = committed.iter().filter_map(|id| fetched.get(id)).copied().collect();
    service_metrics.searchable(fetches.iter().map(|at| (searchable - *at).num_milliseconds().max(0) as f64 / 1000.0));
    let oldest = fetches.iter().min().copied();
    let (new, dup) = stats.iter().fold((0, 0), |(n, d), s| (n + s.new as u64, d + s.duplicate as u64));
    worker_metrics.stored(new, dup);
    let stamp = now.to_rfc3339();
    let mut checkpoints = store.checkpoints()?;
    // One save for the batch: the sources that gained mentions get
    // `last_new` (the store keeps it: a fetch's end carries the one its
    // job started from), the fetches that ended their checkpoints.
    let mut saved: BTreeMap<String, glas_core::Checkpoint> = BTreeMap::new();
    let mut new_total = 0;
    let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
    for (source, st) in sources.iter().zip(&stats) {
        new_total += st.new;
        counts.insert(source, (st.new, st.duplicate));
        if st.new > 0 {
            let cp = glas_core::Checkpoint { last_new: Some(stamp.clone()), ..checkpoints.get(source) };
            saved.insert(source.clone(), cp);
        }
    }
    let failures_path = ctx.data_dir.join("crawl").join("failures.jsonl");
    let mut summaries = Vec::new();
    let mut ended = Vec::new();
    for done in dones {
        let last_new = match saved.get(&done.source) {
            Some(cp) => cp.last_new.clone(),
            None => checkpoints.get(&done.source).last_new,
        };
        let cp = glas_core::Checkpoint { last_new: last_new.or(done.checkpoint.last_new), ..done.checkpoint };
        for line in &done.failures {
            ops::log_failure_line(&failures_path, line);
        }
        let (new, duplicate) = counts.get(done.source.as_str()).copied().unwrap_or_default();
        summaries.push(SourceSummary {
            source: done.source.clone(),
            kind: String::new(),
            status: "ok",
            fetched: done.fetched,
            parsed: done.parsed,
            new,
            duplicate,
            errors: done.errors.clone(),
            fetched_at: None,
            searchable_after: None,
        });
        ended.push((done.source.clone(), done.job.clone()));
        if !done.snapshots.is_empty() || done.audience.is_some() {
            // A lost capture costs a point of the time series, never a mention.
            ops::record_engagement(ctx, &[(done.source.clone(), done.snapshots, done.audience)], done.at);
        }
        saved.insert(done.source, cp);
    }
    if !saved.is_empty() {
        checkpoints.save_many(saved)?;
    }
    service_metrics.crawled(&summaries);
    glas_app::failpoint("store:after-commit");
    // Durable now: the log and the index are committed, the checkpoints saved.
    for msg in &keep {
        if let Err(e) = msg.ack().await {
            tracing::warn!(error = %e, "cannot acknowledge a stored message; its copy will be dropped as a duplicate");
        }
    }
    if new_total > 0 {
        tracing::info!(new = new_total, "committed");
    }
    Ok(Committed { new: new_total, ended, oldest_fetch: oldest })
}

/// The district's fetch schedule: each source once per interval, one job at
/// a time (a job still in the fetch stream is in hand somewhere).
struct Scheduler {
    due: HashMap<String, DateTime<Utc>>,
    /// Source → (job, when published) for jobs whose end has not come.
    issued: HashMap<String, (String, Instant)>,
}

impl Scheduler {
    async fn publish_due(
        &mut self,
        region: &Region,
        fetch_stream: &jetstream::stream::Stream,
        d: &str,
        ctx: &Ctx,
        store: &Store,
        job_timeout: Duration,
    ) -> anyhow::Result<()> {
        let now = Utc::now();
        let ready: Vec<String> = ctx
            .pipeline
            .sources
            .iter()
            .filter(|s| self.due.get(&s.id).is_some_and(|t| *t <= now))
            .filter(|s| self.issued.get(&s.id).is_none_or(|(_, at)| at.elapsed() >= job_timeout))
            .map(|s| s.id.clone())
            .collect();
        if ready.is_empty() {
            return Ok(());
        }
        let checkpoints = store.checkpoints()?;
        for source in ready {
            let subject = crate::fetch_subject(d, &source);
            match fetch_stream.get_last_raw_message_by_subject(&subject).await {
                // In the stream: queued or in a crawl worker's hands (after a
                // restart of this writer, or a slow fetch).
                Ok(_) => {
                    self.issued.insert(source, (String::new(), Instant::now()));
                    continue;
                }
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the fetch stream; the schedule waits");
                    return Ok(());
                }
            }
            let job = format!("{source}@{}", now.timestamp_millis());
            let fetch = crate::FetchJob {
                district: d.to_string(),
                source: source.clone(),
                checkpoint: checkpoints.get(&source),
                issued_at: now,
                job: job.clone(),
            };
            region.publish(subject, &format!("job/{d}/{job}"), serde_json::to_vec(&fetch)?.into()).await?;
            self.issued.insert(source, (job, Instant::now()));
        }
        Ok(())
    }

    fn finished(&mut self, ctx: &Ctx, source: &str, job: &str, now: DateTime<Utc>) {
        if self.issued.get(source).is_some_and(|(j, _)| j.is_empty() || j == job) {
            self.issued.remove(source);
        }
        if let Some(s) = ctx.pipeline.sources.iter().find(|s| s.id == source) {
            self.due.insert(source.to_string(), now + s.interval);
        }
    }
}
