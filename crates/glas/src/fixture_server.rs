//! A web server on loopback for the demo and the tests: it serves `fixtures/`
//! and, beside the files, behaves the ways real sources misbehave, so crawlers
//! are exercised over real HTTP.
//!
//! - Files: `GET /path` serves `fixtures/path`; a request with a query
//!   (`/telegram/x.html?before=1220`) serves `fixtures/telegram/x.html@before=1220`
//!   when that file exists (saved pages of a paged site).
//! - `/_misbehave/huge`: a 30 MB body, streamed without a length.
//! - `/_misbehave/loop-a`: redirects to `loop-b`, which redirects back.
//! - `/_misbehave/slow/MS/PATH`: the file at PATH after MS milliseconds (a
//!   round that lasts long enough to be interrupted).
//! - `/_misbehave/retry-after`: `429 Too Many Requests` with `Retry-After: 1`
//!   to the first request, then the administration's feed.
//! - `/vk/method/wall.get`, `wall.getComments`, `groups.getById`: answers like the VK
//!   API from `fixtures/vk/`, with its error objects (see [`vk_api`]).
//! - [`FixtureServer::silent`]: another listener that accepts connections and
//!   never answers.
//!
//! Responses are compressed (brotli or gzip) when the client accepts it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// The token the fake VK API accepts.
pub const VK_TEST_TOKEN: &str = "glas-test-token";

#[derive(Clone)]
struct AppState {
    dir: PathBuf,
    retry_after_hits: Arc<AtomicU32>,
    vk_rate_hits: Arc<AtomicU32>,
}

/// A running server; dropping it stops it.
pub struct FixtureServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    log: RequestLog,
}

/// Every request served: when it came, when its answer was ready, its path.
type RequestLog = Arc<std::sync::Mutex<Vec<(std::time::Instant, std::time::Instant, String)>>>;

impl FixtureServer {
    /// Serves `dir` on `127.0.0.1` at a port the OS picks.
    pub async fn start(dir: &Path) -> std::io::Result<FixtureServer> {
        let state = AppState { dir: dir.to_path_buf(), retry_after_hits: Arc::default(), vk_rate_hits: Arc::default() };
        let app = axum::Router::new()
            .route("/_misbehave/huge", get(huge))
            .route("/_misbehave/loop-a", get(|| async { redirect("/_misbehave/loop-b") }))
            .route("/_misbehave/loop-b", get(|| async { redirect("/_misbehave/loop-a") }))
            .route("/_misbehave/retry-after", get(retry_after))
            .route("/_misbehave/slow/{ms}/{*path}", get(slow))
            .route("/vk/method/{method}", get(vk_api))
            .fallback(files)
            .with_state(state)
            // Compress like real servers do (brotli or gzip, as the client accepts),
            // so every crawl over this server exercises decompression.
            .layer(tower_http::compression::CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest));
        let log = RequestLog::default();
        let record = log.clone();
        let app =
            app.layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
                let record = record.clone();
                async move {
                    let (started, path) = (std::time::Instant::now(), req.uri().path().to_string());
                    let response = next.run(req).await;
                    record.lock().unwrap_or_else(|p| p.into_inner()).push((started, std::time::Instant::now(), path));
                    response
                }
            }));
        Self::serve(app, log).await
    }

    /// A listener that accepts connections and never answers.
    pub async fn silent() -> std::io::Result<FixtureServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        Ok(FixtureServer { addr, task, log: RequestLog::default() })
    }

    async fn serve(app: axum::Router, log: RequestLog) -> std::io::Result<FixtureServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "fixture server stopped");
            }
        });
        Ok(FixtureServer { addr, task, log })
    }

    /// The requests served so far, in the order their answers were ready:
    /// (arrived, answered, path).
    pub fn requests(&self) -> Vec<(std::time::Instant, std::time::Instant, String)> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

async fn files(State(st): State<AppState>, req: axum::extract::Request) -> Response {
    let uri = req.uri().clone();
    if let Some(q) = uri.query() {
        let rel = uri.path().trim_start_matches('/');
        let variant = st.dir.join(format!("{rel}@{q}"));
        if !rel.contains("..") && variant.is_file() {
            let ct = if rel.ends_with(".html") { "text/html; charset=utf-8" } else { "application/octet-stream" };
            return match tokio::fs::read(&variant).await {
                Ok(b) => ([(header::CONTENT_TYPE, ct)], b).into_response(),
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            };
        }
    }
    match ServeDir::new(&st.dir).oneshot(req).await {
        Ok(r) => r.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `/_misbehave/slow/MS/PATH`: the file at PATH, after MS milliseconds.
async fn slow(
    State(st): State<AppState>,
    axum::extract::Path((ms, path)): axum::extract::Path<(u64, String)>,
) -> Response {
    tokio::time::sleep(std::time::Duration::from_millis(ms.min(60_000))).await;
    if path.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(st.dir.join(&path)).await {
        Ok(b) => b.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn huge() -> Response {
    let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = (0..480).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
}

async fn retry_after(State(st): State<AppState>) -> Response {
    if st.retry_after_hits.fetch_add(1, Ordering::SeqCst) == 0 {
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "slow down").into_response();
    }
    match tokio::fs::read(st.dir.join("demo/feeds/adm-levokumsky.xml")).await {
        Ok(b) => ([(header::CONTENT_TYPE, "application/rss+xml")], b).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The VK API's answer shapes: `{"response": ...}` or `{"error": {...}}`.
/// Walls are `fixtures/vk/wall{owner_id}.json` (`{"items": [...]}`, newest
/// first), comments `fixtures/vk/comments{owner_id}_{post_id}.json`;
/// `groups.getById` gives the wall file's `members_count`. A wrong
/// token gets error 5, owner -666 error 15 (access denied), and owner -101 one
/// error 6 (rate limit) before its wall; `domain=velichaevka_vk` is wall -102.
async fn vk_api(
    State(st): State<AppState>,
    axum::extract::Path(method): axum::extract::Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let error = |code: i64, msg: &str| {
        axum::Json(serde_json::json!({"error": {"error_code": code, "error_msg": msg, "request_params": []}}))
            .into_response()
    };
    if q.get("access_token").map(String::as_str) != Some(VK_TEST_TOKEN) {
        return error(5, "User authorization failed: invalid access_token (4).");
    }
    // Short names the fake API knows, as `utils.resolveScreenName` would.
    let owner = match q.get("domain").map(String::as_str) {
        Some("velichaevka_vk") => "-102".to_string(),
        Some(_) => return error(100, "One of the parameters specified was missing or invalid: domain is invalid"),
        None => q.get("owner_id").cloned().unwrap_or_default(),
    };
    if owner == "-666" {
        return error(15, "Access denied: this wall available only for community members");
    }
    if owner == "-101" && st.vk_rate_hits.fetch_add(1, Ordering::SeqCst) == 0 {
        return error(6, "Too many requests per second");
    }
    if method == "groups.getById" {
        // Members as a community's page shows them: `members_count` of its wall file.
        let id = q.get("group_id").cloned().unwrap_or_default();
        let wall = tokio::fs::read_to_string(st.dir.join(format!("vk/wall-{id}.json"))).await.unwrap_or_default();
        let members = serde_json::from_str::<serde_json::Value>(&wall).ok().and_then(|w| w["members_count"].as_i64());
        return axum::Json(serde_json::json!({"response": {"groups": [{"id": id.parse::<i64>().unwrap_or(0), "members_count": members}], "profiles": []}}))
            .into_response();
    }
    let file = match method.as_str() {
        "wall.get" => format!("vk/wall{owner}.json"),
        "wall.getComments" => format!("vk/comments{owner}_{}.json", q.get("post_id").cloned().unwrap_or_default()),
        _ => return error(3, "Unknown method passed"),
    };
    let Ok(text) = tokio::fs::read_to_string(st.dir.join(&file)).await else {
        return error(100, "One of the parameters specified was missing or invalid: owner_id is undefined");
    };
    let Ok(all) = serde_json::from_str::<serde_json::Value>(&text) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let items = all["items"].as_array().cloned().unwrap_or_default();
    let offset: usize = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let count: usize = q.get("count").and_then(|c| c.parse().ok()).unwrap_or(20).min(100);
    let page: Vec<serde_json::Value> = items.iter().skip(offset).take(count).cloned().collect();
    axum::Json(serde_json::json!({"response": {"count": items.len(), "items": page}})).into_response()
}
