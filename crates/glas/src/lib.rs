//! glas: public-opinion monitoring for a municipal district.
//!
//! This crate is the command-line front end: it parses arguments, loads the
//! pipeline, and composes the stages of the other crates (see [`ops`]). The
//! binary (`src/main.rs`) is a thin shell over [`run`].
//!
//! Exit codes: 0 success; 1 failure; 2 invalid usage or configuration;
//! 3 finished, but some input was rejected or some source failed.

pub mod corpus;
pub mod demo;
pub mod eval;
pub mod fixture_server;
pub mod forecast_cli;
pub mod incidents_cli;
pub mod plan_cli;
pub mod region_cli;
pub mod streams;
pub mod users;

/// The stages and the service live in `glas-app`; the CLI is their front.
pub use glas_app::{ops, service};

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};
use glas_core::{Mention, Pipeline, config::ConfigErrors};

use ops::Ctx;

/// The pipeline `glas demo` runs, and the default when no `--pipeline` is given.
pub const DEMO_PIPELINE: &str = include_str!("../../../pipelines/demo.toml");

#[derive(Debug, Parser)]
#[command(name = "glas", version, about = "Public-opinion monitoring: crawl, enrich, search, analyse, alert")]
pub struct Cli {
    /// Where the store lives (overrides the pipeline's [storage] data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The pipeline file (default: the embedded demo pipeline).
    #[arg(long, global = true, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job on the embedded default: serve fixtures/, crawl, index, analyse, report, alert.
    Demo {
        /// Folder to serve (default: the repository's fixtures/).
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
    },
    /// Check a pipeline file and report every error with its line.
    Validate,
    /// One crawl round over every source, then a per-source summary.
    Crawl {
        /// Crawl once and exit (the only mode until `glas run`).
        #[arg(long)]
        once: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Crawl as of this moment (RFC 3339; default now): what stands in
        /// for a missing date, which own posts are still followed and when
        /// their engagement is captured.
        #[arg(long)]
        at: Option<DateTime<chrono::FixedOffset>>,
    },
    /// Bulk import of mention lines (JSON Lines).
    Import {
        file: PathBuf,
        /// Mentions written to the log together (a killed import keeps every
        /// batch written; the search index commits every 200,000).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Merge each day's log parts into one: faster analytics over a store
    /// written in many small rounds (`glas run` and `glas import` do it too).
    Compact,
    /// A consistent copy of the store (log, databases, state) and the
    /// pipeline file into a new folder, also while `glas run` writes.
    Backup {
        /// A new or empty folder.
        dir: PathBuf,
    },
    /// Erase mentions on a lawful request, everywhere they were copied: the
    /// log, the index, the signals' and the incidents' evidence and emails,
    /// the outbox, the weekly reports (made again). The erasure is recorded
    /// (`erasures.jsonl`: what, when, by whom, why; no content) and the ids
    /// are kept from coming back until the request is withdrawn.
    Erase {
        /// A mention's id (repeatable).
        #[arg(long = "id")]
        ids: Vec<String>,
        /// Every mention by this author: the name as stored, or its pseudonym (repeatable).
        #[arg(long = "author")]
        authors: Vec<String>,
        /// The mention at this address (repeatable).
        #[arg(long = "url")]
        urls: Vec<String>,
        /// The request's number and ground (required).
        #[arg(long, default_value = "")]
        reason: String,
        /// Who carries it out (default: the login name).
        #[arg(long)]
        by: Option<String>,
        /// Say what would be erased; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Withdraw an earlier request (its number, E-…): its ids may be stored again.
        #[arg(long, conflicts_with_all = ["ids", "authors", "urls", "dry_run"])]
        withdraw: Option<String>,
        /// List the erasure record.
        #[arg(long, conflicts_with_all = ["ids", "authors", "urls", "dry_run", "withdraw"])]
        list: bool,
    },
    /// The pipeline's `[retention]`: pseudonymise authors and delete old
    /// mentions now (`glas run` does it daily).
    Retention {
        #[command(subcommand)]
        action: RetentionAction,
    },
    /// Restore a backup into the pipeline's data dir (or `--data`), which
    /// must be new or empty; the search index is rebuilt.
    Restore {
        /// The folder `glas backup` wrote.
        dir: PathBuf,
    },
    /// Mention lines on stdin → enrichment lines on stdout, same order.
    Classify {
        /// Add the terms that drove the sentiment (`explain` field).
        #[arg(long)]
        explain: bool,
    },
    /// Search mentions. Query language: words (all must match, any case form),
    /// OR, NOT/-word, "phrase", "phrase"~3, prefix*, (groups), fields title: text:
    /// author: source: url:, filters sentiment: topic: place: type: lang:,
    /// date:[2026-11-01 TO 2026-11-07]. README has the full reference.
    Search {
        /// The query (empty: every mention).
        #[arg(default_value = "")]
        query: String,
        /// Only mentions of the last span: 7d, 24h, 90m.
        #[arg(long)]
        since: Option<String>,
        /// From this day (YYYY-MM-DD, district time), inclusive.
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Up to this day (YYYY-MM-DD, district time), inclusive.
        #[arg(long)]
        to: Option<NaiveDate>,
        #[command(flatten)]
        shown: Shown,
        /// Write every matching mention (not just a page) to FILE: .csv or
        /// .xlsx (Excel; XLSX up to 100,000 mentions) or .jsonl.
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
    },
    /// The workspace (web pages in Russian, behind a login) and the HTTP API
    /// (search, facets, mentions, export, saved searches; OpenAPI at
    /// /api/openapi.json). Accounts: `glas user add`; scripts: `glas token create`.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Time limit of one search request, in seconds.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// The overview's panels (default: the built-in dashboards/overview.toml).
        #[arg(long, value_name = "FILE")]
        overview: Option<PathBuf>,
        /// Another district's pipeline whose store the API's regional
        /// search (`/api/region/search`) reads too (repeatable).
        #[arg(long, value_name = "FILE")]
        district: Vec<PathBuf>,
        #[command(flatten)]
        web: WebArgs,
    },
    /// Write a synthetic corpus of Russian mentions for benchmarks (BENCHMARKS.md).
    GenCorpus {
        /// The JSON Lines file to write.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        count: usize,
        /// Span of publication times, ending 2026-11-25 21:00 MSK.
        #[arg(long, default_value_t = 60)]
        days: i64,
        /// Number of distinct sources.
        #[arg(long, default_value_t = 120)]
        sources: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Folder with the public sentiment datasets (used when present).
        #[arg(long, default_value = "../shared/data")]
        datasets: PathBuf,
    },
    /// Replay mention lines through enrichment and the detector, as if live at every step.
    Replay {
        /// Mention lines (JSON Lines).
        #[arg(long)]
        input: PathBuf,
        /// Time between two evaluations: 15m, 1h, 1d (default: the
        /// pipeline's `[signals] step`, 15m unless set).
        #[arg(long)]
        step: Option<String>,
        /// Where to write signal lines (`-` for stdout).
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
    /// Rebuild the search index from the store of record.
    Reindex,
    /// The pipeline's effective taxonomy, in the format of `[[topics]]`.
    Topics,
    /// The source-health ledger: last success, last mention, rate, failures.
    Sources {
        /// Judge silence as of this moment (RFC 3339; default now).
        #[arg(long)]
        at: Option<DateTime<chrono::FixedOffset>>,
        /// Output JSON.
        #[arg(long)]
        json: bool,
    },
    /// Daily aggregates and signals over the store.
    Analyze {
        /// Evaluate as of this moment (RFC 3339; default now).
        #[arg(long)]
        at: Option<DateTime<chrono::FixedOffset>>,
        /// How far back to look for signals.
        #[arg(long, default_value = "7d")]
        lookback: String,
        /// Also deliver alerts for new signals.
        #[arg(long)]
        alert: bool,
        /// Recompute every aggregate and every signal over the whole store
        /// (read with polars from the log), with timings.
        #[arg(long, conflicts_with = "alert")]
        full: bool,
    },
    /// A labelled month of a district's mentions (scenario generator): mention
    /// lines plus the ground truth of what was injected.
    Scenario {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Folder to write `mentions.jsonl`, `enrichment.jsonl` and `truth.json` to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Accuracy of enrichment on labelled data (development data, not shipped).
    Eval {
        #[command(subcommand)]
        what: EvalKind,
    },
    /// Workspace accounts: add, list, disable, change a password.
    User {
        #[command(subcommand)]
        what: users::UserCmd,
    },
    /// API tokens for scripts (`Authorization: Bearer TOKEN`): create, list, revoke.
    Token {
        #[command(subcommand)]
        what: users::TokenCmd,
    },
    /// Train a model of the project from public data (development data, not shipped).
    Train {
        #[command(subcommand)]
        what: TrainKind,
    },
    /// The service: crawls each source on its interval, then analyses,
    /// alerts and sends digests; makes and emails the weekly report on the
    /// pipeline's schedule. Stops cleanly on SIGINT/SIGTERM.
    Run {
        /// Serve the workspace (as `glas serve` does), /metrics (Prometheus)
        /// and /healthz here, e.g. 127.0.0.1:8080.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// The overview's panels (default: the built-in dashboards/overview.toml).
        #[arg(long, value_name = "FILE")]
        overview: Option<PathBuf>,
        /// Time limit of one of the workspace's search requests, in seconds.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// Rehearsal: start the service's clock at this moment (RFC 3339)
        /// instead of now; schedules and analysis follow that clock.
        #[arg(long, value_name = "TIME")]
        clock_start: Option<DateTime<chrono::FixedOffset>>,
        /// Rehearsal: run the service's clock this many times faster than real time.
        #[arg(long, default_value_t = 1.0)]
        clock_speed: f64,
        #[command(flatten)]
        web: WebArgs,
    },
    /// A worker of a region over NATS JetStream: `crawl`, `enrich` or
    /// `store` (the district's single writer). Any number of each, on any
    /// machines; see deploy/region/.
    Worker {
        #[command(subcommand)]
        role: region_cli::Role,
    },
    /// Across a region's districts: `search`.
    Region {
        #[command(subcommand)]
        what: region_cli::RegionCmd,
    },
    /// Incidents: residents' problems routed to the services with deadlines.
    /// Without a subcommand, the list (`--status`, `--service`, `--overdue`,
    /// `--json`); `show ID`, `set ID --status S`, `kpi --week|--month`.
    Incidents {
        #[command(subcommand)]
        what: Option<incidents_cli::IncidentCmd>,
        /// Only this status: new, assigned, in_work, answered, resolved, postponed, rejected.
        #[arg(long)]
        status: Option<String>,
        /// Only this service.
        #[arg(long)]
        service: Option<String>,
        /// Only incidents past a deadline.
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        json: bool,
    },
    /// The media plan: import the press office's CSV or XLSX, list a week,
    /// hold it against what the own channels (`own = true`) published.
    Plan {
        #[command(subcommand)]
        what: plan_cli::PlanCmd,
    },
    /// Reports.
    Report {
        #[command(subcommand)]
        kind: ReportKind,
    },
    /// The outlook: complaint-or-negative stories forecast per topic ×
    /// settlement, topic and district for the days ahead, with 80 %
    /// intervals (DATA/analytics/forecast.csv and .parquet); or any
    /// `date,key,count` series with --series.
    Forecast(forecast_cli::ForecastArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SortArg {
    Relevance,
    Date,
}

#[derive(Debug, Subcommand)]
pub enum EvalKind {
    /// Sentiment macro-F1 on tweets (RuSentiTweet) and news sentences (RuSentNE-2023).
    Sentiment {
        /// The folder holding `sentiment/rusentitweet/` and `sentiment/rusentne2023/`.
        #[arg(long, default_value = "../shared/data")]
        datasets: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Complaints and topics on public data glas did not write (appeals,
    /// news and tweets), then sentiment, type, topics and places on a
    /// hand-labelled set.
    Enrichment {
        /// The folder holding `appeals_kursk/` and `sentiment/` (skipped,
        /// with a note, when it is not there).
        #[arg(long, default_value = "../shared/data")]
        datasets: PathBuf,
        /// TSV: sentiment, type, topics, places, genre, text.
        #[arg(long, default_value = "fixtures/labelled/municipal.tsv")]
        labelled: PathBuf,
        /// Also list every disagreement.
        #[arg(long)]
        misses: bool,
        #[arg(long)]
        json: bool,
    },
    /// The outlook's rolling-origin backtest: MASE against the weekly
    /// seasonal naive and 80 % interval coverage, for the baselines and the
    /// chosen method, on generated districts or a `date,key,count` CSV.
    Forecast(forecast_cli::EvalArgs),
    /// The signal detector on generated scenarios: recall, false alarms per
    /// week, lead time; beside the plain mean + 3σ detector.
    Signals {
        /// Seeds: "1-20" or "1,5,9".
        #[arg(long, default_value = "1-20")]
        seeds: String,
        /// Streams made of real residents' appeals (public data under
        /// --datasets), enriched by glas, instead of the generated scenarios.
        #[arg(long)]
        appeals: bool,
        /// The folder holding `appeals_kursk/` and `sentiment/` (for --appeals).
        #[arg(long, default_value = "../shared/data")]
        datasets: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrainKind {
    /// The sentiment model, from RuSentiTweet and RuSentNE-2023.
    Sentiment {
        /// The folder holding `sentiment/rusentitweet/` and `sentiment/rusentne2023/`.
        #[arg(long, default_value = "../shared/data")]
        datasets: PathBuf,
        /// Where to write the model.
        #[arg(long, default_value = "crates/glas-nlp/data/sentiment/model.bin")]
        out: PathBuf,
    },
    /// The complaint and topic model, from residents' appeals, news and tweets.
    Enrichment {
        /// The folder holding `appeals_kursk/` and `sentiment/`.
        #[arg(long, default_value = "../shared/data")]
        datasets: PathBuf,
        /// Where to write the model.
        #[arg(long, default_value = "crates/glas-nlp/data/enrichment/model.bin")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportKind {
    /// The weekly tension report: HTML, PDF (A4) and XLSX, in reports/ of the data dir.
    Weekly {
        /// ISO week, e.g. 2026-W47 (default: the current week).
        #[arg(long)]
        week: Option<String>,
        /// Report layout (default: the built-in dashboards/weekly.toml).
        #[arg(long, value_name = "FILE")]
        dashboard: Option<PathBuf>,
    },
}

/// A usage or configuration error: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

/// What a search shows: order, page, reprints, facets, JSON (`glas search`,
/// `glas region search`).
#[derive(clap::Args, Debug)]
pub struct Shown {
    /// Order: relevance or date (newest first).
    #[arg(long, value_enum, default_value_t = SortArg::Relevance)]
    sort: SortArg,
    /// Same as --sort date.
    #[arg(long, hide = true)]
    by_date: bool,
    /// Hits per page.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    page: usize,
    /// Show every reprint instead of one hit per reprint cluster.
    #[arg(long)]
    all_reprints: bool,
    /// Also count hits per source, topic, place, sentiment, type and day.
    #[arg(long)]
    facets: bool,
    /// Output JSON.
    #[arg(long)]
    pub json: bool,
}

impl Shown {
    /// The search of `query` within `since`..`until`, shown this way.
    pub fn request(
        &self,
        query: &str,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        tz: chrono_tz::Tz,
    ) -> glas_store::SearchRequest {
        glas_store::SearchRequest {
            query: query.to_string(),
            since,
            until,
            tz,
            sort: if self.by_date || matches!(self.sort, SortArg::Date) {
                glas_store::Sort::Date
            } else {
                glas_store::Sort::Relevance
            },
            offset: self.page.saturating_sub(1) * self.limit,
            limit: self.limit.clamp(1, glas_store::search::MAX_PAGE),
            collapse: !self.all_reprints,
            facets: self.facets,
            after_seq: None,
            // A terminal's user reads the count; the API may trade it for speed.
            exact_total: true,
        }
    }
}

/// How the workspace listens: TLS directly, or behind a proxy.
#[derive(clap::Args, Debug)]
pub struct WebArgs {
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM), readable by the service alone.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A reverse proxy whose X-Forwarded-For names the client in the audit log (repeatable).
    #[arg(long, value_name = "IP")]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Seconds a client has to send a request's headers (and finish a TLS handshake).
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
}

impl WebArgs {
    fn options(&self) -> anyhow::Result<glas_web::serve::ServeOptions> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                if let Some(why) = ops::exposed_secret(key) {
                    return Err(usage(format!("--tls-key {why}")));
                }
                Some(glas_web::serve::tls_config(cert, key).map_err(usage)?)
            }
            _ => None,
        };
        Ok(glas_web::serve::ServeOptions {
            tls,
            header_timeout: std::time::Duration::from_secs(self.header_timeout.max(1)),
            trusted_proxies: self.trusted_proxy.clone(),
        })
    }

    fn scheme(&self) -> &'static str {
        if self.tls_cert.is_some() { "https" } else { "http" }
    }
}

#[derive(Subcommand, Debug)]
pub enum RetentionAction {
    /// Apply it now.
    Apply {
        /// Say what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// "2023-01-01 … 2026-09-08 (12 days)", or "none".
fn days_span(days: &[chrono::NaiveDate]) -> String {
    match (days.first(), days.last()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a} … {b} ({} days)", days.len()),
        _ => "none".into(),
    }
}

/// `glas erase --list`: the erasure record, one request a line.
fn erasure_list(ctx: &glas_app::ops::Ctx) -> anyhow::Result<ExitCode> {
    use glas_store::privacy::ErasureLine;
    let lines = glas_store::privacy::erasures(&ctx.data_dir)?;
    if lines.is_empty() {
        println!("no erasures recorded");
    }
    for l in lines {
        match l {
            ErasureLine::Erased(e) => {
                let kinds: Vec<&str> = e.criteria.iter().map(|c| c.kind.as_str()).collect();
                println!(
                    "{}  {}  by {}  {} mentions ({})  reason: {}",
                    e.request,
                    e.at.format("%Y-%m-%d %H:%M UTC"),
                    e.by,
                    e.ids.len(),
                    kinds.join(", "),
                    e.reason
                );
            }
            ErasureLine::Withdrawn { request, at, by, reason } => {
                println!("{request}  withdrawn {}  by {by}  reason: {reason}", at.format("%Y-%m-%d %H:%M UTC"));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A refused or damaged backup is the user's to fix (exit 2); a failed
/// read or write is a failure (exit 1).
fn backup_error(e: glas_store::backup::BackupError) -> anyhow::Error {
    use glas_store::backup::BackupError;
    match e {
        BackupError::Refused(_) | BackupError::Damaged { .. } => usage(e.to_string()),
        e => anyhow::Error::new(e),
    }
}

pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// Maps an error to the documented exit code.
pub fn exit_code_for(e: &anyhow::Error) -> ExitCode {
    if e.downcast_ref::<UsageError>().is_some() || e.downcast_ref::<ConfigErrors>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

/// Folder the repository's `pipelines/` would be in, for resolving the embedded pipeline.
pub(crate) fn repo_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if here.join("pipelines").is_dir() { here } else { std::env::current_dir().unwrap_or_default() }
}

/// The embedded demo pipeline, its sources at `fixtures_url` (or, when `None`,
/// at `$GLAS_FIXTURES_URL` or the default the file gives).
pub fn demo_pipeline(fixtures_url: Option<&str>) -> Result<Pipeline, ConfigErrors> {
    let dir = repo_dir().join("pipelines");
    let vars = |name: &str| match (name, fixtures_url) {
        ("GLAS_FIXTURES_URL", Some(url)) => Some(url.to_string()),
        _ => std::env::var(name).ok(),
    };
    Pipeline::parse_with_vars(DEMO_PIPELINE, &dir.join("demo.toml"), &dir, &vars)
}

pub fn load_ctx(cli: &Cli) -> anyhow::Result<Ctx> {
    let pipeline = match &cli.pipeline {
        Some(p) => load_pipeline(p)?,
        None => demo_pipeline(None)?,
    };
    Ok(Ctx::new(pipeline, cli.data.as_deref()))
}

/// Loads a pipeline and checks what the crawler alone can check (selectors),
/// reporting every error together.
pub fn load_pipeline(path: &Path) -> Result<Pipeline, ConfigErrors> {
    let p = Pipeline::load(path)?;
    let errors = glas_crawl::validate(&p.sources);
    if errors.is_empty() { Ok(p) } else { Err(ConfigErrors(errors)) }
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Demo { fixtures } => demo::run(cli.data.as_deref(), fixtures.as_deref()).await,
        Command::Validate => {
            let path = cli.pipeline.as_ref().ok_or_else(|| usage("validate needs --pipeline FILE"))?;
            let p = load_pipeline(path)?;
            let incidents = match &p.incidents {
                Some(i) => {
                    let mut services: Vec<&str> = i.routing.iter().map(|r| r.service.as_str()).collect();
                    services.sort_unstable();
                    services.dedup();
                    format!("incidents routed to {} services", services.len())
                }
                None => "no incidents".to_string(),
            };
            println!(
                "{}: ok — {} sources, {} settlements, {} saved searches, alerts {}, weekly report {} {}, {incidents}",
                path.display(),
                p.sources.len(),
                p.places.len(),
                p.searches.len(),
                if p.alerts.is_some() { "configured" } else { "not configured" },
                p.report.weekday,
                p.report.at.format("%H:%M")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Crawl { once, json, at } => {
            if !once {
                return Err(usage("continuous crawling comes with `glas run`; use `glas crawl --once`"));
            }
            let ctx = load_ctx(&cli)?;
            let mut store = ctx.open_store()?;
            let mut enricher = ops::Enricher::new(&ctx, &store)?;
            let baseline = store.indexed_seq()?;
            let at = at.map_or_else(Utc::now, |t| t.with_timezone(&Utc));
            let summaries =
                ops::crawl_sources(&ctx, &mut store, &mut enricher, &ctx.pipeline.sources, None, at).await?;
            let digests = ops::deliver_digests(&ctx, &store, baseline).await?;
            if *json {
                // stdout stays the per-source summary; digests go to stderr.
                println!("{}", serde_json::to_string_pretty(&summaries)?);
                for d in &digests {
                    eprintln!("{d}");
                }
            } else {
                print_crawl_summary(&summaries);
                print_digests(&digests);
            }
            let failed = summaries.iter().any(|s| !s.errors.is_empty())
                || digests.iter().any(|d| d.status.starts_with("failed"));
            Ok(if failed { ExitCode::from(3) } else { ExitCode::SUCCESS })
        }
        Command::Import { file, batch } => {
            let ctx = load_ctx(&cli)?;
            let mut store = ctx.open_store()?;
            let mut enricher = ops::Enricher::new(&ctx, &store)?;
            let s = ops::import_file(&mut store, &mut enricher, file, (*batch).max(1))?;
            for e in &s.errors {
                eprintln!("{}:{}: rejected: {}", file.display(), e.line, e.reason);
            }
            // A bulk import writes a part per batch and day: merge them.
            store.compact(None)?;
            let expired = if s.expired > 0 {
                format!(" · older than the retention period {}", s.expired)
            } else {
                String::new()
            };
            println!("imported {} · duplicate {} · rejected {}{expired}", s.imported, s.duplicate, s.rejected);
            Ok(if s.rejected > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
        }
        Command::Compact => {
            let ctx = load_ctx(&cli)?;
            let mut store = ctx.open_store()?;
            let before = store.log().parts()?.len();
            let (merged, written) = store.compact(None)?;
            println!("log parts: {before} → {} ({merged} merged into {written})", before - merged + written);
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { dir } => {
            let ctx = load_ctx(&cli)?;
            let started = std::time::Instant::now();
            let m = glas_store::backup::backup(&ctx.data_dir, cli.pipeline.as_deref(), dir, env!("CARGO_PKG_VERSION"))
                .map_err(backup_error)?;
            let bytes: u64 = m.files.values().map(|f| f.bytes).sum();
            println!(
                "backup of '{}' in '{}': {} files, {} log parts, {:.1} MB in {:.1} s (the index is rebuilt at restore)",
                ctx.data_dir.display(),
                dir.display(),
                m.files.len(),
                m.parts,
                bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Erase { ids, authors, urls, reason, by, dry_run, withdraw, list } => {
            let ctx = load_ctx(&cli)?;
            let by = by.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".into());
            if *list {
                return erasure_list(&ctx);
            }
            let req = glas_app::privacy::EraseRequest {
                ids: ids.clone(),
                authors: authors.clone(),
                urls: urls.clone(),
                by,
                reason: reason.clone(),
            };
            if withdraw.is_none()
                && (req.reason.trim().is_empty() || (ids.is_empty() && authors.is_empty() && urls.is_empty()))
            {
                return Err(usage("name what to erase (--id, --author, --url) and why (--reason)"));
            }
            let mut store = match glas_store::Store::open(&ctx.data_dir) {
                Ok(mut store) => {
                    glas_app::privacy::prepare(&ctx, &mut store)?;
                    store
                }
                Err(glas_store::StoreError::Locked { .. }) if withdraw.is_none() && !*dry_run => {
                    // `glas run` holds the store: it carries the request out at its next check.
                    let file = glas_app::privacy::queue(&ctx, &req, Utc::now())?;
                    println!(
                        "the service holds the store: the request is queued ('{}') and carried out within a minute; `glas erase --list` shows it when done",
                        file.display()
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("cannot open the store in '{}'", ctx.data_dir.display()))
                    );
                }
            };
            if let Some(request) = withdraw {
                let n = glas_app::privacy::withdraw(&ctx, &mut store, request, &req.by, reason)
                    .map_err(|e| usage(format!("{e:#}")))?;
                users::audit(&ctx.data_dir, "erasure_withdrawn", serde_json::json!({"request": request}))?;
                println!("erasure request {request} withdrawn: its {n} ids may be stored again");
                return Ok(ExitCode::SUCCESS);
            }
            let out = glas_app::privacy::erase(&ctx, &mut store, &req, Utc::now(), *dry_run)?;
            for id in &out.not_stored {
                eprintln!("not in the store (blocked from being stored all the same): {id}");
            }
            if *dry_run {
                println!(
                    "would erase {} mentions ({} log parts, days {}); nothing changed",
                    out.found,
                    out.log.parts,
                    days_span(&out.log.days)
                );
                return Ok(ExitCode::SUCCESS);
            }
            let copies: Vec<String> =
                out.erasure.removed.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{k} {n}")).collect();
            println!(
                "erasure {}: {} mentions erased from the log ({} parts) and the index; other copies: {}; recorded in '{}'",
                out.erasure.request,
                out.log.removed,
                out.log.parts,
                if copies.is_empty() { "none".to_string() } else { copies.join(", ") },
                ctx.data_dir.join(glas_store::privacy::ERASURES).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Retention { action: RetentionAction::Apply { dry_run } } => {
            let ctx = load_ctx(&cli)?;
            if ctx.pipeline.retention.is_off() {
                return Err(usage("the pipeline has no [retention]: nothing to apply"));
            }
            let mut store = ctx.open_store()?;
            let out = glas_app::privacy::apply_retention(&ctx, &mut store, Utc::now(), *dry_run)?;
            let when = |d: Option<chrono::NaiveDate>| d.map_or("off".to_string(), |d| format!("before {d}"));
            println!(
                "{}: authors pseudonymised {} (published {}), mentions deleted {} (published {}); {} log parts, days {}",
                if *dry_run { "retention, dry run (nothing changed)" } else { "retention applied" },
                out.log.pseudonymised,
                when(out.pseudonymise_before),
                out.log.removed,
                when(out.delete_before),
                out.log.parts,
                days_span(&out.log.days)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { dir } => {
            let ctx = load_ctx(&cli)?;
            let started = std::time::Instant::now();
            let m = glas_store::backup::restore(dir, &ctx.data_dir).map_err(backup_error)?;
            let store = ctx.open_store()?;
            println!(
                "restored the backup of {} ({} files, {} log parts) into '{}': {} mentions, index rebuilt, {:.1} s",
                m.finished,
                m.files.len(),
                m.parts,
                ctx.data_dir.display(),
                store.len()?,
                started.elapsed().as_secs_f64()
            );
            if m.files.contains_key(glas_store::backup::PIPELINE) {
                println!("the pipeline it was taken with: '{}'", dir.join(glas_store::backup::PIPELINE).display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Classify { explain } => classify(&cli, *explain),
        Command::Search { query, since, from, to, shown, export } => {
            let ctx = load_ctx(&cli)?;
            let since_arg = since.clone();
            let store = ctx.open_store_reader()?;
            let tz = ctx.tz();
            let (since, until) =
                glas_store::time_window(since.as_deref(), *from, *to, tz, Utc::now()).map_err(usage)?;
            let req = shown.request(query, since, until, tz);
            let query_error = |e: glas_store::StoreError| match e {
                glas_store::StoreError::Query(q) => usage(format!("{q}\n{}", q.pointer(query))),
                e => e.into(),
            };
            if let Some(path) = export {
                let format =
                    path.extension().and_then(|e| e.to_str()).and_then(glas_store::ExportFormat::parse).ok_or_else(
                        || usage(format!("--export {}: name the file .csv, .xlsx or .jsonl", path.display())),
                    )?;
                let file =
                    std::fs::File::create(path).with_context(|| format!("cannot create '{}'", path.display()))?;
                let mut out = std::io::BufWriter::new(file);
                let written = glas_store::export::write(&store, &req, format, &mut out, None)
                    .map_err(query_error)
                    .and_then(|n| out.flush().map(|_| n).with_context(|| format!("cannot write '{}'", path.display())));
                // No half-written file is left behind to be taken for a whole one.
                let n = written.inspect_err(|_| {
                    let _ = std::fs::remove_file(path);
                })?;
                users::audit(
                    &ctx.data_dir,
                    "export",
                    serde_json::json!({
                        "q": query, "since": since_arg, "format": format.extension(), "count": n,
                        "file": path.display().to_string(), "authors": "names",
                    }),
                )?;
                println!("Выгружено: {} → {}", glas_core::ru::mentions(n as u64), path.display());
                return Ok(ExitCode::SUCCESS);
            }
            let res = store.search(&req).map_err(query_error)?;
            if shown.json {
                println!("{}", serde_json::to_string_pretty(&res)?);
            } else {
                print_hits(&res, std::io::stdout().is_terminal());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { addr, timeout, overview, district, web } => {
            let ctx = load_ctx(&cli)?;
            let serve_options = web.options()?;
            let overview = ops::overview(overview.as_deref()).map_err(|e| usage(format!("{e:#}")))?;
            let mut state = ops::workspace(ctx, overview, std::time::Duration::from_secs((*timeout).max(1)))?;
            state.region = region_cli::regional_view(&cli, district)?;
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            println!(
                "glas workspace on {}://{} (log in at /login; API: /api/openapi.json); Ctrl-C stops",
                web.scheme(),
                listener.local_addr()?
            );
            let app = glas_web::router(std::sync::Arc::new(state));
            glas_web::serve::serve(listener, app, serve_options, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::GenCorpus { out, count, days, sources, seed, datasets } => {
            let ctx = load_ctx(&cli)?;
            let opts = corpus::Options {
                count: *count,
                days: *days,
                sources: *sources,
                seed: *seed,
                datasets: datasets.join("sentiment").exists().then(|| datasets.clone()),
                end: DateTime::parse_from_rfc3339("2026-11-25T21:00:00+03:00").expect("valid"),
            };
            let started = std::time::Instant::now();
            let s = corpus::write_file(&opts, &ctx.pipeline, out)?;
            println!(
                "wrote {} mentions to {} in {:.1}s (pools: {} tweets, {} news sentences, {} municipal posts)",
                s.mentions,
                out.display(),
                started.elapsed().as_secs_f64(),
                s.tweets_pool,
                s.news_pool,
                s.municipal_pool
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { input, step, out } => {
            let ctx = load_ctx(&cli)?;
            let step_d = match step {
                Some(step) => glas_core::config::parse_duration(step)
                    .ok_or_else(|| usage(format!("--step {step:?} is not a span (examples: 15m, 1h, 1d)")))?,
                None => ctx.pipeline.signals.step,
            };
            let started = std::time::Instant::now();
            let r = ops::replay(&ctx, input, step_d)?;
            for e in &r.rejected {
                eprintln!("{}:{}: rejected: {}", input.display(), e.line, e.reason);
            }
            let text = ops::signal_lines(&r.signals);
            if out.as_os_str() == "-" {
                print!("{text}");
            } else {
                std::fs::write(out, &text).with_context(|| format!("cannot write '{}'", out.display()))?;
            }
            let steps = (r.to - r.from).num_seconds() / step_d.num_seconds().max(1);
            eprintln!(
                "replayed {} mentions at {steps} steps of {} ({} to {}): {} signals in {:.1}s (enrichment {:.1}s, detector {:.2}s)",
                r.mentions,
                glas_analytics::signals::format_window(step_d),
                r.from.with_timezone(&ctx.tz()).format("%Y-%m-%d %H:%M"),
                r.to.with_timezone(&ctx.tz()).format("%Y-%m-%d %H:%M"),
                r.signals.len(),
                started.elapsed().as_secs_f64(),
                r.enrich_time.as_secs_f64(),
                r.detect_time.as_secs_f64()
            );
            Ok(if r.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }
        Command::Topics => {
            let ctx = load_ctx(&cli)?;
            print!("{}", topics_toml(&ctx.pipeline.topics));
            Ok(ExitCode::SUCCESS)
        }
        Command::Sources { at, json } => {
            let ctx = load_ctx(&cli)?;
            let store = ctx.open_store_reader()?;
            let at = at.map_or_else(Utc::now, |t| t.with_timezone(&Utc));
            let ledger = ops::source_health(&ctx, &store, at)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&ledger)?);
            } else {
                print_ledger(&ledger, ctx.tz());
            }
            let flagged = ledger.iter().any(|h| {
                matches!(h.status, glas_analytics::health::Status::Silent | glas_analytics::health::Status::Failing)
            });
            Ok(if flagged { ExitCode::from(3) } else { ExitCode::SUCCESS })
        }
        Command::Reindex => {
            let ctx = load_ctx(&cli)?;
            let mut store = ctx.open_store()?;
            let n = store.reindex()?;
            println!("reindexed {n} mentions from the log in '{}'", ctx.data_dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Analyze { full: true, at, .. } => {
            let ctx = load_ctx(&cli)?;
            let store = ctx.open_store()?;
            let at = at.map(|t| t.with_timezone(&Utc));
            let r = ops::recompute(&ctx, &store, at)?;
            let Some(t) = &r.trends else {
                println!("the store is empty: nothing to aggregate");
                return Ok(ExitCode::SUCCESS);
            };
            println!("read {} mentions from the log in {:.2}s", r.mentions, r.read_time.as_secs_f64());
            println!(
                "aggregates: {} hourly, {} daily, {} tension rows → {} ({:.2}s)",
                t.hourly_rows,
                t.daily_rows,
                t.tension_rows,
                t.hourly.parent().unwrap_or(Path::new("")).display(),
                r.aggregate_time.as_secs_f64()
            );
            println!(
                "signals: {} → {} (detector input {:.2}s, detector {:.2}s); total {:.2}s",
                r.signals.len(),
                r.signals_path.display(),
                r.build_time.as_secs_f64(),
                r.detect_time.as_secs_f64(),
                r.total.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Analyze { at, lookback, alert, .. } => {
            let ctx = load_ctx(&cli)?;
            let store = ctx.open_store()?;
            let at = at.map_or_else(Utc::now, |t| t.with_timezone(&Utc));
            let lookback = glas_core::config::parse_duration(lookback)
                .ok_or_else(|| usage(format!("--lookback {lookback:?} is not a span")))?;
            let a = ops::analyze(&ctx, &store, at, lookback)?;
            if let Some(d) = &a.daily {
                println!(
                    "daily aggregates over {} days: {} and {}",
                    d.days,
                    d.by_source.display(),
                    d.by_topic.display()
                );
            } else {
                println!("the store is empty: nothing to aggregate");
            }
            println!("{} signals → {}", a.signals.len(), a.signals_path.display());
            for s in &a.signals {
                println!("  {}", glas_alert::subject_with(s, &ctx.source_names()));
            }
            if *alert {
                print_alert_report(
                    ops::deliver_alerts(&ctx, &a.signals, &a.evidence).await?.as_ref(),
                    &ctx.source_names(),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Scenario { seed, out } => {
            let sc = glas_analytics::scenario::generate(*seed);
            ops::write_scenario(&sc, out)?;
            println!(
                "scenario {seed}: {} mentions from {} to {}, {} injected ({} incidents) → {}",
                sc.records.len(),
                sc.start.format("%Y-%m-%d"),
                sc.end.format("%Y-%m-%d"),
                sc.injected.len(),
                sc.injected.iter().filter(|i| i.incident).count(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval { what: EvalKind::Signals { seeds, appeals, datasets, json } } => {
            let ctx = load_ctx(&cli)?;
            let seeds = parse_seeds(seeds).ok_or_else(|| usage(format!("--seeds {seeds:?}: write 1-20 or 1,5,9")))?;
            let (ev, places) = if *appeals {
                let (ev, places) = streams::evaluate(&seeds, datasets, &ctx)?;
                (ev, Some(places))
            } else {
                (glas_analytics::evaluate::evaluate(&seeds, &ctx.pipeline.signals), None)
            };
            if let Some(p) = places.filter(|_| !*json) {
                println!(
                    "settlements in the streams' texts: {} posts name one, found {} (recall {:.3}); {} found that the text does not name (precision {:.3}); {} posts in all",
                    p.named,
                    p.found,
                    p.recall(),
                    p.wrong,
                    p.precision(),
                    p.posts
                );
            }
            if *json {
                println!("{}", eval::signals_json(&ev));
            } else {
                eval::print_signals(&ev);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval { what: EvalKind::Sentiment { datasets, json } } => {
            let ctx = load_ctx(&cli)?;
            let results = eval::sentiment(datasets, &ctx.analyzer())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&results)?);
            } else {
                eval::print(&results);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval { what: EvalKind::Enrichment { datasets, labelled, misses, json } } => {
            let ctx = load_ctx(&cli)?;
            let analyzer = ctx.analyzer();
            let public = if datasets.join("appeals_kursk").is_dir() {
                Some(glas_nlp::public::evaluate(&analyzer, datasets).context("cannot measure on the public data")?)
            } else {
                eprintln!("note: '{}' has no appeals_kursk/: public figures skipped", datasets.display());
                None
            };
            let items = glas_nlp::labelled::read(labelled)?;
            let report = glas_nlp::labelled::evaluate(&analyzer, &items);
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"public": public, "labelled": report}))?
                );
            } else {
                if let Some(p) = &public {
                    eval::print_public(p);
                    println!("\nhand-labelled set ({}), written for glas:", labelled.display());
                }
                print_enrichment_report(&report, *misses);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::User { what } => users::user(&load_ctx(&cli)?, what),
        Command::Plan { what } => plan_cli::run(&load_ctx(&cli)?, what),
        Command::Forecast(args) => forecast_cli::run(args, || load_ctx(&cli)),
        Command::Eval { what: EvalKind::Forecast(args) } => forecast_cli::eval(args),
        Command::Incidents { what, status, service, overdue, json } => {
            incidents_cli::run(&load_ctx(&cli)?, what.as_ref(), status.as_deref(), service.as_deref(), *overdue, *json)
        }
        Command::Token { what } => users::token(&load_ctx(&cli)?.data_dir, what),
        Command::Train { what: TrainKind::Sentiment { datasets, out } } => {
            let started = std::time::Instant::now();
            let (results, trained) = eval::train_sentiment(datasets, out)?;
            println!(
                "trained on {} texts in {:.1} s; wrote '{}' ({} bytes); media negative score lowered by {}",
                trained.examples,
                started.elapsed().as_secs_f64(),
                out.display(),
                std::fs::metadata(out).map(|m| m.len()).unwrap_or(0),
                trained.media_shift
            );
            eval::print(&results);
            Ok(ExitCode::SUCCESS)
        }
        Command::Train { what: TrainKind::Enrichment { datasets, out } } => {
            let started = std::time::Instant::now();
            let (trained, public) = eval::train_enrichment(datasets, out)?;
            println!(
                "trained on {} texts in {:.1} s; wrote '{}' ({} bytes, {} features)",
                trained.examples,
                started.elapsed().as_secs_f64(),
                out.display(),
                std::fs::metadata(out).map(|m| m.len()).unwrap_or(0),
                trained.model.len()
            );
            let t: Vec<String> = trained.thresholds.iter().map(|(c, t)| format!("{c} {t:.2}")).collect();
            println!("thresholds (chosen on a held-out fifth of the training data): {}", t.join(", "));
            eval::print_public(&public);
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { listen, overview, timeout, clock_start, clock_speed, web } => {
            if !(*clock_speed > 0.0 && clock_speed.is_finite()) {
                return Err(usage("--clock-speed must be a positive number"));
            }
            let ctx = load_ctx(&cli)?;
            let overview = ops::overview(overview.as_deref()).map_err(|e| usage(format!("{e:#}")))?;
            let web = web.options()?;
            let exposed = ops::readable_secret_files(&ctx.pipeline);
            if !exposed.is_empty() {
                return Err(usage(exposed.join("\n")));
            }
            let clock = match clock_start {
                Some(t) => service::Clock::starting(t.with_timezone(&Utc), *clock_speed),
                None => service::Clock::starting(Utc::now(), *clock_speed),
            };
            let timeout = std::time::Duration::from_secs((*timeout).max(1));
            service::run(ctx, service::RunOptions { listen: *listen, overview, timeout, clock, web }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker { role } => region_cli::worker(&cli, role).await,
        Command::Region { what } => region_cli::region(&cli, what),
        Command::Report { kind: ReportKind::Weekly { week, dashboard } } => {
            let ctx = load_ctx(&cli)?;
            let store = ctx.open_store_reader()?;
            let week = match week {
                Some(w) => glas_report::IsoWeek::parse(w)
                    .ok_or_else(|| usage(format!("--week {w:?} is not an ISO week such as 2026-W47")))?,
                None => glas_report::IsoWeek::of(Utc::now().with_timezone(&ctx.tz()).date_naive()),
            };
            let dashboard = match dashboard {
                Some(f) => {
                    let text = std::fs::read_to_string(f).with_context(|| format!("cannot read '{}'", f.display()))?;
                    glas_report::Dashboard::parse(&text, &f.display().to_string()).map_err(|e| usage(e.to_string()))?
                }
                None => glas_report::Dashboard::default_weekly(),
            };
            let records = store.records()?;
            let files = ops::weekly_report(&ctx, &store, &records, week, &dashboard)?;
            println!(
                "weekly report for {week}:\n  {}\n  {}\n  {}",
                files.html.display(),
                files.pdf.display(),
                files.xlsx.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An f32 as the f64 a reader expects: 0.998, not 0.9980000257.
fn round3(x: f32) -> f64 {
    (f64::from(x) * 1000.0).round() / 1000.0
}

/// Topics as `[[topics]]` tables, ready to paste into a pipeline file.
fn topics_toml(topics: &[glas_core::config::TopicRule]) -> String {
    let list = |v: &[String]| {
        let items: Vec<String> = v.iter().map(|x| serde_json::Value::String(x.clone()).to_string()).collect();
        format!("[{}]", items.join(", "))
    };
    let mut out = String::new();
    for t in topics {
        let q = |x: &str| serde_json::Value::String(x.to_string()).to_string();
        out.push_str(&format!(
            "[[topics]]\ncode = {}\nname = {}\nwords = {}\nphrases = {}\nexclude = {}\n\n",
            q(&t.code),
            q(&t.name),
            list(&t.words),
            list(&t.phrases),
            list(&t.exclude)
        ));
    }
    out
}

fn print_enrichment_report(r: &glas_nlp::labelled::Report, misses: bool) {
    let class = |name: &str, c: &glas_nlp::labelled::ClassReport| {
        println!("{name}: {} items, macro-F1 {:.3}, accuracy {:.3}", c.items, c.macro_f1, c.accuracy);
        for s in &c.classes {
            println!("  {:<10} P {:.3}  R {:.3}  F1 {:.3}  (n={})", s.class, s.precision, s.recall, s.f1, s.support);
        }
    };
    class("sentiment", &r.sentiment);
    class("sentiment, social posts", &r.sentiment_social);
    class("sentiment, media", &r.sentiment_media);
    class("mention type", &r.mention_type);
    let t = &r.topics_micro;
    println!("topics (micro): P {:.3}  R {:.3}  F1 {:.3}", t.precision, t.recall, t.f1);
    for s in &r.topics {
        println!("  {:<15} P {:.3}  R {:.3}  F1 {:.3}  (n={})", s.label, s.precision, s.recall, s.f1, s.support);
    }
    let p = &r.places;
    println!(
        "places: P {:.3}  R {:.3}  F1 {:.3}  ({} right, {} wrong, {} missed)",
        p.precision, p.recall, p.f1, p.true_positives, p.false_positives, p.false_negatives
    );
    if misses {
        for m in &r.misses {
            println!("line {} {}: gold [{}] got [{}]  {}", m.line, m.field, m.gold, m.predicted, m.text);
        }
    }
}

fn classify(cli: &Cli, explain: bool) -> anyhow::Result<ExitCode> {
    let ctx = load_ctx(cli)?;
    let analyzer = ctx.analyzer();
    // Reprint clusters across the lines of this input.
    let mut neardup = glas_nlp::neardup::NearDup::new();
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut rejected = 0;
    for (i, line) in stdin.split(b'\n').enumerate() {
        let line = line.context("cannot read stdin")?;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        // One output line per input line keeps the order aligned even for bad lines.
        let value = match Mention::from_line(text, i + 1) {
            Ok(m) => {
                let kind =
                    m.id.split(':')
                        .next()
                        .filter(|p| ["rss", "tg", "vk"].contains(p))
                        .map_or("import", |p| if p == "tg" { "telegram" } else { p });
                let (mut e, why) = analyzer.enrich_explained(&m, kind);
                glas_nlp::assign_cluster(&mut neardup, &mut e, m.published_at.timestamp());
                let mut v = serde_json::to_value(&e)?;
                v["complaint_probability"] = serde_json::json!(round3(why.complaint));
                if explain {
                    v["explain"] = serde_json::json!({
                        "genre": why.genre,
                        "probabilities": {
                            "negative": round3(why.probabilities[0]),
                            "neutral": round3(why.probabilities[1]),
                            "positive": round3(why.probabilities[2]),
                        },
                        "sentiment": why.sentiment.iter()
                            .map(|c| serde_json::json!({"word": c.term, "weight": round3(c.weight)}))
                            .collect::<Vec<_>>(),
                        "topics": why.topics.iter()
                            .map(|t| serde_json::json!({"topic": t.code, "rule": t.rule, "matched": t.text}))
                            .collect::<Vec<_>>(),
                        "mention_type": why.mention_type,
                        "complaint": why.complaint_words.iter()
                            .map(|c| serde_json::json!({"word": c.term, "weight": round3(c.weight)}))
                            .collect::<Vec<_>>(),
                    });
                }
                v
            }
            Err(e) => {
                rejected += 1;
                eprintln!("stdin:{}: rejected: {}", e.line, e.reason);
                let id = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| v.get("id").cloned())
                    .unwrap_or(serde_json::Value::Null);
                serde_json::json!({"id": id, "error": format!("line {}: {}", e.line, e.reason)})
            }
        };
        writeln!(out, "{value}")?;
    }
    out.flush()?;
    Ok(if rejected > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

pub fn print_crawl_summary(summaries: &[ops::SourceSummary]) {
    let w = summaries.iter().map(|s| s.source.chars().count()).max().unwrap_or(6).max(6);
    println!(
        "{:<w$}  {:<9} {:<13} {:>7} {:>6} {:>6} {:>6}",
        "source", "type", "status", "fetched", "parsed", "new", "dup"
    );
    for s in summaries {
        println!(
            "{:<w$}  {:<9} {:<13} {:>7} {:>6} {:>6} {:>6}",
            s.source, s.kind, s.status, s.fetched, s.parsed, s.new, s.duplicate
        );
        for e in s.errors.iter().take(5) {
            println!("    error: {e}");
        }
        if s.errors.len() > 5 {
            println!("    … and {} more (crawl/failures.jsonl in the data dir)", s.errors.len() - 5);
        }
    }
    let (new, dup): (usize, usize) = summaries.iter().fold((0, 0), |a, s| (a.0 + s.new, a.1 + s.duplicate));
    let failed = summaries.iter().filter(|s| s.failed()).count();
    let partial = summaries.iter().filter(|s| s.status == "partial").count();
    println!("{} sources · {new} new · {dup} duplicate · {failed} failed · {partial} partial", summaries.len());
}

/// The source-health ledger as a table.
/// "1-20" or "1,5,9" (or both: "1-5,9").
fn parse_seeds(s: &str) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 10_000 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    (!out.is_empty()).then_some(out)
}

pub fn print_ledger(ledger: &[glas_analytics::health::SourceHealth], tz: chrono_tz::Tz) {
    let w = ledger.iter().map(|h| h.id.chars().count()).max().unwrap_or(6).max(6);
    println!(
        "{:<w$}  {:<9} {:<8} {:<17} {:<17} {:>7} {:>8} {:>5}",
        "source", "type", "status", "last success", "last mention", "/day 7d", "/day 30d", "fails"
    );
    let short = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or("—".to_string(), |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
    };
    for h in ledger {
        let last =
            h.last_mention.map_or("—".to_string(), |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string());
        println!(
            "{:<w$}  {:<9} {:<8} {:<17} {:<17} {:>7.1} {:>8.1} {:>5}",
            h.id,
            h.kind,
            h.status.as_str(),
            short(&h.last_success),
            last,
            h.per_day_7d,
            h.per_day_30d,
            h.consecutive_failures
        );
        if h.status != glas_analytics::health::Status::Ok
            && let Some(e) = &h.last_error
        {
            println!("    last error: {e}");
        }
    }
}

pub fn print_digests(digests: &[ops::DigestOutcome]) {
    for d in digests {
        println!("{d}");
    }
}

pub fn print_hits(res: &glas_store::SearchResults, color: bool) {
    use glas_core::ru;
    // What analysts read is in Russian.
    let first = if res.hits.is_empty() { 0 } else { res.offset + 1 };
    let folded =
        if res.hits.iter().any(|h| h.more_in_cluster > 0) { " (перепечатки свёрнуты)" } else { "" };
    println!(
        "Найдено: {} · показаны {}–{}{folded}",
        ru::found(res.total as u64, res.total_estimated),
        first,
        res.offset + res.hits.len()
    );
    for h in &res.hits {
        let date = h.published_at.get(..16).unwrap_or(&h.published_at).replace('T', " ");
        let mut tags = vec![ru::sentiment_label(&h.sentiment).to_string(), ru::type_label(&h.mention_type).to_string()];
        tags.extend(h.topics.iter().map(|t| glas_core::config::topic_name(t).to_string()));
        tags.extend(h.places.iter().cloned());
        println!("\n{date}  {}  [{}]", h.source, tags.join(" · "));
        if let Some(t) = &h.title {
            println!("  {}", mark(t, &h.title_highlights, color));
        }
        println!("  {}", mark(&h.snippet, &h.highlights, color).replace('\n', " "));
        if let Some(u) = &h.url {
            println!("  {u}");
        }
        if h.more_in_cluster > 0 {
            println!("  {} (cluster:{})", ru::and_more(h.more_in_cluster), h.cluster);
        }
    }
    if let Some(f) = &res.facets {
        println!();
        let line = |name: &str, counts: &[glas_store::FacetCount], label: &dyn Fn(&str) -> String| {
            if counts.is_empty() {
                return;
            }
            let items: Vec<String> =
                counts.iter().take(12).map(|c| format!("{} {}", label(&c.value), c.count)).collect();
            println!("{name}: {}", items.join(" · "));
        };
        line("Источники", &f.source, &|v| v.to_string());
        line("Темы", &f.topic, &|v| glas_core::config::topic_name(v).to_string());
        line("Места", &f.place, &|v| v.to_string());
        line("Тональность", &f.sentiment, &|v| ru::sentiment_label(v).to_string());
        line("Тип", &f.mention_type, &|v| ru::type_label(v).to_string());
        line("По дням", &f.day, &|v| v.to_string());
    }
}

/// Marks highlighted ranges: bold on a terminal, `**word**` otherwise.
fn mark(text: &str, ranges: &[(usize, usize)], color: bool) -> String {
    let (open, close) = if color { ("\x1b[1;33m", "\x1b[0m") } else { ("**", "**") };
    let mut out = String::with_capacity(text.len() + ranges.len() * 8);
    let mut pos = 0;
    for &(a, b) in ranges {
        if a < pos || b > text.len() || !text.is_char_boundary(a) || !text.is_char_boundary(b) {
            continue;
        }
        out.push_str(&text[pos..a]);
        out.push_str(open);
        out.push_str(&text[a..b]);
        out.push_str(close);
        pos = b;
    }
    out.push_str(&text[pos..]);
    out
}

pub fn print_alert_report(report: Option<&glas_alert::Report>, names: &std::collections::BTreeMap<String, String>) {
    let Some(r) = report else {
        println!("alerts: no [alerts] section in the pipeline; nothing sent");
        return;
    };
    for (s, d) in &r.sent {
        match d {
            glas_alert::Delivered::Smtp { to } => {
                println!("alert sent to {}: {}", to.join(", "), glas_alert::subject_with(s, names))
            }
            glas_alert::Delivered::Outbox { path } => {
                println!("alert written to {}: {}", demo::display(path), glas_alert::subject_with(s, names))
            }
        }
    }
    for (s, e) in &r.failed {
        println!("alert FAILED ({e}): {}", glas_alert::subject_with(s, names));
    }
    println!("alerts: {} sent, {} already sent earlier, {} failed", r.sent.len(), r.suppressed, r.failed.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_ranges() {
        assert_eq!(mark("нет воды в Заре", &[(7, 15)], false), "нет **воды** в Заре");
        assert_eq!(mark("abc", &[(1, 9)], false), "abc");
    }

    #[test]
    fn embedded_demo_pipeline_is_valid() {
        let p = demo_pipeline(Some("http://127.0.0.1:1")).unwrap();
        assert!(p.sources.len() >= 4);
        assert!(p.places.iter().any(|pl| pl.name == "Величаевское"));
    }
}
