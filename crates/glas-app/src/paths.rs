//! Paths as a person reads them.

use std::path::{Path, PathBuf};

/// A path as a user would type it: `..` resolved, relative to the current
/// folder when inside it ("data/demo", not "crates/glas/../../pipelines/../data/demo").
pub fn user_path(p: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    let p: PathBuf = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let p = normalize(&p);
    match p.strip_prefix(&cwd) {
        Ok(r) if r.as_os_str().is_empty() => PathBuf::from("."),
        Ok(r) => r.to_path_buf(),
        Err(_) => p,
    }
}

/// Removes `..` components lexically so printed paths are short.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
