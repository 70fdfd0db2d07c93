//! Fetching for every source kind, politely and defensively.
//!
//! One [`Fetcher`] serves a crawl round. For every request it:
//! - refuses private and loopback addresses unless the source allows them
//!   (checked on the resolved addresses of every connection, redirects
//!   included, by a DNS resolver that drops them);
//! - honours robots.txt, fetched once per host and cached for a day;
//! - keeps one request at a time per host, `delay` apart (or the site's
//!   `Crawl-delay`, if longer);
//! - sends the source's validators (ETag, Last-Modified) so an unchanged
//!   resource costs one 304;
//! - retries 429 and 5xx with exponential backoff and jitter, honouring
//!   `Retry-After` up to `max_retry_after`;
//! - caps the body (after decompression) and limits redirects, refusing loops.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glas_core::Checkpoint;
use glas_core::config::{CrawlSettings, SourceConfig};
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER};
use reqwest::{Client, StatusCode};

use crate::robots::Robots;
use crate::{CrawlError, Stage};

/// The product token robots.txt rules are matched against.
pub const PRODUCT: &str = "glas";
const MAX_REDIRECTS: usize = 5;
const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);

/// A fetched response.
#[derive(Debug, Clone)]
pub struct Body {
    /// The URL after redirects.
    pub url: String,
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Body {
    /// The body as text (see [`decode`]).
    pub fn text(&self) -> String {
        decode(&self.bytes, self.content_type.as_deref())
    }

    /// `cp` with this response's validators.
    pub fn checkpoint(&self, cp: &Checkpoint) -> Checkpoint {
        Checkpoint { etag: self.etag.clone(), last_modified: self.last_modified.clone(), ..cp.clone() }
    }
}

#[derive(Debug)]
pub enum Fetch {
    NotModified,
    Body(Body),
}

struct Host {
    /// When the last request to this host finished; held while a request runs.
    gate: tokio::sync::Mutex<Option<Instant>>,
    robots: tokio::sync::Mutex<Option<(Instant, Robots)>>,
}

pub struct Fetcher {
    public: Client,
    private: Client,
    settings: CrawlSettings,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    jitter: AtomicU64,
}

/// Resolves names, dropping private and loopback addresses.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.iter().copied().filter(|a| !is_private(&a.ip())).collect();
            if public.is_empty() && !all.is_empty() {
                return Err(format!("{host} resolves only to private addresses ({}); set allow_private = true for this source to permit it", all[0].ip()).into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn redirect_policy(public_only: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().contains(attempt.url()) {
            let url = attempt.url().to_string();
            return attempt.error(format!("redirect loop at {url}"));
        }
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        if public_only
            && let Some(ip) = attempt.url().host_str().and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok())
            && is_private(&ip)
        {
            return attempt.error(format!("redirect to private address {ip} refused"));
        }
        attempt.follow()
    })
}

impl Fetcher {
    pub fn new(settings: &CrawlSettings) -> Fetcher {
        // reqwest is built without a bundled crypto provider; ring is ours.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let user_agent =
            format!("{PRODUCT}/{} (public-opinion monitoring; +{})", env!("CARGO_PKG_VERSION"), settings.contact);
        let build = |public_only: bool| {
            let mut b = Client::builder()
                .user_agent(user_agent.as_str())
                .connect_timeout(settings.connect_timeout.to_std().unwrap_or(Duration::from_secs(10)))
                .timeout(settings.timeout.to_std().unwrap_or(Duration::from_secs(30)))
                .redirect(redirect_policy(public_only));
            if public_only {
                b = b.dns_resolver(Arc::new(PublicOnly));
            }
            b.build().expect("http client builds")
        };
        Fetcher {
            public: build(true),
            private: build(false),
            settings: settings.clone(),
            hosts: Mutex::new(HashMap::new()),
            jitter: AtomicU64::new(0x9e37_79b9_7f4a_7c15),
        }
    }

    pub fn settings(&self) -> &CrawlSettings {
        &self.settings
    }

    fn host(&self, key: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap();
        hosts
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Host { gate: tokio::sync::Mutex::new(None), robots: tokio::sync::Mutex::new(None) })
            })
            .clone()
    }

    /// A pseudo-random factor in [0.5, 1.5) for backoff jitter.
    fn jitter(&self) -> f64 {
        let mut x = self.jitter.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        0.5 + (x % 10_000) as f64 / 10_000.0
    }

    /// GETs `url` for `source`, with the validators of `cp` when given.
    pub async fn get(&self, source: &SourceConfig, url: &str, cp: Option<&Checkpoint>) -> Result<Fetch, CrawlError> {
        self.request(source, url, cp, true).await
    }

    /// Calls an API endpoint (VK): as [`Fetcher::get`] but without robots.txt,
    /// which governs crawling pages, not an authorised API client.
    pub async fn get_api(&self, source: &SourceConfig, url: &str) -> Result<Fetch, CrawlError> {
        self.request(source, url, None, false).await
    }

    async fn request(
        &self,
        source: &SourceConfig,
        url: &str,
        cp: Option<&Checkpoint>,
        obey_robots: bool,
    ) -> Result<Fetch, CrawlError> {
        let err = |stage: Stage, reason: String| CrawlError {
            source_id: source.id.clone(),
            url: url.to_string(),
            stage,
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| err(Stage::Fetch, format!("invalid URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(err(Stage::Fetch, format!("unsupported scheme {:?}", parsed.scheme())));
        }
        let host_name = parsed.host_str().ok_or_else(|| err(Stage::Fetch, "URL has no host".into()))?.to_string();
        if !source.allow_private
            && let Ok(ip) = host_name.trim_matches(['[', ']']).parse::<IpAddr>()
            && is_private(&ip)
        {
            return Err(err(
                Stage::Fetch,
                format!(
                    "refusing to fetch private address {ip} (set allow_private = true for this source to permit it)"
                ),
            ));
        }
        let key = format!("{}://{}:{}", parsed.scheme(), host_name, parsed.port_or_known_default().unwrap_or(0));
        let host = self.host(&key);
        let client = if source.allow_private { &self.private } else { &self.public };

        let robots = if obey_robots { self.robots(client, &host, &key).await } else { Robots::allow_all() };
        let path = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_string(),
        };
        if let Some(why) = robots.unreachable_reason() {
            return Err(err(
                Stage::Robots,
                format!("{key}/robots.txt unreachable ({why}); not fetching from this host"),
            ));
        }
        if !robots.allows(&path) {
            return Err(err(Stage::Robots, format!("disallowed by {key}/robots.txt for {PRODUCT}")));
        }
        let delay = self
            .settings
            .delay
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_secs_f64(robots.crawl_delay.unwrap_or(0.0).min(60.0)));

        let mut gate = host.gate.lock().await;
        let mut attempt = 0;
        loop {
            if let Some(last) = *gate {
                let wait = (last + delay).saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            let mut req = client.get(parsed.clone());
            if let Some(cp) = cp {
                if let Some(etag) = &cp.etag {
                    req = req.header(IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &cp.last_modified {
                    req = req.header(IF_MODIFIED_SINCE, lm);
                }
            }
            let result = req.send().await;
            let resp = match result {
                Ok(r) => r,
                Err(e) => {
                    *gate = Some(Instant::now());
                    return Err(err(Stage::Fetch, describe(&e)));
                }
            };
            let status = resp.status();
            if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                *gate = Some(Instant::now());
                let retry_after =
                    resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
                if attempt >= self.settings.retries {
                    return Err(err(Stage::Fetch, format!("HTTP status {status}, still after {attempt} retries")));
                }
                let wait = match retry_after {
                    Some(w) if w > self.settings.max_retry_after.to_std().unwrap_or_default() => {
                        return Err(err(
                            Stage::Fetch,
                            format!(
                                "HTTP status {status} with Retry-After of {}s, longer than max_retry_after",
                                w.as_secs()
                            ),
                        ));
                    }
                    Some(w) => w,
                    None => self
                        .settings
                        .backoff
                        .to_std()
                        .unwrap_or_default()
                        .mul_f64(2f64.powi(attempt as i32) * self.jitter()),
                };
                tracing::info!(source = %source.id, %url, %status, wait_ms = wait.as_millis() as u64, "backing off before retry");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let outcome = self.read(resp, source, url).await;
            *gate = Some(Instant::now());
            return outcome;
        }
    }

    async fn read(&self, mut resp: reqwest::Response, source: &SourceConfig, url: &str) -> Result<Fetch, CrawlError> {
        let err = |reason: String| CrawlError {
            source_id: source.id.clone(),
            url: url.to_string(),
            stage: Stage::Fetch,
            reason,
        };
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetch::NotModified);
        }
        if !status.is_success() {
            return Err(err(format!("HTTP status {status}")));
        }
        let max = self.settings.max_body;
        if resp.content_length().is_some_and(|n| n as usize > max) {
            return Err(err(format!(
                "response of {} bytes exceeds the {max}-byte limit",
                resp.content_length().unwrap_or(0)
            )));
        }
        let headers = resp.headers().clone();
        let final_url = resp.url().to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| err(describe(&e)))? {
            if bytes.len() + chunk.len() > max {
                return Err(err(format!("response exceeds the {max}-byte limit")));
            }
            bytes.extend_from_slice(&chunk);
        }
        let header = |h: &HeaderMap, name| {
            h.get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_string)
        };
        Ok(Fetch::Body(Body {
            url: final_url,
            bytes,
            content_type: header(&headers, CONTENT_TYPE),
            etag: header(&headers, ETAG),
            last_modified: header(&headers, LAST_MODIFIED),
        }))
    }

    /// robots.txt of a host, fetched once and cached for a day. 4xx means no
    /// rules; an unreachable file or a 5xx means fetch nothing (RFC 9309).
    async fn robots(&self, client: &Client, host: &Host, key: &str) -> Robots {
        let mut cached = host.robots.lock().await;
        if let Some((at, r)) = cached.as_ref()
            && at.elapsed() < ROBOTS_TTL
        {
            return r.clone();
        }
        let url = format!("{key}/robots.txt");
        let robots = match client.get(&url).send().await {
            Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                Ok(b) if b.len() <= 512 * 1024 => Robots::parse(&decode(&b, None), PRODUCT),
                _ => Robots::allow_all(),
            },
            Ok(resp) if resp.status().is_client_error() => Robots::allow_all(),
            Ok(resp) => Robots::unreachable(format!("HTTP status {}", resp.status())),
            Err(e) => Robots::unreachable(describe(&e)),
        };
        *cached = Some((Instant::now(), robots.clone()));
        robots
    }
}

fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
    Some((at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or_default())
}

pub(crate) fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_redirect() {
        "redirect refused"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_decode() || e.is_body() {
        "could not read the body"
    } else {
        "request failed"
    };
    let mut msg = kind.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

pub fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(&IpAddr::V4(v4)))
        }
    }
}

/// Decodes a text body: BOM first, then the charset of the Content-Type header,
/// then a `<meta charset>` or XML declaration in the first bytes; failing all
/// those, UTF-8 when the bytes are valid UTF-8, else whichever of windows-1251
/// and KOI8-R reads as more Russian. Invalid sequences become U+FFFD; nothing
/// panics.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> String {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc.decode_without_bom_handling(&bytes[bom_len..]).0.into_owned();
    }
    let declared = content_type
        .and_then(charset_param)
        .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()))
        .or_else(|| sniff_declared(bytes));
    if let Some(enc) = declared {
        return enc.decode_without_bom_handling(bytes).0.into_owned();
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let cp1251 = encoding_rs::WINDOWS_1251.decode_without_bom_handling(bytes).0;
    let koi8 = encoding_rs::KOI8_R.decode_without_bom_handling(bytes).0;
    if russianness(&koi8) > russianness(&cp1251) { koi8.into_owned() } else { cp1251.into_owned() }
}

/// How much a text looks like ordinary Russian: frequent lowercase letters count
/// for, capital letters inside words against.
fn russianness(s: &str) -> i64 {
    let mut score = 0i64;
    let mut prev_letter = false;
    for c in s.chars() {
        if "оеаинтсрвлкмдпуяыь".contains(c) {
            score += 1;
        } else if c.is_uppercase() && prev_letter {
            score -= 2;
        }
        prev_letter = c.is_alphabetic();
    }
    score
}

fn charset_param(ct: &str) -> Option<String> {
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset")).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn sniff_declared(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_ascii_lowercase();
    for marker in ["charset=", "encoding="] {
        if let Some(i) = head.find(marker) {
            let rest = head[i + marker.len()..].trim_start_matches(['"', '\'', ' ']);
            let label: String =
                rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            if let Some(enc) = encoding_rs::Encoding::for_label(label.as_bytes()) {
                return Some(enc);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_1251_and_koi8() {
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode("<meta charset=\"windows-1251\"><p>Нет воды</p>");
        assert!(decode(&cp1251, None).contains("Нет воды"));
        let (koi, _, _) = encoding_rs::KOI8_R.encode("Нет воды");
        assert_eq!(decode(&koi, Some("text/html; charset=KOI8-R")), "Нет воды");
        assert_eq!(decode(b"\xff\xfe", None), "");
        assert!(decode(b"ok \xc3", Some("text/plain; charset=utf-8")).starts_with("ok "));
    }

    #[test]
    fn guesses_undeclared_cyrillic() {
        let text = "<p>Третий день нет воды в посёлке, жители просят помощи у администрации</p>";
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        assert_eq!(decode(&cp1251, Some("text/html")), text);
        let (koi, _, _) = encoding_rs::KOI8_R.encode(text);
        assert_eq!(decode(&koi, None), text);
    }

    #[test]
    fn private_addresses() {
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.4", "169.254.1.1", "::1", "fd00::1", "100.64.0.1"]
        {
            assert!(is_private(&ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2a00:1450::1"] {
            assert!(!is_private(&ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").is_some());
        assert_eq!(parse_retry_after("soon"), None);
    }
}
