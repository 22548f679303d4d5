//! Signing and verifying from Python.

use super::{NativeRegistry, to_json};
use crate::errors;
use pyo3::prelude::*;
use serde_json::json;
use std::path::PathBuf;

#[pymethods]
impl NativeRegistry {
    /// Signs an existing version (`registry sign`): returns its number.
    #[pyo3(signature = (target, key, key_password=None))]
    fn sign(&self, py: Python<'_>, target: &str, key: PathBuf, key_password: Option<String>) -> PyResult<String> {
        let signer = model_sign::KeySigner::from_file(&key, key_password.as_deref().map(str::as_bytes))
            .map_err(|e| errors::invalid(e.to_string()))?;
        let version = py
            .detach(|| {
                let version = self.reg.resolve_target(target)?;
                self.reg.sign_version(&version, &signer).map(|()| version)
            })
            .map_err(errors::registry)?;
        Ok(version.to_string())
    }

    /// Whether `version` has a signature file.
    fn is_signed(&self, py: Python<'_>, target: &str) -> PyResult<bool> {
        py.detach(|| {
            let version = self.reg.resolve_target(target)?;
            self.reg.signature(&version).map(|s| s.is_some())
        })
        .map_err(errors::registry)
    }

    /// Checks every version's files against their digests (`registry
    /// verify`): the report as JSON, with `ok`.
    fn verify(&self, py: Python<'_>) -> PyResult<String> {
        let report = py.detach(|| self.reg.verify()).map_err(errors::registry)?;
        let mut value = json!(report);
        value["ok"] = json!(report.is_ok());
        to_json(&value)
    }
}
