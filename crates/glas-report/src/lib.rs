//! glas-report: the weekly tension report, a self-contained HTML page in Russian.
//!
//! Made from records and signals only (no I/O here), so any ISO week can be
//! regenerated from the store. Layout, top to bottom: the main findings in three
//! lines, volume and sentiment by day (table and an inline SVG chart), topics and
//! settlements with change against the previous week, the week's signals, and the
//! most negative mentions with links. No external resources: it opens in a mail
//! client or a browser without a network.

mod dashboard;

pub use dashboard::{Dashboard, DashboardError, Section};

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use glas_core::config::{District, topic_name};
use glas_core::ru;
use glas_core::ru::escape_html as esc;
use glas_core::{Record, Sentiment, Signal};

/// An ISO week, "2026-W47".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u32,
}

impl IsoWeek {
    pub fn parse(s: &str) -> Option<IsoWeek> {
        let (y, w) = s.split_once("-W").or_else(|| s.split_once("-w"))?;
        let week = IsoWeek { year: y.parse().ok()?, week: w.parse().ok()? };
        week.monday().map(|_| week)
    }

    pub fn of(day: NaiveDate) -> IsoWeek {
        let w = day.iso_week();
        IsoWeek { year: w.year(), week: w.week() }
    }

    pub fn monday(&self) -> Option<NaiveDate> {
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)
    }

    pub fn previous(&self) -> IsoWeek {
        IsoWeek::of(self.monday().expect("valid week") - Duration::days(7))
    }
}

impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    total: u64,
    negative: u64,
    positive: u64,
}

impl Tally {
    fn add(&mut self, s: Sentiment) {
        self.total += 1;
        match s {
            Sentiment::Negative => self.negative += 1,
            Sentiment::Positive => self.positive += 1,
            Sentiment::Neutral => {}
        }
    }
    fn negative_share(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.negative as f64 / self.total as f64 }
    }
}

/// The last day with data when `week` is still running (its Sunday not yet
/// reached), else `None`.
pub fn data_until(records: &[Record], week: IsoWeek, tz: chrono_tz::Tz) -> Option<NaiveDate> {
    let mon = week.monday().expect("valid week");
    let last = records.iter().map(|r| local_day(r, tz)).max()?;
    (mon..mon + Duration::days(6)).contains(&last).then_some(last)
}

/// Where the week before `week` ends (exclusive) when the two are compared:
/// its Monday's start, or, while `week` is still running, the same weekday
/// as its last day with data, so both cover the same days.
pub fn previous_week_end(records: &[Record], week: IsoWeek, tz: chrono_tz::Tz) -> NaiveDate {
    let mon = week.monday().expect("valid week");
    data_until(records, week, tz).map_or(mon, |d| d - Duration::days(6))
}

/// What the report is about, computed once and rendered.
pub struct Weekly<'a> {
    pub dashboard: &'a Dashboard,
    pub district: &'a District,
    pub week: IsoWeek,
    pub records: &'a [Record],
    pub signals: &'a [Signal],
    /// Source id → the name readers know it by.
    pub source_names: &'a BTreeMap<String, String>,
    /// Matches of each saved search this week and the week before.
    pub saved_searches: &'a [SavedCount],
}

/// A saved search's matches in the report's week and the week before (over
/// the same days when the week is still running).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCount {
    pub name: String,
    pub query: String,
    pub this_week: u64,
    pub previous_week: u64,
}

fn local_day(r: &Record, tz: chrono_tz::Tz) -> NaiveDate {
    r.mention.published_at.with_timezone(&tz).date_naive()
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn change(now: u64, before: u64) -> String {
    match (now, before) {
        (_, 0) if now == 0 => "—".into(),
        (_, 0) => "новое".into(),
        _ => {
            let d = (now as f64 - before as f64) / before as f64 * 100.0;
            format!("{}{:.0}%", if d > 0.0 { "+" } else { "" }, d)
        }
    }
}

impl Weekly<'_> {
    /// The last day with data when the week is still running (the previous
    /// week is then compared over the same weekdays).
    fn data_until(&self) -> Option<NaiveDate> {
        data_until(self.records, self.week, self.district.timezone)
    }

    /// The week's mentions, the previous week's (over the same days when the
    /// week is still running), and the week's days.
    fn split(&self) -> (Vec<&Record>, Vec<&Record>, Vec<NaiveDate>) {
        let tz = self.district.timezone;
        let mon = self.week.monday().expect("valid week");
        let prev_mon = mon - Duration::days(7);
        let sun = mon + Duration::days(6);
        let prev_end = previous_week_end(self.records, self.week, tz);
        let this: Vec<&Record> = self.records.iter().filter(|r| (mon..=sun).contains(&local_day(r, tz))).collect();
        let prev: Vec<&Record> =
            self.records.iter().filter(|r| (prev_mon..prev_end).contains(&local_day(r, tz))).collect();
        (this, prev, (0..7).map(|i| mon + Duration::days(i)).collect())
    }

    pub fn render_html(&self) -> String {
        let tz = self.district.timezone;
        let (this, prev, days) = self.split();
        let mon = days[0];
        let sun = days[6];
        let mut total = Tally::default();
        let mut prev_total = Tally::default();
        let mut by_day: BTreeMap<NaiveDate, Tally> = days.iter().map(|d| (*d, Tally::default())).collect();
        let mut by_topic: BTreeMap<String, (Tally, Tally)> = BTreeMap::new();
        let mut by_place: BTreeMap<String, (Tally, Tally)> = BTreeMap::new();
        for r in &this {
            let s = r.enrichment.sentiment;
            total.add(s);
            by_day.entry(local_day(r, tz)).or_default().add(s);
            for t in &r.enrichment.topics {
                by_topic.entry(t.clone()).or_default().0.add(s);
            }
            for p in &r.enrichment.places {
                by_place.entry(p.clone()).or_default().0.add(s);
            }
        }
        for r in &prev {
            let s = r.enrichment.sentiment;
            prev_total.add(s);
            for t in &r.enrichment.topics {
                by_topic.entry(t.clone()).or_default().1.add(s);
            }
            for p in &r.enrichment.places {
                by_place.entry(p.clone()).or_default().1.add(s);
            }
        }
        let week_signals: Vec<&Signal> = self
            .signals
            .iter()
            .filter(|s| (mon..=sun).contains(&s.detected_at.with_timezone(&tz).date_naive()))
            .collect();

        let mut h = String::with_capacity(32 * 1024);
        let title = format!(
            "{}: {}, неделя {} ({} — {})",
            self.dashboard.title,
            self.district.name,
            self.week.week,
            ru::date_short(mon),
            ru::date_long(sun)
        );
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{}</style></head><body>\n<h1>{}</h1>\n<p class=\"sub\">Еженедельный отчёт glas · неделя {} · сформирован по данным мониторинга СМИ и соцсетей</p>\n",
            esc(&title),
            CSS,
            esc(&title),
            self.week
        );

        for &section in &self.dashboard.sections {
            match section {
                Section::Main => {
                    // Main findings: three lines a busy reader takes in at a glance.
                    h.push_str("<section class=\"main\"><h2>Главное</h2>\n");
                    if let Some(until) = self.data_until() {
                        let _ = writeln!(
                            h,
                            "<p class=\"sub\">Неделя не завершена: данные по {}; сравнение — с теми же днями прошлой недели.</p>",
                            ru::date_long(until)
                        );
                    }
                    h.push_str("<ol>\n");
                    let _ = writeln!(
                        h,
                        "<li>За неделю — <b>{}</b> ({} к прошлой неделе), из них негативных <b>{}</b> ({}).</li>",
                        ru::mentions(total.total),
                        change(total.total, prev_total.total),
                        total.negative,
                        pct(total.negative_share())
                    );
                    let hottest =
                        by_topic.iter().filter(|(_, (t, _))| t.negative > 0).max_by_key(|(_, (t, _))| t.negative);
                    match hottest {
                        Some((code, (t, p))) => {
                            let _ = writeln!(
                                h,
                                "<li>Больше всего негатива — тема «{}»: {} ({} к прошлой неделе).</li>",
                                esc(topic_name(code)),
                                ru::negative_mentions(t.negative),
                                change(t.negative, p.negative)
                            );
                        }
                        None => h.push_str("<li>Негативных публикаций по темам не зафиксировано.</li>\n"),
                    }
                    // Alarms only: the opening or escalation of a tension or emerging episode.
                    let alarms: Vec<&&Signal> = week_signals
                        .iter()
                        .filter(|s| matches!(s.kind.as_str(), "tension" | "emerging"))
                        .filter(|s| s.phase() != Some("resolved"))
                        .collect();
                    if alarms.is_empty() {
                        h.push_str("<li>Сигналов о росте напряжённости не было.</li>\n");
                    } else {
                        let top = alarms
                            .iter()
                            .max_by(|a, b| a.severity.cmp(&b.severity).then(a.count.cmp(&b.count)))
                            .unwrap();
                        let _ = writeln!(
                            h,
                            "<li class=\"alarm\">Сигналов о росте напряжённости: <b>{}</b>. Главный: {} — {}, {}, {} за {}.</li>",
                            alarms.len(),
                            top.severity.russian(),
                            esc(top.topic.as_deref().map(topic_name).unwrap_or("без темы")),
                            esc(top.place.as_deref().unwrap_or("весь округ")),
                            ru::negative_mentions(top.count),
                            ru::window(&top.window)
                        );
                    }
                    h.push_str("</ol></section>\n");
                }
                Section::Days => {
                    // Volume and sentiment by day.
                    h.push_str("<h2>Публикации и тональность по дням</h2>\n");
                    h.push_str(&day_chart(&by_day));
                    h.push_str("<table><tr><th>День</th><th>Всего</th><th>Негативных</th><th>Позитивных</th><th>Доля негатива</th></tr>\n");
                    for (d, t) in &by_day {
                        let _ = writeln!(
                            h,
                            "<tr><td>{}, {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            ru::weekday_short(*d),
                            ru::date_short(*d),
                            t.total,
                            t.negative,
                            t.positive,
                            pct(t.negative_share())
                        );
                    }
                    h.push_str("</table>\n");
                }
                Section::Topics => tally_table(&mut h, "Темы", "Тема", &by_topic, topic_name),
                Section::Places => tally_table(&mut h, "Населённые пункты", "Населённый пункт", &by_place, |p| p),
                Section::Signals => {
                    h.push_str("<h2>Сигналы недели</h2>\n");
                    if week_signals.is_empty() {
                        h.push_str("<p>Сигналов не было.</p>\n");
                    } else {
                        h.push_str("<table><tr><th>Когда</th><th>Уровень</th><th>Тема</th><th>Где</th><th>Что выросло</th></tr>\n");
                        for s in &week_signals {
                            let at = s.detected_at.with_timezone(&tz);
                            let phase = s.phase().unwrap_or("");
                            let topic = match s.kind.as_str() {
                                "emerging" => format!(
                                    "новая тема «{}»",
                                    s.params.get("term").and_then(|t| t.as_str()).unwrap_or("")
                                ),
                                "coordinated" => format!(
                                    "{} (похоже на скоординированную активность)",
                                    s.topic.as_deref().map(topic_name).unwrap_or("—")
                                ),
                                _ => s.topic.as_deref().map(topic_name).unwrap_or("—").to_string(),
                            };
                            let what = match (s.kind.as_str(), phase) {
                                (_, "resolved") => "эпизод завершён: напряжённость спала".to_string(),
                                ("coordinated", _) => format!("{} одинаковых публикаций с новых аккаунтов", s.count),
                                _ => format!(
                                    "{} за {} при обычных {:.1}",
                                    ru::negative_mentions(s.count),
                                    ru::window(&s.window),
                                    s.baseline
                                ),
                            };
                            let _ = writeln!(
                                h,
                                "<tr><td>{} {}</td><td class=\"sev-{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                                ru::date_short(at.date_naive()),
                                at.format("%H:%M"),
                                s.severity.as_str(),
                                s.severity.russian(),
                                esc(&topic),
                                esc(s.place.as_deref().unwrap_or("весь округ")),
                                esc(&what)
                            );
                        }
                        h.push_str("</table>\n");
                    }
                }
                Section::SavedSearches => {
                    h.push_str("<h2>Сохранённые поиски</h2>\n");
                    if self.saved_searches.is_empty() {
                        h.push_str("<p>Сохранённых поисков нет. Их задают в файле конфигурации (<code>[[searches]]</code>) или через API.</p>\n");
                    } else {
                        h.push_str("<table><tr><th>Поиск</th><th>Запрос</th><th>За неделю</th><th>Неделей ранее</th><th>Изменение</th></tr>\n");
                        for s in self.saved_searches {
                            let _ = writeln!(
                                h,
                                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                                esc(&s.name),
                                esc(&s.query),
                                s.this_week,
                                s.previous_week,
                                change(s.this_week, s.previous_week)
                            );
                        }
                        h.push_str("</table>\n");
                    }
                }
                Section::TopNegative => {
                    h.push_str("<h2>Самые негативные публикации</h2>\n");
                    let mut negative: Vec<&&Record> =
                        this.iter().filter(|r| r.enrichment.sentiment == Sentiment::Negative).collect();
                    negative.sort_by(|a, b| {
                        a.enrichment
                            .sentiment_score
                            .total_cmp(&b.enrichment.sentiment_score)
                            .then(b.mention.engagement.views.unwrap_or(0).cmp(&a.mention.engagement.views.unwrap_or(0)))
                            .then(a.mention.id.cmp(&b.mention.id))
                    });
                    if negative.is_empty() {
                        h.push_str("<p>Негативных публикаций нет.</p>\n");
                    } else {
                        h.push_str("<ol class=\"mentions\">\n");
                        for r in negative.iter().take(self.dashboard.top_negative) {
                            let m = &r.mention;
                            let at = m.published_at.with_timezone(&tz);
                            let text: String = m.text.chars().take(self.dashboard.excerpt_chars).collect();
                            let more = if m.text.chars().count() > self.dashboard.excerpt_chars { "…" } else { "" };
                            let link = match &m.url {
                                Some(u) => format!(" · <a href=\"{}\">открыть</a>", esc(u)),
                                None => String::new(),
                            };
                            let _ = writeln!(
                                h,
                                "<li><div class=\"meta\">{} {} · {}{}</div><div>{}{}</div></li>",
                                ru::date_short(at.date_naive()),
                                at.format("%H:%M"),
                                esc(m
                                    .source
                                    .as_deref()
                                    .map(|id| self.source_names.get(id).map_or(id, String::as_str))
                                    .unwrap_or("")),
                                link,
                                esc(&text),
                                more
                            );
                        }
                        h.push_str("</ol>\n");
                    }
                }
            }
        }
        h.push_str("<p class=\"foot\">Тональность, темы и населённые пункты определены автоматически (базовые правила glas) и могут содержать ошибки.</p>\n</body></html>\n");
        h
    }
}

/// A table of this week's counts per key against the previous week's.
fn tally_table(
    h: &mut String,
    heading: &str,
    first: &str,
    map: &BTreeMap<String, (Tally, Tally)>,
    label: fn(&str) -> &str,
) {
    let _ = writeln!(h, "<h2>{heading}</h2>");
    let mut rows: Vec<(&String, &(Tally, Tally))> = map.iter().filter(|(_, (t, _))| t.total > 0).collect();
    rows.sort_by(|a, b| b.1.0.negative.cmp(&a.1.0.negative).then(b.1.0.total.cmp(&a.1.0.total)).then(a.0.cmp(b.0)));
    if rows.is_empty() {
        h.push_str("<p>Нет публикаций.</p>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<table><tr><th>{first}</th><th>Публикаций</th><th>Негативных</th><th>Доля негатива</th><th>Негатив к прошлой неделе</th></tr>"
    );
    for (key, (t, p)) in rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(label(key)),
            t.total,
            t.negative,
            pct(t.negative_share()),
            change(t.negative, p.negative)
        );
    }
    h.push_str("</table>\n");
}

/// Stacked bars per day (negative, neutral, positive) as inline SVG.
fn day_chart(by_day: &BTreeMap<NaiveDate, Tally>) -> String {
    let max = by_day.values().map(|t| t.total).max().unwrap_or(0).max(1) as f64;
    let (w, h, bar) = (560.0, 160.0, 56.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" role=\"img\" aria-label=\"Публикации по дням\">",
        h + 24.0
    );
    for (i, (d, t)) in by_day.iter().enumerate() {
        let x = 10.0 + i as f64 * (bar + 24.0);
        let mut y = h;
        for (n, color) in
            [(t.negative, "#c62828"), (t.total - t.negative - t.positive, "#9e9e9e"), (t.positive, "#2e7d32")]
        {
            let bh = n as f64 / max * (h - 16.0);
            y -= bh;
            if n > 0 {
                let _ = write!(s, "<rect x=\"{x}\" y=\"{y:.1}\" width=\"{bar}\" height=\"{bh:.1}\" fill=\"{color}\"/>");
            }
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            x + bar / 2.0,
            y - 3.0,
            t.total
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{} {}</text>",
            x + bar / 2.0,
            h + 16.0,
            ru::weekday_short(*d),
            d.day()
        );
    }
    s.push_str("</svg>\n<p class=\"legend\"><span style=\"color:#c62828\">■</span> негативные <span style=\"color:#9e9e9e\">■</span> нейтральные <span style=\"color:#2e7d32\">■</span> позитивные</p>\n");
    s
}

const CSS: &str = "body{font-family:Arial,Helvetica,sans-serif;max-width:820px;margin:24px auto;color:#222;line-height:1.4}\
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}\
.sub,.foot,.meta,.legend{color:#666;font-size:13px}table{border-collapse:collapse;width:100%;font-size:14px}\
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f3f3f3}\
.main ol{font-size:16px}.alarm{color:#b71c1c}.sev-high{color:#b71c1c;font-weight:bold}.sev-medium{color:#e65100}\
.mentions li{margin-bottom:10px}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks() {
        let w = IsoWeek::parse("2026-W47").unwrap();
        assert_eq!(w.monday().unwrap(), NaiveDate::from_ymd_opt(2026, 11, 16).unwrap());
        assert_eq!(w.to_string(), "2026-W47");
        assert_eq!(w.previous().to_string(), "2026-W46");
        assert_eq!(IsoWeek::of(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()), w);
        assert!(IsoWeek::parse("2026-W60").is_none());
        assert!(IsoWeek::parse("47").is_none());
    }
}
