//! Prediction: from a text to each label's probability, by the shortest
//! path the model allows, each path held to the same answers (see the
//! property test in `tests/scoring_paths.rs`).

use crate::model::{DirectTables, TextClassifier, WordScores};
use crate::tokenizer::TokenScratch;
use crate::vectorizer::Vocabulary;
use serde::Serialize;

/// After this many predictions through one [`Scratch`], two-label additive
/// models switch to their direct tables.
const DIRECT_AFTER: u32 = 64;

/// Reusable buffers for predicting many texts without allocating.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Predictions made with this scratch space (saturating).
    predictions: u32,
    tokens: TokenScratch,
    ids: Vec<u64>,
    features: Vec<u32>,
    row: Vec<(u32, f32)>,
    probs: Vec<f64>,
    grams: Vec<u64>,
    unseen: UnseenWordCache,
}

/// The character n-gram score of words the model never saw, remembered per
/// [`Scratch`]. A known word's score is a table read; an unseen word's
/// takes hashing and looking up its ~20 n-grams (~5,000 instructions, 12 %
/// of a batch's time on the Rotten Tomatoes snippets), and unseen words
/// repeat in a batch like all words do (names, typos, rare inflections).
/// Direct-mapped by word id: 4,096 slots, 64 KB, no eviction logic.
#[derive(Debug, Default)]
struct UnseenWordCache {
    slots: Vec<(u64, f64)>,
}

impl UnseenWordCache {
    const SLOTS: usize = 4096;
    /// Never a stored id: a word hashing to it is simply not cached.
    const EMPTY: u64 = u64::MAX;

    fn get(&self, id: u64) -> Option<f64> {
        let &(key, score) = self.slots.get(id as usize % Self::SLOTS)?;
        (key == id && id != Self::EMPTY).then_some(score)
    }

    fn put(&mut self, id: u64, score: f64) {
        if self.slots.is_empty() {
            self.slots = vec![(Self::EMPTY, 0.0); Self::SLOTS];
        }
        self.slots[id as usize % Self::SLOTS] = (id, score);
    }
}

/// One prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction<'m> {
    pub label: &'m str,
    pub probability: f64,
}

impl TextClassifier {
    #[inline]
    fn featurize(&self, text: &str, scratch: &mut Scratch) {
        scratch.ids.clear();
        self.vectorizer
            .tokenizer
            .term_ids(text, &mut scratch.tokens, &mut scratch.ids);
        // Sort plain feature numbers (cheaper than pairs), then count runs.
        scratch.features.clear();
        scratch
            .features
            .extend(scratch.ids.iter().filter_map(|&id| self.vocabulary.get(id)));
        scratch.features.sort_unstable();
        scratch.row.clear();
        for &f in &scratch.features {
            match scratch.row.last_mut() {
                Some((last, count)) if *last == f => *count += 1.0,
                _ => scratch.row.push((f, 1.0)),
            }
        }
        self.weighting.apply(&mut scratch.row);
    }

    /// Probabilities of every label (in [`TextClassifier::labels`] order).
    /// Text with no known word gets the model's prior.
    pub fn predict_proba_with<'s>(&self, text: &str, scratch: &'s mut Scratch) -> &'s [f64] {
        // The direct tables take ~1 ms to derive: worth it for a batch, not
        // for the single prediction of a command-line start-up.
        scratch.predictions = scratch.predictions.saturating_add(1);
        if scratch.predictions > DIRECT_AFTER
            && let Some(direct) = self.direct_tables()
        {
            self.direct_scores(direct, text, scratch);
            self.model.scores_to_probabilities(&mut scratch.probs);
            return &scratch.probs;
        }
        if let Some(ws) = &self.word_scores {
            self.additive_scores(ws, text, scratch);
            self.model.scores_to_probabilities(&mut scratch.probs);
            return &scratch.probs;
        }
        self.featurize(text, scratch);
        self.model.probabilities(&scratch.row, &mut scratch.probs);
        &scratch.probs
    }

    fn direct_tables(&self) -> Option<&DirectTables> {
        self.direct
            .get_or_init(|| {
                let ws = self.word_scores.as_ref()?;
                if self.model.n_outputs != 1 {
                    return None;
                }
                let weight = |f: u32| self.model.weights[f as usize].to_bits();
                let ngram_weights = Vocabulary::new(&ws.ngrams).map_values(|i| {
                    self.vocabulary
                        .get(ws.ngrams[i as usize])
                        .map_or(0.0f32.to_bits(), weight)
                });
                Some(DirectTables {
                    weights: self.vocabulary.map_values(weight),
                    ngram_weights,
                    words: ws.words.map_pairs(|i| {
                        let f = ws.features[i as usize];
                        let w = if f == u32::MAX { 0.0f32.to_bits() } else { weight(f) };
                        (w, ws.scores[i as usize].to_bits())
                    }),
                })
            })
            .as_ref()
    }

    /// [`TextClassifier::additive_scores`] for two-label models, reading
    /// weights straight from the derived tables.
    fn direct_scores(&self, direct: &DirectTables, text: &str, scratch: &mut Scratch) {
        let tokenizer = &self.vectorizer.tokenizer;
        let t = &mut scratch.tokens;
        // 1. Hash every word and word n-gram first, 2. touch every table slot
        // they will read, so the cache misses overlap instead of queueing one
        // behind another (they are what a prediction waits on), 3. add up.
        tokenizer.split_terms(text, t);
        let mut touched = 0u64;
        for &id in &t.words {
            touched ^= direct.words.touch(id);
        }
        for &id in &t.ngrams {
            touched ^= direct.ngram_weights.touch(id);
        }
        std::hint::black_box(touched);

        let mut z = self.model.bias[0] as f64;
        for &id in &t.ngrams {
            if let Some(bits) = direct.ngram_weights.get(id) {
                z += f32::from_bits(bits) as f64;
            }
        }
        let (grams, unseen) = (&mut scratch.grams, &mut scratch.unseen);
        for i in 0..t.words.len() {
            let (id, first) = (t.words[i], t.first[i]);
            match direct.words.get(id) {
                Some((weight, char_score)) => {
                    z += f32::from_bits(weight) as f64;
                    if first {
                        z += f32::from_bits(char_score) as f64;
                    }
                }
                None if first => {
                    if let Some(score) = unseen.get(id) {
                        z += score;
                        continue;
                    }
                    grams.clear();
                    tokenizer.char_ngrams_of(t, i, grams);
                    let mut score = 0.0;
                    for &g in grams.iter() {
                        if let Some(bits) = direct.weights.get(g) {
                            score += f32::from_bits(bits) as f64;
                        }
                    }
                    unseen.put(id, score);
                    z += score;
                }
                None => {}
            }
        }
        scratch.probs.clear();
        scratch.probs.push(z);
    }

    /// The same scores as featurize + dot product for additive models (raw
    /// counts, no idf, no norm), summed term by term without building the
    /// feature row: words and word n-grams by look-up, each distinct word's
    /// character n-grams from the precomputed table (or computed, for words
    /// unseen in training).
    fn additive_scores(&self, ws: &WordScores, text: &str, scratch: &mut Scratch) {
        let k = self.model.n_outputs as usize;
        let z = &mut scratch.probs;
        z.clear();
        z.extend(self.model.bias.iter().map(|&b| b as f64));
        let tokenizer = &self.vectorizer.tokenizer;
        let t = &mut scratch.tokens;
        tokenizer.split_terms(text, t);
        let grams = &mut scratch.grams;
        for i in 0..t.words.len() {
            let (id, first) = (t.words[i], t.first[i]);
            match ws.words.get(id) {
                Some(w) => {
                    let f = ws.features[w as usize];
                    if f != u32::MAX {
                        self.model.add_feature(f, 1.0, z);
                    }
                    if first {
                        for (zk, &s) in z.iter_mut().zip(&ws.scores[w as usize * k..(w as usize + 1) * k]) {
                            *zk += s as f64;
                        }
                    }
                }
                // Not seen in training, so not a feature either: only its
                // character n-grams can count.
                None if first => {
                    grams.clear();
                    tokenizer.char_ngrams_of(t, i, grams);
                    for &g in grams.iter() {
                        if let Some(f) = self.vocabulary.get(g) {
                            self.model.add_feature(f, 1.0, z);
                        }
                    }
                }
                None => {}
            }
        }
        for &id in &t.ngrams {
            if let Some(f) = self.vocabulary.get(id) {
                self.model.add_feature(f, 1.0, z);
            }
        }
    }

    /// The most probable label and its probability, reusing `scratch`.
    #[inline]
    pub fn predict_with(&self, text: &str, scratch: &mut Scratch) -> Prediction<'_> {
        let probs = self.predict_proba_with(text, scratch);
        let (best, p) = probs.iter().enumerate().fold(
            (0, f64::NEG_INFINITY),
            |(bi, bp), (i, &p)| if p > bp { (i, p) } else { (bi, bp) },
        );
        Prediction {
            label: &self.labels[best],
            probability: p,
        }
    }

    pub fn predict(&self, text: &str) -> Prediction<'_> {
        self.predict_with(text, &mut Scratch::default())
    }

    /// `(label, probability)` for every label.
    pub fn predict_proba(&self, text: &str) -> Vec<(&str, f64)> {
        let mut scratch = Scratch::default();
        let probs = self.predict_proba_with(text, &mut scratch);
        self.labels
            .iter()
            .map(String::as_str)
            .zip(probs.iter().copied())
            .collect()
    }

    pub fn predict_batch<'m, S: AsRef<str>>(&'m self, texts: &[S]) -> Vec<Prediction<'m>> {
        let mut scratch = Scratch::default();
        texts
            .iter()
            .map(|t| self.predict_with(t.as_ref(), &mut scratch))
            .collect()
    }

    pub fn predict_proba_batch<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Vec<f64>> {
        let mut scratch = Scratch::default();
        texts
            .iter()
            .map(|t| self.predict_proba_with(t.as_ref(), &mut scratch).to_vec())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::ClassifierConfig;
    use crate::vectorizer::{TfMode, VectorizerConfig};
    use proptest::prelude::*;

    /// Every path `model` can score `text` by: the feature row (always),
    /// the additive word table and the direct tables (where the model has
    /// them), as probabilities.
    fn every_path(model: &TextClassifier, text: &str) -> Vec<(&'static str, Vec<f64>)> {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        model.featurize(text, &mut scratch);
        let mut row = Vec::new();
        model.model.probabilities(&scratch.row, &mut row);
        out.push(("feature row", row));
        if let Some(ws) = &model.word_scores {
            model.additive_scores(ws, text, &mut scratch);
            let mut p = scratch.probs.clone();
            model.model.scores_to_probabilities(&mut p);
            out.push(("additive", p));
        }
        if let Some(direct) = model.direct_tables() {
            model.direct_scores(direct, text, &mut scratch);
            let mut p = scratch.probs.clone();
            model.model.scores_to_probabilities(&mut p);
            out.push(("direct", p));
        }
        out.push(("public", model.predict_proba_with(text, &mut scratch).to_vec()));
        out
    }

    const WORDS: [&str; 12] = [
        "good", "bad", "great", "dull", "film", "plot", "not", "very", "fun", "slow", "don't", "café",
    ];

    fn corpus(labels: usize) -> (Vec<String>, Vec<String>) {
        let mut texts = Vec::new();
        let mut y = Vec::new();
        for i in 0..36usize {
            let words: Vec<&str> = (0..3 + i % 4)
                .map(|j| WORDS[(i * 7 + j * 5 + i / 3) % WORDS.len()])
                .collect();
            texts.push(words.join(" "));
            y.push(format!("label{}", i % labels));
        }
        (texts, y)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the model's shape (word n-grams 1-3, character n-grams
        /// on or off, 2 or 3 labels, each classifier) and whatever the text
        /// (known words, unknown words, any Unicode), every scoring path
        /// gives the same probabilities.
        #[test]
        fn scoring_paths_agree(
            ngram_max in 1u8..=3,
            chars in any::<bool>(),
            labels in 2usize..=3,
            classifier in 0usize..3,
            raw_counts in any::<bool>(),
            seen_text in 0usize..36,
            known in proptest::collection::vec(0usize..WORDS.len(), 0..12),
            noise in ".{0,40}",
        ) {
            let config = VectorizerConfig {
                tokenizer: crate::tokenizer::Tokenizer { lowercase: true, ngram_max, char_ngrams: chars.then_some((2, 4)) },
                tf: if raw_counts { TfMode::Raw } else { TfMode::Sublinear },
                idf: !raw_counts,
                l2_norm: !raw_counts,
                ..VectorizerConfig::default()
            };
            let classifier = match classifier {
                0 => ClassifierConfig::MultinomialNb { alpha: 0.5 },
                1 => ClassifierConfig::LogisticRegression { c: 3.0 },
                _ if labels == 2 => ClassifierConfig::NbLogisticRegression { alpha: 1.0, c: 1.0 },
                _ => ClassifierConfig::LogisticRegression { c: 0.5 },
            };
            let (texts, y) = corpus(labels);
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let model = TextClassifier::fit(&refs, &y, config, classifier).unwrap();
            // A training text first (its word n-grams are features), then
            // known words in any order and case, then anything at all.
            let mut text = vec![texts[seen_text].clone()];
            text.extend(known.iter().map(|&i| WORDS[i].to_uppercase()));
            text.push(noise);
            text.push("good good".into());
            let text = text.join(" ");
            let paths = every_path(&model, &text);
            let (_, reference) = &paths[0];
            prop_assert_eq!(reference.len(), labels);
            for (name, p) in &paths[1..] {
                prop_assert_eq!(p.len(), labels, "{}", name);
                for (a, b) in reference.iter().zip(p) {
                    prop_assert!((a - b).abs() < 1e-5, "{} {:?} on {:?}: {:?} vs {:?}", name, classifier, text, p, reference);
                }
            }
        }
    }

    /// The precomputed-word path gives the same probabilities as building
    /// the feature row, on known and unknown words alike.
    #[test]
    fn additive_fast_path_matches_the_feature_row() {
        let (texts, labels) = crate::model::tests_support::six_reviews();
        let config = VectorizerConfig {
            tokenizer: crate::tokenizer::Tokenizer {
                lowercase: true,
                ngram_max: 2,
                char_ngrams: Some((2, 4)),
            },
            tf: TfMode::Raw,
            idf: false,
            l2_norm: false,
            ..VectorizerConfig::default()
        };
        for classifier in [
            ClassifierConfig::NbLogisticRegression { alpha: 1.0, c: 1.0 },
            ClassifierConfig::MultinomialNb { alpha: 0.5 },
        ] {
            let model = TextClassifier::fit(&texts, &labels, config, classifier).unwrap();
            assert!(model.word_scores.is_some(), "additive model gets the table");
            assert!(model.direct_tables().is_some(), "two labels: direct tables too");
            let mut scratch = Scratch::default();
            for text in [
                "wonderful film",
                "WONDERFUL, wonderful!",
                "an unseen wordwonderful and dullish text",
                "",
                "dull dull dull waste",
            ] {
                model.direct_scores(model.direct_tables().unwrap(), text, &mut scratch);
                let mut fast = scratch.probs.clone();
                model.model.scores_to_probabilities(&mut fast);
                let public = model.predict_proba_with(text, &mut scratch).to_vec();
                assert_eq!(public.len(), 2);
                let ws = model.word_scores.as_ref().unwrap();
                model.additive_scores(ws, text, &mut scratch);
                let mut additive = scratch.probs.clone();
                model.model.scores_to_probabilities(&mut additive);
                for (a, b) in fast.iter().zip(&additive) {
                    assert!(
                        (a - b).abs() < 1e-5,
                        "{classifier:?} {text:?}: {fast:?} vs {additive:?}"
                    );
                }
                model.featurize(text, &mut scratch);
                let mut slow = Vec::new();
                model.model.probabilities(&scratch.row, &mut slow);
                for (a, b) in fast.iter().zip(&slow) {
                    assert!((a - b).abs() < 1e-5, "{classifier:?} {text:?}: {fast:?} vs {slow:?}");
                }
            }
        }
        let binary = VectorizerConfig {
            tf: TfMode::Binary,
            ..config
        };
        let model =
            TextClassifier::fit(&texts, &labels, binary, ClassifierConfig::MultinomialNb { alpha: 0.5 }).unwrap();
        assert!(model.word_scores.is_none(), "binary tf is not additive over words");
    }
}
