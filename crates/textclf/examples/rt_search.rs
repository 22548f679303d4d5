//! Runs a grid search on a dataset and prints every candidate:
//! `cargo run --release -p textclf --example rt_search [-- DATA [GRID.json]]`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "fixtures/rotten_tomatoes_snippets.tsv".into());
    let grid = args
        .next()
        .map(|g| std::fs::read_to_string(g).map(|t| textclf::Grid::from_json(&t)))
        .transpose()?
        .transpose()?;
    let data = textclf::Dataset::load(std::path::Path::new(&path))?;
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let config = textclf::SearchConfig {
        grid,
        ..textclf::SearchConfig::default()
    };
    let start = std::time::Instant::now();
    let (model, report) = textclf::grid_search(&texts, &data.labels, &config, &|_| {})?;
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
        "cv {:.4} test {:.4} in {:.2?}; {} features, artifact {} bytes",
        report.winner().mean,
        report.test.accuracy,
        elapsed,
        model.n_features(),
        model.to_bytes()?.len()
    );
    Ok(())
}
