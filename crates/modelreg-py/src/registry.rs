//! `modelreg._native.NativeRegistry`: the registry's operations for the
//! Python layer, bytes and JSON in, bytes and JSON out.
//!
//! Everything that touches storage, digests or the classifier runs with
//! the GIL released (`Python::detach`), so other Python threads (a web
//! server's workers, a follower) keep running during a save or a load.
//! Documents cross as JSON text: the Python side turns them into dicts with
//! `json.loads`, which costs microseconds and keeps this layer free of a
//! second serde bridge.

use std::path::PathBuf;
use std::str::FromStr;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use registry_core::query::{Condition, Field, Query};
use registry_core::{
    AliasName, Artifact, CodeInfo, Encoding, Expect, ModelInfo, ModelMetadata, ModelName, ModelVersion, PromotionGate,
    RegistryError, Target, TargetSpec, VersionSlot, choose_model, local_files,
};
use registry_open::{AnyRegistry, OpenOptions};
use serde_json::{Value, json};

use crate::classifier::TextClassifier;
use crate::errors;

type Result<T> = std::result::Result<T, RegistryError>;

/// A registry (one of its models) opened from Python.
#[pyclass(frozen, module = "modelreg._native")]
pub struct NativeRegistry {
    reg: AnyRegistry,
}

fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| errors::invalid(e.to_string()))
}

fn parse<T: FromStr<Err = RegistryError>>(text: &str) -> PyResult<T> {
    text.parse().map_err(errors::registry)
}

/// What the Python side passes about a new version: the user's metadata
/// dict (as JSON), checked like `registry add --metadata`, plus what the
/// package fills in itself.
fn model_info(metadata: &str, model_type: Option<String>, serializer: Option<String>) -> PyResult<ModelInfo> {
    let value: Value =
        serde_json::from_str(metadata).map_err(|e| errors::invalid(format!("metadata is not JSON: {e}")))?;
    let mut info = ModelInfo::from_user_json(value).map_err(|reason| errors::invalid(format!("metadata: {reason}")))?;
    if info.model_type.is_none() {
        info.model_type = model_type;
    }
    info.serializer = serializer;
    info.lineage.code = Some(CodeInfo {
        name: "modelreg-python".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: None,
    });
    Ok(info)
}

/// Where a save goes: its version, the data file to fingerprint, and the
/// registry handle that writes it (signing, if a key was given).
struct Destination {
    slot: VersionSlot,
    data_path: Option<PathBuf>,
    writer: AnyRegistry,
}

impl NativeRegistry {
    /// The metadata `target` names now (a version, an alias, a `models:/`
    /// URI of this model). A missing version or alias of a named model that
    /// does not exist at all is reported as the missing model.
    fn target_metadata(&self, target: &str) -> Result<ModelMetadata> {
        // A URI must name this handle's model: checked without I/O, so an
        // alias is resolved once (by `alias_metadata`), not twice.
        let this = self.reg.model_name().map_or(ModelName::DEFAULT, ModelName::as_str);
        choose_model(Some(this), [target])?;
        let spec: TargetSpec = target.parse()?;
        let found = match spec.target {
            Target::Alias(alias) => self.reg.alias_metadata(&alias),
            Target::Version(v) => self.reg.metadata(&v),
        };
        found.map_err(|e| self.explain_missing(e))
    }

    fn explain_missing(&self, e: RegistryError) -> RegistryError {
        let missing = matches!(
            e,
            RegistryError::VersionNotFound { .. } | RegistryError::AliasNotFound { .. } | RegistryError::Empty { .. }
        );
        match self.reg.require_model() {
            Err(model_error) if missing => model_error,
            _ => e,
        }
    }

    /// This registry, signing what it saves with the key at `sign_key`.
    fn writer(&self, sign_key: Option<PathBuf>, key_password: Option<String>) -> PyResult<AnyRegistry> {
        let handle = self.reg.with_model(self.reg.model_name().cloned());
        let Some(path) = sign_key else {
            return Ok(handle);
        };
        let signer = model_sign::KeySigner::from_file(&path, key_password.as_deref().map(str::as_bytes))
            .map_err(|e| errors::invalid(e.to_string()))?;
        Ok(handle.with_signer(std::sync::Arc::new(signer)))
    }

    /// Where a save goes, from the arguments every save takes.
    fn destination(
        &self,
        version: Option<&str>,
        bump: Option<&str>,
        data_path: Option<PathBuf>,
        sign_key: Option<PathBuf>,
        key_password: Option<String>,
    ) -> PyResult<Destination> {
        Ok(Destination {
            slot: VersionSlot::parse(version, bump).map_err(errors::registry)?,
            data_path,
            writer: self.writer(sign_key, key_password)?,
        })
    }

    /// Saves with `save` (on the destination's writer, which may sign)
    /// with the GIL released, and returns the metadata as JSON.
    fn commit(
        &self,
        py: Python<'_>,
        to: Destination,
        info: ModelInfo,
        save: impl Fn(&AnyRegistry, &ModelVersion, ModelInfo) -> Result<ModelMetadata> + Send + Sync,
    ) -> PyResult<String> {
        let Destination {
            slot,
            data_path,
            writer,
        } = to;
        let saved = py.detach(|| self.save_with(slot, info, data_path, |v, info| save(&writer, v, info)));
        to_json(&saved.map_err(errors::registry)?)
    }

    /// Fills the data fingerprint and saves with `save`.
    fn save_with(
        &self,
        slot: VersionSlot,
        mut info: ModelInfo,
        data: Option<PathBuf>,
        save: impl Fn(&ModelVersion, ModelInfo) -> Result<ModelMetadata>,
    ) -> Result<ModelMetadata> {
        if let Some(path) = data {
            info.lineage.data = Some(local_files::fingerprint(&path)?);
        }
        info.lineage.parent_version = self.reg.resolve(&AliasName::latest()).ok().map(|r| r.version);
        self.reg.save_in_slot(&slot, |v| save(v, info.clone()))
    }
}

#[pymethods]
impl NativeRegistry {
    #[new]
    #[pyo3(signature = (location, model=None, s3_endpoint=None, trusted_keys=None))]
    fn new(
        location: &str,
        model: Option<&str>,
        s3_endpoint: Option<String>,
        trusted_keys: Option<Vec<PathBuf>>,
    ) -> PyResult<Self> {
        // None: MODELREG_TRUSTED_KEYS, read as the command-line tools read it.
        let trusted_keys = trusted_keys.unwrap_or_else(registry_open::trusted_keys_from_env);
        let model = match model {
            Some(name) => ModelName::parse_optional(name).map_err(errors::registry)?,
            None => None,
        };
        let reg = registry_open::open(location, &OpenOptions { s3_endpoint })
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

    /// Saves `data` as `model.<extension>` and returns the metadata (JSON).
    #[pyo3(signature = (data, extension, metadata, model_type=None, serializer=None, version=None, bump=None, data_path=None, sign_key=None, key_password=None))]
    #[allow(clippy::too_many_arguments)]
    fn save_bytes(
        &self,
        py: Python<'_>,
        data: &[u8],
        extension: &str,
        metadata: &str,
        model_type: Option<String>,
        serializer: Option<String>,
        version: Option<&str>,
        bump: Option<&str>,
        data_path: Option<PathBuf>,
        sign_key: Option<PathBuf>,
        key_password: Option<String>,
    ) -> PyResult<String> {
        let info = model_info(metadata, model_type, serializer)?;
        let to = self.destination(version, bump, data_path, sign_key, key_password)?;
        self.commit(py, to, info, |writer, v, info| {
            let artifact = Artifact {
                extension: extension.to_string(),
                encoding: Encoding::Raw,
                bytes: data.to_vec(),
            };
            writer.save_artifact(v, artifact, info)
        })
    }

    /// Saves a trained classifier in the trainer's own format (what
    /// `predictor` and `model-server` load).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (classifier, metadata, version=None, bump=None, data_path=None, sign_key=None, key_password=None))]
    fn save_classifier(
        &self,
        py: Python<'_>,
        classifier: &TextClassifier,
        metadata: &str,
        version: Option<&str>,
        bump: Option<&str>,
        data_path: Option<PathBuf>,
        sign_key: Option<PathBuf>,
        key_password: Option<String>,
    ) -> PyResult<String> {
        let (model, search) = classifier.fitted()?;
        let to = self.destination(version, bump, data_path, sign_key, key_password)?;
        let user = model_info(metadata, None, Some("textclf".into()))?;
        let mut info = search.map_or_else(ModelInfo::default, |s| s.info.clone());
        info.model_type = Some(textclf::model_type());
        info.serializer = user.serializer;
        info.lineage.code = user.lineage.code;
        info.description = user.description.or(info.description);
        info.tags.extend(user.tags);
        info.hyperparameters.extend(user.hyperparameters);
        info.metrics.extend(user.metrics);
        info.test_score = user.test_score.or(info.test_score);
        info.cv_score = user.cv_score.or(info.cv_score);
        info.cv_std = user.cv_std.or(info.cv_std);
        self.commit(py, to, info, |writer, v, info| writer.save_model(v, &*model, info))
    }

    /// Registers a file or a directory as it is (`registry add`).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (path, metadata, version=None, bump=None, data_path=None, sign_key=None, key_password=None))]
    fn save_path(
        &self,
        py: Python<'_>,
        path: PathBuf,
        metadata: &str,
        version: Option<&str>,
        bump: Option<&str>,
        data_path: Option<PathBuf>,
        sign_key: Option<PathBuf>,
        key_password: Option<String>,
    ) -> PyResult<String> {
        let info = model_info(metadata, None, None)?;
        let to = self.destination(version, bump, data_path, sign_key, key_password)?;
        let files = py.detach(|| local_files::collect(&path)).map_err(errors::registry)?;
        self.commit(py, to, info, |writer, v, info| writer.save_files(v, &files, info))
    }

    /// The model `target` names: `("classifier", TextClassifier, metadata)`
    /// for a version in the trainer's format, else `("bytes", bytes,
    /// metadata)` with the single model file's bytes, checked against their
    /// digests before they leave Rust.
    fn load(&self, py: Python<'_>, target: &str) -> PyResult<(String, Py<PyAny>, String)> {
        enum Loaded {
            Classifier(Box<textclf::TextClassifier>),
            Bytes(Py<PyAny>),
        }
        let loaded = py.detach(|| -> Result<(Loaded, ModelMetadata)> {
            let metadata = self.target_metadata(target)?;
            let version = metadata.version.to_string();
            if textclf_registry::is_classifier(&metadata) {
                let (model, metadata) = textclf_registry::load_classifier(&self.reg, metadata)?;
                return Ok((Loaded::Classifier(Box::new(model)), metadata));
            }
            if metadata.artifact.is_some() {
                // Copied once, straight from the checked (mapped) file into
                // a Python bytes object: the GIL is taken for the copy only.
                let (bytes, metadata) = self.reg.decode_verified(metadata, |bytes| {
                    Python::attach(|py| PyBytes::new(py, bytes).into_any().unbind())
                })?;
                return Ok((Loaded::Bytes(bytes), metadata));
            }
            let files = metadata.stored_files();
            let [only] = files.as_slice() else {
                return Err(RegistryError::NoArtifact {
                    version,
                    files: files.iter().map(|f| f.path.to_string()).collect(),
                });
            };
            let path = only.path.to_string();
            let bytes = self.reg.read_version_file(&metadata, &path, |bytes| {
                Python::attach(|py| PyBytes::new(py, bytes).into_any().unbind())
            })?;
            Ok((Loaded::Bytes(bytes), metadata))
        });
        let (loaded, metadata) = loaded.map_err(errors::registry)?;
        let metadata = to_json(&metadata)?;
        Ok(match loaded {
            Loaded::Classifier(model) => (
                "classifier".into(),
                Py::new(py, TextClassifier::from_model(*model))?.into_any(),
                metadata,
            ),
            Loaded::Bytes(bytes) => ("bytes".into(), bytes, metadata),
        })
    }

    /// The metadata `target` names (JSON).
    fn metadata(&self, py: Python<'_>, target: &str) -> PyResult<String> {
        let metadata = py.detach(|| self.target_metadata(target)).map_err(errors::registry)?;
        to_json(&metadata)
    }

    /// Writes the files of `target` to `out` (`registry get`): returns the
    /// path written, the number of files and of bytes.
    fn get_file(&self, py: Python<'_>, target: &str, out: PathBuf, force: bool) -> PyResult<(PathBuf, usize, u64)> {
        let exported = py
            .detach(|| {
                let metadata = self.target_metadata(target)?;
                local_files::export(&self.reg, &metadata, &out, force)
            })
            .map_err(errors::registry)?;
        Ok((exported.path, exported.files, exported.bytes))
    }

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

    /// Points `alias` at `version` (`registry promote`): returns the
    /// alias's record (JSON) and whether anything changed.
    #[pyo3(signature = (version, alias, expect=None, if_better=false, metric=None, force=false))]
    #[allow(clippy::too_many_arguments)]
    fn promote(
        &self,
        py: Python<'_>,
        version: &str,
        alias: &str,
        expect: Option<&str>,
        if_better: bool,
        metric: Option<&str>,
        force: bool,
    ) -> PyResult<(String, bool)> {
        let alias: AliasName = parse(alias)?;
        let expect = Expect::from_option(expect).map_err(errors::registry)?;
        let gate = PromotionGate {
            if_better,
            metric: metric.map(parse).transpose()?,
            force,
        };
        let moved = py
            .detach(|| {
                let version = self.reg.resolve_target(version)?;
                self.reg.promote(&alias, &version, expect, &gate)
            })
            .map_err(errors::registry)?;
        Ok((to_json(&moved.record)?, moved.changed))
    }

    /// Moves `alias` back one step, or to `to` (`registry rollback`).
    #[pyo3(signature = (alias, to=None))]
    fn rollback(&self, py: Python<'_>, alias: &str, to: Option<&str>) -> PyResult<String> {
        let alias: AliasName = parse(alias)?;
        let to: Option<ModelVersion> = to.map(parse).transpose()?;
        let record = py
            .detach(|| match &to {
                Some(v) => self.reg.rollback_to(&alias, v),
                None => self.reg.rollback(&alias),
            })
            .map_err(errors::registry)?;
        to_json(&record)
    }

    /// Every state `alias` has had, oldest first (JSON list).
    fn history(&self, py: Python<'_>, alias: &str) -> PyResult<String> {
        let alias: AliasName = parse(alias)?;
        let history = py.detach(|| self.reg.alias_history(&alias)).map_err(errors::registry)?;
        to_json(&history)
    }

    /// Every alias's current state (JSON list).
    fn aliases(&self, py: Python<'_>) -> PyResult<String> {
        let aliases = py.detach(|| self.reg.list_aliases()).map_err(errors::registry)?;
        to_json(&aliases)
    }

    /// What `alias` names now (JSON record).
    fn resolve(&self, py: Python<'_>, alias: &str) -> PyResult<String> {
        let alias: AliasName = parse(alias)?;
        let record = py.detach(|| self.reg.resolve(&alias)).map_err(errors::registry)?;
        to_json(&record)
    }

    /// The state machine a follower of `alias` runs (registry-core's, as
    /// model-server's), on this registry's store.
    fn follow_state(&self, py: Python<'_>, alias: &str) -> PyResult<crate::follow::FollowState> {
        crate::follow::FollowState::start(py, self.reg.with_model(self.reg.model_name().cloned()), alias)
    }

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
