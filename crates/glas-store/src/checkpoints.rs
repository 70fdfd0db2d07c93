//! Per-source crawl checkpoints (ETag, Last-Modified, last seen ids), saved
//! atomically (write, sync, rename) after the mentions they cover are committed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use glas_core::Checkpoint;

use crate::StoreError;

pub struct Checkpoints {
    path: PathBuf,
    map: BTreeMap<String, Checkpoint>,
}

impl Checkpoints {
    pub fn load(path: &Path) -> Result<Checkpoints, StoreError> {
        let map = match fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("checkpoints are not valid JSON: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(StoreError::io("read checkpoints", path, e)),
        };
        Ok(Checkpoints { path: path.to_path_buf(), map })
    }

    pub fn get(&self, source: &str) -> Checkpoint {
        self.map.get(source).cloned().unwrap_or_default()
    }

    pub fn all(&self) -> &BTreeMap<String, Checkpoint> {
        &self.map
    }

    /// Replaces one source's checkpoint and writes the file atomically.
    pub fn save(&mut self, source: &str, cp: Checkpoint) -> Result<(), StoreError> {
        self.save_many([(source.to_string(), cp)])
    }

    /// Replaces several sources' checkpoints with one atomic write.
    pub fn save_many(&mut self, cps: impl IntoIterator<Item = (String, Checkpoint)>) -> Result<(), StoreError> {
        self.map.extend(cps);
        let text = serde_json::to_string_pretty(&self.map).expect("checkpoints serialize");
        crate::write_atomic(&self.path, text.as_bytes()).map_err(|e| StoreError::io("save checkpoints", &self.path, e))
    }
}
