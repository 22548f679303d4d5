//! The search space: [`Grid`]s of [`SubGrid`]s, each a cartesian product of
//! vectorizer and classifier settings, and the [`Candidate`]s they expand to.

use crate::error::{Result, TextClfError};
use crate::linear::ClassifierConfig;
use crate::tokenizer::Tokenizer;
use crate::vectorizer::{TfMode, VectorizerConfig};
use serde::{Deserialize, Serialize};

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
    pub(crate) fn simplicity(&self) -> [f64; 5] {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
