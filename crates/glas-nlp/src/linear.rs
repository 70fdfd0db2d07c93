//! One-vs-rest logistic regression over hashed features: one sigmoid per
//! class, so a text may carry several labels (topics) or one yes/no decision
//! (complaint). Used by [`crate::learned`]; the sentiment model keeps its
//! own softmax ([`crate::sentiment`]).
//!
//! A feature's weights for every class sit inline in one hash table, as
//! 16-bit integers: scoring all classes of a text costs one lookup per
//! feature, about as much as scoring one, and the file in the repository
//! holds exactly what is in memory.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use crate::sentiment::IdHasher;
use crate::sentiment::features::FeatureVec;

const MAGIC: &[u8; 8] = b"GLASOV01";

#[derive(Debug, thiserror::Error)]
#[error("linear model: {0}")]
pub struct ModelError(pub String);

/// Most classes a model may have: a feature's weights sit inline in the
/// table, so scoring a text costs one memory access per feature.
pub const MAX_CLASSES: usize = 24;

/// A feature's weights, quantized (times the model's scale).
type Row = [i16; MAX_CLASSES];

/// The trained weights of a one-vs-rest model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ovr {
    /// Class names, in output order.
    pub classes: Vec<String>,
    pub bias: Vec<f32>,
    /// Named settings chosen with the weights (decision floors...).
    pub settings: Vec<(String, f32)>,
    /// What one unit of a quantized weight is worth.
    scale: f32,
    rows: HashMap<u64, Row, BuildHasherDefault<IdHasher>>,
}

impl Ovr {
    pub fn classes(&self) -> usize {
        self.classes.len()
    }

    /// Features with a weight.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The weight of one feature for one class (0 when it has none).
    pub fn weight(&self, key: u64, class: usize) -> f32 {
        self.rows.get(&key).map_or(0.0, |r| f32::from(r[class]) * self.scale)
    }

    /// The linear scores (log-odds) of every class, written into `z`.
    pub fn scores(&self, f: &FeatureVec, z: &mut Vec<f32>) {
        let k = self.classes.len();
        let mut acc = [0f32; MAX_CLASSES];
        for &(key, v, _) in &f.items {
            if let Some(w) = self.rows.get(&key) {
                // All lanes, used or not (unused weights are zero): a loop of
                // fixed length the compiler turns into vector instructions.
                for (a, &wk) in acc.iter_mut().zip(w) {
                    *a += v * f32::from(wk);
                }
            }
        }
        z.clear();
        z.extend(self.bias.iter().zip(&acc[..k]).map(|(b, a)| b + a * self.scale));
    }

    /// A named setting, if the model has it.
    pub fn setting(&self, name: &str) -> Option<f32> {
        self.settings.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Serialized form: magic, class count, class names (u16 length + UTF-8),
    /// setting count, settings (name as the classes, f32), scale, feature
    /// count, bias (f32 each), then (key, classes × i16) sorted by key,
    /// little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let k = self.classes.len();
        let mut keys: Vec<&u64> = self.rows.keys().collect();
        keys.sort_unstable();
        let mut out = Vec::with_capacity(32 + keys.len() * (8 + 2 * k));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(k as u32).to_le_bytes());
        let name = |out: &mut Vec<u8>, n: &str| {
            out.extend_from_slice(&(n.len() as u16).to_le_bytes());
            out.extend_from_slice(n.as_bytes());
        };
        for c in &self.classes {
            name(&mut out, c);
        }
        out.extend_from_slice(&(self.settings.len() as u32).to_le_bytes());
        for (n, v) in &self.settings {
            name(&mut out, n);
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.scale.to_le_bytes());
        out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for b in &self.bias {
            out.extend_from_slice(&b.to_le_bytes());
        }
        for key in keys {
            out.extend_from_slice(&key.to_le_bytes());
            for w in &self.rows[key][..k] {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<Ovr, ModelError> {
        let err = |m: &str| ModelError(m.to_string());
        let mut r = Reader { b, at: 0 };
        if r.take(8)? != MAGIC {
            return Err(err("not a glas one-vs-rest model (bad magic)"));
        }
        let k = r.u32()? as usize;
        if k == 0 || k > MAX_CLASSES {
            return Err(err(&format!("{k} classes")));
        }
        let classes = (0..k).map(|_| r.name()).collect::<Result<Vec<_>, _>>()?;
        let count = r.u32()? as usize;
        if count > 1024 {
            return Err(err(&format!("{count} settings")));
        }
        let mut settings = Vec::with_capacity(count);
        for _ in 0..count {
            settings.push((r.name()?, r.f32()?));
        }
        let scale = r.f32()?;
        let n = r.u32()? as usize;
        let bias = (0..k).map(|_| r.f32()).collect::<Result<Vec<_>, _>>()?;
        let body = &b[r.at..];
        let stride = 8 + 2 * k;
        if body.len() != n * stride {
            return Err(err(&format!("{n} features announced, {} bytes follow", body.len())));
        }
        let mut rows = HashMap::with_capacity_and_hasher(n, Default::default());
        for c in body.chunks_exact(stride) {
            let mut row = [0i16; MAX_CLASSES];
            for (j, w) in row[..k].iter_mut().enumerate() {
                *w = i16::from_le_bytes([c[8 + 2 * j], c[9 + 2 * j]]);
            }
            rows.insert(u64::from_le_bytes(c[..8].try_into().expect("8 bytes")), row);
        }
        Ok(Ovr { classes, bias, settings, scale, rows })
    }
}

/// Reads the serialized form front to back.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ModelError> {
        let s = self.b.get(self.at..self.at + n).ok_or_else(|| ModelError("truncated".into()))?;
        self.at += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn name(&mut self) -> Result<String, ModelError> {
        let n = u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")) as usize;
        std::str::from_utf8(self.take(n)?).map(str::to_string).map_err(|_| ModelError("a name is not UTF-8".into()))
    }
}

/// Which texts a first fit holds out to choose thresholds on (a fifth, by a
/// hash of the text, so the split does not depend on order).
pub fn held_out(text: &str) -> bool {
    glas_core::fnv1a(text.bytes()).is_multiple_of(5)
}

pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// One training example: its features, the classes it belongs to, and the
/// classes it teaches (a corpus without topic labels teaches only the
/// complaint decision), each with a weight.
pub struct Example {
    pub features: FeatureVec,
    /// Per class: `None` (not taught by this example) or (target, weight).
    pub targets: Vec<Option<(bool, f32)>>,
}

/// Hyper-parameters of [`fit`] and of the sentiment model's trainer
/// ([`crate::sentiment::train::fit`]); the default is [`fit`]'s.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub epochs: usize,
    /// AdaGrad step.
    pub rate: f32,
    /// L2 penalty per update.
    pub l2: f32,
    /// Features seen in fewer training texts are dropped.
    pub min_count: u32,
    /// Features whose weights all stay below this are dropped after
    /// training: fewer features, fewer cache misses per text.
    pub prune: f32,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params { epochs: 15, rate: 0.1, l2: 1e-5, min_count: 3, prune: 0.02, seed: 0x0c0d }
    }
}

/// Trains the classes' sigmoids by AdaGrad, deterministically: a fixed seed
/// orders the examples and features are indexed in key order.
pub fn fit(classes: &[&str], examples: &[Example], p: &Params) -> Ovr {
    let k = classes.len();
    assert!(k <= MAX_CLASSES, "at most {MAX_CLASSES} classes");
    let (keys, rows) = sparse_rows(examples.iter().map(|e| &e.features), p.min_count);
    let mut w = vec![0f32; keys.len() * k];
    let mut g = vec![1e-6f32; keys.len() * k];
    let (mut bias, mut gb) = (vec![0f32; k], vec![1e-6f32; k]);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = p.seed | 1;
    for _ in 0..p.epochs {
        shuffle(&mut order, &mut rng);
        for &n in &order {
            let (row, e) = (&rows[n], &examples[n]);
            for (c, target) in e.targets.iter().enumerate() {
                let Some((y, weight)) = *target else { continue };
                let mut z = bias[c];
                for &(j, v) in row {
                    z += v * w[j as usize * k + c];
                }
                let d = (sigmoid(z) - if y { 1.0 } else { 0.0 }) * weight;
                gb[c] += d * d;
                bias[c] -= p.rate * d / gb[c].sqrt();
                for &(j, v) in row {
                    let at = j as usize * k + c;
                    let grad = d * v + p.l2 * w[at];
                    g[at] += grad * grad;
                    w[at] -= p.rate * grad / g[at].sqrt();
                }
            }
        }
    }
    // Quantized to 16 bits here, so the model in memory is the one its file holds.
    let scale = w.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6) / f32::from(i16::MAX);
    let mut rows = HashMap::with_capacity_and_hasher(keys.len(), Default::default());
    for (i, key) in keys.into_iter().enumerate() {
        let r = &w[i * k..(i + 1) * k];
        if r.iter().any(|x| x.abs() >= p.prune.max(1e-6)) {
            let mut row = [0i16; MAX_CLASSES];
            for (q, x) in row.iter_mut().zip(r) {
                *q = (x / scale).round() as i16;
            }
            rows.insert(key, row);
        }
    }
    Ovr { classes: classes.iter().map(|c| c.to_string()).collect(), bias, settings: Vec::new(), scale, rows }
}

/// The vocabulary of a training set, features seen in at least `min_count`
/// texts in key order, and every text as (feature index, value) sorted by
/// index: the deterministic input of both trainers.
pub(crate) fn sparse_rows<'a>(
    texts: impl Iterator<Item = &'a FeatureVec> + Clone,
    min_count: u32,
) -> (Vec<u64>, Vec<Vec<(u32, f32)>>) {
    let mut df: HashMap<u64, u32> = HashMap::new();
    for f in texts.clone() {
        let mut seen: Vec<u64> = f.items.iter().map(|x| x.0).collect();
        seen.sort_unstable();
        seen.dedup();
        for key in seen {
            *df.entry(key).or_default() += 1;
        }
    }
    let mut keys: Vec<u64> = df.into_iter().filter(|&(_, n)| n >= min_count).map(|(key, _)| key).collect();
    keys.sort_unstable();
    let position: HashMap<u64, u32> = keys.iter().enumerate().map(|(i, &key)| (key, i as u32)).collect();
    let rows = texts
        .map(|f| {
            let mut row: BTreeMap<u32, f32> = BTreeMap::new();
            for &(key, v, _) in &f.items {
                if let Some(&i) = position.get(&key) {
                    *row.entry(i).or_default() += v;
                }
            }
            row.into_iter().collect()
        })
        .collect();
    (keys, rows)
}

/// One epoch's order: a Fisher-Yates shuffle by xorshift, the same on every machine.
pub(crate) fn shuffle(order: &mut [usize], rng: &mut u64) {
    for i in (1..order.len()).rev() {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        order.swap(i, (*rng % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fv(keys: &[u64]) -> FeatureVec {
        FeatureVec { items: keys.iter().map(|&k| (k, 1.0, 0)).collect() }
    }

    #[test]
    fn learns_two_labels_and_round_trips() {
        // Feature 1 means class a, feature 2 class b; 3 is noise in every text.
        let mut examples = Vec::new();
        for keys in [&[1u64, 3][..], &[2, 3], &[1, 2, 3], &[3]] {
            for _ in 0..5 {
                let (a, b) = (keys.contains(&1), keys.contains(&2));
                examples.push(Example { features: fv(keys), targets: vec![Some((a, 1.0)), Some((b, 1.0))] });
            }
        }
        let m = fit(&["a", "b"], &examples, &Params { min_count: 1, ..Params::default() });
        let mut z = Vec::new();
        m.scores(&fv(&[1, 3]), &mut z);
        assert!(z[0] > 0.0 && z[1] < 0.0, "{z:?}");
        m.scores(&fv(&[2, 3]), &mut z);
        assert!(z[0] < 0.0 && z[1] > 0.0, "{z:?}");
        let again = Ovr::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(again.classes, ["a", "b"]);
        let mut z2 = Vec::new();
        again.scores(&fv(&[2, 3]), &mut z2);
        assert_eq!(z, z2, "the model in memory is the one its file holds");
        assert_eq!(again, m);
        assert_eq!(m.to_bytes(), again.to_bytes(), "serialization is stable");
        assert!(Ovr::from_bytes(b"GLASOV01").is_err());
        assert!(Ovr::from_bytes(&m.to_bytes()[..40]).is_err());
    }

    #[test]
    fn an_example_teaches_only_its_classes() {
        // Class b is never taught: its weights stay at zero.
        let examples: Vec<Example> = (0..10)
            .map(|i| Example { features: fv(&[1 + i % 2]), targets: vec![Some((i % 2 == 0, 1.0)), None] })
            .collect();
        let m = fit(&["a", "b"], &examples, &Params { min_count: 1, ..Params::default() });
        assert!(m.weight(1, 1) == 0.0 && m.bias[1] == 0.0);
    }
}
