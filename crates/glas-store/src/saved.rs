//! Saved searches: those of the pipeline file, those created through the API
//! (`searches/api.json` in the data dir), and how far each one's digests have
//! got (`searches/state.json`).
//!
//! A digest covers the mentions stored in log parts after the search's
//! covered sequence number; once it is delivered the number moves to what the
//! index covered when the digest was made. The number only grows, so a
//! mention is never in two digests, and both files are written atomically, so
//! this survives restarts. A search created through the API starts from the
//! index as it was at creation; one new in the pipeline file starts from the
//! store as it was before the crawl round that first sees it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use glas_core::config::{SavedSearch, plausible_email};
use glas_core::query::QueryError;

use crate::{StoreError, write_atomic};

/// Longest saved-search name accepted.
pub const MAX_NAME_CHARS: usize = 120;
/// Most saved searches the API accepts.
pub const MAX_API_SEARCHES: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiSearch {
    #[serde(flatten)]
    pub search: SavedSearch,
    pub created_at: String,
    /// The log sequence number the index covered at creation.
    pub created_seq: u64,
}

/// A saved search and where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub search: SavedSearch,
    /// `pipeline` (read-only here) or `api`.
    pub origin: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("{0}")]
    Invalid(String),
    #[error("invalid query: {0}")]
    Query(QueryError),
    #[error("a saved search named {0:?} already exists")]
    Exists(String),
    #[error("saved search {0:?} is defined in the pipeline file; change it there")]
    InPipeline(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    /// Search name → log sequence number its digests cover.
    covered: BTreeMap<String, u64>,
    /// Search name → its last digest sent.
    #[serde(default)]
    sent: BTreeMap<String, LastDigest>,
}

/// A search's last digest: when it went out and how many new mentions it
/// announced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LastDigest {
    pub at: String,
    pub mentions: u64,
}

pub struct SavedSearches {
    dir: PathBuf,
}

impl SavedSearches {
    pub fn new(data_dir: &Path) -> SavedSearches {
        SavedSearches { dir: data_dir.join("searches") }
    }

    fn api_path(&self) -> PathBuf {
        self.dir.join("api.json")
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn read<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(t) => serde_json::from_str(&t)
                .map_err(|e| StoreError::Corrupt { path: path.to_path_buf(), reason: format!("not valid JSON: {e}") }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(StoreError::io("read saved searches", path, e)),
        }
    }

    fn write<T: serde::Serialize>(&self, path: &Path, value: &T) -> Result<(), StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| StoreError::io("create searches folder", &self.dir, e))?;
        write_atomic(path, serde_json::to_string_pretty(value).expect("serializes").as_bytes())
            .map_err(|e| StoreError::io("save saved searches", path, e))
    }

    pub fn api_searches(&self) -> Result<Vec<ApiSearch>, StoreError> {
        Self::read(&self.api_path())
    }

    /// The pipeline's searches, then those created through the API.
    pub fn all(&self, pipeline: &[SavedSearch]) -> Result<Vec<Listed>, StoreError> {
        let mut out: Vec<Listed> = pipeline.iter().map(|s| Listed { search: s.clone(), origin: "pipeline" }).collect();
        for a in self.api_searches()? {
            if !pipeline.iter().any(|p| p.name == a.search.name) {
                out.push(Listed { search: a.search, origin: "api" });
            }
        }
        Ok(out)
    }

    /// The name trimmed, the query, the recipients and the name's freedom
    /// from the pipeline file checked.
    fn checked<'a>(pipeline: &[SavedSearch], search: &'a SavedSearch) -> Result<&'a str, SavedError> {
        let name = search.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(SavedError::Invalid(format!("name must be 1 to {MAX_NAME_CHARS} characters")));
        }
        glas_core::query::parse(&search.query).map_err(SavedError::Query)?;
        if let Some(bad) = search.to.iter().find(|a| !plausible_email(a)) {
            return Err(SavedError::Invalid(format!("{bad:?} is not an email address")));
        }
        if pipeline.iter().any(|p| p.name == name) {
            return Err(SavedError::InPipeline(name.to_string()));
        }
        Ok(name)
    }

    /// Validates and stores a search created through the API.
    pub fn create(&self, pipeline: &[SavedSearch], search: SavedSearch, seq: u64) -> Result<ApiSearch, SavedError> {
        let name = Self::checked(pipeline, &search)?;
        let mut api = self.api_searches()?;
        if api.iter().any(|a| a.search.name == name) {
            return Err(SavedError::Exists(name.to_string()));
        }
        if api.len() >= MAX_API_SEARCHES {
            return Err(SavedError::Invalid(format!("at most {MAX_API_SEARCHES} saved searches")));
        }
        let created = ApiSearch {
            search: SavedSearch { name: name.to_string(), ..search },
            created_at: chrono::Utc::now().to_rfc3339(),
            created_seq: seq,
        };
        api.push(created.clone());
        self.write(&self.api_path(), &api)?;
        Ok(created)
    }

    /// Changes the name, query or recipients of a search created through the
    /// API; `None` when there is no search `name`. Its digests go on from
    /// where they got (under the new name, when renamed).
    pub fn update(
        &self,
        pipeline: &[SavedSearch],
        name: &str,
        search: SavedSearch,
    ) -> Result<Option<ApiSearch>, SavedError> {
        if pipeline.iter().any(|p| p.name == name) {
            return Err(SavedError::InPipeline(name.to_string()));
        }
        let new_name = Self::checked(pipeline, &search)?.to_string();
        let mut api = self.api_searches()?;
        let Some(i) = api.iter().position(|a| a.search.name == name) else { return Ok(None) };
        if new_name != name && api.iter().any(|a| a.search.name == new_name) {
            return Err(SavedError::Exists(new_name));
        }
        api[i].search = SavedSearch { name: new_name.clone(), ..search };
        let updated = api[i].clone();
        self.write(&self.api_path(), &api)?;
        if new_name != name {
            let mut state: State = Self::read(&self.state_path())?;
            if let Some(c) = state.covered.remove(name) {
                state.covered.insert(new_name.clone(), c);
            }
            if let Some(d) = state.sent.remove(name) {
                state.sent.insert(new_name, d);
            }
            self.write(&self.state_path(), &state)?;
        }
        Ok(Some(updated))
    }

    /// Deletes a search created through the API; `false` when there is none.
    pub fn delete(&self, pipeline: &[SavedSearch], name: &str) -> Result<bool, SavedError> {
        if pipeline.iter().any(|p| p.name == name) {
            return Err(SavedError::InPipeline(name.to_string()));
        }
        let mut api = self.api_searches()?;
        let before = api.len();
        api.retain(|a| a.search.name != name);
        if api.len() == before {
            return Ok(false);
        }
        self.write(&self.api_path(), &api)?;
        let mut state: State = Self::read(&self.state_path())?;
        if state.covered.remove(name).is_some() | state.sent.remove(name).is_some() {
            self.write(&self.state_path(), &state)?;
        }
        Ok(true)
    }

    /// Where each search's next digest starts: its covered sequence number,
    /// or for a search never digested, its creation (API) or `baseline`.
    pub fn starts(&self, pipeline: &[SavedSearch], baseline: u64) -> Result<Vec<(SavedSearch, u64)>, StoreError> {
        let state: State = Self::read(&self.state_path())?;
        let api = self.api_searches()?;
        let mut out = Vec::new();
        for l in self.all(pipeline)? {
            let start = state.covered.get(&l.search.name).copied().unwrap_or_else(|| {
                api.iter().find(|a| a.search.name == l.search.name).map_or(baseline, |a| a.created_seq)
            });
            out.push((l.search, start));
        }
        Ok(out)
    }

    /// Records that `name`'s digests cover the log up to `seq`.
    pub fn mark_covered(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        let mut state: State = Self::read(&self.state_path())?;
        if state.covered.get(name).is_some_and(|&c| c >= seq) {
            return Ok(());
        }
        state.covered.insert(name.to_string(), seq);
        self.write(&self.state_path(), &state)
    }

    /// Records a digest delivered: `name`'s digests cover the log up to
    /// `seq`, and the last one, of `mentions` new mentions, went out `at`.
    pub fn mark_sent(
        &self,
        name: &str,
        seq: u64,
        mentions: u64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let mut state: State = Self::read(&self.state_path())?;
        let covered = state.covered.entry(name.to_string()).or_insert(seq);
        *covered = (*covered).max(seq);
        state.sent.insert(name.to_string(), LastDigest { at: at.to_rfc3339(), mentions });
        self.write(&self.state_path(), &state)
    }

    /// Each search's last digest sent.
    pub fn last_digests(&self) -> Result<BTreeMap<String, LastDigest>, StoreError> {
        Ok(Self::read::<State>(&self.state_path())?.sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, query: &str) -> SavedSearch {
        SavedSearch { name: name.into(), query: query.into(), to: vec![] }
    }

    #[test]
    fn create_list_delete_and_state_survive_reopening() {
        let tmp = tempfile::tempdir().unwrap();
        let pipeline = vec![s("Вода", "topic:water")];
        let saved = SavedSearches::new(tmp.path());
        saved.create(&pipeline, s("Дороги", "ямы OR дорога"), 7).unwrap();
        assert!(matches!(saved.create(&pipeline, s("Дороги", "x"), 7), Err(SavedError::Exists(_))));
        assert!(matches!(saved.create(&pipeline, s("Вода", "x"), 7), Err(SavedError::InPipeline(_))));
        assert!(matches!(saved.create(&pipeline, s("Плохой", "(вода"), 7), Err(SavedError::Query(_))));
        let bad_to = SavedSearch { to: vec!["nobody".into()], ..s("Адрес", "вода") };
        assert!(matches!(saved.create(&pipeline, bad_to, 7), Err(SavedError::Invalid(_))));

        let saved = SavedSearches::new(tmp.path());
        let names: Vec<(String, &str)> =
            saved.all(&pipeline).unwrap().into_iter().map(|l| (l.search.name, l.origin)).collect();
        assert_eq!(names, vec![("Вода".to_string(), "pipeline"), ("Дороги".to_string(), "api")]);
        // Never digested: the pipeline one from the baseline, the API one from its creation.
        let starts: Vec<u64> = saved.starts(&pipeline, 3).unwrap().into_iter().map(|(_, n)| n).collect();
        assert_eq!(starts, vec![3, 7]);
        saved.mark_covered("Вода", 12).unwrap();
        saved.mark_covered("Вода", 9).unwrap();
        let starts: Vec<u64> =
            SavedSearches::new(tmp.path()).starts(&pipeline, 3).unwrap().into_iter().map(|(_, n)| n).collect();
        assert_eq!(starts, vec![12, 7]);
        // Edited: renamed, another query and recipient; its digests go on from where they got.
        saved.mark_sent("Дороги", 15, 4, chrono::DateTime::UNIX_EPOCH).unwrap();
        let edited =
            SavedSearch { to: vec!["press@levokumsky.example".into()], ..s(" Дороги и ямы ", "ямы") };
        let got = saved.update(&pipeline, "Дороги", edited.clone()).unwrap().unwrap();
        assert_eq!((got.search.name.as_str(), got.created_seq), ("Дороги и ямы", 7));
        assert_eq!(saved.starts(&pipeline, 3).unwrap()[1], (got.search.clone(), 15));
        assert_eq!(saved.last_digests().unwrap()["Дороги и ямы"].mentions, 4);
        assert!(saved.update(&pipeline, "Нет такого", edited.clone()).unwrap().is_none());
        assert!(matches!(saved.update(&pipeline, "Вода", edited.clone()), Err(SavedError::InPipeline(_))));
        assert!(matches!(saved.update(&pipeline, "Дороги и ямы", s("Вода", "x")), Err(SavedError::InPipeline(_))));
        let bad = s("Дороги и ямы", "(ямы");
        assert!(matches!(saved.update(&pipeline, "Дороги и ямы", bad), Err(SavedError::Query(_))));
        saved.create(&pipeline, s("Дороги", "дорога"), 20).unwrap();
        assert!(matches!(saved.update(&pipeline, "Дороги", edited), Err(SavedError::Exists(_))));
        assert!(saved.delete(&pipeline, "Дороги").unwrap());
        assert!(!saved.delete(&pipeline, "Дороги").unwrap());
        assert!(matches!(saved.delete(&pipeline, "Вода"), Err(SavedError::InPipeline(_))));
    }
}
