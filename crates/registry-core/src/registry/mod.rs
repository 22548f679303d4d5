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
//!
//! One file per job: [`save`](self) (save.rs), loading (load.rs), listing
//! (list.rs), aliases (aliases.rs), checking (verify.rs) and repairing
//! (repair.rs); the on-disk keys are built in keys.rs only.

mod aliases;
mod cached;
pub(crate) mod catalog;
mod catalog_write;
mod copy_out;
mod delete;
mod deprecate;
mod events;
mod events_check;
mod gc;
mod hook_calls;
pub(crate) mod keys;
mod list;
mod load;
mod numbers;
mod pins;
mod promote;
mod repair;
mod retain;
mod save;
mod signatures;
pub(crate) mod target;
mod validators;
mod verify;
mod version_state;
mod write;

pub use catalog::{COMPACT_AT as CATALOG_COMPACT_AT, CatalogEntry, CatalogRow};
pub use delete::{Collection, CollectionState, DeletionRecord};
pub use deprecate::DeprecationRecord;
pub use events::{Event, EventListener, read_events};
pub use events_check::EVENT_GRACE;
pub use gc::{CollectedVersion, DEFAULT_GC_AGE, GcReport, KeptVersion};
pub use numbers::VersionNumbers;
pub use promote::{Metric, PromotionGate};
pub use repair::{DEFAULT_GRACE, RepairReport};
pub use retain::{Planned, RetentionOutcome, RetentionPlan, RetentionPolicy, StoredRetention};
pub use signatures::{MAX_SIGNATURE_BYTES, SignatureCheck, SignaturePolicy, SignedVersion, VersionSigner};
pub use validators::ModelValidator;
pub use verify::{Finding, VerifyReport};
pub use write::{FileSource, StoredSource};

use crate::error::{RegistryError, Result};
use crate::metadata::{
    Actor, AliasRecord, BASE_FORMAT_VERSION, Encoding, ModelMetadata, RegistryMarker, from_map, parse_versioned,
};
use crate::names::{ModelName, ModelVersion};
use crate::store::{FsStore, Store, StoreError};
use std::path::Path;
use time::OffsetDateTime;

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

impl std::str::FromStr for Expect {
    type Err = RegistryError;
    /// `--expect` / `expect=`: a version, or `none` (the alias must not exist).
    fn from_str(s: &str) -> Result<Expect> {
        match s {
            "none" => Ok(Expect::Nothing),
            v => Ok(Expect::Version(v.parse()?)),
        }
    }
}

impl Expect {
    /// An optional `--expect`: none given moves the alias whatever it names.
    pub fn from_option(expect: Option<&str>) -> Result<Expect> {
        expect.map_or(Ok(Expect::Anything), str::parse)
    }
}

/// What moving an alias did.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasMove {
    /// The alias's state afterwards.
    pub record: AliasRecord,
    /// False when the alias already named the version: nothing was written.
    pub changed: bool,
}

/// A model file to store as it is, for formats the registry does not decode.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// File name inside the version directory: `model.<ext>`.
    pub extension: String,
    pub encoding: Encoding,
    pub bytes: Vec<u8>,
}

/// A file to register as it is: its path inside the version directory
/// (`/`-separated, as `local_files::collect` makes them from a directory) and
/// its bytes. (The registry knows nothing of local disks: `local_files`
/// builds on it, never the other way round.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// A version's files exactly as stored (see [`Registry::load_stored_version`]).
#[derive(Debug, Clone)]
pub struct StoredVersion {
    /// The parsed metadata (fields this build does not know are in `extra`).
    pub metadata: ModelMetadata,
    /// `metadata.json` byte for byte.
    pub metadata_bytes: Vec<u8>,
    /// Every file (path, bytes) in [`ModelMetadata::stored_files`] order.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A version's model bytes, checked against its metadata.
#[derive(Debug, Clone)]
pub struct LoadedArtifact {
    pub bytes: Vec<u8>,
    pub metadata: ModelMetadata,
}

/// A model registry. See the crate docs for an example.
#[derive(Debug)]
pub struct Registry<S: Store = FsStore> {
    /// Shared by the handles of each model ([`Registry::with_model`]).
    store: std::sync::Arc<S>,
    /// Who saves and moves: looked up on first write, since reads (a
    /// predictor's start-up) should not pay for user and host look-ups.
    actor: std::sync::OnceLock<Actor>,
    validators: validators::Validators,
    /// The model of the registry this handle reads and writes: `None` for
    /// the default model at the root.
    model: Option<ModelName>,
    keys: keys::Keys,
    signatures: signatures::Signatures,
    /// A local cache of the store's immutable content, for remote stores
    /// (cache.rs); `None` reads the store alone.
    cache: Option<std::sync::Arc<dyn crate::cache::ReadCache>>,
    /// Runs the registry's hooks (hooks.rs); `None`: there are none.
    hooks: Option<std::sync::Arc<dyn crate::hooks::Hooks>>,
    /// Told of every event appended (events.rs), e.g. to deliver webhooks.
    listener: Option<std::sync::Arc<dyn events::EventListener>>,
}

impl Registry<FsStore> {
    /// Opens (without creating anything) the registry at `root` on the local
    /// filesystem. The directory is created by the first save.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let registry = Registry::with_store(FsStore::new(root.as_ref()));
        registry.check_marker()?;
        Ok(registry)
    }

    /// [`Registry::open_existing_store`] on the local filesystem.
    pub fn open_existing(root: impl AsRef<Path>) -> Result<Self> {
        Registry::open_existing_store(FsStore::new(root.as_ref()))
    }

    pub fn root(&self) -> &Path {
        self.store.root()
    }
}

impl<S: Store> Registry<S> {
    /// A registry over any store; moves are attributed to [`Actor::current`].
    pub fn with_store(store: S) -> Self {
        Registry {
            store: std::sync::Arc::new(store),
            actor: std::sync::OnceLock::new(),
            validators: validators::Validators::default(),
            model: None,
            keys: keys::Keys::default(),
            signatures: signatures::Signatures::default(),
            cache: None,
            hooks: None,
            listener: None,
        }
    }

    /// Opens the registry kept in `store` (any backend), checking its
    /// format marker if it has one; nothing is created until the first save.
    pub fn open_store(store: S) -> Result<Self> {
        let registry = Registry::with_store(store);
        registry.check_marker()?;
        Ok(registry)
    }

    /// Opens the registry kept in `store` for reading: unlike
    /// [`Registry::open_store`], a location with no registry at all (no
    /// format marker, no versions) is [`RegistryError::NoRegistry`], so a
    /// mistyped path fails instead of looking like an empty registry.
    pub fn open_existing_store(store: S) -> Result<Self> {
        Registry::open_existing_cached(store, None)
    }

    /// [`Registry::open_existing_store`] reading through `cache` (see
    /// [`Registry::with_cache`]): a registry whose format marker is cached
    /// opens without a request to the store.
    pub fn open_existing_cached(store: S, cache: Option<std::sync::Arc<dyn crate::cache::ReadCache>>) -> Result<Self> {
        let registry = Registry {
            cache,
            ..Registry::with_store(store)
        };
        if registry.check_marker()? || !registry.store.list_groups(&registry.keys.versions(), None)?.is_empty() {
            return Ok(registry);
        }
        Err(RegistryError::NoRegistry {
            location: registry.location(),
        })
    }

    /// The same registry reading its immutable content (committed
    /// metadata, signatures, files by BLAKE3 digest) through `cache`, so a
    /// pinned version already read loads with no request to the store.
    /// Alias pointers are always read from the store. Commands that check
    /// the store itself (verify, repair, sign) use a handle without one.
    pub fn with_cache(self, cache: std::sync::Arc<dyn crate::cache::ReadCache>) -> Self {
        Registry {
            cache: Some(cache),
            ..self
        }
    }

    /// The same registry running `hooks` around its changes (hooks.rs).
    pub fn with_hooks(self, hooks: std::sync::Arc<dyn crate::hooks::Hooks>) -> Self {
        Registry {
            hooks: Some(hooks),
            ..self
        }
    }

    /// The same registry telling `listener` of every event it appends.
    pub fn with_event_listener(self, listener: std::sync::Arc<dyn events::EventListener>) -> Self {
        Registry {
            listener: Some(listener),
            ..self
        }
    }

    /// Whether reads go through a cache.
    pub fn has_cache(&self) -> bool {
        self.cache.is_some()
    }

    /// Attribute saves and alias moves to `actor` instead of the OS user.
    pub fn with_actor(self, actor: Actor) -> Self {
        let _ = self.actor.set(actor.clone());
        Registry {
            store: self.store,
            actor: std::sync::OnceLock::from(actor),
            validators: self.validators,
            model: self.model,
            keys: self.keys,
            signatures: self.signatures,
            cache: self.cache,
            hooks: self.hooks,
            listener: self.listener,
        }
    }

    /// The same registry, reading and writing model `model` (`None`: the
    /// default model at the root, the seed's layout). Each model has its own
    /// versions, `latest`, aliases and history under `models/<name>/`. A
    /// model that does not exist yet is created by its first save; readers
    /// check with [`Registry::require_model`].
    pub fn for_model(self, model: Option<ModelName>) -> Self {
        Registry {
            keys: keys::Keys::for_model(model.as_ref()),
            model,
            ..self
        }
    }

    /// A handle on another model of the same registry (see
    /// [`Registry::for_model`]), sharing this one's store and settings.
    pub fn with_model(&self, model: Option<ModelName>) -> Self {
        Registry {
            store: self.store.clone(),
            actor: self.actor.clone(),
            validators: self.validators.clone(),
            model: None,
            keys: keys::Keys::default(),
            signatures: self.signatures.clone(),
            cache: self.cache.clone(),
            hooks: self.hooks.clone(),
            listener: self.listener.clone(),
        }
        .for_model(model)
    }

    /// The model this handle works on; `None`: the default model.
    pub fn model_name(&self) -> Option<&ModelName> {
        self.model.as_ref()
    }

    /// The model's name as metadata and signatures record it
    /// ([`ModelName::DEFAULT`] for the default model).
    pub fn model_label(&self) -> &str {
        self.model.as_ref().map_or(ModelName::DEFAULT, ModelName::as_str)
    }

    /// The model `metadata` records, if it records one other than this
    /// handle's: a version that belongs elsewhere (signatures.rs's binding).
    pub(super) fn other_model<'m>(&self, metadata: &'m crate::metadata::ModelMetadata) -> Option<&'m str> {
        metadata.model.as_deref().filter(|m| *m != self.model_label())
    }

    /// The named models of the registry (those with at least one file under
    /// `models/<name>/`), sorted; the default model is not among them.
    pub fn list_models(&self) -> Result<Vec<ModelName>> {
        Ok(self
            .store
            .list_groups(keys::MODELS, None)?
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect())
    }

    /// Checks that this handle's model exists: the default model always
    /// does; a named one once something was saved under it. For commands
    /// that only read, so a mistyped `--model` fails with the list of models
    /// instead of looking like an empty model.
    pub fn require_model(&self) -> Result<()> {
        let Some(model) = &self.model else { return Ok(()) };
        // Models are never renamed: one the cache holds versions of exists.
        if let Some(cache) = &self.cache
            && cache.has_documents_under(&self.keys.versions())
        {
            return Ok(());
        }
        let models = self.list_models()?;
        if models.contains(model) {
            return Ok(());
        }
        let mut available = Vec::new();
        if !self
            .store
            .list_groups(&keys::Keys::default().versions(), None)?
            .is_empty()
        {
            available.push(ModelName::DEFAULT.to_string());
        }
        available.extend(models.iter().map(ToString::to_string));
        Err(RegistryError::ModelNotFound {
            model: model.to_string(),
            root: self.registry_location(),
            available,
        })
    }

    fn actor(&self) -> &Actor {
        self.actor.get_or_init(Actor::current)
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Where this handle's model is, for messages: the registry's root for
    /// the default model, `<root>/models/<name>/` for a named one.
    pub fn location(&self) -> String {
        match &self.model {
            None => self.registry_location(),
            Some(_) => self
                .store
                .location(&self.keys.versions())
                .trim_end_matches("versions/")
                .to_string(),
        }
    }

    /// Where the registry (all its models) is, for messages.
    pub fn registry_location(&self) -> String {
        let marker = self.store.location(keys::MARKER);
        marker.strip_suffix(keys::MARKER).unwrap_or(&marker).to_string()
    }

    /// Checks the format marker if there is one; `Ok(false)`: no marker yet.
    fn check_marker(&self) -> Result<bool> {
        match self.read_document(keys::MARKER, keys::MAX_SMALL_DOCUMENT_BYTES) {
            Ok(bytes) => {
                let location = self.store.location(keys::MARKER);
                let map = parse_versioned(&bytes, &location)?;
                from_map::<RegistryMarker>(map, &location).map(|_| true)
            }
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the registry (its format marker) if it does not exist yet:
    /// for a front end that writes records of its own before any save
    /// (`registry serve`), so that the location is a registry from then on.
    pub fn create_if_absent(&self) -> Result<()> {
        self.ensure_marker()
    }

    fn ensure_marker(&self) -> Result<()> {
        if self.check_marker()? {
            return Ok(());
        }
        let marker = RegistryMarker {
            format_version: BASE_FORMAT_VERSION,
            created_at: OffsetDateTime::now_utc(),
        };
        let bytes = serde_json::to_vec_pretty(&marker).unwrap_or_default();
        match self.store.create(keys::MARKER, &bytes) {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Where version `version` lives (`<registry>/versions/<version>`), for
    /// messages; whether or not it exists.
    pub fn version_location(&self, version: &ModelVersion) -> String {
        self.store.location(&self.keys.version_dir(version))
    }

    /// Where the signature of `version` lives (`versions/<v>/model.sig`).
    pub fn signature_location(&self, version: &ModelVersion) -> String {
        self.store
            .location(&self.keys.version_file(version, crate::metadata::SIGNATURE_FILE))
    }

    /// Where the metadata of `version` lives, for messages.
    pub fn metadata_location(&self, version: &ModelVersion) -> String {
        self.store.location(&self.keys.metadata(version))
    }
}
