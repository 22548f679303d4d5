//! The trainer's work, as a library: load a dataset, run the grid search,
//! and register the winner with everything needed to answer "which model
//! is this?" later (scores, hyperparameters, data fingerprint, code, seed,
//! who, how long). `main.rs` only parses arguments and prints.

use registry_core::metrics::{ClassificationMetrics, Confusion};
use registry_core::{
    AliasName, Bump, CodeInfo, DataFingerprint, ModelInfo, ModelMetadata, ModelName, ModelVersion, RegistryError,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use textclf::{Dataset, Grid, Progress, SearchConfig, SearchReport, TextClfError};

/// The bundled training data, relative to the workspace root.
pub const DEFAULT_DATA: &str = "fixtures/rotten_tomatoes_snippets.tsv";

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] TextClfError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Open(#[from] registry_open::OpenError),
    #[error("{0}")]
    Grid(String),
}

/// What to train and where to register it.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: PathBuf,
    /// Where the registry is: a directory or an s3:// URL.
    pub registry: String,
    pub open_options: registry_open::OpenOptions,
    /// Exact version; `None`: `bump` the highest existing one.
    pub version: Option<ModelVersion>,
    pub bump: Bump,
    pub search: SearchConfig,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The registry's model to save into (`None`: its default model).
    pub model: Option<ModelName>,
    /// The grid file given (`--grid`), recorded with its digest.
    pub grid_file: Option<PathBuf>,
    /// Signs the new version as it is saved (`--sign-key`).
    pub signer: Option<std::sync::Arc<dyn registry_core::VersionSigner>>,
}

/// What happened.
#[derive(Debug)]
pub struct TrainOutcome {
    pub metadata: ModelMetadata,
    pub report: SearchReport,
    pub data_name: String,
    pub data_sha256: String,
    pub data_rows: usize,
    /// Where the version is: its directory or URL.
    pub location: String,
    pub seconds: f64,
    pub latest: Option<ModelVersion>,
}

/// The bundled data, found from the current directory or from the source
/// tree this binary was built from (so `cargo run -p trainer` works from
/// any directory of the checkout).
pub fn resolve_data(path: &Path) -> PathBuf {
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

/// Reads a grid: JSON (`.json`), or TOML with a `grid` array of sub-grids.
pub fn load_grid(path: &Path) -> Result<Grid, TrainError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| TrainError::Grid(format!("cannot read grid {}: {e}", path.display())))?;
    if path.extension().is_some_and(|e| e == "json") {
        return Grid::from_json(&text).map_err(|e| TrainError::Grid(format!("{}: {e}", path.display())));
    }
    #[derive(serde::Deserialize)]
    struct TomlGrid {
        grid: Grid,
    }
    toml::from_str::<TomlGrid>(&text)
        .map(|g| g.grid)
        .map_err(|e| TrainError::Grid(format!("{}: invalid grid: {e}", path.display())))
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// What a grid search found, as the registry records it: the model type,
/// the winner's hyperparameters and cross-validation scores, the test
/// score and per-label metrics, and the search's seed, folds and test
/// share. Shared by `trainer` and the Python package's `TextClassifier`, so
/// both register the same metadata for the same search.
pub fn search_info(model: &textclf::TextClassifier, report: &SearchReport, search: &SearchConfig) -> ModelInfo {
    let winner = report.winner();
    let mut info = ModelInfo {
        model_type: Some(textclf::model_type()),
        hyperparameters: winner.hyperparameters.clone(),
        cv_score: Some(winner.mean),
        cv_std: Some(winner.std),
        test_score: Some(report.test.accuracy),
        ..ModelInfo::default()
    };
    ClassificationMetrics::from_confusion(Confusion {
        labels: report.test.labels.clone(),
        counts: report.test.confusion.clone(),
    })
    .write_into(&mut info.metrics);
    let metrics = [
        ("cv_fold_scores", serde_json::json!(winner.fold_scores)),
        ("n_train", serde_json::json!(report.n_train)),
        ("n_test", serde_json::json!(report.n_test)),
        ("n_features", serde_json::json!(model.n_features())),
        ("candidates", serde_json::json!(report.candidates.len())),
    ];
    for (k, v) in metrics {
        info.metrics.insert(k.into(), v);
    }
    // How the winner was chosen: the strategy, its rounds, and every
    // candidate left out before the last round (with why and on how many
    // rows it scored what), so a halved or budgeted search can be told
    // from a full one and repeated.
    let eliminated: Vec<serde_json::Value> = report
        .eliminated
        .iter()
        .map(|e| {
            let c = &report.candidates[e.candidate];
            serde_json::json!({
                "hyperparameters": c.hyperparameters,
                "cv_score": c.mean,
                "rows": c.rows,
                "round": e.round + 1,
                "reason": e.reason,
            })
        })
        .collect();
    info.metrics.insert(
        "search".into(),
        serde_json::json!({
            "strategy": report.strategy,
            "rounds": report.rounds.iter().map(|r| serde_json::json!({"rows": r.rows, "candidates": r.candidates})).collect::<Vec<_>>(),
            "eliminated": eliminated,
            "time_budget_seconds": search.time_budget.map(|b| b.as_secs_f64()),
        }),
    );
    info.lineage.seed = Some(search.seed);
    info.lineage.folds = Some(search.folds as u32);
    info.lineage.test_size = Some(search.test_size);
    info
}

/// Trains, selects, and registers a new version. Nothing is written to the
/// registry unless training succeeds, and an explicit version that already
/// exists is refused before any training starts.
pub fn train_and_register(
    options: &TrainOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<TrainOutcome, TrainError> {
    let started = Instant::now();
    let data = Dataset::load(&resolve_data(&options.data))?;
    let mut registry = registry_open::open(&options.registry, &options.open_options)?.for_model(options.model.clone());
    if let Some(signer) = &options.signer {
        registry = registry.with_signer(signer.clone());
    }
    if let Some(v) = &options.version
        && registry.list_versions()?.contains(v)
    {
        return Err(RegistryError::VersionExists {
            version: v.to_string(),
            location: registry.version_location(v),
            complete: true,
        }
        .into());
    }
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let (model, report) = textclf::grid_search(&texts, &data.labels, &options.search, progress)?;

    let mut info = search_info(&model, &report, &options.search);
    info.description = options.description.clone();
    info.tags = options.tags.clone();
    info.lineage.data = Some(DataFingerprint {
        name: data.name.clone(),
        sha256: data.sha256.clone(),
        rows: data.len() as u64,
        path: Some(options.data.display().to_string()),
        size: std::fs::metadata(resolve_data(&options.data)).ok().map(|m| m.len()),
    });
    if let Some(grid) = &options.grid_file {
        info.lineage.grid_path = Some(grid.display().to_string());
        info.lineage.grid_sha256 = std::fs::read(grid).ok().map(|b| registry_core::sha256_hex(&b));
    }
    info.lineage.code = Some(CodeInfo {
        name: "trainer".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: git_commit(),
    });
    info.lineage.parent_version = registry.resolve(&AliasName::latest()).ok().map(|r| r.version);
    info.lineage.duration_seconds = Some(started.elapsed().as_secs_f64());

    let metadata = match &options.version {
        Some(v) => registry.save_model(v, &model, info)?,
        None => registry.save_next(options.bump, &model, info)?,
    };
    Ok(TrainOutcome {
        location: registry.version_location(&metadata.version),
        latest: registry.resolve(&AliasName::latest()).ok().map(|r| r.version),
        metadata,
        report,
        data_name: data.name,
        data_sha256: data.sha256,
        data_rows: data.texts.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
