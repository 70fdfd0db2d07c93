//! The regional search: one query over several districts' stores, run on
//! threads and merged. Hits are ranked by their score in their own index
//! (BM25 with each index's statistics, as a sharded search engine's default
//! query-then-fetch does) or by date; facets are summed per value; a
//! district that fails is reported beside the results, never fatal.

use std::sync::Arc;

use serde::Serialize;

use crate::Store;
use crate::search::{FacetCount, Facets, Hit, SearchRequest, SearchResults, Sort};

#[derive(Debug, Serialize)]
pub struct RegionalHit {
    pub district: String,
    #[serde(flatten)]
    pub hit: Hit,
}

#[derive(Debug, Serialize)]
pub struct DistrictFailure {
    pub district: String,
    pub error: String,
}

#[derive(Debug, Serialize)]
pub struct RegionalResults {
    /// Matching mentions in all the districts that answered.
    pub total: usize,
    /// Some district's total is an estimate ([`SearchResults::total_estimated`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub total_estimated: bool,
    /// District → its matches.
    pub per_district: Vec<(String, usize)>,
    pub offset: usize,
    pub limit: usize,
    pub hits: Vec<RegionalHit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Facets>,
    /// Districts that did not answer, and why.
    pub failed: Vec<DistrictFailure>,
}

/// A district's store opened to read (beside its writer), or why it
/// could not be.
#[derive(Clone)]
pub struct OpenDistrict {
    pub id: String,
    pub tz: chrono_tz::Tz,
    pub store: Result<Arc<Store>, String>,
}

/// Searches every district's store for `req`; the page (`offset`, `limit`)
/// is of the merged list.
pub fn search(districts: &[OpenDistrict], req: &SearchRequest) -> RegionalResults {
    // Each district gives its best `offset + limit`: enough for the page.
    let per = SearchRequest { offset: 0, limit: req.offset + req.limit, ..req.clone() };
    let answers: Vec<(String, Result<SearchResults, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = districts
            .iter()
            .map(|d| {
                let per = SearchRequest { tz: d.tz, ..per.clone() };
                let run = move || match &d.store {
                    Ok(store) => store.search(&per).map_err(|e| format!("{e:#}")),
                    Err(e) => Err(e.clone()),
                };
                (d.id.clone(), s.spawn(run))
            })
            .collect();
        handles
            .into_iter()
            .map(|(id, h)| (id, h.join().unwrap_or_else(|_| Err("the search panicked".into()))))
            .collect()
    });
    let mut out = RegionalResults {
        total: 0,
        total_estimated: false,
        per_district: Vec::new(),
        offset: req.offset,
        limit: req.limit,
        hits: Vec::new(),
        facets: req.facets.then(Facets::default),
        failed: Vec::new(),
    };
    for (district, answer) in answers {
        match answer {
            Ok(r) => {
                out.total += r.total;
                out.total_estimated |= r.total_estimated;
                out.per_district.push((district.clone(), r.total));
                if let (Some(all), Some(f)) = (out.facets.as_mut(), r.facets) {
                    add_facets(all, f);
                }
                out.hits.extend(r.hits.into_iter().map(|hit| RegionalHit { district: district.clone(), hit }));
            }
            Err(error) => out.failed.push(DistrictFailure { district, error }),
        }
    }
    match req.sort {
        Sort::Relevance => out.hits.sort_by(|a, b| {
            b.hit.score.total_cmp(&a.hit.score).then_with(|| b.hit.published_at.cmp(&a.hit.published_at))
        }),
        // RFC 3339 in UTC throughout the index: text order is time order.
        _ => out.hits.sort_by(|a, b| b.hit.published_at.cmp(&a.hit.published_at)),
    }
    out.hits = out.hits.into_iter().skip(req.offset).take(req.limit).collect();
    out
}

fn add_facets(all: &mut Facets, f: Facets) {
    merge(&mut all.source, f.source, false);
    merge(&mut all.topic, f.topic, false);
    merge(&mut all.place, f.place, false);
    merge(&mut all.sentiment, f.sentiment, false);
    merge(&mut all.mention_type, f.mention_type, false);
    merge(&mut all.day, f.day, true);
    for t in f.day_tone {
        match all.day_tone.iter_mut().find(|x| x.day == t.day) {
            Some(x) => {
                x.negative += t.negative;
                x.positive += t.positive;
                x.complaint += t.complaint;
            }
            None => all.day_tone.push(t),
        }
    }
    all.day_tone.sort_by(|a, b| a.day.cmp(&b.day));
}

/// Sums counts per value; most frequent first, or in value order for days.
fn merge(all: &mut Vec<FacetCount>, more: Vec<FacetCount>, by_value: bool) {
    for c in more {
        match all.iter_mut().find(|x| x.value == c.value) {
            Some(x) => x.count += c.count,
            None => all.push(c),
        }
    }
    if by_value {
        all.sort_by(|a, b| a.value.cmp(&b.value));
    } else {
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facets_add_up_across_districts() {
        let fc = |v: &str, n| FacetCount { value: v.into(), count: n };
        let mut all = vec![fc("water", 3), fc("roads", 2)];
        merge(&mut all, vec![fc("roads", 5), fc("heating", 1)], false);
        assert_eq!(all, vec![fc("roads", 7), fc("water", 3), fc("heating", 1)]);
        let mut days = vec![fc("2026-03-02", 1)];
        merge(&mut days, vec![fc("2026-03-01", 4), fc("2026-03-02", 1)], true);
        assert_eq!(days, vec![fc("2026-03-01", 4), fc("2026-03-02", 2)]);
    }
}
