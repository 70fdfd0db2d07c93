//! Per-host politeness across crawl workers: a lease per host, kept as the
//! last message of its subject in the `GLAS_HOSTS` stream (one message per
//! subject) and changed only by compare-and-set: a publish that names the
//! subject's last sequence it read (`Nats-Expected-Last-Subject-Sequence`),
//! refused if another worker wrote in between.
//!
//! A lease holds either `{"holder": W, "until": T}` (worker W crawls the
//! host; it refreshes `until` while it does) or `{"free_at": T}` (the last
//! fetch ended; the next may start at T, the pipeline's delay later). A
//! worker killed while holding a lease stops refreshing it, and once `until`
//! has passed another worker takes it over.

use std::time::Duration;

use async_nats::jetstream::{self, stream::LastRawMessageErrorKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long a lease lasts without a refresh.
pub const LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize, Deserialize)]
struct Value {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    holder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    free_at: Option<DateTime<Utc>>,
}

/// A host's subject token (`host_port`, letters, digits, `-` and `_`).
pub fn key(url: &str) -> String {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(|h| format!("{h}_{}", u.port_or_known_default().unwrap_or(0))))
        .unwrap_or_else(|| "local".to_string());
    host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// A held lease; [`Lease::release`] frees it with the delay before the next
/// fetch of the host.
pub struct Lease {
    js: jetstream::Context,
    subject: String,
    holder: String,
    revision: u64,
}

/// Writes `value` if the subject's last sequence is still `revision` (0:
/// no message yet); the new sequence, or `None` if another worker wrote.
async fn put_if(js: &jetstream::Context, subject: &str, value: &Value, revision: u64) -> anyhow::Result<Option<u64>> {
    let msg = jetstream::message::PublishMessage::build()
        .payload(serde_json::to_vec(value)?.into())
        .expected_last_subject_sequence(revision);
    let ack = js.send_publish(subject.to_string(), msg).await?;
    match ack.await {
        Ok(a) => Ok(Some(a.sequence)),
        // Someone else's write came first.
        Err(e) if e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Waits until the host is free and its delay has passed, then takes it.
pub async fn acquire(js: &jetstream::Context, key: &str, holder: &str) -> anyhow::Result<Lease> {
    let subject = format!("glas.host.{key}");
    let stream = js.get_stream(crate::HOSTS_STREAM).await?;
    let mut wait = Duration::from_millis(20);
    loop {
        let now = Utc::now();
        let (current, revision) = match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(m) => (serde_json::from_slice::<Value>(&m.payload).ok(), m.sequence),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => (None, 0),
            Err(e) => return Err(e.into()),
        };
        let free = match current {
            Some(Value { holder: Some(_), until: Some(until), .. }) if until > now => false,
            Some(Value { free_at: Some(free_at), .. }) if free_at > now => false,
            _ => true,
        };
        if free {
            let held = Value { holder: Some(holder.to_string()), until: Some(now + LEASE), free_at: None };
            if let Some(revision) = put_if(js, &subject, &held, revision).await? {
                return Ok(Lease { js: js.clone(), subject, holder: holder.to_string(), revision });
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(500));
    }
}

impl Lease {
    /// Extends the lease; fails if another worker took it over (this one
    /// stalled past its lease).
    pub async fn refresh(&mut self) -> anyhow::Result<()> {
        let v = Value { holder: Some(self.holder.clone()), until: Some(Utc::now() + LEASE), free_at: None };
        match put_if(&self.js, &self.subject, &v, self.revision).await? {
            Some(rev) => {
                self.revision = rev;
                Ok(())
            }
            None => anyhow::bail!("another worker took the lease of {}", self.subject),
        }
    }

    /// Frees the host for the next fetch after `delay`.
    pub async fn release(self, delay: Duration) -> anyhow::Result<()> {
        let v = Value { holder: None, until: None, free_at: Some(Utc::now() + delay) };
        put_if(&self.js, &self.subject, &v, self.revision).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_name_host_and_port() {
        assert_eq!(super::key("http://127.0.0.1:8080/feed.xml"), "127_0_0_1_8080");
        assert_eq!(super::key("https://t.me/s/levokumka"), "t_me_443");
        assert_eq!(super::key("/var/lib/glas/appeals.jsonl"), "local");
    }
}
