//! Experiments and runs: only what the mlflow client needs
//! to log a model and register it (this is not a tracking server). A
//! run's params, metrics and tags become the hyperparameters, metrics and
//! tags of the versions registered from it.

use crate::Server;
use crate::error::{ApiError, ApiResult};
pub use crate::fields::{KeyValue, MAX_KEYS, MAX_PARAM_VALUE, MAX_TAG_VALUE, Metric};
use crate::fields::{check_experiment_id, check_id, check_key, check_tags, check_value, set_kv};
use crate::records::{PREFIX, Records, hex_segment, now_ms, random_id};
use crate::request::{double, int64, page_range};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: String,
    pub creation_time: i64,
    pub last_update_time: i64,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub run_uuid: String,
    pub run_name: String,
    pub experiment_id: String,
    pub user_id: String,
    pub status: String,
    pub start_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunData {
    /// The latest value of each metric.
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelOutput {
    pub model_id: String,
    #[serde(default)]
    pub step: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub info: RunInfo,
    pub data: RunData,
    #[serde(default)]
    pub model_outputs: Vec<ModelOutput>,
    /// Every value logged, oldest first, up to [`MAX_HISTORY`].
    #[serde(default)]
    pub history: Vec<Metric>,
}

/// The most metric values a run keeps the history of (the latest value of
/// each key is always kept): runs are kept for registration, not for
/// training curves.
pub const MAX_HISTORY: usize = 10_000;
fn experiment_key(id: &str) -> String {
    format!("{PREFIX}experiments/{id}")
}
fn experiment_name_key(name: &str) -> String {
    format!("{PREFIX}experiment-names/{}", hex_segment(name))
}
pub fn run_key(id: &str) -> String {
    format!("{PREFIX}runs/{id}")
}

/// The experiment MLflow always has, which runs go to without `set_experiment`.
fn default_experiment() -> Experiment {
    Experiment {
        experiment_id: "0".into(),
        name: "Default".into(),
        artifact_location: "mlflow-artifacts:/0".into(),
        lifecycle_stage: "active".into(),
        creation_time: 0,
        last_update_time: 0,
        tags: Vec::new(),
    }
}

pub fn experiment(records: &Records<'_>, id: &str) -> ApiResult<Experiment> {
    check_experiment_id(id)?;
    if id == "0" {
        return Ok(records.read(&experiment_key(id))?.unwrap_or_else(default_experiment));
    }
    records
        .read(&experiment_key(id))?
        .ok_or_else(|| ApiError::not_found(format!("no experiment with id {id}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetExperimentByName {
    experiment_name: String,
}

pub fn get_experiment_by_name(s: &Server, r: GetExperimentByName) -> ApiResult<Value> {
    let records = s.records();
    if r.experiment_name == "Default" {
        return Ok(json!({"experiment": experiment(&records, "0")?}));
    }
    let Some(id) = records.read::<String>(&experiment_name_key(&r.experiment_name))? else {
        return Err(ApiError::not_found(format!(
            "no experiment named {:?}",
            r.experiment_name
        )));
    };
    Ok(json!({"experiment": experiment(&records, &id)?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetExperiment {
    experiment_id: String,
}

pub fn get_experiment(s: &Server, r: GetExperiment) -> ApiResult<Value> {
    Ok(json!({"experiment": experiment(&s.records(), &r.experiment_id)?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateExperiment {
    name: String,
    #[serde(default)]
    artifact_location: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub fn create_experiment(s: &Server, r: CreateExperiment) -> ApiResult<Value> {
    if r.name.trim().is_empty() || r.name.len() > 500 {
        return Err(ApiError::invalid("an experiment's name must be 1 to 500 characters"));
    }
    if r.artifact_location.as_deref().is_some_and(|a| !a.is_empty()) {
        return Err(ApiError::invalid(
            "artifact_location cannot be chosen: artifacts go to the registry (mlflow-artifacts:/<experiment id>)",
        ));
    }
    for t in &r.tags {
        check_key(&t.key, "tag")?;
        check_value(&t.key, &t.value, MAX_TAG_VALUE, "tag")?;
    }
    let records = s.records();
    if r.name == "Default" || records.read::<String>(&experiment_name_key(&r.name))?.is_some() {
        return Err(ApiError::exists(format!(
            "an experiment named {:?} already exists",
            r.name
        )));
    }
    // The next free id: ids are taken by creating the record, so two
    // creators never share one; then the name is claimed, and the loser
    // of a race for a name leaves an experiment no name leads to.
    loop {
        let next = records
            .list(&format!("{PREFIX}experiments/"))?
            .iter()
            .filter_map(|k| k.rsplit('/').next()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let id = next.to_string();
        let now = now_ms();
        let exp = Experiment {
            experiment_id: id.clone(),
            name: r.name.clone(),
            artifact_location: format!("mlflow-artifacts:/{id}"),
            lifecycle_stage: "active".into(),
            creation_time: now,
            last_update_time: now,
            tags: r.tags.clone(),
        };
        if !records.create(&experiment_key(&id), &exp)? {
            continue;
        }
        if !records.create(&experiment_name_key(&r.name), &id)? {
            return Err(ApiError::exists(format!(
                "an experiment named {:?} already exists",
                r.name
            )));
        }
        return Ok(json!({"experiment_id": id}));
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRun {
    #[serde(default)]
    experiment_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    run_name: Option<String>,
    #[serde(default, deserialize_with = "int64")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub fn create_run(s: &Server, r: CreateRun) -> ApiResult<Value> {
    let records = s.records();
    let experiment_id = r.experiment_id.unwrap_or_else(|| "0".into());
    experiment(&records, &experiment_id)?;
    check_tags(&r.tags)?;
    let id = random_id()?;
    let run_name = r
        .run_name
        .filter(|n| !n.is_empty())
        .or_else(|| {
            r.tags
                .iter()
                .find(|t| t.key == "mlflow.runName")
                .map(|t| t.value.clone())
        })
        .unwrap_or_else(|| format!("run-{}", &id[..8]));
    let mut tags = r.tags;
    if !tags.iter().any(|t| t.key == "mlflow.runName") {
        tags.push(KeyValue {
            key: "mlflow.runName".into(),
            value: run_name.clone(),
        });
    }
    let run = Run {
        info: RunInfo {
            run_id: id.clone(),
            run_uuid: id.clone(),
            run_name,
            artifact_uri: format!("mlflow-artifacts:/{experiment_id}/{id}/artifacts"),
            experiment_id,
            user_id: r.user_id.unwrap_or_default(),
            status: "RUNNING".into(),
            start_time: r.start_time.unwrap_or_else(now_ms),
            end_time: None,
            lifecycle_stage: "active".into(),
        },
        data: RunData {
            tags,
            ..RunData::default()
        },
        model_outputs: Vec::new(),
        history: Vec::new(),
    };
    if !records.create(&run_key(&id), &run)? {
        return Err(ApiError::internal("a fresh run id was taken: try again"));
    }
    Ok(json!({"run": run_json(&run)}))
}

pub fn run_json(run: &Run) -> Value {
    json!({
        "info": run.info,
        "data": run.data,
        "inputs": {},
        "outputs": {"model_outputs": run.model_outputs},
    })
}

pub fn read_run(records: &Records<'_>, id: &str) -> ApiResult<Run> {
    check_id(id, "run", false)?;
    records
        .read(&run_key(id))?
        .ok_or_else(|| ApiError::not_found(format!("no run with id {id}")))
}

pub(crate) fn update_run(s: &Server, id: &str, change: impl FnMut(&mut Run) -> ApiResult<()>) -> ApiResult<Run> {
    check_id(id, "run", false)?;
    s.records()
        .update(&run_key(id), change)?
        .ok_or_else(|| ApiError::not_found(format!("no run with id {id}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetRun {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
}

fn one_id(run_id: Option<String>, run_uuid: Option<String>) -> ApiResult<String> {
    run_id
        .filter(|s| !s.is_empty())
        .or(run_uuid)
        .ok_or_else(|| ApiError::invalid("run_id is missing"))
}

pub fn get_run(s: &Server, r: GetRun) -> ApiResult<Value> {
    let id = one_id(r.run_id, r.run_uuid)?;
    Ok(json!({"run": run_json(&read_run(&s.records(), &id)?)}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRun {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "int64")]
    end_time: Option<i64>,
    #[serde(default)]
    run_name: Option<String>,
}

const STATUSES: [&str; 5] = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];

pub fn update_run_request(s: &Server, r: UpdateRun) -> ApiResult<Value> {
    let id = one_id(r.run_id, r.run_uuid)?;
    if let Some(status) = &r.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::invalid(format!(
            "status {status:?} is not one of {}",
            STATUSES.join(", ")
        )));
    }
    let run = update_run(s, &id, |run| {
        if let Some(status) = &r.status {
            run.info.status = status.clone();
        }
        if r.end_time.is_some() {
            run.info.end_time = r.end_time;
        }
        if let Some(name) = r.run_name.as_ref().filter(|n| !n.is_empty()) {
            run.info.run_name = name.clone();
        }
        Ok(())
    })?;
    Ok(json!({"run_info": run.info}))
}

fn add_metric(run: &mut Run, m: &Metric) -> ApiResult<()> {
    check_key(&m.key, "metric")?;
    let mut m = m.clone();
    m.value.get_or_insert(0.0);
    m.timestamp.get_or_insert_with(now_ms);
    m.step.get_or_insert(0);
    let newer = |old: &Metric| (m.step, m.timestamp) >= (old.step, old.timestamp);
    let full = run.data.metrics.len() >= MAX_KEYS;
    match run.data.metrics.iter_mut().find(|x| x.key == m.key) {
        Some(old) if newer(old) => *old = m.clone(),
        Some(_) => {}
        None if full => {
            return Err(ApiError::invalid(format!(
                "more than {MAX_KEYS} metric keys in one run"
            )));
        }
        None => run.data.metrics.push(m.clone()),
    }
    if run.history.len() < MAX_HISTORY {
        run.history.push(m);
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogBatch {
    run_id: String,
    #[serde(default)]
    metrics: Vec<Metric>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub fn log_batch(s: &Server, r: LogBatch) -> ApiResult<Value> {
    if r.metrics.len() > 1000 || r.params.len() > 100 || r.tags.len() > 100 {
        return Err(ApiError::invalid(
            "a log-batch holds at most 1000 metrics, 100 params and 100 tags (MLflow's limits)",
        ));
    }
    for p in &r.params {
        check_key(&p.key, "param")?;
        check_value(&p.key, &p.value, MAX_PARAM_VALUE, "param")?;
    }
    check_tags(&r.tags)?;
    update_run(s, &r.run_id, |run| {
        for p in &r.params {
            set_kv(&mut run.data.params, p, "param", true)?;
        }
        for t in &r.tags {
            set_kv(&mut run.data.tags, t, "tag", false)?;
            if t.key == "mlflow.runName" {
                run.info.run_name = t.value.clone();
            }
        }
        for m in &r.metrics {
            add_metric(run, m)?;
        }
        Ok(())
    })?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogParam {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    key: String,
    #[serde(default)]
    value: String,
}

pub fn log_param(s: &Server, r: LogParam) -> ApiResult<Value> {
    let run_id = one_id(r.run_id, r.run_uuid)?;
    log_batch(
        s,
        LogBatch {
            run_id,
            metrics: Vec::new(),
            params: vec![KeyValue {
                key: r.key,
                value: r.value,
            }],
            tags: Vec::new(),
        },
    )
}

pub fn set_tag(s: &Server, r: LogParam) -> ApiResult<Value> {
    let run_id = one_id(r.run_id, r.run_uuid)?;
    log_batch(
        s,
        LogBatch {
            run_id,
            metrics: Vec::new(),
            params: Vec::new(),
            tags: vec![KeyValue {
                key: r.key,
                value: r.value,
            }],
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogMetric {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    key: String,
    #[serde(default, deserialize_with = "double")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "int64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "int64")]
    step: Option<i64>,
    #[serde(default)]
    model_id: Option<String>,
    #[serde(default)]
    dataset_name: Option<String>,
    #[serde(default)]
    dataset_digest: Option<String>,
}

pub fn log_metric(s: &Server, r: LogMetric) -> ApiResult<Value> {
    let run_id = one_id(r.run_id, r.run_uuid)?;
    let metric = Metric {
        key: r.key,
        value: r.value,
        timestamp: r.timestamp,
        step: r.step,
        model_id: r.model_id,
        run_id: None,
        dataset_name: r.dataset_name,
        dataset_digest: r.dataset_digest,
    };
    log_batch(
        s,
        LogBatch {
            run_id,
            metrics: vec![metric],
            params: Vec::new(),
            tags: Vec::new(),
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetMetricHistory {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    metric_key: String,
    #[serde(default)]
    page_token: Option<String>,
    #[serde(default, deserialize_with = "int64")]
    max_results: Option<i64>,
}

pub fn get_metric_history(s: &Server, r: GetMetricHistory) -> ApiResult<Value> {
    let run = read_run(&s.records(), &one_id(r.run_id, r.run_uuid)?)?;
    let all: Vec<&Metric> = run.history.iter().filter(|m| m.key == r.metric_key).collect();
    let (range, next) = page_range(all.len(), r.max_results, r.page_token.as_deref(), 25_000, 25_000)?;
    let mut out = json!({"metrics": &all[range]});
    if let Some(t) = next {
        out["next_page_token"] = Value::String(t);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogModel {
    run_id: String,
    model_json: String,
}

/// The run tag where MLflow 2's `log_model` records the models logged.
pub const LOG_MODEL_HISTORY_TAG: &str = "mlflow.log-model.history";

/// The most bytes of `mlflow.log-model.history` a run keeps.
const MAX_MODEL_HISTORY: usize = MAX_TAG_VALUE * 4;

/// MLflow 2's `log_model` records the model's description in the run, as
/// the tag `mlflow.log-model.history` (a JSON list), as MLflow's server does.
pub fn log_model(s: &Server, r: LogModel) -> ApiResult<Value> {
    let model: Value =
        serde_json::from_str(&r.model_json).map_err(|e| ApiError::invalid(format!("model_json is not JSON: {e}")))?;
    update_run(s, &r.run_id, |run| {
        const KEY: &str = LOG_MODEL_HISTORY_TAG;
        let mut history: Vec<Value> = run
            .data
            .tags
            .iter()
            .find(|t| t.key == KEY)
            .and_then(|t| serde_json::from_str(&t.value).ok())
            .unwrap_or_default();
        history.push(model.clone());
        let value = serde_json::to_string(&history).unwrap_or_default();
        if value.len() > MAX_MODEL_HISTORY {
            return Err(ApiError::invalid(format!(
                "the run's log-model history would exceed {MAX_MODEL_HISTORY} bytes: log further models in a new run"
            )));
        }
        set_kv(&mut run.data.tags, &KeyValue { key: KEY.into(), value }, "tag", false)
    })?;
    Ok(json!({}))
}
