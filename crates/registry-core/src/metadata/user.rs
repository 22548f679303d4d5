//! The metadata a person writes (`registry add --metadata`, Python's
//! `save_model(..., metadata)`), checked key by key.

use super::ModelInfo;
use serde_json::{Map, Value};

/// The keys a person's metadata document may hold: the fields of
/// [`ModelInfo`] a user fills (the registry fills the rest).
pub const USER_METADATA_KEYS: [&str; 8] = [
    "model_type",
    "hyperparameters",
    "metrics",
    "test_score",
    "cv_score",
    "cv_std",
    "description",
    "tags",
];

/// The keys of a version's metadata the registry fills in itself: a
/// person's metadata document naming one is refused with that reason.
pub const FILLED_METADATA_KEYS: [&str; 11] = [
    "version",
    "model",
    "timestamp",
    "metadata_sha256",
    "format_version",
    "canonicalization",
    "lineage",
    "artifact",
    "files",
    "serializer",
    "environment",
];

impl ModelInfo {
    /// Reads the metadata a person writes (`registry add --metadata
    /// FILE.json`, Python's `save_model(..., metadata)`): a JSON object with
    /// only [`USER_METADATA_KEYS`]. An unknown key is refused by name, since
    /// a typo such as `hyperparams` would otherwise be dropped without a
    /// word; a score must be a finite number. The error says which key is
    /// wrong and why.
    pub fn from_user_json(value: Value) -> std::result::Result<ModelInfo, String> {
        let Value::Object(map) = value else {
            return Err(format!("expected a JSON object, got {}", json_kind(&value)));
        };
        if let Some(filled) = map.keys().find(|k| FILLED_METADATA_KEYS.contains(&k.as_str())) {
            return Err(format!("{filled:?} is filled in by the registry: drop the key"));
        }
        if let Some(unknown) = map.keys().find(|k| !USER_METADATA_KEYS.contains(&k.as_str())) {
            return Err(format!(
                "unknown key {unknown:?} (known: {})",
                USER_METADATA_KEYS.join(", ")
            ));
        }
        for key in ["test_score", "cv_score", "cv_std"] {
            match map.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {}
                Some(other) => return Err(format!("{key} must be a finite number, not {other}")),
            }
        }
        for key in ["hyperparameters", "metrics", "tags"] {
            if let Some(v) = map.get(key).filter(|v| !v.is_object() && !v.is_null()) {
                return Err(format!("{key} must be an object (a dict), not {}", json_kind(v)));
            }
        }
        if let Some((k, v)) = map
            .get("tags")
            .and_then(Value::as_object)
            .and_then(|tags| tags.iter().find(|(_, v)| !v.is_string()))
        {
            return Err(format!("tag {k:?} must be a string, not {}", json_kind(v)));
        }
        let map: Map<String, Value> = map.into_iter().filter(|(_, v)| !v.is_null()).collect();
        serde_json::from_value(Value::Object(map)).map_err(|e| e.to_string())
    }
}

/// A JSON value's kind as messages name it ("a string", "a list", ...).
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
