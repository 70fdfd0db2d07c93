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

use chrono::{DateTime, Offset, TimeZone, Utc};
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
    /// Negative in tone or a complaint: what the detector counts as a
    /// negative story (SIGNALS.md). A calm, factual complaint counts as much
    /// as an angry one.
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
    pub ids: Ids,
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
    /// Terms of the events, interned (see [`Terms`]).
    pub terms: Vec<u32>,
    pub term_table: Terms,
}

/// Terms interned to dense ids, so the detector keeps their state in a
/// vector rather than a map probed for each of tens of millions of term
/// occurrences.
#[derive(Debug, Default)]
pub struct Terms {
    ids: TermMap<u32>,
    /// The hash of each id (pairs are odd, see [`is_pair`]).
    pub keys: Vec<u64>,
    /// The words of each id as first written in a negative text (only
    /// those can fire, so only theirs are named).
    names: Vec<Option<String>>,
}

impl Terms {
    fn intern(&mut self, key: u64, name: Option<&dyn Fn() -> String>) -> u32 {
        let next = self.keys.len() as u32;
        let id = *self.ids.entry(key).or_insert(next);
        if id == next {
            self.keys.push(key);
            self.names.push(name.map(|f| f()));
        } else if let Some(f) = name
            && self.names[id as usize].is_none()
        {
            self.names[id as usize] = Some(f());
        }
        id
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).and_then(|n| n.as_deref()).unwrap_or("")
    }

    /// Adds another table's terms; returns its ids' ids in this one.
    fn merge(&mut self, other: Terms) -> Vec<u32> {
        other
            .keys
            .iter()
            .zip(other.names)
            .map(|(&key, name)| match name {
                Some(name) => self.intern(key, Some(&move || name.clone())),
                None => self.intern(key, None),
            })
            .collect()
    }
}

/// The mention ids of the events, in one buffer (a million ids are a
/// million allocations otherwise).
#[derive(Debug, Default)]
pub struct Ids {
    text: String,
    /// `text[ends[i - 1]..ends[i]]` is id `i`.
    ends: Vec<usize>,
}

impl Ids {
    fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }

    pub fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let from = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[from..self.ends[i]]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn reordered(&self, order: &[u32]) -> Ids {
        let mut out = Ids { text: String::with_capacity(self.text.len()), ends: Vec::with_capacity(self.ends.len()) };
        for &i in order {
            out.push(self.get(i));
        }
        out
    }
}

/// The key a voice (author, else source) or a reprint cluster is told apart
/// by: a 64-bit hash of its name, the same whether the detector's input is
/// built from records or from the log. Two names would have to collide in
/// 64 bits to be merged.
pub fn key_hash(name: &str) -> u64 {
    fnv(name.as_bytes())
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

/// Interns names that are never shown (voices, clusters) by their
/// [`key_hash`]: no copy of a million cluster labels.
#[derive(Default)]
struct HashInterner(PlHashMap<u64, u32>);

impl HashInterner {
    fn get(&mut self, key: u64) -> u32 {
        let n = self.0.len() as u32;
        *self.0.entry(key).or_insert(n)
    }
}

/// One mention's fields, borrowed from wherever they live.
struct Row<'a, S: AsRef<str>> {
    pub id: &'a str,
    pub at: DateTime<Utc>,
    pub source: Option<&'a str>,
    /// [`key_hash`] of the author, else the source.
    pub voice: u64,
    pub sentiment: Sentiment,
    pub mention_type: MentionType,
    /// [`key_hash`] of the reprint cluster.
    pub cluster: u64,
    pub topics: &'a [S],
    pub places: &'a [S],
    pub views: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    /// Term ids of the text of a mention without a topic (see [`terms`];
    /// empty otherwise), extracted beforehand on every core.
    pub terms: &'a [u32],
}

/// Builds [`Events`] row by row.
struct Builder {
    tz: chrono_tz::Tz,
    /// The district's UTC offset, seconds, in the last quarter hour asked
    /// (quarter-hour number, offset), so neighbouring mentions share one
    /// lookup. Clock changes fall on a quarter hour (UTC) in the zones in use,
    /// Russia's included; one off the quarter would be seen up to 15 minutes
    /// late.
    offset: (i64, i64),
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
            offset: (i64::MIN, 0),
            out: Events::default(),
            topics: Interner::default(),
            places: Interner::default(),
            voices: HashInterner::default(),
            clusters: HashInterner::default(),
            sources: Interner::default(),
        }
    }

    /// Hour of the week in district time, 0 = Monday 00:00.
    fn hour_of_week(&mut self, at: i64) -> u8 {
        let quarter = at.div_euclid(900);
        if quarter != self.offset.0 {
            let utc = DateTime::from_timestamp(quarter * 900, 0).unwrap_or_default().naive_utc();
            self.offset = (quarter, i64::from(self.tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()));
        }
        let local = at + self.offset.1;
        // 1970-01-01 was a Thursday: day 0 is weekday 3 counted from Monday.
        let weekday = (local.div_euclid(86_400) + 3).rem_euclid(7);
        (weekday * 24 + local.rem_euclid(86_400) / 3600) as u8
    }

    fn push<S: AsRef<str>>(&mut self, r: Row<'_, S>) {
        let how = self.hour_of_week(r.at.timestamp());
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
        let voice = self.voices.get(r.voice);
        let reach = r.views.unwrap_or(0).max(0) as f64 / 100.0
            + r.comments.unwrap_or(0).max(0) as f64
            + r.shares.unwrap_or(0).max(0) as f64;
        self.out.events.push(Event {
            at: r.at.timestamp(),
            how,
            negative: r.sentiment == Sentiment::Negative || r.mention_type == MentionType::Complaint,
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
        self.out.ids.push(r.id);
    }

    /// The table, sorted by publication time (stable: equal times keep input order).
    fn finish(mut self) -> Events {
        let mut order: Vec<u32> = (0..self.out.events.len() as u32).collect();
        order.sort_by_key(|&i| self.out.events[i as usize].at);
        if order.windows(2).any(|w| w[0] > w[1]) {
            self.out.events = order.iter().map(|&i| self.out.events[i as usize]).collect();
            self.out.ids = self.out.ids.reordered(&order);
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
        let mut terms = ParallelTerms::extract(records.len(), |k| {
            let r = &records[k];
            let named =
                r.enrichment.sentiment == Sentiment::Negative || r.enrichment.mention_type == MentionType::Complaint;
            r.enrichment.topics.is_empty().then_some((r.mention.text.as_str(), named))
        });
        let mut b = Builder::new(tz);
        b.out.term_table = std::mem::take(&mut terms.table);
        for (k, r) in records.iter().enumerate() {
            let (m, e) = (&r.mention, &r.enrichment);
            b.push(Row {
                id: &m.id,
                at: m.published_at.with_timezone(&Utc),
                source: m.source.as_deref(),
                voice: key_hash(m.author.as_deref().or(m.source.as_deref()).unwrap_or("")),
                sentiment: e.sentiment,
                mention_type: e.mention_type,
                cluster: key_hash(&e.cluster),
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
        let (ids, sources, sentiments, types) = (s("id")?, s("source")?, s("sentiment")?, s("mention_type")?);
        // In many chunks: gathered in one pass rather than looked up by row.
        let texts: Vec<Option<&str>> = df.column("text")?.str()?.iter().collect();
        let (voice_keys, cluster_keys) = (df.column(VOICE_KEY)?.u64()?.clone(), df.column(CLUSTER_KEY)?.u64()?.clone());
        let at = df.column("published_at")?.cast(&DataType::Int64)?.i64()?.clone();
        let i = |name: &str| -> PolarsResult<Int64Chunked> { Ok(df.column(name)?.i64()?.clone()) };
        let (views, comments, shares) = (i("views")?, i("comments")?, i("shares")?);
        let topics = df.column("topics")?.list()?.clone();
        let places = df.column("places")?.list()?.clone();
        let (topic_at, topic_values) = flat_lists(&topics)?;
        let (place_at, place_values) = flat_lists(&places)?;
        let n = df.height();
        let mut texts = ParallelTerms::extract(n, |k| {
            let named = sentiments.get(k) == Some("negative") || types.get(k) == Some("complaint");
            (topic_at[k] == topic_at[k + 1]).then(|| (texts[k].unwrap_or(""), named))
        });
        let mut b = Builder::new(tz);
        b.out.term_table = std::mem::take(&mut texts.table);
        for k in 0..n {
            let row_terms = texts.of(k);
            let ms = at.get(k).unwrap_or(0);
            b.push(Row {
                id: ids.get(k).unwrap_or(""),
                at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                source: sources.get(k),
                voice: voice_keys.get(k).unwrap_or(0),
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
                cluster: cluster_keys.get(k).unwrap_or(0),
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

    pub fn terms_of(&self, e: &Event) -> &[u32] {
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
/// topic. One chunk per column but the texts, so reading row k is O(1)
/// rather than a search over the thousands of chunks a scan of many parts
/// leaves. `None` when the log is empty.
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
    // The texts are read in order once (see `Events::from_frame`): copying
    // them into one chunk would only cost time and memory.
    let text = df.drop_in_place("text")?;
    df.rechunk_mut_par();
    df.with_column(text)?;
    with_keys(&mut df)?;
    Ok(Some(df))
}

/// Column of each mention's voice [`key_hash`] (author, else source).
pub const VOICE_KEY: &str = "voice_key";
/// Column of each mention's reprint cluster [`key_hash`].
pub const CLUSTER_KEY: &str = "cluster_key";

/// Adds [`VOICE_KEY`] and [`CLUSTER_KEY`] to a frame with `author`, `source`
/// and `cluster`, hashed on every core: counting distinct voices and stories
/// then compares integers, not strings, in the aggregates and the detector.
pub fn with_keys(df: &mut DataFrame) -> PolarsResult<()> {
    let (authors, sources, clusters) = (
        df.column("author")?.str()?.rechunk(),
        df.column("source")?.str()?.rechunk(),
        df.column("cluster")?.str()?.rechunk(),
    );
    let n = df.height();
    let voices = parallel_keys(n, |k| key_hash(authors.get(k).or_else(|| sources.get(k)).unwrap_or("")));
    let clusters = parallel_keys(n, |k| key_hash(clusters.get(k).unwrap_or("")));
    df.with_column(Column::new(VOICE_KEY.into(), voices))?;
    df.with_column(Column::new(CLUSTER_KEY.into(), clusters))?;
    Ok(())
}

fn parallel_keys(n: usize, key: impl Fn(usize) -> u64 + Sync) -> Vec<u64> {
    let mut out = vec![0u64; n];
    let threads = glas_core::worker_threads();
    let chunk = n.div_ceil(threads).max(1);
    let key = &key;
    std::thread::scope(|scope| {
        for (c, part) in out.chunks_mut(chunk).enumerate() {
            scope.spawn(move || {
                for (j, slot) in part.iter_mut().enumerate() {
                    *slot = key(c * chunk + j);
                }
            });
        }
    });
    out
}

/// The interned terms of many texts, extracted on every core in contiguous
/// runs of rows, each with its own table, then merged into one.
struct ParallelTerms {
    /// Per run: offsets per row into the run's flat term ids.
    parts: Vec<(Vec<usize>, Vec<u32>)>,
    chunk: usize,
    table: Terms,
}

impl ParallelTerms {
    /// `text(k)` is row k's text and whether its terms are to be named (only
    /// negative texts can fire, so only theirs are), or `None` when it has no
    /// terms to give.
    fn extract<'t>(n: usize, text: impl Fn(usize) -> Option<(&'t str, bool)> + Sync) -> ParallelTerms {
        let threads = glas_core::worker_threads();
        let chunk = n.div_ceil(threads).max(1);
        let text = &text;
        let runs: Vec<(Vec<usize>, Vec<u32>, Terms)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|lo| {
                    scope.spawn(move || {
                        let (mut at, mut flat, mut table) = (vec![0], Vec::new(), Terms::default());
                        // A row's terms, each once (one buffer for the run).
                        let mut row = Vec::new();
                        for k in lo..(lo + chunk).min(n) {
                            if let Some((t, named)) = text(k) {
                                row.clear();
                                terms(t, |key, name| row.push(table.intern(key, named.then_some(name))));
                                row.sort_unstable();
                                row.dedup();
                                flat.extend_from_slice(&row);
                            }
                            at.push(flat.len());
                        }
                        (at, flat, table)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("term extraction does not panic")).collect()
        });
        // Earlier runs first: a term is named as first written.
        let mut table = Terms::default();
        let mut parts = Vec::with_capacity(runs.len());
        for (at, mut flat, run_table) in runs {
            let ids = table.merge(run_table);
            for t in &mut flat {
                *t = ids[*t as usize];
            }
            parts.push((at, flat));
        }
        ParallelTerms { parts, chunk, table }
    }

    fn of(&self, k: usize) -> &[u32] {
        let (at, flat) = &self.parts[k / self.chunk];
        let off = k % self.chunk;
        &flat[at[off]..at[off + 1]]
    }
}

/// A list column as one flat slice of values and row offsets into it
/// (`values[at[k]..at[k + 1]]` is row k), without a vector per row.
pub(crate) fn flat_lists(ca: &ListChunked) -> PolarsResult<(Vec<usize>, Vec<&str>)> {
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

/// Stems (first [`STEM_CHARS`] letters) of the words residents complain or
/// thank with. They say how people feel, not what about: every wave of
/// complaints raises them, so they would name no issue of their own.
const EVALUATIVE: &[&str] = &[
    "жалоб", // жалоба, жалобы
    "отвеч", // никто не отвечает
    "ответ", // ответа нет
    "возму", // возмущены, возмутительно
    "безоб", // безобразие
    "надое", // надоело
    "издев", // издевательство
    "позор", // позор
    "требу", // требуем
    "ужасн", // ужасно
    "кошма", // кошмар
    "беспр", // беспредел
    "помог", // помогите
    "отпис", // отписка
    "отлич", // отлично
    "порад", // порадовали
];

/// Letters a term keeps of each word: a crude but fast Russian stem that
/// merges case forms ("тарифа", "тарифом" → "тариф").
const STEM_CHARS: usize = 5;

/// The terms of a text: its words of four letters or more (as stems) and
/// adjacent pairs of them, each given to `emit` as its hash and a function
/// that writes its words (called only when they are wanted). A term may be
/// given more than once.
pub fn terms(text: &str, mut emit: impl FnMut(u64, &dyn Fn() -> String)) {
    // Only what the hash and the stop-word test need is lowercased here:
    // the first STEM_CHARS letters, or the whole word when it could be a
    // stop word; the words themselves only when `emit` asks for them.
    let mut prev: Option<(u64, &str)> = None;
    let mut start = None;
    let mut head = String::new();
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
        let n = w.chars().count();
        // The word's stem hash, unless it is short, common or a word of complaint.
        let term = if n < 4 {
            None
        } else {
            head.clear();
            lowercase_into(w, if n <= STOP_MAX { n } else { STEM_CHARS }, &mut head);
            if n <= STOP_MAX && stop_words().binary_search(&fnv(head.as_bytes())).is_ok() {
                None
            } else {
                let stem_len = head.char_indices().nth(STEM_CHARS).map_or(head.len(), |(i, _)| i);
                let h = fnv(&head.as_bytes()[..stem_len]) & !1;
                evaluative_stems().binary_search(&h).is_err().then_some(h)
            }
        };
        let Some(h) = term else {
            // A skipped word between two words still joins them
            // ("свалка за Турксадом" → "свалк турксад").
            if !c.is_whitespace() {
                prev = None;
            }
            continue;
        };
        emit(h, &|| lowercase(w));
        if let Some((ph, pw)) = prev {
            emit(fnv_pair(ph, h), &|| format!("{} {}", lowercase(pw), lowercase(w)));
        }
        prev = Some((h, w));
        if !c.is_whitespace() {
            prev = None;
        }
    }
}

/// Stop words are at most this many letters long.
const STOP_MAX: usize = 10;

/// Appends the first `n` letters of `w` lowercased, "ё" as "е".
fn lowercase_into(w: &str, n: usize, out: &mut String) {
    for c in w.chars().take(n) {
        match c {
            'А'..='Я' => out.push(char::from_u32(c as u32 + 32).unwrap_or(c)),
            'Ё' | 'ё' => out.push('е'),
            'а'..='я' | 'a'..='z' | '-' => out.push(c),
            _ => out.extend(c.to_lowercase()),
        }
    }
}

fn lowercase(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    lowercase_into(w, usize::MAX, &mut out);
    out
}

/// Letters, with a fast path for Cyrillic and ASCII.
#[inline]
fn is_letter(c: char) -> bool {
    matches!(c, 'а'..='я' | 'А'..='Я' | 'a'..='z' | 'A'..='Z' | 'ё' | 'Ё') || !c.is_ascii() && c.is_alphabetic()
}

/// Hashes of the stop words, sorted for a binary search.
fn stop_words() -> &'static [u64] {
    static SET: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    SET.get_or_init(|| sorted_hashes(STOP, fnv))
}

/// Hashes of the [`EVALUATIVE`] stems, as terms hash them, sorted.
fn evaluative_stems() -> &'static [u64] {
    static SET: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    SET.get_or_init(|| sorted_hashes(EVALUATIVE, |w| fnv(w) & !1))
}

fn sorted_hashes(words: &[&str], hash: impl Fn(&[u8]) -> u64) -> Vec<u64> {
    let mut v: Vec<u64> = words.iter().map(|w| hash(w.as_bytes())).collect();
    v.sort_unstable();
    v
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
        terms("Свалка за Турксадом горит, новый тариф!", |h, words| {
            out.push(h);
            surface.entry(h).or_insert_with(words);
        });
        let mut words: Vec<&str> = out.iter().map(|h| surface[h].as_str()).collect();
        words.sort_unstable();
        assert_eq!(
            words,
            ["горит", "новый", "новый тариф", "свалка", "свалка турксадом", "тариф", "турксадом", "турксадом горит"]
        );
        // Case forms share a stem.
        let mut again = Vec::new();
        terms("тарифом", |h, _| again.push(h));
        assert!(out.contains(&again[0]));
        // Words of complaint are no terms; the words around them still pair.
        let mut seen = Vec::new();
        terms("Жалоба: запах аммиака, возмущены! Никто не отвечает", |_, words| seen.push(words()));
        seen.sort_unstable();
        assert_eq!(seen, ["аммиака", "запах", "запах аммиака"]);
        // Each entry is a stem as terms cut it, or it would never match.
        assert!(EVALUATIVE.iter().all(|w| w.chars().count() == STEM_CHARS), "{EVALUATIVE:?}");
    }

    #[test]
    fn hour_of_week_follows_the_offset_through_a_clock_change() {
        use chrono::{Datelike, Timelike};
        let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let mut b = Builder::new(tz);
        // Every 7 minutes over the spring and autumn changes of 2026.
        for start in [1_774_746_000i64, 1_792_890_000] {
            for k in 0..800 {
                let at = start - 86_400 + k * 420;
                let local = tz.from_utc_datetime(&DateTime::from_timestamp(at, 0).unwrap().naive_utc());
                let want = (local.weekday().num_days_from_monday() * 24 + local.hour()) as u8;
                assert_eq!(b.hour_of_week(at), want, "at {at}");
            }
        }
    }

    #[test]
    fn terms_interned_on_several_cores_share_ids_and_take_negative_words() {
        let texts = [
            ("Тарифом недовольны все", false),
            ("Новый тариф на воду", true),
            ("ТАРИФА нет", false),
            ("тариф вырос, тарифом", true),
        ];
        let t = ParallelTerms::extract(texts.len(), |k| Some(texts[k]));
        let id = |k: usize| -> Vec<u32> {
            t.of(k)
                .iter()
                .copied()
                .filter(|&i| t.table.keys[i as usize] & 1 == 0 && t.table.name(i).starts_with("тариф"))
                .collect()
        };
        // One id for the stem in every row, once per row, named from a negative text.
        let first = id(1);
        assert_eq!(first.len(), 1);
        for k in 0..texts.len() {
            assert_eq!(id(k), first, "row {k}");
        }
        assert_eq!(t.table.name(first[0]), "тариф");
    }
}
