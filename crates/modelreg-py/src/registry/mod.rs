//! `modelreg._native.NativeRegistry`: the registry's operations for the
//! Python layer, bytes and JSON in, bytes and JSON out.
//!
//! Everything that touches storage, digests or the classifier runs with
//! the GIL released (`Python::detach`), so other Python threads (a web
//! server's workers, a follower) keep running during a save or a load.
//! Documents cross as JSON text: the Python side turns them into dicts with
//! `json.loads`, which costs microseconds and keeps this layer free of a
//! second serde bridge.
//!
//! One `#[pymethods]` block per job (pyo3's `multiple-pymethods`, as
//! polars splits its DataFrame binding): opening and metadata here,
//! [`save`], [`load`], [`list`], [`aliases`] and [`integrity`] beside it.

use std::path::PathBuf;
use std::str::FromStr;

use pyo3::prelude::*;
use registry_core::{ModelMetadata, ModelName, RegistryError, TargetSpec, choose_model};
use registry_open::{AnyRegistry, OpenOptions};

use crate::errors;

mod aliases;
mod integrity;
mod list;
pub(crate) mod load;
mod retire;
mod save;

pub(crate) type Result<T> = std::result::Result<T, RegistryError>;

/// A registry (one of its models) opened from Python.
#[pyclass(frozen, module = "modelreg._native")]
pub struct NativeRegistry {
    pub(crate) reg: AnyRegistry,
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| errors::invalid(e.to_string()))
}

pub(crate) fn parse<T: FromStr<Err = RegistryError>>(text: &str) -> PyResult<T> {
    text.parse().map_err(errors::registry)
}

impl NativeRegistry {
    /// The metadata `target` names now (a version, an alias, a `models:/`
    /// URI of this model). A missing version or alias of a named model that
    /// does not exist at all is reported as the missing model.
    pub(super) fn target_metadata(&self, target: &str) -> Result<ModelMetadata> {
        // A URI must name this handle's model: checked without I/O, so an
        // alias is resolved once (by `alias_metadata`), not twice.
        let this = self.reg.model_name().map_or(ModelName::DEFAULT, ModelName::as_str);
        choose_model(Some(this), [target])?;
        let spec: TargetSpec = target.parse()?;
        self.reg
            .target_metadata(&spec.target)
            .map_err(|e| self.explain_missing(e))
    }

    pub(super) fn explain_missing(&self, e: RegistryError) -> RegistryError {
        let missing = matches!(
            e,
            RegistryError::VersionNotFound { .. } | RegistryError::AliasNotFound { .. } | RegistryError::Empty { .. }
        );
        match self.reg.require_model() {
            Err(model_error) if missing => model_error,
            _ => e,
        }
    }
}

#[pymethods]
impl NativeRegistry {
    #[new]
    #[pyo3(signature = (location, model=None, s3_endpoint=None, trusted_keys=None, cache=true, cache_dir=None))]
    fn new(
        location: &str,
        model: Option<&str>,
        s3_endpoint: Option<String>,
        trusted_keys: Option<Vec<PathBuf>>,
        cache: bool,
        cache_dir: Option<PathBuf>,
    ) -> PyResult<Self> {
        // None: MODELREG_TRUSTED_KEYS, read as the command-line tools read it.
        let trusted_keys = trusted_keys.unwrap_or_else(registry_open::trusted_keys_from_env);
        let model = match model {
            Some(name) => ModelName::parse_optional(name).map_err(errors::registry)?,
            None => None,
        };
        // A remote registry's versions read once load from the local cache
        // (MODELREG_CACHE, else ~/.cache/modelreg), as the CLI's do.
        let options = OpenOptions {
            s3_endpoint,
            cache: cache.then_some(registry_open::CacheSettings { dir: cache_dir }),
        };
        let reg = registry_open::open(location, &options)
            .and_then(|reg| registry_open::with_trusted_keys(reg, &trusted_keys))
            .map_err(errors::open)?
            .for_model(model)
            // The same validator as the CLI's: promotions and verify refuse
            // undecodable classifiers, and files cannot pose as one.
            .with_validator(textclf_registry::validator());
        Ok(NativeRegistry { reg })
    }

    /// The handle for the model a `models:/` URI names: this one, or
    /// another model of the same registry sharing this one's store.
    fn for_target(&self, target: &str) -> PyResult<NativeRegistry> {
        let spec: TargetSpec = parse(target)?;
        let model = match spec.model {
            Some(named) => named,
            None => self.reg.model_name().cloned(),
        };
        Ok(NativeRegistry {
            reg: self.reg.with_model(model),
        })
    }

    /// Where the registry is (a directory or an s3:// URL).
    fn location(&self) -> String {
        self.reg.registry_location()
    }

    /// The model's name (`None`: the default model).
    fn model(&self) -> Option<String> {
        self.reg.model_name().map(|m| m.to_string())
    }

    fn list_models(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let models = py.detach(|| self.reg.list_models()).map_err(errors::registry)?;
        Ok(models.iter().map(ToString::to_string).collect())
    }

    /// The metadata `target` names (JSON).
    fn metadata(&self, py: Python<'_>, target: &str) -> PyResult<String> {
        let metadata = py.detach(|| self.target_metadata(target)).map_err(errors::registry)?;
        to_json(&metadata)
    }
}
