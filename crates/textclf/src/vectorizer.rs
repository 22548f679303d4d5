//! Vocabulary and TF-IDF weighting, with scikit-learn's definitions:
//! smooth idf `ln((1 + n) / (1 + df)) + 1`, optional sublinear tf
//! `1 + ln(tf)`, optional binary tf, and l2 row normalisation, so numbers
//! can be compared with `TfidfVectorizer` directly.
//!
//! Documents stay sparse end to end: a document is a short list of
//! `(feature, value)` pairs, and a collection is a CSR matrix.

use crate::ids::IdMap;
use crate::sparse::Csr;
use crate::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};

/// How term counts become feature values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TfMode {
    /// The raw count.
    Raw,
    /// 1 if present.
    Binary,
    /// `1 + ln(count)`.
    Sublinear,
}

/// Vectorizer hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VectorizerConfig {
    pub tokenizer: Tokenizer,
    /// Keep terms in at least this many training documents.
    pub min_df: u32,
    /// Drop terms in more than this fraction of training documents.
    pub max_df: f64,
    /// Keep only the most frequent terms (by total count), if set.
    pub max_features: Option<u32>,
    pub tf: TfMode,
    pub idf: bool,
    /// Scale every document to unit l2 norm.
    pub l2_norm: bool,
}

impl Default for VectorizerConfig {
    fn default() -> Self {
        VectorizerConfig {
            tokenizer: Tokenizer::default(),
            min_df: 1,
            max_df: 1.0,
            max_features: None,
            tf: TfMode::Sublinear,
            idf: true,
            l2_norm: true,
        }
    }
}

/// An open-addressing table from term id to feature index, stored as one
/// flat array so that loading a model needs no rehashing, and a lookup
/// touches one 8-byte slot (one cache line). A slot packs the id's upper 32
/// bits (a fingerprint) with the feature index; the slot position comes from
/// the id's lower bits, so an unknown term is mistaken for a known one only
/// if it matches both: about once in 2^32 lookups of unknown terms at most.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vocabulary {
    #[serde(with = "crate::raw::u64s")]
    pub(crate) slots: Vec<u64>,
    pub(crate) len: u32,
}

const EMPTY: u64 = u64::MAX;

/// Finds `id` in a table of packed `fingerprint | value` slots (linear
/// probing from the slot its low bits name) and returns the value. At most
/// one pass over the table: a table decoded from hostile bytes that has no
/// empty slot (validation refuses it) still cannot make a look-up spin.
#[inline]
fn probe(slots: &[u64], id: u64) -> Option<u32> {
    let mask = slots.len().checked_sub(1)?;
    let fingerprint = id & 0xFFFF_FFFF_0000_0000;
    let mut slot = (id as usize) & mask;
    for _ in 0..slots.len() {
        let s = slots[slot];
        if s == EMPTY {
            return None;
        }
        if s & 0xFFFF_FFFF_0000_0000 == fingerprint {
            return Some(s as u32);
        }
        slot = (slot + 1) & mask;
    }
    None
}

#[inline]
fn pack(id: u64, feature: u32) -> u64 {
    (id & 0xFFFF_FFFF_0000_0000) | feature as u64
}

impl Vocabulary {
    /// Builds the table for `ids`, where `ids[i]` gets feature index `i`.
    pub fn new(ids: &[u64]) -> Self {
        assert!(ids.len() < u32::MAX as usize, "more than 2^32 - 1 features");
        // Load factor 3/8 to 3/4: a miss (most character n-grams are not in
        // the vocabulary) probes a few slots of one or two cache lines, and
        // the table stays small to read and checksum at every start.
        let capacity = (ids.len() + ids.len() / 3 + 1).next_power_of_two().max(16);
        let mut slots = vec![EMPTY; capacity];
        let mask = capacity - 1;
        for (i, &id) in ids.iter().enumerate() {
            let mut slot = (id as usize) & mask;
            while slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            slots[slot] = pack(id, i as u32);
        }
        Vocabulary {
            slots,
            len: ids.len() as u32,
        }
    }

    /// Whether a table decoded from untrusted bytes can be used safely: a
    /// power-of-two number of slots with at least one empty, exactly `len`
    /// occupied, each holding a feature number below `len`. (Two slots
    /// naming one feature would give two terms one weight: wrong answers,
    /// never unsafe ones, so it is not worth a pass with a bitmap at every
    /// start.) Says what is wrong otherwise.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let n = self.slots.len();
        if !n.is_power_of_two() {
            return Err(format!("{n} slots, not a power of two"));
        }
        // One branch-free pass (it vectorises): the largest feature number
        // and the count of occupied slots.
        let (occupied, largest) = self.slots.iter().fold((0usize, 0u32), |(count, largest), &s| {
            let used = s != EMPTY;
            (count + used as usize, largest.max(if used { s as u32 } else { 0 }))
        });
        if occupied > 0 && largest >= self.len {
            return Err(format!("feature {largest} is not below the {} features", self.len));
        }
        if occupied != self.len as usize {
            return Err(format!("{occupied} occupied slots for {} features", self.len));
        }
        if occupied == n {
            return Err("no empty slot (every look-up of an unknown term would probe forever)".into());
        }
        Ok(())
    }

    /// The feature index of a term id, if it is in the vocabulary.
    #[inline]
    pub fn get(&self, id: u64) -> Option<u32> {
        probe(&self.slots, id)
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The same table with each slot's feature number replaced by
    /// `value(feature)`: a look-up then yields the value itself, one memory
    /// access instead of two (the table, then an array indexed by feature).
    pub(crate) fn map_values(&self, value: impl Fn(u32) -> u32) -> ValueTable {
        ValueTable {
            slots: self
                .slots
                .iter()
                .map(|&s| {
                    if s == EMPTY {
                        EMPTY
                    } else {
                        (s & 0xFFFF_FFFF_0000_0000) | value(s as u32) as u64
                    }
                })
                .collect(),
        }
    }

    /// Like [`Vocabulary::map_values`] with two values per term, packed in
    /// one 16-byte slot.
    pub(crate) fn map_pairs(&self, value: impl Fn(u32) -> (u32, u32)) -> PairTable {
        PairTable {
            slots: self
                .slots
                .iter()
                .map(|&s| {
                    if s == EMPTY {
                        [0, 0, 0, 0]
                    } else {
                        let (a, b) = value(s as u32);
                        [(s >> 32) as u32, a, b, 1]
                    }
                })
                .collect(),
        }
    }
}

/// A [`Vocabulary`] whose slots hold a 32-bit value instead of a feature
/// number (see [`Vocabulary::map_values`]). Derived at load time, never stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ValueTable {
    slots: Vec<u64>,
}

impl ValueTable {
    /// Reads the slot a look-up of `id` starts at (to pull it into cache).
    #[inline]
    pub fn touch(&self, id: u64) -> u64 {
        let mask = self.slots.len().wrapping_sub(1);
        self.slots.get((id as usize) & mask).copied().unwrap_or(0)
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<u32> {
        probe(&self.slots, id)
    }
}

/// A [`Vocabulary`] whose 16-byte slots hold two values (see
/// [`Vocabulary::map_pairs`]). Derived at load time, never stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PairTable {
    slots: Vec<[u32; 4]>,
}

impl PairTable {
    /// Reads the slot a look-up of `id` starts at (to pull it into cache).
    #[inline]
    pub fn touch(&self, id: u64) -> u64 {
        let mask = self.slots.len().wrapping_sub(1);
        self.slots.get((id as usize) & mask).map_or(0, |s| s[0] as u64)
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<(u32, u32)> {
        let mask = self.slots.len().checked_sub(1)?;
        let fingerprint = (id >> 32) as u32;
        let mut slot = (id as usize) & mask;
        for _ in 0..self.slots.len() {
            let [fp, a, b, occupied] = self.slots[slot];
            if occupied == 0 {
                return None;
            }
            if fp == fingerprint {
                return Some((a, b));
            }
            slot = (slot + 1) & mask;
        }
        None
    }
}

/// The weighting part of a fitted vectorizer (everything but the table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weighting {
    pub tf: TfMode,
    pub l2_norm: bool,
    /// Per-feature idf, empty when idf is off.
    #[serde(with = "crate::raw::f32s")]
    pub idf: Vec<f32>,
}

impl Weighting {
    /// Turns `(feature, count)` pairs (sorted by feature, unique) into
    /// feature values in place.
    #[inline]
    pub fn apply(&self, row: &mut [(u32, f32)]) {
        for (i, v) in row.iter_mut() {
            let tf = match self.tf {
                TfMode::Raw => *v,
                TfMode::Binary => 1.0,
                TfMode::Sublinear => 1.0 + v.ln(),
            };
            *v = if self.idf.is_empty() {
                tf
            } else {
                tf * self.idf[*i as usize]
            };
        }
        if self.l2_norm {
            let norm = row.iter().map(|(_, v)| (*v as f64) * (*v as f64)).sum::<f64>().sqrt();
            if norm > 0.0 {
                for (_, v) in row.iter_mut() {
                    *v = (*v as f64 / norm) as f32;
                }
            }
        }
    }
}

/// Sorts `(feature, 1.0)` pairs and merges duplicates into counts.
#[inline]
pub(crate) fn merge_counts(row: &mut Vec<(u32, f32)>) {
    row.sort_unstable_by_key(|&(i, _)| i);
    let mut w = 0;
    for r in 0..row.len() {
        if w > 0 && row[w - 1].0 == row[r].0 {
            row[w - 1].1 += row[r].1;
        } else {
            row[w] = row[r];
            w += 1;
        }
    }
    row.truncate(w);
}

/// A vocabulary chosen on training documents, with its weighting.
#[derive(Debug, Clone)]
pub(crate) struct FittedVocabulary {
    /// Term id of each feature, in feature order (ascending id).
    pub ids: Vec<u64>,
    pub weighting: Weighting,
}

/// Chooses the vocabulary from documents already turned into term ids.
pub(crate) fn fit_vocabulary(config: &VectorizerConfig, docs: &[&[u64]]) -> FittedVocabulary {
    let mut df: IdMap<(u32, u64)> = IdMap::default();
    let mut seen: IdMap<()> = IdMap::default();
    for doc in docs {
        seen.clear();
        for &id in doc.iter() {
            let entry = df.entry(id).or_insert((0, 0));
            entry.1 += 1;
            if seen.insert(id, ()).is_none() {
                entry.0 += 1;
            }
        }
    }
    let n = docs.len() as f64;
    let max_df = (config.max_df * n).floor() as u32;
    let mut kept: Vec<(u64, u32, u64)> = df
        .into_iter()
        .filter(|&(_, (d, _))| d >= config.min_df && d <= max_df.max(1))
        .map(|(id, (d, total))| (id, d, total))
        .collect();
    if let Some(limit) = config.max_features {
        // Most frequent first, ties by id, so the choice is deterministic.
        kept.sort_unstable_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        kept.truncate(limit as usize);
    }
    kept.sort_unstable_by_key(|&(id, _, _)| id);
    let idf = if config.idf {
        kept.iter()
            .map(|&(_, d, _)| (((1.0 + n) / (1.0 + d as f64)).ln() + 1.0) as f32)
            .collect()
    } else {
        Vec::new()
    };
    FittedVocabulary {
        ids: kept.iter().map(|&(id, _, _)| id).collect(),
        weighting: Weighting {
            tf: config.tf,
            l2_norm: config.l2_norm,
            idf,
        },
    }
}

/// Builds the weighted CSR matrix of `docs` over `vocab`; unknown terms are
/// skipped.
pub(crate) fn transform(vocab: &Vocabulary, weighting: &Weighting, docs: &[&[u64]]) -> Csr {
    let mut m = Csr::empty(vocab.len());
    let mut row = Vec::new();
    for doc in docs {
        row.clear();
        row.extend(doc.iter().filter_map(|&id| vocab.get(id)).map(|f| (f, 1.0f32)));
        merge_counts(&mut row);
        weighting.apply(&mut row);
        m.push_row(&row);
    }
    m
}

pub(crate) use crate::indexed::{IndexedDocs, fit_transform_indexed, fold_matrices, index_texts};

/// Fits a vocabulary on `train` and returns the weighted matrices of
/// `train` and `other`: the vectorizer alone, for tests that compare the
/// classifiers with other implementations.
pub fn fit_transform_texts(config: &VectorizerConfig, train: &[&str], other: &[&str]) -> (Csr, Csr) {
    let tokenize = |texts: &[&str]| -> Vec<Vec<u64>> { config.tokenizer.tokenize_all(texts) };
    let (a, b) = (tokenize(train), tokenize(other));
    let ra: Vec<&[u64]> = a.iter().map(Vec::as_slice).collect();
    let rb: Vec<&[u64]> = b.iter().map(Vec::as_slice).collect();
    let fitted = fit_vocabulary(config, &ra);
    let vocab = Vocabulary::new(&fitted.ids);
    (
        transform(&vocab, &fitted.weighting, &ra),
        transform(&vocab, &fitted.weighting, &rb),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(tok: &Tokenizer, texts: &[&str]) -> Vec<Vec<u64>> {
        texts
            .iter()
            .map(|t| {
                let (mut scratch, mut o) = (crate::tokenizer::TokenScratch::default(), Vec::new());
                tok.term_ids(t, &mut scratch, &mut o);
                o
            })
            .collect()
    }

    /// Hand-computed: docs "a a b", "a c"; n = 2.
    /// idf(a) = ln(3/3) + 1 = 1; idf(b) = idf(c) = ln(3/2) + 1 = 1.405465.
    /// Doc 1, raw tf: a = 2*1 = 2, b = 1.405465; norm = sqrt(4 + 1.975332)
    /// = 2.444449; so a = 0.818182, b = 0.574962 (scikit-learn agrees).
    #[test]
    fn tfidf_matches_hand_computed_values() {
        let config = VectorizerConfig {
            tokenizer: Tokenizer {
                lowercase: true,
                ngram_max: 1,
                char_ngrams: None,
            },
            tf: TfMode::Raw,
            ..VectorizerConfig::default()
        };
        let docs = ids(&config.tokenizer, &["a a b", "a c"]);
        let refs: Vec<&[u64]> = docs.iter().map(|d| d.as_slice()).collect();
        let fitted = fit_vocabulary(&config, &refs);
        assert_eq!(fitted.ids.len(), 3);
        let vocab = Vocabulary::new(&fitted.ids);
        let m = transform(&vocab, &fitted.weighting, &refs);
        let a = vocab.get(crate::tokenizer::word_id("a")).unwrap() as usize;
        let b = vocab.get(crate::tokenizer::word_id("b")).unwrap() as usize;
        assert!((fitted.weighting.idf[a] - 1.0).abs() < 1e-6);
        assert!((fitted.weighting.idf[b] - 1.405_465).abs() < 1e-6);
        let (idx, val) = m.row(0);
        let get = |f: usize| val[idx.iter().position(|&i| i as usize == f).unwrap()];
        assert!((get(a) - 0.818_182).abs() < 1e-5, "{}", get(a));
        assert!((get(b) - 0.574_962).abs() < 1e-5, "{}", get(b));
    }

    #[test]
    fn sublinear_binary_and_df_limits() {
        let base = VectorizerConfig {
            tokenizer: Tokenizer {
                lowercase: true,
                ngram_max: 1,
                char_ngrams: None,
            },
            idf: false,
            l2_norm: false,
            ..VectorizerConfig::default()
        };
        let docs = ids(&base.tokenizer, &["x x x x y", "x z", "x y"]);
        let refs: Vec<&[u64]> = docs.iter().map(|d| d.as_slice()).collect();
        let x = crate::tokenizer::word_id("x");
        for (tf, want) in [
            (TfMode::Raw, 4.0f32),
            (TfMode::Binary, 1.0),
            (TfMode::Sublinear, 1.0 + 4f32.ln()),
        ] {
            let fitted = fit_vocabulary(&VectorizerConfig { tf, ..base }, &refs);
            let vocab = Vocabulary::new(&fitted.ids);
            let m = transform(&vocab, &fitted.weighting, &refs);
            let (idx, val) = m.row(0);
            let f = vocab.get(x).unwrap();
            assert!((val[idx.iter().position(|&i| i == f).unwrap()] - want).abs() < 1e-6);
        }
        // min_df 2 keeps x and y; max_df 0.9 then drops x (in all 3 docs).
        let fitted = fit_vocabulary(&VectorizerConfig { min_df: 2, ..base }, &refs);
        assert_eq!(fitted.ids.len(), 2);
        let fitted = fit_vocabulary(
            &VectorizerConfig {
                min_df: 2,
                max_df: 0.9,
                ..base
            },
            &refs,
        );
        assert_eq!(fitted.ids, vec![crate::tokenizer::word_id("y")]);
        let fitted = fit_vocabulary(
            &VectorizerConfig {
                max_features: Some(1),
                ..base
            },
            &refs,
        );
        assert_eq!(fitted.ids, vec![x], "the most frequent term");
    }

    #[test]
    fn vocabulary_table_finds_every_id_and_nothing_else() {
        let ids: Vec<u64> = (0..5000u64)
            .map(|i| crate::tokenizer::combine(i, 7))
            .chain([0, 1])
            .collect();
        let v = Vocabulary::new(&ids);
        for (i, &id) in ids.iter().enumerate().take(5000) {
            assert_eq!(v.get(id), Some(i as u32));
        }
        assert!(v.get(0).is_some());
        for i in 0..5000u64 {
            assert_eq!(v.get(crate::tokenizer::combine(i, 8)), None);
        }
    }
}
