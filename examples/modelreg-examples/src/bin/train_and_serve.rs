//! Train, register and serve from your own code with `textclf` and
//! `registry-core`: `cargo run -p modelreg-examples --bin train_and_serve`.

use registry_core::{ModelInfo, Registry};
use textclf::{Dataset, SearchConfig, TextClassifier};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny.tsv");
    let data = Dataset::load(&fixture)?;
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let config = SearchConfig {
        folds: 3,
        ..SearchConfig::default()
    };
    let (model, report) = textclf::grid_search(&texts, &data.labels, &config, &|_| {})?;

    let tmp = tempfile::tempdir()?;
    let registry = Registry::open(tmp.path().join("registry"))?;
    let info = ModelInfo {
        model_type: Some(textclf::model_type()),
        hyperparameters: report.winner().hyperparameters.clone(),
        cv_score: Some(report.winner().mean),
        test_score: Some(report.test.accuracy),
        ..ModelInfo::default()
    };
    let saved = registry.save_next(registry_core::Bump::Patch, &model, info)?;
    println!(
        "registered {} (test accuracy {:.3})",
        saved.version, report.test.accuracy
    );

    let (served, metadata): (TextClassifier, _) = registry.get_latest_model()?;
    for text in ["I love it", "It broke after a day"] {
        let p = served.predict(text);
        println!("{text:?} -> {} ({:.3}) by {}", p.label, p.probability, metadata.version);
    }
    Ok(())
}
