//! Checking a decoded [`TextClassifier`] before it is used.
//!
//! A model's bytes come from a registry that anyone with write access can
//! fill, and digests only prove the bytes are the ones sealed. So every
//! invariant the prediction code relies on is checked here, once, after
//! decoding: table shapes and load, every feature number in range, vector
//! lengths against the declared shapes, label and output counts, finite
//! numbers, term-name offsets. The prediction code is also written so that a
//! missed check cannot make it loop (look-ups probe each table once at most).

use crate::error::{Result, TextClfError};
use crate::model::TextClassifier;

/// A model with more labels than this is not one this crate trains.
const MAX_LABELS: usize = 1 << 16;

fn invalid(field: &str, reason: impl Into<String>) -> TextClfError {
    TextClfError::InvalidModel {
        field: field.to_string(),
        reason: reason.into(),
    }
}

fn finite(field: &str, values: &[f32]) -> Result<()> {
    // A branch-free pass first (it vectorises); the position only on failure.
    if values.iter().fold(true, |ok, v| ok & v.is_finite()) {
        return Ok(());
    }
    let i = values.iter().position(|v| !v.is_finite()).unwrap_or(0);
    Err(invalid(field, format!("entry {i} is {}", values[i])))
}

impl TextClassifier {
    /// Every invariant prediction relies on (see the module docs); the
    /// error names the field.
    pub(crate) fn validate(&self) -> Result<()> {
        let n_features = self.vocabulary.len();
        self.vocabulary.check().map_err(|r| invalid("vocabulary", r))?;

        let labels = self.labels.len();
        if !(2..=MAX_LABELS).contains(&labels) {
            return Err(invalid(
                "labels",
                format!("{labels} labels; a classifier has 2 to {MAX_LABELS}"),
            ));
        }
        let k = self.model.n_outputs as usize;
        let expected_outputs = if labels == 2 { 1 } else { labels };
        if k != expected_outputs {
            return Err(invalid(
                "model.n_outputs",
                format!("{k} outputs for {labels} labels (expected {expected_outputs})"),
            ));
        }
        let weights = n_features
            .checked_mul(k)
            .ok_or_else(|| invalid("model.weights", "features × outputs overflows"))?;
        if self.model.weights.len() != weights {
            return Err(invalid(
                "model.weights",
                format!(
                    "{} weights for {n_features} features × {k} outputs",
                    self.model.weights.len()
                ),
            ));
        }
        if self.model.bias.len() != k {
            return Err(invalid(
                "model.bias",
                format!("{} entries for {k} outputs", self.model.bias.len()),
            ));
        }
        finite("model.weights", &self.model.weights)?;
        finite("model.bias", &self.model.bias)?;

        let idf = &self.weighting.idf;
        if !idf.is_empty() && idf.len() != n_features {
            return Err(invalid(
                "weighting.idf",
                format!("{} entries for {n_features} features", idf.len()),
            ));
        }
        finite("weighting.idf", idf)?;

        if let Some((lo, hi)) = self.vectorizer.tokenizer.char_ngrams
            && (lo == 0 || lo > hi)
        {
            return Err(invalid(
                "vectorizer.char_ngrams",
                format!("({lo}, {hi}) is not 1 <= low <= high"),
            ));
        }

        let terms = &self.terms;
        if terms.features.len() != terms.ends.len() {
            return Err(invalid(
                "terms",
                format!("{} features but {} name ends", terms.features.len(), terms.ends.len()),
            ));
        }
        if let Some(f) = terms.features.iter().find(|&&f| f as usize >= n_features) {
            return Err(invalid(
                "terms.features",
                format!("feature {f} is not below {n_features}"),
            ));
        }
        let mut start = 0usize;
        for (i, &end) in terms.ends.iter().enumerate() {
            let end = end as usize;
            if end < start || end > terms.text.len() || !terms.text.is_char_boundary(end) {
                return Err(invalid(
                    "terms.ends",
                    format!("end {i} ({end}) is not a character boundary at or after {start} within the text"),
                ));
            }
            start = end;
        }

        if let Some(ws) = &self.word_scores {
            ws.words.check().map_err(|r| invalid("word_scores.words", r))?;
            let words = ws.words.len();
            if ws.features.len() != words {
                return Err(invalid(
                    "word_scores.features",
                    format!("{} entries for {words} words", ws.features.len()),
                ));
            }
            if let Some(f) = ws.features.iter().find(|&&f| f != u32::MAX && f as usize >= n_features) {
                return Err(invalid(
                    "word_scores.features",
                    format!("feature {f} is not below {n_features}"),
                ));
            }
            if Some(ws.scores.len()) != words.checked_mul(k) {
                return Err(invalid(
                    "word_scores.scores",
                    format!("{} entries for {words} words × {k} outputs", ws.scores.len()),
                ));
            }
            finite("word_scores.scores", &ws.scores)?;
        }
        if self.word_scores.is_some() != crate::model::additive_with_char_ngrams(&self.vectorizer, &self.weighting) {
            return Err(invalid(
                "word_scores",
                "present exactly when the model is additive with character n-grams, and it is not so here",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::ClassifierConfig;
    use crate::tokenizer::Tokenizer;
    use crate::vectorizer::{TfMode, VectorizerConfig};

    fn fitted(chars: bool) -> TextClassifier {
        let (texts, labels) = crate::model::tests_support::six_reviews();
        let config = VectorizerConfig {
            tokenizer: Tokenizer {
                lowercase: true,
                ngram_max: 2,
                char_ngrams: chars.then_some((2, 4)),
            },
            tf: if chars { TfMode::Raw } else { TfMode::Sublinear },
            idf: !chars,
            l2_norm: !chars,
            ..VectorizerConfig::default()
        };
        let classifier = if chars {
            ClassifierConfig::NbLogisticRegression { alpha: 1.0, c: 1.0 }
        } else {
            ClassifierConfig::LogisticRegression { c: 1.0 }
        };
        TextClassifier::fit(&texts, &labels, config, classifier).unwrap()
    }

    /// Encodes `model` as it is (consistent bytes, as a registry would seal
    /// them) and decodes it: must fail, naming `field`.
    fn refused(model: &TextClassifier, field: &str) {
        let bytes = model.to_bytes().unwrap();
        match TextClassifier::from_bytes(&bytes) {
            Ok(_) => panic!("a model with a bad {field} was accepted"),
            Err(e) => assert!(e.to_string().contains(field), "expected {field:?} in: {e}"),
        }
    }

    #[test]
    fn real_models_validate() {
        for chars in [false, true] {
            let m = fitted(chars);
            assert_eq!(TextClassifier::from_bytes(&m.to_bytes().unwrap()).unwrap(), m);
        }
    }

    #[test]
    fn every_broken_invariant_is_refused_by_name() {
        let good = fitted(true);
        let n = good.vocabulary.len();
        type Break = fn(&mut TextClassifier);
        let cases: Vec<(&str, Break)> = vec![
            ("vocabulary", |m| {
                // No empty slot: a look-up of an unknown term probed forever.
                let len = m.vocabulary.slots.len();
                m.vocabulary.slots = (0..len as u64).map(|i| (i << 32) | (i % 2)).collect();
            }),
            ("vocabulary", |m| m.vocabulary.slots.clear()),
            ("vocabulary", |m| {
                let s = m.vocabulary.slots.iter_mut().find(|s| **s != u64::MAX).unwrap();
                *s = (*s & 0xFFFF_FFFF_0000_0000) | 0xFFFF_FF00;
            }),
            ("vocabulary", |m| m.vocabulary.len += 1),
            ("vocabulary", |m| m.vocabulary.slots.truncate(7)),
            ("model.weights", |m| {
                m.model.weights.pop();
            }),
            ("model.weights", |m| m.model.weights[0] = f32::NAN),
            ("model.weights", |m| m.model.weights[1] = f32::INFINITY),
            ("model.bias", |m| m.model.bias.clear()),
            ("model.bias", |m| m.model.bias[0] = f32::NAN),
            ("model.n_outputs", |m| m.model.n_outputs = 0),
            ("model.n_outputs", |m| m.model.n_outputs = 2),
            ("labels", |m| m.labels.truncate(1)),
            ("labels", |m| m.labels.clear()),
            ("model.n_outputs", |m| m.labels.push("third".into())),
            ("terms", |m| {
                m.terms.ends.pop();
            }),
            ("terms.features", |m| m.terms.features[0] = u32::MAX - 1),
            ("terms.ends", |m| m.terms.ends[0] = m.terms.text.len() as u32 + 1),
            ("terms.ends", |m| {
                m.terms.text = "é".repeat(m.terms.text.len());
                m.terms.ends[0] = 1;
            }),
            ("word_scores.features", |m| {
                m.word_scores.as_mut().unwrap().features[0] = u32::MAX - 1;
            }),
            ("word_scores.features", |m| {
                m.word_scores.as_mut().unwrap().features.pop();
            }),
            ("word_scores.scores", |m| {
                m.word_scores.as_mut().unwrap().scores.pop();
            }),
            ("word_scores.scores", |m| {
                m.word_scores.as_mut().unwrap().scores[0] = f32::NAN
            }),
            ("word_scores.words", |m| {
                m.word_scores.as_mut().unwrap().words.slots.clear()
            }),
            ("word_scores", |m| m.word_scores = None),
            ("vectorizer.char_ngrams", |m| {
                m.vectorizer.tokenizer.char_ngrams = Some((0, 3))
            }),
            ("vectorizer.char_ngrams", |m| {
                m.vectorizer.tokenizer.char_ngrams = Some((4, 2))
            }),
        ];
        for (field, break_it) in cases {
            let mut m = good.clone();
            break_it(&mut m);
            refused(&m, field);
        }
        // The TF-IDF model: idf of the wrong length or not finite.
        let tfidf = fitted(false);
        let mut m = tfidf.clone();
        m.weighting.idf.pop();
        refused(&m, "weighting.idf");
        let mut m = tfidf.clone();
        m.weighting.idf[0] = f32::NAN;
        refused(&m, "weighting.idf");
        let mut m = tfidf;
        m.word_scores = good.word_scores.clone();
        refused(&m, "word_scores");
        assert!(n > 0);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = fitted(false).to_bytes().unwrap();
        bytes.push(0);
        let err = TextClassifier::from_bytes(&bytes).unwrap_err().to_string();
        assert!(err.contains("1 bytes after the model"), "{err}");
    }

    #[test]
    fn look_ups_in_a_full_table_end() {
        // Even if validation missed it, a table without an empty slot
        // cannot make a look-up loop.
        let full = crate::vectorizer::Vocabulary {
            slots: vec![7u64 << 32; 16],
            len: 16,
        };
        assert_eq!(full.get(12345), None);
        let empty = crate::vectorizer::Vocabulary {
            slots: Vec::new(),
            len: 0,
        };
        assert_eq!(empty.get(1), None);
    }
}
