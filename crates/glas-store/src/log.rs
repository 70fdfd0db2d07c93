//! The store of record: an append-only Parquet log partitioned by day.
//!
//! Layout: `log/day=YYYY-MM-DD/part-NNNNNNNNNN.parquet`, where the day is the UTC
//! date of `published_at` and `N` is a sequence number that grows with every
//! part ever written. A part is written to a temporary name, synced, and renamed
//! into place, so a part either exists whole or not at all: a process killed at
//! any moment leaves no torn part, only a `*.tmp` that the next open removes.
//! The sequence number lets derived stores (the tantivy index) record how far
//! they have caught up; every row also carries it in the `log_seq` column, so
//! a mention keeps the number of the part it came in after its day's parts
//! are merged (parts written before the column existed take their file's).
//!
//! [`Log::compact`] merges a day's parts into one (see
//! `glas_core::logparts` for the journal that keeps readers and a killed
//! process from ever seeing a mention twice or losing one).

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use glas_core::{Engagement, Enrichment, Mention, MentionType, Record, Sentiment};
use polars::prelude::*;

use crate::StoreError;

/// One committed part of the log.
pub use glas_core::logparts::PartFile as Part;

pub struct Log {
    dir: PathBuf,
    next_seq: u64,
}

impl Log {
    pub fn open(dir: &Path) -> Result<Log, StoreError> {
        fs::create_dir_all(dir).map_err(|e| StoreError::io("create log folder", dir, e))?;
        let mut log = Log { dir: dir.to_path_buf(), next_seq: 1 };
        log.repair()?;
        log.next_seq = log.parts()?.last().map_or(1, |p| p.seq + 1);
        Ok(log)
    }

    /// The log another process writes, to read it: its parts being written
    /// (`.tmp`) are left alone and never read.
    pub fn open_following(dir: &Path) -> Log {
        Log { dir: dir.to_path_buf(), next_seq: 0 }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every committed part, in sequence order.
    pub fn parts(&self) -> Result<Vec<Part>, StoreError> {
        glas_core::logparts::list(&self.dir).map_err(|e| StoreError::io("list log", &self.dir, e))
    }

    /// Repairs what a killed process left in each day folder: a compaction
    /// whose merged part is in place is finished (the parts it replaced are
    /// deleted); any other is dropped with its journal; then files being
    /// written (`.tmp` parts, `.merging` merged parts) are removed.
    fn repair(&self) -> Result<(), StoreError> {
        use glas_core::logparts::{COMPACTING, compaction, merged_in_place, part_name};
        for day_dir in read_dir(&self.dir)? {
            if !day_dir.is_dir() {
                continue;
            }
            let journal = day_dir.join(COMPACTING);
            if journal.exists() {
                if let Some(c) = compaction(&day_dir)
                    && merged_in_place(&day_dir, &c)
                {
                    tracing::warn!(day = %day_dir.display(), "finishing a compaction left by an interrupted run");
                    for &seq in c.from.iter().filter(|&&s| s != c.into) {
                        remove(&day_dir.join(part_name(seq)))?;
                    }
                    sync_dir(&day_dir)?;
                } else {
                    tracing::warn!(day = %day_dir.display(), "undoing a compaction left by an interrupted run");
                }
                remove(&journal)?;
                sync_dir(&day_dir)?;
            }
            for file in read_dir(&day_dir)? {
                if file.extension().is_some_and(|e| e == "tmp" || e == "merging") {
                    tracing::warn!(path = %file.display(), "removing a part left by an interrupted write");
                    remove(&file)?;
                }
            }
        }
        Ok(())
    }

    /// Merges each day's parts numbered up to `upto` into one part that takes
    /// the largest of their numbers (so whatever records how far it has
    /// caught up, the index, still covers it), keeping their rows in order.
    /// Only days before `before`, when given. A day whose parts do not share
    /// one schema is left as it is. Returns (parts merged, parts written).
    pub fn compact(&mut self, upto: u64, before: Option<NaiveDate>) -> Result<(usize, usize), StoreError> {
        let mut by_day: std::collections::BTreeMap<NaiveDate, Vec<Part>> = Default::default();
        let wanted = |p: &Part| p.seq <= upto && before.is_none_or(|b| p.day < b);
        for p in self.parts()?.into_iter().filter(wanted) {
            by_day.entry(p.day).or_default().push(p);
        }
        // Days are independent (each has its own journal): two at a time
        // on two cores, and so on.
        let days: Vec<Vec<Part>> = by_day.into_values().filter(|p| p.len() > 1).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let threads = glas_core::worker_threads().min(days.len()).max(1);
        let outcomes: Vec<Result<usize, StoreError>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(parts) = days.get(i) else { return done };
                            let outcome = compact_day(parts);
                            let failed = outcome.is_err();
                            done.push(outcome);
                            if failed {
                                return done;
                            }
                        }
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().expect("compacting a day does not panic")).collect()
        });
        let (mut merged, mut written) = (0, 0);
        for outcome in outcomes {
            let n = outcome?;
            if n > 0 {
                merged += n;
                written += 1;
            }
        }
        Ok((merged, written))
    }

    /// Appends records as one part per day touched. Returns the parts written.
    /// The caller has already removed duplicates.
    pub fn append(&mut self, records: &[Record], ingested_at: DateTime<Utc>) -> Result<Vec<Part>, StoreError> {
        let mut by_day: std::collections::BTreeMap<NaiveDate, Vec<&Record>> = Default::default();
        for r in records {
            by_day.entry(r.mention.published_at.with_timezone(&Utc).date_naive()).or_default().push(r);
        }
        let mut written = Vec::new();
        for (day, recs) in by_day {
            let seq = self.next_seq;
            let day_dir = self.dir.join(format!("day={day}"));
            fs::create_dir_all(&day_dir).map_err(|e| StoreError::io("create day folder", &day_dir, e))?;
            let path = day_dir.join(glas_core::logparts::part_name(seq));
            let tmp = path.with_extension("parquet.tmp");
            let mut df = to_frame(&recs, ingested_at, seq).map_err(|e| StoreError::parquet("build batch", &path, e))?;
            write_part(&mut df, &tmp)?;
            fs::rename(&tmp, &path).map_err(|e| StoreError::io("commit part", &path, e))?;
            sync_dir(&day_dir)?;
            self.next_seq += 1;
            written.push(Part { seq, day, path });
        }
        Ok(written)
    }

    /// The ids of every committed mention.
    pub fn ids(&self) -> Result<HashSet<String>, StoreError> {
        let mut ids = HashSet::new();
        for part in self.parts()? {
            ids.extend(part_ids(&part)?.iter().flatten().map(str::to_string));
        }
        Ok(ids)
    }

    /// (simhash, cluster label, published unix seconds) of the mentions in day
    /// partitions from `since` on: what near-duplicate detection needs to
    /// continue where the last run stopped.
    pub fn recent_hashes(&self, since: NaiveDate) -> Result<Vec<(u64, String, i64)>, StoreError> {
        let mut out = Vec::new();
        for part in self.parts()?.into_iter().filter(|p| p.day >= since) {
            let df = read_columns(&part.path, Some(&["simhash", "cluster", "published_at"]))?;
            let rows = || -> PolarsResult<Vec<(u64, String, i64)>> {
                let h = df.column("simhash")?.u64()?.clone();
                let c = df.column("cluster")?.str()?.clone();
                let t = df.column("published_at")?.datetime()?.physical().clone();
                Ok(h.iter()
                    .zip(c.iter())
                    .zip(t.iter())
                    .filter_map(|((h, c), t)| Some((h?, c?.to_string(), t? / 1000)))
                    .collect())
            };
            out.extend(rows().map_err(|e| StoreError::parquet("read hashes", &part.path, e))?);
        }
        out.sort_by_key(|r| r.2);
        Ok(out)
    }

    /// The records of `parts` with these ids, in part order: only parts that
    /// hold one are decoded (the others are read for their `id` column alone).
    pub fn records_with_ids(&self, parts: &[Part], ids: &HashSet<String>) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for part in parts {
            if part_ids(part)?.iter().flatten().any(|id| ids.contains(id)) {
                out.extend(self.read_part(part)?.into_iter().filter(|r| ids.contains(&r.mention.id)));
            }
        }
        Ok(out)
    }

    /// Reads one part back into records.
    pub fn read_part(&self, part: &Part) -> Result<Vec<Record>, StoreError> {
        Ok(self.read_part_with_seqs(part)?.0)
    }

    /// Reads one part back into records, each with the sequence number of the
    /// part it was appended in (a merged part holds several).
    pub fn read_part_with_seqs(&self, part: &Part) -> Result<(Vec<Record>, Vec<u64>), StoreError> {
        let df = read_columns(&part.path, None)?;
        decode_with_seqs(&df, part)
    }
}

/// A part's rows as records, each with its sequence number.
pub(crate) fn decode_with_seqs(df: &DataFrame, part: &Part) -> Result<(Vec<Record>, Vec<u64>), StoreError> {
    let decode = || Ok((from_frame(df)?, row_seqs(df, part.seq)?));
    decode().map_err(|e| StoreError::parquet("decode part", &part.path, e))
}

/// The `id` column of a part, read alone.
pub(crate) fn part_ids(part: &Part) -> Result<StringChunked, StoreError> {
    let df = read_columns(&part.path, Some(&["id"]))?;
    df.column("id").and_then(|c| c.str().cloned()).map_err(|e| StoreError::parquet("read ids", &part.path, e))
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    glas_core::logparts::sorted_entries(dir).map_err(|e| StoreError::io("list folder", dir, e))
}

/// Writes a part to `tmp`, synced: the caller renames it into place.
/// Merges one day's parts into one (the newest's number), through the day's
/// journal: the parts merged, or 0 when their schemas differ (left as they are).
fn compact_day(parts: &[Part]) -> Result<usize, StoreError> {
    let mut frames = Vec::with_capacity(parts.len());
    for p in parts {
        let mut df = read_columns(&p.path, None)?;
        // A part from before the column: its rows are the file's.
        if df.column(SEQ).is_err() {
            df.with_column(Column::new(SEQ.into(), vec![p.seq; df.height()]))
                .map_err(|e| StoreError::parquet("add sequence column", &p.path, e))?;
        }
        frames.push(df);
    }
    if frames.iter().any(|f| f.schema() != frames[0].schema()) {
        tracing::warn!(day = %parts[0].day, "parts of one day differ in schema; left uncompacted");
        return Ok(0);
    }
    let mut df = frames[0].clone();
    for f in &frames[1..] {
        df.vstack_mut(f).map_err(|e| StoreError::parquet("merge parts", &parts[0].path, e))?;
    }
    let into = parts.last().expect("two parts or more").seq;
    let day_dir = parts[0].path.parent().expect("a part is in its day folder").to_path_buf();
    let path = day_dir.join(glas_core::logparts::part_name(into));
    let tmp = day_dir.join(glas_core::logparts::merging_name(into));
    df.rechunk_mut();
    write_part(&mut df, &tmp)?;
    let journal = glas_core::logparts::Compaction { into, from: parts.iter().map(|p| p.seq).collect() };
    let journal_path = day_dir.join(glas_core::logparts::COMPACTING);
    crate::write_atomic(&journal_path, &serde_json::to_vec(&journal).expect("a journal serializes"))
        .map_err(|e| StoreError::io("write compaction journal", &journal_path, e))?;
    sync_dir(&day_dir)?;
    // From here the merged part is the day's log, for readers too.
    fs::rename(&tmp, &path).map_err(|e| StoreError::io("commit merged part", &path, e))?;
    sync_dir(&day_dir)?;
    for p in parts.iter().filter(|p| p.seq != into) {
        remove(&p.path)?;
    }
    sync_dir(&day_dir)?;
    remove(&journal_path)?;
    sync_dir(&day_dir)?;
    Ok(parts.len())
}

pub(crate) fn write_part(df: &mut DataFrame, tmp: &Path) -> Result<(), StoreError> {
    let mut file = File::create(tmp).map_err(|e| StoreError::io("create part", tmp, e))?;
    ParquetWriter::new(&mut file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(df)
        .map_err(|e| StoreError::parquet("write part", tmp, e))?;
    file.flush().and_then(|_| file.sync_all()).map_err(|e| StoreError::io("sync part", tmp, e))
}

fn remove(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io("remove", path, e)),
        _ => Ok(()),
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io("sync folder", dir, e))
}

pub(crate) fn read_columns(path: &Path, columns: Option<&[&str]>) -> Result<DataFrame, StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io("open part", path, e))?;
    let mut reader = ParquetReader::new(file);
    if let Some(cols) = columns {
        reader = reader.with_columns(Some(cols.iter().map(|c| c.to_string()).collect()));
    }
    reader.finish().map_err(|e| StoreError::parquet("read part", path, e))
}

fn str_col(name: &str, values: impl Iterator<Item = Option<String>>) -> Column {
    let v: Vec<Option<String>> = values.collect();
    Column::new(name.into(), v)
}

fn list_col(name: &str, values: impl Iterator<Item = Vec<String>>) -> Column {
    let lists: ListChunked = values.map(|v| Some(Series::new(PlSmallStr::EMPTY, v))).collect();
    let lists = lists.cast(&DataType::List(Box::new(DataType::String))).expect("list of strings");
    lists.with_name(name.into()).into_column()
}

fn i64_col(name: &str, values: impl Iterator<Item = Option<i64>>) -> Column {
    let v: Vec<Option<i64>> = values.collect();
    Column::new(name.into(), v)
}

fn datetime_col(name: &str, ms: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), ms).into_datetime(TimeUnit::Milliseconds, None).into_series().into_column()
}

/// The column of the sequence number each row was appended with.
const SEQ: &str = "log_seq";

/// Each row's sequence number: its `log_seq`, or for a part written before
/// that column, the part's own.
fn row_seqs(df: &DataFrame, part_seq: u64) -> PolarsResult<Vec<u64>> {
    match df.column(SEQ) {
        Ok(c) => Ok(c.u64()?.iter().map(|s| s.unwrap_or(part_seq)).collect()),
        Err(_) => Ok(vec![part_seq; df.height()]),
    }
}

/// The log's schema, one row per mention. `published_at` is UTC milliseconds;
/// `utc_offset_s` keeps the offset the source gave so export round-trips;
/// `log_seq` is the number of the part the row was appended in.
pub(crate) fn to_frame(recs: &[&Record], ingested_at: DateTime<Utc>, seq: u64) -> PolarsResult<DataFrame> {
    let m = |f: fn(&Record) -> Option<String>| recs.iter().map(move |r| f(r));
    let n = recs.len();
    let columns = vec![
        str_col("id", m(|r| Some(r.mention.id.clone()))),
        str_col("source", m(|r| r.mention.source.clone())),
        str_col("source_kind", m(|r| Some(r.source_kind.clone()))),
        str_col("url", m(|r| r.mention.url.clone())),
        datetime_col("published_at", recs.iter().map(|r| r.mention.published_at.timestamp_millis()).collect()),
        Column::new(
            "utc_offset_s".into(),
            recs.iter().map(|r| r.mention.published_at.offset().local_minus_utc()).collect::<Vec<i32>>(),
        ),
        str_col("author", m(|r| r.mention.author.clone())),
        str_col("title", m(|r| r.mention.title.clone())),
        str_col("text", m(|r| Some(r.mention.text.clone()))),
        i64_col("views", recs.iter().map(|r| r.mention.engagement.views)),
        i64_col("likes", recs.iter().map(|r| r.mention.engagement.likes)),
        i64_col("comments", recs.iter().map(|r| r.mention.engagement.comments)),
        i64_col("shares", recs.iter().map(|r| r.mention.engagement.shares)),
        str_col(
            "extra",
            m(|r| {
                (!r.mention.extra.is_empty()).then(|| serde_json::Value::Object(r.mention.extra.clone()).to_string())
            }),
        ),
        datetime_col("ingested_at", vec![ingested_at.timestamp_millis(); n]),
        str_col("lang", m(|r| Some(r.enrichment.lang.clone()))),
        str_col("sentiment", m(|r| Some(r.enrichment.sentiment.as_str().to_string()))),
        Column::new("sentiment_score".into(), recs.iter().map(|r| r.enrichment.sentiment_score).collect::<Vec<f64>>()),
        list_col("topics", recs.iter().map(|r| r.enrichment.topics.clone())),
        list_col("places", recs.iter().map(|r| r.enrichment.places.clone())),
        str_col("mention_type", m(|r| Some(r.enrichment.mention_type.as_str().to_string()))),
        list_col("entities", recs.iter().map(|r| r.enrichment.entities.clone())),
        str_col("cluster", m(|r| Some(r.enrichment.cluster.clone()))),
        Column::new("simhash".into(), recs.iter().map(|r| r.enrichment.simhash).collect::<Vec<Option<u64>>>()),
        Column::new(SEQ.into(), vec![seq; n]),
    ];
    DataFrame::new(n, columns)
}

pub(crate) fn from_frame(df: &DataFrame) -> PolarsResult<Vec<Record>> {
    let s = |name: &str| -> PolarsResult<Vec<Option<String>>> {
        Ok(df.column(name)?.str()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    let i = |name: &str| -> PolarsResult<Vec<Option<i64>>> { Ok(df.column(name)?.i64()?.iter().collect()) };
    let l = |name: &str| -> PolarsResult<Vec<Vec<String>>> {
        let ca = df.column(name)?.list()?.clone();
        ca.amortized_iter()
            .map(|opt| -> PolarsResult<Vec<String>> {
                match opt {
                    None => Ok(Vec::new()),
                    Some(series) => Ok(series.as_ref().str()?.iter().flatten().map(str::to_string).collect()),
                }
            })
            .collect()
    };
    let mut ids = s("id")?;
    let mut sources = s("source")?;
    let mut kinds = s("source_kind")?;
    let mut urls = s("url")?;
    let published: Vec<Option<i64>> = df.column("published_at")?.datetime()?.physical().iter().collect();
    let offsets: Vec<Option<i32>> = df.column("utc_offset_s")?.i32()?.iter().collect();
    let mut authors = s("author")?;
    let mut titles = s("title")?;
    let mut texts = s("text")?;
    let (views, likes, comments, shares) = (i("views")?, i("likes")?, i("comments")?, i("shares")?);
    let mut extras = s("extra")?;
    let mut langs = s("lang")?;
    let sentiments = s("sentiment")?;
    let scores: Vec<Option<f64>> = df.column("sentiment_score")?.f64()?.iter().collect();
    let (mut topics, mut places, mut entities) = (l("topics")?, l("places")?, l("entities")?);
    let types = s("mention_type")?;
    let mut clusters = s("cluster")?;
    let simhashes: Vec<Option<u64>> = df.column("simhash")?.u64()?.iter().collect();

    let mut out = Vec::with_capacity(df.height());
    for k in 0..df.height() {
        let offset = FixedOffset::east_opt(offsets[k].unwrap_or(0)).unwrap_or(FixedOffset::east_opt(0).unwrap());
        let published_at = offset
            .timestamp_millis_opt(published[k].unwrap_or(0))
            .single()
            .ok_or_else(|| polars_err!(ComputeError: "published_at out of range"))?;
        // Each column's value is moved out, not copied: rebuilding the index
        // reads every part through here.
        let extra = match extras[k].take() {
            Some(json) if json != "{}" => match serde_json::from_str(&json) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => Default::default(),
            },
            _ => Default::default(),
        };
        let id = ids[k].take().unwrap_or_default();
        out.push(Record {
            mention: Mention {
                id: id.clone(),
                source: sources[k].take(),
                url: urls[k].take(),
                published_at,
                author: authors[k].take(),
                title: titles[k].take(),
                text: texts[k].take().unwrap_or_default(),
                engagement: Engagement { views: views[k], likes: likes[k], comments: comments[k], shares: shares[k] },
                extra,
            },
            enrichment: Enrichment {
                id,
                lang: langs[k].take().unwrap_or_default(),
                sentiment: sentiments[k].as_deref().and_then(Sentiment::parse).unwrap_or_default(),
                sentiment_score: scores[k].unwrap_or(0.0),
                topics: std::mem::take(&mut topics[k]),
                places: std::mem::take(&mut places[k]),
                mention_type: types[k].as_deref().and_then(MentionType::parse).unwrap_or_default(),
                entities: std::mem::take(&mut entities[k]),
                cluster: clusters[k].take().unwrap_or_default(),
                simhash: simhashes[k],
            },
            source_kind: kinds[k].take().unwrap_or_default(),
        });
    }
    Ok(out)
}
