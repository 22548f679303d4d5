//! What the server serves: a decoded, validated text classifier with the
//! metadata of the version it came from, and how one is loaded.

use registry_core::{AliasName, ModelMetadata, ModelName, ModelVersion, RegistryError};
use registry_open::AnyRegistry;
use textclf::TextClassifier;
use time::OffsetDateTime;

/// One loaded version. Requests hold an `Arc` of it for their whole life,
/// so a swap never changes the model under a request in flight.
#[derive(Debug)]
pub struct Served {
    pub model: TextClassifier,
    pub metadata: ModelMetadata,
    /// The registry's model (`default` for the root one).
    pub model_name: String,
    /// The alias followed, if any (`--version` pins a version instead).
    pub alias: Option<AliasName>,
    pub loaded_at: OffsetDateTime,
}

impl Served {
    /// (version, metadata digest): what identifies the bytes served.
    pub fn key(&self) -> (&ModelVersion, &str) {
        (&self.metadata.version, &self.metadata.metadata_sha256)
    }
}

/// Why a version could not be served.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "version {version} holds {held}, but this server runs {expected} (pick a version trained by this build's trainer)"
    )]
    WrongType {
        version: String,
        held: String,
        expected: String,
    },
    #[error("version {version}: the model file is not a valid textclf model: {reason}")]
    Invalid { version: String, reason: String },
    #[error("the alias moved while version {version} was loading (it will be loaded at the next poll)")]
    Moved { version: String },
}

/// Loads `version`, which must still have the metadata digest `expected`
/// (the one the alias named when it was read, so a model is never paired
/// with another state of the alias). The model type is checked before
/// anything is decoded, and the bytes against their digests.
pub fn load(
    registry: &AnyRegistry,
    version: &ModelVersion,
    expected: Option<&str>,
    alias: Option<&AliasName>,
) -> Result<Served, LoadError> {
    let metadata = registry.metadata(version)?;
    if expected.is_some_and(|d| d != metadata.metadata_sha256) {
        return Err(LoadError::Moved {
            version: version.to_string(),
        });
    }
    let wanted = textclf::model_type();
    match metadata.info.model_type.as_deref() {
        Some(t) if t == wanted && metadata.artifact.is_some() => {}
        other => {
            return Err(LoadError::WrongType {
                version: version.to_string(),
                held: other.map_or_else(|| "an untyped model".into(), |t| format!("a {t} model")),
                expected: wanted,
            });
        }
    }
    let (decoded, metadata) = registry.decode_verified(metadata, TextClassifier::from_bytes)?;
    let model = decoded.map_err(|e| LoadError::Invalid {
        version: version.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Served {
        model,
        metadata,
        model_name: registry
            .model_name()
            .map_or(ModelName::DEFAULT, ModelName::as_str)
            .to_string(),
        alias: alias.cloned(),
        loaded_at: OffsetDateTime::now_utc(),
    })
}
