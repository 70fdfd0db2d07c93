//! glas-alert: crisis alert emails made from signals.
//!
//! Each new alarm (a `tension` or `emerging` episode opening or escalating, a
//! source falling silent) becomes one multipart (plain text + HTML) email in
//! Russian to the `[alerts]` recipients plus those of the matching
//! `[[alerts.routes]]`, sent over SMTP with lettre (STARTTLS or TLS, with
//! retries and a doubling pause); without `smtp_url` the message is written as
//! an `.eml` file to `outbox/` in the data dir instead. What was sent is
//! recorded in `alerts/sent.json` (written atomically after each delivery), so
//! a restart never re-sends. A series that alerted stays quiet for the
//! cooldown (24 hours by default) after its last alert unless its severity
//! rises: one episode gives one email, plus one per escalation, plus one
//! notice when it resolves. Every attempt is appended to
//! `alerts/deliveries.jsonl`.

pub mod digest;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};
use glas_core::config::{Alerts, topic_name};
use glas_core::ru::escape_html as esc;
use glas_core::{Mention, Severity, Signal, ru};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("failed to {action} '{}': {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("invalid address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("failed to build the email: {0}")]
    Build(String),
    #[error("SMTP delivery to {url} failed: {reason}")]
    Smtp { url: String, reason: String },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> AlertError + 'a {
    move |source| AlertError::Io { action, path: path.to_path_buf(), source }
}

/// Where an alert went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Smtp { to: Vec<String> },
    Outbox { path: PathBuf },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SentState {
    /// Series key → the last alert sent for it.
    last_sent: BTreeMap<String, LastSent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LastSent {
    detected_at: DateTime<FixedOffset>,
    severity: Severity,
    /// When the resolution notice of this episode went out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved_at: Option<DateTime<FixedOffset>>,
}

/// Outcome of one delivery round.
#[derive(Debug, Default)]
pub struct Report {
    /// Alerts and resolution notices delivered.
    pub sent: Vec<(Signal, Delivered)>,
    /// Already alerted, or within the same episode.
    pub suppressed: usize,
    pub failed: Vec<(Signal, AlertError)>,
}

pub struct Alerter<'a> {
    pub config: &'a Alerts,
    pub district: &'a str,
    pub tz: chrono_tz::Tz,
    pub data_dir: &'a Path,
    /// Source id → the name readers know it by.
    pub source_names: &'a BTreeMap<String, String>,
}

/// Sends `msg` over the `[alerts]` SMTP server, or without `smtp_url` writes
/// it to `outbox/NAME.eml` in the data dir. A refused or failed delivery is
/// tried again (`attempts` in all, the pause doubling from `retry_delay`)
/// unless the server refused it for good (a 5xx reply). `to` is only reported
/// back.
pub async fn deliver_message(
    config: &Alerts,
    data_dir: &Path,
    msg: Message,
    to: &[String],
    name: &str,
) -> Result<Delivered, AlertError> {
    match &config.smtp_url {
        Some(url) => {
            let smtp = |reason: String| AlertError::Smtp { url: redact(url), reason };
            let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| smtp(e.to_string()))?
                .timeout(Some(std::time::Duration::from_secs(30)));
            if let Some(ca) = &config.ca_file {
                builder = builder.tls(tls_trusting(url, ca).map_err(smtp)?);
            }
            if let (Ok(user), Ok(pass)) = (std::env::var("GLAS_SMTP_USER"), std::env::var("GLAS_SMTP_PASSWORD")) {
                builder = builder.credentials(Credentials::new(user, pass));
            }
            let transport = builder.build();
            let attempts = config.attempts.max(1);
            let mut pause = config.retry_delay.to_std().unwrap_or_default();
            for attempt in 1..=attempts {
                match transport.send(msg.clone()).await {
                    Ok(_) => return Ok(Delivered::Smtp { to: to.to_vec() }),
                    Err(e) if e.is_permanent() || attempt == attempts => {
                        let tries =
                            if attempt > 1 { format!(" (attempt {attempt} of {attempts})") } else { String::new() };
                        return Err(smtp(format!("{e}{tries}")));
                    }
                    Err(e) => {
                        tracing::warn!(url = %redact(url), attempt, error = %e, "SMTP delivery failed; retrying");
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                }
            }
            unreachable!("the last attempt returns")
        }
        None => {
            let dir = data_dir.join("outbox");
            std::fs::create_dir_all(&dir).map_err(io("create outbox", &dir))?;
            let slug: String = name.chars().map(|c| if c.is_alphanumeric() || c == '-' { c } else { '_' }).collect();
            let path = dir.join(format!("{slug}.eml"));
            std::fs::write(&path, msg.formatted()).map_err(io("write to outbox", &path))?;
            Ok(Delivered::Outbox { path })
        }
    }
}

/// The TLS mode `url` asks for (`smtps://`: TLS from the start;
/// `?tls=required` or `?tls=opportunistic`: STARTTLS), trusting the
/// certificate authority in `ca` besides the public ones.
fn tls_trusting(url: &str, ca: &Path) -> Result<lettre::transport::smtp::client::Tls, String> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = u.host_str().ok_or("no host in smtp_url")?.trim_matches(['[', ']']).to_string();
    let pem = std::fs::read(ca).map_err(|e| format!("cannot read ca_file '{}': {e}", ca.display()))?;
    let cert = Certificate::from_pem(&pem).map_err(|e| format!("ca_file '{}': {e}", ca.display()))?;
    let params = TlsParameters::builder(host).add_root_certificate(cert).build_rustls().map_err(|e| e.to_string())?;
    let mode = u.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
    Ok(match (u.scheme(), mode.as_deref()) {
        ("smtps", _) => Tls::Wrapper(params),
        (_, Some("required")) => Tls::Required(params),
        (_, Some("opportunistic")) => Tls::Opportunistic(params),
        _ => Tls::None,
    })
}

/// The SMTP URL without a password, for errors and logs.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// `<HASH.glas@DOMAIN>`: a Message-ID that depends only on `parts` (and the
/// sender's domain), so a message sent again is the same message to mail
/// servers and clients that drop duplicates.
pub fn message_id(parts: &[&str], from: &str) -> String {
    let h = glas_core::fnv1a(parts.iter().flat_map(|p| p.bytes().chain([0])));
    let domain = from.rsplit('@').next().map(|d| d.trim_end_matches('>').trim()).unwrap_or("");
    let domain = if domain.is_empty() || domain == from { "glas.invalid" } else { domain };
    format!("<{h:016x}.glas@{domain}>")
}

/// `msg` with its Message-ID replaced by `id`.
pub fn with_message_id(mut msg: Message, id: &str) -> Message {
    msg.headers_mut().set(lettre::message::header::MessageId::from(id.to_string()));
    msg
}

/// A file attached to an email.
pub struct Attachment {
    pub name: String,
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

/// A message with a plain text and an HTML alternative, images the HTML
/// shows as `cid:NAME` (`inline`, each named by its content id), and
/// attachments.
pub fn compose_with_attachments(
    config: &Alerts,
    to: &[String],
    subject: &str,
    text: &str,
    html: &str,
    inline: &[Attachment],
    attachments: &[Attachment],
) -> Result<Message, AlertError> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment as Part, SinglePart};
    let content_type = |mime: &str| ContentType::parse(mime).map_err(|e| AlertError::Build(e.to_string()));
    let b = message_builder(config, subject.to_string(), to)?;
    let mut related = MultiPart::related().singlepart(SinglePart::html(html.to_string()));
    for i in inline {
        related = related.singlepart(Part::new_inline(i.name.clone()).body(i.bytes.clone(), content_type(i.mime)?));
    }
    let alternative = MultiPart::alternative().singlepart(SinglePart::plain(text.to_string())).multipart(related);
    let mut body = MultiPart::mixed().multipart(alternative);
    for a in attachments {
        body = body.singlepart(Part::new(a.name.clone()).body(a.bytes.clone(), content_type(a.mime)?));
    }
    b.multipart(body).map_err(|e| AlertError::Build(e.to_string()))
}

/// An email's HTML part: `body` in a page every mail client renders alike.
pub(crate) fn html_email(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\"></head>\
<body style=\"font-family:Arial,sans-serif;max-width:640px\">{body}</body></html>"
    )
}

fn mailbox(a: &str) -> Result<Mailbox, AlertError> {
    a.parse::<Mailbox>().map_err(|e| AlertError::Address { address: a.to_string(), reason: e.to_string() })
}

/// A message from the `[alerts]` sender to `to`, with `subject`.
pub(crate) fn message_builder(
    config: &Alerts,
    subject: String,
    to: &[String],
) -> Result<lettre::message::MessageBuilder, AlertError> {
    let mut b = Message::builder().from(mailbox(&config.from)?).subject(subject);
    for a in to {
        b = b.to(mailbox(a)?);
    }
    Ok(b)
}

impl Alerter<'_> {
    fn state_path(&self) -> PathBuf {
        self.data_dir.join("alerts").join("sent.json")
    }

    fn load_state(&self) -> Result<SentState, AlertError> {
        let p = self.state_path();
        match std::fs::read_to_string(&p) {
            Ok(t) => Ok(serde_json::from_str(&t).unwrap_or_else(|e| {
                tracing::warn!(path = %p.display(), error = %e, "alert state unreadable; starting afresh");
                SentState::default()
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SentState::default()),
            Err(e) => Err(io("read alert state", &p)(e)),
        }
    }

    fn save_state(&self, s: &SentState) -> Result<(), AlertError> {
        let p = self.state_path();
        std::fs::create_dir_all(p.parent().unwrap()).map_err(io("create alerts folder", &p))?;
        let tmp = p.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(serde_json::to_string_pretty(s).expect("state serializes").as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &p)
        };
        write().map_err(io("save alert state", &p))
    }

    fn log_delivery(&self, signal: &Signal, what: &str, to: &[String], outcome: &str) {
        let dir = self.data_dir.join("alerts");
        let p = dir.join("deliveries.jsonl");
        let line = serde_json::json!({
            "at": Utc::now().to_rfc3339(),
            "series": signal.episode_key(),
            "detected_at": signal.detected_at.to_rfc3339(),
            "what": what,
            "to": to,
            "outcome": outcome,
        });
        let r = std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::OpenOptions::new().create(true).append(true).open(&p))
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = r {
            tracing::warn!(path = %p.display(), error = %e, "cannot append to delivery log");
        }
    }

    /// Delivers every alarm not alerted before, and a notice for every alerted
    /// episode that resolved. `mentions` resolves evidence ids to show text
    /// and links.
    pub async fn deliver(
        &self,
        signals: &[Signal],
        mentions: &HashMap<String, &Mention>,
    ) -> Result<Report, AlertError> {
        let mut state = self.load_state()?;
        let mut report = Report::default();
        let cooldown = self.config.cooldown;
        // Each series as it stands now: its latest signal. An episode that
        // opened and escalated since the last round is one email, not three.
        let mut latest: Vec<&Signal> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        for s in signals {
            match at.get(&s.episode_key()) {
                Some(&i) if latest[i].detected_at > s.detected_at => {}
                Some(&i) => latest[i] = s,
                None => {
                    at.insert(s.episode_key(), latest.len());
                    latest.push(s);
                }
            }
        }
        for s in latest {
            let key = s.episode_key();
            let resolved = s.phase() == Some("resolved");
            let last = state.last_sent.get(&key);
            // An escalation of an episode nobody was told about is news, not an escalation.
            let told = last.is_some_and(|l| l.resolved_at.is_none());
            let fresh;
            let s = if s.phase() == Some("escalated") && !told {
                let mut f = s.clone();
                f.params.insert("phase".into(), serde_json::Value::from("opened"));
                fresh = f;
                &fresh
            } else {
                s
            };
            let what = if resolved {
                // Only an episode that was alerted, once, and only when asked for.
                let due = self.config.resolution && told && last.is_some_and(|l| s.detected_at > l.detected_at);
                if !due {
                    continue;
                }
                "resolution"
            } else {
                // Crisis alarms only: coordinated activity is reported, not
                // alarmed; an outlook only when the pipeline asks.
                let outlook_alarm =
                    s.kind == "outlook" && s.params.get("alarm").and_then(|a| a.as_bool()) == Some(true);
                if !matches!(s.kind.as_str(), "tension" | "emerging" | "source_silent") && !outlook_alarm {
                    continue;
                }
                if let Some(last) = last {
                    let same_episode = s.detected_at <= last.detected_at + cooldown;
                    if s.detected_at <= last.detected_at || (same_episode && s.severity <= last.severity) {
                        report.suppressed += 1;
                        continue;
                    }
                }
                "alert"
            };
            let to = self.config.recipients(s.topic.as_deref(), s.place.as_deref());
            // The same alert always has the same Message-ID: should a crash
            // fall between the server's acceptance and the state's save, the
            // copy sent after the restart is recognisably a duplicate.
            let id = message_id(&[what, &key, &s.detected_at.to_rfc3339()], &self.config.from);
            let result = async {
                let msg = if resolved { self.compose_resolution(s, &to)? } else { self.compose_to(s, mentions, &to)? };
                let msg = with_message_id(msg, &id);
                let name = format!("{}-{what}-{key}", s.detected_at.format("%Y%m%dT%H%M"));
                deliver_message(self.config, self.data_dir, msg, &to, &name).await
            }
            .await;
            match result {
                Ok(delivered) => {
                    if resolved {
                        if let Some(last) = state.last_sent.get_mut(&key) {
                            last.resolved_at = Some(s.detected_at);
                        }
                    } else {
                        state.last_sent.insert(
                            key,
                            LastSent { detected_at: s.detected_at, severity: s.severity, resolved_at: None },
                        );
                    }
                    self.save_state(&state)?;
                    self.log_delivery(s, what, &to, &format!("{delivered:?}"));
                    report.sent.push((s.clone(), delivered));
                }
                Err(e) => {
                    tracing::error!(series = %key, error = %e, "alert delivery failed");
                    self.log_delivery(s, what, &to, &format!("failed: {e}"));
                    report.failed.push((s.clone(), e));
                }
            }
        }
        Ok(report)
    }

    /// The email for one signal, to the recipients its topic and place route to.
    pub fn compose(&self, s: &Signal, mentions: &HashMap<String, &Mention>) -> Result<Message, AlertError> {
        let to = self.config.recipients(s.topic.as_deref(), s.place.as_deref());
        self.compose_to(s, mentions, &to)
    }

    fn compose_to(
        &self,
        s: &Signal,
        mentions: &HashMap<String, &Mention>,
        to: &[String],
    ) -> Result<Message, AlertError> {
        let (text, html) = self.bodies(s, mentions);
        message_builder(self.config, subject_with(s, self.source_names), to)?
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| AlertError::Build(e.to_string()))
    }

    /// The notice that an alerted episode resolved.
    fn compose_resolution(&self, s: &Signal, to: &[String]) -> Result<Message, AlertError> {
        let subject = resolution_subject(s, self.source_names);
        let at = s.detected_at.with_timezone(&self.tz).format("%d.%m.%Y %H:%M");
        let line = format!(
            "Эпизод завершён {at}: негативных публикаций больше не прибывает сверх обычного (за последние {} — {}).",
            ru::window(&s.window),
            s.count
        );
        let advice = "Новое обострение по этой теме придёт отдельным письмом.";
        let text = format!("{subject}\n{}\n\n{line}\n{advice}\n", self.district);
        let html = html_email(&format!(
            "<h2 style=\"color:#2e7d32\">{}</h2><p style=\"color:#666\">{}</p><p>{}</p><p style=\"color:#666;font-size:13px\">{}</p>",
            esc(&subject),
            esc(self.district),
            esc(&line),
            esc(advice)
        ));
        message_builder(self.config, subject, to)?
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| AlertError::Build(e.to_string()))
    }

    fn bodies(&self, s: &Signal, mentions: &HashMap<String, &Mention>) -> (String, String) {
        if s.kind == "source_silent" {
            return self.source_bodies(s);
        }
        let topic = topic_label(s);
        let topic = topic.as_str();
        let place = s.place.as_deref().unwrap_or("весь округ");
        let at = s.detected_at.with_timezone(&self.tz);
        let mut what = format!(
            "{} за {} (обычно {} за такой же период), доля негатива {:.0}%.",
            ru::negative_mentions(s.count),
            ru::window(&s.window),
            ru::usual_count(s.baseline),
            s.negative_share * 100.0
        );
        let window_hours = glas_core::config::parse_duration(&s.window).map(|d| d.num_minutes() as f64 / 60.0);
        let p = s.params.get("tail_p").and_then(|v| v.as_f64());
        if let Some(rare) = p.zip(window_hours).and_then(|(p, h)| ru::rarity(p, h)) {
            let _ = write!(what, " Без особой причины такое бывает {rare}.");
        }
        let q = match (s.kind.as_str(), s.topic.as_deref()) {
            ("emerging", _) => {
                format!("{} sentiment:negative", s.params.get("term").and_then(|t| t.as_str()).unwrap_or(""))
            }
            (_, Some(t)) => format!("topic:{t} sentiment:negative"),
            _ => "sentiment:negative".to_string(),
        };
        let q = match &s.place {
            Some(p) => format!("{q} place:\"{p}\""),
            None => q,
        };
        let query = format!("glas search '{q}' --since 7d");
        let link = self.config.search_url.as_ref().map(|base| {
            let mut u = url::Url::parse(&format!("{base}/search")).expect("search_url is validated");
            u.query_pairs_mut().append_pair("q", &q).append_pair("since", "7d").append_pair("sort", "date");
            u.to_string()
        });
        let caveat = "Перепечатки одного материала считаются один раз, одинаковые посты с новых аккаунтов (похоже на скоординированную активность) не учитываются; сигнал требует не менее трёх разных авторов или источников. Тональность и темы определены автоматически.";
        let mut text = String::new();
        let escalated = escalation_mark(s);
        let _ = writeln!(text, "{}{escalated}: рост напряжённости — {}, {}", s.severity.russian(), topic, place);
        let _ = writeln!(text, "{}, обнаружено {}", self.district, at.format("%d.%m.%Y %H:%M"));
        let _ = writeln!(text, "\n{what}\n\nГлавные публикации:");
        let mut items = String::new();
        for (i, id) in s.evidence.iter().take(5).enumerate() {
            let Some(m) = mentions.get(id) else { continue };
            let snippet: String = m.text.chars().take(200).collect();
            let when = m.published_at.with_timezone(&self.tz).format("%d.%m %H:%M");
            let src = m.source.as_deref().map(|id| self.source_names.get(id).map_or(id, String::as_str)).unwrap_or("");
            let url = m.url.as_deref().unwrap_or("");
            let _ = writeln!(text, "{}. [{when}, {src}] {snippet}\n   {url}", i + 1);
            let link =
                if url.is_empty() { String::new() } else { format!(" <a href=\"{}\">открыть</a>", esc(url)) };
            let _ = write!(
                items,
                "<li><span style=\"color:#666\">{when}, {}</span>{link}<br>{}</li>",
                esc(src),
                esc(&snippet)
            );
        }
        let _ = writeln!(text, "\n{caveat}\nНайти все публикации: {}", link.as_deref().unwrap_or(&query));
        let color = match s.severity {
            Severity::High => "#b71c1c",
            Severity::Medium => "#e65100",
            Severity::Low => "#555",
        };
        let html = html_email(&format!(
            "<h2 style=\"color:{color}\">{}{escalated}: рост напряжённости — {}, {}</h2>\
<p style=\"color:#666\">{}, обнаружено {}</p>\
<p style=\"font-size:16px\"><b>{}</b></p>\
<p>{}</p>\
<h3>Главные публикации</h3><ol>{items}</ol>\
<p style=\"color:#666;font-size:13px\">{caveat}</p>\
<p style=\"font-size:13px\">Найти все публикации: {}</p>",
            s.severity.russian(),
            esc(topic),
            esc(place),
            esc(self.district),
            at.format("%d.%m.%Y %H:%M"),
            esc(&what),
            bar_chart(s),
            match &link {
                Some(u) => format!("<a href=\"{}\">открыть поиск</a> · <code>{}</code>", esc(u), esc(&query)),
                None => format!("<code>{}</code>", esc(&query)),
            }
        ));
        (text, html)
    }
}

impl Alerter<'_> {
    /// A source that stopped delivering: what is known, and what to check.
    fn source_bodies(&self, s: &Signal) -> (String, String) {
        let line = source_line(s, self.source_names);
        let err = s.params.get("last_error").and_then(|e| e.as_str()).unwrap_or("");
        let advice = "Проверьте, доступен ли источник и не изменился ли его адрес. Пока источник молчит, мониторинг его не видит.";
        let mut text = format!("{line}\n{}\n\n", self.district);
        if !err.is_empty() {
            let _ = writeln!(text, "Последняя ошибка: {err}");
        }
        let _ = writeln!(text, "{advice}");
        let html = html_email(&format!(
            "<h2>{}</h2><p style=\"color:#666\">{}</p>{}<p>{}</p>",
            esc(&line),
            esc(self.district),
            if err.is_empty() {
                String::new()
            } else {
                format!("<p>Последняя ошибка: <code>{}</code></p>", esc(err))
            },
            esc(advice)
        ));
        (text, html)
    }
}

/// "Источник молчит: «Вестник Левокумья» — нет новых публикаций 5 сут (обычно раз в 8 ч)".
fn source_line(s: &Signal, names: &BTreeMap<String, String>) -> String {
    let id = s.source.as_deref().unwrap_or("?");
    let name = names.get(id).map_or(id, String::as_str);
    let num = |k: &str| s.params.get(k).and_then(|v| v.as_f64());
    if s.params.get("status").and_then(|v| v.as_str()) == Some("failing") {
        let n = num("consecutive_failures").unwrap_or(0.0) as u64;
        return format!("Источник не работает: «{name}» — {n} {} подряд", ru::plural(n, "ошибка", "ошибки", "ошибок"));
    }
    let hours = |h: f64| if h >= 48.0 { format!("{:.0} сут", h / 24.0) } else { format!("{h:.0} ч") };
    match (num("silent_hours"), num("usual_gap_hours")) {
        (Some(q), Some(g)) => {
            format!("Источник молчит: «{name}» — нет новых публикаций {} (обычно раз в {})", hours(q), hours(g))
        }
        _ => format!("Источник молчит: «{name}»"),
    }
}

/// The subject line with source ids as they are (see [`subject_with`]).
pub fn subject(s: &Signal) -> String {
    subject_with(s, &BTreeMap::new())
}

/// "ВЫСОКИЙ: водоснабжение, Величаевское — 23 негативных публикации за 6 ч";
/// an escalation says so: "ВЫСОКИЙ (усиление): ..."; a source's silence is
/// named with the source's display name.
pub fn subject_with(s: &Signal, names: &BTreeMap<String, String>) -> String {
    if s.phase() == Some("resolved") {
        return resolution_subject(s, names);
    }
    if s.kind == "source_silent" {
        return source_line(s, names);
    }
    if s.kind == "outlook" {
        return format!(
            "ПРОГНОЗ: {}, {} — на неделю ожидается {} (обычно {})",
            s.topic.as_deref().map_or("все темы", topic_name),
            s.place.as_deref().unwrap_or("весь округ"),
            ru::negative_mentions(s.count),
            ru::usual_count(s.baseline)
        );
    }
    let escalated = escalation_mark(s);
    format!(
        "{}{escalated}: {}, {} — {} за {}",
        s.severity.russian(),
        topic_label(s),
        s.place.as_deref().unwrap_or("весь округ"),
        ru::negative_mentions(s.count),
        ru::window(&s.window)
    )
}

/// "Снято: водоснабжение, Величаевское — напряжённость спала".
fn resolution_subject(s: &Signal, names: &BTreeMap<String, String>) -> String {
    if s.kind == "source_silent" {
        let id = s.source.as_deref().unwrap_or("?");
        return format!("Снято: источник «{}» снова работает", names.get(id).map_or(id, String::as_str));
    }
    if s.kind == "outlook" {
        return format!(
            "Снято: прогноз — {}, {} — неделя ожидается обычной",
            s.topic.as_deref().map_or("все темы", topic_name),
            s.place.as_deref().unwrap_or("весь округ")
        );
    }
    format!("Снято: {}, {} — напряжённость спала", topic_label(s), s.place.as_deref().unwrap_or("весь округ"))
}

/// The topic as an official reads it; an emerging issue is named by its words.
fn topic_label(s: &Signal) -> String {
    if s.kind == "emerging" {
        let term = s.params.get("term").and_then(|t| t.as_str()).unwrap_or("");
        return format!("новая тема «{term}»");
    }
    s.topic.as_deref().map(topic_name).unwrap_or("без темы").to_string()
}

/// " (усиление)" for a signal that escalates an open episode, else "".
fn escalation_mark(s: &Signal) -> &'static str {
    if s.phase() == Some("escalated") { " (усиление)" } else { "" }
}

/// Two bars, usual against now, drawn with table cells so mail clients that
/// strip SVG still show them.
fn bar_chart(s: &Signal) -> String {
    let max = (s.count as f64).max(s.baseline).max(1.0);
    let w = |v: f64| ((v / max) * 300.0).round().max(2.0);
    format!(
        "<table style=\"border-collapse:collapse;font-size:13px\">\
<tr><td style=\"padding:2px 8px\">обычно</td><td><div style=\"background:#9e9e9e;height:14px;width:{}px\"></div></td><td style=\"padding:2px 8px\">{}</td></tr>\
<tr><td style=\"padding:2px 8px\">сейчас</td><td><div style=\"background:#c62828;height:14px;width:{}px\"></div></td><td style=\"padding:2px 8px\">{}</td></tr></table>",
        w(s.baseline),
        ru::usual_count(s.baseline),
        w(s.count as f64),
        s.count
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(at: &str, phase: &str, severity: Severity, count: u64) -> Signal {
        let mut s: Signal = serde_json::from_value(serde_json::json!({
            "detected_at": at, "kind": "tension", "topic": "water", "place": "Величаевское",
            "severity": severity, "score": 5.0, "window": "6h", "count": count, "baseline": 1.0,
            "negative_share": 0.8, "evidence": []
        }))
        .unwrap();
        s.params.insert("phase".into(), phase.into());
        s
    }

    /// Subjects and recipients of the outbox's messages, oldest first.
    fn outbox(dir: &Path) -> Vec<String> {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir.join("outbox")) {
            Ok(d) => d.map(|e| e.unwrap().path()).collect(),
            Err(_) => return Vec::new(),
        };
        files.sort();
        files
            .iter()
            .map(|f| {
                let raw = std::fs::read_to_string(f).unwrap();
                let to = raw.lines().find(|l| l.starts_with("To: ")).unwrap_or("").to_string();
                let subject = raw.lines().find(|l| l.starts_with("Subject: ")).unwrap_or("").to_string();
                format!("{subject} | {to}")
            })
            .collect()
    }

    #[tokio::test]
    async fn an_episode_is_one_alert_one_escalation_and_one_resolution_notice() {
        let tmp = tempfile::tempdir().unwrap();
        let config = Alerts {
            from: "glas@example.org".into(),
            to: vec!["press@example.org".into()],
            routes: vec![glas_core::config::AlertRoute {
                topics: vec!["water".into()],
                places: vec![],
                to: vec!["vodokanal@example.org".into()],
            }],
            ..Default::default()
        };
        let names = BTreeMap::new();
        let alerter = Alerter {
            config: &config,
            district: "Округ",
            tz: chrono_tz::Europe::Moscow,
            data_dir: tmp.path(),
            source_names: &names,
        };
        let none = HashMap::new();
        // Opened and escalated before anyone was told: one email, at the current severity.
        let first = [
            signal("2026-11-23T08:00:00+03:00", "opened", Severity::Low, 5),
            signal("2026-11-23T09:00:00+03:00", "escalated", Severity::Medium, 8),
        ];
        let r = alerter.deliver(&first, &none).await.unwrap();
        assert_eq!(r.sent.len(), 1);
        assert_eq!((r.sent[0].0.severity, r.sent[0].0.phase()), (Severity::Medium, Some("opened")));
        // The same again (a restart): nothing.
        assert!(alerter.deliver(&first, &none).await.unwrap().sent.is_empty());
        // Escalates: one more, marked so.
        let high = signal("2026-11-23T10:00:00+03:00", "escalated", Severity::High, 12);
        assert_eq!(alerter.deliver(std::slice::from_ref(&high), &none).await.unwrap().sent.len(), 1);
        // Resolves: one notice, once.
        let resolved = signal("2026-11-26T20:00:00+03:00", "resolved", Severity::Low, 0);
        assert_eq!(alerter.deliver(&[high.clone(), resolved.clone()], &none).await.unwrap().sent.len(), 1);
        assert!(alerter.deliver(&[high, resolved], &none).await.unwrap().sent.is_empty());
        let mails = outbox(tmp.path());
        assert_eq!(mails.len(), 3, "{mails:#?}");
        assert!(
            mails.iter().all(|m| m.contains("press@example.org") && m.contains("vodokanal@example.org")),
            "{mails:#?}"
        );
        let log = std::fs::read_to_string(tmp.path().join("alerts/deliveries.jsonl")).unwrap();
        let what: Vec<String> = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["what"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(what, ["alert", "alert", "resolution"]);
        let id = message_id(&["alert", "k", "t"], "Glas <glas@example.org>");
        assert!(id.starts_with('<') && id.ends_with(".glas@example.org>"), "{id}");
        assert_eq!(id, message_id(&["alert", "k", "t"], "glas@example.org"), "stable");
        assert_ne!(id, message_id(&["alert", "k", "u"], "glas@example.org"));
    }

    /// An alerter that only composes (no delivery, no state).
    fn composing() -> (Alerts, BTreeMap<String, String>) {
        (
            Alerts { from: "glas@example.org".into(), to: vec!["p@example.org".into()], ..Default::default() },
            BTreeMap::new(),
        )
    }

    fn composer<'a>(config: &'a Alerts, names: &'a BTreeMap<String, String>) -> Alerter<'a> {
        Alerter {
            config,
            district: "Округ",
            tz: chrono_tz::Europe::Moscow,
            data_dir: Path::new("/nonexistent"),
            source_names: names,
        }
    }

    #[test]
    fn resolution_and_escalation_subjects() {
        let (config, names) = composing();
        let alerter = composer(&config, &names);
        let up = signal("2026-11-23T10:00:00+03:00", "escalated", Severity::High, 12);
        assert_eq!(subject(&up), "ВЫСОКИЙ (усиление): водоснабжение, Величаевское — 12 негативных публикаций за 6 ч");
        let msg = alerter
            .compose_resolution(&signal("2026-11-26T20:00:00+03:00", "resolved", Severity::Low, 0), &config.to)
            .unwrap();
        let raw = String::from_utf8(msg.formatted()).unwrap();
        assert!(raw.contains("Subject: "), "{raw}");
        let subject_line = msg.headers().get_raw("Subject").unwrap().to_string();
        assert_eq!(subject_line, "Снято: водоснабжение, Величаевское — напряжённость спала");
        let resolved = signal("2026-11-26T20:00:00+03:00", "resolved", Severity::Low, 0);
        assert_eq!(subject(&resolved), subject_line);
    }

    #[test]
    fn the_body_says_how_unusual_the_count_is() {
        let (config, names) = composing();
        let alerter = composer(&config, &names);
        let mut s = signal("2026-11-23T10:00:00+03:00", "opened", Severity::Low, 3);
        s.baseline = 0.04;
        s.params.insert("tail_p".into(), 7e-5.into());
        let (text, html) = alerter.bodies(&s, &HashMap::new());
        let want = "3 негативных публикации за 6 ч (обычно меньше 0,1 за такой же период), доля негатива 80%. \
                    Без особой причины такое бывает примерно раз в 10 лет.";
        assert!(text.contains(want), "{text}");
        assert!(html.contains(">меньше 0,1</td>"), "{html}");
        // Not rare (or no tail in the signal): no such sentence.
        s.params.insert("tail_p".into(), 0.2.into());
        assert!(!alerter.bodies(&s, &HashMap::new()).0.contains("Без особой причины"));
    }

    #[test]
    fn subject_reads_as_russian() {
        let s = Signal {
            detected_at: "2026-11-20T14:00:00+03:00".parse().unwrap(),
            kind: "tension".into(),
            topic: Some("water".into()),
            place: Some("Величаевское".into()),
            source: None,
            severity: Severity::High,
            score: 7.4,
            window: "6h".into(),
            count: 23,
            baseline: 1.2,
            negative_share: 0.87,
            evidence: vec![],
            params: Default::default(),
        };
        assert_eq!(subject(&s), "ВЫСОКИЙ: водоснабжение, Величаевское — 23 негативных публикации за 6 ч");
    }
}
