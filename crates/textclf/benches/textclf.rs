//! textclf hot paths on the Rotten Tomatoes snippets: model load
//! (deserialise), prediction per sentence (tokenize + vectorize + classify,
//! one core), and one fit of each classifier family on a CV-sized split.
//! `cargo bench -p textclf`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use textclf::{ClassifierConfig, Dataset, Scratch, SearchConfig, TextClassifier, TfMode, VectorizerConfig};

fn bench(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/rotten_tomatoes_snippets.tsv");
    let data = Dataset::load(&path).unwrap();
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let (model, _) = textclf::grid_search(&texts, &data.labels, &SearchConfig::default(), &|_| {}).unwrap();
    let bytes = model.to_bytes().unwrap();
    let json = serde_json::to_vec(&model).unwrap();
    eprintln!(
        "default model: {} features, postcard {} bytes, JSON {} bytes",
        model.n_features(),
        bytes.len(),
        json.len()
    );

    let mut g = c.benchmark_group("textclf");
    g.bench_function("load_postcard", |b| {
        b.iter(|| black_box(TextClassifier::from_bytes(&bytes).unwrap()))
    });
    g.sample_size(10);
    g.bench_function("load_json", |b| {
        b.iter(|| black_box(serde_json::from_slice::<TextClassifier>(&json).unwrap()))
    });
    g.sample_size(50);
    g.bench_function("sha256_artifact", |b| b.iter(|| black_box(registry_sha(&bytes))));
    let words_grid = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/grids/words-only.json"),
    )
    .unwrap();
    let words_config = SearchConfig {
        grid: Some(textclf::Grid::from_json(&words_grid).unwrap()),
        ..SearchConfig::default()
    };
    let (words_model, _) = textclf::grid_search(&texts, &data.labels, &words_config, &|_| {}).unwrap();
    g.throughput(Throughput::Elements(texts.len() as u64));
    for (name, m) in [
        ("predict_default_model", &model),
        ("predict_words_only_model", &words_model),
    ] {
        g.bench_function(name, |b| {
            let mut scratch = Scratch::default();
            b.iter(|| {
                let mut positive = 0usize;
                for t in &texts {
                    positive += (m.predict_with(t, &mut scratch).label == "positive") as usize;
                }
                black_box(positive)
            })
        });
    }
    g.throughput(Throughput::Elements(1));
    let labels = &data.labels[..10_000];
    let fit_texts = &texts[..10_000];
    let tfidf = VectorizerConfig::default();
    let binary = VectorizerConfig {
        tf: TfMode::Binary,
        idf: false,
        l2_norm: false,
        ..VectorizerConfig::default()
    };
    g.sample_size(10);
    for (name, v, cl) in [
        ("fit_lr_c10", tfidf, ClassifierConfig::LogisticRegression { c: 10.0 }),
        ("fit_nb", binary, ClassifierConfig::MultinomialNb { alpha: 0.5 }),
        (
            "fit_nblr",
            binary,
            ClassifierConfig::NbLogisticRegression { alpha: 1.0, c: 1.0 },
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(TextClassifier::fit(fit_texts, labels, v, cl).unwrap()))
        });
    }
    g.finish();
}

fn registry_sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

criterion_group!(benches, bench);
criterion_main!(benches);
