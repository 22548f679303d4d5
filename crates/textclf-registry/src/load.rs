//! Loading and validating a classifier stored in a version.

use registry_core::store::Store;
use registry_core::{Encoding, ModelMetadata, ModelName, ModelValidator, Registry, RegistryError};
use std::sync::Arc;
use textclf::TextClassifier;

/// The largest classifier this build loads. The default model is ~2 MB and
/// a words-and-characters model of a million-row corpus ~100 MB; a version
/// declaring more is refused before a byte of it is read, so a metadata
/// document claiming gigabytes cannot make a reader reserve them.
pub const MAX_CLASSIFIER_BYTES: u64 = 1 << 30;

/// Whether `metadata` describes a classifier this build can decode: the
/// textclf model type of this build's format, stored as the registry's
/// artifact in the trainer's (postcard) encoding.
pub fn is_classifier(metadata: &ModelMetadata) -> bool {
    metadata.info.model_type.as_deref() == Some(textclf::model_type().as_str())
        && metadata
            .artifact
            .as_ref()
            .is_some_and(|a| a.encoding == Encoding::Postcard)
}

/// [`is_classifier`], as an error that names what the version holds
/// instead and how to get at it ([`RegistryError::WrongModelType`]).
pub fn require_classifier(model: Option<&ModelName>, metadata: &ModelMetadata) -> Result<(), RegistryError> {
    if is_classifier(metadata) {
        return Ok(());
    }
    let held = match (metadata.info.model_type.as_deref(), &metadata.artifact) {
        (Some(t), Some(a)) if t == textclf::model_type() => {
            format!(
                "a {t} model stored in the {:?} encoding (the trainer's is postcard)",
                a.encoding
            )
        }
        _ => metadata.holds(),
    };
    Err(RegistryError::WrongModelType {
        version: metadata.version.to_string(),
        model: model.map_or(ModelName::DEFAULT, ModelName::as_str).to_string(),
        held,
        expected: textclf::model_type(),
    })
}

/// Decodes a classifier from its stored bytes (checked against their
/// digests by the caller), validating every structure before use.
pub fn decode(bytes: &[u8]) -> Result<TextClassifier, String> {
    TextClassifier::from_bytes(bytes).map_err(|e| format!("not a textclf model this build can read: {e}"))
}

/// The classifier of the version `metadata` describes (as read through
/// `registry`, so the signature policy applied): its type is checked before
/// anything is read ([`require_classifier`]), its bytes against their
/// digests, and only then are they decoded. Bytes that do not decode are
/// [`RegistryError::InvalidModel`], an integrity error.
pub fn load_classifier<S: Store>(
    registry: &Registry<S>,
    metadata: ModelMetadata,
) -> Result<(TextClassifier, ModelMetadata), RegistryError> {
    require_classifier(registry.model_name(), &metadata)?;
    let version = metadata.version.to_string();
    if let Some(artifact) = &metadata.artifact
        && artifact.size > MAX_CLASSIFIER_BYTES
    {
        return Err(RegistryError::InvalidMetadata {
            location: registry.metadata_location(&metadata.version),
            reason: format!(
                "version {version} declares {} bytes for a textclf model, more than the {MAX_CLASSIFIER_BYTES} bytes one may have; nothing was read (do not promote or serve it; save a new version)",
                artifact.size
            ),
        });
    }
    let (decoded, metadata) = registry.decode_verified(metadata, decode)?;
    let model = decoded.map_err(|reason| RegistryError::InvalidModel {
        version,
        model_type: textclf::model_type(),
        reason,
    })?;
    Ok((model, metadata))
}

/// textclf's decoder as a registry's model validator: `verify` and every
/// alias move refuse a version of this build's textclf type whose bytes,
/// digests and all, do not decode into a valid classifier.
pub fn validator() -> ModelValidator {
    Arc::new(|model_type, bytes| (model_type == textclf::model_type()).then(|| decode(bytes).map(|_| ())))
}
