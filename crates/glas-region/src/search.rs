//! The regional search over districts' pipelines: their stores opened to
//! read, on threads, then [`glas_store::regional::search`].

pub use glas_store::regional::{DistrictFailure, OpenDistrict, RegionalHit, RegionalResults};
use glas_store::search::SearchRequest;

use crate::District;

/// Opens every district's store to read, on threads.
pub fn open(districts: &[District]) -> Vec<OpenDistrict> {
    std::thread::scope(|s| {
        let handles: Vec<_> = districts
            .iter()
            .map(|d| s.spawn(move || d.ctx.open_store_reader().map(std::sync::Arc::new).map_err(|e| format!("{e:#}"))))
            .collect();
        districts
            .iter()
            .zip(handles)
            .map(|(d, h)| OpenDistrict {
                id: d.id.clone(),
                tz: d.ctx.tz(),
                store: h.join().unwrap_or_else(|_| Err("opening the store panicked".into())),
            })
            .collect()
    })
}

/// Searches every district's store for `req`; the page (`offset`, `limit`)
/// is of the merged list.
pub fn search(districts: &[District], req: &SearchRequest) -> RegionalResults {
    glas_store::regional::search(&open(districts), req)
}
