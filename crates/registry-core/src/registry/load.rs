//! Loading: metadata, then the model's bytes, checked against the
//! metadata's size and digests before anything is decoded.

use super::keys;
use super::{LoadedArtifact, Registry, StoredVersion};
use crate::error::{RegistryError, Result};
use crate::metadata::{Encoding, ModelMetadata, blake3_hex, sha256_hex};
use crate::names::{AliasName, ModelVersion};
use crate::store::{Store, StoreError};
use serde::de::DeserializeOwned;

/// Checks `bytes` against the artifact digests in `metadata`: the fastest
/// one recorded (BLAKE3 when present, else sha256), or with `all` every one.
pub(super) fn check_digest(metadata: &ModelMetadata, bytes: &[u8], location: &str, all: bool) -> Result<()> {
    let recorded = &metadata.artifact;
    let mismatch = |what: &'static str, expected: &str, actual: String| RegistryError::IntegrityMismatch {
        location: location.to_string(),
        what,
        expected: expected.to_string(),
        actual,
    };
    if let Some(expected) = &recorded.blake3 {
        let actual = blake3_hex(bytes);
        if actual != *expected {
            return Err(mismatch("blake3", expected, actual));
        }
        if !all {
            return Ok(());
        }
    }
    let actual = sha256_hex(bytes);
    if actual != recorded.sha256 {
        return Err(mismatch("sha256", &recorded.sha256, actual));
    }
    Ok(())
}

impl<S: Store> Registry<S> {
    /// Reads and checks `versions/<version>/metadata.json`.
    pub fn metadata(&self, version: &ModelVersion) -> Result<ModelMetadata> {
        Ok(self.read_metadata(version)?.1)
    }

    /// `metadata.json` of `version` as stored, and parsed: its digest
    /// checked, and the version it names the one whose directory holds it.
    fn read_metadata(&self, version: &ModelVersion) -> Result<(Vec<u8>, ModelMetadata)> {
        let key = keys::metadata(version);
        let location = self.store.location(&key);
        let bytes = match self.store.read_limited(&key, keys::MAX_METADATA_BYTES) {
            Ok(b) => b,
            Err(StoreError::NotFound { .. }) => return Err(self.version_not_found(version)),
            Err(e) => return Err(e.into()),
        };
        let metadata = ModelMetadata::from_json(&bytes, &location)?;
        if &metadata.version != version {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!(
                    "it says version {} but lives in the directory of version {version}",
                    metadata.version
                ),
            });
        }
        Ok((bytes, metadata))
    }

    pub(super) fn version_not_found(&self, version: &ModelVersion) -> RegistryError {
        RegistryError::VersionNotFound {
            version: version.to_string(),
            root: self.location(),
            available: self
                .list_versions()
                .map(|vs| vs.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
        }
    }

    /// A version's two files exactly as stored, each checked against the
    /// metadata's digests (every one recorded): what [`Registry::import_version`]
    /// copies into another registry.
    pub fn load_stored_version(&self, version: &ModelVersion) -> Result<StoredVersion> {
        let (metadata_bytes, metadata) = self.read_metadata(version)?;
        let (model, model_location) = self.read_artifact_sized(&metadata)?;
        check_digest(&metadata, &model, &model_location, true)?;
        Ok(StoredVersion {
            metadata,
            metadata_bytes,
            model,
        })
    }

    /// The model bytes of `version`, after checking size and sha256 against
    /// its metadata. Nothing is decoded before the check passes.
    pub fn load_artifact(&self, version: &ModelVersion) -> Result<LoadedArtifact> {
        let metadata = self.metadata(version)?;
        self.load_with_metadata(metadata)
    }

    /// The artifact's bytes, checked for size (not yet for checksum), and
    /// where they came from.
    pub(super) fn read_artifact_sized(&self, metadata: &ModelMetadata) -> Result<(Vec<u8>, String)> {
        let key = keys::version_file(&metadata.version, &metadata.artifact.file);
        let location = self.store.location(&key);
        let bytes = self.store.read(&key)?;
        if bytes.len() as u64 != metadata.artifact.size {
            return Err(RegistryError::IntegrityMismatch {
                location,
                what: "size",
                expected: format!("{} bytes", metadata.artifact.size),
                actual: format!("{} bytes", bytes.len()),
            });
        }
        Ok((bytes, location))
    }

    pub(super) fn load_with_metadata(&self, metadata: ModelMetadata) -> Result<LoadedArtifact> {
        let (bytes, location) = self.read_artifact_sized(&metadata)?;
        check_digest(&metadata, &bytes, &location, false)?;
        Ok(LoadedArtifact { bytes, metadata })
    }

    pub(super) fn decode<M: DeserializeOwned>(&self, loaded: LoadedArtifact) -> Result<(M, ModelMetadata)> {
        let md = loaded.metadata;
        let location = self.store.location(&keys::version_file(&md.version, &md.artifact.file));
        let decoded = match md.artifact.encoding {
            Encoding::Postcard => postcard::from_bytes(&loaded.bytes).map_err(|e| e.to_string()),
            Encoding::Json => serde_json::from_slice(&loaded.bytes).map_err(|e| e.to_string()),
            Encoding::Raw => Err("it is a raw artifact: read it with load_artifact".to_string()),
        };
        decoded
            .map(|m| (m, md))
            .map_err(|reason| RegistryError::Decode { location, reason })
    }

    /// Loads and decodes the model of `version`.
    pub fn get_model<M: DeserializeOwned>(&self, version: &ModelVersion) -> Result<(M, ModelMetadata)> {
        self.decode(self.load_artifact(version)?)
    }

    /// Loads and decodes the model `alias` points to.
    pub fn get_by_alias<M: DeserializeOwned>(&self, alias: &AliasName) -> Result<(M, ModelMetadata)> {
        self.decode(self.load_alias_artifact(alias)?)
    }

    /// Loads and decodes the newest version.
    pub fn get_latest_model<M: DeserializeOwned>(&self) -> Result<(M, ModelMetadata)> {
        self.get_by_alias(&AliasName::latest())
    }

    /// The checked bytes of what `alias` points to. The pointer's metadata
    /// digest must match the version's metadata.
    pub fn load_alias_artifact(&self, alias: &AliasName) -> Result<LoadedArtifact> {
        let metadata = self.alias_metadata(alias)?;
        self.load_with_metadata(metadata)
    }

    /// Loads the model of `version`, checks its size and sha256 against the
    /// metadata, then decodes it with `decode` straight from the store's
    /// buffer: the filesystem store maps a large file instead of copying it
    /// into fresh memory, which takes ~0.8 ms off a command-line
    /// prediction's cold start (one page fault per 4 KB of a 2 MB model).
    /// `decode` is never called on bytes that failed the checks.
    pub fn load_decoded<T>(
        &self,
        version: &ModelVersion,
        decode: impl FnOnce(&[u8]) -> T,
    ) -> Result<(T, ModelMetadata)> {
        let metadata = self.metadata(version)?;
        self.decode_verified(metadata, decode)
    }

    /// [`Registry::load_decoded`] for the version `alias` points to.
    pub fn load_alias_decoded<T>(
        &self,
        alias: &AliasName,
        decode: impl FnOnce(&[u8]) -> T,
    ) -> Result<(T, ModelMetadata)> {
        let metadata = self.alias_metadata(alias)?;
        self.decode_verified(metadata, decode)
    }

    pub(super) fn decode_verified<T>(
        &self,
        metadata: ModelMetadata,
        decode: impl FnOnce(&[u8]) -> T,
    ) -> Result<(T, ModelMetadata)> {
        let key = keys::version_file(&metadata.version, &metadata.artifact.file);
        let location = self.store.location(&key);
        let mut decode = Some(decode);
        let mut outcome = None;
        self.store.read_into(&key, &mut |bytes| {
            if bytes.len() as u64 != metadata.artifact.size {
                outcome = Some(Err(RegistryError::IntegrityMismatch {
                    location: location.clone(),
                    what: "size",
                    expected: format!("{} bytes", metadata.artifact.size),
                    actual: format!("{} bytes", bytes.len()),
                }));
                return;
            }
            let Some(decode) = decode.take() else { return };
            // Checked first: nothing is decoded before the bytes are known good.
            outcome = Some(check_digest(&metadata, bytes, &location, false).map(|()| decode(bytes)));
        })?;
        match outcome {
            Some(Ok(decoded)) => Ok((decoded, metadata)),
            Some(Err(e)) => Err(e),
            None => Err(RegistryError::IntegrityMismatch {
                location,
                what: "read",
                expected: "the store to pass the file's bytes once".into(),
                actual: "no bytes".into(),
            }),
        }
    }

    /// The metadata of the version `alias` points to, checked against the
    /// digest the alias recorded.
    pub(super) fn alias_metadata(&self, alias: &AliasName) -> Result<ModelMetadata> {
        let record = self.resolve(alias)?;
        let metadata = self.metadata(&record.version)?;
        if metadata.metadata_sha256 != record.metadata_sha256 {
            return Err(RegistryError::IntegrityMismatch {
                location: self.store.location(&keys::metadata(&record.version)),
                what: "metadata sha256 (recorded by the alias)",
                expected: record.metadata_sha256,
                actual: metadata.metadata_sha256,
            });
        }
        Ok(metadata)
    }
}
