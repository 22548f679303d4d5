//! Loading from Python: a model (a classifier, or checked bytes) and the
//! files of a version.

use super::{NativeRegistry, Result, to_json};
use crate::classifier::TextClassifier;
use crate::errors;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use registry_core::{ModelMetadata, RegistryError, local_files};
use std::path::PathBuf;

#[pymethods]
impl NativeRegistry {
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
            if textclf_registry::is_classifier(&metadata) {
                let (model, metadata) = textclf_registry::load_classifier(&self.reg, metadata)?;
                return Ok((Loaded::Classifier(Box::new(model)), metadata));
            }
            // Copied once, straight from the checked (mapped) file into a
            // Python bytes object: the GIL is taken for the copy only.
            let (bytes, metadata) = model_bytes(&self.reg, metadata, |bytes| {
                Python::attach(|py| PyBytes::new(py, bytes).into_any().unbind())
            })?;
            Ok((Loaded::Bytes(bytes), metadata))
        });
        let (loaded, metadata) = loaded.map_err(errors::registry)?;
        let int_labels = metadata
            .info
            .tags
            .get(crate::classifier::INT_LABELS_TAG)
            .is_some_and(|t| t == "int");
        let metadata = to_json(&metadata)?;
        Ok(match loaded {
            Loaded::Classifier(model) => (
                "classifier".into(),
                Py::new(py, TextClassifier::from_model(*model, int_labels))?.into_any(),
                metadata,
            ),
            Loaded::Bytes(bytes) => ("bytes".into(), bytes, metadata),
        })
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
}

/// `decode` of the bytes of `metadata`'s model: its artifact (a save from
/// Python), else its single file, checked against their digests first.
pub(crate) fn model_bytes<T>(
    reg: &registry_open::AnyRegistry,
    metadata: ModelMetadata,
    decode: impl FnOnce(&[u8]) -> T,
) -> Result<(T, ModelMetadata)> {
    if metadata.artifact.is_some() {
        return reg.decode_verified(metadata, decode);
    }
    let files = metadata.stored_files();
    let [only] = files.as_slice() else {
        return Err(RegistryError::NoArtifact {
            version: metadata.version.to_string(),
            files: files.iter().map(|f| f.path.to_string()).collect(),
        });
    };
    let path = only.path.to_string();
    let decoded = reg.read_version_file(&metadata, &path, decode)?;
    Ok((decoded, metadata))
}
