//! A static file server on loopback: serves `fixtures/` to the demo and the
//! tests, so crawlers are exercised over real HTTP.

use std::net::SocketAddr;
use std::path::Path;

use tower_http::services::ServeDir;

/// A running server; dropping it stops it.
pub struct FixtureServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FixtureServer {
    /// Serves `dir` on `127.0.0.1` at a port the OS picks.
    pub async fn start(dir: &Path) -> std::io::Result<FixtureServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().fallback_service(ServeDir::new(dir));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "fixture server stopped");
            }
        });
        Ok(FixtureServer { addr, task })
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
