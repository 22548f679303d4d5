//! Saving: a version's files are created, metadata last (the commit
//! point), then `latest` moves forward.

use super::write::{FileSource, InMemory, StoredSource};
use super::{Artifact, Registry, StoredVersion};
use crate::error::{RegistryError, Result};
use crate::metadata::{
    AliasAction, ArtifactInfo, BASE_FORMAT_VERSION, Encoding, FORMAT_VERSION, FileInfo, MAX_FILES, ModelInfo,
    ModelMetadata, blake3_hex, check_file_path, sha256_hex,
};
use crate::names::{AliasName, Bump, ModelVersion, VersionSlot};
use crate::store::{Store, StoreError};
use serde::Serialize;
use time::OffsetDateTime;

impl<S: Store> Registry<S> {
    /// Saves `model` (encoded with postcard as `model.bin`) as `version`,
    /// then moves `latest` to it if it is the newest version.
    pub fn save_model<M: Serialize>(
        &self,
        version: &ModelVersion,
        model: &M,
        info: ModelInfo,
    ) -> Result<ModelMetadata> {
        let bytes = postcard::to_stdvec(model).map_err(|e| e.to_string());
        self.save_encoded(version, bytes, Encoding::Postcard, "bin", info)
    }

    /// Like [`Registry::save_model`], but stores the model as `model.json`.
    pub fn save_model_json<M: Serialize>(
        &self,
        version: &ModelVersion,
        model: &M,
        info: ModelInfo,
    ) -> Result<ModelMetadata> {
        let bytes = serde_json::to_vec(model).map_err(|e| e.to_string());
        self.save_encoded(version, bytes, Encoding::Json, "json", info)
    }

    /// Saves a model serde encoded as `model.<extension>`; an encoding
    /// failure is [`RegistryError::Encode`] and writes nothing.
    fn save_encoded(
        &self,
        version: &ModelVersion,
        bytes: std::result::Result<Vec<u8>, String>,
        encoding: Encoding,
        extension: &str,
        info: ModelInfo,
    ) -> Result<ModelMetadata> {
        let bytes = bytes.map_err(|reason| RegistryError::Encode {
            version: version.to_string(),
            reason,
        })?;
        let artifact = Artifact {
            extension: extension.into(),
            encoding,
            bytes,
        };
        self.save_artifact(version, artifact, info)
    }

    /// Saves `info` under the next free version after the highest existing
    /// one, retrying with a higher version when a concurrent writer takes it.
    pub fn save_next<M: Serialize>(&self, bump: Bump, model: &M, info: ModelInfo) -> Result<ModelMetadata> {
        self.save_in_slot(&VersionSlot::Next(bump), |v| self.save_model(v, model, info.clone()))
    }

    /// Runs `save` for the version `slot` names: exactly that one, or the
    /// next free one after the highest, retrying with a higher version when
    /// a concurrent writer takes it (every bumped save goes through here).
    pub fn save_in_slot(
        &self,
        slot: &VersionSlot,
        mut save: impl FnMut(&ModelVersion) -> Result<ModelMetadata>,
    ) -> Result<ModelMetadata> {
        match slot {
            VersionSlot::Exact(v) => save(v),
            VersionSlot::Next(bump) => loop {
                let version = self.next_version(*bump)?;
                match save(&version) {
                    Err(RegistryError::VersionExists { .. } | RegistryError::VersionCollected { .. }) => continue,
                    other => return other,
                }
            },
        }
    }

    /// Saves raw model bytes as `versions/<version>/model.<extension>`.
    pub fn save_artifact(
        &self,
        version: &ModelVersion,
        artifact: Artifact,
        mut info: ModelInfo,
    ) -> Result<ModelMetadata> {
        let ext_ok = !artifact.extension.is_empty()
            && artifact.extension.len() <= 16
            && artifact.extension.chars().all(|c| c.is_ascii_alphanumeric());
        if !ext_ok {
            return Err(RegistryError::Encode {
                version: version.to_string(),
                reason: format!(
                    "artifact extension {:?} must be 1-16 ASCII letters or digits",
                    artifact.extension
                ),
            });
        }
        self.ensure_marker()?;
        let file = format!("model.{}", artifact.extension);
        if info.lineage.created_by.is_none() {
            info.lineage.created_by = Some(self.actor().clone());
        }
        let mut metadata = ModelMetadata {
            format_version: BASE_FORMAT_VERSION,
            version: version.clone(),
            model: Some(self.model_label().to_string()),
            timestamp: OffsetDateTime::now_utc(),
            artifact: Some(ArtifactInfo {
                file: file.clone(),
                encoding: artifact.encoding,
                size: artifact.bytes.len() as u64,
                sha256: sha256_hex(&artifact.bytes),
                blake3: Some(blake3_hex(&artifact.bytes)),
            }),
            files: Vec::new(),
            info,
            metadata_sha256: String::new(),
            canonicalization: None,
            extra: Default::default(),
        };
        // A type a validator knows is checked as `verify` would check it,
        // before anything is written: nothing invalid is sealed through a
        // registry that knows better.
        self.validate_declared(&metadata)?;
        self.validate_model(&metadata, &artifact.bytes)?;
        let metadata_bytes = metadata.seal()?;
        let source = InMemory {
            path: &file,
            bytes: &artifact.bytes,
        };
        self.commit_version(&metadata, &metadata_bytes, &[source])?;
        Ok(metadata)
    }

    /// Registers files as they are (a single file, or a directory's files
    /// with their relative paths, as `local_files::collect` reads them) as
    /// `version`: each is digested and listed in the metadata (format 2),
    /// with the same atomicity and immutability as any save.
    pub fn save_files<F: FileSource>(
        &self,
        version: &ModelVersion,
        files: &[F],
        mut info: ModelInfo,
    ) -> Result<ModelMetadata> {
        let location = || self.version_location(version);
        if files.is_empty() {
            return Err(RegistryError::InvalidFiles {
                location: location(),
                reason: "no files to register (an empty directory?)".into(),
            });
        }
        if let Some(model_type) = info.model_type.as_deref()
            && self.knows_model_type(model_type)
        {
            // A type a validator knows is a model this registry encodes and
            // checks itself (textclf's, saved by its trainer): files merely
            // labelled with it would pass as one until a reader decoded them.
            return Err(RegistryError::InvalidFiles {
                location: location(),
                reason: format!(
                    "{model_type} is the type of models saved as this registry's own artifacts (by `trainer`, or a TextClassifier's save_model), which are validated as such; registered files cannot carry it: give another --type"
                ),
            });
        }
        if files.len() > MAX_FILES {
            return Err(RegistryError::InvalidFiles {
                location: location(),
                reason: format!("{} files, more than the {MAX_FILES} a version may hold", files.len()),
            });
        }
        for f in files {
            check_file_path(f.path()).map_err(|reason| RegistryError::InvalidFiles {
                location: f.path().to_string(),
                reason,
            })?;
        }
        self.ensure_marker()?;
        if info.lineage.created_by.is_none() {
            info.lineage.created_by = Some(self.actor().clone());
        }
        let mut metadata = ModelMetadata {
            format_version: FORMAT_VERSION,
            version: version.clone(),
            model: Some(self.model_label().to_string()),
            timestamp: OffsetDateTime::now_utc(),
            artifact: None,
            // Placeholders until the files are written and digested: the
            // document is checked as a reader will (duplicates, a file
            // inside another file's path) before anything is written.
            files: files
                .iter()
                .map(|f| FileInfo {
                    path: f.path().to_string(),
                    size: f.size(),
                    sha256: "0".repeat(64),
                    blake3: "0".repeat(64),
                })
                .collect(),
            info,
            metadata_sha256: String::new(),
            canonicalization: None,
            extra: Default::default(),
        };
        ModelMetadata::from_json(&metadata.seal()?, &location())?;
        self.ensure_absent(version)?;
        let (written, created) = self.write_sources(version, files)?;
        metadata.files = written;
        let metadata_bytes = match metadata.seal() {
            Ok(bytes) => bytes,
            Err(e) => {
                self.undo(&created);
                return Err(e);
            }
        };
        self.commit_written(&metadata, &metadata_bytes, created)?;
        Ok(metadata)
    }

    /// [`Registry::save_files`] under the next free version after the
    /// highest existing one, retrying with a higher version when a
    /// concurrent writer takes it.
    pub fn save_files_next<F: FileSource>(&self, bump: Bump, files: &[F], info: ModelInfo) -> Result<ModelMetadata> {
        self.save_in_slot(&VersionSlot::Next(bump), |v| self.save_files(v, files, info.clone()))
    }

    /// Copies a version from another registry byte for byte: `stored` is
    /// what [`Registry::load_stored_version`] returned there. Nothing is
    /// re-encoded, so fields this build does not know (written by a newer
    /// release or another tool) survive, and the metadata digest still
    /// matches. Both files are checked against the metadata's digests again
    /// here before anything is written. Returns `false` if this registry
    /// already holds the identical version (same metadata digest), and
    /// [`RegistryError::VersionExists`] if it holds a different one.
    pub fn import_version(&self, stored: &StoredVersion) -> Result<bool> {
        let contents: Vec<InMemory<'_>> = stored
            .files
            .iter()
            .map(|(path, bytes)| InMemory { path, bytes })
            .collect();
        self.import_sources(&stored.metadata.version, &stored.metadata_bytes, &contents)
    }

    /// [`Registry::import_version`] streamed from the registry `from`: each
    /// file goes from its store into this one in blocks, checked against
    /// every digest the metadata records before the commit point, so a
    /// version of any size is copied in bounded memory. Bytes that fail the
    /// check are [`RegistryError::IntegrityMismatch`] and nothing is left.
    pub fn import_from<A: Store>(&self, from: &Registry<A>, version: &ModelVersion) -> Result<bool> {
        let (metadata_bytes, metadata) = from.read_metadata(version)?;
        let sources: Vec<StoredSource<'_>> = metadata
            .stored_files()
            .iter()
            .map(|file| StoredSource {
                store: &*from.store,
                key: from.keys.version_file(version, file.path),
                path: file.path.to_string(),
                size: file.size,
            })
            .collect();
        self.import_sources(version, &metadata_bytes, &sources)
    }

    fn import_sources<F: FileSource>(
        &self,
        version: &ModelVersion,
        metadata_bytes: &[u8],
        files: &[F],
    ) -> Result<bool> {
        let version = version.clone();
        let location = format!("the copy of version {version}");
        let metadata = ModelMetadata::from_json(metadata_bytes, &location)?;
        if metadata.version != version {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!("its metadata says version {}", metadata.version),
            });
        }
        if let Some(model) = self.other_model(&metadata) {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!(
                    "it is a version of model {model}; it can only be copied into model {model} (this is {})",
                    self.model_label()
                ),
            });
        }
        let expected = metadata.stored_files();
        if expected.len() != files.len() {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!("it lists {} files, the copy has {}", expected.len(), files.len()),
            });
        }
        for (file, source) in expected.iter().zip(files) {
            if file.path != source.path() {
                return Err(RegistryError::InvalidMetadata {
                    location: format!("{location}: {}", source.path()),
                    reason: format!("expected file {:?}", file.path),
                });
            }
        }
        match self.metadata_unchecked(&version) {
            Ok(existing) if existing.metadata_sha256 == metadata.metadata_sha256 => return Ok(false),
            Ok(_) => return Err(self.version_exists(&version, true)),
            Err(RegistryError::VersionNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.ensure_marker()?;
        // Every recorded digest of each written file is compared with the
        // metadata's before the commit point.
        self.commit_version(&metadata, metadata_bytes, files)?;
        Ok(true)
    }

    /// Writes a version whose metadata is made already: its files (in the
    /// metadata's order, each checked against the digests it records before
    /// the commit point), then the rest as [`Registry::commit_written`].
    pub(super) fn commit_version<F: FileSource>(
        &self,
        metadata: &ModelMetadata,
        metadata_bytes: &[u8],
        contents: &[F],
    ) -> Result<()> {
        let version = &metadata.version;
        self.ensure_absent(version)?;
        let (written, created) = self.write_sources(version, contents)?;
        // The bytes read are named by where they came from: a damaged
        // source is what a copy reports.
        for ((file, got), source) in metadata.stored_files().iter().zip(&written).zip(contents) {
            let mismatch = match file.blake3 {
                _ if file.path != got.path || file.size != got.size => {
                    Some(("size", file.size.to_string(), got.size.to_string()))
                }
                Some(b) if b != got.blake3 => Some(("blake3", b.to_string(), got.blake3.clone())),
                _ if file.sha256 != got.sha256 => Some(("sha256", file.sha256.to_string(), got.sha256.clone())),
                _ => None,
            };
            if let Some((what, expected, actual)) = mismatch {
                self.undo(&created);
                return Err(RegistryError::IntegrityMismatch {
                    location: source.location(),
                    what,
                    expected,
                    actual,
                });
            }
        }
        self.commit_written(metadata, metadata_bytes, created)
    }

    /// Moves `latest` to `metadata.version` unless it already names a newer
    /// version, or this one is a pre-release (`latest` means the newest
    /// release), deprecated or deleted. Retries on conflicts: every save's
    /// version is considered.
    pub(super) fn advance_latest(&self, metadata: &ModelMetadata, action: AliasAction) -> Result<()> {
        let version = &metadata.version;
        if version.is_prerelease() || self.deprecation(version)?.is_some() {
            return Ok(());
        }
        // Pinned before the look for a deletion (even of a version just
        // saved: a deleter may have come and a gc gone since), held until
        // latest moved: gc cannot take it meanwhile (pins.rs).
        let _pin = self.pin(version)?;
        if self.deletion(version)?.is_some() {
            return Ok(());
        }
        let latest = AliasName::latest();
        loop {
            let current = self.read_alias_pointer(&latest)?;
            if let Some((record, _)) = &current
                && record.version >= metadata.version
            {
                break;
            }
            match self.swap_alias(&latest, current, &metadata.version, &metadata.metadata_sha256, action) {
                // A deletion that slipped in meanwhile is undone (delete.rs).
                Ok(_) => {
                    self.restore_if_deleted_meanwhile(&latest, version)?;
                    break;
                }
                Err(RegistryError::Store(StoreError::Conflict { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
        self.refresh_latest_view()
    }

    /// Points the `latest/` view at what the `latest` pointer names. The last
    /// writer re-reads the pointer after writing the view, so concurrent
    /// saves cannot leave the view behind the pointer.
    pub(super) fn refresh_latest_view(&self) -> Result<()> {
        let latest = AliasName::latest();
        for _ in 0..100 {
            let Some((record, _)) = self.read_alias_pointer(&latest)? else {
                return Ok(());
            };
            let target = self.keys.version_prefix(&record.version);
            self.store.publish_view(&self.keys.latest_view(), &target)?;
            match self.read_alias_pointer(&latest)? {
                Some((now, _)) if now.version == record.version => return Ok(()),
                _ => continue,
            }
        }
        Ok(())
    }
}
