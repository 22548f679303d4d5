//! Documents indexed once per tokenizer, and the matrices built from that
//! index: each cross-validation fold's, and the final fit's.

use crate::ids::IdMap;
use crate::sparse::Csr;
use crate::vectorizer::{FittedVocabulary, VectorizerConfig, Weighting, merge_counts};
#[cfg(doc)]
use crate::vectorizer::{fit_vocabulary, transform};

/// Documents over one global term index, built once per tokenizer so that
/// cross-validation folds choose their vocabulary with array counts instead
/// of hashing every term again: rows hold `(global term, count)` sorted by
/// global term, and `ids[g]` is term `g`'s id.
pub(crate) struct IndexedDocs {
    pub rows: Csr,
    pub ids: Vec<u64>,
}

/// Documents indexed in arrival order, a chunk at a time: the term lists
/// of one chunk are all that is held besides the index (tokenizing every
/// text first held them all, about as large as the index itself: 130 MiB
/// of a 180 MiB peak on Rotten Tomatoes + UCI).
#[derive(Default)]
pub(crate) struct IndexBuilder {
    index: IdMap<u32>,
    ids: Vec<u64>,
    rows: Csr,
    row: Vec<(u32, f32)>,
}

impl IndexBuilder {
    pub(crate) fn add(&mut self, docs: &[Vec<u64>]) {
        if self.rows.indptr.is_empty() {
            self.rows.indptr.push(0);
        }
        for doc in docs {
            self.row.clear();
            for &id in doc {
                let ids = &mut self.ids;
                let g = *self.index.entry(id).or_insert_with(|| {
                    ids.push(id);
                    (ids.len() - 1) as u32
                });
                self.row.push((g, 1.0f32));
            }
            merge_counts(&mut self.row);
            self.rows.push_row(&self.row);
        }
    }

    pub(crate) fn finish(mut self) -> IndexedDocs {
        if self.rows.indptr.is_empty() {
            self.rows.indptr.push(0);
        }
        self.rows.n_cols = self.ids.len();
        self.rows.fit_capacity();
        self.ids.shrink_to_fit();
        IndexedDocs {
            rows: self.rows,
            ids: self.ids,
        }
    }
}

/// Texts per chunk of [`index_texts`]: enough for every thread to tokenize
/// in parallel, few enough that their term lists stay a few MiB.
const INDEX_CHUNK: usize = 2048;

/// `texts` tokenized by `tokenizer` and indexed, a chunk at a time.
pub(crate) fn index_texts(tokenizer: &crate::Tokenizer, texts: &[&str]) -> IndexedDocs {
    index_in_chunks(tokenizer, texts, INDEX_CHUNK)
}

fn index_in_chunks(tokenizer: &crate::Tokenizer, texts: &[&str], chunk: usize) -> IndexedDocs {
    let mut builder = IndexBuilder::default();
    for part in texts.chunks(chunk.max(1)) {
        builder.add(&tokenizer.tokenize_all(part));
    }
    builder.finish()
}

/// The weighted matrices of `train_rows` and `val_rows` with a vocabulary
/// chosen on `train_rows` alone: the same definitions as [`fit_vocabulary`]
/// and [`transform`] (features may be numbered differently).
pub(crate) fn fold_matrices(
    config: &VectorizerConfig,
    docs: &IndexedDocs,
    train_rows: &[usize],
    val_rows: &[usize],
) -> (Csr, Csr) {
    let (kept, weighting) = choose(config, docs, train_rows);
    let local = numbering(docs, &kept);
    (
        // Features numbered in global order: rows stay sorted.
        build(docs, &local, kept.len(), &weighting, train_rows, false),
        build(docs, &local, kept.len(), &weighting, val_rows, false),
    )
}

/// What [`fit_vocabulary`] and [`transform`] give for the documents `rows`
/// of `docs` (the same features in the same order, the same values), from
/// the index instead of the documents' terms: the final fit of a search
/// reuses the index its folds used rather than tokenizing again.
pub(crate) fn fit_transform_indexed(
    config: &VectorizerConfig,
    docs: &IndexedDocs,
    rows: &[usize],
) -> (FittedVocabulary, Csr) {
    let (mut kept, weighting) = choose(config, docs, rows);
    // fit_vocabulary numbers features by ascending term id.
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_unstable_by_key(|&i| docs.ids[kept[i] as usize]);
    let idf = if weighting.idf.is_empty() {
        Vec::new()
    } else {
        order.iter().map(|&i| weighting.idf[i]).collect()
    };
    kept = order.iter().map(|&i| kept[i]).collect();
    let weighting = Weighting { idf, ..weighting };
    let local = numbering(docs, &kept);
    let x = build(docs, &local, kept.len(), &weighting, rows, true);
    let ids = kept.iter().map(|&g| docs.ids[g as usize]).collect();
    (FittedVocabulary { ids, weighting }, x)
}

/// The global terms kept by `config` on `rows` (in ascending global
/// index), and their weighting (idf in the same order).
fn choose(config: &VectorizerConfig, docs: &IndexedDocs, rows: &[usize]) -> (Vec<u32>, Weighting) {
    let n_terms = docs.ids.len();
    let mut df = vec![0u32; n_terms];
    let mut total = vec![0u64; if config.max_features.is_some() { n_terms } else { 0 }];
    for &r in rows {
        let (idx, val) = docs.rows.row(r);
        for (&g, &c) in idx.iter().zip(val) {
            df[g as usize] += 1;
            if !total.is_empty() {
                total[g as usize] += c as u64;
            }
        }
    }
    let n = rows.len() as f64;
    let max_df = ((config.max_df * n).floor() as u32).max(1);
    let mut kept: Vec<u32> = (0..n_terms as u32)
        .filter(|&g| df[g as usize] >= config.min_df && df[g as usize] <= max_df)
        .collect();
    if let Some(limit) = config.max_features {
        kept.sort_unstable_by(|&a, &b| {
            total[b as usize]
                .cmp(&total[a as usize])
                .then(docs.ids[a as usize].cmp(&docs.ids[b as usize]))
        });
        kept.truncate(limit as usize);
        kept.sort_unstable();
    }
    let weighting = Weighting {
        tf: config.tf,
        l2_norm: config.l2_norm,
        idf: if config.idf {
            kept.iter()
                .map(|&g| (((1.0 + n) / (1.0 + df[g as usize] as f64)).ln() + 1.0) as f32)
                .collect()
        } else {
            Vec::new()
        },
    };
    (kept, weighting)
}

/// Each global term's feature number (`u32::MAX`: not kept).
fn numbering(docs: &IndexedDocs, kept: &[u32]) -> Vec<u32> {
    let mut local = vec![u32::MAX; docs.ids.len()];
    for (i, &g) in kept.iter().enumerate() {
        local[g as usize] = i as u32;
    }
    local
}

/// The weighted matrix of `rows` over the features `local` numbers, each
/// row's entries in feature order (as [`transform`] leaves them, so sums
/// over a row add in the same order): sorted if `sort`, where the
/// numbering does not follow the global one.
fn build(
    docs: &IndexedDocs,
    local: &[u32],
    n_features: usize,
    weighting: &Weighting,
    rows: &[usize],
    sort: bool,
) -> Csr {
    // At most the rows' entries in the index (pruning only removes).
    let bound = rows
        .iter()
        .map(|&r| docs.rows.indptr[r + 1] - docs.rows.indptr[r])
        .sum();
    let mut m = Csr::with_capacity(n_features, rows.len(), bound);
    let mut row = Vec::new();
    for &r in rows {
        row.clear();
        let (idx, val) = docs.rows.row(r);
        row.extend(
            idx.iter()
                .zip(val)
                .filter(|(g, _)| local[**g as usize] != u32::MAX)
                .map(|(g, c)| (local[*g as usize], *c)),
        );
        if sort {
            row.sort_unstable_by_key(|&(f, _)| f);
        }
        weighting.apply(&mut row);
        m.push_row(&row);
    }
    m.fit_capacity();
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::Tokenizer;
    use crate::vectorizer::{TfMode, Vocabulary, fit_vocabulary, transform};

    /// The final fit's matrix from the index is the one tokenizing again
    /// gives, bit for bit: same features in the same order, same values,
    /// for every weighting and pruning the grid can choose.
    #[test]
    fn the_index_gives_what_tokenizing_again_gives() {
        let texts = [
            "a fine, moving film",
            "wonderful acting and a great story",
            "I loved every minute of it, every single minute",
            "a dull, tedious mess",
            "awful acting and a boring story",
            "i hated every minute",
            "unfunny, unmoving, un-everything",
            "the film the film the film",
        ];
        let rows = [0usize, 2, 3, 5, 6, 7];
        for (ngram_max, char_ngrams) in [(1, None), (2, None), (2, Some((2, 5)))] {
            for (tf, idf, l2_norm, min_df, max_df, max_features) in [
                (TfMode::Sublinear, true, true, 1, 1.0, None),
                (TfMode::Raw, false, false, 2, 1.0, None),
                (TfMode::Binary, false, false, 1, 0.5, Some(7)),
                (TfMode::Raw, true, true, 1, 1.0, Some(20)),
            ] {
                let config = VectorizerConfig {
                    tokenizer: Tokenizer {
                        lowercase: true,
                        ngram_max,
                        char_ngrams,
                    },
                    tf,
                    idf,
                    l2_norm,
                    min_df,
                    max_df,
                    max_features,
                };
                let docs = config.tokenizer.tokenize_all(&texts);
                // In chunks of 3: the chunks' seams must not show.
                let index = index_in_chunks(&config.tokenizer, &texts, 3);
                let picked: Vec<&[u64]> = rows.iter().map(|&r| docs[r].as_slice()).collect();
                let fitted = fit_vocabulary(&config, &picked);
                let x = transform(&Vocabulary::new(&fitted.ids), &fitted.weighting, &picked);
                let (from_index, x_index) = fit_transform_indexed(&config, &index, &rows);
                assert_eq!(from_index.ids, fitted.ids, "{config:?}");
                assert_eq!(from_index.weighting, fitted.weighting, "{config:?}");
                assert_eq!(x_index.indptr, x.indptr, "{config:?}");
                assert_eq!(x_index.indices, x.indices, "{config:?}");
                assert_eq!(x_index.values, x.values, "{config:?}");
            }
        }
    }
}
