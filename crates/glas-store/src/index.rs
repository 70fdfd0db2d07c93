//! The search index: tantivy, derived from the log and rebuildable from it.
//!
//! Text fields use the `ru` analyzer ([`crate::analyzer`]). Every commit
//! carries the log sequence number it covers as its payload; opening the store
//! indexes whatever parts came after it. Each document also records the log
//! part it came from (`log_seq`), which is how saved searches find what is new
//! since their last digest. An index written with another schema is rebuilt
//! from the log on open.

use std::path::Path;

use glas_core::Record;
use tantivy::indexer::UserOperation;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term, doc};

use crate::StoreError;
pub use crate::analyzer::{RU_ANALYZER, russian_analyzer};

pub(crate) const HOUR_MS: i64 = 3_600_000;

/// The indexed `hour` of a time in milliseconds since 1970 (UTC): hours
/// since 1970, 0 before it.
pub(crate) fn hour_number(millis: i64) -> u64 {
    millis.div_euclid(HOUR_MS).max(0) as u64
}

#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub source: Field,
    pub source_kind: Field,
    pub url: Field,
    pub published_at: Field,
    pub published_raw: Field,
    pub author: Field,
    pub title: Field,
    pub text: Field,
    pub lang: Field,
    pub sentiment: Field,
    pub sentiment_score: Field,
    pub topic: Field,
    pub place: Field,
    /// Place names through the Russian analyzer, for `place:` in any case form.
    pub place_key: Field,
    pub entity: Field,
    pub mention_type: Field,
    pub cluster: Field,
    /// A 64-bit hash of the cluster's label (0: none), a fast field: the
    /// search collapses reprints by it without reading the label's
    /// dictionary for every hit.
    pub cluster_key: Field,
    pub log_seq: Field,
    /// Hours since 1970 (UTC), indexed: whole-hour date ranges (every
    /// `date:` day and `--from/--to`) read a few posting lists instead of
    /// scanning the `published_at` column.
    pub hour: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let ru = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(RU_ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let ru_unstored = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(RU_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let facet = STRING | STORED | FAST;
    let f = Fields {
        id: b.add_text_field("id", STRING | STORED),
        source: b.add_text_field("source", facet.clone()),
        source_kind: b.add_text_field("source_kind", STRING | STORED),
        url: b.add_text_field("url", STRING | STORED),
        published_at: b.add_date_field("published_at", INDEXED | STORED | FAST),
        published_raw: b.add_text_field("published_raw", STORED),
        author: b.add_text_field("author", ru.clone()),
        title: b.add_text_field("title", ru.clone()),
        text: b.add_text_field("text", ru),
        lang: b.add_text_field("lang", facet.clone()),
        sentiment: b.add_text_field("sentiment", facet.clone()),
        sentiment_score: b.add_f64_field("sentiment_score", STORED),
        topic: b.add_text_field("topic", facet.clone()),
        place: b.add_text_field("place", facet.clone()),
        place_key: b.add_text_field("place_key", ru_unstored),
        entity: b.add_text_field("entity", facet.clone()),
        mention_type: b.add_text_field("type", facet.clone()),
        cluster: b.add_text_field("cluster", facet),
        cluster_key: b.add_u64_field("cluster_key", FAST),
        log_seq: b.add_u64_field("log_seq", INDEXED | STORED | FAST),
        hour: b.add_u64_field("hour", INDEXED),
    };
    (b.build(), f)
}

/// A mention as the index stores it: what search results, exports and the
/// API's "mention by id" show.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredMention {
    pub id: String,
    pub source: String,
    pub source_kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub published_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
    pub lang: String,
    pub sentiment: String,
    pub sentiment_score: f64,
    pub topics: Vec<String>,
    pub places: Vec<String>,
    pub entities: Vec<String>,
    pub mention_type: String,
    pub cluster: String,
}

/// The cluster label's key: FNV-1a, 64 bits, never 0 for a label (0 is
/// "no cluster").
pub(crate) fn cluster_key(label: &str) -> u64 {
    if label.is_empty() {
        return 0;
    }
    let h = label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    h.max(1)
}

pub struct SearchIndex {
    pub(crate) index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    pub(crate) fields: Fields,
    /// Another process writes: pick up its commits before each search.
    pub(crate) follow: bool,
}

/// One pool of search threads for every index the process opens (up to four,
/// one per core): a query reads the index's segments side by side, so a
/// phrase with hundreds of thousands of matches waits for the largest
/// segment, not for all of them in turn. `None` on one core.
fn search_threads() -> Option<tantivy::Executor> {
    static POOL: std::sync::OnceLock<Option<tantivy::Executor>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
        (threads > 1).then(|| tantivy::Executor::multi_thread(threads, "glas-search-").ok()).flatten()
    })
    .clone()
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it if absent. An index written with
    /// another schema (an older glas) is removed, to be rebuilt from the log.
    pub fn open(dir: &Path) -> Result<SearchIndex, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io("create index folder", dir, e))?;
        let (schema, fields) = schema();
        let open_dir = || {
            tantivy::directory::MmapDirectory::open(dir).map_err(|e| StoreError::index("open index folder", e.into()))
        };
        let directory = open_dir()?;
        if Index::exists(&directory).unwrap_or(false) {
            let old = Index::open(directory).map_err(|e| StoreError::index("open index", e))?;
            if old.schema() != schema {
                tracing::warn!(dir = %dir.display(), "index schema changed; rebuilding the index from the log");
                drop(old);
                std::fs::remove_dir_all(dir).map_err(|e| StoreError::io("remove outdated index", dir, e))?;
                std::fs::create_dir_all(dir).map_err(|e| StoreError::io("create index folder", dir, e))?;
            }
        }
        let index = Index::open_or_create(open_dir()?, schema).map_err(|e| StoreError::index("open index", e))?;
        SearchIndex::with_reader(index, fields, false)
    }

    /// The Russian analyzer registered, the search threads set and a reader
    /// opened on `index`.
    fn with_reader(mut index: Index, fields: Fields, follow: bool) -> Result<SearchIndex, StoreError> {
        index.tokenizers().register(RU_ANALYZER, russian_analyzer());
        if let Some(threads) = search_threads() {
            index.set_executor(threads);
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| StoreError::index("open index reader", e))?;
        Ok(SearchIndex { index, reader, writer: None, fields, follow })
    }

    /// Opens the index another process writes, to read it: nothing is
    /// created or rebuilt, and every search sees that process's last commit.
    pub fn open_following(dir: &Path) -> Result<SearchIndex, StoreError> {
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| StoreError::index("open index folder", e.into()))?;
        let index = Index::open(directory).map_err(|e| StoreError::index("open index", e))?;
        if index.schema() != schema {
            return Err(StoreError::index(
                "open index",
                tantivy::TantivyError::SchemaError(
                    "the index is from another glas version; it is rebuilt when the writing process restarts".into(),
                ),
            ));
        }
        SearchIndex::with_reader(index, fields, true)
    }

    /// The writer's latest commit, when following another process.
    fn refresh(&self) {
        if self.follow
            && let Err(e) = self.reader.reload()
        {
            tracing::warn!(error = %e, "cannot reload the index; searching the previous commit");
        }
    }

    /// The log sequence number the last commit covers (0 for a new index).
    pub fn indexed_seq(&self) -> Result<u64, StoreError> {
        let metas = self.index.load_metas().map_err(|e| StoreError::index("read index metadata", e))?;
        Ok(metas.payload.and_then(|p| p.strip_prefix("log_seq=").and_then(|n| n.parse().ok())).unwrap_or(0))
    }

    fn writer(&mut self) -> Result<&mut IndexWriter, StoreError> {
        if self.writer.is_none() {
            // One indexing thread per core (up to four), 128 MB of buffer each
            // (a limit, not an allocation; 512 MB measured no faster).
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
            let w = self
                .index
                .writer_with_num_threads(threads, threads * 128_000_000)
                .map_err(|e| StoreError::index("open index writer", e))?;
            self.writer = Some(w);
        }
        Ok(self.writer.as_mut().unwrap())
    }

    /// Adds records, each with the log sequence number it was appended with
    /// (`seqs`, parallel to `records`), replacing any document with the same
    /// id, so indexing the same part twice never yields two.
    pub fn add(&mut self, records: &[Record], seqs: &[u64]) -> Result<(), StoreError> {
        self.add_batch(records, seqs, true)
    }

    /// Like [`SearchIndex::add`]; `replace = false` skips looking for an
    /// earlier copy (a rebuild into an empty index). The batch goes to the
    /// indexing threads as one operation list.
    fn add_batch(&mut self, records: &[Record], seqs: &[u64], replace: bool) -> Result<(), StoreError> {
        assert_eq!(records.len(), seqs.len(), "a sequence number per record");
        let f = self.fields;
        let mut ops = Vec::with_capacity(records.len() * if replace { 2 } else { 1 });
        for (r, &log_seq) in records.iter().zip(seqs) {
            let m = &r.mention;
            let e = &r.enrichment;
            if replace {
                ops.push(UserOperation::Delete(Term::from_field_text(f.id, &m.id)));
            }
            let mut d = doc!(
                f.id => m.id.as_str(),
                f.source => m.source.as_deref().unwrap_or(""),
                f.source_kind => r.source_kind.as_str(),
                f.published_at => tantivy::DateTime::from_timestamp_millis(m.published_at.timestamp_millis()),
                f.published_raw => m.published_at.to_rfc3339(),
                f.text => m.text.as_str(),
                f.lang => e.lang.as_str(),
                f.sentiment => e.sentiment.as_str(),
                f.sentiment_score => e.sentiment_score,
                f.mention_type => e.mention_type.as_str(),
                f.cluster => e.cluster.as_str(),
                f.cluster_key => cluster_key(&e.cluster),
                f.log_seq => log_seq,
                f.hour => hour_number(m.published_at.timestamp_millis()),
            );
            if let Some(u) = &m.url {
                d.add_text(f.url, u);
            }
            if let Some(t) = &m.title {
                d.add_text(f.title, t);
            }
            if let Some(a) = &m.author {
                d.add_text(f.author, a);
            }
            for t in &e.topics {
                d.add_text(f.topic, t);
            }
            for p in &e.places {
                d.add_text(f.place, p);
                d.add_text(f.place_key, p);
            }
            for x in &e.entities {
                d.add_text(f.entity, x);
            }
            ops.push(UserOperation::Add(d));
        }
        if !ops.is_empty() {
            self.writer()?.run(ops).map_err(|e| StoreError::index("add documents", e))?;
        }
        Ok(())
    }

    /// Adds records to an index just cleared (see [`SearchIndex::add`]).
    pub fn add_fresh(&mut self, records: &[Record], seqs: &[u64]) -> Result<(), StoreError> {
        self.add_batch(records, seqs, false)
    }

    /// Makes everything added so far durable and visible, recording that the
    /// log up to `log_seq` is covered.
    pub fn commit(&mut self, log_seq: u64) -> Result<(), StoreError> {
        let w = self.writer()?;
        let mut prepared = w.prepare_commit().map_err(|e| StoreError::index("prepare commit", e))?;
        prepared.set_payload(&format!("log_seq={log_seq}"));
        prepared.commit().map_err(|e| StoreError::index("commit", e))?;
        self.reader.reload().map_err(|e| StoreError::index("reload reader", e))?;
        Ok(())
    }

    /// Merging segments while a rebuild is still adding documents rewrites
    /// them again and again; `false` holds merges until the next commit
    /// after `true` (the default policy then merges what is there).
    pub fn set_merging(&mut self, on: bool) -> Result<(), StoreError> {
        let w = self.writer()?;
        if on {
            w.set_merge_policy(Box::new(tantivy::indexer::LogMergePolicy::default()));
        } else {
            w.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        }
        Ok(())
    }

    /// Deletes the documents with these ids (effective at the next commit).
    pub fn delete_ids(&mut self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let f = self.fields.id;
        let ops: Vec<UserOperation<TantivyDocument>> =
            ids.iter().map(|id| UserOperation::Delete(Term::from_field_text(f, id))).collect();
        self.writer()?.run(ops).map_err(|e| StoreError::index("delete documents", e))?;
        Ok(())
    }

    /// Merges the committed segments that hold deleted documents, so their
    /// stored text leaves the disk (a deletion alone only hides it), and
    /// removes the files no commit uses any more. Merges the writer already
    /// started are waited for first: the segments they consume are gone.
    pub fn purge_deleted(&mut self) -> Result<(), StoreError> {
        self.settle()?;
        // Only ids kept: a segment's metadata held alive keeps its files
        // from the collection below.
        let with_deletes: Vec<_> = {
            let metas = self.index.searchable_segment_metas().map_err(|e| StoreError::index("list segments", e))?;
            metas.iter().filter(|m| m.has_deletes()).map(|m| m.id()).collect()
        };
        if !with_deletes.is_empty() {
            self.writer()?.merge(&with_deletes).wait().map_err(|e| StoreError::index("merge segments", e))?;
        }
        // The reader lets go of the merged segments first: files a searcher
        // still uses are kept by the collection.
        self.reader.reload().map_err(|e| StoreError::index("reload reader", e))?;
        self.writer()?.garbage_collect_files().wait().map_err(|e| StoreError::index("remove unused index files", e))?;
        Ok(())
    }

    /// Lets the writer finish what it started (merges in the background)
    /// and closes it; the next change opens a new one.
    fn settle(&mut self) -> Result<(), StoreError> {
        if let Some(w) = self.writer.take() {
            w.wait_merging_threads().map_err(|e| StoreError::index("finish merging", e))?;
        }
        Ok(())
    }

    /// Drops every document (before a rebuild), once the writer has
    /// finished what it started.
    pub fn clear(&mut self) -> Result<(), StoreError> {
        self.settle()?;
        self.writer()?.delete_all_documents().map_err(|e| StoreError::index("clear index", e))?;
        Ok(())
    }

    /// Documents deleted but still in the segment files (for checks and
    /// tests: an erasure leaves none).
    pub fn deleted_docs(&self) -> u64 {
        self.refresh();
        self.reader.searcher().segment_readers().iter().map(|s| u64::from(s.num_deleted_docs())).sum()
    }

    pub fn num_docs(&self) -> u64 {
        self.refresh();
        self.reader.searcher().num_docs()
    }

    pub(crate) fn searcher(&self) -> Searcher {
        self.refresh();
        self.reader.searcher()
    }

    /// A fresh reader on the committed index, for other threads (the HTTP API).
    pub fn reader(&self) -> IndexReader {
        self.reader.clone()
    }

    /// Every indexed id (for checks and tests; not for hot paths).
    pub fn all_ids(&self) -> Result<Vec<String>, StoreError> {
        let searcher = self.reader.searcher();
        let mut ids = Vec::new();
        for segment in searcher.segment_readers() {
            let store = segment.get_store_reader(64).map_err(|e| StoreError::index("read stored fields", e.into()))?;
            for doc_id in segment.doc_ids_alive() {
                let d: TantivyDocument = store.get(doc_id).map_err(|e| StoreError::index("read document", e))?;
                if let Some(id) = d.get_first(self.fields.id).and_then(|v| v.as_str()) {
                    ids.push(id.to_string());
                }
            }
        }
        Ok(ids)
    }

    pub(crate) fn stored(&self, d: &TantivyDocument) -> StoredMention {
        let f = self.fields;
        let get = |field: Field| d.get_first(field).and_then(|v| v.as_str()).map(str::to_string);
        let all = |field: Field| d.get_all(field).filter_map(|v| v.as_str().map(str::to_string)).collect::<Vec<_>>();
        StoredMention {
            id: get(f.id).unwrap_or_default(),
            source: get(f.source).unwrap_or_default(),
            source_kind: get(f.source_kind).unwrap_or_default(),
            url: get(f.url),
            published_at: get(f.published_raw).unwrap_or_default(),
            author: get(f.author),
            title: get(f.title),
            text: get(f.text).unwrap_or_default(),
            lang: get(f.lang).unwrap_or_default(),
            sentiment: get(f.sentiment).unwrap_or_default(),
            sentiment_score: d.get_first(f.sentiment_score).and_then(|v| v.as_f64()).unwrap_or_default(),
            topics: all(f.topic),
            places: all(f.place),
            entities: all(f.entity),
            mention_type: get(f.mention_type).unwrap_or_default(),
            cluster: get(f.cluster).unwrap_or_default(),
        }
    }

    /// One mention by id.
    pub fn get(&self, id: &str) -> Result<Option<StoredMention>, StoreError> {
        let searcher = self.reader.searcher();
        let q = tantivy::query::TermQuery::new(Term::from_field_text(self.fields.id, id), IndexRecordOption::Basic);
        let top = searcher
            .search(&q, &tantivy::collector::TopDocs::with_limit(1).order_by_score())
            .map_err(|e| StoreError::index("look up id", e))?;
        let Some((_, addr)) = top.first() else { return Ok(None) };
        let d: TantivyDocument = searcher.doc(*addr).map_err(|e| StoreError::index("read document", e))?;
        Ok(Some(self.stored(&d)))
    }
}
