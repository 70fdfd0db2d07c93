//! Running an analyst query: compile the parsed query to tantivy, rank or sort,
//! collapse reprints, count facets, highlight, export.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, InvertedIndexRangeQuery, Occur, PhraseQuery,
    Query, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, DocId, Order, Score, Searcher, SegmentReader, TantivyDocument, Term};

use crate::StoreError;
use crate::analyzer::{analyze, fold_letters, is_stop_word, russian_analyzer};
use crate::highlight::{Highlighter, Marked};
use crate::index::{Fields, HOUR_MS, SearchIndex, StoredMention, hour_number};
use glas_core::query::{self, FilterKey, Node, QueryError, TextItem, TextScope};

/// Largest page accepted.
pub const MAX_PAGE: usize = 200;
/// How many ranked documents collapsing reprints looks through at most.
const COLLAPSE_WINDOW: usize = 20_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    #[default]
    Relevance,
    Date,
}

/// What to search for.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// In the query language of [`crate::query`]; empty matches everything.
    pub query: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The district's time zone: `date:` days and the day facet use it.
    pub tz: chrono_tz::Tz,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
    /// Show one hit per reprint cluster ("и ещё N публикаций").
    pub collapse: bool,
    /// Count hits per source, topic, place, sentiment, type and day.
    pub facets: bool,
    /// Only mentions stored in log parts after this one (saved-search digests).
    pub after_seq: Option<u64>,
    /// Count every match. When false, a search sorted by date without facets
    /// reads the newest hours first and stops once the page is full; the
    /// total is then counted in the hours read and estimated for the rest
    /// ([`SearchResults::total_estimated`]).
    pub exact_total: bool,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            query: String::new(),
            since: None,
            until: None,
            tz: chrono_tz::Europe::Moscow,
            sort: Sort::Relevance,
            offset: 0,
            limit: 20,
            collapse: true,
            facets: false,
            after_seq: None,
            exact_total: true,
        }
    }
}

/// A search hit, ready to show.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    pub id: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub published_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Byte ranges of matched words within `title`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub title_highlights: Vec<(usize, usize)>,
    pub sentiment: String,
    pub topics: Vec<String>,
    pub places: Vec<String>,
    pub mention_type: String,
    pub cluster: String,
    /// Other mentions of the same reprint cluster in this result set.
    pub more_in_cluster: u64,
    /// Best fragment of the text; `highlights` are the byte ranges of the
    /// matched words within it.
    pub snippet: String,
    pub highlights: Vec<(usize, usize)>,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// Hits per value of each facet, most frequent first (days in date order).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Facets {
    pub source: Vec<FacetCount>,
    pub topic: Vec<FacetCount>,
    pub place: Vec<FacetCount>,
    pub sentiment: Vec<FacetCount>,
    #[serde(rename = "type")]
    pub mention_type: Vec<FacetCount>,
    pub day: Vec<FacetCount>,
    /// Per day (date order): the negative and positive hits and the
    /// complaints among the day's, counted in the same pass.
    pub day_tone: Vec<DayTone>,
}

/// One day's hits by tone, and the complaints among them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayTone {
    pub day: String,
    pub negative: u64,
    pub positive: u64,
    pub complaint: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchResults {
    /// Mentions matching (reprints counted one by one).
    pub total: usize,
    /// `total` is an estimate (two significant digits): the newest hours
    /// filled the page and the older ones were not read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub total_estimated: bool,
    pub offset: usize,
    pub limit: usize,
    pub hits: Vec<Hit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Facets>,
}

/// A parsed and compiled query.
pub(crate) struct Compiled {
    pub query: Box<dyn Query>,
    pub highlighter: Highlighter,
    /// The analyzer the query was read with, kept for highlighting its hits.
    pub analyzer: TextAnalyzer,
    /// Phrases, prefixes and date ranges are evaluated over every match
    /// anyway (no block-max pruning), so counting and ranking share one pass.
    pub exhaustive: bool,
    /// The query without its time window: the request's `since`/`until`
    /// and the query's top-level `date:` terms, which are `window`.
    pub unranged: Box<dyn Query>,
    pub window: TimeWindow,
}

fn exhaustive(node: &Node) -> bool {
    match node {
        Node::Text { item: TextItem::Phrase { .. } | TextItem::Prefix(_), .. } => true,
        // A date range's matches are gathered whole for each pass.
        Node::Date { .. } => true,
        Node::Url { prefix: true, .. } => true,
        Node::And(v) | Node::Or(v) => v.iter().any(exhaustive),
        Node::Not(b) => exhaustive(b),
        _ => false,
    }
}

struct Compiler<'a> {
    f: Fields,
    tz: chrono_tz::Tz,
    analyzer: TextAnalyzer,
    highlighter: &'a mut Highlighter,
}

fn filter(q: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(q, 0.0))
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~\"<>@".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// From (inclusive) and until (exclusive), either open.
pub type TimeWindow = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The time window of `--since 7d` and `--from/--to` (district days, both
/// inclusive) in UTC. The error names the bad value, in Russian and English.
pub fn time_window(
    since: Option<&str>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<TimeWindow, String> {
    let mut lower = match since {
        Some(s) => Some(
            now - glas_core::config::parse_duration(s).ok_or_else(|| {
                format!(
                    "since {s:?}: не промежуток времени (примеры: 7d, 24h, 90m) / not a span (examples: 7d, 24h, 90m)"
                )
            })?,
        ),
        None => None,
    };
    if let Some(f) = from {
        lower = lower.max(Some(day_start(tz, f)));
    }
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(format!("from {f} позже to {t} — поменяйте их местами / from {f} is after to {t} — swap them"));
    }
    let upper = to.and_then(|t| t.succ_opt()).map(|d| day_start(tz, d));
    Ok((lower, upper))
}

/// Mentions published in [since, until): through the indexed hour when both
/// ends fall on whole hours (district midnights do), else by scanning the
/// `published_at` column.
fn time_range(f: Fields, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Box<dyn Query> {
    let whole = |t: &Option<DateTime<Utc>>| t.is_none_or(|t| t.timestamp_millis().rem_euclid(HOUR_MS) == 0);
    if whole(&since) && whole(&until) {
        let hour = |t: DateTime<Utc>| Term::from_field_u64(f.hour, hour_number(t.timestamp_millis()));
        let lower = since.map_or(Bound::Unbounded, |t| Bound::Included(hour(t)));
        let upper = until.map_or(Bound::Unbounded, |t| Bound::Excluded(hour(t)));
        return filter(Box::new(InvertedIndexRangeQuery::new(lower, upper)));
    }
    let lower = since.map_or(Bound::Unbounded, |t| Bound::Included(date_term(f.published_at, t)));
    let upper = until.map_or(Bound::Unbounded, |t| Bound::Excluded(date_term(f.published_at, t)));
    filter(Box::new(RangeQuery::new(lower, upper)))
}

/// The days of a `date:` term, both ends inclusive, either open.
type Days = (Option<NaiveDate>, Option<NaiveDate>);

/// A match count (and whether it is an estimate) with a ranked slice.
type Ranked = ((usize, bool), Vec<(f32, DocAddress)>);

/// `q` within a time window.
fn within(q: Box<dyn Query>, f: Fields, (since, until): TimeWindow) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(vec![(Occur::Must, q), (Occur::Must, time_range(f, since, until))]))
}

/// The `date:` terms that narrow a whole query (the query itself, or
/// conjuncts of its top-level AND), taken out of it: (the rest, their days).
fn split_dates(node: Node) -> (Node, Vec<Days>) {
    match node {
        Node::Date { from, to } => (Node::All, vec![(from, to)]),
        Node::And(parts) => {
            // Function words beside a date were ignored; without it they
            // might not be (see `Compiler::compile`): leave such a query whole.
            let others = || parts.iter().filter(|p| !matches!(p, Node::Date { .. }));
            if others().all(|p| Compiler::is_stop(p) || matches!(p, Node::Not(_))) {
                return (Node::And(parts), Vec::new());
            }
            let (dates, mut rest): (Vec<Node>, Vec<Node>) =
                parts.into_iter().partition(|p| matches!(p, Node::Date { .. }));
            let days = dates
                .into_iter()
                .filter_map(|d| match d {
                    Node::Date { from, to } => Some((from, to)),
                    _ => None,
                })
                .collect();
            let rest = match rest.len() {
                0 => Node::All,
                1 => rest.pop().expect("one part"),
                _ => Node::And(rest),
            };
            (rest, days)
        }
        other => (other, Vec::new()),
    }
}

/// Start of a district-time day, in UTC.
pub fn day_start(tz: chrono_tz::Tz, d: NaiveDate) -> DateTime<Utc> {
    let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    tz.from_local_datetime(&midnight).earliest().map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

fn date_term(field: Field, t: DateTime<Utc>) -> Term {
    Term::from_field_date(field, tantivy::DateTime::from_timestamp_millis(t.timestamp_millis()))
}

impl Compiler<'_> {
    fn fields(&self, scope: TextScope) -> Vec<(Field, f32)> {
        match scope {
            TextScope::Default => vec![(self.f.title, 1.5), (self.f.text, 1.0)],
            TextScope::Title => vec![(self.f.title, 1.0)],
            TextScope::Text => vec![(self.f.text, 1.0)],
            TextScope::Author => vec![(self.f.author, 1.0)],
        }
    }

    fn per_field(&self, scope: TextScope, make: impl Fn(Field) -> Box<dyn Query>) -> Box<dyn Query> {
        let mut fields = self.fields(scope);
        if fields.len() == 1 {
            return make(fields.pop().unwrap().0);
        }
        Box::new(BooleanQuery::new(
            fields
                .into_iter()
                .map(|(field, boost)| {
                    let q = make(field);
                    let q: Box<dyn Query> = if boost == 1.0 { q } else { Box::new(BoostQuery::new(q, boost)) };
                    (Occur::Should, q)
                })
                .collect(),
        ))
    }

    /// Stems of a word or phrase, in order, with their positions.
    fn stems(&mut self, text: &str) -> Vec<(usize, String)> {
        analyze(&mut self.analyzer, text).into_iter().map(|t| (t.position, t.text)).collect()
    }

    fn text(&mut self, scope: TextScope, item: &TextItem, positive: bool) -> Box<dyn Query> {
        match item {
            TextItem::Word(w) | TextItem::Phrase { words: w, .. } => {
                let slop = match item {
                    TextItem::Phrase { slop, .. } => *slop,
                    _ => 0,
                };
                let stems = self.stems(w);
                if positive {
                    self.highlighter.add_stems(stems.iter().map(|(_, s)| s.clone()));
                }
                match stems.len() {
                    0 => Box::new(EmptyQuery),
                    1 => {
                        let s = stems[0].1.clone();
                        self.per_field(scope, |field| {
                            Box::new(TermQuery::new(Term::from_field_text(field, &s), IndexRecordOption::WithFreqs))
                        })
                    }
                    _ => self.per_field(scope, |field| {
                        let terms: Vec<(usize, Term)> =
                            stems.iter().map(|(p, s)| (*p, Term::from_field_text(field, s))).collect();
                        Box::new(PhraseQuery::new_with_offset_and_slop(terms, slop))
                    }),
                }
            }
            TextItem::Prefix(p) => {
                let lower = p.to_lowercase();
                let folded = fold_letters(&lower).unwrap_or(lower);
                // Stem-aware: "водоснабжени*" looks for the stem "водоснабжен".
                let stem = self.stems(&folded).pop().map(|(_, s)| s).unwrap_or_default();
                let prefix = if !stem.is_empty() && stem.len() < folded.len() && folded.starts_with(&stem) {
                    stem
                } else {
                    folded
                };
                if positive {
                    self.highlighter.add_prefix(prefix.clone());
                }
                let pattern = format!("{}.*", regex_escape(&prefix));
                self.per_field(scope, |field| match RegexQuery::from_pattern(&pattern, field) {
                    Ok(q) => Box::new(q),
                    Err(_) => Box::new(EmptyQuery),
                })
            }
        }
    }

    fn filter(&mut self, key: FilterKey, value: &str) -> Box<dyn Query> {
        let f = self.f;
        filter(match key {
            FilterKey::Sentiment => term(f.sentiment, value),
            FilterKey::Topic => term(f.topic, value),
            FilterKey::Type => term(f.mention_type, value),
            FilterKey::Lang => term(f.lang, value),
            FilterKey::Source => term(f.source, value),
            FilterKey::Cluster => term(f.cluster, value),
            FilterKey::Id => term(f.id, value),
            FilterKey::Place => {
                let stems = self.stems(value);
                match stems.len() {
                    0 => Box::new(EmptyQuery),
                    1 => term(f.place_key, &stems[0].1),
                    _ => Box::new(PhraseQuery::new_with_offset(
                        stems.iter().map(|(p, s)| (*p, Term::from_field_text(f.place_key, s))).collect(),
                    )),
                }
            }
        })
    }

    fn date(&self, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Box<dyn Query> {
        let since = from.map(|d| day_start(self.tz, d));
        let until = to.and_then(|d| d.succ_opt()).map(|d| day_start(self.tz, d));
        time_range(self.f, since, until)
    }

    /// A bare word that is only a function word ("не", "в"), not scored on its own.
    fn is_stop(node: &Node) -> bool {
        matches!(node, Node::Text { scope: TextScope::Default, item: TextItem::Word(w), .. } if is_stop_word(w))
    }

    fn compile(&mut self, node: &Node, positive: bool) -> Box<dyn Query> {
        match node {
            Node::All => Box::new(AllQuery),
            Node::Text { scope, item, .. } => self.text(*scope, item, positive),
            Node::Filter { key, value } => self.filter(*key, value),
            Node::Date { from, to } => self.date(*from, *to),
            Node::Url { value, prefix } => filter(if *prefix {
                match RegexQuery::from_pattern(&format!("{}.*", regex_escape(value)), self.f.url) {
                    Ok(q) => Box::new(q),
                    Err(_) => Box::new(EmptyQuery),
                }
            } else {
                term(self.f.url, value)
            }),
            Node::Not(inner) => {
                let q = self.compile(inner, !positive);
                Box::new(BooleanQuery::new(vec![(Occur::Must, Box::new(AllQuery)), (Occur::MustNot, q)]))
            }
            Node::Or(parts) => {
                Box::new(BooleanQuery::new(parts.iter().map(|p| (Occur::Should, self.compile(p, positive))).collect()))
            }
            Node::And(parts) => {
                // Function words among other words are neither required nor scored.
                let keep_stop = parts.iter().all(|p| Self::is_stop(p) || matches!(p, Node::Not(_)));
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for p in parts {
                    match p {
                        _ if !keep_stop && Self::is_stop(p) => {}
                        Node::Not(inner) => clauses.push((Occur::MustNot, self.compile(inner, !positive))),
                        _ => clauses.push((Occur::Must, self.compile(p, positive))),
                    }
                }
                if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
        }
    }
}

/// Above this many matches, reprint clusters are counted on the query
/// narrowed to them; below, one pass over the matches costs less than
/// evaluating the query again (a date range's docset, say).
const NARROW_CLUSTERS_ABOVE: usize = 2_000;

/// `n` to two significant digits (an estimate should not look exact).
fn two_digits(n: usize) -> usize {
    let mut unit = 1;
    while n / unit >= 100 {
        unit *= 10;
    }
    (n + unit / 2) / unit * unit
}

/// Per-segment cluster keys, read while walking ranked hits.
struct ClusterColumns(Vec<Option<tantivy::columnar::Column<u64>>>);

impl ClusterColumns {
    fn new(searcher: &Searcher) -> ClusterColumns {
        ClusterColumns(searcher.segment_readers().iter().map(|r| r.fast_fields().u64("cluster_key").ok()).collect())
    }

    /// The hit's cluster key; `None` when it has no cluster.
    fn get(&self, addr: DocAddress) -> Option<u64> {
        let col = self.0.get(addr.segment_ord as usize)?.as_ref()?;
        col.first(addr.doc_id).filter(|&k| k != 0)
    }
}

impl SearchIndex {
    pub(crate) fn compile(&self, req: &SearchRequest) -> Result<Compiled, QueryError> {
        let (node, dates) = split_dates(query::parse(&req.query)?);
        // The query's own `date:` terms that narrow all of it join the
        // request's window: one range, which the date-ordered path walks.
        let mut window = (req.since, req.until);
        for (from, to) in dates {
            let since = from.map(|d| day_start(req.tz, d));
            let until = to.and_then(|d| d.succ_opt()).map(|d| day_start(req.tz, d));
            window.0 = window.0.max(since);
            window.1 = match (window.1, until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let mut highlighter = Highlighter::default();
        let mut c =
            Compiler { f: self.fields, tz: req.tz, analyzer: russian_analyzer(), highlighter: &mut highlighter };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, c.compile(&node, true))];
        let analyzer = c.analyzer;
        let f = self.fields;
        if let Some(seq) = req.after_seq {
            let lower = Bound::Excluded(Term::from_field_u64(f.log_seq, seq));
            clauses.push((Occur::Must, filter(Box::new(RangeQuery::new(lower, Bound::Unbounded)))));
        }
        let unranged: Box<dyn Query> =
            if clauses.len() == 1 { clauses.pop().unwrap().1 } else { Box::new(BooleanQuery::new(clauses)) };
        let ranged = window.0.is_some() || window.1.is_some();
        let query = if ranged { within(unranged.box_clone(), f, window) } else { unranged.box_clone() };
        let exhaustive = ranged || req.after_seq.is_some() || exhaustive(&node);
        Ok(Compiled { query, highlighter, analyzer, exhaustive, unranged, window })
    }

    fn ranked(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(f32, DocAddress)>, StoreError> {
        let top = TopDocs::with_limit(limit.max(1)).and_offset(offset);
        Ok(match sort {
            Sort::Relevance => {
                searcher.search(query, &top.order_by_score()).map_err(|e| StoreError::index("search", e))?
            }
            Sort::Date => searcher
                .search(query, &top.order_by_fast_field::<tantivy::DateTime>("published_at", Order::Desc))
                .map_err(|e| StoreError::index("search", e))?
                .into_iter()
                .map(|(_, a)| (0.0, a))
                .collect(),
        })
    }

    /// The match count and a ranked slice: two passes (a term query's count
    /// is a lookup and its top-k prunes), or one when the query is evaluated
    /// over every match anyway.
    fn ranked_counted(
        &self,
        searcher: &Searcher,
        compiled: &Compiled,
        sort: Sort,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<(f32, DocAddress)>), StoreError> {
        let query = &*compiled.query;
        if !compiled.exhaustive {
            let total = searcher.search(query, &Count).map_err(|e| StoreError::index("count", e))?;
            return Ok((total, self.ranked(searcher, query, sort, offset, limit)?));
        }
        let top = TopDocs::with_limit(limit.max(1)).and_offset(offset);
        Ok(match sort {
            Sort::Relevance => {
                searcher.search(query, &(Count, top.order_by_score())).map_err(|e| StoreError::index("search", e))?
            }
            Sort::Date => {
                let (n, docs) = searcher
                    .search(query, &(Count, top.order_by_fast_field::<tantivy::DateTime>("published_at", Order::Desc)))
                    .map_err(|e| StoreError::index("search", e))?;
                (n, docs.into_iter().map(|(_, a)| (0.0, a)).collect())
            }
        })
    }

    /// Documents per indexed hour within a window, in hour order (deleted
    /// documents included: they only skew an estimate).
    fn hour_counts(&self, searcher: &Searcher, (since, until): TimeWindow) -> Result<Vec<(u64, u64)>, StoreError> {
        let hour = |t: DateTime<Utc>| hour_number(t.timestamp_millis());
        let bound = |h: u64| Term::from_field_u64(self.fields.hour, h).serialized_value_bytes().to_vec();
        let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(self.fields.hour).map_err(|e| StoreError::index("read hours", e))?;
            let mut range = inverted.terms().range().ge(bound(since.map_or(0, hour)));
            if let Some(until) = until {
                // The hour `until` falls in, when it is not a whole hour.
                range = range.lt(bound(hour(until - chrono::Duration::milliseconds(1)) + 1));
            }
            let mut terms = range.into_stream().map_err(|e| StoreError::index("read hours", e.into()))?;
            while terms.advance() {
                let Ok(key) = <[u8; 8]>::try_from(terms.key()) else { continue };
                *counts.entry(u64::from_be_bytes(key)).or_default() += u64::from(terms.value().doc_freq);
            }
        }
        Ok(counts.into_iter().collect())
    }

    /// The newest `want` matches, newest first, without evaluating the query
    /// over every match: the window's hours are read from the newest back,
    /// a day first and four times as many hours at each step, until `want`
    /// are found. The total is exact when every hour was read; otherwise the
    /// matches counted are scaled by the documents of the hours not read.
    fn newest_first(&self, searcher: &Searcher, compiled: &Compiled, want: usize) -> Result<Ranked, StoreError> {
        let hours = self.hour_counts(searcher, compiled.window)?;
        let (Some(&(first, _)), Some(&(last, _))) = (hours.first(), hours.last()) else {
            return Ok(((0, false), Vec::new()));
        };
        let start_of = |h: u64| DateTime::from_timestamp_millis(h as i64 * HOUR_MS).unwrap_or_default();
        let (since, until) = compiled.window;
        let (mut end, mut width) = (last + 1, 24u64);
        let (mut docs, mut counted) = (Vec::with_capacity(want), 0usize);
        loop {
            let start = end.saturating_sub(width).max(first);
            let lower = since.max(Some(start_of(start)));
            let upper = Some(until.map_or(start_of(end), |u| u.min(start_of(end))));
            let q = within(compiled.unranged.box_clone(), self.fields, (lower, upper));
            let top = TopDocs::with_limit(want.saturating_sub(docs.len()).max(1))
                .order_by_fast_field::<tantivy::DateTime>("published_at", Order::Desc);
            let (n, found) = searcher.search(&q, &(Count, top)).map_err(|e| StoreError::index("search", e))?;
            counted += n;
            docs.extend(found.into_iter().map(|(_, a)| (0.0, a)));
            docs.truncate(want);
            end = start;
            if end <= first {
                return Ok(((counted, false), docs));
            }
            if docs.len() >= want {
                break;
            }
            width = width.saturating_mul(4);
        }
        if !compiled.exhaustive {
            // Words and filters alone: the exact count is a cheap lookup.
            let n = searcher.search(&*compiled.query, &Count).map_err(|e| StoreError::index("count", e))?;
            return Ok(((n, false), docs));
        }
        let read: u64 = hours.iter().filter(|(h, _)| *h >= end).map(|(_, n)| n).sum();
        let all: u64 = hours.iter().map(|(_, n)| n).sum();
        let estimate = (counted as f64 * all as f64 / read.max(1) as f64).round() as usize;
        Ok(((two_digits(estimate).max(counted), true), docs))
    }

    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults, StoreError> {
        let compiled = self.compile(req).map_err(StoreError::Query)?;
        let searcher = self.searcher();
        let query = &*compiled.query;
        let limit = req.limit.clamp(1, MAX_PAGE);
        // Newest first, no facets (a pass over every match anyway) and no
        // need of the exact count: read the newest hours only.
        let newest = req.sort == Sort::Date && !req.facets && !req.exact_total;
        let rank = |offset: usize, limit: usize| -> Result<Ranked, StoreError> {
            if newest {
                let (total, docs) = self.newest_first(&searcher, &compiled, offset + limit)?;
                Ok((total, docs.into_iter().skip(offset).collect()))
            } else {
                let (n, docs) = self.ranked_counted(&searcher, &compiled, req.sort, offset, limit)?;
                Ok(((n, false), docs))
            }
        };
        let (total, total_estimated);
        // The page, as (hit, other members of its cluster in the result set).
        let mut page: Vec<((f32, DocAddress), u64)>;
        if !req.collapse {
            let (n, docs) = rank(req.offset, limit)?;
            (total, total_estimated) = n;
            page = docs.into_iter().map(|h| (h, 0)).collect();
        } else {
            let want = req.offset + limit;
            let columns = ClusterColumns::new(&searcher);
            // Reprints crowd the top of a ranking by relevance (the same
            // words score alike) more than a stretch of time: fewer are
            // read ahead newest first, and more only when needed.
            let mut fetch = if newest { want + want / 2 + 10 } else { (want * 3).max(60) };
            let (n, mut docs) = rank(0, fetch)?;
            (total, total_estimated) = n;
            let groups = loop {
                let mut seen = HashSet::new();
                let groups: Vec<((f32, DocAddress), Option<u64>)> = docs
                    .iter()
                    .filter_map(|&(s, a)| {
                        let c = columns.get(a);
                        match c {
                            Some(key) if !seen.insert(key) => None,
                            _ => Some(((s, a), c)),
                        }
                    })
                    .collect();
                if groups.len() >= want || docs.len() < fetch || fetch >= COLLAPSE_WINDOW {
                    break groups;
                }
                fetch = (fetch * 4).min(COLLAPSE_WINDOW);
                docs = if newest { rank(0, fetch)?.1 } else { self.ranked(&searcher, query, req.sort, 0, fetch)? };
            };
            page = groups.into_iter().skip(req.offset).take(limit).map(|(hit, _)| (hit, 0)).collect();
        }
        // The page's documents; with reprints collapsed, how many more of
        // each one's cluster match (by the labels the documents carry).
        let mut docs = Vec::with_capacity(page.len());
        for &((_, addr), _) in &page {
            let d: TantivyDocument = searcher.doc(addr).map_err(|e| StoreError::index("read hit", e))?;
            docs.push(self.stored(&d));
        }
        if req.collapse {
            let sizes = self.cluster_sizes(&searcher, query, total, docs.iter().map(|m| m.cluster.as_str()))?;
            for ((_, more), m) in page.iter_mut().zip(&docs) {
                *more = sizes.get(&m.cluster).copied().unwrap_or(1).saturating_sub(1);
            }
        }
        let Compiled { query, highlighter, mut analyzer, .. } = compiled;
        let mut hits = Vec::with_capacity(page.len());
        for (((score, _), more), m) in page.into_iter().zip(docs) {
            let Marked { text: snippet, ranges: highlights } = highlighter.snippet(&mut analyzer, &m.text, 240);
            let title_highlights = m.title.as_deref().map(|t| highlighter.mark(&mut analyzer, t)).unwrap_or_default();
            hits.push(Hit {
                id: m.id,
                source: m.source,
                url: m.url,
                published_at: m.published_at,
                author: m.author,
                title: m.title,
                title_highlights,
                sentiment: m.sentiment,
                topics: m.topics,
                places: m.places,
                mention_type: m.mention_type,
                cluster: m.cluster,
                more_in_cluster: more,
                snippet,
                highlights,
                score,
            });
        }
        let facets = if req.facets {
            Some(searcher.search(&*query, &FacetCollector { tz: req.tz }).map_err(|e| StoreError::index("facets", e))?)
        } else {
            None
        };
        Ok(SearchResults { total, total_estimated, offset: req.offset, limit, hits, facets })
    }

    /// How many mentions of each reprint cluster match the query, for the
    /// clusters with more than one mention at all (the term's document
    /// frequency says which; the rest count 1): the query intersected with
    /// those clusters, counted by cluster key.
    fn cluster_sizes<'a>(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        total: usize,
        labels: impl Iterator<Item = &'a str>,
    ) -> Result<HashMap<String, u64>, StoreError> {
        let mut wanted = HashMap::new();
        for label in labels {
            let t = Term::from_field_text(self.fields.cluster, label);
            if searcher.doc_freq(&t).map_err(|e| StoreError::index("count cluster", e))? > 1 {
                wanted.insert(crate::index::cluster_key(label), label.to_string());
            }
        }
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let counter = ClusterCounter { keys: wanted.keys().copied().collect() };
        let counts = if total <= NARROW_CLUSTERS_ABOVE {
            searcher.search(query, &counter)
        } else {
            // The query narrowed to those clusters: their few postings lead
            // the intersection, so this is not a pass over every match.
            let clusters: Vec<(Occur, Box<dyn Query>)> =
                wanted.values().map(|l| (Occur::Should, term(self.fields.cluster, l))).collect();
            let narrowed = BooleanQuery::new(vec![
                (Occur::Must, query.box_clone()),
                (Occur::Must, Box::new(BooleanQuery::new(clusters))),
            ]);
            searcher.search(&narrowed, &counter)
        }
        .map_err(|e| StoreError::index("count clusters", e))?;
        Ok(counts.into_iter().filter_map(|(k, n)| wanted.get(&k).map(|l| (l.clone(), n))).collect())
    }

    /// Every mention matching `req` (no paging, no collapsing), newest first
    /// or by relevance, handed to `each` one by one.
    pub fn export(
        &self,
        req: &SearchRequest,
        mut each: impl FnMut(StoredMention) -> std::io::Result<()>,
    ) -> Result<usize, StoreError> {
        let compiled = self.compile(req).map_err(StoreError::Query)?;
        let searcher = self.searcher();
        let total = searcher.search(&*compiled.query, &Count).map_err(|e| StoreError::index("count", e))?;
        if total == 0 {
            return Ok(0);
        }
        let docs = self.ranked(&searcher, &*compiled.query, req.sort, 0, total)?;
        for (_, addr) in &docs {
            let d: TantivyDocument = searcher.doc(*addr).map_err(|e| StoreError::index("read hit", e))?;
            each(self.stored(&d)).map_err(StoreError::Export)?;
        }
        Ok(docs.len())
    }
}

/// Counts the matches of a few reprint clusters, reading the cluster key.
struct ClusterCounter {
    keys: HashSet<u64>,
}

struct ClusterSegment {
    column: Option<tantivy::columnar::Column<u64>>,
    keys: HashSet<u64>,
    counts: HashMap<u64, u64>,
}

impl Collector for ClusterCounter {
    type Fruit = HashMap<u64, u64>;
    type Child = ClusterSegment;

    fn for_segment(&self, _ord: u32, reader: &SegmentReader) -> tantivy::Result<ClusterSegment> {
        let column = reader.fast_fields().u64("cluster_key").ok();
        Ok(ClusterSegment { column, keys: self.keys.clone(), counts: HashMap::new() })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<HashMap<u64, u64>>) -> tantivy::Result<HashMap<u64, u64>> {
        let mut out: HashMap<u64, u64> = HashMap::new();
        for f in fruits {
            for (k, v) in f {
                *out.entry(k).or_default() += v;
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for ClusterSegment {
    type Fruit = HashMap<u64, u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(k) = self.column.as_ref().and_then(|c| c.first(doc))
            && self.keys.contains(&k)
        {
            *self.counts.entry(k).or_default() += 1;
        }
    }

    fn harvest(self) -> HashMap<u64, u64> {
        self.counts
    }
}

/// Counts hits per facet value in one pass over the matching documents,
/// reading fast fields (no stored documents are opened).
struct FacetCollector {
    tz: chrono_tz::Tz,
}

const FACET_FIELDS: [&str; 5] = ["source", "topic", "place", "sentiment", "type"];

struct FacetSegment {
    columns: Vec<Option<StrColumn>>,
    counts: Vec<Vec<u64>>,
    dates: Column<tantivy::DateTime>,
    tz: chrono_tz::Tz,
    /// The last day looked up: [start, end) in ms and its date.
    day_cache: (i64, i64, NaiveDate),
    /// Per day: hits, negative, positive, complaints.
    days: BTreeMap<NaiveDate, [u64; 4]>,
    /// This segment's ordinals of `negative` and `positive` in the sentiment
    /// column and of `complaint` in the type column.
    tone_ords: [Option<u64>; 3],
}

type FacetFruit = (Vec<HashMap<String, u64>>, BTreeMap<NaiveDate, [u64; 4]>);

/// Positions of the sentiment and type columns in [`FACET_FIELDS`].
const SENTIMENT: usize = 3;
const TYPE: usize = 4;

impl Collector for FacetCollector {
    type Fruit = Facets;
    type Child = FacetSegment;

    fn for_segment(&self, _ord: u32, reader: &SegmentReader) -> tantivy::Result<FacetSegment> {
        let ff = reader.fast_fields();
        let columns: Vec<Option<StrColumn>> = FACET_FIELDS.iter().map(|f| ff.str(f)).collect::<tantivy::Result<_>>()?;
        let counts = columns.iter().map(|c| vec![0; c.as_ref().map_or(0, |c| c.num_terms())]).collect();
        let ord = |col: usize, term: &str| -> tantivy::Result<Option<u64>> {
            Ok(match &columns[col] {
                Some(c) => c.dictionary().term_ord(term)?,
                None => None,
            })
        };
        let tone_ords = [ord(SENTIMENT, "negative")?, ord(SENTIMENT, "positive")?, ord(TYPE, "complaint")?];
        Ok(FacetSegment {
            columns,
            counts,
            dates: ff.date("published_at")?,
            tz: self.tz,
            day_cache: (0, 0, NaiveDate::MIN),
            days: BTreeMap::new(),
            tone_ords,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetFruit>) -> tantivy::Result<Facets> {
        let mut merged: Vec<HashMap<String, u64>> = vec![HashMap::new(); FACET_FIELDS.len()];
        let mut days: BTreeMap<NaiveDate, [u64; 4]> = BTreeMap::new();
        for (maps, d) in fruits {
            for (i, m) in maps.into_iter().enumerate() {
                for (k, v) in m {
                    *merged[i].entry(k).or_default() += v;
                }
            }
            for (k, v) in d {
                let sum = days.entry(k).or_default();
                for (s, v) in sum.iter_mut().zip(v) {
                    *s += v;
                }
            }
        }
        let ranked = |m: HashMap<String, u64>| {
            let mut v: Vec<FacetCount> = m
                .into_iter()
                .filter(|(k, _)| !k.is_empty())
                .map(|(value, count)| FacetCount { value, count })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            v.truncate(50);
            v
        };
        let mut it = merged.into_iter().map(ranked);
        Ok(Facets {
            source: it.next().unwrap_or_default(),
            topic: it.next().unwrap_or_default(),
            place: it.next().unwrap_or_default(),
            sentiment: it.next().unwrap_or_default(),
            mention_type: it.next().unwrap_or_default(),
            day: days.iter().map(|(d, c)| FacetCount { value: d.to_string(), count: c[0] }).collect(),
            day_tone: days
                .into_iter()
                .map(|(d, c)| DayTone { day: d.to_string(), negative: c[1], positive: c[2], complaint: c[3] })
                .collect(),
        })
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = FacetFruit;

    fn collect(&mut self, doc: DocId, _score: Score) {
        // Whether the hit is negative, positive, a complaint.
        let mut tone = [0u64; 3];
        for (i, (col, counts)) in self.columns.iter().zip(self.counts.iter_mut()).enumerate() {
            if let Some(col) = col {
                for ord in col.term_ords(doc) {
                    counts[ord as usize] += 1;
                    let [negative, positive, complaint] = self.tone_ords;
                    if i == SENTIMENT {
                        tone[0] |= u64::from(negative == Some(ord));
                        tone[1] |= u64::from(positive == Some(ord));
                    } else if i == TYPE {
                        tone[2] |= u64::from(complaint == Some(ord));
                    }
                }
            }
        }
        if let Some(t) = self.dates.first(doc) {
            let ms = t.into_timestamp_millis();
            let (start, end, day) = self.day_cache;
            let day = if ms >= start && ms < end {
                day
            } else {
                let local =
                    Utc.timestamp_millis_opt(ms).single().unwrap_or_default().with_timezone(&self.tz).date_naive();
                let s = day_start(self.tz, local).timestamp_millis();
                let e = local.succ_opt().map_or(i64::MAX, |n| day_start(self.tz, n).timestamp_millis());
                self.day_cache = (s, e, local);
                local
            };
            let d = self.days.entry(day).or_default();
            d[0] += 1;
            for (s, t) in d[1..].iter_mut().zip(tone) {
                *s += t;
            }
        }
    }

    fn harvest(self) -> FacetFruit {
        let maps = self
            .columns
            .iter()
            .zip(self.counts)
            .map(|(col, counts)| {
                let mut m = HashMap::new();
                if let Some(col) = col {
                    for (ord, n) in counts.into_iter().enumerate().filter(|(_, n)| *n > 0) {
                        let mut s = String::new();
                        if col.ord_to_str(ord as u64, &mut s).unwrap_or(false) {
                            m.insert(s, n);
                        }
                    }
                }
                m
            })
            .collect();
        (maps, self.days)
    }
}
