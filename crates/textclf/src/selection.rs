//! Model selection: cross-validated grid search over a [`Grid`], refit of
//! the winner, and its test-set evaluation.
//!
//! Determinism: splits and folds are seeded (`split`), every fit is
//! single-threaded, and parallelism only
//! spreads independent (vectorizer, fold) tasks over threads, with results
//! gathered by index. Same data + same seed gives the same model bytes at
//! any thread count.

use crate::crossval::{CvData, argmax, candidate_bytes, cross_validate, task_bytes};
use crate::error::{Result, TextClfError};
use crate::grid::{Candidate, Grid};
use crate::halving::{self, Eliminated, Round, best_first};
use crate::linear::ClassifierConfig;
use crate::model::{self, TextClassifier, encode_labels};
use crate::scoring::Scratch;
use crate::split::{by_class, stratified_split};
use crate::tokenizer::Tokenizer;
use crate::vectorizer::{self, Vocabulary};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How a search spends its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// The full grid up to [`HALVING_FROM`] training rows, successive
    /// halving from there (and always with a time budget).
    #[default]
    Auto,
    /// Every candidate on every fold of all training rows.
    Full,
    /// Successive halving (see `halving`).
    Halving,
}

/// From this many training rows, [`Strategy::Auto`] halves.
pub const HALVING_FROM: usize = 20_000;

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Strategy, String> {
        match s {
            "auto" => Ok(Strategy::Auto),
            "full" => Ok(Strategy::Full),
            "halving" => Ok(Strategy::Halving),
            other => Err(format!("unknown search strategy {other:?}: use auto, full or halving")),
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
    pub strategy: Strategy,
    /// Stop evaluating candidates when the search would take longer (the
    /// best ones so far continue); implies successive halving. Results then
    /// depend on the machine's speed.
    pub time_budget: Option<Duration>,
    /// Run fewer folds at once when they would need more memory than this
    /// (bytes); `None`: the memory available when the search starts.
    pub max_memory: Option<u64>,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            folds: 5,
            test_size: 0.2,
            seed: 42,
            grid: None,
            strategy: Strategy::Auto,
            time_budget: None,
            max_memory: None,
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
    /// The training rows it was cross-validated on (fewer than all for a
    /// candidate successive halving dropped early).
    pub rows: usize,
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
    /// `"full"` or `"halving"`.
    pub strategy: &'static str,
    /// Halving's rounds (one for the full grid).
    pub rounds: Vec<Round>,
    /// Candidates dropped before the last round, and why.
    pub eliminated: Vec<Eliminated>,
    /// Folds cross-validated at once (bounded by memory).
    pub threads: usize,
    /// Candidates of the grid left out because one fit of them needs more
    /// than the memory limit (`max_memory`, else the memory available).
    pub skipped_for_memory: Vec<SkippedForMemory>,
}

/// A candidate left out of a search for its memory.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedForMemory {
    pub candidate: Candidate,
    /// The estimated peak of one of its fits, in bytes.
    pub needs: u64,
    /// What the limit leaves for fits beside the data and its index.
    pub limit: u64,
}

impl SearchReport {
    pub fn winner(&self) -> &CandidateResult {
        &self.candidates[self.best]
    }
}

/// Progress of a search: `done` of `total` fits (candidates × folds per
/// round, plus the final refit; a time budget can lower `total`), and the
/// round under way: its training rows and candidates.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub rows: usize,
    pub candidates: usize,
    pub round: usize,
    pub rounds: usize,
    /// Seconds left, estimated from what the fits so far cost (None before
    /// the first fit).
    pub eta: Option<f64>,
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
    // A time budget counts from here: tokenizing and indexing are part of
    // the search a user waits for.
    let started = Instant::now();
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
    // One tokenizer at a time: its term lists live only until they are
    // indexed (for character n-grams they are the largest thing in memory).
    let mut indexed: HashMap<Tokenizer, vectorizer::IndexedDocs> = HashMap::new();
    for c in &candidates {
        indexed
            .entry(c.vectorizer.tokenizer)
            .or_insert_with(|| vectorizer::index_texts(&c.vectorizer.tokenizer, texts));
    }
    // The limit, read once: given, else what is available now. A given
    // limit bounds the whole process's peak, so the folds get what the
    // texts and their index (resident now) leave of it.
    let limit = match config.max_memory {
        Some(l) => {
            let held = resident_bytes();
            if held >= l {
                return Err(TextClfError::InvalidInput(format!(
                    "the data and its index take {} already, more than the memory limit of {}: raise --max-memory / max_memory, or train on less data",
                    megabytes(held),
                    megabytes(l)
                )));
            }
            Some((
                l - held,
                "the memory limit (--max-memory / max_memory) less what the data and its index hold",
            ))
        }
        None => available_memory().map(|l| (l, "the memory available now (MemAvailable)")),
    };
    let (candidates, skipped_for_memory) = within_memory(candidates, limit, &y, k, &indexed, &train)?;
    let data = CvData {
        y: &y,
        k,
        candidates: &candidates,
        indexed: &indexed,
    };
    let all: Vec<usize> = (0..candidates.len()).collect();
    let threads = threads_within(limit.map(|(l, _)| l), task_bytes(&data, &all, &train));
    let halve = match config.strategy {
        Strategy::Full => false,
        Strategy::Halving => true,
        Strategy::Auto => config.time_budget.is_some() || train.len() >= HALVING_FROM,
    };
    let plan = if halve {
        halving::plan(candidates.len(), train.len())
    } else {
        vec![(train.len(), candidates.len())]
    };
    let total = AtomicUsize::new(plan.iter().map(|&(_, c)| c * config.folds).sum::<usize>() + 1);
    let done = AtomicUsize::new(0);
    let round = std::sync::Mutex::new((0usize, 0usize, 0usize));
    let eta = crate::eta::Eta::new(started);
    let report = |d: usize| {
        let (r, rows, cands) = *round.lock().unwrap_or_else(|p| p.into_inner());
        let total = total.load(Ordering::Relaxed);
        progress(Progress {
            done: d,
            total,
            rows,
            candidates: cands,
            round: r,
            rounds: plan.len(),
            eta: eta.seconds_left(d, total),
        });
    };
    let on_fit = || report(done.fetch_add(1, Ordering::Relaxed) + 1);
    let on_round = |r: usize, rows: usize, cands: usize, projection: Option<halving::Projection>| {
        eta.round(done.load(Ordering::Relaxed), cands * config.folds, projection);
        // A round the time budget shrank shrinks the total.
        let remaining = cands * config.folds
            + plan[r + 1..]
                .iter()
                .map(|&(_, c)| c.min(cands) * config.folds)
                .sum::<usize>()
            + 1;
        total.store(done.load(Ordering::Relaxed) + remaining, Ordering::Relaxed);
        *round.lock().unwrap_or_else(|p| p.into_inner()) = (r, rows, cands);
    };
    let outcome = if halve {
        halving::run(
            &data,
            &train,
            config.folds,
            config.seed,
            threads,
            config.time_budget.map(|b| (started, b)),
            &on_round,
            &on_fit,
        )?
    } else {
        on_round(0, train.len(), candidates.len(), None);
        let (scores, costs) = cross_validate(&data, &all, &train, config.folds, config.seed, threads, &on_fit)?;
        let means: Vec<f64> = scores.iter().map(|s| s.iter().sum::<f64>() / s.len() as f64).collect();
        let finalists = best_first(&candidates, &all, &means);
        halving::Outcome {
            refit_seconds: halving::refit_seconds(&all, &costs, train.len(), finalists[0], config.folds, threads),
            finalists,
            scores: scores.into_iter().map(|s| Some((s, train.len()))).collect(),
            rounds: vec![Round {
                rows: train.len(),
                candidates: candidates.len(),
                seconds: started.elapsed().as_secs_f64(),
            }],
            eliminated: Vec::new(),
        }
    };
    let results: Vec<CandidateResult> = candidates
        .iter()
        .zip(outcome.scores)
        .map(|(c, scored)| {
            let (scores, rows) = scored.unwrap_or_default();
            let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
            let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len().max(1) as f64;
            CandidateResult {
                candidate: *c,
                hyperparameters: model::hyperparameters(&c.vectorizer, &c.classifier),
                fold_scores: scores,
                mean,
                std: var.sqrt(),
                rows,
            }
        })
        .collect();
    let best = outcome.finalists.first().copied().unwrap_or(0);
    let outcome_refit = outcome.refit_seconds;
    let total = total.load(Ordering::Relaxed);

    // Refit the winner on the whole training split; score it on the test
    // split. Progress says so, with what the refit should take: after the
    // last fold fit, the only estimate shown would otherwise be the one
    // made before the last round.
    {
        let (r, _, _) = *round.lock().unwrap_or_else(|p| p.into_inner());
        progress(Progress {
            done: total.saturating_sub(1),
            total,
            rows: train.len(),
            candidates: 1,
            round: r,
            rounds: plan.len(),
            eta: Some(outcome_refit),
        });
    }
    let winner = candidates[best];
    let train_texts: Vec<&str> = train.iter().map(|&r| texts[r]).collect();
    // The winner's documents are indexed already (its folds used the
    // index): its matrix comes from there, the same as tokenizing the
    // training texts again would give (on the tweets that took 0.4 s and
    // 74 MB), and the other tokenizers' indexes go first.
    let docs = indexed.remove(&winner.vectorizer.tokenizer).ok_or_else(|| {
        TextClfError::InvalidInput("internal error: the winner's tokenizer has no index (please report it)".into())
    })?;
    drop(indexed);
    let (fitted, x) = vectorizer::fit_transform_indexed(&winner.vectorizer, &docs, &train);
    drop(docs);
    let vocabulary = Vocabulary::new(&fitted.ids);
    let train_y: Vec<u32> = train.iter().map(|&r| y[r]).collect();
    let model = TextClassifier::fit_matrix(
        &train_texts,
        &names,
        &train_y,
        winner.vectorizer,
        winner.classifier,
        fitted,
        vocabulary,
        x,
    )?;
    {
        let (r, _, _) = *round.lock().unwrap_or_else(|p| p.into_inner());
        progress(Progress {
            done: total,
            total,
            rows: train.len(),
            candidates: 1,
            round: r,
            rounds: plan.len(),
            eta: Some(0.0),
        });
    }
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
            strategy: if halve { "halving" } else { "full" },
            rounds: outcome.rounds,
            eliminated: outcome.eliminated,
            threads,
            skipped_for_memory,
        },
    ))
}

/// The candidates one fit of which fits in `limit` (bytes, and what they
/// are for the message), and those left out; an error naming the smallest
/// need when none fits. No limit known: all of them.
fn within_memory(
    candidates: Vec<Candidate>,
    limit: Option<(u64, &str)>,
    y: &[u32],
    k: usize,
    indexed: &HashMap<Tokenizer, vectorizer::IndexedDocs>,
    train: &[usize],
) -> Result<(Vec<Candidate>, Vec<SkippedForMemory>)> {
    let Some((limit, source)) = limit else {
        return Ok((candidates, Vec::new()));
    };
    let probe = CvData {
        y,
        k,
        candidates: &candidates,
        indexed,
    };
    let needs: Vec<u64> = (0..candidates.len())
        .map(|i| candidate_bytes(&probe, i, train))
        .collect();
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for (candidate, needs) in candidates.iter().zip(&needs) {
        if *needs <= limit {
            kept.push(*candidate);
        } else {
            skipped.push(SkippedForMemory {
                candidate: *candidate,
                needs: *needs,
                limit,
            });
        }
    }
    if kept.is_empty() {
        let smallest = needs.iter().copied().min().unwrap_or(0);
        return Err(TextClfError::InvalidInput(format!(
            "no candidate of the grid fits in {} of {source}: the smallest needs about {} ({k} labels, each with a weight per term); raise the limit, lower max_features in the grid, or train on fewer labels",
            megabytes(limit),
            megabytes(smallest)
        )));
    }
    Ok((kept, skipped))
}

/// In MiB, the unit `--max-memory 512M` means.
fn megabytes(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// How many folds may run at once: every thread, unless `limit` holds
/// fewer tasks of `task` bytes.
fn threads_within(limit: Option<u64>, task: u64) -> usize {
    let all = rayon::current_num_threads().max(1);
    let Some(limit) = limit else {
        return all;
    };
    all.min((limit / task.max(1)).max(1) as usize)
}

/// This process's resident set (`VmRSS` of /proc/self/status; 0 where
/// there is none).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// `MemAvailable` of /proc/meminfo, where there is one.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
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
