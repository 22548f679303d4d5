//! Listing versions from Python: the CLI's `query` module.

use super::{NativeRegistry, Result, to_json};
use crate::errors;
use pyo3::prelude::*;
use registry_core::query::{Condition, Field, Query};
use serde_json::{Value, json};
use std::str::FromStr;

#[pymethods]
impl NativeRegistry {
    /// The versions (JSON list of catalog rows, each with `deprecated`),
    /// filtered and ordered as `registry list --where ... --sort ...`.
    #[pyo3(signature = (conditions, sort=None, descending=false, limit=None, include_deprecated=false))]
    fn list_versions(
        &self,
        py: Python<'_>,
        conditions: Vec<String>,
        sort: Option<&str>,
        descending: bool,
        limit: Option<usize>,
        include_deprecated: bool,
    ) -> PyResult<String> {
        let conditions = conditions
            .iter()
            .map(|c| Condition::from_str(c).map_err(|e| errors::invalid(e.to_string())))
            .collect::<PyResult<Vec<_>>>()?;
        let query = Query {
            conditions,
            sort: sort.map(Field::parse),
            descending,
            limit,
            ..Query::default()
        };
        let listed = py.detach(|| -> Result<Value> {
            let entries = self.reg.catalog().map_err(|e| self.explain_missing(e))?;
            let deprecated = self.reg.deprecated_versions()?;
            let rows: Vec<_> = entries
                .into_iter()
                .filter_map(std::result::Result::ok)
                .filter(|row| include_deprecated || !deprecated.contains_key(&row.version))
                .collect();
            let chosen = query.apply(&rows);
            Ok(Value::Array(
                chosen
                    .into_iter()
                    .map(|row| {
                        let mut value = json!(row);
                        value["deprecated"] = json!(deprecated.contains_key(&row.version));
                        value
                    })
                    .collect(),
            ))
        });
        to_json(&listed.map_err(errors::registry)?)
    }
}
