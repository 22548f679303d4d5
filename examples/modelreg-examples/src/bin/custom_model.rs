//! A crate with its own, non-text model type stores and reloads it through
//! `registry-core`: `cargo run -p modelreg-examples --bin custom_model [DIR]`.

use registry_core::{AliasName, Artifact, Encoding, Expect, ModelInfo, ModelVersion, Registry};
use serde::{Deserialize, Serialize};

/// k-means centroids: nothing to do with text.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Centroids {
    k: usize,
    centres: Vec<[f64; 2]>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let root = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("registry"));
    let registry = Registry::open(&root)?;

    let model = Centroids {
        k: 2,
        centres: vec![[0.0, 1.0], [4.5, -2.0]],
    };
    let mut info = ModelInfo {
        model_type: Some("example.Centroids/1".into()),
        ..ModelInfo::default()
    };
    info.hyperparameters.insert("k".into(), serde_json::json!(2));
    info.metrics.insert("inertia".into(), serde_json::json!(12.5));
    let saved = registry.save_next(registry_core::Bump::Minor, &model, info)?;
    println!("saved centroids as version {}", saved.version);

    // Raw bytes work too, e.g. an ONNX file.
    let onnx = Artifact {
        extension: "onnx".into(),
        encoding: Encoding::Raw,
        bytes: b"\x08\x07fake-onnx".to_vec(),
    };
    let next: ModelVersion = registry.next_version(registry_core::Bump::Patch)?;
    registry.save_artifact(&next, onnx, ModelInfo::default())?;

    let staging: AliasName = "staging".parse()?;
    registry.set_alias(&staging, &saved.version, Expect::Anything)?;
    let (reloaded, metadata): (Centroids, _) = registry.get_by_alias(&staging)?;
    assert_eq!(reloaded, model);
    println!(
        "reloaded {} centroids from {} (sha256 {})",
        reloaded.k,
        metadata.version,
        metadata.stored_files()[0].sha256
    );
    let raw = registry.get_latest_model::<Centroids>();
    assert!(raw.is_err(), "latest is the raw ONNX artifact, not Centroids");
    println!(
        "latest is {} ({})",
        next,
        registry.load_artifact(&next)?.metadata.stored_files()[0].path
    );
    let report = registry.verify()?;
    assert!(report.is_ok());
    println!("verified {} versions", report.versions_checked);
    Ok(())
}
