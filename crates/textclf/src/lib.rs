//! `textclf`: fast, accurate text classification on sparse features.
//!
//! * [`Tokenizer`]: Unicode-aware words (lower-cased, in-word apostrophes
//!   kept), word n-grams and optional character n-grams inside words,
//!   identified by 64-bit hashes so the hot path allocates nothing per token.
//! * The vectorizer ([`VectorizerConfig`]): vocabulary (`min_df`, `max_df`, `max_features`)
//!   and TF-IDF exactly as scikit-learn's `TfidfVectorizer` defines it.
//! * Classifiers ([`ClassifierConfig`]): multinomial naive Bayes, logistic
//!   regression (binary and multinomial) and NB-weighted logistic
//!   regression, all trained on sparse matrices.
//! * [`TextClassifier`]: the fitted pipeline; `predict`, `predict_proba`,
//!   batch versions; serialisable with serde ([`TextClassifier::to_bytes`]).
//! * [`grid_search`]: stratified split, stratified k-fold CV over a [`Grid`],
//!   refit, and test metrics, on all cores and deterministic.
//! * [`Dataset`]: TSV/CSV loading with errors that name file and line.
//!
//! # Where smartcore fits
//!
//! `smartcore` has no tokenizer or vectorizer, works on dense matrices only
//! (10,000 documents × 20,000 features is 1.6 GB as `f64`), has no
//! `predict_proba` for naive Bayes or logistic regression, and its
//! `MultinomialNB` takes integer counts only. Its logistic regression took
//! 28–190 s per fit on 10,000 × 5,000 TF-IDF features on this machine, where
//! the sparse dual coordinate-descent solver here takes ~80 ms; a grid
//! search runs about a hundred fits. So every training and prediction path here is
//! sparse, and smartcore is the *reference*: the test suite checks that this
//! crate's naive Bayes and logistic regression give the same predictions as
//! smartcore's `MultinomialNB` and `LogisticRegression` on data small enough
//! to densify (`tests/smartcore_agreement.rs`).
//!
//! # Example
//!
//! ```
//! use textclf::{ClassifierConfig, TextClassifier, VectorizerConfig};
//!
//! let texts = ["a great film", "great fun", "a dull film", "dull and slow"];
//! let labels: Vec<String> = ["pos", "pos", "neg", "neg"].iter().map(|s| s.to_string()).collect();
//! let model = TextClassifier::fit(
//!     &texts,
//!     &labels,
//!     VectorizerConfig::default(),
//!     ClassifierConfig::LogisticRegression { c: 10.0 },
//! )?;
//! assert_eq!(model.predict("great").label, "pos");
//! let restored = TextClassifier::from_bytes(&model.to_bytes()?)?;
//! assert_eq!(restored, model);
//! # Ok::<(), textclf::TextClfError>(())
//! ```

mod ascii_words;
mod crossval;
mod dataset;
mod dual_cd;
mod error;
mod eta;
mod grid;
mod halving;
mod ids;
mod indexed;
mod linear;
mod model;
mod optimize;
mod raw;
mod scoring;
mod selection;
mod sparse;
mod split;
mod tokenizer;
pub mod trace;
mod validate;
mod vectorizer;

pub use dataset::Dataset;
pub use error::{Result, TextClfError};
pub use grid::{Candidate, ClassifierGrid, Grid, SubGrid};
pub use halving::{Eliminated, Round};
pub use linear::{ClassifierConfig, LinearModel};
pub use model::{MODEL_FORMAT, NAMED_FEATURES, TextClassifier, hyperparameters};
pub use scoring::{Prediction, Scratch};
pub use selection::SkippedForMemory;
pub use selection::{
    CandidateResult, Evaluation, HALVING_FROM, Progress, SearchConfig, SearchReport, Strategy, grid_search,
};
pub use split::{stratified_folds, stratified_split};
pub use tokenizer::{TokenScratch, Tokenizer};
pub use vectorizer::{TfMode, VectorizerConfig};

/// Internals exposed for benchmarks and agreement tests; not a stable API.
#[doc(hidden)]
pub mod internals {
    pub use crate::linear::{fit_logistic_regression, fit_multinomial_nb};
    pub use crate::sparse::Csr;
    pub use crate::vectorizer::fit_transform_texts;
}

/// The `model_type` string to record in registry metadata.
pub fn model_type() -> String {
    format!("textclf.TextClassifier/{MODEL_FORMAT}")
}
