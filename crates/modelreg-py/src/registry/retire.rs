//! Deleting and restoring versions from Python (`registry delete`,
//! `registry undelete`).

use super::{NativeRegistry, to_json};
use crate::errors;
use pyo3::prelude::*;

#[pymethods]
impl NativeRegistry {
    /// Deletes a version (refused while an alias names it): its deletion
    /// record (JSON).
    #[pyo3(signature = (target, reason=None))]
    fn delete(&self, py: Python<'_>, target: &str, reason: Option<&str>) -> PyResult<String> {
        let record = py
            .detach(|| {
                let version = self.reg.resolve_target(target)?;
                self.reg.delete_version(&version, reason)
            })
            .map_err(errors::registry)?;
        to_json(&record)
    }

    /// Restores a deleted version: its deletion record (JSON), now
    /// `deleted: false`.
    fn undelete(&self, py: Python<'_>, target: &str) -> PyResult<String> {
        let record = py
            .detach(|| {
                let version = self.reg.resolve_target(target)?;
                self.reg.undelete_version(&version)
            })
            .map_err(errors::registry)?;
        to_json(&record)
    }
}
