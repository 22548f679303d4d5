//! The layout of a classifier's test metrics inside `metadata.json`'s
//! `metrics` object, defined once: the trainer writes it, the report and
//! the CLI read it back (any other tool may write it too).
//!
//! ```json
//! "metrics": {
//!   "accuracy": 0.79,
//!   "labels": ["negative", "positive"],
//!   "confusion": [[1000, 270], [260, 1020]],
//!   "per_label": [{"label": "negative", "precision": 0.79, "recall": 0.79, "f1": 0.79, "support": 1270}, ...]
//! }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Key of the test accuracy in `metrics`.
pub const ACCURACY: &str = "accuracy";
/// Key of the label names, in the order of the confusion matrix.
pub const LABELS: &str = "labels";
/// Key of the confusion matrix, `confusion[true][predicted]`.
pub const CONFUSION: &str = "confusion";
/// Key of the per-label precision, recall, F1 and support.
pub const PER_LABEL: &str = "per_label";

/// Precision, recall, F1 and support of one label on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

/// Counts of (true label, predicted label) on the test split.
#[derive(Debug, Clone, PartialEq)]
pub struct Confusion {
    pub labels: Vec<String>,
    /// `counts[true][predicted]`, square, one row and column per label.
    pub counts: Vec<Vec<u64>>,
}

/// A classifier's test metrics, derived from its confusion matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationMetrics {
    pub accuracy: f64,
    pub per_label: Vec<LabelMetrics>,
    pub confusion: Confusion,
}

impl Confusion {
    /// The matrix if `metrics` holds a well-formed one: square, one row and
    /// column per label, non-negative integer counts.
    pub fn read(metrics: &Map<String, Value>) -> Option<Confusion> {
        let labels: Vec<String> = metrics
            .get(LABELS)?
            .as_array()?
            .iter()
            .map(|l| l.as_str().map(str::to_string))
            .collect::<Option<_>>()?;
        let counts: Vec<Vec<u64>> = metrics
            .get(CONFUSION)?
            .as_array()?
            .iter()
            .map(|row| row.as_array()?.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
            .collect::<Option<_>>()?;
        let square = counts.len() == labels.len() && counts.iter().all(|row| row.len() == labels.len());
        (square && !labels.is_empty()).then_some(Confusion { labels, counts })
    }
}

impl LabelMetrics {
    /// The per-label rows of `metrics` that are well-formed (others are
    /// skipped: metadata from other tools may hold anything).
    pub fn read_all(metrics: &Map<String, Value>) -> Vec<LabelMetrics> {
        let Some(Value::Array(rows)) = metrics.get(PER_LABEL) else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(|row| serde_json::from_value(row.clone()).ok())
            .collect()
    }
}

impl ClassificationMetrics {
    /// Accuracy and per-label precision, recall and F1 from a confusion
    /// matrix (a label never predicted has precision 0, as scikit-learn's
    /// `zero_division=0`).
    pub fn from_confusion(confusion: Confusion) -> ClassificationMetrics {
        let counts = &confusion.counts;
        let k = confusion.labels.len();
        let total: u64 = counts.iter().flatten().sum();
        let correct: u64 = (0..k).map(|i| counts[i][i]).sum();
        let per_label = (0..k)
            .map(|i| {
                let tp = counts[i][i] as f64;
                let predicted: u64 = (0..k).map(|t| counts[t][i]).sum();
                let support: u64 = counts[i].iter().sum();
                let precision = if predicted > 0 { tp / predicted as f64 } else { 0.0 };
                let recall = if support > 0 { tp / support as f64 } else { 0.0 };
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                LabelMetrics {
                    label: confusion.labels[i].clone(),
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        ClassificationMetrics {
            accuracy: correct as f64 / total.max(1) as f64,
            per_label,
            confusion,
        }
    }

    /// Writes these metrics into a version's `metrics` object.
    pub fn write_into(&self, metrics: &mut Map<String, Value>) {
        metrics.insert(ACCURACY.into(), serde_json::json!(self.accuracy));
        metrics.insert(PER_LABEL.into(), serde_json::json!(self.per_label));
        metrics.insert(CONFUSION.into(), serde_json::json!(self.confusion.counts));
        metrics.insert(LABELS.into(), serde_json::json!(self.confusion.labels));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand_and_round_trip() {
        let labels = vec!["neg".to_string(), "pos".to_string()];
        // truth: 3 neg, 2 pos; predicted: neg neg pos | pos neg
        let m = ClassificationMetrics::from_confusion(Confusion {
            labels,
            counts: vec![vec![2, 1], vec![1, 1]],
        });
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        assert!((m.per_label[1].precision - 0.5).abs() < 1e-12);
        assert!((m.per_label[1].recall - 0.5).abs() < 1e-12);
        assert!((m.per_label[0].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.per_label[0].support, 3);
        let mut map = Map::new();
        m.write_into(&mut map);
        assert_eq!(Confusion::read(&map), Some(m.confusion.clone()));
        assert_eq!(LabelMetrics::read_all(&map), m.per_label);
    }

    #[test]
    fn malformed_metrics_are_not_read() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"labels": ["a", "b"], "confusion": [[1, 2]], "per_label": [{"label": "a"}, 7]}"#)
                .unwrap();
        assert_eq!(Confusion::read(&map), None, "not square");
        assert!(LabelMetrics::read_all(&map).is_empty());
    }
}
