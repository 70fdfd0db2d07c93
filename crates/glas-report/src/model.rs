//! What the weekly report says, computed once from records and signals and
//! rendered three ways (HTML, PDF, XLSX) so the formats never disagree.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use glas_core::config::topic_name;
use glas_core::{Record, Sentiment, Severity, Signal, ru};

use crate::{IsoWeek, SavedCount, Section, SourceStatus, Weekly, local_day, previous_week_end};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub total: u64,
    pub negative: u64,
    pub positive: u64,
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

    pub fn neutral(&self) -> u64 {
        self.total - self.negative - self.positive
    }

    pub fn negative_share(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.negative as f64 / self.total as f64 }
    }
}

/// One line of the main findings; `alarm` lines are shown in red.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub text: String,
    pub alarm: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DayRow {
    pub day: NaiveDate,
    /// "пн, 16 нояб."
    pub label: String,
    pub tally: Tally,
}

/// A topic or settlement this week against the week before.
#[derive(Debug, Clone, PartialEq)]
pub struct TallyRow {
    pub key: String,
    pub label: String,
    pub this: Tally,
    pub previous: Tally,
}

impl TallyRow {
    /// "+50%", "−20%", "новое" or "—": the change of negative mentions.
    pub fn change(&self) -> String {
        change(self.this.negative, self.previous.negative)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SignalRow {
    /// "20 нояб. 14:00"
    pub when: String,
    pub severity: Severity,
    pub topic: String,
    pub place: String,
    pub what: String,
    /// The episode as of the week's end: "продолжается" or "завершён".
    pub status: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MentionRow {
    pub when: String,
    pub source: String,
    pub text: String,
    pub url: Option<String>,
    pub score: f64,
}

/// Everything the report shows, in reading order.
#[derive(Debug, Clone)]
pub struct Model {
    pub title: String,
    pub subtitle: String,
    pub week: IsoWeek,
    pub sections: Vec<Section>,
    /// Set while the week is still running: the last day with data.
    pub partial_until: Option<NaiveDate>,
    pub findings: Vec<Finding>,
    pub total: Tally,
    pub previous_total: Tally,
    pub days: Vec<DayRow>,
    pub topics: Vec<TallyRow>,
    pub places: Vec<TallyRow>,
    pub signals: Vec<SignalRow>,
    /// New issues named by their words (`emerging` signals), one per term.
    pub emerging: Vec<SignalRow>,
    pub top_negative: Vec<MentionRow>,
    pub top_positive: Vec<MentionRow>,
    pub saved_searches: Vec<SavedCount>,
    pub sources: Vec<SourceStatus>,
    pub incidents: Option<crate::IncidentWeek>,
    pub media_plan: Option<glas_voice::PlanFact>,
    pub pickups: Vec<glas_voice::Pickup>,
    pub own_voice: Option<crate::OwnVoice>,
    pub outlook: Option<crate::Outlook>,
    pub footnote: String,
}

pub(crate) fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

pub(crate) fn change(now: u64, before: u64) -> String {
    match (now, before) {
        (_, 0) if now == 0 => "—".into(),
        (_, 0) => "новое".into(),
        _ => {
            let d = (now as f64 - before as f64) / before as f64 * 100.0;
            if d.round() == 0.0 { "0%".into() } else { format!("{}{:.0}%", if d > 0.0 { "+" } else { "−" }, d.abs()) }
        }
    }
}

fn signal_topic(s: &Signal) -> String {
    match s.kind.as_str() {
        "emerging" => format!("новая тема «{}»", s.params.get("term").and_then(|t| t.as_str()).unwrap_or("")),
        "coordinated" => {
            format!("{} (похоже на скоординированную активность)", s.topic.as_deref().map(topic_name).unwrap_or("—"))
        }
        _ => s.topic.as_deref().map(topic_name).unwrap_or("—").to_string(),
    }
}

fn signal_what(s: &Signal) -> String {
    match (s.kind.as_str(), s.phase().unwrap_or("")) {
        (_, "resolved") => "эпизод завершён: напряжённость спала".to_string(),
        ("coordinated", _) => format!("{} одинаковых публикаций с новых аккаунтов", s.count),
        (_, phase) => format!(
            "{}{} за {} при обычных {}",
            if phase == "escalated" { "усиление: " } else { "" },
            ru::negative_mentions(s.count),
            ru::window(&s.window),
            ru::usual_count(s.baseline)
        ),
    }
}

impl Weekly<'_> {
    /// The report's content.
    pub fn model(&self) -> Model {
        let tz = self.district.timezone;
        let mon = self.week.monday().expect("valid week");
        let sun = mon + Duration::days(6);
        let prev_end = previous_week_end(self.records, self.week, tz);
        let this: Vec<&Record> = self.records.iter().filter(|r| (mon..=sun).contains(&local_day(r, tz))).collect();
        let prev: Vec<&Record> =
            self.records.iter().filter(|r| (mon - Duration::days(7)..prev_end).contains(&local_day(r, tz))).collect();

        let mut total = Tally::default();
        let mut previous_total = Tally::default();
        let mut by_day: BTreeMap<NaiveDate, Tally> =
            (0..7).map(|i| (mon + Duration::days(i), Tally::default())).collect();
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
            previous_total.add(s);
            for t in &r.enrichment.topics {
                by_topic.entry(t.clone()).or_default().1.add(s);
            }
            for p in &r.enrichment.places {
                by_place.entry(p.clone()).or_default().1.add(s);
            }
        }
        let rows = |map: BTreeMap<String, (Tally, Tally)>, label: fn(&str) -> String| {
            let mut rows: Vec<TallyRow> = map
                .into_iter()
                .filter(|(_, (t, _))| t.total > 0)
                .map(|(key, (this, previous))| TallyRow { label: label(&key), key, this, previous })
                .collect();
            rows.sort_by(|a, b| {
                b.this.negative.cmp(&a.this.negative).then(b.this.total.cmp(&a.this.total)).then(a.key.cmp(&b.key))
            });
            rows
        };
        let topics = rows(by_topic, |k| topic_name(k).to_string());
        let places = rows(by_place, |k| k.to_string());

        // The week's signals; each episode's status as of the week's end.
        let week_signals: Vec<&Signal> = self
            .signals
            .iter()
            .filter(|s| (mon..=sun).contains(&s.detected_at.with_timezone(&tz).date_naive()))
            .collect();
        let mut last_phase: BTreeMap<String, &str> = BTreeMap::new();
        for s in &week_signals {
            last_phase.insert(s.episode_key(), s.phase().unwrap_or("opened"));
        }
        let row = |s: &Signal| {
            let at = s.detected_at.with_timezone(&tz);
            let status = match last_phase.get(&s.episode_key()) {
                Some(&"resolved") => "завершён",
                _ if s.kind == "coordinated" => "проверить",
                _ => "продолжается",
            };
            SignalRow {
                when: format!("{} {}", ru::date_short(at.date_naive()), at.format("%H:%M")),
                severity: s.severity,
                topic: signal_topic(s),
                place: s.place.clone().unwrap_or_else(|| "весь округ".into()),
                what: signal_what(s),
                status: status.to_string(),
                kind: s.kind.clone(),
            }
        };
        let signals: Vec<SignalRow> = week_signals.iter().map(|s| row(s)).collect();
        let mut emerging: Vec<SignalRow> = Vec::new();
        for s in week_signals.iter().filter(|s| s.kind == "emerging" && s.phase() != Some("resolved")) {
            let r = row(s);
            if !emerging.iter().any(|e| e.topic == r.topic) {
                emerging.push(r);
            }
        }

        // Main findings: three lines a busy reader takes in at a glance.
        let mut findings = vec![Finding {
            text: format!(
                "За неделю — {} ({} к прошлой неделе), из них негативных {} ({}).",
                ru::mentions(total.total),
                change(total.total, previous_total.total),
                total.negative,
                pct(total.negative_share())
            ),
            alarm: false,
        }];
        findings.push(match topics.iter().filter(|t| t.this.negative > 0).max_by_key(|t| t.this.negative) {
            Some(t) => Finding {
                text: format!(
                    "Больше всего негатива — тема «{}»: {} ({} к прошлой неделе).",
                    t.label,
                    ru::negative_mentions(t.this.negative),
                    t.change()
                ),
                alarm: false,
            },
            None => Finding {
                text: "Негативных публикаций по темам не зафиксировано.".into(), alarm: false
            },
        });
        // Alarms only: the opening or escalation of a tension or emerging episode.
        let alarms: Vec<&&Signal> = week_signals
            .iter()
            .filter(|s| matches!(s.kind.as_str(), "tension" | "emerging") && s.phase() != Some("resolved"))
            .collect();
        findings.push(match alarms.iter().max_by(|a, b| a.severity.cmp(&b.severity).then(a.count.cmp(&b.count))) {
            None => Finding {
                text: "Сигналов о росте напряжённости не было.".into(), alarm: false
            },
            Some(top) => Finding {
                text: format!(
                    "Сигналов о росте напряжённости: {}. Главный: {} — {}, {}, {} за {}.",
                    alarms.len(),
                    top.severity.russian(),
                    signal_topic(top),
                    top.place.as_deref().unwrap_or("весь округ"),
                    ru::negative_mentions(top.count),
                    ru::window(&top.window)
                ),
                alarm: true,
            },
        });

        let mention_row = |r: &Record| {
            let m = &r.mention;
            let at = m.published_at.with_timezone(&tz);
            let limit = self.dashboard.excerpt_chars;
            let mut text: String = m.text.chars().take(limit).collect();
            if m.text.chars().count() > limit {
                text.push('…');
            }
            MentionRow {
                when: format!("{} {}", ru::date_short(at.date_naive()), at.format("%H:%M")),
                source: m
                    .source
                    .as_deref()
                    .map(|id| self.source_names.get(id).cloned().unwrap_or_else(|| id.to_string()))
                    .unwrap_or_default(),
                text,
                url: m.url.clone(),
                score: r.enrichment.sentiment_score,
            }
        };
        let top = |sentiment: Sentiment, most_negative_first: bool| -> Vec<MentionRow> {
            let mut picked: Vec<&&Record> = this.iter().filter(|r| r.enrichment.sentiment == sentiment).collect();
            picked.sort_by(|a, b| {
                let by_score = a.enrichment.sentiment_score.total_cmp(&b.enrichment.sentiment_score);
                (if most_negative_first { by_score } else { by_score.reverse() })
                    .then(b.mention.engagement.views.unwrap_or(0).cmp(&a.mention.engagement.views.unwrap_or(0)))
                    .then(a.mention.id.cmp(&b.mention.id))
            });
            // A reprinted story is listed once.
            let mut seen = std::collections::HashSet::new();
            picked
                .into_iter()
                .filter(|r| seen.insert(r.enrichment.cluster.as_str()))
                .take(self.dashboard.top_negative)
                .map(|r| mention_row(r))
                .collect()
        };

        let title = format!(
            "{}: {}, неделя {} ({} — {})",
            self.dashboard.title,
            self.district.name,
            self.week.week,
            ru::date_short(mon),
            ru::date_long(sun)
        );
        Model {
            title,
            subtitle: format!(
                "Еженедельный отчёт glas · неделя {} · по данным мониторинга СМИ и соцсетей",
                self.week
            ),
            week: self.week,
            sections: self.dashboard.sections.clone(),
            partial_until: crate::data_until(self.records, self.week, tz),
            findings,
            total,
            previous_total,
            days: by_day
                .into_iter()
                .map(|(day, tally)| DayRow {
                    day,
                    label: format!("{}, {}", ru::weekday_short(day), ru::date_short(day)),
                    tally,
                })
                .collect(),
            topics,
            places,
            signals,
            emerging,
            top_negative: top(Sentiment::Negative, true),
            top_positive: top(Sentiment::Positive, false),
            saved_searches: self.saved_searches.to_vec(),
            sources: self.sources.to_vec(),
            incidents: self.incidents.cloned(),
            media_plan: self.media_plan.cloned(),
            pickups: self.pickups.to_vec(),
            own_voice: self.own_voice.cloned(),
            outlook: self.outlook.cloned(),
            footnote: "Тональность, темы и населённые пункты определены автоматически (базовые правила glas) и могут содержать ошибки. Перепечатки одного материала показаны один раз."
                .into(),
        }
    }
}

/// How a table cell stands out; each format draws it its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Plain,
    /// A signal's level.
    Severity(Severity),
    /// Something that needs attention (a failing source).
    Bad,
    /// A query, shown as code.
    Code,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub mark: Mark,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell { text, mark: Mark::Plain }
    }
}

/// A table as the HTML and the PDF both show it: the same headers and cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    fn new(header: &[&str], rows: Vec<Vec<Cell>>) -> Table {
        Table { header: header.iter().map(|h| h.to_string()).collect(), rows }
    }
}

fn plain(cells: Vec<String>) -> Vec<Cell> {
    cells.into_iter().map(Cell::from).collect()
}

impl Model {
    pub fn days_table(&self) -> Table {
        let rows = self
            .days
            .iter()
            .map(|d| {
                let t = &d.tally;
                plain(vec![
                    d.label.clone(),
                    t.total.to_string(),
                    t.negative.to_string(),
                    t.positive.to_string(),
                    pct(t.negative_share()),
                ])
            })
            .collect();
        Table::new(&["День", "Всего", "Негативных", "Позитивных", "Доля негатива"], rows)
    }

    pub fn saved_searches_table(&self) -> Table {
        let rows = self
            .saved_searches
            .iter()
            .map(|s| {
                vec![
                    Cell::from(s.name.clone()),
                    Cell { text: s.query.clone(), mark: Mark::Code },
                    Cell::from(s.this_week.to_string()),
                    Cell::from(s.previous_week.to_string()),
                    Cell::from(change(s.this_week, s.previous_week)),
                ]
            })
            .collect();
        Table::new(&["Поиск", "Запрос", "За неделю", "Неделей ранее", "Изменение"], rows)
    }

    pub fn sources_table(&self) -> Table {
        let rows = self
            .sources
            .iter()
            .map(|s| {
                vec![
                    Cell::from(s.name.clone()),
                    Cell { text: s.status.clone(), mark: if s.ok { Mark::Plain } else { Mark::Bad } },
                    Cell::from(s.detail.clone()),
                ]
            })
            .collect();
        Table::new(&["Источник", "Состояние", "Подробности"], rows)
    }
}

impl Model {
    /// Whether the week or the one before had any incident work to show.
    pub fn incidents_busy(&self) -> bool {
        self.incidents.as_ref().is_some_and(|w| {
            [&w.this.total, &w.previous.total].iter().any(|k| k.new + k.resolved + k.open + k.reactions > 0)
        })
    }

    /// The incidents' week in one paragraph: new against resolved (the week
    /// before in brackets), reactions in time, medians, overdue, repeats.
    pub fn incidents_summary(&self) -> Option<String> {
        let w = self.incidents.as_ref()?;
        let (k, p) = (&w.this.total, &w.previous.total);
        let mut out =
            format!("Новых инцидентов: {} (неделей ранее {}), решено: {} ({}).", k.new, p.new, k.resolved, p.resolved);
        if let Some(share) = k.on_time_share() {
            out.push_str(&format!(" Первая реакция в срок: {} ({} из {}).", pct(share), k.on_time, k.reactions));
        }
        if let Some(h) = k.median_reaction_hours {
            out.push_str(&format!(" Медиана реакции — {} от первой жалобы", hours(h)));
            match k.median_resolution_hours {
                Some(r) => out.push_str(&format!(", решения — {}.", hours(r))),
                None => out.push('.'),
            }
        }
        out.push_str(&format!(
            " На конец недели открыто {}, из них просрочено {}. Повторных жалоб: {}; ответов в официальных каналах: {}.",
            k.open, k.overdue, k.repeats, k.answered_publicly
        ));
        Some(out)
    }

    /// The incidents per service (`by_topic`: per topic) against the week before.
    pub fn incidents_table(&self, by_topic: bool) -> Option<Table> {
        let w = self.incidents.as_ref()?;
        let (this, before) = if by_topic {
            (&w.this.by_topic, &w.previous.by_topic)
        } else {
            (&w.this.by_service, &w.previous.by_service)
        };
        if this.is_empty() {
            return None;
        }
        let name = |g: &str| {
            if by_topic { w.topic_names.get(g).cloned().unwrap_or_else(|| g.to_string()) } else { g.to_string() }
        };
        let rows = this
            .iter()
            .map(|k| {
                let p = before.iter().find(|p| p.group == k.group).cloned().unwrap_or_default();
                let late = k.overdue > 0;
                vec![
                    Cell::from(name(&k.group)),
                    Cell::from(format!("{} ({})", k.new, p.new)),
                    Cell::from(format!("{} ({})", k.resolved, p.resolved)),
                    Cell { text: k.overdue.to_string(), mark: if late { Mark::Bad } else { Mark::Plain } },
                    Cell::from(k.on_time_share().map_or("—".to_string(), pct)),
                    Cell::from(k.median_reaction_hours.map_or("—".to_string(), hours)),
                    Cell::from(k.median_resolution_hours.map_or("—".to_string(), hours)),
                    Cell::from(k.repeats.to_string()),
                ]
            })
            .collect();
        Some(Table::new(
            &[
                if by_topic { "Тема" } else { "Служба" },
                "Новых (нед. ранее)",
                "Решено (нед. ранее)",
                "Просрочено",
                "Реакция в срок",
                "Реакция, медиана",
                "Решение, медиана",
                "Повторных",
            ],
            rows,
        ))
    }
}

impl Model {
    /// The week's plan in one sentence.
    pub fn media_plan_summary(&self) -> Option<String> {
        use glas_voice::State;
        let p = self.media_plan.as_ref()?;
        if p.outcomes.is_empty() {
            return Some(format!(
                "На неделю в медиаплане ничего нет; официальные каналы опубликовали вне плана: {}.",
                p.unplanned.len()
            ));
        }
        Some(format!(
            "Запланировано публикаций: {}; вышло в срок — {}, с опозданием — {}, не вышло — {}, ожидается — {}. Вне плана вышло: {}.",
            p.outcomes.len(),
            p.count(State::Published),
            p.count(State::Late),
            p.count(State::Missing),
            p.count(State::Upcoming),
            p.unplanned.len()
        ))
    }

    /// How the media carried the own publications, in one sentence.
    pub fn pickup_summary(&self) -> Option<String> {
        if self.media_plan.is_none() || self.pickups.is_empty() {
            return None;
        }
        let carried: Vec<&glas_voice::Pickup> = self.pickups.iter().filter(|p| !p.carried.is_empty()).collect();
        let mut s =
            format!("СМИ подхватили {} из {} публикаций официальных каналов", carried.len(), self.pickups.len());
        if let Some(h) = carried.iter().filter_map(|p| p.first_delay_hours()).min_by(f64::total_cmp) {
            s.push_str(&format!("; самый быстрый подхват — через {}", hours(h)));
        }
        s.push('.');
        Some(s)
    }

    /// The own publications the media carried, with who and how soon.
    pub fn pickup_table(&self) -> Option<Table> {
        let rows: Vec<Vec<Cell>> = self
            .pickups
            .iter()
            .filter(|p| !p.carried.is_empty())
            .map(|p| {
                let title: String = p.text.chars().take(90).collect();
                let who: Vec<String> =
                    p.carried.iter().map(|c| format!("{} ({})", c.source_name, c.how.label_ru())).collect();
                vec![
                    Cell::from(p.published_at.format("%d.%m").to_string()),
                    Cell::from(title),
                    Cell::from(who.join("; ")),
                    Cell::from(p.first_delay_hours().map_or("—".to_string(), hours)),
                ]
            })
            .collect();
        (!rows.is_empty()).then(|| Table::new(&["Когда", "Публикация", "Подхватили", "Первый подхват через"], rows))
    }

    /// Each planned item and what became of it.
    pub fn media_plan_table(&self) -> Option<Table> {
        use glas_voice::State;
        let p = self.media_plan.as_ref().filter(|p| !p.outcomes.is_empty())?;
        let rows = p
            .outcomes
            .iter()
            .map(|o| {
                let r = &o.row;
                let mark = match o.state {
                    State::Missing => Mark::Bad,
                    _ => Mark::Plain,
                };
                let publication = o.publication.as_ref().map_or(String::new(), |p| {
                    format!("{} {}", p.day.format("%d.%m"), p.text.chars().take(80).collect::<String>())
                });
                vec![
                    Cell::from(r.days_label()),
                    Cell::from(if r.channel.is_empty() { "любой".to_string() } else { r.channel.clone() }),
                    Cell::from(r.subject.clone()),
                    Cell { text: o.state_ru(), mark },
                    Cell::from(publication),
                ]
            })
            .collect();
        Some(Table::new(&["Когда", "Канал", "Материал", "Итог", "Публикация"], rows))
    }
}

fn hours(h: f64) -> String {
    if h < 1.0 { format!("{:.0} мин", h * 60.0) } else { format!("{h:.1} ч") }
}

/// Topics or settlements (`first` names the column) against the week before.
pub fn tally_table(first: &str, rows: &[TallyRow]) -> Table {
    let rows = rows
        .iter()
        .map(|r| {
            plain(vec![
                r.label.clone(),
                r.this.total.to_string(),
                r.this.negative.to_string(),
                pct(r.this.negative_share()),
                r.change(),
            ])
        })
        .collect();
    Table::new(&[first, "Публикаций", "Негативных", "Доля негатива", "Негатив к прошлой неделе"], rows)
}

pub fn signal_table(rows: &[SignalRow]) -> Table {
    let rows = rows
        .iter()
        .map(|s| {
            vec![
                Cell::from(s.when.clone()),
                Cell { text: s.severity.russian().to_string(), mark: Mark::Severity(s.severity) },
                Cell::from(s.topic.clone()),
                Cell::from(s.place.clone()),
                Cell::from(s.what.clone()),
                Cell::from(s.status.clone()),
            ]
        })
        .collect();
    Table::new(&["Когда", "Уровень", "Тема", "Где", "Что выросло", "Статус"], rows)
}

/// A piece of a section, in reading order, as every format shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Para(String),
    /// A table and its column widths (shares of the PDF's line).
    Table(Table, &'static [f32]),
}

fn count(e: Option<&glas_core::Engagement>, f: fn(&glas_core::Engagement) -> Option<i64>) -> String {
    e.and_then(f).map_or("—".into(), |n| n.to_string())
}

fn signed(x: f64) -> String {
    if x.abs() < 0.05 { "0".into() } else { format!("{}{:.1}", if x > 0.0 { "+" } else { "−" }, x.abs()) }
}

impl Model {
    /// The own voice section (see [`own_voice_blocks`]).
    pub fn own_voice_blocks(&self) -> Vec<Block> {
        self.own_voice.as_ref().map(own_voice_blocks).unwrap_or_default()
    }
}

/// The own voice of a week as paragraphs and tables: receptions, unanswered
/// questions, the pages' health, the image index and its movers. The report
/// and the workspace's «Медиаплан» page both show these.
pub fn own_voice_blocks(v: &crate::OwnVoice) -> Vec<Block> {
    {
        let mut out = Vec::new();
        if !v.received.is_empty() {
            let comments: usize = v.received.iter().map(|r| r.reaction.comments).sum();
            let negative: usize = v.received.iter().map(|r| r.reaction.negative).sum();
            let questions: usize = v.received.iter().map(|r| r.reaction.questions).sum();
            let unanswered: usize = v.received.iter().map(|r| r.reaction.unanswered.len()).sum();
            out.push(Block::Para(format!(
                "Официальные каналы опубликовали за неделю: {}. Комментариев жителей под ними: {comments}, из них негативных — {negative}; вопросов — {questions}, без ответа осталось — {unanswered}.",
                v.received.len()
            )));
            let rows = v
                .received
                .iter()
                .map(|r| {
                    let f = &r.figures;
                    let views = format!(
                        "{} / {} / {}",
                        count(f.day.as_ref(), |e| e.views),
                        count(f.three_days.as_ref(), |e| e.views),
                        count(f.latest.as_ref(), |e| e.views)
                    );
                    let reactions = format!(
                        "{} / {}",
                        count(f.latest.as_ref(), |e| e.likes),
                        count(f.latest.as_ref(), |e| e.shares)
                    );
                    let c = &r.reaction;
                    let people = if c.comments == 0 {
                        "—".to_string()
                    } else {
                        format!("{} ({}); жалоб {}, вопросов {}", c.comments, c.mood_ru(), c.complaints, c.questions)
                    };
                    vec![
                        Cell::from(r.published_at.format("%d.%m %H:%M").to_string()),
                        Cell::from(r.source_name.clone()),
                        Cell::from(r.text.chars().take(90).collect::<String>()),
                        Cell::from(views),
                        Cell::from(reactions),
                        Cell { text: people, mark: if c.negative * 2 > c.comments { Mark::Bad } else { Mark::Plain } },
                    ]
                })
                .collect();
            out.push(Block::Table(
                Table::new(
                    &[
                        "Когда",
                        "Канал",
                        "Публикация",
                        "Просмотры 24 ч / 72 ч / сейчас",
                        "Лайки / репосты",
                        "Комментарии жителей",
                    ],
                    rows,
                ),
                &[0.1, 0.13, 0.32, 0.15, 0.1, 0.2],
            ));
            let open: Vec<Vec<Cell>> = v
                .received
                .iter()
                .flat_map(|r| r.reaction.unanswered.iter().map(move |q| (r, q)))
                .map(|(r, q)| {
                    vec![
                        Cell::from(q.at.format("%d.%m %H:%M").to_string()),
                        Cell { text: q.text.chars().take(160).collect(), mark: Mark::Bad },
                        Cell::from(r.text.chars().take(60).collect::<String>()),
                    ]
                })
                .collect();
            if !open.is_empty() {
                out.push(Block::Para("Вопросы жителей, оставшиеся без официального ответа:".into()));
                out.push(Block::Table(Table::new(&["Когда", "Вопрос", "Под публикацией"], open), &[0.14, 0.56, 0.3]));
            }
        }
        if !v.pages.is_empty() {
            let rows = v
                .pages
                .iter()
                .map(|p| {
                    let gap = Cell {
                        text: format!("{:.1} дн.", p.longest_gap_days),
                        mark: if p.longest_gap_days > 3.0 { Mark::Bad } else { Mark::Plain },
                    };
                    vec![
                        Cell::from(p.name.clone()),
                        Cell::from(format!("{} (по плану {})", p.posts, p.planned)),
                        gap,
                        Cell::from(p.audience.map_or("—".into(), |a| a.to_string())),
                        Cell::from(p.engagement_per_100.map_or("—".into(), |e| format!("{e:.2}"))),
                        Cell::from(p.answered_ru()),
                    ]
                })
                .collect();
            out.push(Block::Para("Официальные страницы:".into()));
            out.push(Block::Table(
                Table::new(
                    &[
                        "Страница",
                        "Публикаций",
                        "Самый долгий перерыв",
                        "Подписчиков",
                        "Реакций на публикацию на 100 подписчиков",
                        "Ответили на вопросы",
                    ],
                    rows,
                ),
                &[0.22, 0.16, 0.14, 0.12, 0.2, 0.16],
            ));
        }
        if let Some(this) = v.image.last() {
            let before = v.image.len().checked_sub(2).map(|i| &v.image[i]);
            let mut s = format!(
                "Имидж-индекс администрации за неделю: {} ({} упоминаний: позитивных {}, негативных {})",
                signed(this.index),
                this.mentions,
                this.positive,
                this.negative
            );
            if let Some(b) = before {
                s.push_str(&format!("; неделей раньше {}", signed(b.index)));
            }
            s.push_str(". Индекс — сумма по упоминаниям: вес источника × тон к администрации (+1, нейтральный — малый плюс, −1) × роль в тексте × прямая речь.");
            out.push(Block::Para(s));
            let weeks: Vec<Vec<Cell>> = v
                .image
                .iter()
                .map(|w| {
                    let mut topics: Vec<(&String, &f64)> = w.by_topic.iter().collect();
                    topics.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
                    let top: Vec<String> = topics
                        .iter()
                        .take(3)
                        .map(|(t, x)| format!("{} {}", glas_core::config::topic_name(t), signed(**x)))
                        .collect();
                    vec![
                        Cell::from(format!("с {}", w.monday.format("%d.%m"))),
                        Cell { text: signed(w.index), mark: if w.index < 0.0 { Mark::Bad } else { Mark::Plain } },
                        Cell::from(w.mentions.to_string()),
                        Cell::from(top.join("; ")),
                    ]
                })
                .collect();
            out.push(Block::Table(
                Table::new(&["Неделя", "Индекс", "Упоминаний", "Темы, сильнее всего повлиявшие"], weeks),
                &[0.16, 0.12, 0.14, 0.58],
            ));
            if !v.movers.is_empty() {
                out.push(Block::Para("Публикации, сильнее всего изменившие индекс:".into()));
                let rows = v
                    .movers
                    .iter()
                    .map(|m| {
                        let how = format!(
                            "{}, {}{}",
                            m.class.label_ru(),
                            if m.main { "главный герой" } else { "упомянута" },
                            if m.quoted { ", прямая речь" } else { "" }
                        );
                        vec![
                            Cell::from(m.published_at.format("%d.%m").to_string()),
                            Cell::from(m.source_name.clone()),
                            Cell::from(m.text.chars().take(110).collect::<String>()),
                            Cell::from(how),
                            Cell { text: signed(m.value), mark: if m.value < 0.0 { Mark::Bad } else { Mark::Plain } },
                        ]
                    })
                    .collect();
                out.push(Block::Table(
                    Table::new(&["Когда", "Источник", "Публикация", "Как", "Вклад"], rows),
                    &[0.08, 0.16, 0.46, 0.2, 0.1],
                ));
            }
        }
        out
    }
}

fn stories(x: f64) -> String {
    format!("{:.0}", x.round())
}

impl Model {
    /// The outlook section (see [`outlook_blocks`]).
    pub fn outlook_blocks(&self) -> Vec<Block> {
        self.outlook.as_ref().map(outlook_blocks).unwrap_or_default()
    }
}

/// The week ahead (the district, then where it is expected to be unusually
/// tense) and the report's week as it was forecast beside what happened.
pub fn outlook_blocks(o: &crate::Outlook) -> Vec<Block> {
    let mut out = Vec::new();
    if let Some(d) = o.next.iter().find(|r| r.key == "*") {
        out.push(Block::Para(format!(
            "Ожидается негативных историй по округу: {} (с вероятностью 80 % — от {} до {}); обычно за неделю {}.",
            stories(d.expected),
            stories(d.lo),
            stories(d.hi),
            stories(d.usual)
        )));
    }
    let mut tense: Vec<&crate::OutlookRow> =
        o.next.iter().filter(|r| r.key != "*" && r.tense(o.ratio, o.min_stories)).collect();
    tense.sort_by(|a, b| b.ratio().total_cmp(&a.ratio()));
    if tense.is_empty() {
        out.push(Block::Para("Необычной напряжённости на следующей неделе не ожидается.".into()));
    } else {
        out.push(Block::Para("Где ожидается напряжённость выше обычной:".into()));
        let rows = tense
            .iter()
            .take(10)
            .map(|r| {
                vec![
                    Cell::from(r.label.clone()),
                    Cell { text: stories(r.expected), mark: Mark::Bad },
                    Cell::from(format!("{}–{}", stories(r.lo), stories(r.hi))),
                    Cell::from(format!("{:.1}", r.usual)),
                    Cell::from(format!("×{:.1}", r.ratio())),
                ]
            })
            .collect();
        out.push(Block::Table(
            Table::new(&["Тема и место", "Ожидается историй", "Диапазон 80 %", "Обычно за неделю", "К обычному"], rows),
            &[0.4, 0.15, 0.15, 0.15, 0.15],
        ));
    }
    // The report's week: its forecast against what happened.
    let mut past: Vec<&crate::OutlookRow> = o
        .this
        .iter()
        .filter(|r| r.actual.is_some())
        .filter(|r| !r.key.contains('|') || r.expected.max(r.actual.unwrap_or(0.0)) >= o.min_stories)
        .collect();
    past.sort_by(|a, b| b.actual.unwrap_or(0.0).total_cmp(&a.actual.unwrap_or(0.0)).then(a.key.cmp(&b.key)));
    past.truncate(12);
    if !past.is_empty() {
        let inside = past.iter().filter(|r| r.actual.is_some_and(|a| a >= r.lo && a <= r.hi)).count();
        let span = if o.this_days >= 7 {
            "этой недели".to_string()
        } else {
            format!("первых {} дн. недели", o.this_days)
        };
        out.push(Block::Para(format!(
            "Прогноз {span}, сделанный до её начала, и факт: в диапазон прогноза попали {inside} из {}.",
            past.len()
        )));
        let rows = past
            .iter()
            .take(12)
            .map(|r| {
                let a = r.actual.unwrap_or(0.0);
                let hit = a >= r.lo && a <= r.hi;
                vec![
                    Cell::from(r.label.clone()),
                    Cell::from(stories(r.expected)),
                    Cell::from(format!("{}–{}", stories(r.lo), stories(r.hi))),
                    Cell { text: stories(a), mark: if a > r.hi { Mark::Bad } else { Mark::Plain } },
                    Cell::from(
                        if hit {
                            "да"
                        } else if a > r.hi {
                            "выше"
                        } else {
                            "ниже"
                        }
                        .to_string(),
                    ),
                ]
            })
            .collect();
        out.push(Block::Table(
            Table::new(&["Тема и место", "Прогноз", "Диапазон 80 %", "Факт", "В диапазоне"], rows),
            &[0.4, 0.15, 0.15, 0.15, 0.15],
        ));
    }
    out
}
