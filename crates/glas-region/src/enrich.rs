//! `glas worker enrich`: takes raw mentions in batches, enriches them with
//! the district's analyzer (on every core), publishes the records to the
//! district's store and acknowledges the raw mentions once JetStream has
//! them.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use glas_nlp::Analyzer;

use crate::metrics::WorkerMetrics;
use crate::{District, Region};

pub struct EnrichOptions {
    /// Raw mentions taken at once (the worker's in-flight limit).
    pub batch: usize,
    pub ack_wait: Duration,
    /// Threads enriching a batch.
    pub threads: usize,
}

pub async fn run(
    region: Region,
    districts: Vec<District>,
    opts: EnrichOptions,
    metrics: Arc<WorkerMetrics>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<()> {
    let opts = Arc::new(opts);
    let mut loops = tokio::task::JoinSet::new();
    for d in districts {
        // Several workers share the consumer; each holds one batch.
        let max_pending = (opts.batch * 16) as i64;
        let (consumer, durable) =
            region.consumer(crate::Stage::Enrich, &d.id, opts.ack_wait, max_pending, &metrics).await?;
        let analyzer = Arc::new(d.ctx.analyzer());
        let (region, opts, metrics, stop) = (region.clone(), opts.clone(), metrics.clone(), stop.clone());
        loops.spawn(async move {
            while !crate::stopped(&stop) {
                let batch = crate::fetch(&consumer, opts.batch, Duration::from_secs(1)).await;
                if batch.is_empty() {
                    continue;
                }
                let n = batch.len() as u64;
                let again = batch.iter().filter(|m| crate::redelivered(m)).count() as u64;
                match handle(&region, &d.id, &analyzer, &opts, &metrics, batch).await {
                    Ok(()) => metrics.handled(&durable, n, again),
                    Err(e) => {
                        tracing::error!(error = format!("{e:#}"), "enrichment batch failed; it will be delivered again")
                    }
                }
            }
            anyhow::Ok(())
        });
    }
    crate::join_loops(loops).await
}

async fn handle(
    region: &Region,
    district: &str,
    analyzer: &Arc<Analyzer>,
    opts: &EnrichOptions,
    metrics: &WorkerMetrics,
    batch: Vec<jetstream::Message>,
) -> anyhow::Result<()> {
    let mut good = Vec::with_capacity(batch.len());
    let mut raws = Vec::with_capacity(batch.len());
    for msg in batch {
        match serde_json::from_slice::<crate::RawMention>(&msg.payload) {
            Ok(r) => {
                raws.push(r);
                good.push(msg);
            }
            Err(e) => region.reject(crate::Stage::Enrich, &msg, &format!("not a raw mention: {e}")).await?,
        }
    }
    let analyzer = analyzer.clone();
    let threads = opts.threads.max(1);
    let enriched: Vec<crate::EnrichedMention> = tokio::task::spawn_blocking(move || {
        let enrichments = glas_app::ops::classify_on_threads(&analyzer, &raws, threads, |r| (&r.mention, &r.kind));
        raws.into_iter().zip(enrichments).map(|(raw, enrichment)| crate::EnrichedMention { raw, enrichment }).collect()
    })
    .await?;
    let out: Vec<(String, String, bytes::Bytes)> = enriched
        .iter()
        .map(|e| {
            let id = crate::mention_msg_id(district, &e.raw.mention.id);
            Ok((crate::record_subject(district), id, serde_json::to_vec(e)?.into()))
        })
        .collect::<anyhow::Result<_>>()?;
    let n = out.len() as u64;
    let duplicates = region.publish_all(out, 512).await?;
    metrics.published(n, duplicates as u64);
    glas_app::failpoint("enrich:after-publish");
    for msg in &good {
        // A lost acknowledgement redelivers the mention; its record is then a
        // duplicate JetStream or the store drops.
        if let Err(e) = msg.ack().await {
            tracing::warn!(error = %e, "cannot acknowledge a raw mention; it will come again");
        }
    }
    Ok(())
}
