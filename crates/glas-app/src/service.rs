//! `glas run`: the unattended service.
//!
//! One loop, one store writer. Each source is crawled on its own interval
//! (`interval` in the pipeline); after every crawl round come the analytics,
//! the alerts and the saved-search digests; the weekly report is made and
//! emailed on the pipeline's `[report] schedule` in the district's time zone.
//! Between rounds the loop sleeps until the next thing is due.
//!
//! Stopping: SIGINT or SIGTERM lets the sources already being fetched finish
//! and commit, skips the rest, and exits 0; a second signal exits at once.
//! Nothing depends on a clean stop: mentions are committed before their
//! checkpoints, alert and digest state is saved after each delivery, and the
//! report schedule's state after each report, so after SIGKILL the next start
//! redoes only what had not been committed and re-sends nothing.
//!
//! The workspace (as `glas serve` serves it), `/metrics` (Prometheus text
//! format) and `/healthz` are served on `--listen`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Utc};
use glas_core::config::SourceConfig;
use glas_report::IsoWeek;
use serde::{Deserialize, Serialize};

use crate::ops::{self, Ctx};

/// Time as the service sees it: the wall clock, or for rehearsals and tests a
/// chosen start that then runs `speed` times faster than real time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    real_start: std::time::Instant,
    start: DateTime<Utc>,
    speed: f64,
}

impl Clock {
    pub fn wall() -> Clock {
        Clock::starting(Utc::now(), 1.0)
    }

    pub fn starting(start: DateTime<Utc>, speed: f64) -> Clock {
        Clock { real_start: std::time::Instant::now(), start, speed: speed.max(1e-3) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let real = self.real_start.elapsed().as_secs_f64() * self.speed;
        self.start + Duration::microseconds((real * 1e6) as i64)
    }

    /// Real time until `at` on this clock.
    pub fn real_until(&self, at: DateTime<Utc>) -> std::time::Duration {
        let d = (at - self.now()).to_std().unwrap_or_default();
        d.div_f64(self.speed)
    }
}

/// A latency histogram in Prometheus's form (cumulative buckets, sum,
/// count), in seconds.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Upper bounds (seconds) of the latency histograms: from a fetch to the
/// commit that makes its mentions searchable, to an alert.
pub const LATENCY_BUCKETS: [f64; 16] =
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0];

impl Histogram {
    /// `n` observations of `secs` each.
    pub fn observe(&mut self, secs: f64, n: u64) {
        for (b, le) in self.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if secs <= le {
                *b += n;
            }
        }
        self.sum += secs * n as f64;
        self.count += n;
    }

    /// The exposition of the histogram `name`.
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        use std::fmt::Write;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (le, n) in LATENCY_BUCKETS.iter().zip(self.buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {:.3}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

/// Counters and gauges for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<MetricsInner>,
}

#[derive(Default)]
struct MetricsInner {
    /// Source id → (fetched, new, duplicate, failures).
    sources: BTreeMap<String, [u64; 4]>,
    rounds: u64,
    round_seconds: f64,
    last_round: i64,
    /// (kind, phase) → signals seen for the first time.
    signals: BTreeMap<(String, String), u64>,
    /// (what, outcome) → emails.
    emails: BTreeMap<(&'static str, &'static str), u64>,
    reports: u64,
    mentions: u64,
    /// From a source's fetch to the commit of its new mentions, per mention.
    fetch_to_searchable: Histogram,
    /// From the round's first fetch that brought new mentions to each alert
    /// sent after it.
    fetch_to_alert: Histogram,
}

impl Metrics {
    /// Counts a round's sources: fetched, new, duplicate, failed.
    pub fn crawled(&self, summaries: &[ops::SourceSummary]) {
        self.with(|m| {
            for s in summaries {
                let c = m.sources.entry(s.source.clone()).or_default();
                c[0] += s.fetched as u64;
                c[1] += s.new as u64;
                c[2] += s.duplicate as u64;
                c[3] += u64::from(!s.errors.is_empty());
                if let Some(secs) = s.searchable_after {
                    m.fetch_to_searchable.observe(secs, s.new as u64);
                }
            }
        });
    }

    /// Seconds from fetch to searchable of mentions committed elsewhere than
    /// in a round (the region's store writer), one each.
    pub fn searchable(&self, secs: impl IntoIterator<Item = f64>) {
        self.with(|m| {
            for s in secs {
                m.fetch_to_searchable.observe(s, 1);
            }
        });
    }

    /// Counts a finished round and how long it took.
    pub fn round_done(&self, started: std::time::Instant) {
        self.with(|m| {
            m.rounds += 1;
            m.round_seconds = started.elapsed().as_secs_f64();
            m.last_round = Utc::now().timestamp();
        });
    }

    fn with<T>(&self, f: impl FnOnce(&mut MetricsInner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn email(&self, what: &'static str, ok: bool, n: u64) {
        if n > 0 {
            self.with(|m| *m.emails.entry((what, if ok { "sent" } else { "failed" })).or_default() += n);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        for (i, (name, help)) in [
            ("glas_fetched_total", "Documents fetched, per source."),
            ("glas_mentions_new_total", "New mentions committed, per source."),
            ("glas_mentions_duplicate_total", "Mentions already in the store, per source."),
            ("glas_source_failures_total", "Failed crawls (whole or partial), per source."),
        ]
        .into_iter()
        .enumerate()
        {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (src, v) in &m.sources {
                let _ = writeln!(out, "{name}{{source=\"{}\"}} {}", esc(src), v[i]);
            }
        }
        let _ = writeln!(out, "# HELP glas_rounds_total Crawl rounds completed.\n# TYPE glas_rounds_total counter");
        let _ = writeln!(out, "glas_rounds_total {}", m.rounds);
        let _ = writeln!(
            out,
            "# HELP glas_round_duration_seconds Duration of the last round (crawl, analytics, alerts).\n# TYPE glas_round_duration_seconds gauge\nglas_round_duration_seconds {:.3}",
            m.round_seconds
        );
        let _ = writeln!(
            out,
            "# HELP glas_last_round_timestamp_seconds When the last round ended (Unix time).\n# TYPE glas_last_round_timestamp_seconds gauge\nglas_last_round_timestamp_seconds {}",
            m.last_round
        );
        let _ = writeln!(
            out,
            "# HELP glas_mentions Mentions in the store.\n# TYPE glas_mentions gauge\nglas_mentions {}",
            m.mentions
        );
        let _ = writeln!(
            out,
            "# HELP glas_signals_total Signals raised, by kind and phase.\n# TYPE glas_signals_total counter"
        );
        for ((kind, phase), n) in &m.signals {
            let _ = writeln!(out, "glas_signals_total{{kind=\"{}\",phase=\"{}\"}} {n}", esc(kind), esc(phase));
        }
        let _ = writeln!(
            out,
            "# HELP glas_emails_total Emails (alerts, digests, reports) by outcome.\n# TYPE glas_emails_total counter"
        );
        for what in ["alert", "digest", "report"] {
            for outcome in ["sent", "failed"] {
                let n = m.emails.get(&(what, outcome)).copied().unwrap_or(0);
                let _ = writeln!(out, "glas_emails_total{{kind=\"{what}\",outcome=\"{outcome}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP glas_reports_total Weekly reports made.\n# TYPE glas_reports_total counter\nglas_reports_total {}",
            m.reports
        );
        m.fetch_to_searchable.render(
            &mut out,
            "glas_fetch_to_searchable_seconds",
            "From a source's fetch to the commit that makes its new mentions searchable, per mention.",
        );
        m.fetch_to_alert.render(
            &mut out,
            "glas_fetch_to_alert_seconds",
            "From the first fetch of the round that brought new mentions to each alert email sent after it.",
        );
        out
    }
}

/// What the report schedule has done: `reports/schedule.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ReportState {
    /// The last week whose report went out (or, on the first start, the week
    /// due then, which is not sent: the schedule starts with the next one).
    last_week: Option<String>,
}

fn report_state_path(ctx: &Ctx) -> PathBuf {
    ctx.data_dir.join("reports").join("schedule.json")
}

fn load_report_state(ctx: &Ctx) -> anyhow::Result<Option<ReportState>> {
    let p = report_state_path(ctx);
    match std::fs::read_to_string(&p) {
        Ok(t) => Ok(Some(serde_json::from_str(&t).with_context(|| format!("'{}' is not valid", p.display()))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read '{}'", p.display())),
    }
}

fn save_report_state(ctx: &Ctx, s: &ReportState) -> anyhow::Result<()> {
    let p = report_state_path(ctx);
    std::fs::create_dir_all(p.parent().expect("has a parent"))?;
    ops::write_atomic(&p, serde_json::to_string_pretty(s)?.as_bytes())
}

/// The last scheduled moment at or before `now`, and the week its report
/// covers: the week of the day before (so "Mon 09:00" reports the week that
/// just ended, "Fri 17:00" the running one).
fn last_occurrence(ctx: &Ctx, now: DateTime<Utc>) -> (DateTime<Utc>, IsoWeek) {
    let tz = ctx.tz();
    let rs = &ctx.pipeline.report;
    let local = now.with_timezone(&tz).naive_local();
    let back = (local.weekday().num_days_from_monday() + 7 - rs.weekday.num_days_from_monday()) % 7;
    let mut day = local.date() - Duration::days(back as i64);
    if NaiveDateTime::new(day, rs.at) > local {
        day -= Duration::days(7);
    }
    let at = NaiveDateTime::new(day, rs.at).and_local_timezone(tz).earliest().map_or(now, |t| t.with_timezone(&Utc));
    (at, IsoWeek::of(day - Duration::days(1)))
}

fn next_occurrence(ctx: &Ctx, now: DateTime<Utc>) -> DateTime<Utc> {
    let (last, _) = last_occurrence(ctx, now);
    // A week after the last, found again through local time (DST-safe).
    let (next, _) = last_occurrence(ctx, last + Duration::days(7) + Duration::hours(2));
    if next > now { next } else { now + Duration::days(7) }
}

pub struct RunOptions {
    pub listen: Option<SocketAddr>,
    /// The workspace's overview, when it listens.
    pub overview: glas_web::overview::Overview,
    /// The time limit of one of the workspace's searches.
    pub timeout: std::time::Duration,
    pub clock: Clock,
    /// TLS, the header time limit and trusted proxies of the listener.
    pub web: glas_web::serve::ServeOptions,
}

/// Runs until SIGINT/SIGTERM.
pub async fn run(ctx: Ctx, opts: RunOptions) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(tokio::sync::Notify::new());
    spawn_signal_handler(stop.clone(), wake.clone())?;
    crate::privacy::watch_queue(&ctx, wake.clone());
    let clock = opts.clock;
    let mut store = ctx.open_store()?;
    if let Some(addr) = opts.listen {
        let m = metrics.clone();
        let web = Some((opts.overview, opts.timeout));
        listen(&ctx, addr, web, opts.web, Arc::new(move || m.render())).await?;
    }
    let mut enricher = ops::Enricher::new(&ctx, &store)?;
    // A source fetched less than its interval ago (before a restart) waits
    // for the rest of it: a service restarted in a loop never hammers a site.
    let mut due = first_due(&ctx, &store.checkpoints()?, clock.now());
    start_report_schedule(&ctx, clock.now())?;
    let mut seen_signals: std::collections::HashSet<String> = Default::default();
    tracing::info!(
        sources = ctx.pipeline.sources.len(),
        data = %ctx.data_dir.display(),
        now = %clock.now().to_rfc3339(),
        "glas run started"
    );
    while !stop.load(Ordering::SeqCst) {
        let now = clock.now();
        let ready: Vec<SourceConfig> =
            ctx.pipeline.sources.iter().filter(|s| due.get(&s.id).is_some_and(|t| *t <= now)).cloned().collect();
        if !ready.is_empty() {
            let started = std::time::Instant::now();
            let baseline = store.indexed_seq()?;
            crate::privacy::retain_at_ingest(&ctx, &mut store, now)?;
            let summaries = ops::crawl_sources(&ctx, &mut store, &mut enricher, &ready, Some(&stop), now).await?;
            for s in &ready {
                due.insert(s.id.clone(), now + s.interval);
            }
            metrics.crawled(&summaries);
            let new: usize = summaries.iter().map(|s| s.new).sum();
            let failed: Vec<&str> =
                summaries.iter().filter(|s| !s.errors.is_empty()).map(|s| s.source.as_str()).collect();
            tracing::info!(sources = summaries.len(), new, failed = ?failed, "crawl round done");
            if stop.load(Ordering::SeqCst) {
                break;
            }
            // The round's first fetch that brought something new: where an
            // alert's time from the post's fetch is counted from.
            let fetched = summaries.iter().filter(|s| s.new > 0).filter_map(|s| s.fetched_at).min();
            after_commit(&ctx, &mut store, baseline, clock.now(), &metrics, &mut seen_signals, fetched).await;
            metrics.round_done(started);
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        between_rounds(&ctx, &mut store, clock.now(), &metrics).await;
        // Sleep until the next source or report is due (at most a minute of
        // real time, so a changed clock or a missed wake-up costs little).
        let now = clock.now();
        let next = next_wake(&ctx, &due, now);
        let nap = clock.real_until(next).min(std::time::Duration::from_secs(60));
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = wake.notified() => {}
        }
    }
    tracing::info!("glas run stopped");
    Ok(())
}

/// When each source is first due: a source fetched less than its interval
/// ago (before a restart) waits for the rest of it, so a service restarted
/// in a loop never hammers a site.
pub fn first_due(
    ctx: &Ctx,
    checkpoints: &glas_store::checkpoints::Checkpoints,
    now: DateTime<Utc>,
) -> HashMap<String, DateTime<Utc>> {
    ctx.pipeline
        .sources
        .iter()
        .map(|s| {
            let wait = last_attempt(&checkpoints.get(&s.id))
                .map_or(Duration::zero(), |last| (last + s.interval - Utc::now()).max(Duration::zero()));
            (s.id.clone(), now + wait)
        })
        .collect()
}

/// The first start begins the weekly report's schedule with its next
/// occurrence (no report of a week the service did not watch).
pub fn start_report_schedule(ctx: &Ctx, now: DateTime<Utc>) -> anyhow::Result<()> {
    if load_report_state(ctx)?.is_none() {
        let (_, week) = last_occurrence(ctx, now);
        save_report_state(ctx, &ReportState { last_week: Some(week.to_string()) })?;
    }
    Ok(())
}

/// The next moment the loop has work: a source due or the weekly report.
pub fn next_wake(ctx: &Ctx, due: &HashMap<String, DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    due.values().copied().min().unwrap_or(now + Duration::hours(1)).min(next_occurrence(ctx, now))
}

/// What `/metrics` answers, rendered on each request.
pub type RenderMetrics = Arc<dyn Fn() -> String + Send + Sync>;

/// Serves `/metrics` and `/healthz` on `addr`, and with `workspace` (its
/// overview and search time limit) the workspace over the pipeline's data.
/// Prints `listening on ADDR` (for scripts and tests that asked for port 0).
pub async fn listen(
    ctx: &Ctx,
    addr: SocketAddr,
    workspace: Option<(glas_web::overview::Overview, std::time::Duration)>,
    web: glas_web::serve::ServeOptions,
    metrics: RenderMetrics,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    let app = match workspace {
        // The workspace reads its own view of the store, which follows the
        // writer's commits.
        Some((overview, timeout)) => glas_web::router(Arc::new(ops::workspace(ctx.clone(), overview, timeout)?)),
        None => axum::Router::new(),
    };
    let app = app
        .route(
            "/metrics",
            axum::routing::get(move || {
                let m = metrics.clone();
                async move { ([("content-type", "text/plain; version=0.0.4; charset=utf-8")], m()) }
            }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok\n" }));
    tokio::spawn(async move {
        if let Err(e) = glas_web::serve::serve(listener, app, web, std::future::pending()).await {
            tracing::error!(error = %e, "web server stopped");
        }
    });
    tracing::info!(addr = %bound, "serving /metrics and /healthz");
    println!("listening on {bound}");
    Ok(bound)
}

/// When a source was last fetched (wall clock), successfully or not; for a
/// checkpoint saved before attempts were recorded, its last success.
fn last_attempt(cp: &glas_core::Checkpoint) -> Option<DateTime<Utc>> {
    let at = cp.last_attempt.as_deref().or(cp.last_success.as_deref())?;
    DateTime::parse_from_rfc3339(at).ok().map(|t| t.with_timezone(&Utc))
}

/// What follows a commit of new mentions: analytics, alerts, incidents and
/// digests, then the compaction of the days before today. Failures are
/// logged: they must not stop the crawling.
///
/// `fetched`: when the first fetch that brought these new mentions ended
/// (the start of `glas_fetch_to_alert_seconds`); none where it is not known.
pub async fn after_commit(
    ctx: &Ctx,
    store: &mut glas_store::Store,
    baseline: u64,
    now: DateTime<Utc>,
    metrics: &Metrics,
    seen: &mut std::collections::HashSet<String>,
    fetched: Option<std::time::Instant>,
) {
    if let Err(e) = after_round(ctx, store, baseline, now, metrics, seen, fetched).await {
        tracing::error!(error = format!("{e:#}"), "analysis or delivery failed; retried after the next round");
    }
    // Days before today are complete but for late arrivals: one part each
    // keeps the analytics' reads short however often rounds run.
    match store.compact(Some(now.date_naive())) {
        Ok((merged, written)) if merged > 0 => tracing::info!(merged, written, "log parts compacted"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = format!("{e:#}"), "log compaction failed; the parts stay as they are"),
    }
}

/// The work of the quiet time between rounds: queued erasures, the daily
/// retention, the weekly report when due. Failures are logged and retried
/// at the next call.
pub async fn between_rounds(ctx: &Ctx, store: &mut glas_store::Store, now: DateTime<Utc>, metrics: &Metrics) {
    // Erasures asked for with `glas erase` while this process holds the store.
    if let Err(e) = crate::privacy::run_queued(ctx, store, Utc::now()) {
        tracing::error!(error = format!("{e:#}"), "queued erasures failed; retried at the next check");
    }
    if crate::privacy::retention_due(ctx, now) {
        match crate::privacy::apply_retention(ctx, store, now, false) {
            Ok(r) => tracing::info!(
                pseudonymised = r.log.pseudonymised,
                deleted = r.log.removed,
                parts = r.log.parts,
                "retention applied"
            ),
            Err(e) => tracing::error!(error = format!("{e:#}"), "retention failed; retried at the next check"),
        }
    }
    if let Err(e) = weekly_if_due(ctx, store, now, metrics).await {
        tracing::error!(error = format!("{e:#}"), "weekly report failed; retried at the next check");
    }
}

/// Analytics, alerts and digests after a crawl round.
async fn after_round(
    ctx: &Ctx,
    store: &glas_store::Store,
    baseline: u64,
    now: DateTime<Utc>,
    metrics: &Metrics,
    seen: &mut std::collections::HashSet<String>,
    fetched: Option<std::time::Instant>,
) -> anyhow::Result<()> {
    let analysis = ops::analyze(ctx, store, now, Duration::days(7))?;
    metrics.with(|m| {
        m.mentions = analysis.mentions as u64;
        for s in &analysis.signals {
            let id = format!("{}|{}|{}", s.episode_key(), s.detected_at.to_rfc3339(), s.phase().unwrap_or(""));
            if seen.insert(id) {
                *m.signals.entry((s.kind.clone(), s.phase().unwrap_or("").to_string())).or_default() += 1;
            }
        }
    });
    if let Some(report) = ops::deliver_alerts(ctx, &analysis.signals, &analysis.evidence).await? {
        metrics.email("alert", true, report.sent.len() as u64);
        metrics.email("alert", false, report.failed.len() as u64);
        if let (Some(at), false) = (fetched, report.sent.is_empty()) {
            metrics.with(|m| m.fetch_to_alert.observe(at.elapsed().as_secs_f64(), report.sent.len() as u64));
        }
        for (s, d) in &report.sent {
            tracing::info!(subject = %glas_alert::subject_with(s, &ctx.source_names()), delivered = ?d, "alert sent");
        }
    }
    if let Some(out) = crate::incidents::round(ctx, store, &analysis.signals, &analysis.evidence, now).await? {
        metrics.email("incident", true, out.sent.len() as u64);
        metrics.email("incident", false, out.failed.len() as u64);
        let r = &out.round;
        if !r.created.is_empty() || r.joined > 0 || !r.reopened.is_empty() || r.escalations > 0 {
            tracing::info!(
                created = ?r.created,
                joined = r.joined,
                reopened = ?r.reopened,
                answered_publicly = ?r.answered_publicly,
                reminders = r.reminders,
                escalations = r.escalations,
                "incidents updated"
            );
        }
    }
    match crate::voice::remind(ctx, now).await {
        Ok(n) if n > 0 => tracing::info!(items = n, "media plan reminder sent"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = format!("{e:#}"), "media plan reminder failed; retried next round"),
    }
    let digests = ops::deliver_digests(ctx, store, baseline).await?;
    for d in &digests {
        let ok = matches!(d.status.as_str(), "sent" | "outbox");
        if ok || d.status.starts_with("failed") {
            metrics.email("digest", ok, 1);
        }
    }
    Ok(())
}

/// Makes and emails the weekly report when its scheduled moment has passed
/// and its week has not gone out yet (also after downtime: a missed report
/// is sent at the next start).
async fn weekly_if_due(
    ctx: &Ctx,
    store: &glas_store::Store,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    let (_, week) = last_occurrence(ctx, now);
    let state = load_report_state(ctx)?.unwrap_or_default();
    let done = state.last_week.as_deref().and_then(IsoWeek::parse);
    if done.is_some_and(|d| (d.year, d.week) >= (week.year, week.week)) {
        return Ok(());
    }
    let records = store.records()?;
    let files = ops::weekly_report(ctx, store, &records, week, &glas_report::Dashboard::default_weekly())?;
    metrics.with(|m| m.reports += 1);
    tracing::info!(%week, html = %files.html.display(), "weekly report made");
    match ops::email_weekly_report(ctx, &files).await? {
        Some(Err(e)) => {
            metrics.email("report", false, 1);
            // The state stays: the next check tries again.
            return Err(e).context("weekly report email failed");
        }
        Some(Ok(d)) => {
            metrics.email("report", true, 1);
            tracing::info!(%week, delivered = ?d, "weekly report emailed");
        }
        None => tracing::info!(%week, "weekly report has no recipients ([alerts] is not configured)"),
    }
    save_report_state(ctx, &ReportState { last_week: Some(week.to_string()) })
}

pub fn spawn_signal_handler(stop: Arc<AtomicBool>, wake: Arc<tokio::sync::Notify>) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                if stop.swap(true, Ordering::SeqCst) {
                    eprintln!("second signal: stopping now");
                    std::process::exit(130);
                }
                tracing::info!("stopping: finishing the sources in flight (signal again to stop at once)");
                wake.notify_one();
            }
        });
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if stop.swap(true, Ordering::SeqCst) {
                    std::process::exit(130);
                }
                wake.notify_one();
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(schedule: &str) -> Ctx {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
        let text = std::fs::read_to_string(dir.join("demo.toml")).unwrap();
        let mut p = glas_core::Pipeline::parse_with_vars(&text, &dir.join("demo.toml"), &dir, &|_| None).unwrap();
        let (weekday, at) = glas_core::config::parse_weekly_schedule(schedule).unwrap();
        p.report.weekday = weekday;
        p.report.at = at;
        Ctx::new(p, Some(std::path::Path::new("/nonexistent")))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_monday_report_covers_the_week_that_just_ended() {
        let c = ctx("Mon 09:00");
        // Monday 30 Nov 2026, 09:00 Moscow = 06:00 UTC.
        let (at, week) = last_occurrence(&c, utc("2026-11-30T06:00:00Z"));
        assert_eq!(at, utc("2026-11-30T06:00:00Z"));
        assert_eq!(week.to_string(), "2026-W48");
        // A minute before, the last occurrence is the Monday before.
        let (at, week) = last_occurrence(&c, utc("2026-11-30T05:59:00Z"));
        assert_eq!(at, utc("2026-11-23T06:00:00Z"));
        assert_eq!(week.to_string(), "2026-W47");
        assert_eq!(next_occurrence(&c, utc("2026-11-30T05:59:00Z")), utc("2026-11-30T06:00:00Z"));
        assert_eq!(next_occurrence(&c, utc("2026-11-30T06:00:00Z")), utc("2026-12-07T06:00:00Z"));
        // A Friday schedule reports the running week.
        let (_, week) = last_occurrence(&ctx("Fri 17:00"), utc("2026-11-27T15:00:00Z"));
        assert_eq!(week.to_string(), "2026-W48");
    }

    #[test]
    fn the_last_attempt_counts_failures_too() {
        let cp = glas_core::Checkpoint {
            last_success: Some("2026-11-23T07:00:00+00:00".into()),
            last_attempt: Some("2026-11-23T08:00:00+00:00".into()),
            last_error: Some("2026-11-23T08:00:00+00:00 fetch http://x: timed out".into()),
            ..Default::default()
        };
        assert_eq!(last_attempt(&cp), Some(utc("2026-11-23T08:00:00Z")));
        let older = glas_core::Checkpoint {
            last_success: Some("2026-11-23T09:00:00+00:00".into()),
            last_error: Some("fetch http://x/2: 404".into()),
            ..Default::default()
        };
        assert_eq!(last_attempt(&older), Some(utc("2026-11-23T09:00:00Z")), "saved before attempts were recorded");
        assert_eq!(last_attempt(&Default::default()), None);
    }

    #[test]
    fn an_accelerated_clock_runs_faster() {
        let c = Clock::starting(utc("2026-11-23T06:00:00Z"), 3600.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let gone = c.now() - utc("2026-11-23T06:00:00Z");
        assert!(gone >= Duration::seconds(60), "{gone}");
        assert!(c.real_until(c.now() + Duration::hours(1)) <= std::time::Duration::from_secs(1));
    }
}
