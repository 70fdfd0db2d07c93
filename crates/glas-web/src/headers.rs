//! Security headers on every response of the workspace and the API.
//!
//! The workspace runs no scripts and loads nothing from elsewhere, so its
//! Content-Security-Policy allows nothing but its one stylesheet (inlined,
//! allowed by its SHA-256), images from itself, and forms sent to itself;
//! no page may be framed. A handler that serves a document of its own (a
//! weekly report's HTML) sets a stricter policy first, and it is kept.

use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

/// A weekly report shown in the browser: its inline style and charts, no
/// scripts, sandboxed (no forms, no navigation of the workspace).
pub(crate) const REPORT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox";

/// The workspace's policy: the stylesheet's hash, computed once.
pub(crate) fn workspace_csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = base64(&Sha256::digest(crate::page::CSS.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

/// The middleware: adds each header the handler did not set.
pub(crate) async fn secure(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    add(h, header::CONTENT_SECURITY_POLICY, workspace_csp());
    add(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    add(h, header::X_FRAME_OPTIONS, "DENY");
    add(h, header::REFERRER_POLICY, "same-origin");
    add(h, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    r
}

fn add(h: &mut HeaderMap, name: HeaderName, value: &str) {
    if !h.contains_key(&name)
        && let Ok(v) = HeaderValue::from_str(value)
    {
        h.insert(name, v);
    }
}

/// Standard base64 with padding (RFC 4648), as CSP hashes are written.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // The CSP hash of an empty stylesheet, as browsers compute it.
        assert_eq!(base64(&Sha256::digest(b"")), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn the_policy_allows_the_stylesheet_and_nothing_else() {
        let csp = workspace_csp();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{csp}");
        assert!(!csp.contains("unsafe") && !csp.contains("script"), "{csp}");
    }
}
