//! Model selection: cross-validated grid search over a [`Grid`], refit of
//! the winner, and its test-set evaluation.
//!
//! Determinism: splits and folds are seeded (`split`), every fit is
//! single-threaded, and parallelism only
//! spreads independent (vectorizer, fold) tasks over threads, with results
//! gathered by index. Same data + same seed gives the same model bytes at
//! any thread count.

use crate::error::{Result, TextClfError};
use crate::grid::{Candidate, Grid};
use crate::linear::ClassifierConfig;
use crate::model::{self, TextClassifier, encode_labels, fit_classifier};
use crate::scoring::Scratch;
use crate::split::{by_class, stratified_folds, stratified_split};
use crate::tokenizer::Tokenizer;
use crate::vectorizer::{self, VectorizerConfig};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Settings of a search.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    pub folds: usize,
    pub test_size: f64,
    pub seed: u64,
    /// `None`: [`Grid::default_for`] the number of labels.
    pub grid: Option<Grid>,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            folds: 5,
            test_size: 0.2,
            seed: 42,
            grid: None,
        }
    }
}

/// Cross-validation result of one candidate.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateResult {
    pub candidate: Candidate,
    pub hyperparameters: serde_json::Map<String, serde_json::Value>,
    pub fold_scores: Vec<f64>,
    pub mean: f64,
    /// Population standard deviation of the fold scores (as scikit-learn).
    pub std: f64,
}

/// Scores of a model on labelled data: accuracy and the confusion matrix
/// (per-label precision and recall follow from it; the registry's
/// `metrics::ClassificationMetrics` derives them where they are recorded).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evaluation {
    pub accuracy: f64,
    /// `confusion[true][predicted]`, in `labels` order.
    pub confusion: Vec<Vec<u64>>,
    pub labels: Vec<String>,
}

impl Evaluation {
    /// Compares true and predicted label indices.
    pub fn new(labels: &[String], truth: &[u32], predicted: &[u32]) -> Evaluation {
        let k = labels.len();
        let mut confusion = vec![vec![0u64; k]; k];
        for (&t, &p) in truth.iter().zip(predicted) {
            confusion[t as usize][p as usize] += 1;
        }
        let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
        Evaluation {
            accuracy: correct as f64 / truth.len().max(1) as f64,
            confusion,
            labels: labels.to_vec(),
        }
    }
}

/// Everything a search found.
#[derive(Debug, Clone, Serialize)]
pub struct SearchReport {
    pub candidates: Vec<CandidateResult>,
    /// Index of the winner in `candidates`.
    pub best: usize,
    pub test: Evaluation,
    pub n_train: usize,
    pub n_test: usize,
    pub folds: usize,
    pub seed: u64,
}

impl SearchReport {
    pub fn winner(&self) -> &CandidateResult {
        &self.candidates[self.best]
    }
}

/// Progress of a search: `done` of `total` fits (candidates × folds, plus
/// the final refit).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// Runs the whole selection: split, cross-validate every candidate, refit
/// the best on the training split, and score it on the test split.
pub fn grid_search(
    texts: &[&str],
    labels: &[String],
    config: &SearchConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(TextClassifier, SearchReport)> {
    if texts.len() != labels.len() {
        return Err(TextClfError::InvalidInput(format!(
            "{} texts but {} labels",
            texts.len(),
            labels.len()
        )));
    }
    if config.folds < 2 {
        return Err(TextClfError::InvalidInput(format!(
            "cross-validation needs at least 2 folds, got {}",
            config.folds
        )));
    }
    if !(config.test_size > 0.0 && config.test_size < 1.0) {
        return Err(TextClfError::InvalidInput(format!(
            "test size must be a fraction between 0 and 1 (exclusive), got {}",
            config.test_size
        )));
    }
    let (names, y) = encode_labels(labels)?;
    let k = names.len();
    let grid = config.grid.clone().unwrap_or_else(|| Grid::default_for(k));
    let candidates = grid.candidates()?;
    if k != 2
        && let Some(c) = candidates
            .iter()
            .find(|c| matches!(c.classifier, ClassifierConfig::NbLogisticRegression { .. }))
    {
        return Err(TextClfError::InvalidGrid(format!(
            "{:?} needs exactly two labels, the data has {k}",
            c.classifier
        )));
    }
    let (train, test) = stratified_split(&y, k, config.test_size, config.seed);
    for (class, rows) in by_class(&y, &train, k).iter().enumerate() {
        if rows.len() < config.folds {
            return Err(TextClfError::TooFewExamples {
                label: names[class].clone(),
                count: rows.len(),
                folds: config.folds,
            });
        }
    }
    let folds = stratified_folds(&y, &train, k, config.folds, config.seed);

    // Group candidates by vectorizer: each (vectorizer, fold) is vectorised
    // once and all its classifiers are fitted on it.
    let mut groups: Vec<(VectorizerConfig, Vec<usize>)> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        match groups.iter_mut().find(|(v, _)| *v == c.vectorizer) {
            Some((_, members)) => members.push(i),
            None => groups.push((c.vectorizer, vec![i])),
        }
    }
    // Within a group, logistic regressions in increasing C, so each warm
    // starts from the last (a stronger regularised solution is close).
    for (_, members) in groups.iter_mut() {
        members.sort_by(|&a, &b| {
            let key = |i: usize| match candidates[i].classifier {
                ClassifierConfig::MultinomialNb { alpha } => (0, alpha, 0.0),
                ClassifierConfig::LogisticRegression { c } => (1, c, 0.0),
                ClassifierConfig::NbLogisticRegression { alpha, c } => (2, alpha, c),
            };
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(ka.2.total_cmp(&kb.2))
        });
    }

    // One tokenizer at a time: its term lists live only until they are
    // indexed (for character n-grams they are the largest thing in memory).
    let mut indexed: HashMap<Tokenizer, vectorizer::IndexedDocs> = HashMap::new();
    for (v, _) in &groups {
        indexed
            .entry(v.tokenizer)
            .or_insert_with(|| vectorizer::index_documents(&v.tokenizer.tokenize_all(texts)));
    }

    let total = candidates.len() * config.folds + 1;
    let done = AtomicUsize::new(0);
    let tasks: Vec<(usize, usize)> = (0..groups.len())
        .flat_map(|g| (0..config.folds).map(move |f| (g, f)))
        .collect();
    let scores: Vec<Vec<(usize, usize, f64)>> = tasks
        .par_iter()
        .map(|&(g, f)| -> Result<Vec<(usize, usize, f64)>> {
            let (vconf, members) = &groups[g];
            let val_rows = &folds[f];
            let train_rows: Vec<usize> = folds
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != f)
                .flat_map(|(_, rows)| rows.iter().copied())
                .collect();
            let train_y: Vec<u32> = train_rows.iter().map(|&r| y[r]).collect();
            let (x_train, x_val) = vectorizer::fold_matrices(vconf, &indexed[&vconf.tokenizer], &train_rows, val_rows);
            let mut out = Vec::new();
            let mut warm: Option<(&'static str, Vec<f64>)> = None;
            let mut probs = Vec::new();
            for &ci in members {
                let classifier = candidates[ci].classifier;
                let start = warm
                    .as_ref()
                    .filter(|(family, _)| *family == classifier.family())
                    .map(|(_, p)| p.as_slice());
                let (model, params) = fit_classifier(&x_train, &train_y, k, classifier, start)?;
                if let Some(p) = params {
                    warm = Some((classifier.family(), p));
                }
                let mut correct = 0usize;
                for (i, &r) in val_rows.iter().enumerate() {
                    let (idx, val) = x_val.row(i);
                    let row: Vec<(u32, f32)> = idx.iter().copied().zip(val.iter().copied()).collect();
                    model.probabilities(&row, &mut probs);
                    let best = argmax(&probs);
                    correct += (best == y[r] as usize) as usize;
                }
                out.push((ci, f, correct as f64 / val_rows.len() as f64));
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(Progress { done: d, total });
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;

    let mut fold_scores = vec![vec![0.0; config.folds]; candidates.len()];
    for (ci, f, s) in scores.into_iter().flatten() {
        fold_scores[ci][f] = s;
    }
    let results: Vec<CandidateResult> = candidates
        .iter()
        .zip(fold_scores)
        .map(|(c, scores)| {
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64;
            CandidateResult {
                candidate: *c,
                hyperparameters: model::hyperparameters(&c.vectorizer, &c.classifier),
                fold_scores: scores,
                mean,
                std: var.sqrt(),
            }
        })
        .collect();
    let best = (0..results.len())
        .min_by(|&a, &b| {
            results[b].mean.total_cmp(&results[a].mean).then_with(|| {
                let (sa, sb) = (candidates[a].simplicity(), candidates[b].simplicity());
                sa.iter()
                    .zip(&sb)
                    .map(|(x, y)| x.total_cmp(y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        })
        .unwrap_or(0);

    // Refit the winner on the whole training split; score it on the test split.
    let winner = candidates[best];
    let train_texts: Vec<&str> = train.iter().map(|&r| texts[r]).collect();
    drop(indexed);
    let docs = winner.vectorizer.tokenizer.tokenize_all(&train_texts);
    let train_docs: Vec<&[u64]> = docs.iter().map(Vec::as_slice).collect();
    let train_y: Vec<u32> = train.iter().map(|&r| y[r]).collect();
    let (model, _) = TextClassifier::fit_tokenized(
        &train_texts,
        &train_docs,
        &names,
        &train_y,
        winner.vectorizer,
        winner.classifier,
        None,
    )?;
    progress(Progress { done: total, total });
    let mut scratch = Scratch::default();
    let predicted: Vec<u32> = test
        .iter()
        .map(|&r| argmax(model.predict_proba_with(texts[r], &mut scratch)) as u32)
        .collect();
    let truth: Vec<u32> = test.iter().map(|&r| y[r]).collect();
    let evaluation = Evaluation::new(&names, &truth, &predicted);
    Ok((
        model,
        SearchReport {
            candidates: results,
            best,
            test: evaluation,
            n_train: train.len(),
            n_test: test.len(),
            folds: config.folds,
            seed: config.seed,
        },
    ))
}

fn argmax(p: &[f64]) -> usize {
    p.iter()
        .enumerate()
        .fold(
            (0, f64::NEG_INFINITY),
            |(bi, bp), (i, &v)| if v > bp { (i, v) } else { (bi, bp) },
        )
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluation_metrics_by_hand() {
        let labels = vec!["neg".to_string(), "pos".to_string()];
        // truth: 3 neg, 2 pos; predicted: neg neg pos | pos neg
        let e = Evaluation::new(&labels, &[0, 0, 0, 1, 1], &[0, 0, 1, 1, 0]);
        assert!((e.accuracy - 0.6).abs() < 1e-12);
        assert_eq!(e.confusion, vec![vec![2, 1], vec![1, 1]]);
    }
}
