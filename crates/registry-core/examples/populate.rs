//! Fills a fresh registry with N versions carrying trainer-like metadata
//! (scores, numeric metrics, a data fingerprint, tags), for timing `registry
//! list` as a process:
//! `cargo run --release -p registry-core --example populate -- 10000 /tmp/reg10k`,
//! then `hyperfine -N 'target/release/registry --registry /tmp/reg10k list'`.
//! Prints the time taken by each 1,000 saves (how the cost of a save grows
//! with the number of versions) as `saves,seconds,ms_per_save`.
use registry_core::{DataFingerprint, ModelInfo, ModelVersion, NewFile, Registry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, n, dir] = args.as_slice() else {
        return Err("usage: populate N DIR".into());
    };
    let n: u64 = n.parse()?;
    let registry = Registry::open(dir)?;
    let mut chunk = std::time::Instant::now();
    println!("saves,seconds,ms_per_save");
    for i in 0..n {
        let version = ModelVersion::new(1, i / 1000, i % 1000);
        let score = 0.7 + (i % 100) as f64 / 1000.0;
        let mut info = ModelInfo {
            model_type: Some("sklearn".into()),
            test_score: Some(score),
            cv_score: Some(score - 0.01),
            cv_std: Some(0.01),
            ..ModelInfo::default()
        };
        for (k, v) in [
            ("accuracy", score),
            ("f1", score - 0.02),
            ("n_train", 10_201.0),
            ("n_test", 2_551.0),
        ] {
            info.metrics.insert(k.into(), serde_json::json!(v));
        }
        info.hyperparameters.insert("C".into(), serde_json::json!(0.1));
        info.lineage.data = Some(DataFingerprint {
            name: "rotten_tomatoes_snippets.tsv".into(),
            sha256: "7dc937f571c94236e247ceced16e6ca0db8638a2c974f05cf46e8472e6e6cff1".into(),
            rows: 12_752,
            path: Some("fixtures/rotten_tomatoes_snippets.tsv".into()),
            size: Some(1_650_000),
        });
        info.tags
            .insert("team".into(), if i % 2 == 0 { "search" } else { "ads" }.into());
        let file = NewFile {
            path: "model.joblib".into(),
            bytes: i.to_le_bytes().to_vec(),
        };
        registry.save_files(&version, &[file], info)?;
        if (i + 1) % 1000 == 0 || i + 1 == n {
            let took = chunk.elapsed().as_secs_f64();
            let count = if (i + 1) % 1000 == 0 { 1000 } else { (i + 1) % 1000 };
            println!("{},{took:.2},{:.2}", i + 1, took * 1000.0 / count as f64);
            chunk = std::time::Instant::now();
        }
    }
    Ok(())
}
