//! Registries with known contents for the report tests.

#![allow(dead_code)]

use registry_core::store::MemoryStore;
use registry_core::{Actor, AliasName, Expect, ModelInfo, ModelVersion, Registry};
use serde_json::json;

pub fn v(text: &str) -> ModelVersion {
    text.parse().unwrap()
}

pub fn alias(name: &str) -> AliasName {
    name.parse().unwrap()
}

/// The test score of version `i`: irregular, so every sort order differs.
pub fn test_score(i: u64) -> f64 {
    0.70 + ((i * 37) % 23) as f64 / 200.0
}

/// What the trainer records, with made-up but consistent numbers.
pub fn info(i: u64) -> ModelInfo {
    let test = test_score(i);
    let mut info = ModelInfo {
        model_type: Some("textclf.TextClassifier/5".into()),
        test_score: Some(test),
        cv_score: Some(test - 0.01),
        cv_std: Some(0.012),
        description: Some(format!("nightly retrain #{i}")),
        ..ModelInfo::default()
    };
    info.hyperparameters
        .insert("classifier".into(), json!("logistic_regression"));
    info.hyperparameters.insert("c".into(), json!(10.0));
    info.hyperparameters.insert("ngram_max".into(), json!(2));
    info.hyperparameters.insert("char_ngrams".into(), json!(null));
    info.metrics.insert("labels".into(), json!(["negative", "positive"]));
    info.metrics.insert("confusion".into(), json!([[101, 27], [25, 103]]));
    info.metrics.insert(
        "per_label".into(),
        json!([
            {"label": "negative", "precision": 0.8016, "recall": 0.7891, "f1": 0.7953, "support": 128},
            {"label": "positive", "precision": 0.7923, "recall": 0.8047, "f1": 0.7984, "support": 128}
        ]),
    );
    info.metrics.insert("n_test".into(), json!(256));
    info.lineage.data = Some(registry_core::DataFingerprint {
        name: "rotten_tomatoes_snippets.tsv".into(),
        sha256: "ab".repeat(32),
        rows: 1280,
        path: None,
        size: None,
    });
    info.lineage.seed = Some(42);
    info.lineage.folds = Some(5);
    info.lineage.code = Some(registry_core::CodeInfo {
        name: "trainer".into(),
        version: "0.1.0".into(),
        git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
    });
    info
}

/// `count` versions 1.0.0.. with `latest` on the last, `production` moved
/// three times (ending one before last) and `staging` on the first.
pub fn registry(count: u64) -> Registry<MemoryStore> {
    let registry = Registry::with_store(MemoryStore::new()).with_actor(Actor {
        user: "ci".into(),
        host: "builder".into(),
    });
    for i in 0..count {
        let model = vec![i as u32; 16];
        registry
            .save_model(&ModelVersion::new(1, 0, i), &model, info(i))
            .unwrap();
    }
    if count >= 3 {
        let production = alias("production");
        registry
            .set_alias(&production, &ModelVersion::new(1, 0, 0), Expect::Nothing)
            .unwrap();
        registry
            .set_alias(&production, &ModelVersion::new(1, 0, count - 1), Expect::Anything)
            .unwrap();
        registry.rollback(&production).unwrap();
        registry
            .set_alias(&production, &ModelVersion::new(1, 0, count - 2), Expect::Anything)
            .unwrap();
        registry
            .set_alias(&alias("staging"), &ModelVersion::new(1, 0, 0), Expect::Nothing)
            .unwrap();
    }
    registry
}
