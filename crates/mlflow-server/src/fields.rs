//! The fields runs, logged models and registered models share: tags,
//! params and metrics as MLflow's JSON has them, and the checks of what a
//! client may put in them (MLflow's own limits).

use crate::error::{ApiError, ApiResult};
use crate::request::{double, int64};
use serde::{Deserialize, Serialize};

/// A tag or a param.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// A metric as the client logs it and reads it back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub key: String,
    #[serde(default, deserialize_with = "double")]
    pub value: Option<f64>,
    #[serde(default, deserialize_with = "int64")]
    pub timestamp: Option<i64>,
    #[serde(default, deserialize_with = "int64")]
    pub step: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_digest: Option<String>,
}

/// The most params, tags or metric keys a run or logged model may have.
pub const MAX_KEYS: usize = 1_000;
/// The longest param value MLflow accepts.
pub const MAX_PARAM_VALUE: usize = 6_000;
/// The longest tag value MLflow accepts.
pub const MAX_TAG_VALUE: usize = 8_000;
const MAX_KEY: usize = 250;

/// A run or logged-model id as this server makes them (32 hex digits;
/// `m-` and 32 for a logged model); anything else names nothing here, and
/// never reaches a key.
pub(crate) fn check_id(id: &str, what: &str, logged: bool) -> ApiResult<()> {
    let hex = if logged { id.strip_prefix("m-") } else { Some(id) };
    match hex {
        Some(h) if h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(()),
        _ => Err(ApiError::not_found(format!(
            "no {what} {id:?}: ids here are {} (as MLflow makes them)",
            if logged {
                "m- and 32 hex digits"
            } else {
                "32 hex digits"
            }
        ))),
    }
}

pub(crate) fn check_experiment_id(id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(format!(
            "experiment_id {id:?} is not an experiment id (a decimal number)"
        )));
    }
    Ok(())
}

pub(crate) fn check_key(key: &str, what: &str) -> ApiResult<()> {
    if key.is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{what} key {key:?} must be 1 to {MAX_KEY} characters without control characters"
        )));
    }
    Ok(())
}

pub(crate) fn check_value(key: &str, value: &str, max: usize, what: &str) -> ApiResult<()> {
    if value.len() > max {
        return Err(ApiError::invalid(format!(
            "{what} {key:?} has a value of {} bytes, more than the {max} MLflow allows",
            value.len()
        )));
    }
    Ok(())
}

pub(crate) fn check_tags(tags: &[KeyValue]) -> ApiResult<()> {
    if tags.len() > MAX_KEYS {
        return Err(ApiError::invalid(format!("{} tags, more than {MAX_KEYS}", tags.len())));
    }
    for t in tags {
        check_key(&t.key, "tag")?;
        check_value(&t.key, &t.value, MAX_TAG_VALUE, "tag")?;
    }
    Ok(())
}

pub(crate) fn set_kv(list: &mut Vec<KeyValue>, kv: &KeyValue, what: &str, immutable: bool) -> ApiResult<()> {
    let full = list.len() >= MAX_KEYS;
    match list.iter_mut().find(|x| x.key == kv.key) {
        Some(old) if immutable && old.value != kv.value => Err(ApiError::invalid(format!(
            "param {:?} was logged as {:?}; a run's params cannot change (log it in a new run)",
            kv.key, old.value
        ))),
        Some(old) => {
            old.value = kv.value.clone();
            Ok(())
        }
        None if full => Err(ApiError::invalid(format!("more than {MAX_KEYS} {what}s"))),
        None => {
            list.push(kv.clone());
            Ok(())
        }
    }
}
