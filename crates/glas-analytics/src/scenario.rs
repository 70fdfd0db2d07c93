//! Labelled month-long streams for a district, to evaluate the detector.
//!
//! A scenario is five weeks of one district's mentions, deterministic by
//! seed: a realistic background (media, Telegram and VK sources; residents
//! of uneven activity; a daily rhythm with a Monday peak; a topic,
//! settlement and sentiment mix; media reprints) into which incidents of
//! different shapes and the distractors a detector must not fire on are
//! injected after the first week. Mentions come already enriched (the
//! generator knows their topic, settlement and sentiment): the scenarios
//! evaluate the detector, not the classifiers (those have their own
//! evaluation, `glas eval`). Every injected mention's id is in the ground
//! truth.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use glas_core::{Engagement, Enrichment, Mention, MentionType, Record, Sentiment};
use serde::Serialize;

/// Settlements of the district with their share of mentions; the last ones
/// are the small settlements low-volume incidents happen in.
pub const PLACES: &[(&str, f64)] = &[
    ("Левокумское", 0.30),
    ("Величаевское", 0.12),
    ("Правокумское", 0.10),
    ("Владимировка", 0.09),
    ("Николо-Александровское", 0.08),
    ("Приозерское", 0.07),
    ("Бургун-Маджары", 0.06),
    ("Урожайное", 0.06),
    ("Турксад", 0.04),
    ("Заринский", 0.03),
    ("Зелёная Роща", 0.03),
    ("Новокумский", 0.02),
];
const SMALL_FROM: usize = 6;

/// Topics with their share of topical mentions and words their texts use.
const TOPICS: &[(&str, f64, &[&str])] = &[
    ("water", 0.16, &["вода", "водопровод", "напор", "кран", "водоканал"]),
    ("roads", 0.15, &["дорога", "яма", "асфальт", "грейдер", "обочина"]),
    ("waste", 0.10, &["мусор", "контейнер", "вывоз", "свалка", "площадка"]),
    ("healthcare", 0.10, &["больница", "врач", "поликлиника", "запись", "фельдшер"]),
    ("heating", 0.08, &["отопление", "батареи", "котельная", "тепло", "радиатор"]),
    ("electricity", 0.08, &["свет", "электричество", "подстанция", "провода", "столб"]),
    ("gas", 0.05, &["газ", "газопровод", "давление", "плита", "котел"]),
    ("transport", 0.08, &["автобус", "маршрут", "остановка", "расписание", "рейс"]),
    ("education", 0.08, &["школа", "садик", "учитель", "класс", "кружок"]),
    ("improvement", 0.10, &["парк", "фонари", "скамейки", "сквер", "освещение"]),
];

/// Everyday words of topic-less posts; emerging issues use words outside it.
const VOCABULARY: &[&str] = &[
    "жители",
    "соседи",
    "погода",
    "праздник",
    "рынок",
    "магазин",
    "цены",
    "урожай",
    "поле",
    "ферма",
    "скот",
    "футбол",
    "команда",
    "концерт",
    "библиотека",
    "клуб",
    "церковь",
    "пенсия",
    "почта",
    "банкомат",
    "очередь",
    "работа",
    "зарплата",
    "молодежь",
    "дети",
    "бабушка",
    "внуки",
    "огород",
    "собрание",
    "глава",
    "депутат",
    "администрация",
    "объявление",
    "новости",
    "фотографии",
    "видео",
    "вечер",
    "утро",
    "выходные",
    "неделя",
    "ветер",
    "дождь",
    "снег",
    "жара",
    "морозы",
    "пшеница",
    "виноград",
    "трактор",
    "комбайн",
    "семена",
    "удобрения",
    "выборы",
    "конкурс",
    "соревнования",
    "ярмарка",
    "выставка",
    "юбилей",
    "ветераны",
    "память",
    "память",
    "спортзал",
    "стадион",
    "бассейн",
    "такси",
    "аптека",
    "продукты",
    "хлеб",
    "молоко",
    "мясо",
    "овощи",
    "фрукты",
    "кафе",
    "столовая",
    "парикмахерская",
    "ремонт",
    "строительство",
    "стройка",
    "забор",
    "крыша",
    "окна",
    "двери",
    "кошка",
    "щенок",
    "лошадь",
    "корова",
    "куры",
    "гуси",
    "пруд",
    "рыбалка",
    "речка",
    "берег",
    "лес",
    "степь",
];

/// Phrases of emerging issues: words no topic and no background uses.
const EMERGING: &[&str] = &[
    "запах аммиака",
    "бродячие собаки",
    "пропал интернет",
    "закрыли переправу",
    "саранча налетела",
    "шум дробилки",
    "пыль элеватора",
    "отравление колодца",
];

const NEGATIVE: &[&str] = &["безобразие", "сколько можно", "опять", "жалоба", "никто не отвечает", "возмущены"];
const POSITIVE: &[&str] = &["спасибо", "молодцы", "отлично", "благодарим", "порадовали"];
const MEDIA: &[&str] = &["stavropolka", "levokumka-news", "kavkaz-info", "nashe-vremya", "sk-pravda", "vesti-26"];
const TELEGRAM: &[&str] = &["tg-levokumka", "tg-velichaevka", "tg-pravokumskoe", "tg-podslushano", "tg-zarya"];
const VK: &[&str] = &["vk-levokumka", "vk-vladimirovka", "vk-priozernoe", "vk-rayon"];

/// Residents who post, besides the fresh accounts of coordinated posting.
const RESIDENTS: usize = 1500;
/// Background mentions per day before the rhythm.
const DAILY: f64 = 200.0;
pub const DAYS: i64 = 35;
/// Days before any incident or distractor: the detector's warm-up.
pub const QUIET_DAYS: i64 = 7;

/// What happened, for the evaluation to score against.
#[derive(Debug, Clone, Serialize)]
pub struct Injected {
    /// `sudden`, `ramp`, `low_volume`, `emerging`; or a distractor:
    /// `festival`, `press_release`, `angry_author`, `coordinated`.
    pub shape: String,
    pub incident: bool,
    pub topic: Option<String>,
    pub place: Option<String>,
    pub onset: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    /// Negative mentions it adds.
    pub negative: usize,
    /// An incident the goals cover: at least 15 negative posts within 48 hours.
    pub qualifies: bool,
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub seed: u64,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub injected: Vec<Injected>,
    #[serde(skip)]
    pub records: Vec<Record>,
}

/// SplitMix64: small, fast, and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    pub fn weighted(&mut self, weights: impl Iterator<Item = f64> + Clone) -> usize {
        let total: f64 = weights.clone().sum();
        let mut x = self.f() * total;
        let mut last = 0;
        for (i, w) in weights.enumerate() {
            if x < w {
                return i;
            }
            x -= w;
            last = i;
        }
        last
    }
    pub fn poisson(&mut self, lambda: f64) -> usize {
        // Knuth for small rates, normal approximation above.
        if lambda > 30.0 {
            let z = (-2.0 * self.f().max(1e-12).ln()).sqrt() * (2.0 * std::f64::consts::PI * self.f()).cos();
            return (lambda + z * lambda.sqrt()).round().max(0.0) as usize;
        }
        let l = (-lambda).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.f();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

/// Hour-of-day shape of posting (sums to about 24).
const HOURLY: [f64; 24] = [
    0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.6, 1.0, 1.4, 1.6, 1.6, 1.5, 1.4, 1.3, 1.3, 1.3, 1.4, 1.5, 1.7, 1.8, 1.7, 1.3, 0.8,
    0.4,
];
/// Monday to Sunday: the Monday peak, quiet weekends.
const WEEKLY: [f64; 7] = [1.4, 1.05, 1.0, 1.0, 0.95, 0.75, 0.7];

struct Gen {
    rng: Rng,
    seed: u64,
    n: usize,
    records: Vec<Record>,
    /// Resident activity weights (Zipf-like).
    activity: Vec<f64>,
    fresh: usize,
}

#[derive(Clone, Copy)]
enum Kind {
    Media,
    Social,
}

struct Post<'a> {
    at: DateTime<Utc>,
    kind: Kind,
    topic: Option<usize>,
    place: Option<usize>,
    sentiment: Sentiment,
    text: String,
    cluster: Option<&'a str>,
    author: Option<String>,
    source: Option<&'static str>,
}

impl Gen {
    fn resident(&mut self) -> String {
        let i = self.rng.weighted(self.activity.iter().copied());
        format!("id{}", 100_000 + i)
    }

    fn fresh_account(&mut self) -> String {
        self.fresh += 1;
        format!("id{}", 900_000 + self.fresh)
    }

    fn text(&mut self, topic: Option<usize>, place: Option<usize>, sentiment: Sentiment, extra: &str) -> String {
        let mut words: Vec<&str> = Vec::new();
        let n = self.rng.range(6, 12);
        for _ in 0..n {
            words.push(self.rng.pick(VOCABULARY));
        }
        if let Some(t) = topic {
            for _ in 0..2 {
                words.insert(self.rng.below(words.len()), self.rng.pick(TOPICS[t].2));
            }
        }
        match sentiment {
            Sentiment::Negative => words.push(self.rng.pick(NEGATIVE)),
            Sentiment::Positive => words.push(self.rng.pick(POSITIVE)),
            Sentiment::Neutral => {}
        }
        let mut text = words.join(" ");
        if let Some(p) = place {
            text = format!("{}: {text}", PLACES[p].0);
        }
        if !extra.is_empty() {
            text = format!("{text}. {extra}");
        }
        text
    }

    fn push(&mut self, p: Post<'_>) -> String {
        self.n += 1;
        let id = format!("sc{}:{}", self.seed, self.n);
        let source = p.source.unwrap_or_else(|| match p.kind {
            Kind::Media => self.rng.pick(MEDIA),
            Kind::Social => {
                if self.rng.f() < 0.55 {
                    self.rng.pick(TELEGRAM)
                } else {
                    self.rng.pick(VK)
                }
            }
        });
        let author = match p.kind {
            Kind::Media => None,
            Kind::Social => Some(p.author.unwrap_or_else(|| self.resident())),
        };
        let views = (50.0 * (1.0 + 20.0 * self.rng.f().powi(3))) as i64;
        let mention_type = match (p.kind, p.sentiment) {
            (Kind::Media, _) => MentionType::News,
            (_, Sentiment::Negative) if self.rng.f() < 0.6 => MentionType::Complaint,
            (_, Sentiment::Positive) if self.rng.f() < 0.4 => MentionType::Gratitude,
            (_, Sentiment::Neutral) if self.rng.f() < 0.3 => MentionType::Question,
            _ => MentionType::Other,
        };
        let kind = match p.kind {
            Kind::Media => "rss",
            Kind::Social if source.starts_with("vk") => "vk",
            Kind::Social => "telegram",
        };
        let at = p.at.with_timezone(&chrono_tz::Europe::Moscow).fixed_offset();
        self.records.push(Record {
            mention: Mention {
                id: id.clone(),
                source: Some(source.to_string()),
                url: Some(format!("https://example.org/{source}/{}", self.n)),
                published_at: at,
                author,
                title: None,
                text: p.text,
                engagement: Engagement {
                    views: Some(views),
                    likes: Some(views / 20),
                    comments: Some(views / 50),
                    shares: Some(views / 200),
                },
                extra: Default::default(),
            },
            enrichment: Enrichment {
                id: id.clone(),
                lang: "ru".into(),
                sentiment: p.sentiment,
                sentiment_score: 0.0,
                topics: p.topic.map(|t| TOPICS[t].0.to_string()).into_iter().collect(),
                places: p.place.map(|i| PLACES[i].0.to_string()).into_iter().collect(),
                mention_type,
                entities: Vec::new(),
                cluster: p.cluster.map_or_else(|| format!("c:{id}"), str::to_string),
                simhash: None,
            },
            source_kind: kind.to_string(),
        });
        id
    }

    /// One background mention at `at`.
    fn background(&mut self, at: DateTime<Utc>) {
        let media = self.rng.f() < 0.3;
        let topic = (self.rng.f() < 0.65).then(|| self.rng.weighted(TOPICS.iter().map(|t| t.1)));
        let place = (self.rng.f() < 0.75).then(|| self.rng.weighted(PLACES.iter().map(|p| p.1)));
        let r = self.rng.f();
        let sentiment = match media {
            true if r < 0.1 => Sentiment::Negative,
            true if r < 0.25 => Sentiment::Positive,
            false if r < 0.33 => Sentiment::Negative,
            false if r < 0.53 => Sentiment::Positive,
            _ => Sentiment::Neutral,
        };
        let text = self.text(topic, place, sentiment, "");
        let kind = if media { Kind::Media } else { Kind::Social };
        let id = self.push(Post { at, kind, topic, place, sentiment, text, cluster: None, author: None, source: None });
        // Outlets reprint a quarter of media stories within hours.
        if media && self.rng.f() < 0.25 {
            let cluster = format!("c:{id}");
            let original = self.records.last().expect("just pushed").mention.text.clone();
            for _ in 0..self.rng.range(1, 3) {
                let later = at + Duration::minutes(self.rng.range(30, 360) as i64);
                self.push(Post {
                    at: later,
                    kind: Kind::Media,
                    topic,
                    place,
                    sentiment,
                    text: original.clone(),
                    cluster: Some(&cluster),
                    author: None,
                    source: None,
                });
            }
        }
    }
}

/// The scenario of one seed.
pub fn generate(seed: u64) -> Scenario {
    let mut g = Gen { rng: Rng::new(seed), seed, n: 0, records: Vec::new(), activity: Vec::new(), fresh: 0 };
    g.activity = (0..RESIDENTS).map(|i| 1.0 / (1.0 + i as f64).powf(0.8)).collect();
    let tz = chrono_tz::Europe::Moscow;
    // Mondays at midnight, district time.
    let start = tz.with_ymd_and_hms(2026, 9, 7, 0, 0, 0).single().expect("a valid date").with_timezone(&Utc);
    let end = start + Duration::days(DAYS);
    let mut t = start;
    while t < end {
        let local = t.with_timezone(&tz);
        use chrono::{Datelike, Timelike};
        let rate = DAILY / 24.0
            * HOURLY[local.hour() as usize]
            * WEEKLY[local.weekday().num_days_from_monday() as usize]
            * (0.9 + 0.2 * g.rng.f());
        for _ in 0..g.rng.poisson(rate) {
            let at = t + Duration::seconds(g.rng.below(3600) as i64);
            g.background(at);
        }
        t += Duration::hours(1);
    }
    // Injections: incidents and distractors at shuffled slots after the quiet week,
    // two days apart so each can be scored on its own.
    let mut shapes: Vec<&str> = vec![
        "sudden",
        "ramp",
        "low_volume",
        "emerging",
        "sudden",
        "festival",
        "press_release",
        "angry_author",
        "coordinated",
    ];
    for i in (1..shapes.len()).rev() {
        let j = g.rng.below(i + 1);
        shapes.swap(i, j);
    }
    let slot_days = (DAYS - QUIET_DAYS - 2) / shapes.len() as i64;
    let mut injected = Vec::new();
    for (k, shape) in shapes.into_iter().enumerate() {
        let day = start + Duration::days(QUIET_DAYS + k as i64 * slot_days);
        let onset = day + Duration::hours(g.rng.range(6, 30) as i64) + Duration::minutes(g.rng.below(60) as i64);
        injected.push(inject(&mut g, shape, onset));
    }
    g.records.sort_by_key(|r| r.mention.published_at);
    let fixed = |d: DateTime<Utc>| d.with_timezone(&tz).fixed_offset();
    Scenario { seed, start: fixed(start), end: fixed(end), injected, records: g.records }
}

fn inject(g: &mut Gen, shape: &str, onset: DateTime<Utc>) -> Injected {
    let tz = chrono_tz::Europe::Moscow;
    let topic = g.rng.weighted(TOPICS.iter().map(|t| t.1));
    let mut place = g.rng.weighted(PLACES.iter().map(|p| p.1));
    let mut ids = Vec::new();
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    let mut negative = 0;
    let mut negative_times: Vec<DateTime<Utc>> = Vec::new();
    let mut with_topic = Some(topic);
    let mut incident = true;
    let mut extra = String::new();
    let mut author_once: Option<String> = None;
    let mut cluster: Option<String> = None;
    let sentiment_of = |g: &mut Gen| if g.rng.f() < 0.9 { Sentiment::Negative } else { Sentiment::Neutral };
    match shape {
        "sudden" => {
            let n = g.rng.range(20, 35);
            let hours = g.rng.range(6, 12) as f64;
            for _ in 0..n {
                // Front-loaded: most posts in the first hours.
                times.push(onset + Duration::seconds((g.rng.f().powf(1.5) * hours * 3600.0) as i64));
            }
        }
        "ramp" => {
            let n = g.rng.range(20, 30);
            for _ in 0..n {
                // Density rising linearly over two days.
                times.push(onset + Duration::seconds((g.rng.f().sqrt() * 48.0 * 3600.0) as i64));
            }
        }
        "low_volume" => {
            place = SMALL_FROM + g.rng.below(PLACES.len() - SMALL_FROM);
            for day in 0..2 {
                for _ in 0..g.rng.range(10, 20) {
                    times.push(onset + Duration::hours(24 * day) + Duration::seconds(g.rng.below(24 * 3600) as i64));
                }
            }
        }
        "emerging" => {
            with_topic = None;
            extra = g.rng.pick(EMERGING).to_string();
            let n = g.rng.range(18, 25);
            for _ in 0..n {
                times.push(onset + Duration::seconds((g.rng.f() * 30.0 * 3600.0) as i64));
            }
        }
        "festival" => {
            incident = false;
            with_topic = Some(TOPICS.iter().position(|t| t.0 == "improvement").unwrap_or(0));
            for _ in 0..g.rng.range(50, 80) {
                times.push(onset + Duration::seconds(g.rng.below(10 * 3600) as i64));
            }
        }
        "press_release" => {
            incident = false;
            cluster = Some(format!("c:press-{}", g.seed));
            for _ in 0..20 {
                times.push(onset + Duration::seconds(g.rng.below(6 * 3600) as i64));
            }
        }
        "angry_author" => {
            incident = false;
            author_once = Some(g.resident());
            for _ in 0..10 {
                times.push(onset + Duration::seconds(g.rng.below(4 * 3600) as i64));
            }
        }
        "coordinated" => {
            incident = false;
            cluster = Some(format!("c:coord-{}", g.seed));
            for _ in 0..g.rng.range(15, 25) {
                times.push(onset + Duration::seconds(g.rng.below(3 * 3600) as i64));
            }
        }
        _ => unreachable!("unknown shape {shape}"),
    }
    times.sort();
    let shared_text = g.text(with_topic, Some(place), Sentiment::Negative, &extra);
    let mut outlets: Vec<&'static str> = MEDIA.to_vec();
    for (k, at) in times.iter().enumerate() {
        let (kind, sentiment, author, source, text) = match shape {
            "festival" => {
                let s = if g.rng.f() < 0.1 { Sentiment::Negative } else { Sentiment::Positive };
                (Kind::Social, s, None, None, g.text(with_topic, Some(place), s, "фестиваль"))
            }
            "press_release" => {
                let source = if k < outlets.len() { outlets[k] } else { g.rng.pick(&outlets) };
                outlets.push(source);
                (Kind::Media, Sentiment::Neutral, None, Some(source), shared_text.clone())
            }
            "angry_author" => (
                Kind::Social,
                Sentiment::Negative,
                author_once.clone(),
                None,
                g.text(with_topic, Some(place), Sentiment::Negative, ""),
            ),
            "coordinated" => {
                let a = g.fresh_account();
                (Kind::Social, Sentiment::Negative, Some(a), None, shared_text.clone())
            }
            _ => {
                let s = sentiment_of(g);
                // A tenth of an incident's posts are local media reports.
                let kind = if g.rng.f() < 0.1 { Kind::Media } else { Kind::Social };
                let place = if shape == "emerging" && g.rng.f() < 0.3 { None } else { Some(place) };
                (kind, s, None, None, g.text(with_topic, place, s, &extra))
            }
        };
        if sentiment == Sentiment::Negative {
            negative += 1;
            negative_times.push(*at);
        }
        let place = if text.starts_with(PLACES[place].0) { Some(place) } else { None };
        let id = g.push(Post {
            at: *at,
            kind,
            topic: with_topic,
            place,
            sentiment,
            text,
            cluster: cluster.as_deref(),
            author,
            source,
        });
        ids.push(id);
    }
    let fixed = |d: DateTime<Utc>| d.with_timezone(&tz).fixed_offset();
    let qualifies = incident
        && negative_times
            .iter()
            .enumerate()
            .any(|(i, t)| negative_times[i..].iter().take_while(|u| **u - *t <= Duration::hours(48)).count() >= 15);
    Injected {
        shape: shape.to_string(),
        incident,
        topic: with_topic.map(|t| TOPICS[t].0.to_string()),
        place: Some(PLACES[place].0.to_string()),
        onset: fixed(times[0]),
        end: fixed(*times.last().expect("every shape posts")),
        negative,
        qualifies,
        ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_deterministic_and_labelled() {
        let a = generate(3);
        let b = generate(3);
        assert_eq!(a.records.len(), b.records.len());
        assert_eq!(a.records[100].mention.text, b.records[100].mention.text);
        assert!(a.records.len() > 5000, "{}", a.records.len());
        assert_eq!(a.injected.iter().filter(|i| i.incident).count(), 5);
        for i in &a.injected {
            assert!(!i.ids.is_empty());
            assert!(!i.qualifies || i.incident && i.negative >= 15, "{i:?}");
        }
        assert!(a.injected.iter().filter(|i| i.qualifies).count() >= 4, "{:?}", a.injected);
        assert_ne!(generate(4).records[100].mention.text, a.records[100].mention.text);
    }
}
