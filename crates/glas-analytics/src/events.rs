//! The detector's input: every mention reduced to what signals are computed
//! from (time, series, sentiment, type, story, voice, reach, and the terms of
//! topic-less mentions), interned into a compact table.
//!
//! Built either from enriched records in memory ([`Events::from_records`],
//! replay) or straight from the Parquet log with polars, reading only the
//! columns it needs ([`Events::from_log`], the live analysis and the full
//! recompute).

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use glas_core::{MentionType, Record, Sentiment};
use polars::prelude::*;

use crate::AnalyticsError;

/// Place index of a mention that names no settlement (district-wide).
pub const NO_PLACE: u16 = u16::MAX;

/// One mention as the detector sees it.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// Publication time, Unix seconds.
    pub at: i64,
    /// Hour of the week in district time, 0 = Monday 00:00.
    pub how: u8,
    pub negative: bool,
    pub positive: bool,
    pub complaint: bool,
    /// Interned reprint cluster, author-or-source ("voice") and source.
    pub cluster: u32,
    pub voice: u32,
    pub source: u32,
    /// Views, comments and shares folded into one reach figure.
    pub reach: f32,
    /// `series[s0..s1]`: (topic, place) pairs; `terms[t0..t1]`: term hashes.
    pub s0: u32,
    pub s1: u32,
    pub t0: u32,
    pub t1: u32,
    /// `places[p0..p1]`: the settlements it names.
    pub p0: u32,
    pub p1: u32,
}

/// Every mention of a span, in publication order, with the interned names.
#[derive(Debug, Default)]
pub struct Events {
    pub events: Vec<Event>,
    /// Mention id of each event.
    pub ids: Vec<String>,
    pub topics: Vec<String>,
    pub places: Vec<String>,
    /// Number of distinct voices, clusters and sources interned.
    pub voices: u32,
    pub clusters: u32,
    /// Mentions of each cluster in the whole table.
    pub cluster_sizes: Vec<u32>,
    pub sources: Vec<String>,
    pub series: Vec<(u16, u16)>,
    pub event_places: Vec<u16>,
    pub terms: Vec<u64>,
    /// The words a term hash stands for, as first written.
    pub surface: TermMap<String>,
}

/// Interns strings to dense indexes.
#[derive(Default)]
struct Interner {
    map: PlHashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn get(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.map.insert(s.to_string(), i);
        self.names.push(s.to_string());
        i
    }
}

/// Interns strings whose names are never shown (voices, clusters) by a
/// 64-bit hash: no copy of a million cluster labels. Two labels would have
/// to collide in 64 bits to be merged.
#[derive(Default)]
struct HashInterner(PlHashMap<u64, u32>);

impl HashInterner {
    fn get(&mut self, s: &str) -> u32 {
        let h = fnv(s.as_bytes());
        let n = self.0.len() as u32;
        *self.0.entry(h).or_insert(n)
    }
}

/// One mention's fields, borrowed from wherever they live.
struct Row<'a, S: AsRef<str>> {
    pub id: &'a str,
    pub at: DateTime<Utc>,
    pub source: Option<&'a str>,
    pub author: Option<&'a str>,
    pub sentiment: Sentiment,
    pub mention_type: MentionType,
    pub cluster: &'a str,
    pub topics: &'a [S],
    pub places: &'a [S],
    pub views: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    /// Terms of the text of a mention without a topic (see [`terms`];
    /// empty otherwise), extracted beforehand on every core.
    pub terms: &'a [u64],
}

/// Builds [`Events`] row by row.
struct Builder {
    tz: chrono_tz::Tz,
    out: Events,
    topics: Interner,
    places: Interner,
    voices: HashInterner,
    clusters: HashInterner,
    sources: Interner,
}

impl Builder {
    fn new(tz: chrono_tz::Tz) -> Builder {
        Builder {
            tz,
            out: Events::default(),
            topics: Interner::default(),
            places: Interner::default(),
            voices: HashInterner::default(),
            clusters: HashInterner::default(),
            sources: Interner::default(),
        }
    }

    fn push<S: AsRef<str>>(&mut self, r: Row<'_, S>) {
        let local = self.tz.from_utc_datetime(&r.at.naive_utc());
        let how = (local.weekday().num_days_from_monday() * 24 + local.hour()) as u8;
        let s0 = self.out.series.len() as u32;
        for t in r.topics {
            let ti = self.topics.get(t.as_ref()) as u16;
            if r.places.is_empty() {
                self.out.series.push((ti, NO_PLACE));
            }
            for p in r.places {
                let pi = self.places.get(p.as_ref()) as u16;
                self.out.series.push((ti, pi));
            }
        }
        let p0 = self.out.event_places.len() as u32;
        for p in r.places {
            let pi = self.places.get(p.as_ref()) as u16;
            self.out.event_places.push(pi);
        }
        let t0 = self.out.terms.len() as u32;
        self.out.terms.extend_from_slice(r.terms);
        let source = self.sources.get(r.source.unwrap_or(""));
        let voice = self.voices.get(r.author.or(r.source).unwrap_or(""));
        let reach = r.views.unwrap_or(0).max(0) as f64 / 100.0
            + r.comments.unwrap_or(0).max(0) as f64
            + r.shares.unwrap_or(0).max(0) as f64;
        self.out.events.push(Event {
            at: r.at.timestamp(),
            how,
            negative: r.sentiment == Sentiment::Negative,
            positive: r.sentiment == Sentiment::Positive,
            complaint: r.mention_type == MentionType::Complaint,
            cluster: self.clusters.get(r.cluster),
            voice,
            source,
            reach: reach as f32,
            s0,
            s1: self.out.series.len() as u32,
            t0,
            t1: self.out.terms.len() as u32,
            p0,
            p1: self.out.event_places.len() as u32,
        });
        self.out.ids.push(r.id.to_string());
    }

    /// The table, sorted by publication time (stable: equal times keep input order).
    fn finish(mut self) -> Events {
        let mut order: Vec<u32> = (0..self.out.events.len() as u32).collect();
        order.sort_by_key(|&i| self.out.events[i as usize].at);
        if order.windows(2).any(|w| w[0] > w[1]) {
            self.out.events = order.iter().map(|&i| self.out.events[i as usize]).collect();
            let mut ids = std::mem::take(&mut self.out.ids);
            self.out.ids = order.iter().map(|&i| std::mem::take(&mut ids[i as usize])).collect();
        }
        self.out.topics = self.topics.names;
        self.out.places = self.places.names;
        self.out.sources = self.sources.names;
        self.out.voices = self.voices.0.len() as u32;
        self.out.clusters = self.clusters.0.len() as u32;
        self.out.cluster_sizes = vec![0; self.out.clusters as usize];
        for e in &self.out.events {
            self.out.cluster_sizes[e.cluster as usize] += 1;
        }
        self.out
    }
}

impl Events {
    pub fn from_records(records: &[Record], tz: chrono_tz::Tz) -> Events {
        let terms = ParallelTerms::extract(records.len(), |k| {
            let r = &records[k];
            r.enrichment.topics.is_empty().then_some(r.mention.text.as_str())
        });
        let mut b = Builder::new(tz);
        terms.surfaces_into(&mut b.out.surface);
        for (k, r) in records.iter().enumerate() {
            let (m, e) = (&r.mention, &r.enrichment);
            b.push(Row {
                id: &m.id,
                at: m.published_at.with_timezone(&Utc),
                source: m.source.as_deref(),
                author: m.author.as_deref(),
                sentiment: e.sentiment,
                mention_type: e.mention_type,
                cluster: &e.cluster,
                topics: &e.topics,
                places: &e.places,
                views: m.engagement.views,
                comments: m.engagement.comments,
                shares: m.engagement.shares,
                terms: terms.of(k),
            });
        }
        b.finish()
    }

    /// Reads the committed log with polars (only the columns signals need;
    /// texts only of mentions without a topic). `None` when the log is empty.
    pub fn from_log(log_dir: &Path, tz: chrono_tz::Tz) -> Result<Option<Events>, AnalyticsError> {
        let Some(df) = read_log(log_dir)? else { return Ok(None) };
        Ok(Some(Events::from_frame(&df, tz)?))
    }

    /// From a frame as [`read_log`] returns it.
    pub fn from_frame(df: &DataFrame, tz: chrono_tz::Tz) -> PolarsResult<Events> {
        let s = |name: &str| -> PolarsResult<StringChunked> { Ok(df.column(name)?.str()?.clone()) };
        let (ids, sources, authors, sentiments, types, clusters, texts) =
            (s("id")?, s("source")?, s("author")?, s("sentiment")?, s("mention_type")?, s("cluster")?, s("text")?);
        let at = df.column("published_at")?.cast(&DataType::Int64)?.i64()?.clone();
        let i = |name: &str| -> PolarsResult<Int64Chunked> { Ok(df.column(name)?.i64()?.clone()) };
        let (views, comments, shares) = (i("views")?, i("comments")?, i("shares")?);
        let topics = df.column("topics")?.list()?.clone();
        let places = df.column("places")?.list()?.clone();
        let (topic_at, topic_values) = flat_lists(&topics)?;
        let (place_at, place_values) = flat_lists(&places)?;
        let n = df.height();
        let texts = ParallelTerms::extract(n, |k| (topic_at[k] == topic_at[k + 1]).then(|| texts.get(k).unwrap_or("")));
        let mut b = Builder::new(tz);
        texts.surfaces_into(&mut b.out.surface);
        for k in 0..n {
            let row_terms = texts.of(k);
            let ms = at.get(k).unwrap_or(0);
            b.push(Row {
                id: ids.get(k).unwrap_or(""),
                at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                source: sources.get(k),
                author: authors.get(k),
                sentiment: match sentiments.get(k) {
                    Some("negative") => Sentiment::Negative,
                    Some("positive") => Sentiment::Positive,
                    _ => Sentiment::Neutral,
                },
                mention_type: match types.get(k) {
                    Some("complaint") => MentionType::Complaint,
                    Some("question") => MentionType::Question,
                    Some("gratitude") => MentionType::Gratitude,
                    Some("news") => MentionType::News,
                    _ => MentionType::Other,
                },
                cluster: clusters.get(k).unwrap_or(""),
                topics: &topic_values[topic_at[k]..topic_at[k + 1]],
                places: &place_values[place_at[k]..place_at[k + 1]],
                views: views.get(k),
                comments: comments.get(k),
                shares: shares.get(k),
                terms: row_terms,
            });
        }
        Ok(b.finish())
    }

    pub fn series_of(&self, e: &Event) -> &[(u16, u16)] {
        &self.series[e.s0 as usize..e.s1 as usize]
    }

    pub fn terms_of(&self, e: &Event) -> &[u64] {
        &self.terms[e.t0 as usize..e.t1 as usize]
    }

    pub fn places_of(&self, e: &Event) -> &[u16] {
        &self.event_places[e.p0 as usize..e.p1 as usize]
    }

    pub fn place_name(&self, p: u16) -> Option<&str> {
        if p == NO_PLACE { None } else { self.places.get(p as usize).map(String::as_str) }
    }
}

/// Every committed mention with the columns the analytics use (the trend
/// jobs and the detector), read once; texts only of mentions without a
/// topic. One chunk per column, so reading row k is O(1) rather than a search
/// over the thousands of chunks a scan of many parts leaves. `None` when the
/// log is empty.
pub fn read_log(log_dir: &Path) -> Result<Option<DataFrame>, AnalyticsError> {
    let Some(log) = crate::daily::scan_log(log_dir)? else { return Ok(None) };
    let mut df = log
        .select([
            col("id"),
            col("published_at"),
            col("utc_offset_s"),
            col("source"),
            col("source_kind"),
            col("author"),
            col("sentiment"),
            col("mention_type"),
            col("cluster"),
            col("topics"),
            col("places"),
            col("views"),
            col("comments"),
            col("shares"),
            when(col("topics").list().len().eq(lit(0)))
                .then(col("text"))
                .otherwise(lit(NULL).cast(DataType::String))
                .alias("text"),
        ])
        .collect()?;
    df.rechunk_mut_par();
    Ok(Some(df))
}

/// Terms of a run of rows: offsets per row, the flat terms, their words.
type TermPart = (Vec<usize>, Vec<u64>, TermMap<String>);

/// The terms of many texts, extracted on every core in contiguous runs.
struct ParallelTerms {
    parts: Vec<TermPart>,
    chunk: usize,
}

impl ParallelTerms {
    /// `text(k)` is row k's text, or `None` when it has no terms to give.
    fn extract<'t>(n: usize, text: impl Fn(usize) -> Option<&'t str> + Sync) -> ParallelTerms {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let chunk = n.div_ceil(threads).max(1);
        let text = &text;
        let parts = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|lo| {
                    scope.spawn(move || {
                        let (mut at, mut flat, mut surface) = (vec![0], Vec::new(), TermMap::default());
                        for k in lo..(lo + chunk).min(n) {
                            if let Some(t) = text(k) {
                                terms(t, &mut flat, &mut surface);
                            }
                            at.push(flat.len());
                        }
                        (at, flat, surface)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("term extraction does not panic")).collect()
        });
        ParallelTerms { parts, chunk }
    }

    fn of(&self, k: usize) -> &[u64] {
        let (at, flat, _) = &self.parts[k / self.chunk];
        let off = k % self.chunk;
        &flat[at[off]..at[off + 1]]
    }

    /// Earlier runs first: a term is shown as first written.
    fn surfaces_into(&self, surface: &mut TermMap<String>) {
        for (_, _, words) in &self.parts {
            for (h, w) in words {
                surface.entry(*h).or_insert_with(|| w.clone());
            }
        }
    }
}

/// A list column as one flat slice of values and row offsets into it
/// (`values[at[k]..at[k + 1]]` is row k), without a vector per row.
fn flat_lists(ca: &ListChunked) -> PolarsResult<(Vec<usize>, Vec<&str>)> {
    use polars_arrow::array::{Array, Utf8ViewArray};
    let mut at = Vec::with_capacity(ca.len() + 1);
    at.push(0);
    let mut values = Vec::new();
    for arr in ca.downcast_iter() {
        let inner = arr
            .values()
            .as_any()
            .downcast_ref::<Utf8ViewArray>()
            .ok_or_else(|| PolarsError::ComputeError("a list column of the log is not of strings".into()))?;
        for row in 0..arr.len() {
            if arr.is_valid(row) {
                let (a, b) = arr.offsets().start_end(row);
                values.extend((a..b).filter_map(|j| inner.get(j)));
            }
            at.push(values.len());
        }
    }
    Ok((at, values))
}

/// Words too common to name an issue (four letters or longer; shorter words
/// are never terms).
const STOP: &[&str] = &[
    "http",
    "https",
    "html",
    "этот",
    "этого",
    "этом",
    "эти",
    "этих",
    "этой",
    "эту",
    "тоже",
    "того",
    "тому",
    "когда",
    "который",
    "которые",
    "которая",
    "которое",
    "которых",
    "будет",
    "будут",
    "было",
    "были",
    "была",
    "очень",
    "только",
    "можно",
    "нужно",
    "надо",
    "сегодня",
    "вчера",
    "завтра",
    "просто",
    "вообще",
    "всех",
    "всем",
    "весь",
    "вся",
    "всего",
    "всё",
    "все",
    "где",
    "куда",
    "почему",
    "зачем",
    "себя",
    "свой",
    "своих",
    "наши",
    "наших",
    "ваши",
    "есть",
    "нету",
    "даже",
    "если",
    "чтобы",
    "потому",
    "после",
    "перед",
    "через",
    "около",
    "опять",
    "снова",
    "ещё",
    "еще",
    "уже",
    "пока",
    "там",
    "тут",
    "здесь",
    "сейчас",
    "теперь",
    "какой",
    "какие",
    "такой",
    "такие",
    "также",
    "более",
    "менее",
    "году",
    "года",
    "день",
    "дней",
    "часа",
    "часов",
    "между",
    "этому",
    "нибудь",
    "ничего",
    "никто",
    "никак",
    "спасибо",
    "пожалуйста",
    "много",
    "мало",
    "сколько",
    "кто-то",
    "что-то",
    "наконец",
    "вместо",
];

/// Letters a term keeps of each word: a crude but fast Russian stem that
/// merges case forms ("тарифа", "тарифом" → "тариф").
const STEM_CHARS: usize = 5;

/// Term hashes of a text: its words of four letters or more (as stems) and
/// adjacent pairs of them. Each term once per text.
pub fn terms(text: &str, out: &mut Vec<u64>, surface: &mut TermMap<String>) {
    let from = out.len();
    let mut prev: Option<(u64, &str)> = None;
    let mut start = None;
    let mut word = String::new();
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        if is_letter(c) || c == '-' && start.is_some() {
            start.get_or_insert(i);
            continue;
        }
        let Some(s) = start.take() else {
            if !c.is_whitespace() {
                prev = None;
            }
            continue;
        };
        let w = text[s..i].trim_end_matches('-');
        word.clear();
        for c in w.chars() {
            match c {
                'А'..='Я' => word.push(char::from_u32(c as u32 + 32).unwrap_or(c)),
                'Ё' | 'ё' => word.push('е'),
                'а'..='я' | 'a'..='z' | '-' => word.push(c),
                _ => word.extend(c.to_lowercase()),
            }
        }
        let n = word.chars().count();
        if n < 4 || n <= 10 && stop_words().binary_search(&fnv(word.as_bytes())).is_ok() {
            // A short or common word between two words still joins them
            // ("свалка за Турксадом" → "свалк турксад").
            if !c.is_whitespace() {
                prev = None;
            }
            continue;
        }
        let stem_len = word.char_indices().nth(STEM_CHARS).map_or(word.len(), |(i, _)| i);
        let h = fnv(&word.as_bytes()[..stem_len]) & !1;
        push_term(out, surface, h, || word.clone());
        if let Some((ph, pw)) = prev {
            let pair = fnv_pair(ph, h);
            push_term(out, surface, pair, || format!("{} {}", pw.to_lowercase(), word));
        }
        prev = Some((h, w));
        if !c.is_whitespace() {
            prev = None;
        }
    }
    let mine = &mut out[from..];
    mine.sort_unstable();
    let kept = {
        let mut k = 0;
        for i in 0..mine.len() {
            if i == 0 || mine[i] != mine[k - 1] {
                mine[k] = mine[i];
                k += 1;
            }
        }
        k
    };
    out.truncate(from + kept);
}

/// Letters, with a fast path for Cyrillic and ASCII.
#[inline]
fn is_letter(c: char) -> bool {
    matches!(c, 'а'..='я' | 'А'..='Я' | 'a'..='z' | 'A'..='Z' | 'ё' | 'Ё') || !c.is_ascii() && c.is_alphabetic()
}

fn push_term(out: &mut Vec<u64>, surface: &mut TermMap<String>, h: u64, words: impl FnOnce() -> String) {
    out.push(h);
    surface.entry(h).or_insert_with(words);
}

/// Hashes of the stop words, sorted for a binary search.
fn stop_words() -> &'static [u64] {
    static SET: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let mut v: Vec<u64> = STOP.iter().map(|w| fnv(w.as_bytes())).collect();
        v.sort_unstable();
        v
    })
}

/// Hashing for keys that are already hashes (term ids).
#[derive(Default)]
pub struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A map keyed by term hashes.
pub type TermMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<Prehashed>>;

fn fnv(bytes: &[u8]) -> u64 {
    glas_core::fnv1a(bytes.iter().copied())
}

fn fnv_pair(a: u64, b: u64) -> u64 {
    (a.rotate_left(23) ^ b).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29) | 1
}

/// Whether a term is a word pair: pairs are odd, single words even.
pub fn is_pair(term: u64) -> bool {
    term & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_stems_and_pairs_across_short_words() {
        let mut out = Vec::new();
        let mut surface = TermMap::default();
        terms("Свалка за Турксадом горит, новый тариф!", &mut out, &mut surface);
        let mut words: Vec<&str> = out.iter().map(|h| surface[h].as_str()).collect();
        words.sort_unstable();
        assert_eq!(
            words,
            ["горит", "новый", "новый тариф", "свалка", "свалка турксадом", "тариф", "турксадом", "турксадом горит"]
        );
        // Case forms share a stem.
        let mut again = Vec::new();
        terms("тарифом", &mut again, &mut surface);
        assert!(out.contains(&again[0]));
    }
}
