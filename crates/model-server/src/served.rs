//! What the server serves: a decoded, validated model (of any kind in
//! [`crate::kinds`]) with the metadata of the version it came from, and how
//! one is loaded.

use crate::kinds::{self, Kinds, ServedModel};
use registry_core::{AliasName, ModelMetadata, ModelName, ModelVersion, RegistryError};
use registry_open::AnyRegistry;
use time::OffsetDateTime;

/// One loaded version. Requests hold an `Arc` of it for their whole life,
/// so a swap never changes the model under a request in flight.
#[derive(Debug)]
pub struct Served {
    pub model: Box<dyn ServedModel>,
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
    #[error("the alias moved while version {version} was loading (it will be loaded at the next poll)")]
    Moved { version: String },
}

/// Loads `version`, which must still have the metadata digest `expected`
/// (the one the alias named when it was read, so a model is never paired
/// with another state of the alias). The model type is checked before
/// anything is decoded (by the first of `kinds` that serves it), and the bytes
/// against their digests.
pub fn load(
    registry: &AnyRegistry,
    kinds: &Kinds,
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
    let (model, metadata) = kinds::load(registry, kinds, metadata)?;
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
