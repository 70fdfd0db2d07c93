//! `glas worker crawl|enrich|store` and `glas region search`: a region's
//! districts over NATS JetStream (`glas-region`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use glas_region::District;

use crate::{Cli, Shown, WebArgs, load_pipeline, ops, usage};

#[derive(Debug, Subcommand)]
pub enum Role {
    /// Takes fetch jobs, fetches politely (one fetch of a host at a time
    /// across the region), publishes the mentions found.
    Crawl {
        #[command(flatten)]
        common: WorkerArgs,
        /// Jobs fetched at the same time by this worker.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Enriches fetched mentions and publishes them to their district's store.
    Enrich {
        #[command(flatten)]
        common: WorkerArgs,
        /// Mentions taken at once (this worker's in-flight limit).
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Threads enriching a batch (default: the machine's cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// The district's single writer: schedules its fetches, commits records
    /// to the log and index, runs analytics, alerts, digests, reports and,
    /// with --listen, the workspace, as `glas run` does.
    Store {
        #[command(flatten)]
        common: WorkerArgs,
        /// Records committed together at most (a commit waits 0.3 s for more).
        #[arg(long, default_value_t = 20000)]
        batch: usize,
        /// Seconds between two analyses while new mentions arrive.
        #[arg(long, default_value_t = 30)]
        analyse_every: u64,
        /// Seconds after which a fetch job that never ended is published again.
        #[arg(long, default_value_t = 1800)]
        job_timeout: u64,
        /// The overview's panels (default: the built-in dashboards/overview.toml).
        #[arg(long, value_name = "FILE")]
        overview: Option<PathBuf>,
        /// Time limit of one of the workspace's search requests, in seconds.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        #[command(flatten)]
        web: WebArgs,
    },
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The region's NATS server(s), comma-separated.
    #[arg(long, env = "GLAS_NATS", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Another district this crawl or enrich worker serves besides
    /// --pipeline (repeatable; the file's name is the district's id).
    #[arg(long, value_name = "FILE")]
    district: Vec<PathBuf>,
    /// Serve /metrics and /healthz here (a store writer also serves the workspace).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Seconds a message may stay unacknowledged before it goes to another worker.
    #[arg(long, default_value_t = 60)]
    ack_wait: u64,
    /// Bytes each stream may hold (when full, publishers wait: nothing is dropped).
    #[arg(long, default_value_t = 1 << 30)]
    stream_max_bytes: i64,
    /// Hours a message may wait in a stream before it is dropped.
    #[arg(long, default_value_t = 168)]
    stream_max_age_hours: u64,
    /// Minutes JetStream remembers message ids to drop re-publishes.
    #[arg(long, default_value_t = 30)]
    duplicate_window_minutes: u64,
    /// Copies of each stream in a nats-server cluster.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
}

#[derive(Debug, Subcommand)]
pub enum RegionCmd {
    /// One query across the districts' indexes: hits ranked together,
    /// facets summed, a district that fails reported.
    Search {
        /// The query, in the language of `glas search`.
        #[arg(default_value = "")]
        query: String,
        /// A district's pipeline (repeatable; also --pipeline).
        #[arg(long, value_name = "FILE")]
        district: Vec<PathBuf>,
        #[command(flatten)]
        shown: Shown,
    },
}

fn districts(cli: &Cli, more: &[PathBuf]) -> anyhow::Result<Vec<District>> {
    let mut files: Vec<&Path> = cli.pipeline.iter().map(PathBuf::as_path).collect();
    files.extend(more.iter().map(PathBuf::as_path));
    if files.is_empty() {
        return Err(usage("name the district's pipeline with --pipeline FILE (its file name is the district's id)"));
    }
    let mut out: Vec<District> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let pipeline = load_pipeline(f)?;
        // --data names the first district's data only.
        let data = if i == 0 { cli.data.as_deref() } else { None };
        let d = District::new(f, ops::Ctx::new(pipeline, data)).map_err(|e| usage(format!("{e:#}")))?;
        if out.iter().any(|o| o.id == d.id) {
            return Err(usage(format!("district '{}' is named twice", d.id)));
        }
        out.push(d);
    }
    Ok(out)
}

/// The other districts a workspace's regional search reads (`glas serve
/// --district`); none without `--district`.
pub fn regional_view(cli: &Cli, more: &[PathBuf]) -> anyhow::Result<Option<glas_web::RegionalView>> {
    if more.is_empty() {
        return Ok(None);
    }
    let mut all = districts(cli, more)?;
    let names = all.iter().map(|d| (d.id.clone(), d.ctx.pipeline.district.name.clone())).collect();
    let home = all.remove(0).id;
    Ok(Some(glas_web::RegionalView { home, others: glas_region::search::open(&all), names }))
}

impl WorkerArgs {
    fn limits(&self) -> glas_region::Limits {
        glas_region::Limits {
            max_bytes: self.stream_max_bytes,
            max_age: Duration::from_secs(self.stream_max_age_hours.max(1) * 3600),
            duplicate_window: Duration::from_secs(self.duplicate_window_minutes.max(1) * 60),
            replicas: self.replicas.max(1),
        }
    }
}

pub async fn worker(cli: &Cli, role: &Role) -> anyhow::Result<ExitCode> {
    let (common, name) = match role {
        Role::Crawl { common, .. } => (common, glas_region::Stage::Crawl.name()),
        Role::Enrich { common, .. } => (common, glas_region::Stage::Enrich.name()),
        Role::Store { common, .. } => (common, glas_region::Stage::Store.name()),
    };
    let districts = districts(cli, &common.district)?;
    let stop = glas_region::stop_on_signal()?;
    let metrics = Arc::new(glas_region::metrics::WorkerMetrics::new(name));
    let region = glas_region::Region::connect(&common.nats, &common.limits()).await?;
    let ack_wait = Duration::from_secs(common.ack_wait.max(1));
    // A store writer serves /metrics beside its workspace.
    if !matches!(role, Role::Store { .. })
        && let Some(addr) = common.listen
    {
        let m = metrics.clone();
        glas_app::service::listen(&districts[0].ctx, addr, None, Default::default(), Arc::new(move || m.render()))
            .await?;
    }
    let ids: Vec<&str> = districts.iter().map(|d| d.id.as_str()).collect();
    tracing::info!(role = name, districts = ?ids, nats = %common.nats, "worker started");
    match role {
        Role::Crawl { concurrency, .. } => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let opts = glas_region::crawl::CrawlOptions {
                concurrency: (*concurrency).max(1),
                ack_wait,
                name: format!("{}:{}", host.trim(), std::process::id()),
            };
            glas_region::crawl::run(region, districts, opts, metrics, stop).await?;
        }
        Role::Enrich { batch, threads, .. } => {
            let opts = glas_region::enrich::EnrichOptions {
                batch: (*batch).max(1),
                ack_wait,
                threads: threads.unwrap_or_else(glas_core::worker_threads).max(1),
            };
            glas_region::enrich::run(region, districts, opts, metrics, stop).await?;
        }
        Role::Store { batch, analyse_every, job_timeout, overview, timeout, web, .. } => {
            let [district] = <[District; 1]>::try_from(districts)
                .map_err(|_| usage("a store writer writes one district: give --pipeline only (no --district)"))?;
            let exposed = ops::readable_secret_files(&district.ctx.pipeline);
            if !exposed.is_empty() {
                return Err(usage(exposed.join("\n")));
            }
            let opts = glas_region::store::StoreOptions {
                batch: (*batch).max(1),
                ack_wait,
                analyse_every: Duration::from_secs(*analyse_every),
                job_timeout: Duration::from_secs((*job_timeout).max(1)),
                listen: common.listen,
                overview: ops::overview(overview.as_deref()).map_err(|e| usage(format!("{e:#}")))?,
                timeout: Duration::from_secs((*timeout).max(1)),
                web: web.options()?,
            };
            glas_region::store::run(region, district, opts, metrics, stop).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn region(cli: &Cli, cmd: &RegionCmd) -> anyhow::Result<ExitCode> {
    let RegionCmd::Search { query, district, shown } = cmd;
    let districts = districts(cli, district)?;
    // The query is checked once, with its position, before any district runs it.
    glas_core::query::parse(query).map_err(|q| usage(format!("{q}\n{}", q.pointer(query))))?;
    // Each district reads the request in its own time zone.
    let req = shown.request(query, None, None, chrono_tz::Europe::Moscow);
    let res = glas_region::search::search(&districts, &req);
    let answered = res.per_district.len();
    if shown.json {
        println!("{}", serde_json::to_string_pretty(&res)?);
    } else {
        let counts: Vec<String> = res.per_district.iter().map(|(d, n)| format!("{d} {n}")).collect();
        println!("Округа: {}", counts.join(" · "));
        let shown = glas_store::SearchResults {
            total: res.total,
            total_estimated: res.total_estimated,
            offset: res.offset,
            limit: res.limit,
            hits: res
                .hits
                .into_iter()
                .map(|h| glas_store::search::Hit { source: format!("{} · {}", h.district, h.hit.source), ..h.hit })
                .collect(),
            facets: res.facets,
        };
        crate::print_hits(&shown, std::io::IsTerminal::is_terminal(&std::io::stdout()));
        for f in &res.failed {
            eprintln!("Округ {} не ответил: {}", f.district, f.error);
        }
    }
    if answered == 0 {
        anyhow::bail!("no district answered");
    }
    Ok(if res.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
}
