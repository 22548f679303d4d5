//! Logged models (MLflow 3): what `log_model` creates before it uploads
//! a model's files, finalizes after, and what a version is registered
//! from (`models:/<model id>`).

use crate::Server;
use crate::error::{ApiError, ApiResult};
use crate::fields::{
    KeyValue, MAX_KEYS, MAX_PARAM_VALUE, Metric, check_experiment_id, check_id, check_key, check_tags, check_value,
    set_kv,
};
use crate::records::{PREFIX, Records, now_ms, random_id};
use crate::request::{int64, page_range, strings};
use crate::tracking::{experiment, read_run};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggedModelInfo {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub artifact_uri: String,
    pub status: String,
    pub model_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_run_id: String,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggedModel {
    pub info: LoggedModelInfo,
    pub data: LoggedModelData,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoggedModelData {
    pub params: Vec<KeyValue>,
    pub metrics: Vec<Metric>,
}

pub fn logged_model_key(id: &str) -> String {
    format!("{PREFIX}logged-models/{id}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLoggedModel {
    experiment_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    source_run_id: Option<String>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub fn create_logged_model(s: &Server, r: CreateLoggedModel) -> ApiResult<Value> {
    let records = s.records();
    experiment(&records, &r.experiment_id)?;
    if let Some(run) = r.source_run_id.as_deref().filter(|r| !r.is_empty()) {
        read_run(&records, run)?;
    }
    check_tags(&r.tags)?;
    for p in &r.params {
        check_key(&p.key, "param")?;
        check_value(&p.key, &p.value, MAX_PARAM_VALUE, "param")?;
    }
    if r.params.len() > MAX_KEYS {
        return Err(ApiError::invalid(format!("more than {MAX_KEYS} params")));
    }
    let id = format!("m-{}", random_id()?);
    let now = now_ms();
    let model = LoggedModel {
        info: LoggedModelInfo {
            artifact_uri: format!("mlflow-artifacts:/{}/models/{id}/artifacts", r.experiment_id),
            model_id: id.clone(),
            experiment_id: r.experiment_id,
            name: r.name.filter(|n| !n.is_empty()).unwrap_or_else(|| "model".into()),
            creation_timestamp_ms: now,
            last_updated_timestamp_ms: now,
            status: "LOGGED_MODEL_PENDING".into(),
            model_type: r.model_type.unwrap_or_default(),
            source_run_id: r.source_run_id.unwrap_or_default(),
            tags: r.tags,
        },
        data: LoggedModelData {
            params: r.params,
            metrics: Vec::new(),
        },
    };
    if !records.create(&logged_model_key(&id), &model)? {
        return Err(ApiError::internal("a fresh model id was taken: try again"));
    }
    Ok(json!({"model": model}))
}

pub fn read_logged_model(records: &Records<'_>, id: &str) -> ApiResult<LoggedModel> {
    check_id(id, "logged model", true)?;
    records
        .read(&logged_model_key(id))?
        .ok_or_else(|| ApiError::not_found(format!("no logged model with id {id}")))
}

fn update_logged_model(
    s: &Server,
    id: &str,
    change: impl FnMut(&mut LoggedModel) -> ApiResult<()>,
) -> ApiResult<LoggedModel> {
    check_id(id, "logged model", true)?;
    s.records()
        .update(&logged_model_key(id), change)?
        .ok_or_else(|| ApiError::not_found(format!("no logged model with id {id}")))
}

pub fn get_logged_model(s: &Server, id: String) -> ApiResult<Value> {
    Ok(json!({"model": read_logged_model(&s.records(), &id)?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalizeLoggedModel {
    #[serde(default)]
    model_id: Option<String>,
    status: String,
}

pub fn finalize_logged_model(s: &Server, id: String, r: FinalizeLoggedModel) -> ApiResult<Value> {
    same_id(&id, r.model_id.as_deref())?;
    const DONE: [&str; 2] = ["LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"];
    if !DONE.contains(&r.status.as_str()) {
        return Err(ApiError::invalid(format!(
            "status {:?} is not one of {}",
            r.status,
            DONE.join(", ")
        )));
    }
    let model = update_logged_model(s, &id, |m| {
        m.info.status = r.status.clone();
        m.info.last_updated_timestamp_ms = now_ms();
        Ok(())
    })?;
    Ok(json!({"model": model}))
}

fn same_id(path: &str, body: Option<&str>) -> ApiResult<()> {
    match body {
        Some(b) if !b.is_empty() && b != path => Err(ApiError::invalid(format!(
            "the body's model_id {b:?} is not the path's {path:?}"
        ))),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedModelTags {
    #[serde(default)]
    model_id: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub fn set_logged_model_tags(s: &Server, id: String, r: LoggedModelTags) -> ApiResult<Value> {
    same_id(&id, r.model_id.as_deref())?;
    check_tags(&r.tags)?;
    update_logged_model(s, &id, |m| {
        for t in &r.tags {
            set_kv(&mut m.info.tags, t, "tag", false)?;
        }
        Ok(())
    })?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedModelParams {
    #[serde(default)]
    model_id: Option<String>,
    #[serde(default)]
    params: Vec<KeyValue>,
}

pub fn log_logged_model_params(s: &Server, id: String, r: LoggedModelParams) -> ApiResult<Value> {
    same_id(&id, r.model_id.as_deref())?;
    for p in &r.params {
        check_key(&p.key, "param")?;
        check_value(&p.key, &p.value, MAX_PARAM_VALUE, "param")?;
    }
    update_logged_model(s, &id, |m| {
        for p in &r.params {
            set_kv(&mut m.data.params, p, "param", false)?;
        }
        Ok(())
    })?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchLoggedModels {
    #[serde(default, deserialize_with = "strings")]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    datasets: Vec<Value>,
    #[serde(default, deserialize_with = "int64")]
    max_results: Option<i64>,
    #[serde(default)]
    order_by: Vec<Value>,
    #[serde(default)]
    page_token: Option<String>,
}

/// Logged models of the given experiments, newest first. Only an empty
/// filter is understood: the client searches so when it lists a run's models.
pub fn search_logged_models(s: &Server, r: SearchLoggedModels) -> ApiResult<Value> {
    if r.filter.as_deref().is_some_and(|f| !f.trim().is_empty()) || !r.datasets.is_empty() || !r.order_by.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_IMPLEMENTED,
            "NOT_IMPLEMENTED",
            "search-logged-models takes experiment_ids only here (no filter, datasets or order_by)",
        ));
    }
    for e in &r.experiment_ids {
        check_experiment_id(e)?;
    }
    let records = s.records();
    let mut models: Vec<LoggedModel> = Vec::new();
    for key in records.list(&format!("{PREFIX}logged-models/"))? {
        if let Some(m) = records.read::<LoggedModel>(&key)?
            && (r.experiment_ids.is_empty() || r.experiment_ids.contains(&m.info.experiment_id))
        {
            models.push(m);
        }
    }
    models.sort_by_key(|m| std::cmp::Reverse(m.info.creation_timestamp_ms));
    let (range, next) = page_range(models.len(), r.max_results, r.page_token.as_deref(), 100, 1000)?;
    let mut out = json!({"models": &models[range]});
    if let Some(t) = next {
        out["next_page_token"] = Value::String(t);
    }
    Ok(out)
}

/// `runs/outputs`: the logged models a run produced (MLflow 3's log_model
/// links them so).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogOutputs {
    run_id: String,
    #[serde(default)]
    models: Vec<ModelOutputRequest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelOutputRequest {
    model_id: String,
    #[serde(default, deserialize_with = "int64")]
    step: Option<i64>,
}

pub fn log_outputs(s: &Server, r: LogOutputs) -> ApiResult<Value> {
    let records = s.records();
    for m in &r.models {
        read_logged_model(&records, &m.model_id)?;
    }
    crate::tracking::update_run(s, &r.run_id, |run| {
        for m in &r.models {
            if !run.model_outputs.iter().any(|o| o.model_id == m.model_id) {
                run.model_outputs.push(crate::tracking::ModelOutput {
                    model_id: m.model_id.clone(),
                    step: m.step.unwrap_or(0),
                });
            }
        }
        Ok(())
    })?;
    Ok(json!({}))
}
