//! `glas worker crawl`: takes fetch jobs, fetches politely (a lease per host
//! across workers), publishes each mention found to the raw stream and then
//! the fetch's end (checkpoint, summary) to the store, and only then
//! acknowledges the job.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use chrono::Utc;
use futures_util::FutureExt as _;
use glas_crawl::{CrawlError, SourceCtx};

use crate::metrics::WorkerMetrics;
use crate::{District, Region, lease};

pub struct CrawlOptions {
    /// Jobs fetched at the same time by this worker.
    pub concurrency: usize,
    /// How long a job may go unacknowledged before JetStream gives it to
    /// another worker; the worker acknowledges progress a third of the way.
    pub ack_wait: Duration,
    /// This worker's name in the host leases.
    pub name: String,
}

pub async fn run(
    region: Region,
    districts: Vec<District>,
    opts: CrawlOptions,
    metrics: Arc<WorkerMetrics>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
    let opts = Arc::new(opts);
    let mut loops = tokio::task::JoinSet::new();
    for d in districts {
        let (consumer, durable) = region.consumer(crate::Stage::Crawl, &d.id, opts.ack_wait, 1_000, &metrics).await?;
        let fetcher = Arc::new(glas_crawl::Fetcher::new(&d.ctx.pipeline.crawl));
        let (region, permits, opts, metrics, stop) =
            (region.clone(), permits.clone(), opts.clone(), metrics.clone(), stop.clone());
        let d = Arc::new(d);
        loops.spawn(async move {
            let mut jobs = tokio::task::JoinSet::new();
            while !crate::stopped(&stop) {
                let permit = permits.clone().acquire_owned().await?;
                let Some(msg) = crate::fetch(&consumer, 1, Duration::from_secs(1)).await.pop() else { continue };
                let (region, d, fetcher, opts, metrics, durable) =
                    (region.clone(), d.clone(), fetcher.clone(), opts.clone(), metrics.clone(), durable.clone());
                jobs.spawn(async move {
                    let again = crate::redelivered(&msg);
                    match job(&region, &d, &fetcher, &opts, &metrics, &msg).await {
                        Ok(()) => metrics.handled(&durable, 1, u64::from(again)),
                        // Not acknowledged: JetStream gives it again after the ack wait.
                        Err(e) => {
                            tracing::error!(error = format!("{e:#}"), "fetch job failed; it will be delivered again")
                        }
                    }
                    drop(permit);
                });
                while jobs.try_join_next().is_some() {}
            }
            // Stopping: the jobs in hand finish and are acknowledged.
            while jobs.join_next().await.is_some() {}
            anyhow::Ok(())
        });
    }
    crate::join_loops(loops).await
}

async fn job(
    region: &Region,
    d: &District,
    fetcher: &glas_crawl::Fetcher,
    opts: &CrawlOptions,
    metrics: &WorkerMetrics,
    msg: &jetstream::Message,
) -> anyhow::Result<()> {
    let job: crate::FetchJob = match serde_json::from_slice(&msg.payload) {
        Ok(j) => j,
        Err(e) => return region.reject(crate::Stage::Crawl, msg, &format!("not a fetch job: {e}")).await,
    };
    let Some(src) = d.ctx.pipeline.sources.iter().find(|s| s.id == job.source) else {
        let reason = format!(
            "source '{}' is not in this worker's pipeline of district '{}': the worker's and the store's pipelines differ",
            job.source, d.id
        );
        return region.reject(crate::Stage::Crawl, msg, &reason).await;
    };
    let every = opts.ack_wait / 3;
    // The host's lease: one fetch of a host at a time across the region's
    // workers, the pipeline's delay apart. Files need none.
    let mut held = if src.url.starts_with("http://") || src.url.starts_with("https://") {
        let key = lease::key(&src.url);
        Some(keep_alive(msg, None, every, lease::acquire(&region.js, &key, &opts.name)).await?)
    } else {
        None
    };
    let sctx = SourceCtx { source: src, fetcher, tz: d.ctx.tz(), now: Utc::now() };
    // A bug in one crawler must not take the worker down: a panic is the
    // source's failure, as in `glas run`.
    let crawl = async {
        match std::panic::AssertUnwindSafe(glas_crawl::crawl_source(&sctx, &job.checkpoint)).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => Err(CrawlError {
                source_id: src.id.clone(),
                url: src.url.clone(),
                stage: glas_crawl::Stage::Parse,
                reason: format!("crawler panicked: {}", panic_text(&*panic)),
            }),
        }
    };
    let result = keep_alive(msg, held.as_mut(), every, crawl).await;
    if let Some(l) = held.take()
        && let Err(e) = l.release(d.ctx.pipeline.crawl.delay.to_std().unwrap_or_default()).await
    {
        tracing::warn!(error = %e, "cannot release a host's lease; it runs out by itself");
    }
    let at = Utc::now();
    let stamp = at.to_rfc3339();
    let settled = glas_app::ops::settle(src, &job.checkpoint, result, &stamp);
    let mentions = settled.mentions.unwrap_or_default();
    let n = mentions.len();
    let raw: Vec<(String, String, bytes::Bytes)> = mentions
        .into_iter()
        .map(|mention| {
            let id = crate::mention_msg_id(&d.id, &mention.id);
            let m = crate::RawMention {
                district: d.id.clone(),
                source: src.id.clone(),
                kind: src.kind.clone(),
                place: src.place.clone(),
                fetched_at: at,
                mention,
            };
            Ok((crate::raw_subject(&d.id), id, serde_json::to_vec(&m)?.into()))
        })
        .collect::<anyhow::Result<_>>()?;
    let duplicates = keep_alive(msg, None, every, region.publish_all(raw, 256)).await?;
    glas_app::failpoint("crawl:after-raw");
    let done = crate::CrawlDone {
        source: src.id.clone(),
        job: job.job.clone(),
        at,
        status: settled.summary.status.to_string(),
        fetched: settled.summary.fetched,
        parsed: settled.summary.parsed,
        errors: settled.summary.errors,
        failures: settled.failures.iter().map(|e| glas_app::ops::failure_line(e, &stamp)).collect(),
        checkpoint: settled.checkpoint,
        snapshots: settled.snapshots,
        audience: settled.audience,
    };
    let done_id = format!("done/{}/{}", d.id, job.job);
    region.publish(crate::done_subject(&d.id), &done_id, serde_json::to_vec(&done)?.into()).await?;
    metrics.published(n as u64 + 1, duplicates as u64);
    msg.double_ack().await.map_err(|e| anyhow::anyhow!("cannot acknowledge the job: {e}"))?;
    tracing::info!(district = %d.id, source = %src.id, mentions = n, duplicates, status = %done.status, "fetched");
    Ok(())
}

/// Runs `work` while telling JetStream every `every` that the job is in
/// progress (so it is not given to another worker) and refreshing the host's
/// lease if one is held.
async fn keep_alive<F: std::future::Future>(
    msg: &jetstream::Message,
    mut lease: Option<&mut lease::Lease>,
    every: Duration,
    work: F,
) -> F::Output {
    let mut work = std::pin::pin!(work);
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.tick().await;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => {
                let _ = msg.ack_with(AckKind::Progress).await;
                if let Some(l) = lease.as_deref_mut()
                    && let Err(e) = l.refresh().await
                {
                    tracing::warn!(error = %e, "a host's lease was lost while fetching");
                }
            }
        }
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
