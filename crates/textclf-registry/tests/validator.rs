//! textclf's validator refuses at save time what `verify` and the
//! predictor refuse later: a registry that knows the type seals nothing
//! invalid of it.

use registry_core::store::MemoryStore;
use registry_core::{Artifact, Encoding, ModelInfo, ModelVersion, Registry, RegistryError};
use textclf::{ClassifierConfig, TextClassifier, VectorizerConfig};

fn info() -> ModelInfo {
    ModelInfo {
        model_type: Some(textclf::model_type()),
        ..ModelInfo::default()
    }
}

fn model_bytes() -> Vec<u8> {
    let texts = ["a great film", "great fun", "a dull film", "dull and slow"];
    let labels: Vec<String> = ["pos", "pos", "neg", "neg"].iter().map(|s| s.to_string()).collect();
    let model = TextClassifier::fit(
        &texts,
        &labels,
        VectorizerConfig::default(),
        ClassifierConfig::LogisticRegression { c: 10.0 },
    )
    .unwrap();
    model.to_bytes().unwrap()
}

fn artifact(bytes: Vec<u8>, encoding: Encoding) -> Artifact {
    Artifact {
        extension: "bin".into(),
        encoding,
        bytes,
    }
}

#[test]
fn a_registry_with_the_validator_refuses_an_invalid_textclf_version_before_writing() {
    let registry = Registry::open_store(MemoryStore::new())
        .unwrap()
        .with_validator(textclf_registry::validator());
    let v = |s: &str| s.parse::<ModelVersion>().unwrap();
    let good = model_bytes();
    let cases = [
        (
            artifact(vec![0xff; 64], Encoding::Postcard),
            "not a textclf model this build can read",
        ),
        (artifact(good.clone(), Encoding::Json), "stored in the Json encoding"),
        (artifact(good.clone(), Encoding::Raw), "stored in the Raw encoding"),
    ];
    for (artifact, phrase) in cases {
        match registry.save_artifact(&v("1.0.0"), artifact, info()) {
            Err(e @ RegistryError::InvalidModel { .. }) => assert!(e.to_string().contains(phrase), "{e}"),
            other => panic!("expected InvalidModel naming {phrase:?}, got {other:?}"),
        }
    }
    assert!(registry.list_versions().unwrap().is_empty(), "nothing was written");
    registry
        .save_artifact(&v("1.0.0"), artifact(good.clone(), Encoding::Postcard), info())
        .unwrap();
    // Another type is not this validator's business.
    let other = ModelInfo {
        model_type: Some("sklearn".into()),
        ..ModelInfo::default()
    };
    registry
        .save_artifact(&v("1.0.1"), artifact(vec![0xff; 64], Encoding::Raw), other)
        .unwrap();
    assert_eq!(registry.list_versions().unwrap().len(), 2);
}
