//! Training and registering: run the search, record everything needed to
//! answer "which model is this?" later (scores, hyperparameters, data
//! fingerprint, code, seed, who, how long), and save the winner.

use registry_core::metrics::{ClassificationMetrics, Confusion};
use registry_core::store::Store;
use registry_core::{
    AliasName, CodeInfo, DataFingerprint, ModelInfo, ModelMetadata, ModelVersion, Registry, RegistryError, VersionSlot,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use textclf::{Dataset, Progress, SearchConfig, SearchReport, TextClfError};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] TextClfError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// What to train, and what to record about it.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The labelled data to read.
    pub data: PathBuf,
    /// The data's path as the user gave it, for the lineage (default: `data`).
    pub data_as_given: Option<String>,
    /// The version to save as: exact, or the next one after a bump.
    pub slot: VersionSlot,
    pub search: SearchConfig,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The grid file given (`--grid`), recorded with its digest.
    pub grid_file: Option<PathBuf>,
    /// The program that trained (recorded in the lineage).
    pub code: CodeInfo,
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
    // Left out of the grid for memory: recorded only when there were any.
    if !report.skipped_for_memory.is_empty()
        && let Some(serde_json::Value::Object(recorded)) = info.metrics.get_mut("search")
    {
        let skipped: Vec<serde_json::Value> = report
            .skipped_for_memory
            .iter()
            .map(|s| {
                serde_json::json!({
                    "hyperparameters": textclf::hyperparameters(&s.candidate.vectorizer, &s.candidate.classifier),
                    "needs_bytes": s.needs,
                    "limit_bytes": s.limit,
                })
            })
            .collect();
        recorded.insert("skipped_for_memory".into(), skipped.into());
    }
    info.lineage.seed = Some(search.seed);
    info.lineage.folds = Some(search.folds as u32);
    info.lineage.test_size = Some(search.test_size);
    info
}

/// Trains, selects, and registers a new version in `registry` (which signs
/// it if it has a signer). Nothing is written unless training succeeds, and
/// an explicit version that already exists is refused before any training
/// starts.
pub fn train_and_register<S: Store>(
    registry: &Registry<S>,
    options: &TrainOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<TrainOutcome, TrainError> {
    let started = Instant::now();
    let data = Dataset::load(&options.data)?;
    if let VersionSlot::Exact(v) = &options.slot
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
        path: Some(
            options
                .data_as_given
                .clone()
                .unwrap_or_else(|| options.data.display().to_string()),
        ),
        size: std::fs::metadata(&options.data).ok().map(|m| m.len()),
    });
    if let Some(grid) = &options.grid_file {
        info.lineage.grid_path = Some(grid.display().to_string());
        info.lineage.grid_sha256 = std::fs::read(grid).ok().map(|b| registry_core::sha256_hex(&b));
    }
    info.lineage.code = Some(options.code.clone());
    info.lineage.parent_version = registry.resolve(&AliasName::latest()).ok().map(|r| r.version);
    info.lineage.duration_seconds = Some(started.elapsed().as_secs_f64());

    let metadata = match &options.slot {
        VersionSlot::Exact(v) => registry.save_model(v, &model, info)?,
        VersionSlot::Next(bump) => registry.save_next(*bump, &model, info)?,
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
