//! smartcore is the reference implementation: on data small enough to
//! densify, this crate's sparse naive Bayes and logistic regression must
//! predict what smartcore's `MultinomialNB` and `LogisticRegression` predict.

use smartcore::linalg::basic::matrix::DenseMatrix;
use textclf::internals::{Csr, fit_logistic_regression, fit_multinomial_nb, fit_transform_texts};
use textclf::{Dataset, TfMode, Tokenizer, VectorizerConfig};

fn data() -> (Vec<String>, Vec<u32>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/uci_sentiment_sentences.tsv");
    let d = Dataset::load(&path).unwrap();
    // Every 4th row: 746 sentences from all three domains.
    let rows: Vec<usize> = (0..d.len()).step_by(4).collect();
    let texts = rows.iter().map(|&i| d.texts[i].clone()).collect();
    let y = rows.iter().map(|&i| (d.labels[i] == "positive") as u32).collect();
    (texts, y)
}

fn dense<T: Copy + Default>(m: &Csr, f: impl Fn(f32) -> T) -> Vec<Vec<T>> {
    (0..m.n_rows())
        .map(|i| {
            let mut row = vec![T::default(); m.n_cols];
            let (idx, val) = m.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                row[j as usize] = f(v);
            }
            row
        })
        .collect()
}

fn ours(model: &textclf::LinearModel, x: &Csr) -> Vec<u32> {
    let mut p = Vec::new();
    (0..x.n_rows())
        .map(|i| {
            let (idx, val) = x.row(i);
            let row: Vec<(u32, f32)> = idx.iter().copied().zip(val.iter().copied()).collect();
            model.probabilities(&row, &mut p);
            (p[1] > p[0]) as u32
        })
        .collect()
}

fn split() -> (Vec<String>, Vec<u32>, Vec<String>, Vec<u32>) {
    let (texts, y) = data();
    let cut = texts.len() * 3 / 4;
    (
        texts[..cut].to_vec(),
        y[..cut].to_vec(),
        texts[cut..].to_vec(),
        y[cut..].to_vec(),
    )
}

#[test]
fn multinomial_nb_predicts_like_smartcore() {
    let (train, y_train, test, _) = split();
    let config = VectorizerConfig {
        tokenizer: Tokenizer {
            lowercase: true,
            ngram_max: 1,
            char_ngrams: None,
        },
        min_df: 2,
        tf: TfMode::Raw,
        idf: false,
        l2_norm: false,
        ..VectorizerConfig::default()
    };
    let tr: Vec<&str> = train.iter().map(String::as_str).collect();
    let te: Vec<&str> = test.iter().map(String::as_str).collect();
    let (x_train, x_test) = fit_transform_texts(&config, &tr, &te);
    assert!(x_train.n_cols > 200, "a real vocabulary: {}", x_train.n_cols);

    for alpha in [0.5, 1.0] {
        let model = fit_multinomial_nb(&x_train, &y_train, 2, alpha);
        let mine = ours(&model, &x_test);
        let xd = DenseMatrix::from_2d_vec(&dense(&x_train, |v| v as u32)).unwrap();
        let xt = DenseMatrix::from_2d_vec(&dense(&x_test, |v| v as u32)).unwrap();
        let reference = smartcore::naive_bayes::multinomial::MultinomialNB::fit(
            &xd,
            &y_train,
            smartcore::naive_bayes::multinomial::MultinomialNBParameters::default().with_alpha(alpha),
        )
        .unwrap();
        let theirs: Vec<u32> = reference.predict(&xt).unwrap();
        assert_eq!(mine, theirs, "alpha {alpha}: every prediction agrees");
    }
}

#[test]
fn logistic_regression_predicts_like_smartcore() {
    let (train, y_train, test, y_test) = split();
    let config = VectorizerConfig {
        tokenizer: Tokenizer {
            lowercase: true,
            ngram_max: 1,
            char_ngrams: None,
        },
        min_df: 3,
        ..VectorizerConfig::default()
    };
    let tr: Vec<&str> = train.iter().map(String::as_str).collect();
    let te: Vec<&str> = test.iter().map(String::as_str).collect();
    let (x_train, x_test) = fit_transform_texts(&config, &tr, &te);
    // smartcore minimises Σ loss + ½ α ‖w‖²; ours ½ ‖w‖² + C Σ loss: α = 1/C.
    let c = 4.0;
    let mine = ours(&fit_logistic_regression(&x_train, &y_train, 2, c, None).model, &x_test);
    let xd = DenseMatrix::from_2d_vec(&dense(&x_train, |v| v as f64)).unwrap();
    let xt = DenseMatrix::from_2d_vec(&dense(&x_test, |v| v as f64)).unwrap();
    let y_i32: Vec<i32> = y_train.iter().map(|&v| v as i32).collect();
    let reference = smartcore::linear::logistic_regression::LogisticRegression::fit(
        &xd,
        &y_i32,
        smartcore::linear::logistic_regression::LogisticRegressionParameters::default().with_alpha(1.0 / c),
    )
    .unwrap();
    let theirs: Vec<i32> = reference.predict(&xt).unwrap();
    let agree = mine.iter().zip(&theirs).filter(|(a, b)| **a as i32 == **b).count();
    let n = mine.len();
    assert!(
        agree * 100 >= n * 98,
        "{agree} of {n} predictions agree (both solvers stop at a tolerance, so a point right on the boundary may differ)"
    );
    let acc = |p: &[u32]| p.iter().zip(&y_test).filter(|(a, b)| a == b).count() as f64 / n as f64;
    assert!(acc(&mine) > 0.6, "a real model: accuracy {}", acc(&mine));
}
