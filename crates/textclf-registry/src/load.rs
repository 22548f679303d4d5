//! Loading and validating a classifier stored in a version.

use registry_core::store::Store;
use registry_core::{Encoding, ModelMetadata, ModelName, ModelValidator, Registry, RegistryError};
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

/// What is wrong with a version labelled with this build's textclf type
/// that is not stored as its artifact in postcard (`None` if nothing is, or
/// if it is labelled otherwise): what it holds instead.
fn mislabelled(metadata: &ModelMetadata) -> Option<String> {
    let t = metadata.info.model_type.as_deref()?;
    if t != textclf::model_type() {
        return None;
    }
    match &metadata.artifact {
        None => Some(format!(
            "{} registered file(s) labelled {t}, and no model artifact (a {t} model is the model.bin its trainer writes)",
            metadata.files.len()
        )),
        Some(a) if a.encoding != Encoding::Postcard => Some(format!(
            "a {t} model stored in the {:?} encoding (the trainer's is postcard)",
            a.encoding
        )),
        Some(_) => None,
    }
}

/// [`is_classifier`], as an error that names what the version holds
/// instead and how to get at it ([`RegistryError::WrongModelType`]).
pub fn require_classifier(model: Option<&ModelName>, metadata: &ModelMetadata) -> Result<(), RegistryError> {
    if is_classifier(metadata) {
        return Ok(());
    }
    Err(RegistryError::WrongModelType {
        version: metadata.version.to_string(),
        model: model.map_or(ModelName::DEFAULT, ModelName::as_str).to_string(),
        held: mislabelled(metadata).unwrap_or_else(|| metadata.holds()),
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
    if let Err(reason) = within_cap(&metadata) {
        return Err(RegistryError::InvalidMetadata {
            location: registry.metadata_location(&metadata.version),
            reason,
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

/// Whether the artifact `metadata` declares is within
/// [`MAX_CLASSIFIER_BYTES`] (the reason if not).
fn within_cap(metadata: &ModelMetadata) -> Result<(), String> {
    match &metadata.artifact {
        Some(artifact) if artifact.size > MAX_CLASSIFIER_BYTES => Err(format!(
            "version {} declares {} bytes for a textclf model, more than the {MAX_CLASSIFIER_BYTES} bytes one may have; nothing was read (do not promote or serve it; save a new version)",
            metadata.version, artifact.size
        )),
        _ => Ok(()),
    }
}

/// textclf's checks as a registry's model validator: `verify` and every
/// alias move refuse a version of this build's textclf type that
/// [`load_classifier`] would refuse, digests and all: one that is not this
/// build's artifact in postcard ([`require_classifier`]), declares more
/// than [`MAX_CLASSIFIER_BYTES`], or whose bytes do not decode into a valid
/// classifier ([`decode`]).
pub fn validator() -> ModelValidator {
    ModelValidator::new(
        textclf::model_type(),
        |metadata| match mislabelled(metadata) {
            // The validator runs only for versions labelled with this type,
            // so whatever `require_classifier` refuses, this names.
            Some(held) => Err(format!("it holds {held}")),
            None => within_cap(metadata),
        },
        |bytes| decode(bytes).map(|_| ()),
    )
}
