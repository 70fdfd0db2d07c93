//! A generator of realistic Russian mention corpora for benchmarks
//! (`glas gen-corpus`).
//!
//! Mentions mix four kinds, the way a district's stream does:
//! - residents' posts built from municipal problems, settlements of the
//!   pipeline's gazetteer, streets and house numbers, joined with phrasing
//!   from the repository's labelled municipal posts;
//! - social-media posts drawn from RuSentiTweet;
//! - news: two to five sentences drawn from RuSentNE-2023, with a headline;
//! - reprints: an earlier news item republished by another outlet with a
//!   small edit.
//!
//! The public datasets are read from `--datasets` when present (they are not
//! shipped); without them the generator uses the repository's fixtures alone.
//! Sources follow a skewed distribution over Telegram, VK, RSS and HTML
//! outlets; times spread over the chosen span with a daily rhythm. The same
//! options and seed give the same file.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Duration, FixedOffset};

/// SplitMix64: small, fast, deterministic across platforms.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

pub struct Options {
    pub count: usize,
    pub days: i64,
    pub sources: usize,
    pub seed: u64,
    /// The folder with `sentiment/rusentitweet/` and `sentiment/rusentne2023/`.
    pub datasets: Option<std::path::PathBuf>,
    pub end: DateTime<FixedOffset>,
}

/// What went into a corpus.
#[derive(Debug, Default)]
pub struct Stats {
    pub mentions: usize,
    pub tweets_pool: usize,
    pub news_pool: usize,
    pub municipal_pool: usize,
}

const PROBLEMS: &[&str] = &[
    "нет воды",
    "прорвало трубу",
    "не горят фонари",
    "огромная яма на дороге",
    "не вывозят мусор",
    "отключили газ",
    "нет отопления",
    "холодные батареи",
    "отключили свет",
    "не ходит автобус",
    "затопило подвал",
    "бродячие собаки",
    "не чистят снег",
    "разбита дорога",
    "переполнены контейнеры",
    "нет врача в амбулатории",
    "в школе холодно",
    "подорожал хлеб",
    "ржавая вода из крана",
    "упало дерево на провода",
];

const OPENERS: &[&str] = &[
    "Жители жалуются:",
    "Опять",
    "Третий день",
    "Подскажите, когда решат проблему:",
    "Спасибо администрации, наконец решили проблему:",
    "Сколько можно,",
    "Внимание!",
    "Соседи пишут, что",
    "Информация для жителей:",
];

const STREETS: &[&str] = &[
    "Ленина",
    "Гагарина",
    "Мира",
    "Советская",
    "Садовая",
    "Кирова",
    "Пушкина",
    "Школьная",
    "Набережная",
    "Молодёжная",
    "Октябрьская",
    "Комсомольская",
];

const CLOSERS: &[&str] = &[
    "Куда обращаться?",
    "Звонили в администрацию, никто не отвечает.",
    "Просим принять меры.",
    "Работы обещают закончить к вечеру.",
    "Люди возмущены.",
    "Дети ходят в школу по темноте.",
    "Когда это закончится?",
    "",
];

/// Settlement names with the word for its kind ("в селе Величаевское").
fn places(pipeline: &glas_core::Pipeline) -> Vec<(String, String)> {
    pipeline
        .places
        .iter()
        .map(|p| {
            let kind = match p.kind.as_deref() {
                Some("посёлок") | Some("поселок") => "посёлке",
                Some("хутор") => "хуторе",
                Some("аул") => "ауле",
                _ => "селе",
            };
            (kind.to_string(), p.name.clone())
        })
        .collect()
}

fn municipal_pool() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let labelled = include_str!("../../../fixtures/labelled/municipal.tsv");
    for line in labelled.lines().skip(1) {
        if let Some(text) = line.split('\t').nth(5) {
            out.push(text.to_string());
        }
    }
    let (train, more) = glas_nlp::sentiment::train::municipal_train();
    out.extend(train.into_iter().chain(more).map(|l| l.text));
    out
}

fn sources(n: usize) -> Vec<(String, &'static str)> {
    let n = n.max(4);
    (0..n)
        .map(|i| match i % 8 {
            0..=2 => (format!("tg-channel-{i:03}"), "telegram"),
            3..=5 => (format!("vk-community-{i:03}"), "vk"),
            6 => (format!("rss-outlet-{i:03}"), "rss"),
            _ => (format!("html-site-{i:03}"), "html"),
        })
        .collect()
}

/// Writes `opts.count` mention lines to `out`.
pub fn generate(opts: &Options, pipeline: &glas_core::Pipeline, out: &mut dyn Write) -> anyhow::Result<Stats> {
    let mut rng = Rng(opts.seed);
    let (tweets, news): (Vec<String>, Vec<String>) = match &opts.datasets {
        Some(dir) if dir.join("sentiment").exists() => {
            let c = glas_nlp::sentiment::train::Corpora::load(dir)?;
            (
                c.tweets_train.into_iter().chain(c.tweets_test).map(|l| l.text).collect(),
                c.news_train.into_iter().chain(c.news_test).map(|l| l.text).collect(),
            )
        }
        _ => (Vec::new(), Vec::new()),
    };
    let municipal = municipal_pool();
    let places = places(pipeline);
    let sources = sources(opts.sources);
    let media: Vec<usize> = (0..sources.len()).filter(|&i| matches!(sources[i].1, "rss" | "html")).collect();
    let social: Vec<usize> = (0..sources.len()).filter(|&i| matches!(sources[i].1, "telegram" | "vk")).collect();
    // Skewed activity: a few sources publish most.
    let skewed = |rng: &mut Rng, pool: &[usize]| pool[((rng.unit().powi(2)) * pool.len() as f64) as usize % pool.len()];
    let span_secs = opts.days.max(1) * 86_400;
    let start = opts.end - Duration::seconds(span_secs);
    let mut recent_news: Vec<(String, String)> = Vec::new();
    let mut counters = vec![0usize; sources.len()];
    let stats = Stats {
        mentions: opts.count,
        tweets_pool: tweets.len(),
        news_pool: news.len(),
        municipal_pool: municipal.len(),
    };
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
    for _ in 0..opts.count {
        // Daily rhythm: fewer posts at night.
        let mut t = start + Duration::seconds((rng.unit() * span_secs as f64) as i64);
        let hour = t.format("%H").to_string().parse::<u32>().unwrap_or(12);
        if hour < 7 && rng.unit() < 0.6 {
            t += Duration::hours(9);
        }
        if t > opts.end {
            t = opts.end - Duration::seconds(rng.below(86_400) as i64);
        }
        let roll = rng.unit();
        let (src, title, text) = if roll < 0.35 || (tweets.is_empty() && news.is_empty() && roll < 0.85) {
            let (kind, place) = rng.pick(&places).clone();
            let street = rng.pick(STREETS);
            let problem = rng.pick(PROBLEMS);
            let opener = rng.pick(OPENERS);
            let address = if rng.unit() < 0.5 {
                format!("на ул. {street}, {}", 1 + rng.below(120))
            } else {
                format!("на улице {street}")
            };
            let mut text = format!("{opener} {problem} {address} в {kind} {place}. {}", rng.pick(CLOSERS));
            if rng.unit() < 0.5 {
                text.push(' ');
                text.push_str(rng.pick::<String>(&municipal));
            }
            (skewed(&mut rng, &social), None, text.trim().to_string())
        } else if roll < 0.65 && !tweets.is_empty() {
            let mut text = rng.pick(&tweets).clone();
            if rng.unit() < 0.3 {
                text.push(' ');
                text.push_str(rng.pick::<String>(&tweets));
            }
            (skewed(&mut rng, &social), None, text)
        } else if roll < 0.88 || recent_news.is_empty() {
            let pool = if news.is_empty() { &municipal } else { &news };
            let n = 2 + rng.below(4);
            let sentences: Vec<&String> = (0..n).map(|_| rng.pick(pool)).collect();
            let title: String = sentences[0].split_whitespace().take(9).collect::<Vec<_>>().join(" ");
            let body = sentences.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
            recent_news.push((title.clone(), body.clone()));
            if recent_news.len() > 2000 {
                recent_news.remove(0);
            }
            (skewed(&mut rng, &media), Some(title), body)
        } else {
            // A reprint: another outlet, the same story, a small edit.
            let (title, body) = rng.pick(&recent_news).clone();
            let body = match rng.below(3) {
                0 => format!("{body} Источник: районная администрация."),
                1 => body.replacen(". ", ". Как сообщается, ", 1),
                _ => body,
            };
            let src = if rng.unit() < 0.5 { skewed(&mut rng, &media) } else { skewed(&mut rng, &social) };
            (src, (sources[src].1 != "telegram").then_some(title), body)
        };
        counters[src] += 1;
        let (id, _kind) = &sources[src];
        let mut m = serde_json::json!({
            "id": format!("{id}/{}", counters[src]),
            "source": id,
            "url": format!("https://example.org/{id}/{}", counters[src]),
            "published_at": t.to_rfc3339(),
            "text": text,
        });
        if let Some(title) = title {
            m["title"] = title.into();
        }
        serde_json::to_writer(&mut w, &m)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(stats)
}

/// Reads the pipeline's gazetteer and writes the corpus to `path`.
pub fn write_file(opts: &Options, pipeline: &glas_core::Pipeline, path: &Path) -> anyhow::Result<Stats> {
    let mut f = std::fs::File::create(path)?;
    generate(opts, pipeline, &mut f)
}
