//! Accuracy figures for classifiers: per-class precision, recall, F1 and the
//! macro average, the measure the sentiment goals are stated in.

use std::collections::BTreeMap;

/// Per-class counts of a labelled evaluation.
#[derive(Debug, Clone, Default)]
pub struct Confusion {
    /// (gold, predicted) → count
    cells: BTreeMap<(String, String), u64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassScore {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

impl Confusion {
    pub fn add(&mut self, gold: &str, predicted: &str) {
        *self.cells.entry((gold.to_string(), predicted.to_string())).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.cells.values().sum()
    }

    pub fn accuracy(&self) -> f64 {
        let right: u64 = self.cells.iter().filter(|((g, p), _)| g == p).map(|(_, n)| n).sum();
        right as f64 / self.total().max(1) as f64
    }

    /// Scores of every class seen as gold, in name order.
    pub fn classes(&self) -> Vec<ClassScore> {
        let mut names: Vec<&String> = self.cells.keys().map(|(g, _)| g).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|c| {
                let tp = self.cells.get(&(c.clone(), c.clone())).copied().unwrap_or(0) as f64;
                let predicted: u64 = self.cells.iter().filter(|((_, p), _)| p == c).map(|(_, n)| n).sum();
                let support: u64 = self.cells.iter().filter(|((g, _), _)| g == c).map(|(_, n)| n).sum();
                let precision = if predicted == 0 { 0.0 } else { tp / predicted as f64 };
                let recall = if support == 0 { 0.0 } else { tp / support as f64 };
                let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
                ClassScore { class: c.clone(), precision, recall, f1, support }
            })
            .collect()
    }

    /// The unweighted mean of the classes' F1.
    pub fn macro_f1(&self) -> f64 {
        let classes = self.classes();
        classes.iter().map(|c| c.f1).sum::<f64>() / classes.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_by_hand() {
        let mut c = Confusion::default();
        for (g, p) in [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b"), ("b", "a"), ("c", "c")] {
            c.add(g, p);
        }
        // a: P 2/3 R 2/3; b: P 1/2 R 1/2; c: P 1 R 1.
        let f = (2.0 / 3.0 + 0.5 + 1.0) / 3.0;
        assert!((c.macro_f1() - f).abs() < 1e-9);
        assert!((c.accuracy() - 4.0 / 6.0).abs() < 1e-9);
    }
}
