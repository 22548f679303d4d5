//! Loading: metadata, then the model's bytes, checked against the
//! metadata's size and digests before anything is decoded.

use super::keys;
use super::{LoadedArtifact, Registry, StoredVersion};
use crate::error::{RegistryError, Result};
use crate::metadata::{AliasRecord, Encoding, ModelMetadata, StoredFile, blake3_hex, sha256_hex};
use crate::names::{AliasName, ModelVersion};
use crate::store::{Store, StoreError};
use serde::de::DeserializeOwned;

/// Checks `bytes` against a file's recorded size and digests: the fastest
/// one recorded (BLAKE3 when present, else sha256), or with `all` every one.
pub(super) fn check_digest(file: &StoredFile<'_>, bytes: &[u8], location: &str, all: bool) -> Result<()> {
    let mismatch = |what: &'static str, expected: &str, actual: String| RegistryError::IntegrityMismatch {
        location: location.to_string(),
        what,
        expected: expected.to_string(),
        actual,
    };
    if bytes.len() as u64 != file.size {
        return Err(mismatch(
            "size",
            &format!("{} bytes", file.size),
            format!("{} bytes", bytes.len()),
        ));
    }
    if let Some(expected) = file.blake3 {
        let actual = blake3_hex(bytes);
        if actual != expected {
            return Err(mismatch("blake3", expected, actual));
        }
        if !all {
            return Ok(());
        }
    }
    let actual = sha256_hex(bytes);
    if actual != file.sha256 {
        return Err(mismatch("sha256", file.sha256, actual));
    }
    Ok(())
}

/// A stored file of another size than its metadata declares is the same
/// integrity failure as a wrong digest, wherever it was noticed.
pub(super) fn size_mismatch(e: StoreError) -> RegistryError {
    match e {
        StoreError::SizeMismatch {
            location,
            expected,
            actual,
        } => RegistryError::IntegrityMismatch {
            location,
            what: "size",
            expected: format!("{expected} bytes"),
            actual: format!("{actual} bytes"),
        },
        other => other.into(),
    }
}

impl<S: Store> Registry<S> {
    /// Reads and checks `versions/<version>/metadata.json`.
    pub fn metadata(&self, version: &ModelVersion) -> Result<ModelMetadata> {
        Ok(self.read_metadata(version)?.1)
    }

    /// `metadata.json` of `version` as stored, and parsed: its digest
    /// checked, the version it names the one whose directory holds it, and
    /// with trusted keys its signature (signatures.rs).
    ///
    /// A deleted version is [`RegistryError::VersionDeleted`], except when
    /// its metadata came from the local cache of a remote registry: a
    /// pinned version cached before its deletion loads with no request
    /// to the store at all (docs/REMOTE.md), as versions are immutable.
    pub(super) fn read_metadata(&self, version: &ModelVersion) -> Result<(Vec<u8>, ModelMetadata)> {
        let (bytes, metadata, cached) = self.read_metadata_from(version)?;
        self.check_signature(version, &bytes, &metadata)?;
        if !cached {
            self.refuse_deleted(version)?;
        }
        Ok((bytes, metadata))
    }

    /// [`Registry::read_metadata`] of a version whether deleted or not:
    /// for verify (its bytes stay until gc), and for what an alias names
    /// (no alias names a deleted version, delete.rs), which spares every
    /// load through an alias the look for a deletion.
    pub(super) fn read_metadata_kept(&self, version: &ModelVersion) -> Result<(Vec<u8>, ModelMetadata)> {
        let (bytes, metadata) = self.read_metadata_unchecked(version)?;
        self.check_signature(version, &bytes, &metadata)?;
        Ok((bytes, metadata))
    }

    /// [`Registry::metadata`] without the signature check: for the
    /// registry's own bookkeeping (catalog, deprecations, repair, `latest`),
    /// which must work whoever signed what.
    pub(super) fn metadata_unchecked(&self, version: &ModelVersion) -> Result<ModelMetadata> {
        Ok(self.read_metadata_unchecked(version)?.1)
    }

    /// [`Registry::read_metadata`] without the signature check.
    pub(super) fn read_metadata_unchecked(&self, version: &ModelVersion) -> Result<(Vec<u8>, ModelMetadata)> {
        self.read_metadata_from(version)
            .map(|(bytes, metadata, _)| (bytes, metadata))
    }

    /// [`Registry::read_metadata_unchecked`], and whether the cache had it.
    fn read_metadata_from(&self, version: &ModelVersion) -> Result<(Vec<u8>, ModelMetadata, bool)> {
        let key = self.keys.metadata(version);
        let location = self.store.location(&key);
        if let Some(cache) = self.cache.as_deref()
            && let Some(bytes) = cache.document(&key)
        {
            // Checked as the store's copy would be; a damaged copy is
            // reported and read again from the store.
            match self.parse_metadata(version, bytes, &location) {
                Ok((bytes, metadata)) => return Ok((bytes, metadata, true)),
                Err(e) => cache.damaged(&key, &e.to_string()),
            }
        }
        let bytes = match self.store.read_limited(&key, keys::MAX_METADATA_BYTES) {
            Ok(b) => b,
            Err(StoreError::NotFound { .. }) => return Err(self.version_not_found(version)),
            Err(e) => return Err(e.into()),
        };
        let (bytes, metadata) = self.parse_metadata(version, bytes, &location)?;
        if let Some(cache) = self.cache.as_deref() {
            cache.put_document(&key, &bytes);
        }
        Ok((bytes, metadata, false))
    }

    /// `metadata.json` of `version` parsed and checked (see
    /// [`Registry::read_metadata`]), from whichever copy.
    fn parse_metadata(
        &self,
        version: &ModelVersion,
        bytes: Vec<u8>,
        location: &str,
    ) -> Result<(Vec<u8>, ModelMetadata)> {
        let location = location.to_string();
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
        if let Some(model) = self.other_model(&metadata) {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!(
                    "it was saved as version {version} of model {model} but lives in model {}: a version copied by hand from another model is refused (a signature over it vouches for {model} only); save it anew into {}",
                    self.model_label(),
                    self.model_label()
                ),
            });
        }
        Ok((bytes, metadata))
    }

    /// Why `version` has no metadata: deleted and collected by gc (its
    /// deletion record says when), or never saved.
    pub(super) fn version_not_found(&self, version: &ModelVersion) -> RegistryError {
        if let Ok(Some(record)) = self.deletion(version) {
            return record.to_error();
        }
        RegistryError::VersionNotFound {
            version: version.to_string(),
            root: self.location(),
            available: self
                .list_versions()
                .map(|vs| vs.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
        }
    }

    /// A version's files exactly as stored, each checked against every
    /// digest the metadata records: what [`Registry::import_version`]
    /// copies into another registry.
    pub fn load_stored_version(&self, version: &ModelVersion) -> Result<StoredVersion> {
        let (metadata_bytes, metadata) = self.read_metadata(version)?;
        let mut files = Vec::new();
        for file in metadata.stored_files() {
            let bytes = self.read_checked(version, &file, true, <[u8]>::to_vec)?;
            files.push((file.path.to_string(), bytes));
        }
        Ok(StoredVersion {
            metadata,
            metadata_bytes,
            files,
        })
    }

    /// Reads one file of `version` and checks it against its recorded size
    /// and digest (with `all`, every recorded digest), then calls `f` with
    /// its bytes, which are valid only during the call: the filesystem
    /// store maps a large file instead of copying it. `f` is never called
    /// on bytes that failed the checks.
    pub(super) fn read_checked<T>(
        &self,
        version: &ModelVersion,
        file: &StoredFile<'_>,
        all: bool,
        f: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        let mut f = Some(f);
        if let Some(cached) = self.blob_cache(file)
            && let Some(out) = self.read_through_cache(cached, version, file, all, &mut f)?
        {
            return Ok(out);
        }
        let key = self.keys.version_file(version, file.path);
        read_checked_at(&*self.store, &key, file, all, &mut f)
    }

    /// Reads the file `path` of a version whose metadata was loaded, checked
    /// against its recorded size and digest, and calls `f` with its bytes
    /// (see [`Registry::read_checked`]). A path the metadata does not list
    /// is [`RegistryError::FileNotFound`].
    pub fn read_version_file<T>(&self, metadata: &ModelMetadata, path: &str, f: impl FnOnce(&[u8]) -> T) -> Result<T> {
        let file = find_file(metadata, path)?;
        self.read_checked(&metadata.version, &file, false, f)
    }

    /// Passes the file `path` of a loaded version to `f` block by block
    /// (at most [`crate::store::READ_BLOCK`] bytes each), digesting it on
    /// the way, and returns its size; the digest (BLAKE3 where recorded,
    /// else sha256) is checked after the last block, so `f` must treat
    /// what it got as unconfirmed until this returns `Ok` (`registry get`
    /// writes under a temporary name). A file of any size costs a block.
    pub fn stream_version_file(&self, metadata: &ModelMetadata, path: &str, f: &mut dyn FnMut(&[u8])) -> Result<u64> {
        let file = find_file(metadata, path)?;
        let mut progress = crate::progress::begin(|| format!("read {path}"), file.size);
        let f = &mut |block: &[u8]| {
            f(block);
            if let Some(p) = &mut progress {
                p.advance(block.len() as u64);
            }
        };
        if let Some(cached) = self.blob_cache(&file) {
            let (cache, blobs, blake3) = cached;
            // The blob is checked whole before its first block is passed on,
            // so a damaged one is refetched instead of failing half-way.
            let good = match stream_at(blobs, blake3, &file, &mut |_| {}) {
                Ok(_) => true,
                Err(RegistryError::Store(StoreError::NotFound { .. })) => false,
                Err(e) => {
                    cache.damaged(blake3, &e.to_string());
                    false
                }
            };
            if good || self.fill_blob(cached, &metadata.version, &file)? {
                cache.used(blake3);
                return stream_at(blobs, blake3, &file, f);
            }
        }
        let key = self.keys.version_file(&metadata.version, file.path);
        stream_at(&*self.store, &key, &file, f)
    }

    /// Checks every file of a version against its size and digest (with
    /// `all`, every recorded digest) and validates its artifact, if any, as
    /// the model type it claims (where a validator knows the type): what
    /// `verify` checks, and what must hold before an alias points at it.
    pub(super) fn check_content(&self, metadata: &ModelMetadata, all: bool) -> Result<()> {
        // What the type's reader refuses from the metadata alone (no
        // artifact, another encoding, a size past its cap) is refused here
        // first, before a byte is read.
        self.validate_declared(metadata)?;
        for file in metadata.stored_files() {
            // Digested in blocks first, so a file of any size (or a lie about
            // one) is checked in bounded memory; only bytes known good are
            // then held whole, for a validator to decode.
            self.check_streamed(&metadata.version, &file, all)?;
            let artifact = metadata.artifact.as_ref().is_some_and(|a| a.file == file.path);
            if artifact && self.decodes_artifact(metadata) {
                self.read_checked(&metadata.version, &file, false, |bytes| {
                    self.validate_model(metadata, bytes)
                })??;
            }
        }
        Ok(())
    }

    /// Checks a stored file against its size and digests (with `all`, every
    /// recorded one) reading it block by block: memory stays at one block
    /// whatever the file's size. BLAKE3 (on every core) is checked first and
    /// sha256 only for bytes that passed it, so damaged or hostile bytes
    /// cost one fast pass.
    pub(super) fn check_streamed(&self, version: &ModelVersion, file: &StoredFile<'_>, all: bool) -> Result<()> {
        use sha2::Digest;
        let key = self.keys.version_file(version, file.path);
        let location = self.store.location(&key);
        let mismatch = |what: &'static str, expected: &str, actual: String| RegistryError::IntegrityMismatch {
            location: location.clone(),
            what,
            expected: expected.to_string(),
            actual,
        };
        if let Some(expected) = file.blake3 {
            let mut h = blake3::Hasher::new();
            self.store
                .read_blocks(&key, file.size, &mut |block| {
                    // One core (SIMD): waking rayon for every block of a
                    // stream cost more than it saved (see write.rs).
                    h.update(block);
                })
                .map_err(size_mismatch)?;
            let actual = h.finalize().to_hex().to_string();
            if actual != expected {
                return Err(mismatch("blake3", expected, actual));
            }
            if !all {
                return Ok(());
            }
        }
        let mut h = sha2::Sha256::new();
        self.store
            .read_blocks(&key, file.size, &mut |block| {
                h.update(block);
            })
            .map_err(size_mismatch)?;
        let actual: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        if actual != file.sha256 {
            return Err(mismatch("sha256", file.sha256, actual));
        }
        Ok(())
    }

    /// The model bytes of `version`, after checking size and digest against
    /// its metadata. Nothing is decoded before the check passes.
    pub fn load_artifact(&self, version: &ModelVersion) -> Result<LoadedArtifact> {
        let metadata = self.metadata(version)?;
        self.load_with_metadata(metadata)
    }

    pub(super) fn load_with_metadata(&self, metadata: ModelMetadata) -> Result<LoadedArtifact> {
        let file = artifact_file(&metadata)?;
        let bytes = self.read_checked(&metadata.version, &file, false, <[u8]>::to_vec)?;
        Ok(LoadedArtifact { bytes, metadata })
    }

    pub(super) fn decode<M: DeserializeOwned>(&self, loaded: LoadedArtifact) -> Result<(M, ModelMetadata)> {
        let md = loaded.metadata;
        let artifact = artifact_file(&md)?;
        let location = self.store.location(&self.keys.version_file(&md.version, artifact.path));
        let encoding = md.artifact.as_ref().map_or(Encoding::Raw, |a| a.encoding);
        let decoded = match encoding {
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
        self.through_alias(alias, |record| self.load_with_metadata(self.named_metadata(record)?))
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

    /// Decodes the artifact of a version whose metadata was loaded (and
    /// checked, e.g. for its model type) with `decode`, after checking its
    /// size and digest: see [`Registry::load_decoded`].
    pub fn decode_verified<T>(
        &self,
        metadata: ModelMetadata,
        decode: impl FnOnce(&[u8]) -> T,
    ) -> Result<(T, ModelMetadata)> {
        let file = artifact_file(&metadata)?;
        let decoded = self.read_checked(&metadata.version, &file, false, decode)?;
        Ok((decoded, metadata))
    }

    /// The metadata of the version `alias` points to, checked against the
    /// digest the alias recorded.
    pub fn alias_metadata(&self, alias: &AliasName) -> Result<ModelMetadata> {
        self.through_alias(alias, |record| self.named_metadata(record))
    }

    /// Runs `load` on what `alias` names. A reader that resolved the alias
    /// just before it moved on may find that version gone (deleted and
    /// collected by gc within its grace period of 0s): it loads what the
    /// alias names now, as if it had come a moment later.
    fn through_alias<T>(&self, alias: &AliasName, load: impl Fn(&AliasRecord) -> Result<T>) -> Result<T> {
        // `resolve` applies the alias's signature policy.
        let mut record = self.resolve(alias)?;
        for _ in 0..3 {
            match load(&record) {
                Err(
                    RegistryError::VersionNotFound { .. }
                    | RegistryError::VersionDeleted { .. }
                    | RegistryError::Store(StoreError::NotFound { .. }),
                ) => {
                    let now = self.resolve(alias)?;
                    if now.version == record.version {
                        break;
                    }
                    record = now;
                }
                other => return other,
            }
        }
        load(&record)
    }

    /// The metadata of the version `record` names, checked against the
    /// digest it recorded.
    fn named_metadata(&self, record: &AliasRecord) -> Result<ModelMetadata> {
        let record = record.clone();
        let metadata = self.read_metadata_kept(&record.version)?.1;
        if metadata.metadata_sha256 != record.metadata_sha256 {
            return Err(RegistryError::IntegrityMismatch {
                location: self.store.location(&self.keys.metadata(&record.version)),
                what: "metadata sha256 (recorded by the alias)",
                expected: record.metadata_sha256,
                actual: metadata.metadata_sha256,
            });
        }
        Ok(metadata)
    }
}

/// The artifact (the model the registry encoded) of a version, or
/// [`RegistryError::NoArtifact`] for a version of registered files.
fn artifact_file(metadata: &ModelMetadata) -> Result<StoredFile<'_>> {
    match metadata.stored_files().first() {
        Some(file) if metadata.artifact.is_some() => Ok(*file),
        _ => Err(RegistryError::NoArtifact {
            version: metadata.version.to_string(),
            files: metadata.files.iter().map(|f| f.path.clone()).collect(),
        }),
    }
}

/// The file `path` of a version, or [`RegistryError::FileNotFound`] naming
/// the files it has.
pub(super) fn find_file<'a>(metadata: &'a ModelMetadata, path: &str) -> Result<StoredFile<'a>> {
    let files = metadata.stored_files();
    files
        .iter()
        .find(|file| file.path == path)
        .copied()
        .ok_or_else(|| RegistryError::FileNotFound {
            version: metadata.version.to_string(),
            path: path.to_string(),
            available: files.iter().map(|f| f.path.to_string()).collect(),
        })
}

/// Reads `key` of `store` (the registry's store, or a cache's blobs),
/// checks it against `file`'s recorded size and digest (with `all`, every
/// recorded digest), then calls `f` with its bytes, which are valid only
/// during the call. The declared size is checked against the stored object
/// before any memory is reserved or mapped for it (a lie costs one fstat or
/// the response headers), then every byte against the digests; nothing is
/// decoded before the bytes are known good, and `f` is taken only then.
pub(super) fn read_checked_at<T, St: Store + ?Sized, F: FnOnce(&[u8]) -> T>(
    store: &St,
    key: &str,
    file: &StoredFile<'_>,
    all: bool,
    f: &mut Option<F>,
) -> Result<T> {
    let location = store.location(key);
    let mut outcome = None;
    store
        .read_sized_into(key, file.size, &mut |bytes| {
            if let Err(e) = check_digest(file, bytes, &location, all) {
                outcome = Some(Err(e));
            } else if let Some(f) = f.take() {
                outcome = Some(Ok(f(bytes)));
            }
        })
        .map_err(size_mismatch)?;
    outcome.unwrap_or_else(|| {
        Err(RegistryError::IntegrityMismatch {
            location,
            what: "read",
            expected: "the store to pass the file's bytes once".into(),
            actual: "no bytes".into(),
        })
    })
}

/// The digest a file's bytes are checked against as they stream: BLAKE3
/// where the metadata records it, else sha256.
pub(super) struct FileDigest {
    blake3: Option<blake3::Hasher>,
    sha256: sha2::Sha256,
}

impl FileDigest {
    pub(super) fn new(file: &StoredFile<'_>) -> FileDigest {
        use sha2::Digest;
        FileDigest {
            blake3: file.blake3.map(|_| blake3::Hasher::new()),
            sha256: sha2::Sha256::new(),
        }
    }

    pub(super) fn update(&mut self, block: &[u8]) {
        use sha2::Digest;
        match &mut self.blake3 {
            // One core (SIMD): waking rayon for every block of a stream
            // cost more than it saved (see write.rs).
            Some(h) => {
                h.update(block);
            }
            None => self.sha256.update(block),
        }
    }

    /// [`RegistryError::IntegrityMismatch`] at `location` unless the bytes
    /// seen are `file`'s.
    pub(super) fn check(self, file: &StoredFile<'_>, location: impl FnOnce() -> String) -> Result<()> {
        use sha2::Digest;
        let (what, expected, actual) = match (self.blake3, file.blake3) {
            (Some(h), Some(expected)) => ("blake3", expected, h.finalize().to_hex().to_string()),
            _ => (
                "sha256",
                file.sha256,
                self.sha256.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            ),
        };
        if actual != expected {
            return Err(RegistryError::IntegrityMismatch {
                location: location(),
                what,
                expected: expected.to_string(),
                actual,
            });
        }
        Ok(())
    }
}

/// [`Registry::stream_version_file`] from `key` of `store`.
fn stream_at<St: Store + ?Sized>(
    store: &St,
    key: &str,
    file: &StoredFile<'_>,
    f: &mut dyn FnMut(&[u8]),
) -> Result<u64> {
    let mut digest = FileDigest::new(file);
    store
        .read_blocks(key, file.size, &mut |block| {
            digest.update(block);
            f(block);
        })
        .map_err(size_mismatch)?;
    digest.check(file, || store.location(key))?;
    Ok(file.size)
}
