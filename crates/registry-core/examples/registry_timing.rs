//! Saves N versions of a model file into a fresh registry, loads each one
//! back (checksums included) and lists them, printing one JSON line with the
//! total seconds of each phase. Used by bench/compare.py:
//! `cargo run --release -p registry-core --example registry_timing -- MODEL_FILE N DIR`.
use registry_core::{Artifact, Encoding, ModelInfo, ModelVersion, Registry};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, n, dir] = args.as_slice() else {
        return Err("usage: registry_timing MODEL_FILE N DIR".into());
    };
    let bytes = std::fs::read(model)?;
    let n: u64 = n.parse()?;
    let registry = Registry::open(dir)?;
    let start = Instant::now();
    for i in 0..n {
        let mut info = ModelInfo {
            test_score: Some(0.79),
            ..ModelInfo::default()
        };
        info.hyperparameters.insert("c".into(), serde_json::json!(0.1));
        let artifact = Artifact {
            extension: "bin".into(),
            encoding: Encoding::Raw,
            bytes: bytes.clone(),
        };
        registry.save_artifact(&ModelVersion::new(1, i / 1000, i % 1000), artifact, info)?;
    }
    let save = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let versions = registry.list_versions()?;
    let list = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for v in &versions {
        std::hint::black_box(registry.load_artifact(v)?);
    }
    let load = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"versions": versions.len(), "save_seconds": save, "list_seconds": list, "load_seconds": load})
    );
    Ok(())
}
