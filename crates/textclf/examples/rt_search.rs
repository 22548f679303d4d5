//! Runs the default grid search on a dataset and prints the results:
//! `cargo run --release -p textclf --example rt_search [-- PATH]`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures/rotten_tomatoes_snippets.tsv".into());
    let data = textclf::Dataset::load(std::path::Path::new(&path))?;
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let start = std::time::Instant::now();
    let (model, report) = textclf::grid_search(&texts, &data.labels, &textclf::SearchConfig::default(), &|_| {})?;
    let elapsed = start.elapsed();
    for c in &report.candidates {
        println!(
            "{:.4} ± {:.4}  {}",
            c.mean,
            c.std,
            serde_json::Value::Object(c.hyperparameters.clone())
        );
    }
    println!(
        "best: {}",
        serde_json::Value::Object(report.winner().hyperparameters.clone())
    );
    println!(
        "cv {:.4} test {:.4} in {:.2?}; {} features",
        report.winner().mean,
        report.test.accuracy,
        elapsed,
        model.n_features()
    );
    let bytes = model.to_bytes()?;
    println!("artifact {} bytes", bytes.len());
    Ok(())
}
