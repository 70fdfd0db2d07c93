//! District streams whose posts are real residents' words: a second,
//! independent way to evaluate the detector (`glas eval signals --appeals`).
//!
//! The scenario generator of `glas-analytics` writes its own texts and labels
//! them itself, so it measures the detector alone. Here every post is a real
//! appeal of the public Kursk set's **test split** (never trained on) or a
//! calm tweet or news sentence, rewritten the way residents post (a sentence
//! or two, lower case, typos, the settlement named informally or not at all
//! when the post comes from the village's own community), and enriched by
//! glas's real analyzer, as `glas run` would. What the detector sees is what
//! enrichment made of the text, so a missed complaint, topic or settlement
//! costs recall and lead time here.
//!
//! Each seed is 8 weeks of one district (the pipeline's settlements): a
//! background of calm posts and scattered grumbling, three incidents (a burst
//! of complaints on one topic in one settlement: sudden, over 8 hours, or
//! slow, over 36), and one distractor (calm posts naming a settlement, as
//! festival news does). Scored like the generated scenarios
//! ([`glas_analytics::evaluate::score`]). The texts stay on the machine that
//! runs it: nothing of the appeals is written to the repository.

use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Duration, FixedOffset, TimeZone};
use glas_analytics::scenario::{Injected, Rng, Scenario};
use glas_core::{Mention, Sentiment};

use crate::ops::{Ctx, Enricher};

const DAYS: i64 = 56;
/// Incidents draw their posts from topics with at least this many test appeals.
const MIN_POOL: usize = 20;

/// The texts the streams are made of.
pub struct Pool {
    /// (topic code, appeals of the test split).
    by_topic: Vec<(String, Vec<String>)>,
    /// Every test appeal (background grumbling).
    appeals: Vec<String>,
    /// Calm tweets and news sentences.
    calm: Vec<String>,
}

impl Pool {
    pub fn load(datasets: &Path) -> anyhow::Result<Pool> {
        let appeals: Vec<_> = glas_nlp::learned::train::appeals(datasets)
            .context("cannot read the appeals")?
            .into_iter()
            .filter(|a| a.test)
            .collect();
        let mut by_topic: Vec<(String, Vec<String>)> = Vec::new();
        for a in &appeals {
            if a.topic.is_empty() {
                continue;
            }
            match by_topic.iter_mut().find(|(t, _)| *t == a.topic) {
                Some((_, v)) => v.push(a.text.clone()),
                None => by_topic.push((a.topic.clone(), vec![a.text.clone()])),
            }
        }
        by_topic.retain(|(_, v)| v.len() >= MIN_POOL);
        by_topic.sort();
        let calm_of = |v: Vec<glas_nlp::sentiment::train::Labeled>| {
            v.into_iter().filter(|l| l.label != Sentiment::Negative).map(|l| l.text)
        };
        let tw = glas_nlp::sentiment::train::tweets(&datasets.join("sentiment/rusentitweet/rusentitweet_test.csv"))?;
        let ne =
            glas_nlp::sentiment::train::news(&datasets.join("sentiment/rusentne2023/validation_data_labeled.csv"))?;
        let calm: Vec<String> = calm_of(tw).chain(calm_of(ne)).collect();
        Ok(Pool { by_topic, appeals: appeals.into_iter().map(|a| a.text).collect(), calm })
    }
}

/// A resident's rewrite of a text: the first sentence or two, sometimes in
/// lower case, sometimes with two letters swapped in a word.
fn informal(rng: &mut Rng, text: &str) -> String {
    let mut sentences: Vec<&str> = text.split_inclusive(['.', '!', '?']).collect();
    if sentences.len() > 2 && rng.f() < 0.6 {
        sentences.truncate(rng.range(1, 2));
    }
    let mut out: String = sentences.concat().trim().to_string();
    if rng.f() < 0.35 {
        out = out.to_lowercase();
    }
    if rng.f() < 0.3 {
        let words: Vec<&str> = out.split(' ').collect();
        let long: Vec<usize> = (0..words.len()).filter(|&i| words[i].chars().count() >= 6).collect();
        if !long.is_empty() {
            let k = long[rng.below(long.len())];
            let mut chars: Vec<char> = words[k].chars().collect();
            let at = rng.range(1, chars.len() - 3);
            chars.swap(at, at + 1);
            let typo: String = chars.into_iter().collect();
            out = words
                .iter()
                .enumerate()
                .map(|(i, w)| if i == k { typo.as_str() } else { w })
                .collect::<Vec<_>>()
                .join(" ");
        }
    }
    out
}

/// A settlement named as residents write it. A name that is also an
/// ordinary word (`ambiguous`: Заря, Степной) gets the context people give it
/// (a marker, or a capital after a preposition); glas does not read it
/// without, by design.
fn place_as_written(rng: &mut Rng, p: &glas_core::config::Place) -> String {
    let (name, lower) = (p.name.as_str(), p.name.to_lowercase());
    let marker = match p.kind.as_deref() {
        Some("посёлок") | Some("поселок") => "пос.",
        Some("хутор") => "х.",
        _ => "с.",
    };
    if p.ambiguous {
        return match rng.below(2) {
            0 => format!("{marker} {name}"),
            _ => format!("в {}", locative(name)),
        };
    }
    match rng.below(6) {
        0 => format!("в {}", locative(name)),
        1 => format!("в {}", locative(&lower)),
        2 => format!("{marker} {name}"),
        3 => match p.aliases.first() {
            Some(a) => format!("у нас в {}", locative(&a.to_lowercase())),
            None => format!("у нас в {}", locative(&lower)),
        },
        4 => format!("{}:", lower.replace('-', " ")),
        _ => format!("в {}", locative(name)),
    }
}

/// The prepositional case of a settlement name ("в Величаевском").
fn locative(name: &str) -> String {
    let words: Vec<String> = name
        .split(' ')
        .map(|w| {
            let swap =
                |cut: usize, end: &str| format!("{}{end}", w.chars().take(w.chars().count() - cut).collect::<String>());
            if w.ends_with("ое") || w.ends_with("ий") || w.ends_with("ый") || w.ends_with("ой") {
                swap(2, "ом")
            } else if w.ends_with("ей") {
                swap(1, "е")
            } else if w.ends_with("ая") {
                swap(2, "ой")
            } else if w.ends_with('а') || w.ends_with('я') {
                swap(1, "е")
            } else if w.ends_with('ы') {
                swap(1, "ах")
            } else {
                format!("{w}е")
            }
        })
        .collect();
    words.join(" ")
}

struct Builder<'a> {
    rng: Rng,
    pool: &'a Pool,
    places: &'a [glas_core::config::Place],
    items: Vec<(Mention, Option<String>)>,
    /// Per post: the settlement its text names (None: names none).
    named: Vec<Option<String>>,
    next: usize,
}

/// How well enrichment found settlements in the streams' texts (before a
/// community's own settlement fills in for a post that names none).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct PlaceScore {
    /// Posts whose text names a settlement, and those where it was found.
    pub named: usize,
    pub found: usize,
    /// Settlements found that the text does not name (in any post).
    pub wrong: usize,
    pub posts: usize,
}

impl PlaceScore {
    pub fn recall(&self) -> f64 {
        self.found as f64 / self.named.max(1) as f64
    }
    pub fn precision(&self) -> f64 {
        self.found as f64 / (self.found + self.wrong).max(1) as f64
    }
}

impl Builder<'_> {
    fn post(&mut self, at: DateTime<FixedOffset>, text: String, author: String, place: Option<String>) -> String {
        self.post_naming(at, text, author, place, None)
    }

    fn post_naming(
        &mut self,
        at: DateTime<FixedOffset>,
        text: String,
        author: String,
        place: Option<String>,
        named: Option<String>,
    ) -> String {
        self.named.push(named);
        self.next += 1;
        let id = format!("appeals:{}", self.next);
        let source = match &place {
            Some(p) => format!("tg-{}", glas_core::fnv1a(p.bytes()) % 10_000),
            None => "tg-district".to_string(),
        };
        let m = Mention {
            id: id.clone(),
            source: Some(source),
            url: None,
            published_at: at,
            author: Some(author),
            title: None,
            text,
            engagement: Default::default(),
            extra: Default::default(),
        };
        self.items.push((m, place));
        id
    }

    /// A post of a settlement's community: names the place itself (as
    /// residents write it) half the time.
    fn local(&mut self, at: DateTime<FixedOffset>, text: &str, place: usize, author: String) -> String {
        let p = &self.places[place];
        let mut text = informal(&mut self.rng, text);
        let mut named = None;
        if self.rng.f() < 0.5 {
            let written = place_as_written(&mut self.rng, p);
            text = if self.rng.f() < 0.5 { format!("{written} {text}") } else { format!("{text} {written}") };
            named = Some(p.name.clone());
        }
        self.post_naming(at, text, author, Some(p.name.clone()), named)
    }
}

/// One seed's stream, enriched by `ctx`'s analyzer as the service would,
/// and how well the settlements its texts name were found.
pub fn generate(seed: u64, pool: &Pool, ctx: &Ctx) -> (Scenario, PlaceScore) {
    let tz = ctx.tz();
    let places = &ctx.pipeline.places;
    let start = tz.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).single().expect("a valid start").fixed_offset()
        + Duration::days(7 * (seed as i64 % 40));
    let end = start + Duration::days(DAYS);
    let mut b =
        Builder { rng: Rng::new(seed ^ 0x0a99_ea15), pool, places, items: Vec::new(), named: Vec::new(), next: 0 };
    let mut injected = Vec::new();
    // Background: about 30 posts a day by day, fewer at night; a third are
    // grumbling about anything anywhere, the rest calm.
    let mut t = start;
    while t < end {
        let hour = t.with_timezone(&tz).format("%H").to_string().parse::<u32>().unwrap_or(12);
        let rate = if (7..23).contains(&hour) { 1.7 } else { 0.3 };
        for _ in 0..b.rng.poisson(rate) {
            let at = t + Duration::minutes(b.rng.range(0, 59) as i64);
            let author = format!("u{}", b.rng.below(3000));
            if b.rng.f() < 0.3 && !places.is_empty() {
                let text = b.pool.appeals[b.rng.below(b.pool.appeals.len())].clone();
                let place = b.rng.below(places.len());
                b.local(at, &text, place, author);
            } else {
                let text = b.pool.calm[b.rng.below(b.pool.calm.len())].clone();
                let place =
                    (!places.is_empty() && b.rng.f() < 0.5).then(|| places[b.rng.below(places.len())].name.clone());
                let text = informal(&mut b.rng, &text);
                b.post(at, text, author, place);
            }
        }
        t += Duration::hours(1);
    }
    if places.is_empty() || pool.by_topic.is_empty() {
        return finish(seed, start, end, injected, b, ctx);
    }
    // Three incidents, a week or more apart, after the first week.
    for k in 0..3 {
        let onset =
            start + Duration::days(8 + 15 * k + b.rng.range(0, 8) as i64) + Duration::hours(b.rng.range(0, 23) as i64);
        let (topic, texts) = &pool.by_topic[b.rng.below(pool.by_topic.len())];
        let place = b.rng.below(places.len());
        let sudden = b.rng.f() < 0.6;
        let (n, span_h) = if sudden { (b.rng.range(18, 26), 8) } else { (b.rng.range(15, 20), 36) };
        let mut order: Vec<usize> = (0..texts.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, b.rng.below(i + 1));
        }
        let mut ids = Vec::new();
        for (j, &i) in order.iter().take(n.min(texts.len())).enumerate() {
            // Front-loaded for a sudden incident, even for a slow one.
            let frac = j as f64 / n as f64;
            let offset = if sudden { frac * frac } else { frac } * span_h as f64 * 60.0;
            let at = onset + Duration::minutes(offset as i64 + b.rng.range(0, 20) as i64);
            let author = format!("r{}-{j}", seed);
            ids.push(b.local(at, &texts[i].clone(), place, author));
        }
        injected.push(Injected {
            shape: if sudden { "sudden" } else { "ramp" }.into(),
            incident: true,
            topic: Some(topic.clone()),
            place: Some(places[place].name.clone()),
            onset,
            end: onset + Duration::hours(span_h),
            negative: ids.len(),
            qualifies: ids.len() >= 15,
            ids,
        });
    }
    // A distractor: a festival's calm posts naming one settlement.
    let onset = start + Duration::days(20) + Duration::hours(10);
    let place = b.rng.below(places.len());
    let mut ids = Vec::new();
    for j in 0..12 {
        let text = b.pool.calm[b.rng.below(b.pool.calm.len())].clone();
        let at = onset + Duration::minutes(15 * j);
        let written = format!("{} {}", place_as_written(&mut b.rng, &places[place]), text);
        let name = Some(places[place].name.clone());
        ids.push(b.post_naming(at, written, format!("f{j}"), name.clone(), name));
    }
    injected.push(Injected {
        shape: "festival".into(),
        incident: false,
        topic: None,
        place: Some(places[place].name.clone()),
        onset,
        end: onset + Duration::hours(3),
        negative: 0,
        qualifies: false,
        ids,
    });
    finish(seed, start, end, injected, b, ctx)
}

fn finish(
    seed: u64,
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
    injected: Vec<Injected>,
    b: Builder,
    ctx: &Ctx,
) -> (Scenario, PlaceScore) {
    let analyzer = ctx.analyzer();
    let mut places = PlaceScore { posts: b.items.len(), ..Default::default() };
    for ((m, _), named) in b.items.iter().zip(&b.named) {
        let found = analyzer.enrich(m, "telegram").places;
        places.named += usize::from(named.is_some());
        places.found += usize::from(named.as_ref().is_some_and(|n| found.contains(n)));
        places.wrong += found.iter().filter(|f| named.as_ref() != Some(*f)).count();
    }
    let mut items = b.items;
    items.sort_by(|a, b| a.0.published_at.cmp(&b.0.published_at).then_with(|| a.0.id.cmp(&b.0.id)));
    let mut enricher = Enricher::fresh(ctx);
    let records = enricher.enrich_parallel(items.iter().map(|(m, p)| (m.clone(), "telegram", p.as_deref())).collect());
    (Scenario { seed, start, end, injected, records }, places)
}

/// The detector and the reference on the appeals' streams of these seeds.
pub fn evaluate(
    seeds: &[u64],
    datasets: &Path,
    ctx: &Ctx,
) -> anyhow::Result<(glas_analytics::evaluate::Evaluation, PlaceScore)> {
    let pool = Pool::load(datasets)?;
    let mut places = PlaceScore::default();
    let scenarios = seeds.iter().map(|&seed| {
        let (sc, p) = generate(seed, &pool, ctx);
        places.named += p.named;
        places.found += p.found;
        places.wrong += p.wrong;
        places.posts += p.posts;
        sc
    });
    let ev = glas_analytics::evaluate::evaluate_scenarios(scenarios, &ctx.pipeline.signals, ctx.tz());
    Ok((ev, places))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settlements_in_the_prepositional_case() {
        assert_eq!(locative("Величаевское"), "Величаевском");
        assert_eq!(locative("Бургун-Маджары"), "Бургун-Маджарах");
        assert_eq!(locative("Кумская Долина"), "Кумской Долине");
        assert_eq!(locative("Владимировка"), "Владимировке");
        assert_eq!(locative("Турксад"), "Турксаде");
        assert_eq!(locative("Кочубей"), "Кочубее");
        assert_eq!(locative("Степной"), "Степном");
    }

    #[test]
    fn rewrites_keep_the_words() {
        let mut rng = Rng::new(7);
        let text = "Прошу отремонтировать дорогу на улице Мира. Ямы огромные. Машины ломаются. Сколько можно ждать?";
        for _ in 0..50 {
            let out = informal(&mut rng, text);
            assert!(!out.is_empty() && out.chars().count() <= text.chars().count());
            assert!(out.to_lowercase().starts_with("прошу"), "{out}");
        }
    }
}
