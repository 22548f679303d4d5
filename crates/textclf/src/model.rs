//! [`TextClassifier`]: tokenizer + vectorizer + classifier, trained
//! together and stored together. Prediction is in `scoring`.

use crate::error::{Result, TextClfError};
use crate::ids::{IdMap, IdSet};
use crate::linear::{self, ClassifierConfig, LinearModel};
use crate::sparse::Csr;
use crate::tokenizer::TokenScratch;
use crate::vectorizer::{self, PairTable, TfMode, ValueTable, VectorizerConfig, Vocabulary, Weighting};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version of this type's serialised layout; part of `model_type`.
pub const MODEL_FORMAT: u32 = 5;

/// How many of the most influential features keep their text in the model.
/// Naming every feature would triple the artifact (and so the time to read
/// and checksum it at every start); explanations need only the strongest.
pub const NAMED_FEATURES: usize = 2000;

/// Names of the most influential features, strongest first, stored as one
/// string and end offsets so that loading allocates twice, not per term.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TermList {
    #[serde(with = "crate::raw::u32s")]
    pub(crate) features: Vec<u32>,
    pub(crate) text: String,
    #[serde(with = "crate::raw::u32s")]
    pub(crate) ends: Vec<u32>,
}

impl TermList {
    pub(crate) fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }
}

/// A trained text classifier. Serialise it with [`TextClassifier::to_bytes`]
/// (postcard) or any serde format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextClassifier {
    pub(crate) labels: Vec<String>,
    pub(crate) vectorizer: VectorizerConfig,
    pub(crate) classifier: ClassifierConfig,
    pub(crate) vocabulary: Vocabulary,
    pub(crate) weighting: Weighting,
    pub(crate) model: LinearModel,
    pub(crate) terms: TermList,
    /// For additive models with character n-grams: every training word's
    /// character n-gram score, so prediction skips hashing and looking up
    /// ~20 n-grams per known word.
    pub(crate) word_scores: Option<WordScores>,
    /// Derived on first use from the fields above, for two-label additive
    /// models: term -> weight and word -> (weight, character n-gram score)
    /// tables that answer in one memory access.
    #[serde(skip)]
    pub(crate) direct: std::sync::OnceLock<Option<DirectTables>>,
}

/// Derived on first use for two-label additive models (see `scoring`):
/// term -> weight and word -> (weight, character n-gram score) tables that
/// answer in one memory access.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DirectTables {
    pub(crate) weights: ValueTable,
    pub(crate) ngram_weights: ValueTable,
    pub(crate) words: PairTable,
}

/// Each known word's feature number (`u32::MAX` if the word itself is not
/// a feature) and summed character n-gram weights (per output): one probe
/// per word instead of two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WordScores {
    pub(crate) words: Vocabulary,
    #[serde(with = "crate::raw::u32s")]
    pub(crate) features: Vec<u32>,
    #[serde(with = "crate::raw::f32s")]
    pub(crate) scores: Vec<f32>,
    /// The word n-grams (n >= 2) of the vocabulary, so that their weights
    /// can live in a table of their own, small enough to stay in cache.
    #[serde(with = "crate::raw::u64s")]
    pub(crate) ngrams: Vec<u64>,
}

/// Turns string labels into indices `0..k` in sorted label order.
pub(crate) fn encode_labels(labels: &[String]) -> Result<(Vec<String>, Vec<u32>)> {
    let names: Vec<String> = labels
        .iter()
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if names.len() < 2 {
        return Err(TextClfError::SingleClass {
            label: names.first().cloned().unwrap_or_default(),
        });
    }
    let index: BTreeMap<&str, u32> = names.iter().enumerate().map(|(i, l)| (l.as_str(), i as u32)).collect();
    let y = labels.iter().map(|l| index[l.as_str()]).collect();
    Ok((names, y))
}

impl TextClassifier {
    /// Fits vectorizer and classifier on `texts` with string `labels`.
    pub fn fit(
        texts: &[&str],
        labels: &[String],
        vectorizer: VectorizerConfig,
        classifier: ClassifierConfig,
    ) -> Result<TextClassifier> {
        if texts.len() != labels.len() {
            return Err(TextClfError::InvalidInput(format!(
                "{} texts but {} labels",
                texts.len(),
                labels.len()
            )));
        }
        let (names, y) = encode_labels(labels)?;
        let docs = vectorizer.tokenizer.tokenize_all(texts);
        let refs: Vec<&[u64]> = docs.iter().map(Vec::as_slice).collect();
        Self::fit_tokenized(texts, &refs, &names, &y, vectorizer, classifier)
    }

    /// Fits on documents already turned into term ids; `texts` is only used
    /// to name the features.
    pub(crate) fn fit_tokenized(
        texts: &[&str],
        docs: &[&[u64]],
        names: &[String],
        y: &[u32],
        vectorizer: VectorizerConfig,
        classifier: ClassifierConfig,
    ) -> Result<TextClassifier> {
        let fitted = vectorizer::fit_vocabulary(&vectorizer, docs);
        let vocabulary = Vocabulary::new(&fitted.ids);
        let x = vectorizer::transform(&vocabulary, &fitted.weighting, docs);
        Self::fit_matrix(texts, names, y, vectorizer, classifier, fitted, vocabulary, x)
    }

    /// Fits on the matrix `x` of a fitted vocabulary (`vocabulary` is the
    /// table of `fitted.ids`); `texts`, the documents of `x`'s rows, are
    /// only used to name the features.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fit_matrix(
        texts: &[&str],
        names: &[String],
        y: &[u32],
        vectorizer: VectorizerConfig,
        classifier: ClassifierConfig,
        fitted: vectorizer::FittedVocabulary,
        vocabulary: Vocabulary,
        x: Csr,
    ) -> Result<TextClassifier> {
        let (model, _) = fit_classifier(&x, y, names.len(), classifier, None)?;
        drop(x);
        let k = model.n_outputs as usize;
        let influence = |f: usize| -> f32 {
            model.weights[f * k..(f + 1) * k]
                .iter()
                .fold(0.0f32, |m, w| m.max(w.abs()))
        };
        let mut strongest: Vec<u32> = (0..fitted.ids.len() as u32).collect();
        strongest.sort_by(|&a, &b| influence(b as usize).total_cmp(&influence(a as usize)).then(a.cmp(&b)));
        strongest.truncate(NAMED_FEATURES);
        let wanted: IdMap<()> = strongest.iter().map(|&f| (fitted.ids[f as usize], ())).collect();
        let mut term_text: IdMap<String> = IdMap::default();
        for t in texts {
            if term_text.len() == wanted.len() {
                break;
            }
            vectorizer.tokenizer.named_terms(
                t,
                |id| wanted.contains_key(&id),
                |id, text| {
                    term_text.entry(id).or_insert_with(text);
                },
            );
        }
        let mut terms = TermList::default();
        for &f in &strongest {
            let id = fitted.ids[f as usize];
            terms.features.push(f);
            terms
                .text
                .push_str(term_text.get(&id).map(String::as_str).unwrap_or("?"));
            terms.ends.push(terms.text.len() as u32);
        }
        let word_scores = additive_with_char_ngrams(&vectorizer, &fitted.weighting)
            .then(|| word_scores(&vectorizer, &vocabulary, &model, texts));
        Ok(TextClassifier {
            labels: names.to_vec(),
            vectorizer,
            classifier,
            vocabulary,
            weighting: fitted.weighting,
            model,
            terms,
            word_scores,
            direct: std::sync::OnceLock::new(),
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn vectorizer_config(&self) -> &VectorizerConfig {
        &self.vectorizer
    }

    pub fn classifier_config(&self) -> &ClassifierConfig {
        &self.classifier
    }

    pub fn n_features(&self) -> usize {
        self.vocabulary.len()
    }

    /// The `n` most influential terms (at most [`NAMED_FEATURES`]), strongest
    /// first, with their weight per output (two-label models have one output:
    /// positive favours the second label).
    pub fn top_terms(&self, n: usize) -> Vec<(&str, &[f32])> {
        let k = self.model.n_outputs as usize;
        self.terms
            .features
            .iter()
            .take(n)
            .enumerate()
            .map(|(i, &f)| {
                (
                    self.terms.get(i),
                    &self.model.weights[f as usize * k..(f as usize + 1) * k],
                )
            })
            .collect()
    }

    /// The compact binary artifact (postcard).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        postcard::to_stdvec(self).map_err(|e| TextClfError::Serialization(e.to_string()))
    }

    /// Decodes a model stored with [`TextClassifier::to_bytes`] and checks
    /// every invariant prediction relies on: bytes from a registry are
    /// untrusted, whatever their digests say. Trailing bytes are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<TextClassifier> {
        let (model, rest): (TextClassifier, _) =
            postcard::take_from_bytes(bytes).map_err(|e| TextClfError::Serialization(e.to_string()))?;
        if !rest.is_empty() {
            return Err(TextClfError::InvalidModel {
                field: "(end)".into(),
                reason: format!("{} bytes after the model", rest.len()),
            });
        }
        model.validate()?;
        Ok(model)
    }

    /// The hyperparameters as a JSON object, for registry metadata.
    pub fn hyperparameters(&self) -> serde_json::Map<String, serde_json::Value> {
        hyperparameters(&self.vectorizer, &self.classifier)
    }
}

/// Whether a document's score is a plain sum over its terms' counts (raw
/// tf, no idf, no normalisation) and character n-grams are on: then each
/// known word's character n-gram score can be precomputed.
pub(crate) fn additive_with_char_ngrams(vectorizer: &VectorizerConfig, weighting: &Weighting) -> bool {
    vectorizer.tokenizer.char_ngrams.is_some()
        && weighting.tf == TfMode::Raw
        && weighting.idf.is_empty()
        && !weighting.l2_norm
}

/// Every distinct word of `texts` with the sum of its distinct character
/// n-grams' weights.
fn word_scores(
    vectorizer: &VectorizerConfig,
    vocabulary: &Vocabulary,
    model: &LinearModel,
    texts: &[&str],
) -> WordScores {
    let tokenizer = &vectorizer.tokenizer;
    let k = model.n_outputs as usize;
    let mut seen = IdSet::default();
    let mut ids = Vec::new();
    let mut features = Vec::new();
    let mut scores = Vec::new();
    let mut ngrams = Vec::new();
    let mut ngram_seen = IdSet::default();
    let (mut terms, mut grams) = (TokenScratch::default(), Vec::new());
    for text in texts {
        tokenizer.split_terms(text, &mut terms);
        for &id in &terms.ngrams {
            if vocabulary.get(id).is_some() && ngram_seen.insert(id) {
                ngrams.push(id);
            }
        }
        for i in 0..terms.words.len() {
            let id = terms.words[i];
            if !seen.insert(id) {
                continue;
            }
            grams.clear();
            tokenizer.char_ngrams_of(&mut terms, i, &mut grams);
            let mut z = vec![0.0f64; k];
            for &g in &grams {
                if let Some(f) = vocabulary.get(g) {
                    model.add_feature(f, 1.0, &mut z);
                }
            }
            ids.push(id);
            features.push(vocabulary.get(id).unwrap_or(u32::MAX));
            scores.extend(z.iter().map(|&v| v as f32));
        }
    }
    WordScores {
        words: Vocabulary::new(&ids),
        features,
        scores,
        ngrams,
    }
}

/// Flat JSON view of a candidate's hyperparameters.
pub fn hyperparameters(
    vectorizer: &VectorizerConfig,
    classifier: &ClassifierConfig,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    let mut m = serde_json::Map::new();
    m.insert("classifier".into(), json!(classifier.family()));
    match *classifier {
        ClassifierConfig::MultinomialNb { alpha } => {
            m.insert("alpha".into(), json!(alpha));
        }
        ClassifierConfig::LogisticRegression { c } => {
            m.insert("c".into(), json!(c));
        }
        ClassifierConfig::NbLogisticRegression { alpha, c } => {
            m.insert("alpha".into(), json!(alpha));
            m.insert("c".into(), json!(c));
        }
    }
    m.insert("ngram_max".into(), json!(vectorizer.tokenizer.ngram_max));
    m.insert("lowercase".into(), json!(vectorizer.tokenizer.lowercase));
    m.insert("char_ngrams".into(), json!(vectorizer.tokenizer.char_ngrams));
    m.insert("min_df".into(), json!(vectorizer.min_df));
    m.insert("max_df".into(), json!(vectorizer.max_df));
    m.insert("max_features".into(), json!(vectorizer.max_features));
    m.insert("tf".into(), json!(vectorizer.tf));
    m.insert("idf".into(), json!(vectorizer.idf));
    m.insert("l2_norm".into(), json!(vectorizer.l2_norm));
    m
}

/// Fits one classifier on a weighted matrix.
pub(crate) fn fit_classifier(
    x: &Csr,
    y: &[u32],
    k: usize,
    config: ClassifierConfig,
    warm: Option<&linear::Warm>,
) -> Result<(LinearModel, Option<linear::Warm>)> {
    let started = std::time::Instant::now();
    let fit = match config {
        ClassifierConfig::MultinomialNb { alpha } => {
            let model = linear::fit_multinomial_nb(x, y, k, alpha);
            if crate::trace::enabled() {
                trace_fit(x, config, 0, Vec::new(), started.elapsed().as_secs_f64());
            }
            // Naive Bayes has nothing to warm-start another fit from.
            return Ok((model, None));
        }
        ClassifierConfig::LogisticRegression { c } => linear::fit_logistic_regression(x, y, k, c, warm),
        ClassifierConfig::NbLogisticRegression { alpha, c } => {
            if k != 2 {
                return Err(TextClfError::InvalidInput(format!(
                    "nb_logistic_regression needs exactly two labels, the data has {k}"
                )));
            }
            linear::fit_nb_logistic_regression(x, y, alpha, c, warm)
        }
    };
    if crate::trace::enabled() {
        trace_fit(x, config, fit.iterations, fit.passes, started.elapsed().as_secs_f64());
    }
    Ok((fit.model, Some(fit.warm)))
}

/// The fit's record for [`crate::trace`]. The row norms are of `x` as
/// given (NB-weighted logistic regression scales it first; its solver
/// sees the scaled rows, whose norms its passes reflect).
fn trace_fit(x: &Csr, config: ClassifierConfig, iterations: usize, passes: Vec<crate::trace::Pass>, seconds: f64) {
    let norms: Vec<f64> = (0..x.n_rows())
        .map(|i| 1.0 + x.row(i).1.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>())
        .collect();
    crate::trace::emit(&crate::trace::FitTrace {
        classifier: format!("{config:?}"),
        rows: x.n_rows(),
        features: x.n_cols,
        nnz: x.indices.len(),
        row_norm_sq_mean: norms.iter().sum::<f64>() / norms.len().max(1) as f64,
        row_norm_sq_max: norms.iter().copied().fold(0.0, f64::max),
        iterations,
        passes,
        seconds,
        at: crate::trace::now(),
    });
}

/// Training data shared by the unit tests of `scoring` and `validate`.
#[cfg(test)]
pub(crate) mod tests_support {
    /// Six film-review snippets, three positive, three negative.
    pub(crate) fn six_reviews() -> ([&'static str; 6], Vec<String>) {
        let texts = [
            "a wonderful, moving film",
            "dull and lifeless, a waste",
            "wonderful wonderful acting",
            "the plot is dull",
            "moving performances, great cast",
            "a lifeless waste of time",
        ];
        let labels = ["pos", "neg", "pos", "neg", "pos", "neg"].map(String::from).to_vec();
        (texts, labels)
    }
}
