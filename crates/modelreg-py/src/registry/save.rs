//! Saving from Python: bytes, a classifier, a file or directory, into the
//! version a slot names, signed when a key is given.

use super::{NativeRegistry, Result, to_json};
use crate::classifier::TextClassifier;
use crate::errors;
use pyo3::prelude::*;
use registry_core::{
    AliasName, Artifact, CodeInfo, Encoding, ModelInfo, ModelMetadata, ModelVersion, VersionSlot, local_files,
};
use registry_open::AnyRegistry;
use serde_json::Value;
use std::path::PathBuf;

/// What the Python side passes about a new version: the user's metadata
/// dict (as JSON), checked like `registry add --metadata`, plus what the
/// package fills in itself.
fn model_info(
    metadata: &str,
    model_type: Option<String>,
    serializer: Option<String>,
    environment: Option<&str>,
) -> PyResult<ModelInfo> {
    let value: Value =
        serde_json::from_str(metadata).map_err(|e| errors::invalid(format!("metadata is not JSON: {e}")))?;
    let mut info = ModelInfo::from_user_json(value).map_err(|reason| errors::invalid(format!("metadata: {reason}")))?;
    if info.model_type.is_none() {
        info.model_type = model_type;
    }
    info.serializer = serializer;
    info.environment = environment
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| errors::invalid(format!("environment: {e}")))?;
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
    /// Saves `data` as `model.<extension>` and returns the metadata (JSON).
    #[pyo3(signature = (data, extension, metadata, model_type=None, serializer=None, version=None, bump=None, data_path=None, sign_key=None, key_password=None, environment=None))]
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
        environment: Option<&str>,
    ) -> PyResult<String> {
        let info = model_info(metadata, model_type, serializer, environment)?;
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
    #[pyo3(signature = (classifier, metadata, version=None, bump=None, data_path=None, sign_key=None, key_password=None, environment=None))]
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
        environment: Option<&str>,
    ) -> PyResult<String> {
        let (model, search) = classifier.fitted()?;
        let to = self.destination(version, bump, data_path, sign_key, key_password)?;
        let user = model_info(metadata, None, Some("textclf".into()), environment)?;
        let mut info = search.map_or_else(ModelInfo::default, |s| s.info.clone());
        info.model_type = Some(textclf::model_type());
        info.serializer = user.serializer;
        info.lineage.code = user.lineage.code;
        info.environment = user.environment;
        info.description = user.description.or(info.description);
        info.tags.extend(user.tags);
        if classifier.int_labels() {
            info.tags.insert(crate::classifier::INT_LABELS_TAG.into(), "int".into());
        }
        info.hyperparameters.extend(user.hyperparameters);
        info.metrics.extend(user.metrics);
        info.test_score = user.test_score.or(info.test_score);
        info.cv_score = user.cv_score.or(info.cv_score);
        info.cv_std = user.cv_std.or(info.cv_std);
        self.commit(py, to, info, |writer, v, info| writer.save_model(v, &*model, info))
    }

    /// Registers a file or a directory as it is (`registry add`).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (path, metadata, version=None, bump=None, data_path=None, sign_key=None, key_password=None, environment=None))]
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
        environment: Option<&str>,
    ) -> PyResult<String> {
        let info = model_info(metadata, None, None, environment)?;
        let to = self.destination(version, bump, data_path, sign_key, key_password)?;
        let files = py.detach(|| local_files::collect(&path)).map_err(errors::registry)?;
        self.commit(py, to, info, |writer, v, info| writer.save_files(v, &files, info))
    }
}
