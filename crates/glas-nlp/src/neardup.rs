//! Near-duplicate detection of reprints: the same press release republished by
//! several outlets with small edits lands in one cluster, every copy kept.
//!
//! Each text gets a 64-bit SimHash over its word 3-shingles (folded words, so
//! case and `ё` do not matter). Two texts are reprints when their hashes differ
//! in at most [`MAX_DISTANCE`] bits and they were published within
//! [`WINDOW_SECS`] of each other. Candidates are found by splitting the hash
//! into `MAX_DISTANCE + 1` bands: by the pigeonhole principle two hashes that
//! close agree exactly on at least one band, so lookups stay fast at millions
//! of mentions. Texts shorter than [`MIN_WORDS`] are too short to call and
//! keep their exact-text cluster.

use std::collections::{HashMap, VecDeque};

use crate::text::Token;

pub const MAX_DISTANCE: u32 = 10;
pub const MIN_WORDS: usize = 12;
/// Reprints appear within days; older look-alikes are new stories.
pub const WINDOW_SECS: i64 = 7 * 24 * 3600;
/// Candidates examined per band bucket, newest first.
const BUCKET_SCAN: usize = 64;
/// (shift, bits): `MAX_DISTANCE + 1` bands covering the 64 bits.
const BANDS: [(u32, u32); 11] =
    [(0, 6), (6, 6), (12, 6), (18, 6), (24, 6), (30, 6), (36, 6), (42, 6), (48, 6), (54, 5), (59, 5)];

use glas_core::fnv1a as fnv;

/// SimHash of the text's stems and stem pairs; `None` for texts under
/// [`MIN_WORDS`]. Single stems keep the hash steady under small edits; pairs
/// keep texts that share vocabulary but not phrasing apart.
pub fn simhash(tokens: &[Token]) -> Option<u64> {
    if tokens.len() < MIN_WORDS {
        return None;
    }
    let mut weights = [0i32; 64];
    let mut add = |h: u64| {
        // Mix so that similar features spread over all bits.
        let mut h = h;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        for (bit, weight) in weights.iter_mut().enumerate() {
            *weight += if h >> bit & 1 == 1 { 1 } else { -1 };
        }
    };
    for t in tokens {
        add(fnv(t.stem.bytes()));
    }
    for w in tokens.windows(2) {
        add(fnv(w[0].stem.bytes().chain([b' ']).chain(w[1].stem.bytes())));
    }
    Some(weights.iter().enumerate().fold(0u64, |acc, (bit, w)| if *w > 0 { acc | 1 << bit } else { acc }))
}

struct Entry {
    hash: u64,
    cluster: u64,
    at: i64,
}

/// Recent mentions' hashes, to assign each new mention to a reprint cluster.
#[derive(Default)]
pub struct NearDup {
    entries: VecDeque<Entry>,
    /// Index of `entries[0]` in the sequence of all entries ever added.
    base: usize,
    bands: [HashMap<u16, Vec<usize>>; 11],
}

fn band(hash: u64, (shift, bits): (u32, u32)) -> u16 {
    ((hash >> shift) & ((1u64 << bits) - 1)) as u16
}

/// The cluster label of a representative hash.
pub fn cluster_label(cluster: u64) -> String {
    format!("c{cluster:016x}")
}

/// The hash behind a cluster label.
pub fn parse_cluster_label(label: &str) -> Option<u64> {
    u64::from_str_radix(label.strip_prefix('c')?, 16).ok()
}

impl NearDup {
    pub fn new() -> NearDup {
        NearDup::default()
    }

    /// Number of hashes held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Remembers a mention already clustered (when resuming from the store).
    pub fn seed(&mut self, hash: u64, cluster: u64, at: i64) {
        let seq = self.base + self.entries.len();
        self.entries.push_back(Entry { hash, cluster, at });
        for (i, b) in BANDS.iter().enumerate() {
            self.bands[i].entry(band(hash, *b)).or_default().push(seq);
        }
    }

    /// The cluster of a mention with `hash` published at `at` (unix seconds):
    /// the cluster of the closest recent look-alike, or a new one. The mention
    /// is remembered either way. Mentions should come roughly in time order;
    /// hashes older than the window before the newest are forgotten.
    pub fn assign(&mut self, hash: u64, at: i64) -> u64 {
        let mut best: Option<(u32, u64)> = None;
        for (i, b) in BANDS.iter().enumerate() {
            if let Some(list) = self.bands[i].get(&band(hash, *b)) {
                // Newest first, and only so many: a crowded bucket (a template
                // repeated thousands of times) must not make inserts quadratic.
                for &seq in list.iter().rev().take(BUCKET_SCAN) {
                    let Some(e) = seq.checked_sub(self.base).and_then(|k| self.entries.get(k)) else { continue };
                    let d = (e.hash ^ hash).count_ones();
                    if d <= MAX_DISTANCE && (e.at - at).abs() <= WINDOW_SECS && best.is_none_or(|(bd, _)| d < bd) {
                        best = Some((d, e.cluster));
                    }
                }
            }
        }
        // A new cluster is named by its first member's hash and time, so the same
        // text much later starts a cluster of its own.
        let cluster = best.map_or_else(|| fnv(hash.to_le_bytes().into_iter().chain(at.to_le_bytes())), |(_, c)| c);
        self.seed(hash, cluster, at);
        self.prune(at);
        cluster
    }

    fn prune(&mut self, newest: i64) {
        let mut dropped = false;
        while self.entries.front().is_some_and(|e| newest - e.at > 2 * WINDOW_SECS) {
            self.entries.pop_front();
            self.base += 1;
            dropped = true;
        }
        if dropped && self.base.is_multiple_of(1024) {
            let base = self.base;
            for map in &mut self.bands {
                map.retain(|_, list| {
                    list.retain(|&s| s >= base);
                    !list.is_empty()
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Tokenizer;

    const RELEASE: &str = "На водоводе в селе Величаевское произошёл порыв. Аварийная бригада водоканала приступила к ремонту. Организован подвоз питьевой воды, график размещён в администрации территориального отдела.";

    fn h(text: &str) -> Option<u64> {
        simhash(&Tokenizer::default().tokens(text))
    }

    #[test]
    fn reprints_with_small_edits_share_a_cluster() {
        let edited = RELEASE.replace("произошёл порыв", "произошел порыв трубы").replace("График", "график")
            + " Фото: администрация.";
        let other = "В школах округа прошли олимпиады: более трёхсот учеников приняли участие в школьном этапе всероссийской олимпиады по математике и русскому языку.";
        let (a, b, c) = (h(RELEASE).unwrap(), h(&edited).unwrap(), h(other).unwrap());
        assert!((a ^ b).count_ones() <= MAX_DISTANCE, "distance {}", (a ^ b).count_ones());
        let mut nd = NearDup::new();
        let ca = nd.assign(a, 1000);
        assert_eq!(nd.assign(b, 2000), ca);
        assert_ne!(nd.assign(c, 3000), ca);
        // The same text a month later is a new story.
        assert_ne!(nd.assign(a, 1000 + 30 * 24 * 3600), ca);
        assert!(h("Нет воды").is_none());
    }

    #[test]
    fn reprints_are_close_and_other_stories_far() {
        let texts = [
            RELEASE.to_string(),
            RELEASE.replace("произошёл порыв", "произошел порыв трубы") + " Фото: администрация.",
            format!("Как сообщает администрация округа: {RELEASE}"),
            "На водопроводе в посёлке Заря произошла авария. Ремонтная бригада водоканала выехала на место. Подвоз технической воды организован, график есть в территориальном отделе.".to_string(),
            "Третий день нет воды в Величаевском, водоканал молчит, подвоза нет, администрация не отвечает на звонки, сколько можно терпеть такое отношение к людям".to_string(),
        ];
        let hs: Vec<u64> = texts.iter().map(|t| h(t).unwrap()).collect();
        let d = |a: usize, b: usize| (hs[a] ^ hs[b]).count_ones();
        assert!(d(0, 1) <= MAX_DISTANCE && d(0, 2) <= MAX_DISTANCE, "{} {}", d(0, 1), d(0, 2));
        for other in [3, 4] {
            assert!(d(0, other) > 2 * MAX_DISTANCE, "{other}: {}", d(0, other));
        }
    }
}
