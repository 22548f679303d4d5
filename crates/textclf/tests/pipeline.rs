//! The pipeline as a user sees it: fit, predict, serialise, select models,
//! load datasets; and the promises around them (determinism, no panics,
//! clear errors).

use proptest::prelude::*;
use textclf::{
    ClassifierConfig, Dataset, Grid, SearchConfig, TextClassifier, TextClfError, TfMode, VectorizerConfig, grid_search,
};

fn fixture(name: &str) -> Dataset {
    Dataset::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures")
            .join(name),
    )
    .unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn animals() -> (Vec<&'static str>, Vec<String>) {
    let texts = vec![
        "the cat purrs and meows",
        "a cat chased a mouse",
        "my cat sleeps all day",
        "the dog barks loudly",
        "a dog fetched the ball",
        "my dog wags its tail",
        "the bird sings at dawn",
        "a bird built a nest",
        "my bird flies and sings",
    ];
    let labels = strings(&["cat", "cat", "cat", "dog", "dog", "dog", "bird", "bird", "bird"]);
    (texts, labels)
}

#[test]
fn multiclass_with_arbitrary_labels() {
    let (texts, labels) = animals();
    for classifier in [
        ClassifierConfig::LogisticRegression { c: 10.0 },
        ClassifierConfig::MultinomialNb { alpha: 0.5 },
    ] {
        let model = TextClassifier::fit(&texts, &labels, VectorizerConfig::default(), classifier).unwrap();
        assert_eq!(model.labels(), ["bird", "cat", "dog"]);
        assert_eq!(model.predict("the cat meows").label, "cat", "{classifier:?}");
        assert_eq!(model.predict("dog barks").label, "dog");
        assert_eq!(model.predict("it sings").label, "bird");
        let proba = model.predict_proba("a cat and a dog");
        assert_eq!(proba.len(), 3);
        assert!((proba.iter().map(|(_, p)| p).sum::<f64>() - 1.0).abs() < 1e-9);
        let batch = model.predict_batch(&["cat", "dog"]);
        assert_eq!(batch.iter().map(|p| p.label).collect::<Vec<_>>(), ["cat", "dog"]);
    }
    let err = TextClassifier::fit(
        &texts,
        &labels,
        VectorizerConfig::default(),
        ClassifierConfig::NbLogisticRegression { alpha: 1.0, c: 1.0 },
    )
    .unwrap_err();
    assert!(err.to_string().contains("two labels"), "{err}");
}

#[test]
fn empty_and_unknown_text_get_the_prior() {
    let texts = ["good", "good fun", "great", "bad"];
    let labels = strings(&["pos", "pos", "pos", "neg"]);
    let model = TextClassifier::fit(
        &texts,
        &labels,
        VectorizerConfig {
            tf: TfMode::Raw,
            idf: false,
            l2_norm: false,
            ..VectorizerConfig::default()
        },
        ClassifierConfig::MultinomialNb { alpha: 1.0 },
    )
    .unwrap();
    for text in ["", "   ", "zzz qqq", "!!!", "\u{0}\u{1}"] {
        let p = model.predict(text);
        assert_eq!(p.label, "pos", "{text:?}");
        assert!((p.probability - 0.75).abs() < 1e-6, "prior of pos is 3/4: {p:?}");
    }
}

#[test]
fn serialisation_round_trips_and_top_terms_make_sense() {
    let data = fixture("uci_sentiment_sentences.tsv");
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let model = TextClassifier::fit(
        &texts,
        &data.labels,
        VectorizerConfig::default(),
        ClassifierConfig::LogisticRegression { c: 10.0 },
    )
    .unwrap();
    let bytes = model.to_bytes().unwrap();
    let back = TextClassifier::from_bytes(&bytes).unwrap();
    assert_eq!(back, model);
    assert_eq!(back.to_bytes().unwrap(), bytes);
    let json = serde_json::to_vec(&model).unwrap();
    assert_eq!(serde_json::from_slice::<TextClassifier>(&json).unwrap(), model);
    assert!(
        TextClassifier::from_bytes(&bytes[..bytes.len() / 2]).is_err(),
        "truncated input is an error"
    );

    let top = back.top_terms(40);
    assert_eq!(top.len(), 40);
    let positive: Vec<&str> = top.iter().filter(|(_, w)| w[0] > 0.0).map(|(t, _)| *t).collect();
    let negative: Vec<&str> = top.iter().filter(|(_, w)| w[0] < 0.0).map(|(t, _)| *t).collect();
    assert!(
        positive
            .iter()
            .any(|t| ["great", "good", "excellent", "love"].contains(t)),
        "{positive:?}"
    );
    assert!(
        negative.iter().any(|t| ["bad", "poor", "worst", "not"].contains(t)),
        "{negative:?}"
    );
}

#[test]
fn grid_search_is_deterministic_at_any_thread_count() {
    let data = fixture("uci_sentiment_sentences.tsv");
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let (model, report) = grid_search(&texts, &data.labels, &SearchConfig::default(), &|_| {}).unwrap();
            (model.to_bytes().unwrap(), report.test.accuracy, report.winner().mean)
        })
    };
    let one = run(1);
    let two = run(2);
    let four = run(4);
    assert_eq!(one, two, "same bytes with 1 and 2 threads");
    assert_eq!(one, four, "same bytes with 1 and 4 threads");
    // The UCI sentences are easier than the film snippets: ~0.83 reference.
    assert!(one.1 > 0.78, "test accuracy {}", one.1);
}

#[test]
fn search_reports_progress_and_a_complete_report() {
    let data = fixture("tiny.tsv");
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let calls = std::sync::Mutex::new(Vec::new());
    let config = SearchConfig {
        folds: 3,
        ..SearchConfig::default()
    };
    let (_, report) = grid_search(&texts, &data.labels, &config, &|p| calls.lock().unwrap().push(p)).unwrap();
    let calls = calls.into_inner().unwrap();
    let total = report.candidates.len() * 3 + 1;
    // One call per fold fit, one as the winner's refit starts, one at the end.
    assert_eq!(calls.len(), total + 1);
    assert!(calls.iter().all(|p| p.total == total));
    assert!(
        calls.iter().all(|p| p.eta.is_some_and(|s| s >= 0.0)),
        "every call has an estimate"
    );
    let refit = &calls[calls.len() - 2];
    assert_eq!((refit.done, refit.candidates), (total - 1, 1));
    assert_eq!(calls.last().unwrap().done, total);
    assert_eq!(calls.last().unwrap().eta, Some(0.0));
    assert_eq!(report.n_train + report.n_test, 80);
    assert_eq!(report.n_test, 16);
    let cm: u64 = report.test.confusion.iter().flatten().sum();
    assert_eq!(cm, 16);
    for c in &report.candidates {
        assert_eq!(c.fold_scores.len(), 3);
        assert!(c.mean >= 0.0 && c.mean <= 1.0 && c.std >= 0.0);
    }
    let best = report.winner().mean;
    assert!(report.candidates.iter().all(|c| c.mean <= best));
}

#[test]
fn search_refuses_what_it_cannot_do_before_training() {
    let data = fixture("tiny.tsv");
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let one_label = vec!["positive".to_string(); texts.len()];
    let err = grid_search(&texts, &one_label, &SearchConfig::default(), &|_| {}).unwrap_err();
    assert!(matches!(err, TextClfError::SingleClass { .. }), "{err}");
    let config = SearchConfig {
        folds: 40,
        ..SearchConfig::default()
    };
    let err = grid_search(&texts, &data.labels, &config, &|_| {}).unwrap_err();
    assert!(matches!(err, TextClfError::TooFewExamples { folds: 40, .. }), "{err}");
    assert!(err.to_string().contains("--folds"));
    for bad in [0.0, 1.0, -0.5, f64::NAN] {
        let config = SearchConfig {
            test_size: bad,
            ..SearchConfig::default()
        };
        assert!(grid_search(&texts, &data.labels, &config, &|_| {}).is_err());
    }
    let config = SearchConfig {
        grid: Some(Grid::from_json(r#"[{"classifier":{"type":"logistic_regression","c":[0]}}]"#).unwrap()),
        ..SearchConfig::default()
    };
    assert!(matches!(
        grid_search(&texts, &data.labels, &config, &|_| {}),
        Err(TextClfError::InvalidGrid(_))
    ));
}

fn parse(content: &[u8], ext: &str) -> Result<Dataset, TextClfError> {
    Dataset::parse(content, &format!("data.{ext}"), if ext == "csv" { b',' } else { b'\t' })
}

#[test]
fn datasets_accept_bom_crlf_quotes_and_extra_columns() {
    let d = parse(
        b"\xEF\xBB\xBFlabel\ttext\r\npositive\tSo \"good\"\r\nnegative\tbad\r\n",
        "tsv",
    )
    .unwrap();
    assert_eq!(d.texts, ["So \"good\"", "bad"]);
    assert_eq!(d.labels, ["positive", "negative"]);
    assert_eq!(d.sha256.len(), 64);
    let d = parse(b"id,text,label\n1,\"a, b\",x\n2,c,y\n", "csv").unwrap();
    assert_eq!(d.texts, ["a, b", "c"]);
    assert_eq!(d.labels, ["x", "y"]);
}

#[test]
fn malformed_datasets_name_file_and_line() {
    let cases: &[(&[u8], &str, &str)] = &[
        (b"", "tsv", "is empty"),
        (b"\n\n", "tsv", "is empty"),
        (b"label\ttext\n", "tsv", "is empty"),
        (b"label\tcomment\npositive\tx\n", "tsv", "no `text` column"),
        (b"text\nx\n", "tsv", "no `label` column"),
        (b"label\ttext\tlabel\npositive\tx\ty\n", "tsv", "appears twice"),
        (b"label\ttext\npositive\tgood\nnegative\tbad\textra\n", "tsv", "line 3"),
        (b"label\ttext\npositive\t\n", "tsv", "line 2: empty text"),
        (b"label\ttext\n\tgood\n", "tsv", "line 2: empty label"),
        (b"label\ttext\npositive\tgood \xff\xfe\n", "tsv", "UTF-8"),
        (b"label,text\npositive,a,b\n", "csv", "line 2"),
    ];
    for (content, ext, want) in cases {
        let err = parse(content, ext).unwrap_err().to_string();
        assert!(err.contains(want), "{:?}: {err}", String::from_utf8_lossy(content));
        assert!(err.contains(&format!("data.{ext}")), "names the file: {err}");
    }
    let missing = Dataset::load(std::path::Path::new("/nonexistent/data.tsv")).unwrap_err();
    assert!(missing.to_string().contains("/nonexistent/data.tsv"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any text at all: no panic, probabilities that sum to one.
    #[test]
    fn prediction_never_panics(text in any::<String>()) {
        static MODEL: std::sync::OnceLock<TextClassifier> = std::sync::OnceLock::new();
        let model = MODEL.get_or_init(|| {
            let (texts, labels) = animals();
            TextClassifier::fit(&texts, &labels, VectorizerConfig::default(), ClassifierConfig::LogisticRegression { c: 1.0 }).unwrap()
        });
        let p = model.predict_proba(&text);
        prop_assert!((p.iter().map(|(_, x)| x).sum::<f64>() - 1.0).abs() < 1e-9);
        prop_assert!(p.iter().all(|(_, x)| x.is_finite() && *x >= 0.0));
    }

    /// Words are non-empty, lower-case, made of alphanumerics and in-word
    /// apostrophes, and never start or end with an apostrophe.
    #[test]
    fn tokenizer_words_are_well_formed(text in "\\PC{0,80}") {
        for w in textclf::Tokenizer::default().words(&text) {
            prop_assert!(!w.is_empty());
            prop_assert!(!w.starts_with('\'') && !w.ends_with('\''), "{w:?}");
            prop_assert!(w.chars().all(|c| c.is_alphanumeric() || c == '\''), "{w:?}");
            prop_assert_eq!(w.to_lowercase(), w.clone());
        }
    }
}
