//! Cross-validation of a set of candidates on a set of rows: the unit of
//! work of every search strategy (the full grid runs it once on all
//! training rows; successive halving once per round on a growing share).
//!
//! Work is split into (vectorizer, fold) tasks: each task vectorises its
//! fold once and fits all of that vectorizer's classifiers on it, logistic
//! regressions in increasing C so each warm-starts from the last. Tasks run
//! on at most `threads` threads; every fit is single-threaded and results
//! are gathered by index, so the scores do not depend on the thread count.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::error::{Result, TextClfError};
use crate::grid::Candidate;
use crate::linear::ClassifierConfig;
use crate::model::fit_classifier;
use crate::split::stratified_folds;
use crate::tokenizer::Tokenizer;
use crate::vectorizer::{self, IndexedDocs, VectorizerConfig};

/// One (candidate, fold) result: candidate index, fold, accuracy, seconds.
type FitResult = (usize, usize, f64, f64);

/// What every cross-validation of one search shares.
pub(crate) struct CvData<'a> {
    pub y: &'a [u32],
    pub k: usize,
    pub candidates: &'a [Candidate],
    pub indexed: &'a HashMap<Tokenizer, IndexedDocs>,
}

/// `members` grouped by vectorizer, each group's classifiers in warm-start
/// order.
fn groups(candidates: &[Candidate], members: &[usize]) -> Vec<(VectorizerConfig, Vec<usize>)> {
    let mut groups: Vec<(VectorizerConfig, Vec<usize>)> = Vec::new();
    for &i in members {
        let c = &candidates[i];
        match groups.iter_mut().find(|(v, _)| *v == c.vectorizer) {
            Some((_, list)) => list.push(i),
            None => groups.push((c.vectorizer, vec![i])),
        }
    }
    for (_, list) in groups.iter_mut() {
        list.sort_by(|&a, &b| {
            let key = |i: usize| match candidates[i].classifier {
                ClassifierConfig::MultinomialNb { alpha } => (0, alpha, 0.0),
                ClassifierConfig::LogisticRegression { c } => (1, c, 0.0),
                ClassifierConfig::NbLogisticRegression { alpha, c } => (2, alpha, c),
            };
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(ka.2.total_cmp(&kb.2))
        });
    }
    groups
}

/// A generous estimate of the memory one task needs on `rows`: its
/// training and validation matrices (index + value per non-zero), the
/// solver's copies of them, the per-term tables, and the largest of its
/// classifiers' per-label weights (see [`model_bytes`]). Used to bound how
/// many tasks run at once and to set aside what fits nowhere, not to
/// reserve anything.
pub(crate) fn task_bytes(data: &CvData<'_>, members: &[usize], rows: &[usize]) -> u64 {
    groups(data.candidates, members)
        .iter()
        .map(|(v, list)| {
            let model = list.iter().map(|&i| candidate_model_bytes(data, i)).max().unwrap_or(0);
            data_bytes(data, v, rows).saturating_add(model)
        })
        .max()
        .unwrap_or(0)
}

/// [`task_bytes`] of one candidate alone.
pub(crate) fn candidate_bytes(data: &CvData<'_>, candidate: usize, rows: &[usize]) -> u64 {
    data_bytes(data, &data.candidates[candidate].vectorizer, rows)
        .saturating_add(candidate_model_bytes(data, candidate))
}

fn data_bytes(data: &CvData<'_>, v: &VectorizerConfig, rows: &[usize]) -> u64 {
    let docs = &data.indexed[&v.tokenizer];
    let nnz: u64 = rows.iter().map(|&r| docs.rows.row(r).0.len() as u64).sum();
    nnz * 8 * 3 + docs.ids.len() as u64 * 24
}

fn candidate_model_bytes(data: &CvData<'_>, candidate: usize) -> u64 {
    let c = &data.candidates[candidate];
    let terms = data.indexed[&c.vectorizer.tokenizer].ids.len() as u64;
    let features = c.vectorizer.max_features.map_or(terms, |m| terms.min(u64::from(m)));
    model_bytes(&c.classifier, features, data.k as u64)
}

/// What fitting one classifier on `d` features and `k` labels holds at its
/// peak, besides the data: a `d × k` table per copy. Naive Bayes: the
/// counts and the weights (f64) and the model (f32). Two labels: a few
/// vectors of `d`. Multinomial logistic regression: L-BFGS's parameters,
/// gradient, direction and trial point and gradient, its 10 pairs of
/// history, the warm start kept for the next C, and the model — 27 tables,
/// which is what made 1,000 labels reach 5.7 GB.
pub(crate) fn model_bytes(classifier: &ClassifierConfig, d: u64, k: u64) -> u64 {
    let table = (d + 1).saturating_mul(k.max(1)).saturating_mul(8);
    match classifier {
        ClassifierConfig::MultinomialNb { .. } => table.saturating_mul(5) / 2,
        ClassifierConfig::LogisticRegression { .. } if k > 2 => table.saturating_mul(27),
        ClassifierConfig::LogisticRegression { .. } | ClassifierConfig::NbLogisticRegression { .. } => {
            (d + 1).saturating_mul(8 * 6)
        }
    }
}

/// Fold scores (accuracy) of every member, in `members` order, with
/// `folds` stratified folds of `rows` drawn with `seed`, and the seconds
/// each member cost (its fits, plus its share of vectorising the folds):
/// what a time budget projects from. `on_fit` is called after each
/// (candidate, fold) fit.
pub(crate) fn cross_validate(
    data: &CvData<'_>,
    members: &[usize],
    rows: &[usize],
    folds: usize,
    seed: u64,
    threads: usize,
    on_fit: &(dyn Fn() + Sync),
) -> Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let fold_rows = stratified_folds(data.y, rows, data.k, folds, seed);
    let groups = groups(data.candidates, members);
    let tasks: Vec<(usize, usize)> = (0..groups.len())
        .flat_map(|g| (0..folds).map(move |f| (g, f)))
        .collect();
    let run = || -> Result<Vec<Vec<FitResult>>> {
        tasks
            .par_iter()
            .map(|&(g, f)| fit_fold(data, &groups[g], &fold_rows, f, on_fit))
            .collect()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| TextClfError::InvalidInput(format!("cannot start {threads} worker threads: {e}")))?;
    let scores = pool.install(run)?;
    let position: HashMap<usize, usize> = members.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut out = vec![vec![0.0; folds]; members.len()];
    let mut seconds = vec![0.0; members.len()];
    for (ci, f, s, t) in scores.into_iter().flatten() {
        out[position[&ci]][f] = s;
        seconds[position[&ci]] += t;
    }
    Ok((out, seconds))
}

/// One task: vectorise fold `f` for one vectorizer, fit and score its
/// classifiers.
fn fit_fold(
    data: &CvData<'_>,
    (vconf, members): &(VectorizerConfig, Vec<usize>),
    folds: &[Vec<usize>],
    f: usize,
    on_fit: &(dyn Fn() + Sync),
) -> Result<Vec<FitResult>> {
    let started = std::time::Instant::now();
    let val_rows = &folds[f];
    let train_rows: Vec<usize> = folds
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != f)
        .flat_map(|(_, rows)| rows.iter().copied())
        .collect();
    let train_y: Vec<u32> = train_rows.iter().map(|&r| data.y[r]).collect();
    let (x_train, x_val) = vectorizer::fold_matrices(vconf, &data.indexed[&vconf.tokenizer], &train_rows, val_rows);
    // Vectorising is shared by the group's classifiers.
    let shared = started.elapsed().as_secs_f64() / members.len() as f64;
    let mut out = Vec::new();
    let mut warm: Option<(&'static str, crate::linear::Warm)> = None;
    let mut probs = Vec::new();
    for &ci in members {
        let fit_started = std::time::Instant::now();
        let classifier = data.candidates[ci].classifier;
        let start = warm
            .as_ref()
            .filter(|(family, _)| *family == classifier.family())
            .map(|(_, w)| w);
        let (model, params) = fit_classifier(&x_train, &train_y, data.k, classifier, start)?;
        if let Some(p) = params {
            warm = Some((classifier.family(), p));
        }
        let mut correct = 0usize;
        for (i, &r) in val_rows.iter().enumerate() {
            let (idx, val) = x_val.row(i);
            let row: Vec<(u32, f32)> = idx.iter().copied().zip(val.iter().copied()).collect();
            model.probabilities(&row, &mut probs);
            correct += (argmax(&probs) == data.y[r] as usize) as usize;
        }
        let seconds = shared + fit_started.elapsed().as_secs_f64();
        out.push((ci, f, correct as f64 / val_rows.len() as f64, seconds));
        on_fit();
    }
    Ok(out)
}

pub(crate) fn argmax(p: &[f64]) -> usize {
    p.iter()
        .enumerate()
        .fold(
            (0, f64::NEG_INFINITY),
            |(bi, bp), (i, &v)| if v > bp { (i, v) } else { (bi, bp) },
        )
        .0
}
