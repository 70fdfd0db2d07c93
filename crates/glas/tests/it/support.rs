//! Helpers shared by the integration tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn fixtures() -> PathBuf {
    repo().join("fixtures")
}

pub fn glas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glas")).args(args).output().expect("run glas")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// GET `path` over plain HTTP/1.0 from a listener of ours (the service's,
/// a worker's): the whole answer, status line and headers included.
pub fn get(addr: &str, path: &str) -> String {
    http_get(addr, path, "")
}

/// A GET with an API token (`Authorization: Bearer`).
pub fn get_as(addr: &str, path: &str, token: &str) -> String {
    http_get(addr, path, &format!("Authorization: Bearer {token}\r\n"))
}

fn http_get(addr: &str, path: &str, headers: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{headers}\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A mention line of the contract format.
pub fn line(id: &str, text: &str, at: &str) -> String {
    serde_json::json!({"id": id, "text": text, "published_at": at, "source": "test"}).to_string()
}

/// The aiosmtpd sink of `tests/support/smtp_sink.py`, on a port the OS picked.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl SmtpSink {
    pub fn start(reject_first: u32) -> SmtpSink {
        SmtpSink::start_with(reject_first, None)
    }

    /// A sink that requires STARTTLS (`Some("starttls")`) or speaks TLS from
    /// the start (`Some("implicit")`), with a certificate of the test CA
    /// `tests/support/tls/ca.pem`.
    pub fn start_with(reject_first: u32, tls: Option<&str>) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(repo().join("tests/support/smtp_sink.py"))
            .arg(dir.path())
            .args(["--reject-first", &reject_first.to_string()])
            .args(tls.map(|t| vec!["--tls", t]).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3 tests/support/smtp_sink.py (needs aiosmtpd: scripts/test installs it)");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let port = first
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("smtp sink did not start (printed {first:?}); is aiosmtpd installed?"));
        SmtpSink { port, dir, child }
    }

    /// Raw messages received so far, in order.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo pipeline reading `base` (the fixture server) with its alerts
/// going to the SMTP sink on `port`.
pub fn demo_with_smtp(base: &str, port: u16, to: &[&str]) -> glas_core::Pipeline {
    let mut pipeline = glas::demo_pipeline(Some(base)).unwrap();
    pipeline.alerts = Some(glas_core::config::Alerts {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        from: "glas@levokumsky.example".into(),
        to: to.iter().map(|s| s.to_string()).collect(),
        retry_delay: chrono::Duration::milliseconds(100),
        ..Default::default()
    });
    pipeline
}

/// Decodes the quoted-printable / base64 bodies of a raw message enough to
/// search its text: returns the raw message with each base64 part appended
/// decoded.
pub fn decoded(raw: &str) -> String {
    let mut out = raw.to_string();
    let mut in_b64 = false;
    let mut chunk = String::new();
    for l in raw.lines() {
        if l.to_ascii_lowercase().starts_with("content-transfer-encoding: base64") {
            in_b64 = true;
            chunk.clear();
            continue;
        }
        if in_b64 {
            if l.starts_with("--") {
                out.push('\n');
                out.push_str(&String::from_utf8_lossy(&b64(&chunk)));
                in_b64 = false;
            } else {
                chunk.push_str(l.trim());
            }
        }
    }
    // Quoted-printable soft line breaks and escapes.
    let qp = out.replace("=\r\n", "").replace("=\n", "");
    let bytes = qp.as_bytes();
    let mut dec = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            dec.push(b);
            i += 3;
            continue;
        }
        dec.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&dec).into_owned()
}

fn b64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let Some(v) = A.iter().position(|&a| a == c) else { continue };
        buf = (buf << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

/// The decoded Subject header of a raw message (RFC 2047 encoded words).
pub fn subject(raw: &str) -> String {
    let mut header = String::new();
    let mut inside = false;
    for l in raw.lines() {
        if l.to_ascii_lowercase().starts_with("subject:") {
            inside = true;
            header.push_str(l[8..].trim());
        } else if inside && (l.starts_with(' ') || l.starts_with('\t')) {
            header.push(' ');
            header.push_str(l.trim());
        } else if inside {
            break;
        }
    }
    let mut out = String::new();
    for word in header.split_whitespace() {
        let parts: Vec<&str> = word.split('?').collect();
        if parts.len() == 5 && parts[0] == "=" && parts[4] == "=" {
            let bytes = if parts[2].eq_ignore_ascii_case("b") {
                b64(parts[3])
            } else {
                decoded(&parts[3].replace('_', " ")).into_bytes()
            };
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
            out.push(' ');
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Share of an RGB(A) PNG's pixels that are not white, how many are the
/// charts' red, and the image's width.
pub fn ink(png_path: &std::path::Path) -> (f64, usize, u32) {
    let mut decoder = png::Decoder::new(std::fs::File::open(png_path).unwrap());
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let inked = px.iter().filter(|p| p[..3].iter().any(|&c| c < 200)).count();
    let red = px.iter().filter(|p| p[0] > 170 && p[1] < 80 && p[2] < 80).count();
    (inked as f64 / px.len() as f64, red, info.width)
}
