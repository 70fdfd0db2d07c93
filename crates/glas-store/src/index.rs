//! The search index: tantivy, derived from the log and rebuildable from it.
//!
//! Text fields use the `ru` analyzer: split at non-alphanumerics, lowercase,
//! `ё` → `е`, Snowball Russian stemming, so "водоснабжения" finds
//! "водоснабжение". Every commit carries the log sequence number it covers as
//! its payload; opening the store indexes whatever parts came after it.

use std::ops::Bound;
use std::path::Path;

use chrono::{DateTime, Utc};
use glas_core::Record;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RangeQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, Token, TokenFilter, TokenStream,
    Tokenizer,
};
use tantivy::{Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term, doc};

use crate::StoreError;

pub const RU_ANALYZER: &str = "ru";

/// Builds the Russian analyzer used for indexing and querying.
pub fn russian_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(60))
        .filter(LowerCaser)
        .filter(YoFolder)
        .filter(Stemmer::new(Language::Russian))
        .build()
}

/// Folds `ё` into `е`. Both are two bytes in UTF-8, so offsets stay valid.
#[derive(Clone)]
pub struct YoFolder;

impl TokenFilter for YoFolder {
    type Tokenizer<T: Tokenizer> = YoFolderFilter<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> YoFolderFilter<T> {
        YoFolderFilter(tokenizer)
    }
}

#[derive(Clone)]
pub struct YoFolderFilter<T>(T);

impl<T: Tokenizer> Tokenizer for YoFolderFilter<T> {
    type TokenStream<'a> = YoFolderStream<T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        YoFolderStream(self.0.token_stream(text))
    }
}

pub struct YoFolderStream<S>(S);

impl<S: TokenStream> TokenStream for YoFolderStream<S> {
    fn advance(&mut self) -> bool {
        if !self.0.advance() {
            return false;
        }
        let t = self.0.token_mut();
        if t.text.contains(['ё', 'Ё']) {
            t.text = t.text.replace('ё', "е").replace('Ё', "Е");
        }
        true
    }
    fn token(&self) -> &Token {
        self.0.token()
    }
    fn token_mut(&mut self) -> &mut Token {
        self.0.token_mut()
    }
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
    pub mention_type: Field,
    pub cluster: Field,
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
    let f = Fields {
        id: b.add_text_field("id", STRING | STORED),
        source: b.add_text_field("source", STRING | STORED | FAST),
        source_kind: b.add_text_field("source_kind", STRING | STORED),
        url: b.add_text_field("url", STRING | STORED),
        published_at: b.add_date_field("published_at", INDEXED | STORED | FAST),
        published_raw: b.add_text_field("published_raw", STORED),
        author: b.add_text_field("author", ru.clone()),
        title: b.add_text_field("title", ru.clone()),
        text: b.add_text_field("text", ru),
        lang: b.add_text_field("lang", STRING | STORED),
        sentiment: b.add_text_field("sentiment", STRING | STORED),
        sentiment_score: b.add_f64_field("sentiment_score", STORED),
        topic: b.add_text_field("topic", STRING | STORED),
        place: b.add_text_field("place", STRING | STORED),
        mention_type: b.add_text_field("type", STRING | STORED),
        cluster: b.add_text_field("cluster", STRING | STORED),
    };
    (b.build(), f)
}

/// A search hit, ready to show.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    pub id: String,
    pub source: String,
    pub url: Option<String>,
    pub published_at: String,
    pub title: Option<String>,
    pub sentiment: String,
    pub topics: Vec<String>,
    pub places: Vec<String>,
    pub mention_type: String,
    /// Best fragment of the text; `highlights` are the byte ranges of the
    /// matched words within it.
    pub snippet: String,
    pub highlights: Vec<(usize, usize)>,
    pub score: f32,
}

/// What to search for.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: usize,
    pub by_date: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<Hit>,
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    fields: Fields,
}

impl SearchIndex {
    pub fn open(dir: &Path) -> Result<SearchIndex, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io("create index folder", dir, e))?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| StoreError::index("open index folder", e.into()))?;
        let index = Index::open_or_create(directory, schema).map_err(|e| StoreError::index("open index", e))?;
        index.tokenizers().register(RU_ANALYZER, russian_analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| StoreError::index("open index reader", e))?;
        Ok(SearchIndex { index, reader, writer: None, fields })
    }

    /// The log sequence number the last commit covers (0 for a new index).
    pub fn indexed_seq(&self) -> Result<u64, StoreError> {
        let metas = self.index.load_metas().map_err(|e| StoreError::index("read index metadata", e))?;
        Ok(metas.payload.and_then(|p| p.strip_prefix("log_seq=").and_then(|n| n.parse().ok())).unwrap_or(0))
    }

    fn writer(&mut self) -> Result<&mut IndexWriter, StoreError> {
        if self.writer.is_none() {
            let w = self
                .index
                .writer_with_num_threads(1, 64_000_000)
                .map_err(|e| StoreError::index("open index writer", e))?;
            self.writer = Some(w);
        }
        Ok(self.writer.as_mut().unwrap())
    }

    /// Adds records, replacing any document with the same id, so indexing the
    /// same part twice never yields two documents.
    pub fn add(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let f = self.fields;
        let w = self.writer()?;
        for r in records {
            let m = &r.mention;
            let e = &r.enrichment;
            w.delete_term(Term::from_field_text(f.id, &m.id));
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
            }
            w.add_document(d).map_err(|e| StoreError::index("add document", e))?;
        }
        Ok(())
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

    /// Drops every document (before a rebuild).
    pub fn clear(&mut self) -> Result<(), StoreError> {
        self.writer()?.delete_all_documents().map_err(|e| StoreError::index("clear index", e))?;
        Ok(())
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
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

    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults, StoreError> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.text]);
        parser.set_conjunction_by_default();
        parser.set_field_boost(f.title, 1.5);
        let text_query = parser
            .parse_query(&req.query)
            .map_err(|e| StoreError::Query { query: req.query.clone(), reason: e.to_string() })?;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_query.box_clone())];
        if req.since.is_some() || req.until.is_some() {
            let term = |t: DateTime<Utc>| {
                Term::from_field_date(f.published_at, tantivy::DateTime::from_timestamp_millis(t.timestamp_millis()))
            };
            let lower = req.since.map_or(Bound::Unbounded, |t| Bound::Included(term(t)));
            let upper = req.until.map_or(Bound::Unbounded, |t| Bound::Excluded(term(t)));
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        let query = BooleanQuery::new(clauses);
        let limit = req.limit.max(1);
        let total = searcher.search(&query, &Count).map_err(|e| StoreError::index("count", e))?;
        let docs: Vec<(f32, tantivy::DocAddress)> = if req.by_date {
            searcher
                .search(
                    &query,
                    &TopDocs::with_limit(limit).order_by_fast_field::<tantivy::DateTime>("published_at", Order::Desc),
                )
                .map_err(|e| StoreError::index("search", e))?
                .into_iter()
                .map(|(_, a)| (0.0, a))
                .collect()
        } else {
            searcher
                .search(&query, &TopDocs::with_limit(limit).order_by_score())
                .map_err(|e| StoreError::index("search", e))?
        };
        let mut snippets =
            SnippetGenerator::create(&searcher, &*text_query, f.text).map_err(|e| StoreError::index("snippets", e))?;
        snippets.set_max_num_chars(220);
        let mut hits = Vec::with_capacity(docs.len());
        for (score, addr) in docs {
            let d: TantivyDocument = searcher.doc(addr).map_err(|e| StoreError::index("read hit", e))?;
            let get = |field: Field| d.get_first(field).and_then(|v| v.as_str()).map(str::to_string);
            let all =
                |field: Field| d.get_all(field).filter_map(|v| v.as_str().map(str::to_string)).collect::<Vec<_>>();
            let snippet = snippets.snippet_from_doc(&d);
            let (text, highlights) = if snippet.fragment().is_empty() {
                let text = get(f.text).unwrap_or_default();
                (text.chars().take(220).collect::<String>(), Vec::new())
            } else {
                (snippet.fragment().to_string(), snippet.highlighted().iter().map(|r| (r.start, r.end)).collect())
            };
            hits.push(Hit {
                id: get(f.id).unwrap_or_default(),
                source: get(f.source).unwrap_or_default(),
                url: get(f.url),
                published_at: get(f.published_raw).unwrap_or_default(),
                title: get(f.title),
                sentiment: get(f.sentiment).unwrap_or_default(),
                topics: all(f.topic),
                places: all(f.place),
                mention_type: get(f.mention_type).unwrap_or_default(),
                snippet: text,
                highlights,
                score,
            });
        }
        Ok(SearchResults { total, hits })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        let mut a = russian_analyzer();
        let mut s = a.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            out.push(s.token().text.clone());
        }
        out
    }

    #[test]
    fn analyzer_folds_case_yo_and_endings() {
        assert_eq!(tokens("водоснабжения"), tokens("Водоснабжение"));
        assert_eq!(tokens("Всё"), tokens("все"));
        assert_eq!(tokens("Величаевском"), tokens("величаевское"));
    }
}
