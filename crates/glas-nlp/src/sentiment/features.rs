//! Features of the sentiment model, hashed to 64 bits (FNV-1a, stable across
//! builds): stemmed words (marked when inside a negation scope), word pairs
//! within a clause, character 3–5-grams of every word, emoji and emoticons,
//! and the lexicon's hits. Each feature remembers the word it came from so an
//! explanation can say which words drove a label.

use super::lexicon::{Lexicon, negation_end};
use crate::text::Token;

/// Not attributable to one word (emoticons, links, the bias).
pub const NO_WORD: u32 = u32::MAX;

/// Feature namespaces: one byte mixed into the hash.
mod ns {
    pub const WORD: u8 = b'w';
    pub const NEGATED: u8 = b'n';
    pub const PAIR: u8 = b'b';
    pub const CHARS: u8 = b'c';
    pub const SIGN: u8 = b'p';
    pub const LEX: u8 = b'l';
}

/// A sparse feature vector: (hash, value, word index).
#[derive(Debug, Clone, Default)]
pub struct FeatureVec {
    pub items: Vec<(u64, f32, u32)>,
}

#[inline]
pub(crate) fn fnv(ns: u8, parts: &[&[u8]]) -> u64 {
    const PRIME: u64 = glas_core::FNV_PRIME;
    let mut h: u64 = (glas_core::FNV_OFFSET ^ u64::from(ns)).wrapping_mul(PRIME);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            // A separator keeps ("ab", "c") apart from ("a", "bc").
            h = h.wrapping_mul(PRIME);
        }
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// Weight of one lexicon unit relative to one sparse feature.
const LEX_SCALE: f32 = 1.0;

/// Where a text was written: the model learns what words mean in general
/// and, on top, what they mean in each genre (each feature is also emitted
/// under the genre's key: "frustratingly easy" domain adaptation, Daumé 2007).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Genre {
    /// Posts and comments: Telegram, VK, tweets, residents' appeals.
    Social,
    /// Media: news sites and feeds, press releases.
    Media,
}

impl Genre {
    fn salt(self) -> u64 {
        match self {
            Genre::Social => 0x9e37_79b9_7f4a_7c15,
            Genre::Media => 0xc2b2_ae3d_27d4_eb4f,
        }
    }
}

/// The feature every text of a genre carries once with value 1: its weights
/// are the genre's own class biases.
pub fn genre_bias(genre: Genre) -> u64 {
    fnv(ns::SIGN, &[b"genre"]) ^ genre.salt()
}

/// Extracts the features of a text (its tokens and the raw text for signs).
pub fn extract(text: &str, tokens: &[Token], lexicon: &Lexicon, genre: Genre, out: &mut FeatureVec) {
    base(text, tokens, out);
    extend(tokens, lexicon, genre, out);
}

/// The features every sentiment prediction starts from: words (marked inside
/// a negation scope), word pairs, character n-grams and signs, scaled to unit
/// length.
pub fn base(text: &str, tokens: &[Token], out: &mut FeatureVec) {
    collect(text, tokens, true, out);
}

/// [`base`] without the character n-grams: what the complaint and topic model
/// ([`crate::learned`]) reads. A third of the features, so a third of the
/// table lookups; and no genre, so its decisions do not lean on the genre a
/// source declares.
pub fn words(text: &str, tokens: &[Token], out: &mut FeatureVec) {
    collect(text, tokens, false, out);
}

fn collect(text: &str, tokens: &[Token], char_grams: bool, out: &mut FeatureVec) {
    out.items.clear();
    let mut negated_until = 0usize;
    let mut chars: Vec<usize> = Vec::with_capacity(32);
    let mut buf = String::with_capacity(32);
    for (i, t) in tokens.iter().enumerate() {
        let wi = i as u32;
        let numeric = t.word.bytes().all(|b| b.is_ascii_digit());
        let stem: &str = if numeric { "#" } else { &t.stem };
        let space = if i < negated_until { ns::NEGATED } else { ns::WORD };
        out.items.push((fnv(space, &[stem.as_bytes()]), 1.0, wi));
        if i > 0 && !t.brk {
            let prev = &tokens[i - 1];
            let p: &str = if prev.word.bytes().all(|b| b.is_ascii_digit()) { "#" } else { &prev.stem };
            out.items.push((fnv(ns::PAIR, &[p.as_bytes(), stem.as_bytes()]), 1.0, wi));
        }
        if char_grams && !numeric && t.word.len() > 2 {
            buf.clear();
            buf.push('^');
            buf.push_str(&t.word);
            buf.push('$');
            chars.clear();
            chars.extend(buf.char_indices().map(|(k, _)| k));
            chars.push(buf.len());
            let n = chars.len() - 1;
            for len in 3..=5usize {
                for s in 0..n.saturating_sub(len - 1) {
                    let gram = &buf.as_bytes()[chars[s]..chars[s + len]];
                    out.items.push((fnv(ns::CHARS, &[gram]), 1.0, wi));
                }
            }
        }
        if let Some(end) = negation_end(tokens, i) {
            negated_until = end;
        }
    }
    signs(text, out);
    // Binary counts, scaled to unit length so long news sentences and short
    // posts weigh alike.
    let norm = (out.items.len().max(1) as f32).sqrt().recip();
    for f in &mut out.items {
        f.1 = norm;
    }
}

/// The sentiment model's own features on top of [`base`]: the lexicon's hits
/// and every feature again under the genre's key.
fn extend(tokens: &[Token], lexicon: &Lexicon, genre: Genre, out: &mut FeatureVec) {
    for hit in lexicon.hits(tokens) {
        let key: &[u8] = if hit.weight < 0.0 { b"-" } else { b"+" };
        out.items.push((fnv(ns::LEX, &[key]), hit.weight.abs() * LEX_SCALE, hit.at as u32));
    }
    out.items.push((fnv(ns::SIGN, &[b"genre"]), 1.0, NO_WORD));
    let salt = genre.salt();
    // The copy of the "genre" sign is `genre_bias(genre)`.
    for k in 0..out.items.len() {
        let (h, v, w) = out.items[k];
        out.items.push((h ^ salt, v, w));
    }
}

/// Emoji, emoticons, exclamations, questions, links and mentions.
fn signs(text: &str, out: &mut FeatureVec) {
    let mut depth = 0i32;
    let mut prev = ' ';
    let mut run = 0;
    let push = |key: &[u8], out: &mut FeatureVec| out.items.push((fnv(ns::SIGN, &[key]), 1.0, NO_WORD));
    let mut buf = [0u8; 4];
    for c in text.chars() {
        run = if c == prev { run + 1 } else { 1 };
        match c {
            '(' => {
                depth += 1;
                if run == 2 {
                    push(b"((", out);
                }
            }
            ')' => {
                if depth > 0 {
                    depth -= 1;
                } else if run == 1 {
                    push(b")", out);
                }
                if run == 2 {
                    push(b"))", out);
                }
            }
            '!' if run == 1 => push(b"!", out),
            '!' if run == 3 => push(b"!!!", out),
            '?' if run == 1 => push(b"?", out),
            _ if is_emoji(c) && run == 1 => push(c.encode_utf8(&mut buf).as_bytes(), out),
            _ => {}
        }
        prev = c;
    }
    if text.contains("http") {
        push(b"url", out);
    }
    if text.starts_with('@') {
        push(b"@", out);
    }
    // A sad face at the end: "(" not closed.
    if depth > 0 {
        push(b"(", out);
    }
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF)
}
