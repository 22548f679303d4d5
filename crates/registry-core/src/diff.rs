//! Two versions' metadata side by side, field by field.

use crate::metadata::ModelMetadata;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One field of a [`diff`]: its dotted path and its JSON value in each
/// version (`None` where it is absent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    pub field: String,
    pub a: Option<Value>,
    pub b: Option<Value>,
}

impl FieldDiff {
    pub fn same(&self) -> bool {
        self.a == self.b
    }

    /// A value for a table: strings without quotes, digests cut to 12
    /// characters (the whole is in the JSON form), `-` where absent.
    pub fn text(value: Option<&Value>) -> String {
        match value {
            None | Some(Value::Null) => "-".into(),
            Some(Value::String(s)) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                format!("{}…", &s[..12])
            }
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }
}

/// Every field of `a` and `b` (nested objects flattened to `x.y.z`), except
/// the per-label and per-fold metrics, which are tables rather than fields.
pub fn diff(a: &ModelMetadata, b: &ModelMetadata) -> Vec<FieldDiff> {
    let flat = |md: &ModelMetadata| {
        let mut out = BTreeMap::new();
        flatten("", &serde_json::to_value(md).unwrap_or(Value::Null), &mut out);
        out
    };
    let (fa, fb) = (flat(a), flat(b));
    let keys: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    keys.into_iter()
        .filter(|k| !k.starts_with("metrics.per_label") && !k.starts_with("metrics.cv_fold"))
        .map(|k| FieldDiff {
            field: k.clone(),
            a: fa.get(k).cloned(),
            b: fb.get(k).cloned(),
        })
        .collect()
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}
