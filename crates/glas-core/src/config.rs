//! Pipeline configuration (`pipelines/*.toml`): read once, validated once, every
//! error reported together with file, line and column.
//!
//! The file is walked as a spanned TOML document rather than deserialized with
//! serde, so that one wrong value does not hide the next one: the analyst or IT
//! person editing the file sees the complete list of what to fix.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::Duration;
use toml_edit::{Document, Item, TableLike, Value};

/// Keys every source accepts, whatever its type.
const COMMON_SOURCE_KEYS: &[&str] =
    &["id", "type", "name", "url", "allow_private", "interval", "place", "hosts", "own"];

/// Source kinds this version can crawl, each with the keys of its own. Config
/// naming any other kind is an error that lists these.
pub const SOURCE_KINDS: &[(&str, &[&str])] = &[
    ("rss", &["full_text"]),
    ("html", &["link_selector", "title_selector", "date_selector", "text_selector", "max_articles"]),
    ("telegram", &["max_pages"]),
    ("vk", &["owner_id", "domain", "comments", "token_env", "token_file", "max_pages"]),
    ("jsonl", &[]),
];

/// "rss, html, telegram, vk, jsonl".
pub fn source_kinds() -> String {
    SOURCE_KINDS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
}

/// The VK API endpoint a `vk` source uses when it gives no `url`.
pub const VK_API: &str = "https://api.vk.com/method";

/// The built-in taxonomy (codes of the contract, Russian names, rules).
pub const BUILTIN_TOPICS: &str = include_str!("topics.toml");

/// The built-in taxonomy, parsed once.
pub fn builtin_topics() -> &'static [TopicRule] {
    static TOPICS: std::sync::OnceLock<Vec<TopicRule>> = std::sync::OnceLock::new();
    TOPICS.get_or_init(|| {
        let doc = Document::parse(BUILTIN_TOPICS.to_string()).expect("topics.toml is valid TOML");
        let path = Path::new("topics.toml");
        let mut r = Reader { text: BUILTIN_TOPICS, file: path, base: path, errors: Vec::new() };
        let topics = r.topics(doc.as_table());
        assert!(r.errors.is_empty(), "topics.toml: {:?}", r.errors);
        topics
    })
}

/// The Russian name of a built-in topic code, or the code itself when unknown.
pub fn topic_name(code: &str) -> &str {
    builtin_topics().iter().find(|t| t.code == code).map_or(code, |t| t.name.as_str())
}

/// One topic of the taxonomy and the rules that assign it.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicRule {
    pub code: String,
    /// Russian name shown to users.
    pub name: String,
    /// Single words, any case form; a trailing `*` matches a word prefix.
    pub words: Vec<String>,
    /// Word sequences, each word in any case form.
    pub phrases: Vec<String>,
    /// Phrases whose words never count for this topic.
    pub exclude: Vec<String>,
}

/// A person or organization analysts follow (`[[watchlist]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// Canonical name, reported in `entities`.
    pub name: String,
    /// `official` or `organization`.
    pub kind: String,
    /// Other ways texts name it, matched in every case form ("водоканал",
    /// "глава округа", a surname).
    pub variants: Vec<String>,
}

/// A saved search (`[[searches]]`): new matches are emailed as a digest after
/// every crawl round.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedSearch {
    pub name: String,
    /// In the query language of [`crate::query`].
    pub query: String,
    /// Recipients; empty means the `[alerts]` recipients.
    #[serde(default)]
    pub to: Vec<String>,
}

/// A validated pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The file it was read from (absent for pipelines built in code).
    pub path: Option<PathBuf>,
    pub district: District,
    pub storage: Storage,
    pub sources: Vec<SourceConfig>,
    pub crawl: CrawlSettings,
    pub places: Vec<Place>,
    /// The effective taxonomy: built-in topics (unless `[taxonomy] builtin =
    /// false`), replaced or extended by the pipeline's `[[topics]]`.
    pub topics: Vec<TopicRule>,
    pub watchlist: Vec<Watch>,
    pub signals: SignalRules,
    pub alerts: Option<Alerts>,
    pub searches: Vec<SavedSearch>,
    pub report: ReportSettings,
    /// The feedback loop: `[incidents]` and `[[routing]]`; absent when the
    /// pipeline has neither.
    pub incidents: Option<IncidentSettings>,
    /// `[media_plan]`: how the plan is held against the own channels.
    pub media_plan: MediaPlanSettings,
    /// `[image]`: the administration's image index.
    pub image: ImageSettings,
    /// `[forecast]`: the outlook.
    pub forecast: ForecastSettings,
    /// `[retention]`: how long residents' personal data is kept.
    pub retention: Retention,
    /// `[privacy]`: who sees authors' names.
    pub privacy: PrivacySettings,
}

/// `[retention]`: authors' names and profile links are replaced by a
/// pseudonym (a keyed hash: distinct voices stay distinct) once a mention is
/// older than `pseudonymise_authors_after_days`; whole mentions are deleted
/// after `delete_after_days`. Either may be off (`0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    pub pseudonymise_authors_after_days: u32,
    pub delete_after_days: u32,
}

impl Retention {
    pub fn is_off(&self) -> bool {
        self.pseudonymise_authors_after_days == 0 && self.delete_after_days == 0
    }
}

/// `[privacy]`: the workspace roles with the right to residents' personal
/// data; every other role sees authors as pseudonyms in pages, the API and
/// exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacySettings {
    pub personal_data_roles: Vec<String>,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings { personal_data_roles: vec!["analyst".into(), "admin".into()] }
    }
}

/// `[media_plan]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlanSettings {
    /// Days after a planned item's last day it still counts, as late.
    pub grace_days: u32,
    /// Who is reminded the day before a planned item (none: no reminders).
    pub remind_to: Vec<String>,
}

impl Default for MediaPlanSettings {
    fn default() -> Self {
        MediaPlanSettings { grace_days: 2, remind_to: Vec::new() }
    }
}

/// `[image]`: whose image the index measures and how each mention weighs.
/// A mention's value is
/// `source weight × tone × role × (quote if the subject is quoted)`,
/// the tone being +1 (positive), `neutral` or −1 (negative) towards the
/// subjects; a week's index is the sum over its mentions (the
/// administration's own publications and replies not counted).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSettings {
    /// Watchlist names whose image is measured; by default every `official`
    /// and every organization whose name begins with "Администрац".
    pub subjects: Vec<String>,
    /// Source weights: media (feeds and sites, or anything with a headline),
    /// social posts, comments.
    pub media: f64,
    pub social: f64,
    pub comment: f64,
    /// Role weights: the subject is the main one (named in the headline or
    /// first sentence, or in half the sentences), or mentioned in passing.
    pub main: f64,
    pub secondary: f64,
    /// Multiplier when a subject speaks in the text (direct speech).
    pub quote: f64,
    /// The tone value of a neutral mention (being mentioned at all counts a little).
    pub neutral: f64,
}

impl Default for ImageSettings {
    fn default() -> Self {
        ImageSettings {
            subjects: Vec::new(),
            media: 1.0,
            social: 0.5,
            comment: 0.25,
            main: 1.0,
            secondary: 0.5,
            quote: 1.5,
            neutral: 0.2,
        }
    }
}

impl ImageSettings {
    /// The subjects to measure: the configured ones, or the default choice
    /// from the watchlist.
    pub fn subjects_in(&self, watchlist: &[Watch]) -> Vec<String> {
        if !self.subjects.is_empty() {
            return self.subjects.clone();
        }
        watchlist
            .iter()
            .filter(|w| w.kind == "official" || w.name.to_lowercase().starts_with("администрац"))
            .map(|w| w.name.clone())
            .collect()
    }
}

/// A season that returns every year: from (month, day) to (month, day),
/// both included; it may run over the New Year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Season {
    pub from: (u32, u32),
    pub to: (u32, u32),
}

impl Season {
    /// The heating season of most of Russia: 15 October to 15 April.
    pub const HEATING: Season = Season { from: (10, 15), to: (4, 15) };

    pub fn contains(&self, d: chrono::NaiveDate) -> bool {
        let md = (chrono::Datelike::month(&d), chrono::Datelike::day(&d));
        if self.from <= self.to { md >= self.from && md <= self.to } else { md >= self.from || md <= self.to }
    }

    /// "10-15..04-15".
    pub fn parse(s: &str) -> Option<Season> {
        let (a, b) = s.split_once("..")?;
        let md = |x: &str| -> Option<(u32, u32)> {
            let (m, d) = x.trim().split_once('-')?;
            let (m, d) = (m.parse().ok()?, d.parse().ok()?);
            chrono::NaiveDate::from_ymd_opt(2024, m, d).map(|_| (m, d))
        };
        Some(Season { from: md(a)?, to: md(b)? })
    }
}

/// `[forecast]`: the outlook's calendar and whether it alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastSettings {
    /// The heating season (`heating` complaints have a level of their own in
    /// it); `"10-15..04-15"` by default, `""` for none.
    pub heating_season: Option<Season>,
    /// Whether `outlook` signals (next week well above the usual) are
    /// emailed; they are always shown.
    pub alert: bool,
    /// How far above the usual week a key's forecast week must be to make
    /// an `outlook` signal (and at least `min_stories` stories).
    pub ratio: f64,
    pub min_stories: f64,
}

impl Default for ForecastSettings {
    fn default() -> Self {
        ForecastSettings { heating_season: Some(Season::HEATING), alert: false, ratio: 1.5, min_stories: 5.0 }
    }
}

/// `[incidents]` and `[[routing]]`: how residents' problems become incidents,
/// who answers them and by when.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSettings {
    /// `[[routing]]` in file order; the first that matches an incident takes
    /// it. The last one without topics and places catches the rest.
    pub routing: Vec<ServiceRoute>,
    /// Who overdue incidents escalate to (the head's office).
    pub head: Vec<String>,
    /// Working hours (district time) on working days.
    pub hours: (chrono::NaiveTime, chrono::NaiveTime),
    /// A production calendar replacing the shipped one (holidays and
    /// transferred working days).
    pub calendar: Option<PathBuf>,
    /// New complaints on the same topic and settlement this soon after the
    /// incident's last one join it.
    pub join_window: Duration,
    /// A complaint this soon after a resolution reopens the incident and
    /// counts as a repeat.
    pub repeat_window: Duration,
    /// How long (working time) before a deadline the service is reminded.
    pub remind_before: Duration,
    /// Deadlines without a more specific rule: first reaction and resolution,
    /// in working time (whole days count as working days).
    pub reaction: Duration,
    pub resolution: Duration,
    /// `[[incidents.deadlines]]`: the first matching one sets the deadlines.
    pub deadlines: Vec<DeadlineRule>,
    /// Where the workspace is opened, for links in emails (defaults to the
    /// `[alerts]` `search_url`).
    pub workspace_url: Option<String>,
    /// Authors whose replies under a resident's post answer it publicly: the
    /// administration's accounts as mentions name them (`vk:club12345`).
    pub official_accounts: Vec<String>,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        let t = |h| chrono::NaiveTime::from_hms_opt(h, 0, 0).expect("valid hour");
        IncidentSettings {
            routing: Vec::new(),
            head: Vec::new(),
            hours: (t(9), t(18)),
            calendar: None,
            join_window: Duration::days(7),
            repeat_window: Duration::days(30),
            remind_before: Duration::hours(2),
            reaction: Duration::hours(8),
            resolution: Duration::days(10),
            deadlines: Vec::new(),
            workspace_url: None,
            official_accounts: Vec::new(),
        }
    }
}

impl IncidentSettings {
    /// The service an incident about `topic` in `place` goes to.
    pub fn route(&self, topic: Option<&str>, place: Option<&str>) -> Option<&ServiceRoute> {
        let matches =
            |list: &[String], v: Option<&str>| list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v));
        self.routing.iter().find(|r| matches(&r.topics, topic) && matches(&r.places, place))
    }

    /// The (first reaction, resolution) deadlines of an incident.
    pub fn deadlines(&self, topic: Option<&str>, severity: crate::Severity) -> (Duration, Duration) {
        let rule = self.deadlines.iter().find(|d| {
            (d.topics.is_empty() || topic.is_some_and(|t| d.topics.iter().any(|x| x == t)))
                && (d.severities.is_empty() || d.severities.contains(&severity))
        });
        (
            rule.and_then(|r| r.reaction).unwrap_or(self.reaction),
            rule.and_then(|r| r.resolution).unwrap_or(self.resolution),
        )
    }
}

/// `[[routing]]`: incidents about these topics (any, when empty) in these
/// places (any, when empty) go to `service`, emailed at `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRoute {
    pub service: String,
    pub topics: Vec<String>,
    pub places: Vec<String>,
    pub to: Vec<String>,
}

/// `[[incidents.deadlines]]`: deadlines for incidents of these topics and
/// severities (any, when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineRule {
    pub topics: Vec<String>,
    pub severities: Vec<crate::Severity>,
    pub reaction: Option<Duration>,
    pub resolution: Option<Duration>,
}

/// "09:00-18:00": the start and end of the working day.
pub fn parse_hours(s: &str) -> Option<(chrono::NaiveTime, chrono::NaiveTime)> {
    let (a, b) = s.split_once('-')?;
    let t = |x: &str| chrono::NaiveTime::parse_from_str(x.trim(), "%H:%M").ok();
    let (a, b) = (t(a)?, t(b)?);
    (a < b).then_some((a, b))
}

#[derive(Debug, Clone, PartialEq)]
pub struct District {
    /// Display name used in reports and emails.
    pub name: String,
    /// IANA time zone for days, weeks and schedules.
    pub timezone: chrono_tz::Tz,
}

impl Default for District {
    fn default() -> Self {
        District { name: "Муниципальный округ".into(), timezone: chrono_tz::Europe::Moscow }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    /// Where the store of record, index, analytics, reports and outbox live.
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// Unique, stable; used in mention ids and summaries.
    pub id: String,
    /// One of [`SOURCE_KINDS`].
    pub kind: String,
    /// Human name shown to analysts; defaults to `id`.
    pub name: String,
    /// Feed URL, `t.me/s/NAME` page, or file path / URL of mention lines.
    pub url: String,
    /// Lets the source fetch loopback and private addresses (tests, demo).
    pub allow_private: bool,
    /// How often `glas run` polls it.
    pub interval: Duration,
    /// The settlement a local community speaks for: its mentions that name no
    /// settlement are attributed to this one.
    pub place: Option<String>,
    /// Hosts besides the source URL's own that links may be followed to.
    pub hosts: Vec<String>,
    /// The administration's own channel (its site, its official communities):
    /// its posts answer residents publicly.
    pub own: bool,
    /// What only this kind of source understands.
    pub options: SourceOptions,
}

/// A configured value remembered with where it was written, for errors found
/// after loading (CSS selectors are checked by the crawler that uses them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub value: String,
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Located {
    pub fn error(&self, message: String) -> ConfigError {
        ConfigError { file: self.file.clone(), line: self.line, column: self.column, message }
    }
}

/// Type-specific source options.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceOptions {
    Rss {
        /// Follow each item's link and take the article text from the page
        /// when the feed carries only a lead.
        full_text: bool,
    },
    Html(HtmlOptions),
    Telegram {
        /// Pages to walk back (`?before=ID`) on the first crawl.
        max_pages: u32,
    },
    Vk(VkOptions),
    Jsonl,
}

/// A news site without a feed: a listing page and its article pages.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HtmlOptions {
    /// CSS selector of article links on the listing page (default: heuristics).
    pub link_selector: Option<Located>,
    /// CSS selectors on the article page (defaults: meta tags, `h1`, `<time>`,
    /// the densest text block).
    pub title_selector: Option<Located>,
    pub date_selector: Option<Located>,
    pub text_selector: Option<Located>,
    /// Most articles fetched per crawl.
    pub max_articles: u32,
}

/// A VK community wall, read through the VK API.
#[derive(Debug, Clone, PartialEq)]
pub struct VkOptions {
    /// The wall's owner: negative for communities (`-12345`).
    pub owner_id: Option<i64>,
    /// Or its short name (`levokumka`).
    pub domain: Option<String>,
    /// Also collect the comments of new posts (`wall.getComments`).
    pub comments: bool,
    /// Environment variable holding the access token.
    pub token_env: String,
    /// Or a file holding it (a secrets file readable only by the service),
    /// which wins over `token_env`.
    pub token_file: Option<PathBuf>,
    /// Pages of 100 posts to walk back on the first crawl.
    pub max_pages: u32,
}

/// How the crawler behaves towards the sites it reads (`[crawl]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CrawlSettings {
    /// Pause between two requests to the same host.
    pub delay: Duration,
    /// Whole-request timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest response body read.
    pub max_body: usize,
    /// Retries on 429 and 5xx, with exponential backoff and jitter.
    pub retries: u32,
    /// First backoff step.
    pub backoff: Duration,
    /// Longest `Retry-After` honoured; a longer one fails the fetch.
    pub max_retry_after: Duration,
    /// Sources crawled at the same time.
    pub concurrency: usize,
    /// Who to contact about the crawler, sent in the User-Agent.
    pub contact: String,
}

impl Default for CrawlSettings {
    fn default() -> Self {
        CrawlSettings {
            delay: Duration::seconds(1),
            timeout: Duration::seconds(30),
            connect_timeout: Duration::seconds(10),
            max_body: 20 * 1024 * 1024,
            retries: 3,
            backoff: Duration::seconds(1),
            max_retry_after: Duration::minutes(2),
            concurrency: 16,
            contact: "https://example.org/glas".into(),
        }
    }
}

/// A settlement of the district gazetteer.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// Canonical name, nominative case ("Величаевское").
    pub name: String,
    /// Other names it goes by ("Величаевка").
    pub aliases: Vec<String>,
    /// село, посёлок, хутор...: a marker of another kind before the name
    /// ("п. Правокумский" vs "с. Правокумское") rules it out.
    pub kind: Option<String>,
    /// The name is also a common word or surname (Заря, Степной, Кочубей): it
    /// counts only with context — a settlement marker (с., пос., х.), a
    /// preposition before the capitalized name (в, из, по, до), or a street.
    pub ambiguous: bool,
    /// Streets that exist in this settlement only ("Гагарина", "Школьная"):
    /// "ул. Гагарина" in a text names the settlement. Optional.
    pub streets: Vec<String>,
}

/// Thresholds of the signal detector (`[signals]`; the method is in SIGNALS.md).
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRules {
    /// How often signals are computed: the service does it at every crawl
    /// round as of the last whole step, replays and evaluations at every step.
    pub step: Duration,
    /// Short sliding window the negative stories are counted over.
    pub window: Duration,
    /// Fewest negative stories about one topic in one place that can fire
    /// in the short window.
    pub min_negative: u32,
    /// Long window, for slow and low-volume episodes.
    pub long_window: Duration,
    /// Fewest negative stories that can fire in the long window.
    pub long_min_negative: u32,
    /// How many times the expected count the count must reach.
    pub ratio: f64,
    /// Half-life of the exponentially weighted usual rate.
    pub baseline: Duration,
    /// Significance that opens an episode, and below which it starts to calm.
    pub open_score: f64,
    /// A count is also significant when the chance of at least that many
    /// stories, given the expected count, is at most this (a negative
    /// binomial tail with the variance the score uses). It speaks for the
    /// quiet series, where three stories are already a rare event but the
    /// bias keeps `z` low.
    pub max_p: f64,
    pub close_score: f64,
    /// SigniTrend's bias term β: damps the score of low counts.
    pub bias: f64,
    /// Distinct authors (or sources) a burst needs.
    pub min_voices: u32,
    /// Share of negative mentions the window must hold (a festival's few
    /// grumbles do not fire).
    pub min_negative_share: f64,
    /// Hours below `close_score` that resolve an episode.
    pub quiet: Duration,
    /// History the district needs before any signal fires.
    pub warmup: Duration,
    /// Negative stories with one new term (in a day) that make an emerging issue.
    pub emerging_min: u32,
    /// Distinct fresh accounts posting one text within 6 hours that count as
    /// suspected coordinated activity.
    pub coordinated_min: u32,
}

impl Default for SignalRules {
    fn default() -> Self {
        SignalRules {
            step: Duration::minutes(15),
            window: Duration::hours(6),
            min_negative: 3,
            long_window: Duration::hours(24),
            long_min_negative: 6,
            ratio: 3.0,
            baseline: Duration::days(14),
            open_score: 4.0,
            max_p: 1e-4,
            close_score: 1.5,
            bias: 0.5,
            min_voices: 3,
            min_negative_share: 0.4,
            quiet: Duration::hours(12),
            warmup: Duration::days(3),
            emerging_min: 3,
            coordinated_min: 6,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    /// `smtps://host:465` (TLS from the start), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtp://host:port` (plain, for a relay on the same machine);
    /// absent means emails go to the outbox folder in the data dir. Credentials
    /// come from `GLAS_SMTP_USER` and `GLAS_SMTP_PASSWORD`.
    pub smtp_url: Option<String>,
    /// A certificate authority (PEM) to trust for the SMTP server's TLS
    /// besides the public ones: an office relay with an internal CA.
    pub ca_file: Option<PathBuf>,
    pub from: String,
    /// Recipients of every alert.
    pub to: Vec<String>,
    /// Extra recipients for alerts of some topics or places.
    pub routes: Vec<AlertRoute>,
    /// After an alert, its episode stays quiet this long unless it escalates.
    pub cooldown: Duration,
    /// Send a notice when an alerted episode resolves.
    pub resolution: bool,
    /// Attempts per email, and the pause before the second (doubling after).
    pub attempts: u32,
    pub retry_delay: Duration,
    /// Where analysts open `glas serve` (e.g. `http://glas.local:8080`): alerts
    /// link to the matching search's page there (`/search?q=...`).
    pub search_url: Option<String>,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            smtp_url: None,
            ca_file: None,
            from: String::new(),
            to: Vec::new(),
            routes: Vec::new(),
            cooldown: Duration::hours(24),
            resolution: true,
            attempts: 3,
            retry_delay: Duration::seconds(5),
            search_url: None,
        }
    }
}

/// `[[alerts.routes]]`: alerts whose topic is one of `topics` (any, when
/// empty) and whose place is one of `places` (any, when empty) also go to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRoute {
    pub topics: Vec<String>,
    pub places: Vec<String>,
    pub to: Vec<String>,
}

impl Alerts {
    /// Everyone an alert about `topic` in `place` goes to, without repeats.
    pub fn recipients(&self, topic: Option<&str>, place: Option<&str>) -> Vec<String> {
        let matches =
            |list: &[String], v: Option<&str>| list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v));
        let mut to = self.to.clone();
        for r in self.routes.iter().filter(|r| matches(&r.topics, topic) && matches(&r.places, place)) {
            for a in &r.to {
                if !to.contains(a) {
                    to.push(a.clone());
                }
            }
        }
        to
    }
}

/// `[report]`: when the weekly report is made and emailed, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSettings {
    /// Weekday and local time (district time zone) the report of the week
    /// before is made: "Mon 09:00".
    pub weekday: chrono::Weekday,
    pub at: chrono::NaiveTime,
    /// Recipients; empty means the `[alerts]` recipients.
    pub to: Vec<String>,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            weekday: chrono::Weekday::Mon,
            at: chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
            to: Vec::new(),
        }
    }
}

/// Parses a weekly schedule, "Mon 09:00" (English or Russian weekday names,
/// any case): the weekday and the local time.
pub fn parse_weekly_schedule(s: &str) -> Option<(chrono::Weekday, chrono::NaiveTime)> {
    let (day, time) = s.trim().split_once(char::is_whitespace)?;
    let day = day.trim().to_lowercase();
    let weekday = match day.as_str() {
        "mon" | "monday" | "пн" | "понедельник" => chrono::Weekday::Mon,
        "tue" | "tuesday" | "вт" | "вторник" => chrono::Weekday::Tue,
        "wed" | "wednesday" | "ср" | "среда" => chrono::Weekday::Wed,
        "thu" | "thursday" | "чт" | "четверг" => chrono::Weekday::Thu,
        "fri" | "friday" | "пт" | "пятница" => chrono::Weekday::Fri,
        "sat" | "saturday" | "сб" | "суббота" => chrono::Weekday::Sat,
        "sun" | "sunday" | "вс" | "воскресенье" => chrono::Weekday::Sun,
        _ => return None,
    };
    let at = chrono::NaiveTime::parse_from_str(time.trim(), "%H:%M").ok()?;
    Some((weekday, at))
}

/// One problem in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
    }
}

/// Every problem found in a pipeline file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} error{} in pipeline configuration:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl Pipeline {
    /// Reads and validates a pipeline file. Relative paths inside resolve against
    /// the file's folder.
    pub fn load(path: &Path) -> Result<Pipeline, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("cannot read pipeline file: {e}"),
            }])
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut p = Pipeline::parse(&text, path, &base)?;
        p.path = Some(path.to_path_buf());
        Ok(p)
    }

    /// Validates pipeline text. `file` names it in errors; `base` resolves
    /// relative paths; `${NAME}` and `${NAME:-default}` take their values from
    /// the environment.
    pub fn parse(text: &str, file: &Path, base: &Path) -> Result<Pipeline, ConfigErrors> {
        Pipeline::parse_with_vars(text, file, base, &|name| std::env::var(name).ok())
    }

    /// Like [`Pipeline::parse`], with `${NAME}` values from `vars`.
    pub fn parse_with_vars(
        text: &str,
        file: &Path,
        base: &Path,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Pipeline, ConfigErrors> {
        let (expanded, unset) = interpolate(text, vars);
        if !unset.is_empty() {
            return Err(ConfigErrors(
                unset
                    .into_iter()
                    .map(|(offset, name)| {
                        let (line, column) = line_col(text, offset);
                        ConfigError {
                            file: file.to_path_buf(),
                            line,
                            column,
                            message: format!(
                                "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
                            ),
                        }
                    })
                    .collect(),
            ));
        }
        let text = expanded.as_str();
        let doc = Document::parse(text.to_string()).map_err(|e| {
            let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
            ConfigErrors(vec![ConfigError {
                file: file.to_path_buf(),
                line,
                column,
                message: format!("invalid TOML: {}", e.message().trim()),
            }])
        })?;
        let mut r = Reader { text, file, base, errors: Vec::new() };
        let root = doc.as_table();
        r.known_keys(
            root,
            "",
            &[
                "district",
                "storage",
                "crawl",
                "sources",
                "places",
                "taxonomy",
                "topics",
                "watchlist",
                "signals",
                "alerts",
                "searches",
                "report",
                "incidents",
                "routing",
                "media_plan",
                "image",
                "forecast",
                "retention",
                "privacy",
            ],
        );

        let crawl = match r.table(root, "crawl") {
            None => CrawlSettings::default(),
            Some(t) => {
                let keys = [
                    "delay",
                    "timeout",
                    "connect_timeout",
                    "max_body_mb",
                    "retries",
                    "backoff",
                    "max_retry_after",
                    "concurrency",
                    "contact",
                ];
                r.known_keys(t, "crawl", &keys);
                let d = CrawlSettings::default();
                let zero_ok = |r: &mut Reader, key: &str, default: Duration| match t.get(key).and_then(Item::as_str) {
                    Some("0") | Some("0s") | Some("0ms") => Duration::zero(),
                    _ => r.duration(t, key).unwrap_or(default),
                };
                CrawlSettings {
                    delay: zero_ok(&mut r, "delay", d.delay),
                    timeout: r.duration(t, "timeout").unwrap_or(d.timeout),
                    connect_timeout: r.duration(t, "connect_timeout").unwrap_or(d.connect_timeout),
                    max_body: r.integer(t, "max_body_mb", 1..=1024).map_or(d.max_body, |mb| mb as usize * 1024 * 1024),
                    retries: r.integer(t, "retries", 0..=10).map_or(d.retries, |n| n as u32),
                    backoff: zero_ok(&mut r, "backoff", d.backoff),
                    max_retry_after: r.duration(t, "max_retry_after").unwrap_or(d.max_retry_after),
                    concurrency: r.integer(t, "concurrency", 1..=1024).map_or(d.concurrency, |n| n as usize),
                    contact: r.string(t, "contact", false).unwrap_or(d.contact),
                }
            }
        };

        let district = match r.table(root, "district") {
            None => District::default(),
            Some(t) => {
                r.known_keys(t, "district", &["name", "timezone"]);
                let name = r.string(t, "name", false).unwrap_or_else(|| District::default().name);
                let timezone = match r.string_spanned(t, "timezone") {
                    None => chrono_tz::Europe::Moscow,
                    Some((s, span)) => s.parse().unwrap_or_else(|_| {
                        r.error(span, format!("unknown time zone {s:?} (use an IANA name such as \"Europe/Moscow\")"));
                        chrono_tz::Europe::Moscow
                    }),
                };
                District { name, timezone }
            }
        };

        let storage = match r.table(root, "storage") {
            None => {
                r.error(0..0, "missing [storage] table with data_dir".into());
                Storage { data_dir: PathBuf::new() }
            }
            Some(t) => {
                r.known_keys(t, "storage", &["data_dir"]);
                let dir = r.string(t, "data_dir", true).unwrap_or_default();
                Storage { data_dir: r.resolve(&dir) }
            }
        };

        let mut sources = Vec::new();
        let mut seen_ids: Vec<String> = Vec::new();
        for (t, span) in r.tables(root, "sources") {
            let kind = r.string_spanned(t, "type");
            let own_keys =
                kind.as_ref().and_then(|(k, _)| SOURCE_KINDS.iter().find(|(name, _)| name == k)).map(|(_, keys)| *keys);
            let allowed: Vec<&str> = COMMON_SOURCE_KEYS.iter().chain(own_keys.unwrap_or(&[])).copied().collect();
            let section = match &kind {
                Some((k, _)) if own_keys.is_some() => format!("[[sources]] of type {k:?}"),
                _ => "[[sources]]".to_string(),
            };
            r.known_keys(t, &section, &allowed);
            let id = r.string_spanned(t, "id");
            let url = r.string_spanned(t, "url");
            if id.is_none() {
                r.error(span.clone(), "source without `id` (a unique, stable name such as \"stavropolye-tv\")".into());
            }
            if kind.is_none() {
                r.error(span.clone(), format!("source without `type` (one of: {})", source_kinds()));
            }
            let is_vk = kind.as_ref().is_some_and(|(k, _)| k == "vk");
            if url.is_none() && !is_vk {
                r.error(span.clone(), "source without `url`".into());
            }
            if let Some((id, s)) = &id {
                if !valid_id(id) {
                    r.error(
                        s.clone(),
                        format!("source id {id:?} may contain only latin letters, digits, '-', '_' and '.'"),
                    );
                } else if seen_ids.contains(id) {
                    r.error(s.clone(), format!("duplicate source id {id:?}: ids must be unique"));
                }
                seen_ids.push(id.clone());
            }
            if let Some((k, s)) = &kind
                && own_keys.is_none()
            {
                r.error(s.clone(), format!("unknown source type {k:?} (supported: {})", source_kinds()));
            }
            let mut url_value = if is_vk { VK_API.to_string() } else { String::new() };
            if let (Some((u, s)), Some((k, _))) = (&url, &kind) {
                url_value = u.clone();
                let is_http = u.starts_with("http://") || u.starts_with("https://");
                if k == "jsonl" && !is_http {
                    url_value = r.resolve(u).to_string_lossy().into_owned();
                } else if !is_http || url::Url::parse(u).is_err() {
                    r.error(s.clone(), format!("source url {u:?} is not an http(s) URL"));
                }
            }
            let allow_private = r.boolean(t, "allow_private").unwrap_or(false);
            let interval = r.duration(t, "interval").unwrap_or(Duration::minutes(15));
            let place = r.string_spanned(t, "place").map(|(p, _)| p);
            let hosts = r.strings(t, "hosts").unwrap_or_default();
            let own = r.boolean(t, "own").unwrap_or(false);
            let options = match kind.as_ref().map(|(k, _)| k.as_str()) {
                Some("rss") => SourceOptions::Rss { full_text: r.boolean(t, "full_text").unwrap_or(false) },
                Some("html") => SourceOptions::Html(HtmlOptions {
                    link_selector: r.located(t, "link_selector"),
                    title_selector: r.located(t, "title_selector"),
                    date_selector: r.located(t, "date_selector"),
                    text_selector: r.located(t, "text_selector"),
                    max_articles: r.integer(t, "max_articles", 1..=10_000).map_or(50, |n| n as u32),
                }),
                Some("telegram") => {
                    SourceOptions::Telegram { max_pages: r.integer(t, "max_pages", 1..=1000).map_or(10, |n| n as u32) }
                }
                Some("vk") => {
                    let owner_id = r.integer(t, "owner_id", i64::MIN..=i64::MAX);
                    let domain = r.string(t, "domain", false);
                    if owner_id.is_none() && domain.is_none() {
                        r.error(span.clone(), "vk source needs `owner_id` (-12345 for a community) or `domain`".into());
                    }
                    SourceOptions::Vk(VkOptions {
                        owner_id,
                        domain,
                        comments: r.boolean(t, "comments").unwrap_or(false),
                        token_env: r.string(t, "token_env", false).unwrap_or_else(|| "GLAS_VK_TOKEN".into()),
                        token_file: r.string(t, "token_file", false).map(|f| r.resolve(&f)),
                        max_pages: r.integer(t, "max_pages", 1..=1000).map_or(5, |n| n as u32),
                    })
                }
                _ => SourceOptions::Jsonl,
            };
            if let (Some((id, _)), Some((kind, _))) = (id, kind) {
                let name = r.string(t, "name", false).unwrap_or_else(|| id.clone());
                sources.push(SourceConfig {
                    id,
                    kind,
                    name,
                    url: url_value,
                    allow_private,
                    interval,
                    place,
                    hosts,
                    own,
                    options,
                });
            }
        }

        let mut places = Vec::new();
        for (t, _) in r.tables(root, "places") {
            r.known_keys(t, "places", &["name", "aliases", "kind", "ambiguous", "streets"]);
            let name = r.string(t, "name", true);
            let aliases = r.strings(t, "aliases").unwrap_or_default();
            let kind = r.string(t, "kind", false);
            let ambiguous = r.boolean(t, "ambiguous").unwrap_or(false);
            let streets = r.strings(t, "streets").unwrap_or_default();
            if let Some(name) = name {
                places.push(Place { name, aliases, kind, ambiguous, streets });
            }
        }

        let builtin = match r.table(root, "taxonomy") {
            None => true,
            Some(t) => {
                r.known_keys(t, "taxonomy", &["builtin"]);
                r.boolean(t, "builtin").unwrap_or(true)
            }
        };
        let mut topics: Vec<TopicRule> = if builtin { builtin_topics().to_vec() } else { Vec::new() };
        for rule in r.topics(root) {
            match topics.iter_mut().find(|t| t.code == rule.code) {
                Some(t) => *t = rule,
                None => topics.push(rule),
            }
        }

        let mut watchlist = Vec::new();
        for (t, span) in r.tables(root, "watchlist") {
            r.known_keys(t, "watchlist", &["name", "kind", "variants"]);
            let name = r.string(t, "name", true);
            let kind = r.string_spanned(t, "kind");
            if let Some((k, span)) = &kind
                && !["official", "organization"].contains(&k.as_str())
            {
                r.error(span.clone(), format!("watchlist kind {k:?} is not one of: official, organization"));
            }
            let variants = r.strings(t, "variants").unwrap_or_default();
            if let Some(name) = name {
                if name.trim().is_empty() {
                    r.error(span, "watchlist name is empty".into());
                }
                let kind = kind.map_or_else(|| "organization".to_string(), |(k, _)| k);
                watchlist.push(Watch { name, kind, variants });
            }
        }

        for (t, _) in r.tables(root, "sources") {
            if let Some((place, span)) =
                t.get("place").and_then(Item::as_str).map(|p| (p.to_string(), r.value_span(t, "place")))
                && !places.iter().any(|p| p.name == place)
            {
                let known: Vec<&str> = places.iter().map(|p| p.name.as_str()).collect();
                r.error(
                    span,
                    format!(
                        "source place {place:?} is not in [[places]] (known: {})",
                        if known.is_empty() { "none".into() } else { known.join(", ") }
                    ),
                );
            }
        }

        let signals = match r.table(root, "signals") {
            None => SignalRules::default(),
            Some(t) => {
                r.known_keys(
                    t,
                    "signals",
                    &[
                        "step",
                        "window",
                        "min_negative",
                        "long_window",
                        "long_min_negative",
                        "ratio",
                        "baseline",
                        "open_score",
                        "max_p",
                        "close_score",
                        "bias",
                        "min_voices",
                        "min_negative_share",
                        "quiet",
                        "warmup",
                        "emerging_min",
                        "coordinated_min",
                    ],
                );
                let d = SignalRules::default();
                let count = |r: &mut Reader, key: &str, default: u32| {
                    r.integer(t, key, 1..=100_000).map_or(default, |v| v as u32)
                };
                let window = r.duration(t, "window").unwrap_or(d.window);
                let long_window = r.duration(t, "long_window").unwrap_or(d.long_window);
                for (key, w) in [("window", window), ("long_window", long_window)] {
                    if w.num_seconds() % 3600 != 0 || w < Duration::hours(1) || w > Duration::days(7) {
                        let span = r.value_span(t, key);
                        r.error(span, format!("`{key}` must be whole hours between 1h and 7d"));
                    }
                }
                let step = r.duration(t, "step").unwrap_or(d.step);
                let s = step.num_seconds();
                if !(60..=24 * 3600).contains(&s)
                    || (s % 60 != 0)
                    || (s < 3600 && 3600 % s != 0)
                    || (s > 3600 && s % 3600 != 0)
                {
                    let span = r.value_span(t, "step");
                    r.error(span, "`step` must divide an hour (\"15m\", \"30m\") or be whole hours up to 24h".into());
                }
                let max_p = r.float(t, "max_p").unwrap_or(d.max_p);
                if max_p >= 1.0 {
                    let span = r.value_span(t, "max_p");
                    r.error(span, "`max_p` is a probability: below 1 (the default is 1e-4)".into());
                }
                if window > long_window {
                    let span = r.value_span(t, "long_window");
                    r.error(span, "`long_window` must not be shorter than `window`".into());
                }
                SignalRules {
                    step,
                    window,
                    min_negative: count(&mut r, "min_negative", d.min_negative),
                    long_window,
                    long_min_negative: count(&mut r, "long_min_negative", d.long_min_negative),
                    ratio: r.float(t, "ratio").unwrap_or(d.ratio),
                    baseline: r.duration(t, "baseline").unwrap_or(d.baseline),
                    open_score: r.float(t, "open_score").unwrap_or(d.open_score),
                    max_p,
                    close_score: r.float(t, "close_score").unwrap_or(d.close_score),
                    bias: r.float(t, "bias").unwrap_or(d.bias),
                    min_voices: count(&mut r, "min_voices", d.min_voices),
                    min_negative_share: r.float(t, "min_negative_share").unwrap_or(d.min_negative_share),
                    quiet: r.duration(t, "quiet").unwrap_or(d.quiet),
                    warmup: r.duration(t, "warmup").unwrap_or(d.warmup),
                    emerging_min: count(&mut r, "emerging_min", d.emerging_min),
                    coordinated_min: count(&mut r, "coordinated_min", d.coordinated_min),
                }
            }
        };

        let alerts = r.table(root, "alerts").map(|t| {
            r.known_keys(
                t,
                "alerts",
                &[
                    "smtp_url",
                    "ca_file",
                    "from",
                    "to",
                    "routes",
                    "cooldown",
                    "resolution",
                    "attempts",
                    "retry_delay",
                    "search_url",
                ],
            );
            let smtp_url = r.string_spanned(t, "smtp_url").map(|(u, s)| {
                if !(u.starts_with("smtp://") || u.starts_with("smtps://")) {
                    r.error(s, format!("smtp_url {u:?} must start with smtp:// or smtps://"));
                }
                u
            });
            let from = r.string(t, "from", true).unwrap_or_default();
            let to = r.strings(t, "to").unwrap_or_default();
            let (from_span, to_span) = (r.value_span(t, "from"), r.value_span(t, "to"));
            let addresses: Vec<(String, Range<usize>)> = std::iter::once((from.clone(), from_span))
                .chain(to.iter().map(|a| (a.clone(), to_span.clone())))
                .collect();
            for (addr, span) in addresses {
                if !addr.is_empty() && !plausible_email(&addr) {
                    r.error(span, format!("{addr:?} is not an email address"));
                }
            }
            if to.is_empty() {
                let span = r.value_span(t, "to");
                r.error(span, "alerts need at least one recipient in `to`".into());
            }
            let d = Alerts::default();
            let mut routes = Vec::new();
            if let Some(item) = t.get("routes") {
                let tables: Vec<&dyn TableLike> = match item.as_array_of_tables() {
                    Some(a) => a.iter().map(|t| t as &dyn TableLike).collect(),
                    None => {
                        let span = r.value_span(t, "routes");
                        r.error(span, "routes are written as [[alerts.routes]] sections".into());
                        Vec::new()
                    }
                };
                for rt in tables {
                    r.known_keys(rt, "alerts.routes", &["topics", "places", "to"]);
                    let to = r.strings(rt, "to").unwrap_or_default();
                    let span = r.value_span(rt, "to");
                    if to.is_empty() {
                        r.error(span.clone(), "a route needs at least one recipient in `to`".into());
                    }
                    for a in to.iter().filter(|a| !plausible_email(a)) {
                        r.error(span.clone(), format!("{a:?} is not an email address"));
                    }
                    let route_topics = r.strings(rt, "topics").unwrap_or_default();
                    let span = r.value_span(rt, "topics");
                    for code in route_topics.iter().filter(|c| !topics.iter().any(|t| &t.code == *c)) {
                        r.error(span.clone(), format!("unknown topic {code:?} (see `glas topics`)"));
                    }
                    let route_places = r.strings(rt, "places").unwrap_or_default();
                    let span = r.value_span(rt, "places");
                    for p in route_places.iter().filter(|p| !places.iter().any(|x| &x.name == *p)) {
                        r.error(span.clone(), format!("unknown settlement {p:?}: add it to [[places]]"));
                    }
                    routes.push(AlertRoute { topics: route_topics, places: route_places, to });
                }
            }
            let attempts = r.integer(t, "attempts", 1..=10).map_or(d.attempts, |n| n as u32);
            let search_url = r.string_spanned(t, "search_url").map(|(u, s)| {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    r.error(s, format!("search_url {u:?} must start with http:// or https://"));
                }
                u.trim_end_matches('/').to_string()
            });
            let ca_file = r.string_spanned(t, "ca_file").map(|(f, span)| {
                let path = r.resolve(&f);
                if !path.is_file() {
                    r.error(span, format!("ca_file {:?} is not a file", path.display().to_string()));
                }
                path
            });
            Alerts {
                smtp_url,
                ca_file,
                from,
                to,
                routes,
                cooldown: r.duration(t, "cooldown").unwrap_or(d.cooldown),
                resolution: r.boolean(t, "resolution").unwrap_or(d.resolution),
                attempts,
                retry_delay: r.duration(t, "retry_delay").unwrap_or(d.retry_delay),
                search_url,
            }
        });
        let report = match r.table(root, "report") {
            None => ReportSettings::default(),
            Some(t) => {
                r.known_keys(t, "report", &["schedule", "to"]);
                let mut rs = ReportSettings::default();
                if let Some((text, span)) = r.string_spanned(t, "schedule") {
                    match parse_weekly_schedule(&text) {
                        Some((weekday, at)) => {
                            rs.weekday = weekday;
                            rs.at = at;
                        }
                        None => r.error(
                            span,
                            format!("schedule {text:?} is not a weekday and a time such as \"Mon 09:00\""),
                        ),
                    }
                }
                rs.to = r.strings(t, "to").unwrap_or_default();
                let span = r.value_span(t, "to");
                for a in rs.to.iter().filter(|a| !plausible_email(a)) {
                    r.error(span.clone(), format!("{a:?} is not an email address"));
                }
                if !rs.to.is_empty() && alerts.is_none() {
                    r.error(span, "the report is emailed through [alerts]: add an [alerts] section".into());
                }
                rs
            }
        };

        let mut searches: Vec<SavedSearch> = Vec::new();
        for (t, span) in r.tables(root, "searches") {
            r.known_keys(t, "searches", &["name", "query", "to"]);
            let name = r.string(t, "name", true);
            let query = r.string(t, "query", true);
            let to = r.strings(t, "to").unwrap_or_default();
            if let Some(q) = &query
                && let Err(e) = crate::query::parse(q)
            {
                let at = r.value_span(t, "query");
                r.error(at, format!("invalid query: {e}"));
            }
            let to_span = r.value_span(t, "to");
            for addr in &to {
                if !plausible_email(addr) {
                    r.error(to_span.clone(), format!("{addr:?} is not an email address"));
                }
            }
            if alerts.is_none() {
                r.error(span.clone(), "saved searches send digests through [alerts]: add an [alerts] section".into());
            }
            if let (Some(name), Some(query)) = (name, query) {
                if name.trim().is_empty() {
                    r.error(span, "saved search name is empty".into());
                } else if searches.iter().any(|s| s.name == name) {
                    r.error(span, format!("saved search {name:?} is defined twice"));
                } else {
                    searches.push(SavedSearch { name, query, to });
                }
            }
        }

        let incidents = r.incidents(root, &topics, &places, alerts.is_some());
        let media_plan = match r.table(root, "media_plan") {
            None => MediaPlanSettings::default(),
            Some(t) => {
                r.known_keys(t, "media_plan", &["grace_days", "remind_to"]);
                let d = MediaPlanSettings::default();
                let remind_to = r.emails(t, "remind_to");
                if !remind_to.is_empty() && alerts.is_none() {
                    let span = r.value_span(t, "remind_to");
                    r.error(span, "reminders are emailed through [alerts]: add an [alerts] section".into());
                }
                MediaPlanSettings {
                    grace_days: r.integer(t, "grace_days", 0..=30).map_or(d.grace_days, |n| n as u32),
                    remind_to,
                }
            }
        };

        let image = match r.table(root, "image") {
            None => ImageSettings::default(),
            Some(t) => {
                let weights = ["media", "social", "comment", "main", "secondary", "quote", "neutral"];
                let mut keys = vec!["subjects"];
                keys.extend(weights);
                r.known_keys(t, "image", &keys);
                let mut s =
                    ImageSettings { subjects: r.strings(t, "subjects").unwrap_or_default(), ..Default::default() };
                for name in &s.subjects {
                    if !watchlist.iter().any(|w| &w.name == name) {
                        let span = r.value_span(t, "subjects");
                        r.error(span, format!("image subject {name:?} is not a [[watchlist]] name"));
                    }
                }
                for key in weights {
                    let Some(v) = r.value(t, key) else { continue };
                    let span = v.span().unwrap_or(0..0);
                    match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
                        Some(f) if f.is_finite() && (0.0..=100.0).contains(&f) => {
                            let slot = match key {
                                "media" => &mut s.media,
                                "social" => &mut s.social,
                                "comment" => &mut s.comment,
                                "main" => &mut s.main,
                                "secondary" => &mut s.secondary,
                                "quote" => &mut s.quote,
                                _ => &mut s.neutral,
                            };
                            *slot = f;
                        }
                        _ => r.error(span, format!("`{key}` must be a number from 0 to 100")),
                    }
                }
                s
            }
        };

        let forecast = match r.table(root, "forecast") {
            None => ForecastSettings::default(),
            Some(t) => {
                r.known_keys(t, "forecast", &["heating_season", "alert", "ratio", "min_stories"]);
                let d = ForecastSettings::default();
                let heating_season = match r.string_spanned(t, "heating_season") {
                    None => d.heating_season,
                    Some((s, _)) if s.trim().is_empty() => None,
                    Some((s, span)) => Season::parse(&s).or_else(|| {
                        r.error(span, format!("heating_season {s:?}: write \"10-15..04-15\" (month-day..month-day)"));
                        None
                    }),
                };
                ForecastSettings {
                    heating_season,
                    alert: r.boolean(t, "alert").unwrap_or(d.alert),
                    ratio: r.float(t, "ratio").unwrap_or(d.ratio),
                    min_stories: r.float(t, "min_stories").unwrap_or(d.min_stories),
                }
            }
        };

        let retention = match r.table(root, "retention") {
            None => Retention::default(),
            Some(t) => {
                r.known_keys(t, "retention", &["pseudonymise_authors_after_days", "delete_after_days"]);
                let days = |r: &mut Reader, key| r.integer(t, key, 0..=36_500).map_or(0, |n| n as u32);
                let retention = Retention {
                    pseudonymise_authors_after_days: days(&mut r, "pseudonymise_authors_after_days"),
                    delete_after_days: days(&mut r, "delete_after_days"),
                };
                if retention.delete_after_days > 0
                    && retention.pseudonymise_authors_after_days >= retention.delete_after_days
                {
                    let span = r.value_span(t, "delete_after_days");
                    r.error(span, "delete_after_days must be longer than pseudonymise_authors_after_days".to_string());
                }
                retention
            }
        };

        let privacy = match r.table(root, "privacy") {
            None => PrivacySettings::default(),
            Some(t) => {
                r.known_keys(t, "privacy", &["personal_data_roles"]);
                let roles = r.strings(t, "personal_data_roles").unwrap_or_default();
                for role in &roles {
                    if !["service", "viewer", "analyst", "admin"].contains(&role.as_str()) {
                        let span = r.value_span(t, "personal_data_roles");
                        r.error(
                            span,
                            format!("personal_data_roles: unknown role {role:?} (service, viewer, analyst, admin)"),
                        );
                    }
                }
                PrivacySettings { personal_data_roles: roles }
            }
        };

        if !r.errors.is_empty() {
            r.errors.sort_by_key(|e| (e.line, e.column));
            return Err(ConfigErrors(r.errors));
        }
        Ok(Pipeline {
            path: None,
            district,
            storage,
            sources,
            crawl,
            places,
            topics,
            watchlist,
            signals,
            alerts,
            searches,
            report,
            incidents,
            media_plan,
            image,
            forecast,
            retention,
            privacy,
        })
    }

    /// The source with this id.
    pub fn source(&self, id: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.id == id)
    }
}

/// Walks a spanned TOML document, collecting errors instead of stopping at the first.
struct Reader<'a> {
    text: &'a str,
    file: &'a Path,
    base: &'a Path,
    errors: Vec<ConfigError>,
}

impl<'a> Reader<'a> {
    fn error(&mut self, span: Range<usize>, message: String) {
        let (line, column) = line_col(self.text, span.start);
        self.errors.push(ConfigError { file: self.file.to_path_buf(), line, column, message });
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() { p.to_path_buf() } else { self.base.join(p) }
    }

    fn key_span(&self, t: &dyn TableLike, key: &str) -> Range<usize> {
        t.key(key).and_then(|k| k.span()).unwrap_or(0..0)
    }

    fn value_span(&self, t: &dyn TableLike, key: &str) -> Range<usize> {
        t.get(key).and_then(Item::span).unwrap_or_else(|| self.key_span(t, key))
    }

    fn known_keys(&mut self, t: &dyn TableLike, section: &str, allowed: &[&str]) {
        let unknown: Vec<(String, Range<usize>)> =
            t.iter().filter(|(k, _)| !allowed.contains(k)).map(|(k, _)| (k.to_string(), self.key_span(t, k))).collect();
        for (k, span) in unknown {
            let place = match section {
                "" => "at top level".to_string(),
                s if s.starts_with('[') => format!("in {s}"),
                s => format!("in [{s}]"),
            };
            self.error(span, format!("unknown key {k:?} {place} (allowed: {})", allowed.join(", ")));
        }
    }

    fn table<'d>(&mut self, t: &'d dyn TableLike, key: &str) -> Option<&'d dyn TableLike> {
        let item = t.get(key)?;
        match item.as_table_like() {
            Some(tt) => Some(tt),
            None => {
                let span = self.value_span(t, key);
                self.error(span, format!("`{key}` must be a table ([{key}])"));
                None
            }
        }
    }

    fn tables<'d>(&mut self, t: &'d dyn TableLike, key: &str) -> Vec<(&'d dyn TableLike, Range<usize>)> {
        let Some(item) = t.get(key) else { return Vec::new() };
        if let Some(aot) = item.as_array_of_tables() {
            return aot.iter().map(|tt| (tt as &dyn TableLike, tt.span().unwrap_or(0..0))).collect();
        }
        if let Some(arr) = item.as_array() {
            let mut out = Vec::new();
            for v in arr.iter() {
                match v.as_inline_table() {
                    Some(it) => out.push((it as &dyn TableLike, v.span().unwrap_or(0..0))),
                    None => self.error(v.span().unwrap_or(0..0), format!("entries of `{key}` must be tables")),
                }
            }
            return out;
        }
        let span = self.value_span(t, key);
        self.error(span, format!("`{key}` must be an array of tables ([[{key}]])"));
        Vec::new()
    }

    fn value<'d>(&mut self, t: &'d dyn TableLike, key: &str) -> Option<&'d Value> {
        let item = t.get(key)?;
        match item.as_value() {
            Some(v) => Some(v),
            None => {
                let span = self.value_span(t, key);
                self.error(span, format!("`{key}` must be a value, not a table"));
                None
            }
        }
    }

    fn string_spanned(&mut self, t: &dyn TableLike, key: &str) -> Option<(String, Range<usize>)> {
        let v = self.value(t, key)?;
        let span = v.span().unwrap_or(0..0);
        match v.as_str() {
            Some(s) => Some((s.to_string(), span)),
            None => {
                self.error(span, format!("`{key}` must be a string, found {}", v.type_name()));
                None
            }
        }
    }

    fn string(&mut self, t: &dyn TableLike, key: &str, required: bool) -> Option<String> {
        if required && t.get(key).is_none() {
            let span = t.iter().next().map(|(k, _)| self.key_span(t, k)).unwrap_or(0..0);
            self.error(span, format!("missing required key `{key}`"));
            return None;
        }
        self.string_spanned(t, key).map(|(s, _)| s)
    }

    fn strings(&mut self, t: &dyn TableLike, key: &str) -> Option<Vec<String>> {
        let v = self.value(t, key)?;
        let span = v.span().unwrap_or(0..0);
        let Some(arr) = v.as_array() else {
            self.error(span, format!("`{key}` must be an array of strings, found {}", v.type_name()));
            return None;
        };
        let mut out = Vec::new();
        for item in arr.iter() {
            match item.as_str() {
                Some(s) => out.push(s.to_string()),
                None => self.error(item.span().unwrap_or(span.clone()), format!("`{key}` must contain only strings")),
            }
        }
        Some(out)
    }

    /// `[[topics]]` entries of a table.
    fn topics(&mut self, root: &dyn TableLike) -> Vec<TopicRule> {
        let mut out: Vec<TopicRule> = Vec::new();
        for (t, span) in self.tables(root, "topics") {
            self.known_keys(t, "topics", &["code", "name", "words", "phrases", "exclude"]);
            let code = self.string_spanned(t, "code");
            let name = self.string(t, "name", false);
            let words = self.strings(t, "words").unwrap_or_default();
            let phrases = self.strings(t, "phrases").unwrap_or_default();
            let exclude = self.strings(t, "exclude").unwrap_or_default();
            let Some((code, code_span)) = code else {
                self.error(span, "missing required key `code` in [[topics]]".into());
                continue;
            };
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()) {
                self.error(
                    code_span.clone(),
                    format!("topic code {code:?} must be lowercase latin letters, digits or _"),
                );
            }
            if out.iter().any(|o| o.code == code) {
                self.error(code_span.clone(), format!("topic {code:?} is defined twice"));
            }
            if words.is_empty() && phrases.is_empty() {
                self.error(code_span, format!("topic {code:?} has neither `words` nor `phrases`: it can never match"));
            }
            let name = name.unwrap_or_else(|| topic_name(&code).to_string());
            out.push(TopicRule { code, name, words, phrases, exclude });
        }
        out
    }

    fn boolean(&mut self, t: &dyn TableLike, key: &str) -> Option<bool> {
        let v = self.value(t, key)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                let span = v.span().unwrap_or(0..0);
                self.error(span, format!("`{key}` must be true or false, found {}", v.type_name()));
                None
            }
        }
    }

    fn integer(&mut self, t: &dyn TableLike, key: &str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
        let v = self.value(t, key)?;
        let span = v.span().unwrap_or(0..0);
        match v.as_integer() {
            Some(i) if range.contains(&i) => Some(i),
            Some(i) => {
                self.error(span, format!("`{key}` = {i} is out of range ({}..={})", range.start(), range.end()));
                None
            }
            None => {
                self.error(span, format!("`{key}` must be an integer, found {}", v.type_name()));
                None
            }
        }
    }

    fn float(&mut self, t: &dyn TableLike, key: &str) -> Option<f64> {
        let v = self.value(t, key)?;
        let span = v.span().unwrap_or(0..0);
        match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
            Some(f) if f.is_finite() && f > 0.0 => Some(f),
            _ => {
                self.error(span, format!("`{key}` must be a positive number"));
                None
            }
        }
    }

    fn located(&mut self, t: &dyn TableLike, key: &str) -> Option<Located> {
        let (value, span) = self.string_spanned(t, key)?;
        let (line, column) = line_col(self.text, span.start);
        Some(Located { value, file: self.file.to_path_buf(), line, column })
    }

    /// Topic codes and place names of a list, each checked against the
    /// taxonomy and the gazetteer.
    fn topics_and_places(
        &mut self,
        t: &dyn TableLike,
        topics: &[TopicRule],
        places: &[Place],
    ) -> (Vec<String>, Vec<String>) {
        let codes = self.strings(t, "topics").unwrap_or_default();
        let span = self.value_span(t, "topics");
        for code in codes.iter().filter(|c| !topics.iter().any(|t| &t.code == *c)) {
            self.error(span.clone(), format!("unknown topic {code:?} (see `glas topics`)"));
        }
        let names = self.strings(t, "places").unwrap_or_default();
        let span = self.value_span(t, "places");
        for p in names.iter().filter(|p| !places.iter().any(|x| &x.name == *p)) {
            self.error(span.clone(), format!("unknown settlement {p:?}: add it to [[places]]"));
        }
        (codes, names)
    }

    fn emails(&mut self, t: &dyn TableLike, key: &str) -> Vec<String> {
        let to = self.strings(t, key).unwrap_or_default();
        let span = self.value_span(t, key);
        for a in to.iter().filter(|a| !plausible_email(a)) {
            self.error(span.clone(), format!("{a:?} is not an email address"));
        }
        to
    }

    /// `[incidents]` and `[[routing]]`.
    fn incidents(
        &mut self,
        root: &dyn TableLike,
        topics: &[TopicRule],
        places: &[Place],
        has_alerts: bool,
    ) -> Option<IncidentSettings> {
        let table = self.table(root, "incidents");
        let routes = self.tables(root, "routing");
        if table.is_none() && routes.is_empty() {
            return None;
        }
        let mut s = IncidentSettings::default();
        if let Some(t) = table {
            self.known_keys(
                t,
                "incidents",
                &[
                    "head",
                    "hours",
                    "calendar",
                    "join_window",
                    "repeat_window",
                    "remind_before",
                    "reaction",
                    "resolution",
                    "deadlines",
                    "workspace_url",
                    "official_accounts",
                ],
            );
            s.official_accounts = self.strings(t, "official_accounts").unwrap_or_default();
            if s.official_accounts.iter().any(|a| a.trim().is_empty()) {
                let span = self.value_span(t, "official_accounts");
                self.error(span, "`official_accounts` holds an empty name".into());
            }
            s.head = self.emails(t, "head");
            if let Some((h, span)) = self.string_spanned(t, "hours") {
                match parse_hours(&h) {
                    Some(hours) => s.hours = hours,
                    None => self.error(span, format!("hours {h:?} are not a working day such as \"09:00-18:00\"")),
                }
            }
            s.calendar = self.string_spanned(t, "calendar").map(|(f, span)| {
                let path = self.resolve(&f);
                if !path.is_file() {
                    self.error(span, format!("calendar {:?} is not a file", path.display().to_string()));
                }
                path
            });
            s.join_window = self.duration(t, "join_window").unwrap_or(s.join_window);
            s.repeat_window = self.duration(t, "repeat_window").unwrap_or(s.repeat_window);
            s.remind_before = self.duration(t, "remind_before").unwrap_or(s.remind_before);
            s.reaction = self.duration(t, "reaction").unwrap_or(s.reaction);
            s.resolution = self.duration(t, "resolution").unwrap_or(s.resolution);
            s.workspace_url = self.string_spanned(t, "workspace_url").map(|(u, span)| {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    self.error(span, format!("workspace_url {u:?} must start with http:// or https://"));
                }
                u.trim_end_matches('/').to_string()
            });
            if let Some(item) = t.get("deadlines") {
                let tables: Vec<&dyn TableLike> = match item.as_array_of_tables() {
                    Some(a) => a.iter().map(|t| t as &dyn TableLike).collect(),
                    None => {
                        let span = self.value_span(t, "deadlines");
                        self.error(span, "deadlines are written as [[incidents.deadlines]] sections".into());
                        Vec::new()
                    }
                };
                for d in tables {
                    self.known_keys(d, "incidents.deadlines", &["topics", "severities", "reaction", "resolution"]);
                    let (codes, _) = self.topics_and_places(d, topics, places);
                    let mut severities = Vec::new();
                    let span = self.value_span(d, "severities");
                    for v in self.strings(d, "severities").unwrap_or_default() {
                        match v.as_str() {
                            "low" => severities.push(crate::Severity::Low),
                            "medium" => severities.push(crate::Severity::Medium),
                            "high" => severities.push(crate::Severity::High),
                            _ => self.error(span.clone(), format!("severity {v:?} is not one of: low, medium, high")),
                        }
                    }
                    let reaction = self.duration(d, "reaction");
                    let resolution = self.duration(d, "resolution");
                    if reaction.is_none() && resolution.is_none() {
                        let span = self.value_span(d, "topics");
                        self.error(span, "a deadline rule needs `reaction` or `resolution`".into());
                    }
                    s.deadlines.push(DeadlineRule { topics: codes, severities, reaction, resolution });
                }
            }
        }
        for (t, span) in routes {
            self.known_keys(t, "routing", &["service", "topics", "places", "to"]);
            let service = self.string(t, "service", true).unwrap_or_default();
            if service.trim().is_empty() {
                self.error(span.clone(), "a route needs the `service` that answers (\"Водоканал\")".into());
            }
            let (codes, names) = self.topics_and_places(t, topics, places);
            let to = self.emails(t, "to");
            if to.is_empty() {
                self.error(span.clone(), "a route needs at least one address in `to`".into());
            }
            s.routing.push(ServiceRoute { service, topics: codes, places: names, to });
        }
        if !s.routing.iter().any(|r| r.topics.is_empty() && r.places.is_empty()) {
            self.error(
                0..0,
                "incidents need a default [[routing]] without topics and places, so that every incident has a service"
                    .into(),
            );
        }
        if !has_alerts {
            self.error(0..0, "incidents email the services through [alerts]: add an [alerts] section".into());
        }
        Some(s)
    }

    fn duration(&mut self, t: &dyn TableLike, key: &str) -> Option<Duration> {
        let (s, span) = self.string_spanned(t, key)?;
        match parse_duration(&s) {
            Some(d) => Some(d),
            None => {
                self.error(
                    span,
                    format!("`{key}` = {s:?} is not a duration (examples: \"90s\", \"15m\", \"6h\", \"14d\")"),
                );
                None
            }
        }
    }
}

/// Expands `${NAME}` and `${NAME:-default}` outside comment lines. Returns the
/// text and the (offset, name) of every variable that is unset without default.
fn interpolate(text: &str, vars: &dyn Fn(&str) -> Option<String>) -> (String, Vec<(usize, String)>) {
    let mut out = String::with_capacity(text.len());
    let mut unset = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('#') || !line.contains("${") {
            out.push_str(line);
            offset += line.len();
            continue;
        }
        let mut rest = line;
        let mut at = offset;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start..].find('}') else { break };
            let inner = &rest[start + 2..start + len];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            out.push_str(&rest[..start]);
            match vars(name).filter(|v| !v.is_empty()).or(default.map(str::to_string)) {
                Some(v) => out.push_str(&v),
                None => unset.push((at + start, name.to_string())),
            }
            at += start + len + 1;
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        offset += line.len();
    }
    (out, unset)
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A loose check that `s` is an email address (`user@host.tld` or `Name <user@host>`).
pub fn plausible_email(s: &str) -> bool {
    let addr = match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    let Some((user, host)) = addr.split_once('@') else { return false };
    !user.is_empty() && (host.contains('.') || host == "localhost") && !addr.contains(char::is_whitespace)
}

/// Parses "250ms", "90s", "15m", "6h", "14d", "2w" into a duration.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    if n <= 0 {
        return None;
    }
    match unit.trim() {
        "ms" => Some(Duration::milliseconds(n)),
        "s" => Some(Duration::seconds(n)),
        "m" | "min" => Some(Duration::minutes(n)),
        "h" => Some(Duration::hours(n)),
        "d" => Some(Duration::days(n)),
        "w" => Some(Duration::weeks(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pipeline, ConfigErrors> {
        Pipeline::parse(text, Path::new("p.toml"), Path::new("/base"))
    }

    #[test]
    fn signal_thresholds_default_and_are_checked() {
        let p = parse("[storage]\ndata_dir = \"d\"\n").unwrap();
        assert_eq!(p.signals, SignalRules::default());
        let p = parse(
            "[storage]\ndata_dir = \"d\"\n[signals]\nopen_score = 3.5\nlong_window = \"48h\"\nemerging_min = 7\n",
        )
        .unwrap();
        assert_eq!(
            (p.signals.open_score, p.signals.long_window, p.signals.emerging_min),
            (3.5, Duration::hours(48), 7)
        );
        assert_eq!(p.signals.min_negative, SignalRules::default().min_negative);
        let errs =
            parse("[storage]\ndata_dir = \"d\"\n[signals]\nwindow = \"90m\"\nlong_window = \"30m\"\n").unwrap_err();
        let text = errs.to_string();
        assert!(text.contains("p.toml:4:10: `window` must be whole hours"), "{text}");
        assert!(text.contains("`long_window` must not be shorter than `window`"), "{text}");
        let p = parse("[storage]\ndata_dir = \"d\"\n[signals]\nstep = \"30m\"\nmax_p = 1e-6\n").unwrap();
        assert_eq!((p.signals.step, p.signals.max_p), (Duration::minutes(30), 1e-6));
        let errs = parse("[storage]\ndata_dir = \"d\"\n[signals]\nstep = \"7m\"\nmax_p = 2\n").unwrap_err();
        let text = errs.to_string();
        assert!(text.contains("p.toml:4:8: `step` must divide an hour"), "{text}");
        assert!(text.contains("p.toml:5:9: `max_p` is a probability"), "{text}");
    }

    #[test]
    fn minimal_contract_pipeline_is_accepted() {
        let p = parse(
            r#"
[storage]
data_dir = "data/levokumsky"

[[sources]]
id = "stavropolye-tv"
type = "rss"
url = "https://example.org/rss.xml"
allow_private = false

[alerts]
smtp_url = "smtp://127.0.0.1:2525"
from = "glas@example.org"
to = ["press@example.org"]
"#,
        )
        .unwrap();
        assert_eq!(p.storage.data_dir, Path::new("/base/data/levokumsky"));
        assert_eq!(p.sources[0].kind, "rss");
        assert_eq!(p.alerts.unwrap().to, vec!["press@example.org"]);
        assert_eq!(p.district.timezone, chrono_tz::Europe::Moscow);
    }

    #[test]
    fn every_error_is_reported_with_its_line() {
        let err = parse(
            r#"[storage]
data_dir = "d"
colour = "red"

[[sources]]
id = "a"
type = "rsss"
url = "ftp://x"

[[sources]]
id = "a"
type = "rss"
url = "https://x.org/f"
allow_private = "yes"

[signals]
window = "6 hours"
"#,
        )
        .unwrap_err();
        let msgs: Vec<String> = err.0.iter().map(|e| format!("{}:{}", e.line, e.message)).collect();
        assert_eq!(msgs.len(), 6, "{msgs:#?}");
        assert!(msgs[0].starts_with("3:unknown key \"colour\" in [storage] (allowed: data_dir)"), "{msgs:#?}");
        assert!(
            msgs[1].starts_with("7:unknown source type \"rsss\" (supported: rss, html, telegram, vk, jsonl)"),
            "{msgs:#?}"
        );
        assert!(msgs[2].starts_with("8:source url \"ftp://x\""), "{msgs:#?}");
        assert!(msgs[3].starts_with("11:duplicate source id"), "{msgs:#?}");
        assert!(msgs[4].starts_with("14:`allow_private` must be true or false"), "{msgs:#?}");
        assert!(msgs[5].starts_with("17:`window` = \"6 hours\" is not a duration"), "{msgs:#?}");
    }

    #[test]
    fn taxonomy_places_and_watchlist() {
        let p = parse(
            r#"
[storage]
data_dir = "d"

[[places]]
name = "Заря"
kind = "посёлок"
ambiguous = true

[[topics]]
code = "water"
name = "вода"
words = ["вода"]

[[topics]]
code = "irrigation"
name = "полив"
phrases = ["Терско-Кумский канал"]

[[watchlist]]
name = "Водоканал"
variants = ["водоканал"]
"#,
        )
        .unwrap();
        assert_eq!(p.topics.len(), 19, "18 built-in codes, one replaced, one added");
        assert_eq!(p.topics[0].words, ["вода"]);
        assert_eq!(p.topics.last().unwrap().code, "irrigation");
        assert!(p.places[0].ambiguous && p.places[0].kind.as_deref() == Some("посёлок"));
        assert_eq!(p.watchlist[0].kind, "organization");
        assert_eq!(topic_name("social_support"), "соцподдержка");

        let only = parse(
            "[storage]\ndata_dir = \"d\"\n[taxonomy]\nbuiltin = false\n[[topics]]\ncode = \"x\"\nwords = [\"икс\"]\n",
        )
        .unwrap();
        assert_eq!(only.topics.len(), 1);

        let errs = parse(
            "[storage]\ndata_dir = \"d\"\n[[topics]]\ncode = \"Вода\"\nwords = [\"a\"]\n[[topics]]\ncode = \"empty\"\n[[watchlist]]\nname = \"x\"\nkind = \"person\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(errs.contains("4:8") && errs.contains("lowercase latin"), "{errs}");
        assert!(errs.contains("can never match"), "{errs}");
        assert!(errs.contains("not one of: official, organization"), "{errs}");
    }

    #[test]
    fn forecast_settings() {
        let p = parse("[storage]\ndata_dir = \"d\"\n").unwrap();
        assert_eq!(p.forecast, ForecastSettings::default());
        let p = parse(
            "[storage]\ndata_dir = \"d\"\n[forecast]\nheating_season = \"10-01..05-01\"\nalert = true\nratio = 2\n",
        )
        .unwrap();
        assert_eq!(p.forecast.heating_season, Some(Season { from: (10, 1), to: (5, 1) }));
        assert!(p.forecast.alert && p.forecast.ratio == 2.0 && p.forecast.min_stories == 5.0);
        let p = parse("[storage]\ndata_dir = \"d\"\n[forecast]\nheating_season = \"\"\n").unwrap();
        assert_eq!(p.forecast.heating_season, None);
        let errs = parse("[storage]\ndata_dir = \"d\"\n[forecast]\nheating_season = \"осень\"\nratio = -1\n")
            .unwrap_err()
            .to_string();
        assert!(errs.contains("4:18") && errs.contains("heating_season \"осень\""), "{errs}");
        assert!(errs.contains("`ratio` must be a positive number"), "{errs}");
    }

    #[test]
    fn image_weights_and_subjects() {
        let watch = "[[watchlist]]\nname = \"Глава округа\"\nkind = \"official\"\n\
[[watchlist]]\nname = \"Администрация округа\"\n[[watchlist]]\nname = \"Водоканал\"\n";
        let p = parse(&format!("[storage]\ndata_dir = \"d\"\n{watch}")).unwrap();
        assert_eq!(p.image, ImageSettings::default());
        assert_eq!(p.image.subjects_in(&p.watchlist), ["Глава округа", "Администрация округа"]);
        let p = parse(&format!(
            "[storage]\ndata_dir = \"d\"\n{watch}[image]\nsubjects = [\"Водоканал\"]\nquote = 2\nneutral = 0\n"
        ))
        .unwrap();
        assert_eq!(p.image.subjects_in(&p.watchlist), ["Водоканал"]);
        assert_eq!((p.image.quote, p.image.neutral, p.image.media), (2.0, 0.0, 1.0));
        let errs = parse(&format!(
            "[storage]\ndata_dir = \"d\"\n{watch}[image]\nsubjects = [\"Мэр\"]\nmedia = -1\nweight = 3\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(errs.contains("image subject \"Мэр\" is not a [[watchlist]] name"), "{errs}");
        assert!(errs.contains("`media` must be a number from 0 to 100"), "{errs}");
        assert!(errs.contains("weight"), "an unknown key: {errs}");
    }

    #[test]
    fn type_specific_options() {
        let p = parse(
            "[storage]\ndata_dir = \"d\"\n[[sources]]\nid = \"v\"\ntype = \"vk\"\nowner_id = -100\ncomments = true\n[[sources]]\nid = \"h\"\ntype = \"html\"\nurl = \"https://x.org/\"\nlink_selector = \".news a\"\n",
        )
        .unwrap();
        assert_eq!(p.sources[0].url, VK_API);
        assert!(
            matches!(&p.sources[0].options, SourceOptions::Vk(o) if o.owner_id == Some(-100) && o.comments && o.token_env == "GLAS_VK_TOKEN")
        );
        assert!(
            matches!(&p.sources[1].options, SourceOptions::Html(o) if o.link_selector.as_ref().unwrap().line == 12)
        );
        let err = parse("[storage]\ndata_dir = \"d\"\n[[sources]]\nid = \"t\"\ntype = \"telegram\"\nurl = \"https://t.me/s/x\"\nfull_text = true\n[[sources]]\nid = \"v\"\ntype = \"vk\"\n")
            .unwrap_err();
        assert!(err.0[0].message.contains("unknown key \"full_text\" in [[sources]] of type \"telegram\""), "{err}");
        assert!(err.0[0].message.contains("max_pages"), "{err}");
        assert!(err.0[1].message.contains("vk source needs `owner_id`"), "{err}");
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let err = parse("[storage]\ndata_dir = \"d\"\n[[sources]\n").unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].line, 3);
        assert!(err.0[0].message.starts_with("invalid TOML"));
    }

    #[test]
    fn environment_variables_fill_values() {
        let vars = |n: &str| (n == "FEEDS").then(|| "https://feeds.example.org".to_string());
        let text = "[storage]\ndata_dir = \"${DATA:-data}\"\n# ${IGNORED} in a comment\n[[sources]]\nid = \"a\"\ntype = \"rss\"\nurl = \"${FEEDS}/a.xml\"\n";
        let p = Pipeline::parse_with_vars(text, Path::new("p.toml"), Path::new("/b"), &vars).unwrap();
        assert_eq!(p.sources[0].url, "https://feeds.example.org/a.xml");
        assert_eq!(p.storage.data_dir, Path::new("/b/data"));
        let err = Pipeline::parse_with_vars(
            "[storage]\ndata_dir = \"${NOPE}\"\n",
            Path::new("p.toml"),
            Path::new("/"),
            &vars,
        )
        .unwrap_err();
        assert_eq!((err.0[0].line, err.0[0].column), (2, 13));
        assert!(err.0[0].message.contains("NOPE is not set"));
    }

    #[test]
    fn alert_routes_and_report_schedule() {
        let head = "[storage]\ndata_dir = \"d\"\n[[places]]\nname = \"Величаевское\"\n";
        let ok = parse(&format!(
            "{head}[alerts]\nfrom = \"g@example.org\"\nto = [\"p@example.org\"]\ncooldown = \"12h\"\nresolution = false\n\n\
             [[alerts.routes]]\ntopics = [\"water\"]\nplaces = [\"Величаевское\"]\nto = [\"v@example.org\", \"p@example.org\"]\n\n\
             [[alerts.routes]]\ntopics = [\"roads\"]\nto = [\"r@example.org\"]\n\n\
             [report]\nschedule = \"пт 17:30\"\n"
        ))
        .unwrap();
        let a = ok.alerts.unwrap();
        assert_eq!((a.cooldown, a.resolution, a.attempts), (Duration::hours(12), false, 3));
        assert_eq!(a.recipients(Some("water"), Some("Величаевское")), ["p@example.org", "v@example.org"]);
        assert_eq!(a.recipients(Some("water"), None), ["p@example.org"], "a place route needs the place");
        assert_eq!(a.recipients(Some("roads"), Some("Величаевское")), ["p@example.org", "r@example.org"]);
        assert_eq!((ok.report.weekday, ok.report.at.to_string().as_str()), (chrono::Weekday::Fri, "17:30:00"));
        let no_ca = parse(&format!(
            "{head}[alerts]\nfrom = \"g@example.org\"\nto = [\"p@example.org\"]\nca_file = \"missing.pem\"\n"
        ))
        .unwrap_err();
        assert!(no_ca.to_string().contains("missing.pem\" is not a file"), "{no_ca}");
        let no_alerts = parse(&format!("{head}[report]\nto = [\"h@example.org\"]\n")).unwrap_err();
        assert!(no_alerts.to_string().contains("add an [alerts] section"), "{no_alerts}");
        let d = parse(head).unwrap();
        assert_eq!((d.report.weekday, d.report.at.to_string().as_str()), (chrono::Weekday::Mon, "09:00:00"));

        let err = parse(&format!(
            "{head}[alerts]\nfrom = \"g@example.org\"\nto = [\"p@example.org\"]\n\n[[alerts.routes]]\ntopics = [\"wter\"]\nplaces = [\"Атлантида\"]\nto = []\n\n[report]\nschedule = \"monday at nine\"\n"
        ))
        .unwrap_err();
        let msgs: Vec<String> = err.0.iter().map(|e| format!("{}:{}", e.line, e.message)).collect();
        assert!(msgs.iter().any(|m| m.starts_with("10:unknown topic \"wter\"")), "{msgs:#?}");
        assert!(msgs.iter().any(|m| m.starts_with("11:unknown settlement \"Атлантида\"")), "{msgs:#?}");
        assert!(msgs.iter().any(|m| m.starts_with("12:a route needs at least one recipient")), "{msgs:#?}");
        assert!(msgs.iter().any(|m| m.starts_with("15:schedule \"monday at nine\"")), "{msgs:#?}");
    }

    #[test]
    fn saved_searches() {
        let ok = parse(
            "[storage]\ndata_dir = \"d\"\n[alerts]\nfrom = \"g@example.org\"\nto = [\"p@example.org\"]\n\n[[searches]]\nname = \"Вода\"\nquery = \"topic:water place:Величаевское\"\n",
        )
        .unwrap();
        assert_eq!(ok.searches[0].query, "topic:water place:Величаевское");
        assert!(ok.searches[0].to.is_empty(), "defaults to the [alerts] recipients");
        let err = parse(
            "[storage]\ndata_dir = \"d\"\n[[searches]]\nname = \"Вода\"\nquery = \"вода AND (газ\"\nto = [\"nobody\"]\n\n[[searches]]\nname = \"Вода\"\nquery = \"газ\"\n",
        )
        .unwrap_err();
        let msgs: Vec<String> = err.0.iter().map(|e| format!("{}:{}", e.line, e.message)).collect();
        assert!(msgs.iter().any(|m| m.starts_with("5:invalid query: позиция 10")), "{msgs:#?}");
        assert!(msgs.iter().any(|m| m.starts_with("6:\"nobody\" is not an email address")), "{msgs:#?}");
        assert!(msgs.iter().any(|m| m.contains("add an [alerts] section")), "{msgs:#?}");
        assert!(msgs.iter().any(|m| m.contains("\"Вода\" is defined twice")), "{msgs:#?}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("6h"), Some(Duration::hours(6)));
        assert_eq!(parse_duration("14d"), Some(Duration::days(14)));
        assert_eq!(parse_duration("90s"), Some(Duration::seconds(90)));
        assert_eq!(parse_duration("0h"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("5 years"), None);
    }

    #[test]
    fn emails() {
        assert!(plausible_email("press@example.org"));
        assert!(plausible_email("Пресс-служба <press@example.org>"));
        assert!(!plausible_email("press"));
        assert!(!plausible_email("@example.org"));
    }
}
