//! Two versions' metadata side by side, field by field.

use crate::metadata::ModelMetadata;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One field of a [`diff`]: its dotted path and its value in each version
/// (`-` where it is absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    pub field: String,
    pub a: String,
    pub b: String,
}

impl FieldDiff {
    pub fn same(&self) -> bool {
        self.a == self.b
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
            a: fa.get(k).cloned().unwrap_or_else(|| "-".into()),
            b: fb.get(k).cloned().unwrap_or_else(|| "-".into()),
        })
        .collect()
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
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
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}
