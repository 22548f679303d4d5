//! `registry import-mlflow`: copies a running MLflow server's registered
//! models into a modelreg registry: every version's files (downloaded,
//! sizes checked against the server's listing, and the digests the
//! registry records checked against what was downloaded), its run's
//! params, metrics and tags, its tags and description, and the aliases
//! (recorded in history as `import`).
//!
//! MLflow's version N becomes version N.0.0, so that an import is
//! idempotent and resumable without a record of its own: a version that
//! exists (with this server's import tag) is skipped, one that does not
//! is saved atomically, and a run killed at any instant leaves a registry
//! that verifies and a next run that finishes the work.

mod client;

pub use client::Client;
use registry_core::{AliasName, ErrorKind, ModelInfo, ModelName, ModelVersion, RegistryError, RunRef, local_files};
use registry_open::AnyRegistry;
use serde_json::{Map, Value};

/// The tag naming where an imported version came from: `<uri> <model>/<version>`.
pub const IMPORT_TAG: &str = "mlflow.import.source";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{url} answered {status} {code}: {message}{}", auth_hint(*status))]
    Http {
        url: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach {url}: {reason} (is the MLflow server running there?)")]
    Network { url: String, reason: String },
    #[error("{url}: {reason}")]
    Protocol { url: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Usage(String),
    #[error("writing the registered model's record failed: {0}")]
    Record(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

fn auth_hint(status: u16) -> &'static str {
    if status == 401 || status == 403 {
        " (set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, as for the mlflow client)"
    } else {
        ""
    }
}

impl ImportError {
    /// Its kind in the one table (exit codes).
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImportError::Registry(e) => e.kind(),
            ImportError::Http { status: 404, .. } => ErrorKind::NotFound,
            ImportError::Http { status: 401 | 403, .. } | ImportError::Usage(_) => ErrorKind::InvalidInput,
            ImportError::Http { .. }
            | ImportError::Network { .. }
            | ImportError::Io { .. }
            | ImportError::Record(_) => ErrorKind::Storage,
            ImportError::Protocol { .. } => ErrorKind::Integrity,
        }
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// (model, MLflow version, modelreg version) saved by this run.
    pub added: Vec<(String, u64, String)>,
    /// Versions imported before (by an earlier run).
    pub present: usize,
    /// (model, alias, version) moved by this run.
    pub aliases_moved: Vec<(String, String, String)>,
    pub aliases_unchanged: usize,
    /// (model, what, why) left out.
    pub skipped: Vec<(String, String, String)>,
}

/// One step of an import, for progress lines.
pub enum Progress<'a> {
    Model {
        name: &'a str,
        versions: usize,
    },
    Version {
        model: &'a str,
        number: u64,
        files: usize,
        bytes: u64,
    },
}

fn page_all(client: &Client, endpoint: &str, field: &str, filter: Option<&str>) -> Result<Vec<Value>, ImportError> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let mut query = vec![("max_results", "1000")];
        if let Some(f) = filter {
            query.push(("filter", f));
        }
        if !token.is_empty() {
            query.push(("page_token", token.as_str()));
        }
        let page = client.get(endpoint, &query)?;
        out.extend(page[field].as_array().cloned().unwrap_or_default());
        match page["next_page_token"].as_str() {
            Some(t) if !t.is_empty() && t != token => token = t.to_string(),
            _ => return Ok(out),
        }
    }
}

fn kv(list: &Value) -> impl Iterator<Item = (String, String)> + '_ {
    list.as_array().into_iter().flatten().filter_map(|t| {
        Some((
            t["key"].as_str()?.to_string(),
            t["value"].as_str().unwrap_or("").to_string(),
        ))
    })
}

/// Imports every registered model of the server (or those in `only`).
pub fn import(
    registry: &AnyRegistry,
    client: &Client,
    only: &[String],
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let models = page_all(client, "registered-models/search", "registered_models", None)?;
    let names: Vec<String> = models
        .iter()
        .filter_map(|m| m["name"].as_str().map(String::from))
        .collect();
    for wanted in only {
        if !names.contains(wanted) {
            return Err(ImportError::Usage(format!(
                "{} has no registered model {wanted:?} (it has: {})",
                client.uri(),
                names.join(", ")
            )));
        }
    }
    for model in &models {
        let Some(name) = model["name"].as_str() else { continue };
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let target = match ModelName::parse_optional(name) {
            Ok(m) => registry.with_model(m),
            Err(e) => {
                report.skipped.push((name.into(), "the model".into(), e.to_string()));
                continue;
            }
        };
        import_model(&target, client, name, model, &mut report, progress)?;
        import_record(registry, name, model)?;
    }
    Ok(report)
}

/// The registered model's description and tags, as `registry serve`
/// keeps them (only where the server has any).
fn import_record(registry: &AnyRegistry, name: &str, model: &Value) -> Result<(), ImportError> {
    let description = model["description"].as_str().unwrap_or("").to_string();
    let tags: Vec<_> = kv(&model["tags"])
        .map(|(key, value)| mlflow_server::KeyValue { key, value })
        .collect();
    if description.is_empty() && tags.is_empty() {
        return Ok(());
    }
    let records = mlflow_server::records::Records::new(registry.store().as_ref());
    let now = mlflow_server::records::now_ms();
    let created = model["creation_timestamp"].as_i64().unwrap_or(now);
    records
        .upsert(
            &mlflow_server::record_key(name),
            || mlflow_server::ModelRecord {
                name: name.to_string(),
                creation_timestamp: created,
                ..Default::default()
            },
            |r| {
                r.description = description.clone();
                r.tags = tags.clone();
                r.last_updated_timestamp = now;
                Ok(())
            },
        )
        .map_err(|e| ImportError::Record(e.message))?;
    Ok(())
}

fn import_model(
    registry: &AnyRegistry,
    client: &Client,
    name: &str,
    model: &Value,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(), ImportError> {
    let filter = format!("name='{}'", name.replace('\'', "\\'"));
    let mut versions = page_all(client, "model-versions/search", "model_versions", Some(&filter))?;
    versions.retain(|v| v["name"].as_str() == Some(name));
    versions.sort_by_key(|v| v["version"].as_str().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0));
    progress(Progress::Model {
        name,
        versions: versions.len(),
    });
    for version in &versions {
        let Some(number) = version["version"].as_str().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        import_version(registry, client, name, number, version, report, progress)?;
    }
    // Aliases, once their versions are in.
    for alias in model["aliases"].as_array().into_iter().flatten() {
        let (Some(alias_name), Some(number)) = (
            alias["alias"].as_str(),
            alias["version"].as_str().and_then(|n| n.parse::<u64>().ok()),
        ) else {
            continue;
        };
        let what = format!("alias {alias_name}");
        let parsed: AliasName = match alias_name.parse() {
            Ok(a) => a,
            Err(e) => {
                report.skipped.push((name.into(), what, RegistryError::to_string(&e)));
                continue;
            }
        };
        let target = ModelVersion::new(number, 0, 0);
        match registry.resolve(&parsed) {
            Ok(record) if record.version == target => {
                report.aliases_unchanged += 1;
                continue;
            }
            Ok(_) | Err(RegistryError::AliasNotFound { .. } | RegistryError::AliasDeleted { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        match registry.import_alias(&parsed, &target) {
            Ok(_) => report
                .aliases_moved
                .push((name.into(), alias_name.into(), target.to_string())),
            Err(e @ (RegistryError::VersionNotFound { .. } | RegistryError::VersionDeleted { .. })) => {
                report.skipped.push((name.into(), what, e.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let _ = registry.version_numbers(true)?;
    Ok(())
}

fn import_version(
    registry: &AnyRegistry,
    client: &Client,
    name: &str,
    number: u64,
    version: &Value,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(), ImportError> {
    let semver = ModelVersion::new(number, 0, 0);
    let source = format!("{} {name}/{number}", client.uri());
    let what = format!("version {number}");
    match registry.metadata(&semver) {
        Ok(existing) if existing.info.tags.get(IMPORT_TAG) == Some(&source) => {
            report.present += 1;
            return Ok(());
        }
        Ok(_) => {
            report.skipped.push((
                name.into(),
                what,
                format!(
                    "{semver} exists and was not imported from {}: import into an empty registry or model",
                    client.uri()
                ),
            ));
            return Ok(());
        }
        Err(RegistryError::VersionNotFound { .. }) => {}
        Err(e @ (RegistryError::VersionDeleted { .. } | RegistryError::VersionCollected { .. })) => {
            report.skipped.push((name.into(), what, e.to_string()));
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    let uri = client.get(
        "model-versions/get-download-uri",
        &[("name", name), ("version", &number.to_string())],
    )?;
    let artifact_uri = uri["artifact_uri"].as_str().unwrap_or("");
    let Some(dir) = artifact_uri
        .strip_prefix("mlflow-artifacts:")
        .map(|p| p.trim_start_matches('/'))
        .map(|p| {
            p.split_once('/')
                .filter(|_| artifact_uri.starts_with("mlflow-artifacts://"))
                .map_or(p, |(_, rest)| rest)
        })
    else {
        report.skipped.push((
            name.into(),
            what,
            format!("its files are at {artifact_uri:?}, which the server does not serve: run `mlflow server` with artifact serving (--serve-artifacts, the default)"),
        ));
        return Ok(());
    };
    let listed = client.list_artifacts(dir)?;
    if listed.is_empty() {
        report
            .skipped
            .push((name.into(), what, format!("{artifact_uri} holds no files")));
        return Ok(());
    }
    let staging = tempfile::tempdir().map_err(|e| ImportError::Io {
        path: std::env::temp_dir().display().to_string(),
        source: e,
    })?;
    let mut downloaded = Vec::new();
    for file in &listed {
        for segment in file.path.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(ImportError::Protocol {
                    url: artifact_uri.into(),
                    reason: format!("the listing names {:?}, which is not a path below it", file.path),
                });
            }
        }
        let (size, sha256) = client.download(dir, file, &staging.path().join(&file.path))?;
        downloaded.push((file.clone(), size, sha256));
    }
    progress(Progress::Version {
        model: name,
        number,
        files: downloaded.len(),
        bytes: downloaded.iter().map(|(_, s, _)| s).sum(),
    });
    let info = version_info(client, version, &source, staging.path())?;
    let files = local_files::collect(staging.path())?;
    let metadata = match registry.save_files(&semver, &files, info) {
        Ok(md) => md,
        Err(RegistryError::VersionExists { .. }) => {
            // Another import got there first: the same version.
            report.present += 1;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    for (file, _, sha256) in &downloaded {
        let recorded = metadata
            .files
            .iter()
            .find(|f| f.path == file.path)
            .map(|f| f.sha256.as_str());
        if recorded != Some(sha256.as_str()) {
            return Err(ImportError::Protocol {
                url: artifact_uri.into(),
                reason: format!(
                    "{} was saved with sha256 {recorded:?} but downloaded as {sha256}: run `registry verify`",
                    file.path
                ),
            });
        }
    }
    report.added.push((name.into(), number, semver.to_string()));
    Ok(())
}

fn version_info(
    client: &Client,
    version: &Value,
    source: &str,
    dir: &std::path::Path,
) -> Result<ModelInfo, ImportError> {
    let mut info = ModelInfo {
        model_type: Some(
            std::fs::read_to_string(dir.join("MLmodel"))
                .map(|t| mlflow_server::model_type_of(&t))
                .unwrap_or_else(|_| "mlflow.model".into()),
        ),
        description: version["description"]
            .as_str()
            .filter(|d| !d.is_empty())
            .map(String::from),
        ..ModelInfo::default()
    };
    if let Some(run_id) = version["run_id"].as_str().filter(|r| !r.is_empty()) {
        match client.get("runs/get", &[("run_id", run_id)]) {
            Ok(run) => {
                let data = &run["run"]["data"];
                info.hyperparameters = kv(&data["params"])
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect::<Map<_, _>>();
                info.metrics = data["metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| Some((m["key"].as_str()?.to_string(), m["value"].clone())))
                    .filter(|(_, v)| v.is_number())
                    .collect();
                let experiment_id = run["run"]["info"]["experiment_id"].as_str().unwrap_or("").to_string();
                let experiment_name = client
                    .get("experiments/get", &[("experiment_id", &experiment_id)])
                    .ok()
                    .and_then(|e| e["experiment"]["name"].as_str().map(String::from));
                info.lineage.run = Some(RunRef {
                    run_id: run_id.to_string(),
                    experiment_id,
                    experiment_name,
                    tracking_uri: Some(client.uri().to_string()),
                    tags: kv(&data["tags"])
                        .filter(|(k, _)| k != mlflow_server::LOG_MODEL_HISTORY_TAG)
                        .collect(),
                });
                info.tags.insert(mlflow_server::RUN_TAG.into(), run_id.to_string());
            }
            // A deleted run: the version is imported without its run.
            Err(ImportError::Http { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    for (k, v) in kv(&version["tags"]) {
        info.tags.insert(k, v);
    }
    if let Some(s) = version["source"].as_str() {
        info.tags.insert(mlflow_server::SOURCE_TAG.into(), s.to_string());
    }
    if let Some(t) = version["creation_timestamp"].as_i64() {
        info.tags.insert("mlflow.creation_timestamp".into(), t.to_string());
    }
    info.tags.insert(IMPORT_TAG.into(), source.to_string());
    Ok(info)
}
