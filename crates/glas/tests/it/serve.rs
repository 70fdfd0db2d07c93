//! `glas serve` on a real socket: HTTPS with its own certificate (rustls),
//! a client sending its headers a byte at a time cut off while others are
//! served, and `X-Forwarded-For` believed only from a named proxy.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `glas serve` on a port the OS picks; returns it with "scheme://addr".
fn serve(data: &Path, extra: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["serve", "--data", data.to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base =
        line.split_whitespace().find(|w| w.starts_with("http")).unwrap_or_else(|| panic!("{line:?}")).to_string();
    (Server(child), base)
}

fn key_with_mode(dir: &Path, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(format!("server-{mode:o}.key"));
    std::fs::copy(fixtures().join("tls/server.key"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// An API search sent with `X-Forwarded-For: 203.0.113.9`; the client's
/// address the audit log then names.
async fn search_claiming_to_be_another(client: &reqwest::Client, base: &str, token: &str, data: &Path) -> String {
    let found = client
        .get(format!("{base}/api/search?q=%D0%B2%D0%BE%D0%B4%D0%B0"))
        .bearer_auth(token)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    last_search_ip(data)
}

fn last_search_ip(data: &Path) -> String {
    let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    let last = audit.lines().rev().find(|l| l.contains("\"search\"")).expect("a search in the audit log");
    serde_json::from_str::<serde_json::Value>(last).unwrap()["ip"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_speaks_tls_and_believes_forwarded_for_only_from_a_named_proxy() {
    let tmp = crate::search::imported();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let cert = fixtures().join("tls/server.pem");
    let token = stdout(&glas(&["token", "create", "bot", "--role", "analyst", "--data", d])).trim().to_string();

    // A key others can read is refused before anything listens.
    let open_key = key_with_mode(tmp.path(), 0o644);
    let out = glas(&[
        "serve",
        "--data",
        d,
        "--addr",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        open_key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));

    let key = key_with_mode(tmp.path(), 0o600);
    let (_server, base) = serve(
        &data,
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap(), "--trusted-proxy", "127.0.0.1"],
    );
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(fixtures().join("tls/ca.pem")).unwrap()).unwrap();
    let client =
        reqwest::Client::builder().tls_certs_only([ca]).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["strict-transport-security"], "max-age=31536000");
    // Over TLS the session cookies are Secure.
    let cookie = login.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(cookie.contains("Secure"), "{cookie}");
    // The proxy (127.0.0.1, trusted here) names the client.
    assert_eq!(search_claiming_to_be_another(&client, &base, &token, &data).await, "203.0.113.9");
    // A client that does not trust the certificate cannot talk to it.
    let stranger = reqwest::Client::builder().build().unwrap();
    assert!(stranger.get(format!("{base}/login")).send().await.is_err());

    // Plain HTTP, no proxy named: the header is the client's own claim, ignored.
    let (_plain, base) = serve(&data, &[]);
    let plain = reqwest::Client::new();
    assert_eq!(search_claiming_to_be_another(&plain, &base, &token, &data).await, "127.0.0.1");
}

#[test]
fn a_client_sending_headers_a_byte_at_a_time_is_cut_off_while_others_are_served() {
    let tmp = crate::search::imported();
    let data = tmp.path().join("data");
    let (_server, base) = serve(&data, &["--header-timeout", "2"]);
    let addr = base.trim_start_matches("http://").to_string();
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    slow.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let mut closed_after = None;
    let mut buf = [0u8; 512];
    while started.elapsed() < Duration::from_secs(15) {
        // One more byte of a header that never ends, every half second.
        if slow.write_all(b"X").is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        match slow.read(&mut buf) {
            Ok(0) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(_) => {} // a 408 answer before the close
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed_after = Some(started.elapsed());
                break;
            }
        }
        // Meanwhile a normal request is answered.
        let mut other = TcpStream::connect(&addr).unwrap();
        other.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        other.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let after = closed_after.expect("the slow client was never cut off");
    assert!(after >= Duration::from_millis(1500) && after < Duration::from_secs(8), "cut off after {after:?}");
}
