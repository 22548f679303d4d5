//! [`Registry`]: versions, aliases and their history over any [`Store`].
//!
//! How the guarantees follow from the store's:
//!
//! * **Immutable versions.** The model file is `create`d first; whoever
//!   creates it owns the version, everyone else gets `VersionExists`.
//!   `metadata.json` is created second and is the commit point: a version is
//!   listed only once its metadata exists, and the metadata holds the model's
//!   size and sha256, so a model can never pair with another version's
//!   metadata.
//! * **`latest` only after durability.** `latest` is an alias pointer moved by
//!   compare-and-swap after both files are durable, and only forward (a slow
//!   writer of an older version never moves it back).
//! * **Aliases without scanning.** Resolving an alias reads one pointer
//!   object; its cost does not depend on the number of versions.
//! * **Exact history.** Each alias state carries a sequence number. Before a
//!   mover replaces state *n* it records *n* in `history/` (create-if-absent,
//!   so recording twice is harmless), so every state that ever existed is
//!   recorded exactly once, even if a mover is killed.

use crate::Actor;
use crate::error::{RegistryError, Result};
use crate::metadata::{
    AliasAction, AliasRecord, ArtifactInfo, Encoding, FORMAT_VERSION, ModelInfo, ModelMetadata, RegistryMarker,
    blake3_hex, from_map, parse_versioned, sha256_hex,
};
use crate::names::{AliasName, Bump, ModelVersion};
use crate::store::{FsStore, Pointer, Store, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use time::OffsetDateTime;

const MARKER_KEY: &str = "registry.json";
const METADATA_FILE: &str = "metadata.json";

/// Checks `bytes` against the artifact digests in `metadata`: the fastest
/// one recorded (BLAKE3 when present, else sha256), or with `all` every one.
fn check_digest(metadata: &ModelMetadata, bytes: &[u8], location: &str, all: bool) -> Result<()> {
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

fn version_prefix(v: &ModelVersion) -> String {
    format!("versions/{v}/")
}
fn metadata_key(v: &ModelVersion) -> String {
    format!("versions/{v}/{METADATA_FILE}")
}
fn alias_key(a: &AliasName) -> String {
    format!("aliases/{a}.json")
}
fn history_key(a: &AliasName, seq: u64) -> String {
    format!("history/{a}/{seq:010}.json")
}

/// What an alias is expected to point to before it is moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Move it whatever it points to (the move is still recorded).
    Anything,
    /// Create it: fail if it already exists.
    Nothing,
    /// Move it only if it still points to this version.
    Version(ModelVersion),
}

/// A model file to store as it is, for formats the registry does not decode.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// File name inside the version directory: `model.<ext>`.
    pub extension: String,
    pub encoding: Encoding,
    pub bytes: Vec<u8>,
}

/// A version's model bytes, checked against its metadata.
#[derive(Debug, Clone)]
pub struct LoadedArtifact {
    pub bytes: Vec<u8>,
    pub metadata: ModelMetadata,
}

/// One thing `verify` found, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub location: String,
    pub message: String,
}

/// The result of [`Registry::verify`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub versions_checked: usize,
    pub aliases_checked: usize,
    /// Damage: a changed or missing file, a dangling alias. Never expected.
    pub problems: Vec<Finding>,
    /// Remains of interrupted saves and moves: harmless, ignored by reads,
    /// removed by [`Registry::repair`].
    pub leftovers: Vec<Finding>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What [`Registry::repair`] changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairReport {
    pub removed: Vec<String>,
    pub latest_moved_to: Option<ModelVersion>,
}

/// A model registry. See the crate docs for an example.
#[derive(Debug)]
pub struct Registry<S: Store = FsStore> {
    store: S,
    /// Who saves and moves: looked up on first write, since reads (a
    /// predictor's start-up) should not pay for user and host look-ups.
    actor: std::sync::OnceLock<Actor>,
}

impl Registry<FsStore> {
    /// Opens (without creating anything) the registry at `root` on the local
    /// filesystem. The directory is created by the first save.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let registry = Registry::with_store(FsStore::new(root.as_ref()));
        registry.check_marker()?;
        Ok(registry)
    }

    pub fn root(&self) -> &Path {
        self.store.root()
    }
}

impl<S: Store> Registry<S> {
    /// A registry over any store; moves are attributed to [`Actor::current`].
    pub fn with_store(store: S) -> Self {
        Registry {
            store,
            actor: std::sync::OnceLock::new(),
        }
    }

    /// Opens the registry kept in `store` (any backend), checking its
    /// format marker if it has one; nothing is created until the first save.
    pub fn open_store(store: S) -> Result<Self> {
        let registry = Registry::with_store(store);
        registry.check_marker()?;
        Ok(registry)
    }

    /// Attribute saves and alias moves to `actor` instead of the OS user.
    pub fn with_actor(self, actor: Actor) -> Self {
        let _ = self.actor.set(actor.clone());
        Registry {
            store: self.store,
            actor: std::sync::OnceLock::from(actor),
        }
    }

    fn actor(&self) -> &Actor {
        self.actor.get_or_init(Actor::current)
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Where the registry is, for messages.
    pub fn location(&self) -> String {
        let marker = self.store.location(MARKER_KEY);
        marker.strip_suffix(MARKER_KEY).unwrap_or(&marker).to_string()
    }

    /// Checks the format marker if there is one; `Ok(false)`: no marker yet.
    fn check_marker(&self) -> Result<bool> {
        match self.store.read(MARKER_KEY) {
            Ok(bytes) => {
                let location = self.store.location(MARKER_KEY);
                let map = parse_versioned(&bytes, &location)?;
                from_map::<RegistryMarker>(map, &location).map(|_| true)
            }
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn ensure_marker(&self) -> Result<()> {
        if self.check_marker()? {
            return Ok(());
        }
        let marker = RegistryMarker {
            format_version: FORMAT_VERSION,
            created_at: OffsetDateTime::now_utc(),
        };
        let bytes = serde_json::to_vec_pretty(&marker).unwrap_or_default();
        match self.store.create(MARKER_KEY, &bytes) {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    // ----- saving -------------------------------------------------------

    /// Saves `model` (encoded with postcard as `model.bin`) as `version`,
    /// then moves `latest` to it if it is the newest version.
    pub fn save_model<M: Serialize>(
        &self,
        version: &ModelVersion,
        model: &M,
        info: ModelInfo,
    ) -> Result<ModelMetadata> {
        let bytes = postcard::to_stdvec(model).map_err(|e| RegistryError::Encode {
            version: version.to_string(),
            reason: e.to_string(),
        })?;
        self.save_artifact(
            version,
            Artifact {
                extension: "bin".into(),
                encoding: Encoding::Postcard,
                bytes,
            },
            info,
        )
    }

    /// Like [`Registry::save_model`], but stores the model as `model.json`.
    pub fn save_model_json<M: Serialize>(
        &self,
        version: &ModelVersion,
        model: &M,
        info: ModelInfo,
    ) -> Result<ModelMetadata> {
        let bytes = serde_json::to_vec(model).map_err(|e| RegistryError::Encode {
            version: version.to_string(),
            reason: e.to_string(),
        })?;
        self.save_artifact(
            version,
            Artifact {
                extension: "json".into(),
                encoding: Encoding::Json,
                bytes,
            },
            info,
        )
    }

    /// Saves `info` under the next free version after the highest existing
    /// one, retrying with a higher version when a concurrent writer takes it.
    pub fn save_next<M: Serialize>(&self, bump: Bump, model: &M, info: ModelInfo) -> Result<ModelMetadata> {
        loop {
            let version = self.next_version(bump)?;
            match self.save_model(&version, model, info.clone()) {
                Err(RegistryError::VersionExists { .. }) => continue,
                other => return other,
            }
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
            format_version: FORMAT_VERSION,
            version: version.clone(),
            timestamp: OffsetDateTime::now_utc(),
            artifact: ArtifactInfo {
                file,
                encoding: artifact.encoding,
                size: artifact.bytes.len() as u64,
                sha256: sha256_hex(&artifact.bytes),
                blake3: Some(blake3_hex(&artifact.bytes)),
            },
            info,
            metadata_sha256: String::new(),
        };
        let metadata_bytes = metadata.seal()?;
        self.commit_version(&metadata, &metadata_bytes, &artifact.bytes)?;
        Ok(metadata)
    }

    /// Copies a version, exactly as it is (timestamp, lineage, digests), from
    /// another registry: `loaded` is what [`Registry::load_artifact`] returned
    /// there, so its checksum was verified on the way out, and it is verified
    /// again here before anything is written. Returns `false` if this
    /// registry already holds the identical version (same metadata digest),
    /// and [`RegistryError::VersionExists`] if it holds a different one.
    pub fn import_version(&self, loaded: &LoadedArtifact) -> Result<bool> {
        let mut metadata = loaded.metadata.clone();
        let version = metadata.version.clone();
        let claimed = metadata.metadata_sha256.clone();
        let metadata_bytes = metadata.seal()?;
        check_digest(
            &metadata,
            &loaded.bytes,
            &format!("the copy of version {version}"),
            true,
        )?;
        let mismatch = if metadata.metadata_sha256 != claimed {
            Some(("metadata digest", claimed, metadata.metadata_sha256.clone()))
        } else {
            None
        };
        if let Some((what, expected, actual)) = mismatch {
            return Err(RegistryError::IntegrityMismatch {
                location: format!("the copy of version {version}"),
                what,
                expected,
                actual,
            });
        }
        match self.metadata(&version) {
            Ok(existing) if existing.metadata_sha256 == metadata.metadata_sha256 => return Ok(false),
            Ok(_) => {
                return Err(RegistryError::VersionExists {
                    version: version.to_string(),
                    location: self.store.location(&version_prefix(&version)),
                    complete: true,
                });
            }
            Err(RegistryError::VersionNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.ensure_marker()?;
        self.commit_version(&metadata, &metadata_bytes, &loaded.bytes)?;
        Ok(true)
    }

    /// Writes a version's model file, then its metadata (the commit point),
    /// then moves `latest` forward.
    fn commit_version(&self, metadata: &ModelMetadata, metadata_bytes: &[u8], model: &[u8]) -> Result<()> {
        let version = &metadata.version;
        let model_key = format!("{}{}", version_prefix(version), metadata.artifact.file);
        let exists = |complete| RegistryError::VersionExists {
            version: version.to_string(),
            location: self.store.location(&version_prefix(version)),
            complete,
        };
        if self
            .store
            .list(&version_prefix(version))?
            .iter()
            .any(|k| k.ends_with(METADATA_FILE))
        {
            return Err(exists(true));
        }
        match self.store.create(&model_key, model) {
            Ok(()) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                let complete = self.store.read(&metadata_key(version)).is_ok();
                return Err(exists(complete));
            }
            Err(e) => return Err(e.into()),
        }
        // The commit point: from here on the version exists.
        match self.store.create(&metadata_key(version), metadata_bytes) {
            Ok(()) => {}
            Err(StoreError::AlreadyExists { .. }) => return Err(exists(true)),
            Err(e) => {
                // The model file is ours (we created it above) and no reader
                // can see it without metadata: take it back, so a failed save
                // (a full disk, say) leaves the registry as it was.
                let _ = self.store.delete(&model_key);
                return Err(e.into());
            }
        }
        // The version is committed; a failure from here on (a full disk
        // while recording latest's history, say) must not read as "nothing
        // was saved".
        self.advance_latest(metadata, AliasAction::Save)
            .map_err(|source| RegistryError::LatestNotMoved {
                version: version.to_string(),
                source: Box::new(source),
            })
    }

    /// Moves `latest` to `metadata.version` unless it already names a newer
    /// version. Retries on conflicts: every save's version is considered.
    fn advance_latest(&self, metadata: &ModelMetadata, action: AliasAction) -> Result<()> {
        let latest = AliasName::latest();
        loop {
            let current = self.read_alias_pointer(&latest)?;
            if let Some((record, _)) = &current
                && record.version >= metadata.version
            {
                break;
            }
            match self.swap_alias(&latest, current, &metadata.version, &metadata.metadata_sha256, action) {
                Ok(_) => break,
                Err(RegistryError::Store(StoreError::Conflict { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
        self.refresh_latest_view()
    }

    /// Points the `latest/` view at what the `latest` pointer names. The last
    /// writer re-reads the pointer after writing the view, so concurrent
    /// saves cannot leave the view behind the pointer.
    fn refresh_latest_view(&self) -> Result<()> {
        let latest = AliasName::latest();
        for _ in 0..100 {
            let Some((record, _)) = self.read_alias_pointer(&latest)? else {
                return Ok(());
            };
            let target = version_prefix(&record.version);
            self.store.publish_view(latest.as_str(), &target)?;
            match self.read_alias_pointer(&latest)? {
                Some((now, _)) if now.version == record.version => return Ok(()),
                _ => continue,
            }
        }
        Ok(())
    }

    // ----- loading ------------------------------------------------------

    /// Reads and checks `versions/<version>/metadata.json`.
    pub fn metadata(&self, version: &ModelVersion) -> Result<ModelMetadata> {
        let key = metadata_key(version);
        let location = self.store.location(&key);
        let bytes = match self.store.read(&key) {
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
        Ok(metadata)
    }

    fn version_not_found(&self, version: &ModelVersion) -> RegistryError {
        RegistryError::VersionNotFound {
            version: version.to_string(),
            root: self.location(),
            available: self
                .list_versions()
                .map(|vs| vs.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
        }
    }

    /// The model bytes of `version`, after checking size and sha256 against
    /// its metadata. Nothing is decoded before the check passes.
    pub fn load_artifact(&self, version: &ModelVersion) -> Result<LoadedArtifact> {
        let metadata = self.metadata(version)?;
        self.load_with_metadata(metadata)
    }

    /// The artifact's bytes, checked for size (not yet for checksum), and
    /// where they came from.
    fn read_artifact_sized(&self, metadata: &ModelMetadata) -> Result<(Vec<u8>, String)> {
        let key = format!("{}{}", version_prefix(&metadata.version), metadata.artifact.file);
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

    fn load_with_metadata(&self, metadata: ModelMetadata) -> Result<LoadedArtifact> {
        let (bytes, location) = self.read_artifact_sized(&metadata)?;
        check_digest(&metadata, &bytes, &location, false)?;
        Ok(LoadedArtifact { bytes, metadata })
    }

    fn decode<M: DeserializeOwned>(&self, loaded: LoadedArtifact) -> Result<(M, ModelMetadata)> {
        let md = loaded.metadata;
        let location = self
            .store
            .location(&format!("{}{}", version_prefix(&md.version), md.artifact.file));
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

    fn decode_verified<T>(
        &self,
        metadata: ModelMetadata,
        decode: impl FnOnce(&[u8]) -> T,
    ) -> Result<(T, ModelMetadata)> {
        let key = format!("{}{}", version_prefix(&metadata.version), metadata.artifact.file);
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
    fn alias_metadata(&self, alias: &AliasName) -> Result<ModelMetadata> {
        let record = self.resolve(alias)?;
        let metadata = self.metadata(&record.version)?;
        if metadata.metadata_sha256 != record.metadata_sha256 {
            return Err(RegistryError::IntegrityMismatch {
                location: self.store.location(&metadata_key(&record.version)),
                what: "metadata sha256 (recorded by the alias)",
                expected: record.metadata_sha256,
                actual: metadata.metadata_sha256,
            });
        }
        Ok(metadata)
    }

    // ----- listing ------------------------------------------------------

    /// All complete versions, in semver precedence order (oldest first).
    /// Interrupted saves are not listed.
    pub fn list_versions(&self) -> Result<Vec<ModelVersion>> {
        let mut versions: Vec<ModelVersion> = self
            .store
            .list_groups("versions/", Some(METADATA_FILE))?
            .iter()
            .filter_map(|g| g.parse().ok())
            .collect();
        versions.sort();
        Ok(versions)
    }

    fn scan_versions(&self) -> Result<VersionScan> {
        let mut scan = VersionScan::default();
        let mut seen_files: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let keys = self.store.list("versions/")?;
        for key in &keys {
            let rest = &key["versions/".len()..];
            let (dir, file) = rest.split_once('/').unwrap_or((rest, ""));
            seen_files.entry(dir).or_default().push(file);
        }
        for (dir, files) in seen_files {
            match dir.parse::<ModelVersion>() {
                Ok(v) if files.contains(&METADATA_FILE) => scan.complete.push(v),
                Ok(v) => scan.incomplete.push((v, files.iter().map(|f| f.to_string()).collect())),
                Err(_) => scan.stray.push(format!("versions/{dir}")),
            }
        }
        scan.complete.sort();
        scan.incomplete.sort();
        Ok(scan)
    }

    /// The version after the highest one ever started (interrupted saves
    /// count, so a version number is never reused), or `1.0.0`.
    pub fn next_version(&self, bump: Bump) -> Result<ModelVersion> {
        let scan = self.scan_versions()?;
        let highest = scan.complete.iter().chain(scan.incomplete.iter().map(|(v, _)| v)).max();
        Ok(match highest {
            Some(v) => v.bumped(bump),
            None => ModelVersion::new(1, 0, 0),
        })
    }

    // ----- aliases ------------------------------------------------------

    fn read_alias_pointer(&self, alias: &AliasName) -> Result<Option<(AliasRecord, Pointer)>> {
        let key = alias_key(alias);
        let Some(pointer) = self.store.read_pointer(&key)? else {
            return Ok(None);
        };
        let location = self.store.location(&key);
        let record: AliasRecord = from_map(parse_versioned(&pointer.bytes, &location)?, &location)?;
        if &record.alias != alias {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!("it names alias {:?}, not {alias:?}", record.alias.as_str()),
            });
        }
        Ok(Some((record, pointer)))
    }

    /// What `alias` points to now: one read, whatever the number of versions.
    pub fn resolve(&self, alias: &AliasName) -> Result<AliasRecord> {
        match self.read_alias_pointer(alias)? {
            Some((record, _)) => Ok(record),
            None if alias.is_latest() => Err(RegistryError::Empty { root: self.location() }),
            None => Err(RegistryError::AliasNotFound {
                alias: alias.to_string(),
                root: self.location(),
                available: self
                    .list_aliases()
                    .map(|a| a.into_iter().map(|r| r.alias.to_string()).collect())
                    .unwrap_or_default(),
            }),
        }
    }

    /// Every alias and what it points to, `latest` included.
    pub fn list_aliases(&self) -> Result<Vec<AliasRecord>> {
        let mut out = Vec::new();
        for key in self.store.list("aliases/")? {
            let Some(name) = key
                .strip_prefix("aliases/")
                .and_then(|k| k.strip_suffix(".json"))
                .and_then(|n| n.parse::<AliasName>().ok())
            else {
                continue;
            };
            if let Some((record, _)) = self.read_alias_pointer(&name)? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Records `current` in the history, then swaps the pointer to `target`.
    /// A store conflict is returned as is, for the caller to retry or report.
    fn swap_alias(
        &self,
        alias: &AliasName,
        current: Option<(AliasRecord, Pointer)>,
        target: &ModelVersion,
        metadata_sha256: &str,
        action: AliasAction,
    ) -> Result<AliasRecord> {
        if let Some((record, pointer)) = &current {
            self.record_history(record, &pointer.bytes)?;
        }
        let record = AliasRecord {
            format_version: FORMAT_VERSION,
            alias: alias.clone(),
            seq: current.as_ref().map_or(1, |(r, _)| r.seq + 1),
            version: target.clone(),
            previous: current.as_ref().map(|(r, _)| r.version.clone()),
            metadata_sha256: metadata_sha256.to_string(),
            moved_at: OffsetDateTime::now_utc(),
            moved_by: self.actor().clone(),
            action,
        };
        let mut bytes = serde_json::to_vec_pretty(&record).map_err(|e| RegistryError::Encode {
            version: target.to_string(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        self.store
            .swap_pointer(&alias_key(alias), current.as_ref().map(|(_, p)| &p.tag), &bytes)?;
        // Best effort: the next mover records this state if we die here.
        self.record_history(&record, &bytes)?;
        Ok(record)
    }

    fn record_history(&self, record: &AliasRecord, bytes: &[u8]) -> Result<()> {
        match self.store.create(&history_key(&record.alias, record.seq), bytes) {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Points `alias` at `version` if it currently matches `expect`; an
    /// unexpected current target is [`RegistryError::AliasConflict`] and
    /// changes nothing. `latest` is reserved.
    pub fn set_alias(&self, alias: &AliasName, version: &ModelVersion, expect: Expect) -> Result<AliasRecord> {
        self.move_alias(alias, version, expect, AliasAction::Promote)
    }

    fn move_alias(
        &self,
        alias: &AliasName,
        version: &ModelVersion,
        expect: Expect,
        action: AliasAction,
    ) -> Result<AliasRecord> {
        if alias.is_latest() {
            return Err(RegistryError::ReservedAlias {
                alias: alias.to_string(),
            });
        }
        let metadata = self.metadata(version)?;
        // Never point an alias at a version whose model does not verify.
        self.load_with_metadata(metadata.clone())?;
        loop {
            let current = self.read_alias_pointer(alias)?;
            let actual = current.as_ref().map(|(r, _)| r.version.clone());
            let matches = match &expect {
                Expect::Anything => true,
                Expect::Nothing => actual.is_none(),
                Expect::Version(v) => actual.as_ref() == Some(v),
            };
            if !matches {
                return Err(RegistryError::AliasConflict {
                    alias: alias.to_string(),
                    expected: match &expect {
                        Expect::Version(v) => Some(v.to_string()),
                        _ => None,
                    },
                    actual: actual.map(|v| v.to_string()),
                });
            }
            match self.swap_alias(alias, current, version, &metadata.metadata_sha256, action) {
                Ok(record) => return Ok(record),
                // Someone moved it between our read and our swap: with an
                // expectation that is a conflict to report, never to hide.
                Err(RegistryError::Store(StoreError::Conflict { .. })) if expect == Expect::Anything => continue,
                Err(RegistryError::Store(StoreError::Conflict { .. })) => {
                    let actual = self.read_alias_pointer(alias)?.map(|(r, _)| r.version.to_string());
                    return Err(RegistryError::AliasConflict {
                        alias: alias.to_string(),
                        expected: match &expect {
                            Expect::Version(v) => Some(v.to_string()),
                            _ => None,
                        },
                        actual,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves `alias` back to the version it pointed to before its last move.
    pub fn rollback(&self, alias: &AliasName) -> Result<AliasRecord> {
        let current = self.resolve(alias)?;
        let Some(previous) = current.previous.clone() else {
            return Err(RegistryError::NothingToRollBack {
                alias: alias.to_string(),
            });
        };
        self.move_alias(
            alias,
            &previous,
            Expect::Version(current.version),
            AliasAction::Rollback,
        )
    }

    /// Every state `alias` has had, oldest first.
    pub fn alias_history(&self, alias: &AliasName) -> Result<Vec<AliasRecord>> {
        let current = self.read_alias_pointer(alias)?;
        let prefix = format!("history/{alias}/");
        let mut out: BTreeMap<u64, AliasRecord> = BTreeMap::new();
        for key in self.store.list(&prefix)? {
            let location = self.store.location(&key);
            let bytes = self.store.read(&key)?;
            let record: AliasRecord = from_map(parse_versioned(&bytes, &location)?, &location)?;
            out.insert(record.seq, record);
        }
        match current {
            Some((record, _)) => {
                out.entry(record.seq).or_insert(record);
            }
            None if out.is_empty() => {
                return Err(RegistryError::AliasNotFound {
                    alias: alias.to_string(),
                    root: self.location(),
                    available: self.list_aliases()?.into_iter().map(|r| r.alias.to_string()).collect(),
                });
            }
            None => {}
        }
        Ok(out.into_values().collect())
    }

    // ----- checking -----------------------------------------------------

    /// Re-checks every version (metadata digest, model size and sha256) and
    /// every alias. Reads only; see [`Registry::repair`].
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        self.check_marker()?;
        let scan = self.scan_versions()?;
        let mut digests: BTreeMap<ModelVersion, String> = BTreeMap::new();
        for version in &scan.complete {
            report.versions_checked += 1;
            let checked = self.load_artifact(version).and_then(|loaded| {
                let location =
                    self.store
                        .location(&format!("{}{}", version_prefix(version), loaded.metadata.artifact.file));
                check_digest(&loaded.metadata, &loaded.bytes, &location, true).map(|()| loaded)
            });
            match checked {
                Ok(loaded) => {
                    digests.insert(version.clone(), loaded.metadata.metadata_sha256);
                }
                Err(e) => report.problems.push(Finding {
                    location: self.store.location(&version_prefix(version)),
                    message: e.to_string(),
                }),
            }
        }
        for (version, files) in &scan.incomplete {
            report.leftovers.push(Finding {
                location: self.store.location(&version_prefix(version)),
                message: format!(
                    "interrupted save of version {version}: {} without metadata.json (not listed; `verify --repair` removes it)",
                    files.join(", ")
                ),
            });
        }
        for stray in &scan.stray {
            report.problems.push(Finding {
                location: self.store.location(stray),
                message: "not a valid version directory name (move it out of versions/)".into(),
            });
        }
        let mut latest_seen = false;
        let mut alias_names = BTreeSet::new();
        for key in self.store.list("aliases/")? {
            let location = self.store.location(&key);
            let name = key.strip_prefix("aliases/").and_then(|k| k.strip_suffix(".json"));
            let Some(alias) = name.and_then(|n| n.parse::<AliasName>().ok()) else {
                report.problems.push(Finding {
                    location,
                    message: "not an alias pointer (expected aliases/<name>.json); move it away".into(),
                });
                continue;
            };
            report.aliases_checked += 1;
            alias_names.insert(alias.clone());
            match self.read_alias_pointer(&alias) {
                Ok(Some((record, _))) => {
                    latest_seen |= alias.is_latest();
                    match digests.get(&record.version) {
                        None => report.problems.push(Finding {
                            location,
                            message: format!(
                                "alias {alias} points to version {}, which is missing or damaged",
                                record.version
                            ),
                        }),
                        Some(d) if *d != record.metadata_sha256 => report.problems.push(Finding {
                            location,
                            message: format!(
                                "alias {alias} recorded metadata sha256 {} for version {}, but it is now {d}",
                                record.metadata_sha256, record.version
                            ),
                        }),
                        Some(_) => {}
                    }
                    if alias.is_latest() {
                        if let Some(newest) = scan.complete.last()
                            && *newest > record.version
                        {
                            report.leftovers.push(Finding {
                                location: self.store.location(&alias_key(&alias)),
                                message: format!(
                                    "latest names {} but {newest} is newer (a save was interrupted before moving latest; `verify --repair` moves it)",
                                    record.version
                                ),
                            });
                        }
                        let view = self.store.read_view(alias.as_str())?;
                        let want = format!("versions/{}", record.version);
                        if view.as_ref().is_some_and(|v| *v != want) {
                            report.leftovers.push(Finding {
                                location: self.store.location(alias.as_str()),
                                message: format!(
                                    "the latest/ view shows {} instead of {want} (`verify --repair` refreshes it)",
                                    view.unwrap_or_default()
                                ),
                            });
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => report.problems.push(Finding {
                    location,
                    message: e.to_string(),
                }),
            }
        }
        if !latest_seen && !scan.complete.is_empty() {
            report.leftovers.push(Finding {
                location: self.store.location(&alias_key(&AliasName::latest())),
                message:
                    "versions exist but latest was never set (a first save was interrupted; `verify --repair` sets it)"
                        .into(),
            });
        }
        for key in self.store.list("history/")? {
            let location = self.store.location(&key);
            match self.store.read(&key) {
                Ok(bytes) => {
                    if let Err(e) =
                        parse_versioned(&bytes, &location).and_then(|m| from_map::<AliasRecord>(m, &location))
                    {
                        report.problems.push(Finding {
                            location,
                            message: e.to_string(),
                        });
                    }
                }
                Err(e) => report.problems.push(Finding {
                    location,
                    message: e.to_string(),
                }),
            }
        }
        Ok(report)
    }

    /// Removes what interrupted saves left (temporary files, versions without
    /// metadata) and moves `latest` forward to the newest complete version.
    /// Never deletes or rewrites a complete version. Run it when no save is
    /// in progress: a save that has written its model but not yet its
    /// metadata looks exactly like an interrupted one.
    pub fn repair(&self) -> Result<RepairReport> {
        let mut report = RepairReport {
            removed: self.store.remove_leftovers()?,
            ..RepairReport::default()
        };
        let scan = self.scan_versions()?;
        for (version, files) in &scan.incomplete {
            for file in files {
                let key = format!("{}{file}", version_prefix(version));
                match self.store.delete(&key) {
                    Ok(()) | Err(StoreError::NotFound { .. }) => report.removed.push(self.store.location(&key)),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if let Some(newest) = scan.complete.last() {
            let current = self.read_alias_pointer(&AliasName::latest())?;
            if current.as_ref().is_none_or(|(r, _)| r.version < *newest) {
                let metadata = self.metadata(newest)?;
                self.advance_latest(&metadata, AliasAction::Repair)?;
                report.latest_moved_to = Some(newest.clone());
            } else {
                self.refresh_latest_view()?;
            }
        }
        Ok(report)
    }
}

#[derive(Default)]
struct VersionScan {
    complete: Vec<ModelVersion>,
    incomplete: Vec<(ModelVersion, Vec<String>)>,
    stray: Vec<String>,
}
