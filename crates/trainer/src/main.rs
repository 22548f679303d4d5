//! `trainer`: train a text classifier with cross-validated grid search and
//! register it as a new version. `cargo run -p trainer` trains on the
//! bundled Rotten Tomatoes snippets and saves into `./registry`.

use clap::Parser;
use registry_core::{Bump, CodeInfo, DataFingerprint, ModelInfo, ModelVersion, Registry, RegistryError};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use textclf::{Dataset, Grid, Progress, SearchConfig};

const DEFAULT_DATA: &str = "fixtures/rotten_tomatoes_snippets.tsv";

#[derive(Parser, Debug)]
#[command(
    about = "Train a text classifier and register it as a new model version",
    disable_version_flag = true
)]
struct Args {
    /// Labelled data: TSV or CSV with `label` and `text` columns.
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// Registry directory.
    #[arg(long, env = "MODELREG_DIR", hide_env_values = true, default_value = "registry")]
    registry: PathBuf,
    /// Exact version to register (semver); default: bump the highest.
    #[arg(long, conflicts_with = "bump")]
    version: Option<String>,
    /// Which part of the highest existing version to increment.
    #[arg(long, default_value = "patch", value_parser = ["major", "minor", "patch"])]
    bump: String,
    /// Seed for the train/test split and the folds.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Cross-validation folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Fraction of the data held out for the test score.
    #[arg(long, default_value_t = 0.2)]
    test_size: f64,
    /// Search space replacing the default grid (JSON, or TOML with a `grid` array).
    #[arg(long)]
    grid: Option<PathBuf>,
    /// Free-text description stored with the version.
    #[arg(long)]
    description: Option<String>,
    /// KEY=VALUE tag stored with the version (repeatable).
    #[arg(long = "tag", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("tag {s:?} is not KEY=VALUE")),
    }
}

/// The bundled data, found from the current directory or from the source
/// tree this binary was built from.
fn resolve_data(path: &Path) -> PathBuf {
    if path.exists() || path != Path::new(DEFAULT_DATA) {
        return path.to_path_buf();
    }
    let from_source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(DEFAULT_DATA);
    if from_source.exists() {
        from_source
    } else {
        path.to_path_buf()
    }
}

fn load_grid(path: &Path) -> Result<Grid, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read grid {}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        return Grid::from_json(&text).map_err(|e| format!("{}: {e}", path.display()));
    }
    #[derive(serde::Deserialize)]
    struct TomlGrid {
        grid: Grid,
    }
    toml::from_str::<TomlGrid>(&text)
        .map(|g| g.grid)
        .map_err(|e| format!("{}: invalid grid: {e}", path.display()))
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn run(args: Args) -> Result<(), String> {
    let started = Instant::now();
    let data_path = resolve_data(&args.data);
    let data = Dataset::load(&data_path).map_err(|e| e.to_string())?;
    let grid = args.grid.as_deref().map(load_grid).transpose()?;
    let registry = Registry::open(&args.registry).map_err(|e| e.to_string())?;
    let explicit: Option<ModelVersion> = args
        .version
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: RegistryError| e.to_string())?;
    if let Some(v) = &explicit
        && registry.list_versions().map_err(|e| e.to_string())?.contains(v)
    {
        return Err(format!(
            "version {v} already exists in {} (versions are immutable; pick a new version or use --bump)",
            registry.root().display()
        ));
    }

    let config = SearchConfig {
        folds: args.folds,
        test_size: args.test_size,
        seed: args.seed,
        grid,
    };
    let bar = (!args.quiet && !args.json && std::io::stdout().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} fits, ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let progress = |p: Progress| {
        if let Some(bar) = &bar {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        }
    };
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let (model, report) = textclf::grid_search(&texts, &data.labels, &config, &progress).map_err(|e| e.to_string())?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let winner = report.winner();

    let mut info = ModelInfo {
        model_type: Some(textclf::model_type()),
        hyperparameters: winner.hyperparameters.clone(),
        cv_score: Some(winner.mean),
        cv_std: Some(winner.std),
        test_score: Some(report.test.accuracy),
        description: args.description.clone(),
        tags: args.tags.iter().cloned().collect(),
        ..ModelInfo::default()
    };
    info.metrics
        .insert("accuracy".into(), serde_json::json!(report.test.accuracy));
    info.metrics
        .insert("per_label".into(), serde_json::json!(report.test.per_label));
    info.metrics
        .insert("confusion".into(), serde_json::json!(report.test.confusion));
    info.metrics
        .insert("labels".into(), serde_json::json!(report.test.labels));
    info.metrics
        .insert("cv_fold_scores".into(), serde_json::json!(winner.fold_scores));
    info.metrics.insert("n_train".into(), serde_json::json!(report.n_train));
    info.metrics.insert("n_test".into(), serde_json::json!(report.n_test));
    info.metrics
        .insert("n_features".into(), serde_json::json!(model.n_features()));
    info.metrics
        .insert("candidates".into(), serde_json::json!(report.candidates.len()));
    info.lineage.data = Some(DataFingerprint {
        name: data.name.clone(),
        sha256: data.sha256.clone(),
        rows: data.len() as u64,
    });
    info.lineage.code = Some(CodeInfo {
        name: "trainer".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: git_commit(),
    });
    info.lineage.seed = Some(args.seed);
    info.lineage.folds = Some(args.folds as u32);
    info.lineage.parent_version = registry
        .resolve(&registry_core::AliasName::latest())
        .ok()
        .map(|r| r.version);
    info.lineage.duration_seconds = Some(started.elapsed().as_secs_f64());

    let bump: Bump = args.bump.parse().map_err(|e: String| e)?;
    let saved = match &explicit {
        Some(v) => registry.save_model(v, &model, info),
        None => registry.save_next(bump, &model, info),
    }
    .map_err(|e| e.to_string())?;
    let path = registry.root().join("versions").join(saved.version.to_string());
    let elapsed = started.elapsed().as_secs_f64();

    if args.json {
        let out = serde_json::json!({
            "version": saved.version.to_string(),
            "test_score": report.test.accuracy,
            "cv_score": winner.mean,
            "cv_std": winner.std,
            "hyperparameters": winner.hyperparameters,
            "path": path.display().to_string(),
            "data": {"name": data.name, "sha256": data.sha256, "rows": data.len()},
            "seconds": elapsed,
        });
        println!("{out}");
    } else if !args.quiet {
        let hp: Vec<String> = winner.hyperparameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("registered version {}", saved.version);
        println!(
            "  data:            {} ({} rows, sha256 {})",
            data.name,
            data.len(),
            &data.sha256[..12]
        );
        println!("  hyperparameters: {}", hp.join(" "));
        println!(
            "  cv accuracy:     {:.4} ± {:.4} ({} folds, {} candidates)",
            winner.mean,
            winner.std,
            args.folds,
            report.candidates.len()
        );
        println!(
            "  test accuracy:   {:.4} ({} held out)",
            report.test.accuracy, report.n_test
        );
        println!("  time:            {elapsed:.2} s");
        println!("  saved to:        {}", path.display());
        println!(
            "  latest:          {}",
            registry
                .resolve(&registry_core::AliasName::latest())
                .map(|r| r.version.to_string())
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
