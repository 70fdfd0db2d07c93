//! Serving the router: plain HTTP or TLS (rustls) on one listener, with a
//! time limit on reading a request's headers (a client that sends them a
//! byte at a time is cut off instead of holding a connection for ever), and
//! the client's address taken from `X-Forwarded-For` only when the
//! connection comes from a proxy the operator named.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt as _;

/// How the workspace is served.
#[derive(Clone)]
pub struct ServeOptions {
    /// Serve HTTPS with this configuration (none: plain HTTP, for a reverse
    /// proxy in front or the loopback).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The time a client has to send a request's headers, and a TLS
    /// handshake to finish.
    pub header_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` names the client (the right-most
    /// address that is not one of them); anyone else's is ignored.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { tls: None, header_timeout: Duration::from_secs(10), trusted_proxies: Vec::new() }
    }
}

/// A TLS configuration from PEM files: the certificate chain and its
/// private key (PKCS#8, PKCS#1 or SEC1). HTTP/1.1 only.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read the certificate '{}': {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("'{}' holds no certificate (PEM, BEGIN CERTIFICATE)", cert.display()));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the private key '{}': {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| format!("the certificate and the key do not make a TLS configuration: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The client as the audit log should name it: the peer, or, when the peer
/// is a trusted proxy, the right-most address of `X-Forwarded-For` that is
/// not a trusted proxy itself.
fn client(peer: SocketAddr, forwarded: Option<&HeaderValue>, trusted: &[IpAddr]) -> SocketAddr {
    if !trusted.contains(&peer.ip()) {
        return peer;
    }
    let Some(list) = forwarded.and_then(|v| v.to_str().ok()) else { return peer };
    list.rsplit(',')
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .map_or(peer, |ip| SocketAddr::new(ip, 0))
}

/// Serves `router` on `listener` until `shutdown` resolves (connections
/// under way are then left to finish on their own).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let acceptor = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let opts = Arc::new(opts);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait, do not spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (router, opts, acceptor) = (router.clone(), opts.clone(), acceptor.clone());
        tokio::spawn(async move {
            let tls = acceptor.is_some();
            let timeout = opts.header_timeout;
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                let who = client(peer, req.headers().get("x-forwarded-for"), &opts.trusted_proxies);
                req.extensions_mut().insert(ConnectInfo(who));
                if tls {
                    req.headers_mut().insert("x-forwarded-proto", HeaderValue::from_static("https"));
                }
                let router = router.clone();
                async move {
                    let mut resp = router.oneshot(req).await?;
                    if tls {
                        // Browsers that saw HTTPS once never try plain HTTP again.
                        resp.headers_mut()
                            .insert("strict-transport-security", HeaderValue::from_static("max-age=31536000"));
                    }
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(timeout).keep_alive(true);
            let served = match acceptor {
                None => http.serve_connection(TokioIo::new(stream), service).with_upgrades().await,
                Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => http.serve_connection(TokioIo::new(tls), service).with_upgrades().await,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                },
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let proxy: SocketAddr = "10.0.0.5:40000".parse().unwrap();
        let trusted = ["10.0.0.5".parse().unwrap()];
        let xff = HeaderValue::from_static("203.0.113.9, 198.51.100.7");
        assert_eq!(client(proxy, Some(&xff), &trusted).ip().to_string(), "198.51.100.7");
        // A client cannot name itself: its header is ignored.
        let direct: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        assert_eq!(client(direct, Some(&xff), &trusted), direct);
        // A chain of trusted proxies is skipped; garbage leaves the peer.
        let chain = HeaderValue::from_static("203.0.113.9, 10.0.0.5");
        assert_eq!(client(proxy, Some(&chain), &trusted).ip().to_string(), "203.0.113.9");
        assert_eq!(client(proxy, Some(&HeaderValue::from_static("nonsense")), &trusted), proxy);
        assert_eq!(client(proxy, None, &trusted), proxy);
    }
}
