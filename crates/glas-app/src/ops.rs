//! The pipeline's stages as functions the commands (and `glas demo`) compose:
//! crawl, import, analyse, alert, report.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use futures_util::FutureExt as _;
use glas_core::{Checkpoint, LineError, Mention, Pipeline, Record, Signal};
use glas_crawl::{CrawlError, SourceCtx};
use glas_nlp::Analyzer;
use glas_store::{AppendStats, Store};

/// A loaded pipeline and where its data lives.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub pipeline: Pipeline,
    pub data_dir: PathBuf,
}

impl Ctx {
    pub fn new(pipeline: Pipeline, data_override: Option<&Path>) -> Ctx {
        let data_dir = data_override.map(Path::to_path_buf).unwrap_or_else(|| pipeline.storage.data_dir.clone());
        // Every path printed from here on reads as the user would type it.
        Ctx { pipeline, data_dir: crate::paths::user_path(&data_dir) }
    }

    /// The store opened to write it, `[retention]` applied to what is
    /// appended and an erasure a killed process left finished.
    pub fn open_store(&self) -> anyhow::Result<Store> {
        let mut store = Store::open(&self.data_dir)
            .with_context(|| format!("cannot open the store in '{}'", self.data_dir.display()))?;
        crate::privacy::prepare(self, &mut store)?;
        Ok(store)
    }

    /// The store opened to read (search, serve, reports), also while `glas
    /// run` writes it.
    pub fn open_store_reader(&self) -> anyhow::Result<Store> {
        Store::open_reader(&self.data_dir)
            .with_context(|| format!("cannot open the store in '{}'", self.data_dir.display()))
    }

    pub fn analyzer(&self) -> Analyzer {
        Analyzer::for_pipeline(&self.pipeline)
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.pipeline.district.timezone
    }

    /// Source id → display name, for what people read.
    pub fn source_names(&self) -> std::collections::BTreeMap<String, String> {
        self.pipeline.sources.iter().map(|s| (s.id.clone(), s.name.clone())).collect()
    }
}

/// Enrichment with memory: the analyzer plus the recent mentions' hashes that
/// near-duplicate detection compares against, seeded from the store.
pub struct Enricher {
    pub analyzer: Analyzer,
    neardup: glas_nlp::neardup::NearDup,
}

impl Enricher {
    pub fn new(ctx: &Ctx, store: &Store) -> anyhow::Result<Enricher> {
        let mut neardup = glas_nlp::neardup::NearDup::new();
        let since = (Utc::now() - Duration::seconds(2 * glas_nlp::neardup::WINDOW_SECS)).date_naive();
        let since = store
            .log()
            .parts()?
            .iter()
            .map(|p| p.day)
            .max()
            .map_or(since, |newest| since.min(newest - Duration::days(14)));
        for (hash, cluster, at) in store.log().recent_hashes(since)? {
            if let Some(c) = glas_nlp::neardup::parse_cluster_label(&cluster) {
                neardup.seed(hash, c, at);
            }
        }
        Ok(Enricher { analyzer: ctx.analyzer(), neardup })
    }

    /// An enricher with no memory of earlier mentions (replaying a file).
    pub fn fresh(ctx: &Ctx) -> Enricher {
        Enricher { analyzer: ctx.analyzer(), neardup: glas_nlp::neardup::NearDup::new() }
    }

    /// Enriches mentions of one source. `default_place` is the settlement a
    /// local community speaks for (`place` in the source's config).
    pub fn enrich(
        &mut self,
        mut mentions: Vec<Mention>,
        source_kind: &str,
        default_place: Option<&str>,
    ) -> Vec<Record> {
        mentions.sort_by_key(|m| m.published_at);
        mentions.into_iter().map(|m| self.enrich_one(m, source_kind, default_place)).collect()
    }

    /// Enriches mentions in publication order, the classifiers on every core
    /// and reprint clustering after them in order. Each mention comes with
    /// its source kind and default place.
    pub fn enrich_parallel(&mut self, items: Vec<(Mention, &str, Option<&str>)>) -> Vec<Record> {
        let enrichments =
            classify_on_threads(&self.analyzer, &items, glas_core::worker_threads(), |(m, kind, _)| (m, kind));
        items
            .into_iter()
            .zip(enrichments)
            .map(|((mention, kind, place), enrichment)| self.finish(mention, enrichment, kind, place))
            .collect()
    }

    /// Enriches one mention; call in publication order (reprint clusters
    /// join earlier mentions).
    pub fn enrich_one(&mut self, mention: Mention, source_kind: &str, default_place: Option<&str>) -> Record {
        let enrichment = self.analyzer.enrich(&mention, source_kind);
        self.finish(mention, enrichment, source_kind, default_place)
    }

    /// What follows the classifiers, in publication order: the source's
    /// settlement for a mention that names none, then the reprint cluster.
    pub fn finish(
        &mut self,
        mention: Mention,
        mut enrichment: glas_core::Enrichment,
        source_kind: &str,
        default_place: Option<&str>,
    ) -> Record {
        if enrichment.places.is_empty() {
            enrichment.places.extend(default_place.map(str::to_string));
        }
        glas_nlp::assign_cluster(&mut self.neardup, &mut enrichment, mention.published_at.timestamp());
        Record { enrichment, mention, source_kind: source_kind.to_string() }
    }
}

/// The classifiers over `items` on `threads` threads, in order; `view`
/// gives each item's mention and source kind. (Reprint clusters and the
/// source's settlement come after, in order: [`Enricher::finish`].)
pub fn classify_on_threads<T: Sync>(
    analyzer: &Analyzer,
    items: &[T],
    threads: usize,
    view: impl Fn(&T) -> (&Mention, &str) + Sync,
) -> Vec<glas_core::Enrichment> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let view = &view;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|item| {
                            let (m, kind) = view(item);
                            analyzer.enrich(m, kind)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("enrichment does not panic")).collect()
    })
}

/// One source's line in the crawl summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceSummary {
    pub source: String,
    pub kind: String,
    pub status: &'static str,
    pub fetched: usize,
    pub parsed: usize,
    pub new: usize,
    pub duplicate: usize,
    /// What failed: the source as a whole, or parts of it (an article page).
    pub errors: Vec<String>,
    /// When the source's fetch ended (`glas run`'s rounds).
    #[serde(skip)]
    pub fetched_at: Option<std::time::Instant>,
    /// Seconds from the fetch's end to the commit of its new mentions (none
    /// when it brought none).
    #[serde(skip)]
    pub searchable_after: Option<f64>,
}

impl SourceSummary {
    pub fn failed(&self) -> bool {
        self.status == "failed"
    }
}

/// Records committed together at most.
const COMMIT_BATCH: usize = 20_000;
/// How long a forming batch waits for the next source's results.
const COMMIT_WAIT: std::time::Duration = std::time::Duration::from_millis(300);

/// One crawl round over every source of the pipeline. Sources are crawled
/// concurrently (at most `[crawl] concurrency` at a time) and hand their
/// results over a bounded channel, so a slow store holds crawlers back rather
/// than piling results up in memory. Each source's mentions are committed
/// before its checkpoint is saved; failures are appended, with source, URL,
/// stage and reason, to `crawl/failures.jsonl` in the data dir.
pub async fn crawl_once(ctx: &Ctx, store: &mut Store, enricher: &mut Enricher) -> anyhow::Result<Vec<SourceSummary>> {
    crawl_sources(ctx, store, enricher, &ctx.pipeline.sources, None, Utc::now()).await
}

/// A crawl round over `sources` (as [`crawl_once`]) at `now` (the service's
/// clock: what stands in for a missing date, which own posts are still
/// followed, when their engagement was captured). Once `stop` is set,
/// sources not yet started are skipped; those in flight finish and commit.
pub async fn crawl_sources(
    ctx: &Ctx,
    store: &mut Store,
    enricher: &mut Enricher,
    sources: &[glas_core::config::SourceConfig],
    stop: Option<&std::sync::Arc<std::sync::atomic::AtomicBool>>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<SourceSummary>> {
    let fetcher = std::sync::Arc::new(glas_crawl::Fetcher::new(&ctx.pipeline.crawl));
    let mut checkpoints = store.checkpoints()?;
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(ctx.pipeline.crawl.concurrency));
    let (tx, mut rx) = tokio::sync::mpsc::channel(ctx.pipeline.crawl.concurrency.max(1));
    for (order, src) in sources.iter().cloned().enumerate() {
        let cp = checkpoints.get(&src.id);
        let (fetcher, limit, tx, tz) = (fetcher.clone(), limit.clone(), tx.clone(), ctx.tz());
        let stop = stop.cloned();
        tokio::spawn(async move {
            let Ok(_permit) = limit.acquire_owned().await else { return };
            if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst)) {
                return;
            }
            let sctx = SourceCtx { source: &src, fetcher: &fetcher, tz, now };
            // A bug in one crawler must not lose the others' results: a panic
            // becomes that source's failure.
            let result = std::panic::AssertUnwindSafe(glas_crawl::crawl_source(&sctx, &cp))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| {
                    let reason = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Err(CrawlError {
                        source_id: src.id.clone(),
                        url: src.url.clone(),
                        stage: glas_crawl::Stage::Parse,
                        reason: format!("crawler panicked: {reason}"),
                    })
                });
            let _ = tx.send((order, src, cp, result, std::time::Instant::now())).await;
        });
    }
    drop(tx);
    let mut summaries = Vec::new();
    let failures_path = ctx.data_dir.join("crawl").join("failures.jsonl");
    // Results are committed in batches: one write per day touched and one index
    // commit per batch, then the batch's checkpoints. A batch closes at
    // COMMIT_BATCH records, or when no result has come for COMMIT_WAIT.
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let mut batch_records = batch_size(&batch[0].3);
        while batch_records < COMMIT_BATCH {
            match tokio::time::timeout(COMMIT_WAIT, rx.recv()).await {
                Ok(Some(next)) => {
                    batch_records += batch_size(&next.3);
                    batch.push(next);
                }
                Ok(None) | Err(_) => break,
            }
        }
        // Enrich in pipeline order, whatever order the sources finished in, so
        // the same input gives the same reprint clusters.
        batch.sort_by_key(|b| std::cmp::Reverse(b.0));
        let mut groups: Vec<Vec<Record>> = Vec::new();
        let mut done: Vec<(usize, SourceSummary, Checkpoint, Option<usize>, std::time::Instant)> = Vec::new();
        let mut captured: Vec<(String, Vec<glas_crawl::Snapshot>, Option<i64>)> = Vec::new();
        let stamp = Utc::now().to_rfc3339();
        while let Some((order, src, old_cp, result, fetched)) = batch.pop() {
            let out = settle(&src, &old_cp, result, &stamp);
            for e in &out.failures {
                log_failure(&failures_path, e, &stamp);
            }
            let group = out.mentions.map(|mentions| {
                if !out.snapshots.is_empty() || out.audience.is_some() {
                    captured.push((src.id.clone(), out.snapshots, out.audience));
                }
                groups.push(enricher.enrich(mentions, &src.kind, src.place.as_deref()));
                groups.len() - 1
            });
            done.push((order, out.summary, out.checkpoint, group, fetched));
        }
        let stats = store.append_groups(groups)?;
        let committed = std::time::Instant::now();
        record_engagement(ctx, &captured, now);
        let mut saved = Vec::with_capacity(done.len());
        for (order, mut s, mut cp, group, fetched) in done {
            s.fetched_at = Some(fetched);
            if let Some(st) = group.map(|g| stats[g]) {
                s.new = st.new;
                s.duplicate = st.duplicate;
                if st.new > 0 {
                    cp.last_new = Some(stamp.clone());
                    s.searchable_after = Some((committed - fetched).as_secs_f64());
                }
            }
            saved.push((s.source.clone(), cp));
            summaries.push((order, s));
        }
        checkpoints.save_many(saved)?;
    }
    summaries.sort_by_key(|(order, _)| *order);
    Ok(summaries.into_iter().map(|(_, s)| s).collect())
}

/// What one source's crawl comes to, before its mentions are committed.
pub struct Settled {
    pub summary: SourceSummary,
    /// To be saved once `mentions` are committed (`last_new` is set by the
    /// caller when the commit found new ones).
    pub checkpoint: Checkpoint,
    /// `None` when the source as a whole failed.
    pub mentions: Option<Vec<Mention>>,
    /// Every failure, the source's or a part's, for `crawl/failures.jsonl`.
    pub failures: Vec<CrawlError>,
    pub snapshots: Vec<glas_crawl::Snapshot>,
    pub audience: Option<i64>,
}

/// Reads a source's crawl result at `stamp` (RFC 3339): its summary line, its
/// next checkpoint (failures counted, the cursor kept on a failure), its
/// mentions. Shared by `glas run`'s rounds and the region's crawl workers.
pub fn settle(
    src: &glas_core::config::SourceConfig,
    old_cp: &Checkpoint,
    result: Result<glas_crawl::CrawlOutput, CrawlError>,
    stamp: &str,
) -> Settled {
    let mut summary = SourceSummary {
        source: src.id.clone(),
        kind: src.kind.clone(),
        status: "ok",
        fetched: 0,
        parsed: 0,
        new: 0,
        duplicate: 0,
        errors: Vec::new(),
        fetched_at: None,
        searchable_after: None,
    };
    match result {
        Ok(out) => {
            summary.fetched = out.fetched;
            summary.parsed = out.mentions.len();
            if out.not_modified {
                summary.status = "not modified";
            }
            for e in &out.partial_failures {
                tracing::warn!(source = %src.id, url = %e.url, stage = %e.stage, reason = %e.reason, "part of a source failed");
                summary.errors.push(format!("{} {}: {}", e.stage, e.url, e.reason));
            }
            if !out.partial_failures.is_empty() {
                summary.status = "partial";
            }
            let checkpoint = Checkpoint {
                last_success: Some(stamp.to_string()),
                last_attempt: Some(stamp.to_string()),
                last_new: old_cp.last_new.clone(),
                consecutive_failures: 0,
                last_error: out.partial_failures.last().map(|e| format!("{} {}: {}", e.stage, e.url, e.reason)),
                ..out.checkpoint
            };
            Settled {
                summary,
                checkpoint,
                mentions: Some(out.mentions),
                failures: out.partial_failures,
                snapshots: out.snapshots,
                audience: out.audience,
            }
        }
        Err(e) => {
            tracing::warn!(source = %src.id, url = %e.url, stage = %e.stage, reason = %e.reason, "source failed");
            summary.status = "failed";
            summary.errors.push(format!("{} {}: {}", e.stage, e.url, e.reason));
            let checkpoint = Checkpoint {
                last_attempt: Some(stamp.to_string()),
                consecutive_failures: old_cp.consecutive_failures + 1,
                last_error: Some(format!("{stamp} {} {}: {}", e.stage, e.url, e.reason)),
                ..old_cp.clone()
            };
            Settled { summary, checkpoint, mentions: None, failures: vec![e], snapshots: Vec::new(), audience: None }
        }
    }
}

/// Stores the own channels' engagement captures of a crawl round. A failure
/// costs one point of the time series, never a mention: it is logged and the
/// round goes on.
pub fn record_engagement(ctx: &Ctx, captured: &[(String, Vec<glas_crawl::Snapshot>, Option<i64>)], at: DateTime<Utc>) {
    if captured.is_empty() {
        return;
    }
    let result = crate::voice::open(ctx).and_then(|db| {
        for (source, snaps, audience) in captured {
            let caps: Vec<_> = snaps.iter().map(|s| (s.id.clone(), s.published_at, s.engagement.clone())).collect();
            db.record_engagement(source, at, &caps, *audience)?;
        }
        Ok(())
    });
    if let Err(e) = result {
        tracing::warn!(error = %format!("{e:#}"), "cannot store the own channels' engagement of this round");
    }
}

/// Mentions a crawl result brings to a commit batch.
fn batch_size(result: &Result<glas_crawl::CrawlOutput, CrawlError>) -> usize {
    result.as_ref().map_or(0, |o| o.mentions.len())
}

/// Appends a failure to `crawl/failures.jsonl` (the line's fields: at,
/// source, url, stage, reason).
pub fn log_failure(path: &Path, e: &CrawlError, at: &str) {
    log_failure_line(path, &failure_line(e, at));
}

/// A failure as `crawl/failures.jsonl` keeps it.
pub fn failure_line(e: &CrawlError, at: &str) -> serde_json::Value {
    serde_json::json!({"at": at, "source": e.source_id, "url": e.url, "stage": e.stage.to_string(), "reason": e.reason})
}

/// Appends one line, already made by [`failure_line`], to a failure log.
pub fn log_failure_line(path: &Path, line: &serde_json::Value) {
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(f, "{line}")
    };
    if let Err(err) = write() {
        tracing::warn!(path = %path.display(), error = %err, "cannot append to the failure log");
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ImportSummary {
    pub imported: usize,
    pub duplicate: usize,
    pub rejected: usize,
    /// Older than `[retention] delete_after_days`: not stored.
    pub expired: usize,
    #[serde(skip)]
    pub errors: Vec<LineError>,
}

/// Reads a file of mention lines, handing each one (or why it could not be
/// read: not UTF-8, not a mention) to `each`. Blank lines are skipped.
fn for_each_mention_line(
    path: &Path,
    mut each: impl FnMut(Result<Mention, LineError>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open '{}'", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).with_context(|| format!("cannot read '{}'", path.display()))?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        let line = match std::str::from_utf8(&buf) {
            Ok(l) => l.trim_end_matches(['\n', '\r']),
            Err(e) => {
                each(Err(LineError { line: line_no, reason: format!("not valid UTF-8 ({e})") }))?;
                continue;
            }
        };
        if !line.trim().is_empty() {
            each(Mention::from_line(line, line_no))?;
        }
    }
}

/// Imports a file of mention lines in batches; each batch is committed whole,
/// in file order. Malformed lines are collected (line number, reason) and
/// skipped.
///
/// Two stages overlap: while one batch is written (log part, index; see
/// [`IMPORT_COMMIT_EVERY`]) on its own thread, the next is read and enriched, its classifiers on
/// every core. At most one enriched batch waits for the writer, so memory
/// stays at about three batches.
pub fn import_file(
    store: &mut Store,
    enricher: &mut Enricher,
    path: &Path,
    batch: usize,
) -> anyhow::Result<ImportSummary> {
    let mut summary = ImportSummary::default();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(1);
    let (read, written) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<AppendStats, glas_store::StoreError> {
            let (mut total, mut uncommitted) = (AppendStats::default(), 0);
            for records in rx {
                let stats = store.append_deferred(records)?;
                total.new += stats.new;
                total.duplicate += stats.duplicate;
                total.expired += stats.expired;
                uncommitted += stats.new;
                if uncommitted >= IMPORT_COMMIT_EVERY {
                    store.commit_index()?;
                    uncommitted = 0;
                }
            }
            store.commit_index()?;
            Ok(total)
        });
        let mut pending = Vec::with_capacity(batch);
        // False once the writer has stopped (its error is reported below).
        let mut send = |mut mentions: Vec<Mention>| {
            mentions.sort_by_key(|m| m.published_at);
            let items = mentions.into_iter().map(|m| (m, "import", None)).collect();
            tx.send(enricher.enrich_parallel(items)).is_ok()
        };
        let read = for_each_mention_line(path, |line| -> anyhow::Result<()> {
            match line {
                Ok(m) => pending.push(m),
                Err(e) => summary.errors.push(e),
            }
            if pending.len() >= batch && !send(std::mem::take(&mut pending)) {
                anyhow::bail!(WriterStopped);
            }
            Ok(())
        });
        let read = read.map(|()| pending.is_empty() || send(pending));
        // The writer ends once the channel closes.
        drop(tx);
        (read, writer.join().expect("the import's writer does not panic"))
    });
    // The writer's failure explains a stopped read; a read failure comes
    // after every batch before it was committed.
    let written = written?;
    if let Err(e) = read
        && !e.is::<WriterStopped>()
    {
        return Err(e);
    }
    summary.imported = written.new;
    summary.duplicate = written.duplicate;
    summary.expired = written.expired;
    summary.rejected = summary.errors.len();
    Ok(summary)
}

/// New mentions an import adds to the index between its commits. Each
/// batch's log part is written and synced at once (a killed import loses no
/// committed batch: opening the store indexes what the index lacks); the
/// index commits less often, since each commit flushes segments that are
/// then merged again (7 % of an import's work at one commit per 20,000,
/// measured on 200,000 mentions).
const IMPORT_COMMIT_EVERY: usize = 200_000;

/// The import's writer stopped; its own error says why.
#[derive(Debug)]
struct WriterStopped;

impl std::fmt::Display for WriterStopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the import's writer stopped")
    }
}

impl std::error::Error for WriterStopped {}

/// What an analysis round produced.
pub struct Analysis {
    pub daily: Option<glas_analytics::daily::DailyOutputs>,
    pub trends: Option<glas_analytics::trends::TrendOutputs>,
    pub health: Vec<glas_analytics::health::SourceHealth>,
    pub signals: Vec<Signal>,
    pub signals_path: PathBuf,
    /// Mentions in the log.
    pub mentions: usize,
    /// The records the signals cite as evidence (what their alerts quote).
    pub evidence: Vec<Record>,
}

/// Daily aggregates plus signals over the `lookback` before `at`. The log is
/// read once, as columns (texts only of mentions without a topic, for
/// emerging terms), for the daily and trend tables and the detector; whole
/// records are decoded only for the signals' evidence.
pub fn analyze(ctx: &Ctx, store: &Store, at: DateTime<Utc>, lookback: Duration) -> anyhow::Result<Analysis> {
    let out_dir = ctx.data_dir.join("analytics");
    let log_dir = store.log().dir();
    let frame = glas_analytics::daily::consistent(log_dir, || glas_analytics::events::read_log(log_dir))
        .context("reading the log failed")?;
    let daily = frame
        .as_ref()
        .map(|df| glas_analytics::daily::run(df, &out_dir))
        .transpose()
        .context("daily aggregates failed")?;
    let trends = frame
        .as_ref()
        .map(|df| glas_analytics::trends::run_frame(df, &out_dir))
        .transpose()
        .context("trend aggregates failed")?;
    let events = match &frame {
        Some(df) => glas_analytics::events::Events::from_frame(df, ctx.tz()).context("reading the log failed")?,
        None => Default::default(),
    };
    drop(frame);
    let mut signals = glas_analytics::signals::detect(&events, &ctx.pipeline.signals, at - lookback, at, ctx.tz());
    signals.extend(crate::outlook::signals(ctx, &events, at - lookback, at));
    let health = source_health(ctx, store, at)?;
    signals.extend(glas_analytics::health::signals(&health, at, ctx.tz()));
    std::fs::create_dir_all(&out_dir)?;
    crate::outlook::write(ctx, &events, at).context("the outlook failed")?;
    let signals_path = out_dir.join("signals.jsonl");
    std::fs::write(&signals_path, signal_lines(&signals))
        .with_context(|| format!("cannot write '{}'", signals_path.display()))?;
    let cited: HashSet<String> = signals.iter().flat_map(|s| s.evidence.iter().cloned()).collect();
    let evidence = store.records_with_ids(&cited)?;
    Ok(Analysis { daily, trends, health, signals, signals_path, mentions: events.events.len(), evidence })
}

/// What a full recompute did, with its timings.
pub struct Recompute {
    pub trends: Option<glas_analytics::trends::TrendOutputs>,
    pub mentions: usize,
    pub signals: Vec<Signal>,
    pub signals_path: PathBuf,
    pub aggregate_time: std::time::Duration,
    pub read_time: std::time::Duration,
    /// Building the detector's input from what was read.
    pub build_time: std::time::Duration,
    pub detect_time: std::time::Duration,
    pub total: std::time::Duration,
}

/// Every aggregate and every signal over the whole store, from the log
/// (polars), as of `at` (default: the hour after the newest mention).
pub fn recompute(ctx: &Ctx, store: &Store, at: Option<DateTime<Utc>>) -> anyhow::Result<Recompute> {
    let started = std::time::Instant::now();
    let out_dir = ctx.data_dir.join("analytics");
    let log_dir = store.log().dir();
    let frame = glas_analytics::daily::consistent(log_dir, || glas_analytics::events::read_log(log_dir))
        .context("reading the log failed")?;
    let read_time = started.elapsed();
    // The aggregates (polars, on its own threads) and the detector (one
    // walk) share nothing but the frame: run them side by side.
    let (trends, detected) = std::thread::scope(|scope| {
        let frame = frame.as_ref();
        let out_dir = &out_dir;
        let aggregates = scope.spawn(move || {
            let started = std::time::Instant::now();
            let trends = frame.map(|df| glas_analytics::trends::run_frame(df, out_dir)).transpose();
            (trends, started.elapsed())
        });
        let detected = (|| -> anyhow::Result<_> {
            let build = std::time::Instant::now();
            let events = match frame {
                Some(df) => {
                    glas_analytics::events::Events::from_frame(df, ctx.tz()).context("reading the log failed")?
                }
                None => Default::default(),
            };
            let build_time = build.elapsed();
            let detect = std::time::Instant::now();
            let signals = match (events.events.first(), events.events.last()) {
                (Some(first), Some(last)) => {
                    let first = DateTime::from_timestamp(first.at, 0).unwrap_or_default();
                    let at = at.unwrap_or_else(|| DateTime::from_timestamp(last.at + 3600, 0).unwrap_or_default());
                    glas_analytics::signals::detect(&events, &ctx.pipeline.signals, first, at, ctx.tz())
                }
                _ => Vec::new(),
            };
            Ok((events.events.len(), signals, build_time, detect.elapsed()))
        })();
        (aggregates.join().expect("the aggregate job does not panic"), detected)
    });
    drop(frame);
    let (trends, aggregate_time) = trends;
    let trends = trends.context("trend aggregates failed")?;
    let (mentions, signals, build_time, detect_time) = detected?;
    std::fs::create_dir_all(&out_dir)?;
    let signals_path = out_dir.join("signals.jsonl");
    std::fs::write(&signals_path, signal_lines(&signals))
        .with_context(|| format!("cannot write '{}'", signals_path.display()))?;
    Ok(Recompute {
        trends,
        mentions,
        signals,
        signals_path,
        aggregate_time,
        read_time,
        build_time,
        detect_time,
        total: started.elapsed(),
    })
}

/// Writes a scenario as mention lines, enrichment lines and its ground truth.
pub fn write_scenario(sc: &glas_analytics::scenario::Scenario, dir: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create '{}'", dir.display()))?;
    let mut mentions = std::io::BufWriter::new(std::fs::File::create(dir.join("mentions.jsonl"))?);
    let mut enrichment = std::io::BufWriter::new(std::fs::File::create(dir.join("enrichment.jsonl"))?);
    for r in &sc.records {
        serde_json::to_writer(&mut mentions, &r.mention)?;
        mentions.write_all(b"\n")?;
        serde_json::to_writer(&mut enrichment, &r.enrichment)?;
        enrichment.write_all(b"\n")?;
    }
    mentions.flush()?;
    enrichment.flush()?;
    std::fs::write(dir.join("truth.json"), serde_json::to_string_pretty(sc)?)?;
    Ok(())
}

/// Signals as the contract's lines, one per line.
pub fn signal_lines(signals: &[Signal]) -> String {
    let mut text = String::new();
    for s in signals {
        text.push_str(&serde_json::to_string(s).expect("a signal always serializes"));
        text.push('\n');
    }
    text
}

/// Sends alerts for new signals (or writes them to the outbox).
pub async fn deliver_alerts(
    ctx: &Ctx,
    signals: &[Signal],
    records: &[Record],
) -> anyhow::Result<Option<glas_alert::Report>> {
    let Some(alerts) = &ctx.pipeline.alerts else { return Ok(None) };
    let mentions: HashMap<String, &Mention> = records.iter().map(|r| (r.mention.id.clone(), &r.mention)).collect();
    let names = ctx.source_names();
    let alerter = glas_alert::Alerter {
        config: alerts,
        district: &ctx.pipeline.district.name,
        tz: ctx.tz(),
        data_dir: &ctx.data_dir,
        source_names: &names,
    };
    Ok(Some(alerter.deliver(signals, &mentions).await?))
}

/// Matches of every saved search in `week` and the week before (over the same
/// days when `week` is still running, as the report compares).
pub fn saved_counts(
    ctx: &Ctx,
    store: &Store,
    records: &[Record],
    week: glas_report::IsoWeek,
) -> anyhow::Result<Vec<glas_report::SavedCount>> {
    let tz = ctx.tz();
    let mon = week.monday().context("invalid week")?;
    let sun = mon + Duration::days(6);
    let prev_end = glas_report::previous_week_end(records, week, tz);
    let start = |d: chrono::NaiveDate| glas_store::search::day_start(tz, d);
    let saved = glas_store::saved::SavedSearches::new(&ctx.data_dir);
    let mut out = Vec::new();
    for l in saved.all(&ctx.pipeline.searches)? {
        let count = |since, until| -> anyhow::Result<u64> {
            let req = glas_store::SearchRequest {
                query: l.search.query.clone(),
                since: Some(since),
                until: Some(until),
                tz,
                limit: 1,
                collapse: false,
                ..Default::default()
            };
            Ok(store.search(&req)?.total as u64)
        };
        out.push(glas_report::SavedCount {
            name: l.search.name.clone(),
            query: l.search.query.clone(),
            this_week: count(start(mon), start(sun + Duration::days(1)))?,
            previous_week: count(start(mon - Duration::days(7)), start(prev_end))?,
        });
    }
    Ok(out)
}

/// The weekly report's files.
#[derive(Debug, Clone)]
pub struct WeeklyFiles {
    pub week: glas_report::IsoWeek,
    /// What the report says (for the email).
    pub model: glas_report::model::Model,
    pub html: PathBuf,
    pub pdf: PathBuf,
    pub xlsx: PathBuf,
}

/// Every source's health as of `at`, from its checkpoint and the log.
pub fn source_health(
    ctx: &Ctx,
    store: &Store,
    at: DateTime<Utc>,
) -> anyhow::Result<Vec<glas_analytics::health::SourceHealth>> {
    let checkpoints = store.checkpoints()?;
    let log_dir = store.log().dir();
    Ok(glas_analytics::daily::consistent(log_dir, || {
        glas_analytics::health::ledger(&ctx.pipeline.sources, checkpoints.all(), log_dir, at)
    })?)
}

/// Sources as the report shows them: working, silent or failing, as of `at`.
pub fn source_statuses(ctx: &Ctx, store: &Store, at: DateTime<Utc>) -> anyhow::Result<Vec<glas_report::SourceStatus>> {
    use glas_analytics::health::Status;
    let health = source_health(ctx, store, at)?;
    Ok(health
        .into_iter()
        .map(|h| {
            let (status, ok) = match h.status {
                Status::Ok => ("работает", true),
                Status::New => ("ещё не опрашивался", true),
                Status::Silent => ("молчит", false),
                Status::Failing => ("ошибки", false),
            };
            let detail = match h.status {
                Status::Failing => format!(
                    "{} {} подряд; последняя: {}",
                    h.consecutive_failures,
                    glas_core::ru::plural(h.consecutive_failures as u64, "ошибка", "ошибки", "ошибок"),
                    h.last_error.as_deref().unwrap_or("—")
                ),
                Status::Silent => format!(
                    "нет новых публикаций {:.0} ч (обычно раз в {:.0} ч)",
                    h.silent_hours.unwrap_or(0.0),
                    h.usual_gap_hours.unwrap_or(0.0)
                ),
                _ => format!("{:.1} публикаций в день за 7 дней", h.per_day_7d),
            };
            glas_report::SourceStatus { name: h.name, status: status.to_string(), detail, ok }
        })
        .collect())
}

/// Writes the weekly report for `week` as HTML, PDF and XLSX to `reports/`
/// in the data dir.
/// The stages the workspace (`glas serve`) shows: the source-health ledger
/// and weekly reports made on demand, over the server's read-only store.
pub struct WorkspaceStages {
    pub ctx: Ctx,
    pub store: std::sync::Arc<Store>,
    /// The pipeline's analyzer, loaded once (the «Медиаплан» page reads the
    /// tone towards the administration on every visit).
    pub analyzer: std::sync::Arc<Analyzer>,
    /// The last ledger and when it was made: it scans the log's source
    /// column, and the overview asks for it on every visit.
    ledger: std::sync::Mutex<Option<(std::time::Instant, Vec<glas_analytics::health::SourceHealth>)>>,
}

/// How long a source-health ledger is shown before it is made again.
pub const LEDGER_FRESH: std::time::Duration = std::time::Duration::from_secs(30);

impl WorkspaceStages {
    pub fn new(ctx: Ctx, store: std::sync::Arc<Store>, analyzer: std::sync::Arc<Analyzer>) -> WorkspaceStages {
        WorkspaceStages { ctx, store, analyzer, ledger: Default::default() }
    }
}

impl glas_web::Stages for WorkspaceStages {
    fn source_health(&self) -> Result<Vec<glas_analytics::health::SourceHealth>, String> {
        let mut cached = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, ledger)) = cached.as_ref().filter(|(at, _)| at.elapsed() < LEDGER_FRESH) {
            tracing::debug!(age_ms = at.elapsed().as_millis() as u64, "source health from the last ledger");
            return Ok(ledger.clone());
        }
        let ledger = source_health(&self.ctx, &self.store, Utc::now()).map_err(|e| format!("{e:#}"))?;
        *cached = Some((std::time::Instant::now(), ledger.clone()));
        Ok(ledger)
    }

    fn weekly_report(&self, week: &str) -> Result<(), String> {
        let week = glas_report::IsoWeek::parse(week).ok_or_else(|| format!("{week:?} is not an ISO week"))?;
        let records = self.store.records().map_err(|e| e.to_string())?;
        weekly_report(&self.ctx, &self.store, &records, week, &glas_report::Dashboard::default_weekly())
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    }

    fn own_voice(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        today: chrono::NaiveDate,
    ) -> Result<(glas_voice::PlanFact, Vec<glas_voice::Pickup>, glas_report::OwnVoice), String> {
        let records = self.store.records().map_err(|e| e.to_string())?;
        let fact = crate::voice::plan_fact(&self.ctx, &records, from, to, today).map_err(|e| format!("{e:#}"))?;
        let own = crate::voice::week(&self.ctx, &self.analyzer, &records, from).map_err(|e| format!("{e:#}"))?;
        Ok((fact, crate::voice::pickups(&self.ctx, &records, from, to), own))
    }

    fn own_channels(&self) -> Vec<(String, String)> {
        self.ctx.pipeline.sources.iter().filter(|s| s.own).map(|s| (s.id.clone(), s.name.clone())).collect()
    }
}

/// The workspace over a pipeline's data (`glas serve`, `glas run --listen`):
/// its own read-only view of the store, the accounts, the pipeline's
/// analyzer for the reasons on a mention's page, and the stages above.
pub fn workspace(
    ctx: Ctx,
    overview: glas_web::overview::Overview,
    timeout: std::time::Duration,
) -> anyhow::Result<glas_web::AppState> {
    let store = std::sync::Arc::new(ctx.open_store_reader()?);
    let mut state = glas_web::AppState::new(store, ctx.data_dir.clone(), ctx.pipeline.searches.clone(), ctx.tz())
        .context("cannot open the workspace's accounts")?;
    state.limits.timeout = timeout;
    let analyzer = std::sync::Arc::new(ctx.analyzer());
    state.analyzer = Some(analyzer.clone());
    state.overview = std::sync::Arc::new(overview);
    state.topics = ctx.pipeline.topics.iter().map(|t| (t.code.clone(), t.name.clone())).collect();
    state.incidents = crate::incidents::open(&ctx)?.map(std::sync::Arc::new);
    state.privacy.personal_data_roles =
        ctx.pipeline.privacy.personal_data_roles.iter().filter_map(|r| glas_web::accounts::Role::parse(r)).collect();
    if !state.accounts.has_users()? {
        eprintln!(
            "Учётных записей ещё нет: создайте администратора командой\n  glas --data {} user add ИМЯ --role admin",
            ctx.data_dir.display()
        );
    }
    state.stages = Some(std::sync::Arc::new(WorkspaceStages::new(ctx, state.store.clone(), analyzer)));
    Ok(state)
}

/// The secret files the pipeline names (a VK source's `token_file`) that
/// other users of the machine could read: the service refuses to start with
/// one (`chmod 600`), so a token never sits in a file anyone may copy. One
/// line per file; empty when all are private (or the platform has no modes).
pub fn readable_secret_files(p: &Pipeline) -> Vec<String> {
    let mut out = Vec::new();
    for s in &p.sources {
        let glas_core::config::SourceOptions::Vk(o) = &s.options else { continue };
        let Some(f) = &o.token_file else { continue };
        if let Some(why) = exposed_secret(f) {
            out.push(format!("source '{}': token_file {why}", s.id));
        }
    }
    out
}

/// Why a secret file (a token, a TLS key) is not fit to be read by the
/// service: other users can read it, or it cannot be read; `None` if fine.
pub fn exposed_secret(f: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        match std::fs::metadata(f) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => Some(format!(
                "'{}' can be read by other users (mode {:o}); make it the service's alone: chmod 600 '{}'",
                f.display(),
                m.permissions().mode() & 0o777,
                f.display()
            )),
            Ok(_) => None,
            Err(e) => Some(format!("'{}' cannot be read: {e}", f.display())),
        }
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(f).err().map(|e| format!("'{}' cannot be read: {e}", f.display()))
    }
}

/// The overview's definition: `FILE`, or the built-in one.
pub fn overview(file: Option<&Path>) -> anyhow::Result<glas_web::overview::Overview> {
    match file {
        None => Ok(glas_web::overview::Overview::builtin()),
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("cannot read '{}'", f.display()))?;
            Ok(glas_web::overview::Overview::parse(&f.display().to_string(), &text)?)
        }
    }
}

pub fn weekly_report(
    ctx: &Ctx,
    store: &Store,
    records: &[Record],
    week: glas_report::IsoWeek,
    dashboard: &glas_report::Dashboard,
) -> anyhow::Result<WeeklyFiles> {
    let tz = ctx.tz();
    let start = glas_store::search::day_start(tz, week.monday().context("invalid week")?);
    let end = start + Duration::days(7);
    // Signals of the week, computed afresh from the log so any week can be regenerated.
    let events = glas_analytics::events::Events::from_records(records, tz);
    let signals = glas_analytics::signals::detect(&events, &ctx.pipeline.signals, start - Duration::days(1), end, tz);
    let week_start = week.monday().context("invalid week")?;
    let own_voice = if ctx.pipeline.sources.iter().any(|s| s.own) {
        Some(crate::voice::week(ctx, &ctx.analyzer(), records, week_start)?)
    } else {
        None
    };
    let model = glas_report::Weekly {
        dashboard,
        district: &ctx.pipeline.district,
        week,
        records,
        signals: &signals,
        source_names: &ctx.source_names(),
        saved_searches: &saved_counts(ctx, store, records, week)?,
        sources: &source_statuses(ctx, store, end.min(Utc::now()))?,
        incidents: incident_week(ctx, start, end)?.as_ref(),
        media_plan: media_plan_week(ctx, records, week)?.as_ref(),
        pickups: &crate::voice::pickups(ctx, records, week_start, week_start + Duration::days(6)),
        own_voice: own_voice.as_ref(),
        outlook: Some(&crate::outlook::report(ctx, &events, week_start)),
    }
    .model();
    let dir = ctx.data_dir.join("reports");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create '{}'", dir.display()))?;
    let files = WeeklyFiles {
        week,
        html: dir.join(format!("weekly-{week}.html")),
        pdf: dir.join(format!("weekly-{week}.pdf")),
        xlsx: dir.join(format!("weekly-{week}.xlsx")),
        model,
    };
    write_atomic(&files.html, files.model.render_html().as_bytes())?;
    write_atomic(&files.pdf, &files.model.render_pdf()?)?;
    write_atomic(&files.xlsx, &files.model.render_xlsx().context("cannot make the XLSX report")?)?;
    Ok(files)
}

/// The week's media plan against the own channels, as of now (the report
/// of a past week: as it ended); `None` without an own channel.
fn media_plan_week(
    ctx: &Ctx,
    records: &[Record],
    week: glas_report::IsoWeek,
) -> anyhow::Result<Option<glas_voice::PlanFact>> {
    if !ctx.pipeline.sources.iter().any(|s| s.own) {
        return Ok(None);
    }
    let monday = week.monday().context("invalid week")?;
    let sunday = monday + Duration::days(6);
    let today = Utc::now().with_timezone(&ctx.tz()).date_naive();
    Ok(Some(crate::voice::plan_fact(ctx, records, monday, sunday, today)?))
}

/// The incidents' figures of `[start, end)` and the week before, from
/// their history; `None` when the pipeline has no incidents.
fn incident_week(
    ctx: &Ctx,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> anyhow::Result<Option<glas_report::IncidentWeek>> {
    let Some(inc) = crate::incidents::open(ctx)? else { return Ok(None) };
    let history = inc.history(None)?;
    let week = Duration::days(7);
    Ok(Some(glas_report::IncidentWeek {
        this: glas_incidents::kpi::report(&history, start, end),
        previous: glas_incidents::kpi::report(&history, start - week, start),
        topic_names: ctx.pipeline.topics.iter().map(|t| (t.code.clone(), t.name.clone())).collect(),
    }))
}

/// Emails the weekly report (the HTML page as the body, its charts as inline
/// PNG images; the PDF and the XLSX attached) to `[report] to`, or else the
/// `[alerts]` recipients. `None` when alerts are not configured.
pub async fn email_weekly_report(
    ctx: &Ctx,
    files: &WeeklyFiles,
) -> anyhow::Result<Option<Result<glas_alert::Delivered, glas_alert::AlertError>>> {
    let Some(alerts) = &ctx.pipeline.alerts else { return Ok(None) };
    let to = if ctx.pipeline.report.to.is_empty() { alerts.to.clone() } else { ctx.pipeline.report.to.clone() };
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read '{}'", p.display()));
    let (html, images) = files.model.render_email_html();
    let inline: Vec<glas_alert::Attachment> =
        images.into_iter().map(|i| glas_alert::Attachment { name: i.cid, mime: "image/png", bytes: i.png }).collect();
    let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).unwrap_or("report").to_string();
    let attachments = [
        glas_alert::Attachment { name: name(&files.pdf), mime: "application/pdf", bytes: read(&files.pdf)? },
        glas_alert::Attachment {
            name: name(&files.xlsx),
            mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            bytes: read(&files.xlsx)?,
        },
    ];
    let subject = format!("Еженедельный отчёт — {}", files.model.title);
    let text = files.model.render_text();
    let sent = match glas_alert::compose_with_attachments(alerts, &to, &subject, &text, &html, &inline, &attachments) {
        Ok(msg) => {
            let id =
                glas_alert::message_id(&["weekly", &files.week.to_string(), &ctx.pipeline.district.name], &alerts.from);
            let msg = glas_alert::with_message_id(msg, &id);
            glas_alert::deliver_message(alerts, &ctx.data_dir, msg, &to, &format!("weekly-{}", files.week)).await
        }
        Err(e) => Err(e),
    };
    Ok(Some(sent))
}

/// [`glas_store::write_atomic`] (a crash or a reader never sees half a
/// file), with the path in the error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    glas_store::write_atomic(path, bytes).with_context(|| format!("cannot write '{}'", path.display()))
}

/// What happened to one saved search's digest.
#[derive(Debug, serde::Serialize)]
pub struct DigestOutcome {
    pub search: String,
    /// New matching mentions.
    pub new: usize,
    /// `sent`, `outbox`, `nothing new`, `no recipients` or `failed: reason`.
    pub status: String,
}

impl std::fmt::Display for DigestOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "saved search {:?}: {} new · {}", self.search, self.new, self.status)
    }
}

/// After a crawl round: emails each saved search's new matches as a digest.
/// `baseline` is the log sequence number the store covered before the round
/// (where a search seen for the first time starts).
pub async fn deliver_digests(ctx: &Ctx, store: &Store, baseline: u64) -> anyhow::Result<Vec<DigestOutcome>> {
    let saved = glas_store::saved::SavedSearches::new(&ctx.data_dir);
    let current = store.indexed_seq()?;
    let names = ctx.source_names();
    let tz = ctx.tz();
    let mut outcomes = Vec::new();
    for (search, start) in saved.starts(&ctx.pipeline.searches, baseline)? {
        let req = glas_store::SearchRequest {
            query: search.query.clone(),
            tz,
            sort: glas_store::Sort::Date,
            limit: glas_alert::digest::MAX_ITEMS,
            after_seq: Some(start),
            ..Default::default()
        };
        let res = match store.search(&req) {
            Ok(r) => r,
            Err(e) => {
                // A query the pipeline validated cannot fail to parse; an index error is reported.
                tracing::error!(search = %search.name, error = %e, "saved search failed");
                outcomes.push(DigestOutcome { search: search.name, new: 0, status: format!("failed: {e}") });
                continue;
            }
        };
        let mut outcome = DigestOutcome { search: search.name.clone(), new: res.total, status: String::new() };
        let alerts = ctx.pipeline.alerts.as_ref();
        let to: Vec<String> =
            if search.to.is_empty() { alerts.map(|a| a.to.clone()).unwrap_or_default() } else { search.to.clone() };
        if res.total == 0 {
            saved.mark_covered(&search.name, current)?;
            outcome.status = "nothing new".into();
        } else if let (Some(alerts), false) = (alerts, to.is_empty()) {
            let items: Vec<glas_alert::digest::Item> = res
                .hits
                .iter()
                .map(|h| glas_alert::digest::Item {
                    when: DateTime::parse_from_rfc3339(&h.published_at)
                        .map(|t| t.with_timezone(&tz).format("%d.%m %H:%M").to_string())
                        .unwrap_or_else(|_| h.published_at.clone()),
                    source: h.source.clone(),
                    title: h.title.clone(),
                    snippet: h.snippet.clone(),
                    url: h.url.clone(),
                    sentiment: h.sentiment.clone(),
                    topics: h.topics.clone(),
                    places: h.places.clone(),
                    more: h.more_in_cluster,
                })
                .collect();
            let digest = glas_alert::digest::Digest {
                district: &ctx.pipeline.district.name,
                name: &search.name,
                query: &search.query,
                total: res.total,
                items: &items,
                source_names: &names,
            };
            let file = format!("digest-{}-{}", Utc::now().format("%Y%m%dT%H%M%S"), search.name);
            let sent = match glas_alert::digest::compose(alerts, &to, &digest) {
                Ok(msg) => glas_alert::deliver_message(alerts, &ctx.data_dir, msg, &to, &file).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(delivered) => {
                    // Only now: a failed delivery is retried after the next round.
                    saved.mark_sent(&search.name, current, res.total as u64, Utc::now())?;
                    outcome.status = match delivered {
                        glas_alert::Delivered::Smtp { .. } => "sent".into(),
                        glas_alert::Delivered::Outbox { .. } => "outbox".into(),
                    };
                }
                Err(e) => {
                    tracing::error!(search = %search.name, error = %e, "digest delivery failed");
                    outcome.status = format!("failed: {e}");
                }
            }
        } else {
            outcome.status = "no recipients".into();
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// What a replay did.
pub struct ReplaySummary {
    pub mentions: usize,
    /// Time spent enriching, and evaluating the detector.
    pub enrich_time: std::time::Duration,
    pub detect_time: std::time::Duration,
    pub rejected: Vec<LineError>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub signals: Vec<Signal>,
}

/// Replays a file of mention lines through enrichment and the detector, as if
/// live at every `step`: each step sees only what was published before it.
pub fn replay(ctx: &Ctx, input: &Path, step: Duration) -> anyhow::Result<ReplaySummary> {
    let mut mentions = Vec::new();
    let mut rejected = Vec::new();
    for_each_mention_line(input, |line| {
        match line {
            Ok(m) => mentions.push(m),
            Err(e) => rejected.push(e),
        }
        Ok(())
    })?;
    // In publication order, each mention as its source in the pipeline would
    // have it (kind, the settlement a community speaks for).
    mentions.sort_by_key(|m| m.published_at);
    let started = std::time::Instant::now();
    let mut enricher = Enricher::fresh(ctx);
    let items: Vec<(Mention, &str, Option<&str>)> = mentions
        .into_iter()
        .map(|m| {
            let src = m.source.as_deref().and_then(|id| ctx.pipeline.source(id));
            (m, src.map_or("import", |s| s.kind.as_str()), src.and_then(|s| s.place.as_deref()))
        })
        .collect();
    let records = enricher.enrich_parallel(items);
    let first = records.iter().map(|r| r.mention.published_at.with_timezone(&Utc)).min();
    let last = records.iter().map(|r| r.mention.published_at.with_timezone(&Utc)).max();
    let enrich_time = started.elapsed();
    let (Some(first), Some(last)) = (first, last) else {
        let now = Utc::now();
        return Ok(ReplaySummary {
            mentions: 0,
            enrich_time,
            detect_time: Default::default(),
            rejected,
            from: now,
            to: now,
            signals: Vec::new(),
        });
    };
    let (from, to) = (first - step, last + step);
    let started = std::time::Instant::now();
    let events = glas_analytics::events::Events::from_records(&records, ctx.tz());
    drop(records);
    let signals = glas_analytics::signals::detect_stepped(&events, &ctx.pipeline.signals, from, to, ctx.tz(), step);
    Ok(ReplaySummary {
        mentions: events.events.len(),
        enrich_time,
        detect_time: started.elapsed(),
        rejected,
        from,
        to,
        signals,
    })
}
