//! `create_model_version`: the logged model's staged files become a new
//! immutable version of the registered model, committed as `registry add`
//! commits (files first, digested as they are copied, then the metadata
//! that makes the version exist), so that a crash at any instant leaves
//! either no version or a whole one. The version is READY when the call
//! returns.

use crate::Server;
use crate::error::{ApiError, ApiResult};
use crate::logged;
use crate::models::version_json;
use crate::staging::{self, Root, StagedFile};
use crate::tracking::{self, KeyValue, LOG_MODEL_HISTORY_TAG, Run};
use crate::versions::{MODEL_ID_TAG, RUN_TAG, SOURCE_TAG, model_handle};
use registry_core::{Bump, ModelInfo, RunRef, StoredSource};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateModelVersion {
    name: String,
    source: String,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    /// A link to the run in MLflow's UI: accepted, not kept.
    #[serde(default, rename = "run_link")]
    _run_link: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    model_id: Option<String>,
}

/// Where `source` (or `model_id`) says the files are: a staged root and
/// the directory in it.
fn locate(s: &Server, source: &str, model_id: Option<&str>) -> ApiResult<(Root, String)> {
    let records = s.records();
    let logged = |id: &str| -> ApiResult<(Root, String)> {
        let model = logged::read_logged_model(&records, id)?;
        Ok((
            Root::Model {
                experiment: model.info.experiment_id,
                model_id: id.to_string(),
            },
            String::new(),
        ))
    };
    if let Some(id) = source.strip_prefix("models:/").filter(|r| r.starts_with("m-")) {
        return logged(id.trim_end_matches('/'));
    }
    if let Some(path) = source.strip_prefix("mlflow-artifacts:/") {
        let path = path.trim_start_matches('/');
        if let Some(staged) = staging::parse(path)? {
            staged.root.check_exists(&records)?;
            return Ok((staged.root, staged.rel));
        }
    }
    if let Some(rest) = source.strip_prefix("runs:/") {
        let (run_id, sub) = rest.split_once('/').unwrap_or((rest, ""));
        let run = tracking::read_run(&records, run_id)?;
        let sub = sub.trim_matches('/');
        for segment in sub.split('/').filter(|s| !s.is_empty()) {
            staging::check_segment(segment, source)?;
        }
        return Ok((
            Root::Run {
                experiment: run.info.experiment_id,
                run_id: run_id.to_string(),
            },
            sub.to_string(),
        ));
    }
    if let Some(id) = model_id.filter(|m| !m.is_empty()) {
        return logged(id);
    }
    Err(ApiError::invalid(format!(
        "source {source:?} cannot be registered here: give what log_model returned (models:/<model id>), runs:/<run id>/<path>, or an mlflow-artifacts:/ path this server gave"
    )))
}

/// The flavors an `MLmodel` file lists (`sklearn`, `python_function`):
/// the keys indented under `flavors:`.
fn flavors(mlmodel: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in mlmodel.lines() {
        if line.starts_with("flavors:") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with(' ') && !line.trim().is_empty() {
                break;
            }
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if indent == 2
                && let Some((key, _)) = trimmed.split_once(':')
            {
                out.push(key.to_string());
            }
        }
    }
    out
}

/// The model type a version with this `MLmodel` is recorded with:
/// `mlflow.<flavor>`, the first flavor other than `python_function`
/// (`mlflow.sklearn`), else `mlflow.python_function`.
pub fn model_type_of(mlmodel: &str) -> String {
    let flavors = flavors(mlmodel);
    let main = flavors.iter().find(|f| *f != "python_function").or(flavors.first());
    format!("mlflow.{}", main.map_or("model", String::as_str))
}

pub fn create_model_version(s: &Server, r: CreateModelVersion) -> ApiResult<Value> {
    let registry = model_handle(s, &r.name)?;
    if !crate::models::exists(s, &r.name, &registry)? {
        return Err(ApiError::not_found(format!(
            "registered model {:?} not found: create it first (create_registered_model)",
            r.name
        )));
    }
    if r.source.len() > 2000 {
        return Err(ApiError::invalid("source is longer than 2000 characters"));
    }
    let (root, dir) = locate(s, &r.source, r.model_id.as_deref())?;
    let records = s.records();
    let manifest = root.manifest(&records)?;
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let staged: Vec<(&String, &StagedFile)> = manifest.iter().filter(|(p, _)| p.starts_with(&prefix)).collect();
    if staged.is_empty() {
        return Err(ApiError::invalid(format!(
            "nothing was uploaded under {}{}: log the model's files first",
            root.path(),
            if dir.is_empty() {
                String::new()
            } else {
                format!("/{dir}")
            }
        )));
    }
    let files: Vec<StoredSource<'_>> = staged
        .iter()
        .map(|(p, f)| StoredSource {
            store: records.store(),
            key: root.file_key(p),
            path: p[prefix.len()..].to_string(),
            size: f.size,
        })
        .collect();
    // The run that logged it: named by the request, or the logged model's.
    let run_id = r.run_id.clone().filter(|r| !r.is_empty()).or_else(|| match &root {
        Root::Run { run_id, .. } => Some(run_id.clone()),
        Root::Model { model_id, .. } => logged::read_logged_model(&records, model_id)
            .ok()
            .map(|m| m.info.source_run_id)
            .filter(|r| !r.is_empty()),
    });
    let run: Option<Run> = match &run_id {
        Some(id) => Some(tracking::read_run(&records, id)?),
        None => None,
    };
    let mut info = ModelInfo::default();
    let mlmodel = manifest
        .get(&format!("{prefix}MLmodel"))
        .filter(|f| f.size <= 1024 * 1024)
        .and_then(|_| records.store().read(&root.file_key(&format!("{prefix}MLmodel"))).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    info.model_type = Some(mlmodel.as_deref().map_or_else(|| "mlflow.model".into(), model_type_of));
    if let Some(run) = &run {
        info.hyperparameters = run
            .data
            .params
            .iter()
            .map(|p| (p.key.clone(), Value::String(p.value.clone())))
            .collect::<Map<String, Value>>();
        info.metrics = run
            .data
            .metrics
            .iter()
            .filter_map(|m| {
                let v = m.value?;
                serde_json::Number::from_f64(v).map(|n| (m.key.clone(), Value::Number(n)))
            })
            .collect();
        let experiment = tracking::experiment(&records, &run.info.experiment_id).ok();
        info.lineage.run = Some(RunRef {
            run_id: run.info.run_id.clone(),
            experiment_id: run.info.experiment_id.clone(),
            experiment_name: experiment.map(|e| e.name),
            tracking_uri: None,
            tags: run
                .data
                .tags
                .iter()
                // The models logged in the run: MLflow's own bookkeeping, long.
                .filter(|t| t.key != LOG_MODEL_HISTORY_TAG)
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect(),
        });
        info.tags.insert(RUN_TAG.into(), run.info.run_id.clone());
    }
    for t in &r.tags {
        info.tags.insert(t.key.clone(), t.value.clone());
    }
    info.tags.insert(SOURCE_TAG.into(), r.source.clone());
    if let Root::Model { model_id, .. } = &root {
        info.tags.insert(MODEL_ID_TAG.into(), model_id.clone());
    }
    let description = r.description.clone().filter(|d| !d.is_empty());
    info.description = description.clone();
    let metadata = registry.save_files_next(Bump::Major, &files, info)?;
    let number = registry.number_saved(&metadata.version)?;
    // Also in the notes: a search shows versions from catalog rows, which
    // do not carry the metadata's description.
    if let Some(d) = description {
        crate::versions::update_notes(s, &r.name, &metadata.version, |n| n.description = Some(d.clone()))?;
    }
    Ok(json!({"model_version": version_json(s, &r.name, &number.to_string())?}))
}

#[cfg(test)]
mod tests {
    #[test]
    fn flavors_are_read_from_mlmodel() {
        let text = "artifact_path: model\nflavors:\n  python_function:\n    env: x\n  sklearn:\n    code: null\nmlflow_version: 3.1\n";
        assert_eq!(super::flavors(text), vec!["python_function", "sklearn"]);
    }
}
