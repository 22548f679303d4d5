//! Model selection: stratified train/test split, stratified k-fold
//! cross-validation, grid search, and test-set metrics.
//!
//! Determinism: shuffles use splitmix64 seeded by the caller (its output is
//! fixed by its definition, unlike `rand`'s `StdRng`, which may change
//! between releases), every fit is single-threaded, and parallelism only
//! spreads independent (vectorizer, fold) tasks over threads, with results
//! gathered by index. Same data + same seed gives the same model bytes at
//! any thread count.

use crate::error::{Result, TextClfError};
use crate::linear::ClassifierConfig;
use crate::pipeline::{self, Scratch, TextClassifier, encode_labels, fit_classifier, tokenize_all};
use crate::tokenizer::Tokenizer;
use crate::vectorizer::{self, TfMode, VectorizerConfig};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// splitmix64: a tiny generator whose output is fixed by its definition.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn by_class(y: &[u32], rows: &[usize], k: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); k];
    for &r in rows {
        out[y[r] as usize].push(r);
    }
    out
}

/// Splits row indices into (train, test), keeping each class's share; at
/// least one example of each class stays in train.
pub fn stratified_split(y: &[u32], k: usize, test_size: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SplitMix(seed);
    let all: Vec<usize> = (0..y.len()).collect();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut rows in by_class(y, &all, k) {
        rng.shuffle(&mut rows);
        let n_test = ((rows.len() as f64 * test_size).round() as usize).min(rows.len().saturating_sub(1));
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Stratified k-fold over `rows`: each class is shuffled and dealt round
/// robin, so folds are disjoint, cover `rows`, and differ in size by at most
/// one per class. Returns the validation rows of each fold.
pub fn stratified_folds(y: &[u32], rows: &[usize], k: usize, folds: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = SplitMix(seed ^ 0xF01D);
    let mut out = vec![Vec::new(); folds];
    let mut next = 0;
    for mut class_rows in by_class(y, rows, k) {
        rng.shuffle(&mut class_rows);
        for r in class_rows {
            out[next % folds].push(r);
            next += 1;
        }
    }
    for f in &mut out {
        f.sort_unstable();
    }
    out
}

/// Which classifiers a sub-grid tries, each with its list of values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClassifierGrid {
    MultinomialNb { alpha: Vec<f64> },
    LogisticRegression { c: Vec<f64> },
    NbLogisticRegression { alpha: Vec<f64>, c: Vec<f64> },
}

fn d_ngram() -> Vec<u8> {
    vec![1, 2]
}
fn d_char() -> Vec<Option<(u8, u8)>> {
    vec![None]
}
fn d_min_df() -> Vec<u32> {
    vec![1]
}
fn d_max_df() -> Vec<f64> {
    vec![1.0]
}
fn d_max_features() -> Vec<Option<u32>> {
    vec![None]
}
fn d_tf() -> Vec<TfMode> {
    vec![TfMode::Sublinear]
}
fn d_true() -> Vec<bool> {
    vec![true]
}

/// A cartesian product of vectorizer and classifier settings, like one dict
/// of scikit-learn's `param_grid`. Omitted lists take the default shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubGrid {
    #[serde(default = "d_ngram")]
    pub ngram_max: Vec<u8>,
    #[serde(default = "d_true")]
    pub lowercase: Vec<bool>,
    /// Character n-gram length ranges, `[lo, hi]`, or null for none.
    #[serde(default = "d_char")]
    pub char_ngrams: Vec<Option<(u8, u8)>>,
    #[serde(default = "d_min_df")]
    pub min_df: Vec<u32>,
    #[serde(default = "d_max_df")]
    pub max_df: Vec<f64>,
    #[serde(default = "d_max_features")]
    pub max_features: Vec<Option<u32>>,
    #[serde(default = "d_tf")]
    pub tf: Vec<TfMode>,
    #[serde(default = "d_true")]
    pub idf: Vec<bool>,
    #[serde(default = "d_true")]
    pub l2_norm: Vec<bool>,
    pub classifier: ClassifierGrid,
}

/// A search space: the union of its sub-grids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grid(pub Vec<SubGrid>);

/// One point of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub vectorizer: VectorizerConfig,
    pub classifier: ClassifierConfig,
}

impl Candidate {
    /// Smaller is simpler; used to break ties in mean CV score. Naive Bayes
    /// before logistic regression before NB-weighted LR, fewer n-grams, a
    /// larger `min_df`, stronger regularisation or smoothing.
    fn simplicity(&self) -> [f64; 5] {
        let (family, reg) = match self.classifier {
            ClassifierConfig::MultinomialNb { alpha } => (0.0, -alpha),
            ClassifierConfig::LogisticRegression { c } => (1.0, c),
            ClassifierConfig::NbLogisticRegression { c, alpha } => (2.0, c - alpha * 1e-6),
        };
        [
            family,
            self.vectorizer.tokenizer.ngram_max as f64,
            -(self.vectorizer.min_df as f64),
            self.vectorizer.max_features.map_or(f64::INFINITY, |m| m as f64),
            reg,
        ]
    }
}

impl Grid {
    /// The default search space: the scikit-learn-style baselines (TF-IDF +
    /// logistic regression over words and bigrams, multinomial naive Bayes on
    /// binary bigram features) and, for two labels, NB-weighted logistic
    /// regression on words, bigrams and character 2–5-grams, which is the
    /// strongest on the Rotten Tomatoes snippets (CV 0.784 against 0.782 for
    /// the best baseline; see docs/PERFORMANCE.md). Its features are raw
    /// counts, with each distinct word's character n-grams counted once, so a
    /// document's score is a sum over its words and the model precomputes
    /// every known word's character n-gram score: prediction then costs about
    /// what a words-only model costs. A word-only grid is in
    /// `fixtures/grids/words-only.json`.
    pub fn default_for(n_labels: usize) -> Grid {
        let mut grid = vec![
            SubGrid {
                ngram_max: vec![1, 2],
                min_df: vec![1, 2],
                tf: vec![TfMode::Sublinear],
                ..SubGrid::with(ClassifierGrid::LogisticRegression {
                    c: vec![1.0, 10.0, 30.0],
                })
            },
            SubGrid {
                ngram_max: vec![2],
                min_df: vec![1],
                tf: vec![TfMode::Binary],
                idf: vec![false],
                l2_norm: vec![false],
                ..SubGrid::with(ClassifierGrid::MultinomialNb {
                    alpha: vec![0.1, 0.5, 1.0],
                })
            },
        ];
        if n_labels == 2 {
            grid.push(SubGrid {
                ngram_max: vec![2],
                char_ngrams: vec![Some((2, 5))],
                min_df: vec![2],
                tf: vec![TfMode::Raw],
                idf: vec![false],
                l2_norm: vec![false],
                ..SubGrid::with(ClassifierGrid::NbLogisticRegression {
                    alpha: vec![1.0],
                    c: vec![0.1, 0.3],
                })
            });
        }
        Grid(grid)
    }

    /// Reads a grid from JSON (`.json`) or TOML (anything else: a table with
    /// a `grid` array of sub-grids).
    pub fn from_json(text: &str) -> Result<Grid> {
        serde_json::from_str(text).map_err(|e| TextClfError::InvalidGrid(e.to_string()))
    }

    /// Every candidate, in grid order; errors on empty lists or values out
    /// of range.
    pub fn candidates(&self) -> Result<Vec<Candidate>> {
        let bad = |m: String| Err(TextClfError::InvalidGrid(m));
        if self.0.is_empty() {
            return bad("it has no sub-grids".into());
        }
        let mut out = Vec::new();
        for (i, g) in self.0.iter().enumerate() {
            let lists = [
                ("ngram_max", g.ngram_max.len()),
                ("lowercase", g.lowercase.len()),
                ("char_ngrams", g.char_ngrams.len()),
                ("min_df", g.min_df.len()),
                ("max_df", g.max_df.len()),
                ("max_features", g.max_features.len()),
                ("tf", g.tf.len()),
                ("idf", g.idf.len()),
                ("l2_norm", g.l2_norm.len()),
            ];
            if let Some((name, _)) = lists.iter().find(|(_, n)| *n == 0) {
                return bad(format!("sub-grid {i}: `{name}` is an empty list"));
            }
            if let Some(n) = g.ngram_max.iter().find(|&&n| !(1..=3).contains(&n)) {
                return bad(format!("sub-grid {i}: ngram_max {n} is not 1, 2 or 3"));
            }
            if let Some((lo, hi)) = g
                .char_ngrams
                .iter()
                .flatten()
                .find(|(lo, hi)| !(1..=8).contains(lo) || hi < lo || *hi > 8)
            {
                return bad(format!(
                    "sub-grid {i}: char_ngrams [{lo}, {hi}] must satisfy 1 <= lo <= hi <= 8"
                ));
            }
            if g.min_df.contains(&0) {
                return bad(format!("sub-grid {i}: min_df must be at least 1"));
            }
            if let Some(m) = g.max_df.iter().find(|&&m| !(m > 0.0 && m <= 1.0)) {
                return bad(format!("sub-grid {i}: max_df {m} is not in (0, 1]"));
            }
            let classifiers: Vec<ClassifierConfig> = match &g.classifier {
                ClassifierGrid::MultinomialNb { alpha } => alpha
                    .iter()
                    .map(|&alpha| ClassifierConfig::MultinomialNb { alpha })
                    .collect(),
                ClassifierGrid::LogisticRegression { c } => {
                    c.iter().map(|&c| ClassifierConfig::LogisticRegression { c }).collect()
                }
                ClassifierGrid::NbLogisticRegression { alpha, c } => alpha
                    .iter()
                    .flat_map(|&alpha| {
                        c.iter()
                            .map(move |&c| ClassifierConfig::NbLogisticRegression { alpha, c })
                    })
                    .collect(),
            };
            if classifiers.is_empty() {
                return bad(format!("sub-grid {i}: the classifier has an empty list of values"));
            }
            for c in &classifiers {
                let ok = match *c {
                    ClassifierConfig::MultinomialNb { alpha } => alpha > 0.0 && alpha.is_finite(),
                    ClassifierConfig::LogisticRegression { c } => c > 0.0 && c.is_finite(),
                    ClassifierConfig::NbLogisticRegression { alpha, c } => {
                        alpha > 0.0 && c > 0.0 && alpha.is_finite() && c.is_finite()
                    }
                };
                if !ok {
                    return bad(format!("sub-grid {i}: {c:?} needs positive, finite values"));
                }
            }
            for &ngram_max in &g.ngram_max {
                for (&lowercase, &char_ngrams) in g
                    .lowercase
                    .iter()
                    .flat_map(|l| g.char_ngrams.iter().map(move |c| (l, c)))
                {
                    for &min_df in &g.min_df {
                        for &max_df in &g.max_df {
                            for &max_features in &g.max_features {
                                for &tf in &g.tf {
                                    for &idf in &g.idf {
                                        for &l2_norm in &g.l2_norm {
                                            let vectorizer = VectorizerConfig {
                                                tokenizer: Tokenizer {
                                                    lowercase,
                                                    ngram_max,
                                                    char_ngrams,
                                                },
                                                min_df,
                                                max_df,
                                                max_features,
                                                tf,
                                                idf,
                                                l2_norm,
                                            };
                                            for &classifier in &classifiers {
                                                out.push(Candidate { vectorizer, classifier });
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

impl SubGrid {
    fn with(classifier: ClassifierGrid) -> SubGrid {
        SubGrid {
            ngram_max: d_ngram(),
            lowercase: d_true(),
            char_ngrams: d_char(),
            min_df: d_min_df(),
            max_df: d_max_df(),
            max_features: d_max_features(),
            tf: d_tf(),
            idf: d_true(),
            l2_norm: d_true(),
            classifier,
        }
    }
}

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
            .or_insert_with(|| vectorizer::index_documents(&tokenize_all(v, texts)));
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
                hyperparameters: pipeline::hyperparameters(&c.vectorizer, &c.classifier),
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
    let docs = tokenize_all(&winner.vectorizer, &train_texts);
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
    fn split_is_stratified_disjoint_and_covering() {
        let y: Vec<u32> = (0..1000).map(|i| if i % 4 == 0 { 1 } else { 0 }).collect();
        let (train, test) = stratified_split(&y, 2, 0.2, 7);
        assert_eq!(train.len() + test.len(), 1000);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(test.iter().filter(|&&r| y[r] == 1).count(), 50);
        assert_eq!(test.len(), 200);
        assert_eq!(stratified_split(&y, 2, 0.2, 7), (train.clone(), test.clone()), "seeded");
        assert_ne!(stratified_split(&y, 2, 0.2, 8).1, test);
    }

    #[test]
    fn folds_are_stratified_disjoint_and_covering() {
        let y: Vec<u32> = (0..103).map(|i| (i % 3 == 0) as u32).collect();
        let rows: Vec<usize> = (0..103).collect();
        let folds = stratified_folds(&y, &rows, 2, 5, 1);
        let mut all: Vec<usize> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, rows, "disjoint and covering");
        let positives: Vec<usize> = folds.iter().map(|f| f.iter().filter(|&&r| y[r] == 1).count()).collect();
        assert!(
            positives.iter().max().unwrap() - positives.iter().min().unwrap() <= 1,
            "{positives:?}"
        );
        let sizes: Vec<usize> = folds.iter().map(Vec::len).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
    }

    #[test]
    fn grids_parse_and_validate() {
        let g =
            Grid::from_json(r#"[{"ngram_max":[1,2],"classifier":{"type":"logistic_regression","c":[1,10]}}]"#).unwrap();
        assert_eq!(g.candidates().unwrap().len(), 4);
        for bad in [
            r#"[]"#,
            r#"[{"ngram_max":[],"classifier":{"type":"logistic_regression","c":[1]}}]"#,
            r#"[{"classifier":{"type":"logistic_regression","c":[-1]}}]"#,
            r#"[{"ngram_max":[4],"classifier":{"type":"multinomial_nb","alpha":[1]}}]"#,
            r#"[{"min_df":[0],"classifier":{"type":"multinomial_nb","alpha":[1]}}]"#,
            r#"[{"classifier":{"type":"multinomial_nb","alpha":[]}}]"#,
        ] {
            assert!(Grid::from_json(bad).and_then(|g| g.candidates()).is_err(), "{bad}");
        }
        assert!(Grid::from_json(r#"[{"colour":[1],"classifier":{"type":"multinomial_nb","alpha":[1]}}]"#).is_err());
        assert_eq!(Grid::default_for(2).candidates().unwrap().len(), 12 + 3 + 2);
        assert_eq!(Grid::default_for(3).candidates().unwrap().len(), 12 + 3);
    }

    #[test]
    fn evaluation_metrics_by_hand() {
        let labels = vec!["neg".to_string(), "pos".to_string()];
        // truth: 3 neg, 2 pos; predicted: neg neg pos | pos neg
        let e = Evaluation::new(&labels, &[0, 0, 0, 1, 1], &[0, 0, 1, 1, 0]);
        assert!((e.accuracy - 0.6).abs() < 1e-12);
        assert_eq!(e.confusion, vec![vec![2, 1], vec![1, 1]]);
    }
}
