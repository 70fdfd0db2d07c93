//! Fetching for every source kind: one client, conditional GET, a size cap,
//! refusal of private addresses unless the source allows them, and charset
//! decoding.

use std::net::IpAddr;
use std::time::Duration;

use glas_core::Checkpoint;
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::{Client, StatusCode};

use crate::{CrawlError, Stage};

/// Names glas and where to complain, as polite crawlers do.
pub const USER_AGENT: &str =
    concat!("glas/", env!("CARGO_PKG_VERSION"), " (public-opinion monitoring; +https://example.org/glas)");
/// Largest body read from any source; longer responses are an error.
pub const MAX_BODY: usize = 20 * 1024 * 1024;

pub fn client() -> Client {
    // reqwest is built without a bundled crypto provider; ring is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .expect("http client builds")
}

/// A fetched response.
pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

pub enum Fetch {
    NotModified,
    Body(Body),
}

/// GETs `url`, sending the validators of `cp` (when given) so an unchanged
/// resource costs one 304.
pub async fn get(
    client: &Client,
    source: &str,
    url: &str,
    allow_private: bool,
    cp: Option<&Checkpoint>,
) -> Result<Fetch, CrawlError> {
    let err = |stage: Stage, reason: String| CrawlError {
        source_id: source.to_string(),
        url: url.to_string(),
        stage,
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|e| err(Stage::Fetch, format!("invalid URL: {e}")))?;
    if !allow_private {
        check_public(&parsed).await.map_err(|reason| err(Stage::Fetch, reason))?;
    }
    let mut req = client.get(parsed);
    if let Some(cp) = cp {
        if let Some(etag) = &cp.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &cp.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
    }
    let mut resp = req.send().await.map_err(|e| err(Stage::Fetch, describe(&e)))?;
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(Fetch::NotModified);
    }
    if !status.is_success() {
        return Err(err(Stage::Fetch, format!("HTTP status {status}")));
    }
    if resp.content_length().is_some_and(|n| n as usize > MAX_BODY) {
        return Err(err(
            Stage::Fetch,
            format!("response of {} bytes exceeds the {MAX_BODY}-byte limit", resp.content_length().unwrap()),
        ));
    }
    let headers = resp.headers().clone();
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| err(Stage::Fetch, describe(&e)))? {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(err(Stage::Fetch, format!("response exceeds the {MAX_BODY}-byte limit")));
        }
        bytes.extend_from_slice(&chunk);
    }
    let header = |h: &HeaderMap, name| {
        h.get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_string)
    };
    Ok(Fetch::Body(Body {
        bytes,
        content_type: header(&headers, CONTENT_TYPE),
        etag: header(&headers, ETAG),
        last_modified: header(&headers, LAST_MODIFIED),
    }))
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "too many redirects"
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

async fn check_public(url: &url::Url) -> Result<(), String> {
    let host = url.host_str().ok_or("URL has no host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<IpAddr> = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .map(|a| a.ip())
            .collect(),
    };
    match addrs.iter().find(|ip| is_private(ip)) {
        Some(ip) => Err(format!(
            "refusing to fetch private address {ip} (set allow_private = true for this source to permit it)"
        )),
        None => Ok(()),
    }
}

fn is_private(ip: &IpAddr) -> bool {
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
/// then a `<meta charset>` or XML declaration in the first bytes, else UTF-8.
/// Invalid sequences become U+FFFD; nothing panics.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> String {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc.decode_without_bom_handling(&bytes[bom_len..]).0.into_owned();
    }
    let from_header = content_type.and_then(charset_param).and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()));
    let enc = from_header.or_else(|| sniff_declared(bytes)).unwrap_or(encoding_rs::UTF_8);
    enc.decode_without_bom_handling(bytes).0.into_owned()
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
    fn decodes_1251_and_koi8_without_header() {
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode("<meta charset=\"windows-1251\"><p>Нет воды</p>");
        assert!(decode(&cp1251, None).contains("Нет воды"));
        let (koi, _, _) = encoding_rs::KOI8_R.encode("Нет воды");
        assert_eq!(decode(&koi, Some("text/html; charset=KOI8-R")), "Нет воды");
        assert_eq!(decode(b"\xff\xfe", None), "");
        assert!(decode(b"ok \xc3", None).starts_with("ok "));
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
}
