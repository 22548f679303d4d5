//! [`TextClassifier`]: tokenizer + vectorizer + classifier, trained together
//! and served together.

use crate::error::{Result, TextClfError};
use crate::linear::{self, ClassifierConfig, LinearModel};
use crate::tokenizer::TokenScratch;
use crate::vectorizer::{self, VectorizerConfig, Vocabulary, Weighting};
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
struct TermList {
    #[serde(with = "crate::raw::u32s")]
    features: Vec<u32>,
    text: String,
    #[serde(with = "crate::raw::u32s")]
    ends: Vec<u32>,
}

impl TermList {
    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }
}

/// A trained text classifier. Serialise it with [`TextClassifier::to_bytes`]
/// (postcard) or any serde format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextClassifier {
    labels: Vec<String>,
    vectorizer: VectorizerConfig,
    classifier: ClassifierConfig,
    vocabulary: Vocabulary,
    weighting: Weighting,
    model: LinearModel,
    terms: TermList,
    /// For additive models with character n-grams: every training word's
    /// character n-gram score, so prediction skips hashing and looking up
    /// ~20 n-grams per known word.
    word_scores: Option<WordScores>,
    /// Derived on first use from the fields above, for two-label additive
    /// models: term -> weight and word -> (weight, character n-gram score)
    /// tables that answer in one memory access.
    #[serde(skip)]
    direct: std::sync::OnceLock<Option<DirectTables>>,
}

#[derive(Debug, Clone, PartialEq)]
struct DirectTables {
    weights: vectorizer::ValueTable,
    ngram_weights: vectorizer::ValueTable,
    words: vectorizer::PairTable,
}

/// Each known word's feature number (`u32::MAX` if the word itself is not
/// a feature) and summed character n-gram weights (per output): one probe
/// per word instead of two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WordScores {
    words: Vocabulary,
    #[serde(with = "crate::raw::u32s")]
    features: Vec<u32>,
    #[serde(with = "crate::raw::f32s")]
    scores: Vec<f32>,
    /// The word n-grams (n >= 2) of the vocabulary, so that their weights
    /// can live in a table of their own, small enough to stay in cache.
    #[serde(with = "crate::raw::u64s")]
    ngrams: Vec<u64>,
}

/// After this many predictions through one [`Scratch`], two-label additive
/// models switch to their direct tables.
const DIRECT_AFTER: u32 = 64;

/// Reusable buffers for predicting many texts without allocating.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Predictions made with this scratch space (saturating).
    predictions: u32,
    tokens: TokenScratch,
    spans: Vec<(u32, u32)>,
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

pub(crate) fn tokenize_all(config: &VectorizerConfig, texts: &[&str]) -> Vec<Vec<u64>> {
    use rayon::prelude::*;
    texts
        .par_iter()
        .map_init(TokenScratch::default, |scratch, t| {
            let mut out = Vec::new();
            config.tokenizer.term_ids(t, scratch, &mut out);
            out
        })
        .collect()
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
        let docs = tokenize_all(&vectorizer, texts);
        let refs: Vec<&[u64]> = docs.iter().map(Vec::as_slice).collect();
        Self::fit_tokenized(texts, &refs, &names, &y, vectorizer, classifier, None).map(|(m, _)| m)
    }

    /// Fits on documents already turned into term ids; `texts` is only used
    /// to name the features. Returns the optimiser state for warm starts.
    pub(crate) fn fit_tokenized(
        texts: &[&str],
        docs: &[&[u64]],
        names: &[String],
        y: &[u32],
        vectorizer: VectorizerConfig,
        classifier: ClassifierConfig,
        warm: Option<&[f64]>,
    ) -> Result<(TextClassifier, Option<Vec<f64>>)> {
        let fitted = vectorizer::fit_vocabulary(&vectorizer, docs);
        let vocabulary = Vocabulary::new(&fitted.ids);
        let x = vectorizer::transform(&vocabulary, &fitted.weighting, docs);
        let (model, params) = fit_classifier(&x, y, names.len(), classifier, warm)?;
        let k = model.n_outputs as usize;
        let influence = |f: usize| -> f32 {
            model.weights[f * k..(f + 1) * k]
                .iter()
                .fold(0.0f32, |m, w| m.max(w.abs()))
        };
        let mut strongest: Vec<u32> = (0..fitted.ids.len() as u32).collect();
        strongest.sort_by(|&a, &b| influence(b as usize).total_cmp(&influence(a as usize)).then(a.cmp(&b)));
        strongest.truncate(NAMED_FEATURES);
        let wanted: vectorizer::IdMap<()> = strongest.iter().map(|&f| (fitted.ids[f as usize], ())).collect();
        let mut term_text: vectorizer::IdMap<String> = vectorizer::IdMap::default();
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
        Ok((
            TextClassifier {
                labels: names.to_vec(),
                vectorizer,
                classifier,
                vocabulary,
                weighting: fitted.weighting,
                model,
                terms,
                word_scores,
                direct: std::sync::OnceLock::new(),
            },
            params,
        ))
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

    /// The weighted sparse features of `text`, in `scratch.row`.
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
        tokenizer.normalize_into(text, &mut t.buf);
        let buf = t.buf.as_str();
        let (words, seen, padded, bounds) = (&mut t.words, &mut t.seen, &mut t.padded, &mut t.bounds);
        let spans = &mut scratch.spans;
        let terms = &mut scratch.ids;
        words.clear();
        spans.clear();
        seen.clear();
        // 1. Hash every word and word n-gram first, 2. touch every table slot
        // they will read, so the cache misses overlap instead of queueing one
        // behind another (they are what a prediction waits on), 3. add up.
        tokenizer.for_each_word(buf, |w| {
            words.push(crate::tokenizer::word_id(w));
            let start = w.as_ptr() as usize - buf.as_ptr() as usize;
            spans.push((start as u32, (start + w.len()) as u32));
        });
        terms.clear();
        for n in 2..=tokenizer.ngram_max.max(1) as usize {
            for window in words.windows(n) {
                terms.push(crate::tokenizer::ngram_id(window));
            }
        }
        let mut touched = 0u64;
        for &id in words.iter() {
            touched ^= direct.words.touch(id);
        }
        for &id in terms.iter() {
            touched ^= direct.ngram_weights.touch(id);
        }
        std::hint::black_box(touched);

        let mut z = self.model.bias[0] as f64;
        for &id in terms.iter() {
            if let Some(bits) = direct.ngram_weights.get(id) {
                z += f32::from_bits(bits) as f64;
            }
        }
        let (grams, unseen) = (&mut scratch.grams, &mut scratch.unseen);
        let mut filter = 0u64;
        for (i, &id) in words.iter().enumerate() {
            let first = first_occurrence(id, &words[..i], seen, &mut filter);
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
                    let (start, end) = spans[i];
                    grams.clear();
                    tokenizer.push_char_ngrams(&buf[start as usize..end as usize], padded, bounds, grams);
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
        tokenizer.normalize_into(text, &mut t.buf);
        t.words.clear();
        t.seen.clear();
        let grams = &mut scratch.ids;
        let (words, seen, padded, bounds) = (&mut t.words, &mut t.seen, &mut t.padded, &mut t.bounds);
        let mut filter = 0u64;
        tokenizer.for_each_word(&t.buf, |w| {
            let id = crate::tokenizer::word_id(w);
            let first = first_occurrence(id, words, seen, &mut filter);
            words.push(id);
            match ws.words.get(id) {
                Some(i) => {
                    let f = ws.features[i as usize];
                    if f != u32::MAX {
                        self.model.add_feature(f, 1.0, z);
                    }
                    if first {
                        for (zk, &s) in z.iter_mut().zip(&ws.scores[i as usize * k..(i as usize + 1) * k]) {
                            *zk += s as f64;
                        }
                    }
                }
                // Not seen in training, so not a feature either: only its
                // character n-grams can count.
                None if first => {
                    grams.clear();
                    tokenizer.push_char_ngrams(w, padded, bounds, grams);
                    for &g in grams.iter() {
                        if let Some(f) = self.vocabulary.get(g) {
                            self.model.add_feature(f, 1.0, z);
                        }
                    }
                }
                None => {}
            }
        });
        for n in 2..=tokenizer.ngram_max.max(1) as usize {
            for window in words.windows(n) {
                let id = crate::tokenizer::ngram_id(window);
                if let Some(f) = self.vocabulary.get(id) {
                    self.model.add_feature(f, 1.0, z);
                }
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

    pub fn from_bytes(bytes: &[u8]) -> Result<TextClassifier> {
        postcard::from_bytes(bytes).map_err(|e| TextClfError::Serialization(e.to_string()))
    }

    /// The hyperparameters as a JSON object, for registry metadata.
    pub fn hyperparameters(&self) -> serde_json::Map<String, serde_json::Value> {
        hyperparameters(&self.vectorizer, &self.classifier)
    }
}

/// Whether word `id` is not among `before` (the words of the document so
/// far). A 64-bit filter answers most such questions at once; a scan (short
/// documents) or a set (long ones) the rest. `seen` and `filter` start empty
/// for each document.
#[inline]
fn first_occurrence(id: u64, before: &[u64], seen: &mut vectorizer::IdSet, filter: &mut u64) -> bool {
    let bit = 1u64 << (id >> 58);
    let maybe_seen = *filter & bit != 0;
    *filter |= bit;
    if before.len() < 32 {
        return !maybe_seen || !before.contains(&id);
    }
    if seen.is_empty() {
        seen.extend(before.iter().copied());
    }
    seen.insert(id)
}

/// Whether a document's score is a plain sum over its terms' counts (raw
/// tf, no idf, no normalisation) and character n-grams are on: then each
/// known word's character n-gram score can be precomputed.
fn additive_with_char_ngrams(vectorizer: &VectorizerConfig, weighting: &Weighting) -> bool {
    vectorizer.tokenizer.char_ngrams.is_some()
        && weighting.tf == crate::vectorizer::TfMode::Raw
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
    let mut seen = vectorizer::IdSet::default();
    let mut ids = Vec::new();
    let mut features = Vec::new();
    let mut scores = Vec::new();
    let mut ngrams = Vec::new();
    let mut ngram_seen = vectorizer::IdSet::default();
    let mut text_words = Vec::new();
    let (mut buf, mut padded, mut bounds, mut grams) = (String::new(), String::new(), Vec::new(), Vec::new());
    for text in texts {
        tokenizer.normalize_into(text, &mut buf);
        text_words.clear();
        tokenizer.for_each_word(&buf, |w| text_words.push(crate::tokenizer::word_id(w)));
        for n in 2..=tokenizer.ngram_max.max(1) as usize {
            for window in text_words.windows(n) {
                let id = crate::tokenizer::ngram_id(window);
                if vocabulary.get(id).is_some() && ngram_seen.insert(id) {
                    ngrams.push(id);
                }
            }
        }
        tokenizer.for_each_word(&buf, |w| {
            let id = crate::tokenizer::word_id(w);
            if !seen.insert(id) {
                return;
            }
            grams.clear();
            tokenizer.push_char_ngrams(w, &mut padded, &mut bounds, &mut grams);
            let mut z = vec![0.0f64; k];
            for &g in &grams {
                if let Some(f) = vocabulary.get(g) {
                    model.add_feature(f, 1.0, &mut z);
                }
            }
            ids.push(id);
            features.push(vocabulary.get(id).unwrap_or(u32::MAX));
            scores.extend(z.iter().map(|&v| v as f32));
        });
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
    x: &vectorizer::Csr,
    y: &[u32],
    k: usize,
    config: ClassifierConfig,
    warm: Option<&[f64]>,
) -> Result<(LinearModel, Option<Vec<f64>>)> {
    Ok(match config {
        ClassifierConfig::MultinomialNb { alpha } => (linear::fit_multinomial_nb(x, y, k, alpha), None),
        ClassifierConfig::LogisticRegression { c } => {
            let fit = linear::fit_logistic_regression(x, y, k, c, warm);
            (fit.model, Some(fit.params))
        }
        ClassifierConfig::NbLogisticRegression { alpha, c } => {
            if k != 2 {
                return Err(TextClfError::InvalidInput(format!(
                    "nb_logistic_regression needs exactly two labels, the data has {k}"
                )));
            }
            let fit = linear::fit_nb_logistic_regression(x, y, alpha, c, warm);
            (fit.model, Some(fit.params))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectorizer::TfMode;

    /// The precomputed-word path gives the same probabilities as building
    /// the feature row, on known and unknown words alike.
    #[test]
    fn additive_fast_path_matches_the_feature_row() {
        let texts = [
            "a wonderful, moving film",
            "dull and lifeless, a waste",
            "wonderful wonderful acting",
            "the plot is dull",
            "moving performances, great cast",
            "a lifeless waste of time",
        ];
        let labels: Vec<String> = ["pos", "neg", "pos", "neg", "pos", "neg"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let config = VectorizerConfig {
            tokenizer: crate::Tokenizer {
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
