//! `registry-core`: a local-first model registry that is correct under
//! crashes and concurrency.
//!
//! Every saved model is an immutable [semver](https://semver.org) version:
//! its model file and a `metadata.json` (hyperparameters, scores, lineage,
//! size and digests of the model) under `versions/<version>/`. The `latest` alias
//! always names the newest complete version, and is mirrored as a `latest/`
//! directory in a local registry; other aliases (`production`, `staging`)
//! move only when asked, by compare-and-swap, and every move is kept in an
//! append-only history, so any of them can be rolled back.
//!
//! The registry knows nothing about what a model is: any `serde` type can be
//! saved ([`Registry::save_model`]), and so can raw bytes such as an ONNX
//! file ([`Registry::save_artifact`]).
//!
//! # Guarantees
//!
//! * A save is all or nothing: a crash at any instant leaves a registry that
//!   opens and verifies; half-written versions are never listed or loaded.
//! * Versions are never overwritten: saving an existing version is
//!   [`RegistryError::VersionExists`], also between processes.
//! * Every load checks the model's size and BLAKE3 digest (sha256 for
//!   versions saved before BLAKE3 was recorded), and the metadata's own
//!   sha256, before decoding anything; `verify` and copies check every
//!   recorded digest.
//! * Resolving an alias reads one small pointer, whatever the number of
//!   versions.
//!
//! These rest on the small [`store::Store`] trait, implemented for the local
//! filesystem ([`store::FsStore`]) and memory ([`store::MemoryStore`]); both
//! pass the same conformance suite (`store::conformance`, behind the
//! `conformance` feature, for other backends' tests).
//!
//! # Example
//!
//! ```
//! use registry_core::{Registry, ModelInfo, ModelVersion, AliasName, Expect};
//! use serde::{Serialize, Deserialize};
//!
//! #[derive(Serialize, Deserialize, PartialEq, Debug)]
//! struct Thresholds { cut: f64 }
//!
//! # fn main() -> Result<(), registry_core::RegistryError> {
//! let dir = tempfile::tempdir().unwrap();
//! let registry = Registry::open(dir.path().join("registry"))?;
//!
//! let v1: ModelVersion = "1.0.0".parse()?;
//! let mut info = ModelInfo::default();
//! info.test_score = Some(0.91);
//! registry.save_model(&v1, &Thresholds { cut: 0.5 }, info)?;
//!
//! let (model, metadata): (Thresholds, _) = registry.get_latest_model()?;
//! assert_eq!(model, Thresholds { cut: 0.5 });
//! assert_eq!(metadata.version, v1);
//!
//! let production: AliasName = "production".parse()?;
//! registry.set_alias(&production, &v1, Expect::Nothing)?;
//! assert_eq!(registry.resolve(&production)?.version, v1);
//! # Ok(()) }
//! ```

pub mod cache;
pub mod copy;
pub mod diff;
mod error;
mod error_kind;
pub mod follow;
pub mod hooks;
pub mod local_files;
mod metadata;
pub mod metrics;
mod names;
pub mod progress;
pub mod query;
mod registry;
mod sequential;
pub mod store;

pub use error::{RegistryError, Result};
pub use error_kind::ErrorKind;
pub use metadata::{
    Actor, AliasAction, AliasRecord, ArtifactInfo, CANONICALIZATION, CodeInfo, DataFingerprint, Encoding, Environment,
    FILLED_METADATA_KEYS, FORMAT_VERSION, FileInfo, Lineage, MAX_FILES, MAX_REQUIREMENT_CHARS, MAX_REQUIREMENTS,
    METADATA_FILE, ModelInfo, ModelMetadata, RunRef, SIGNATURE_FILE, StoredFile, USER_METADATA_KEYS, canonical_bytes,
    json_kind,
};
pub use names::{AliasName, Bump, ModelName, ModelVersion, VersionSlot};
pub use registry::target::{Target, TargetSpec, URI_SCHEME, choose_model};
pub use registry::{
    AliasMove, Artifact, CATALOG_COMPACT_AT, CatalogEntry, CatalogRow, CollectedVersion, Collection, CollectionState,
    DEFAULT_GC_AGE, DEFAULT_GRACE, DeletionRecord, DeprecationRecord, EVENT_GRACE, Event, EventListener, Expect,
    FileSource, Finding, GcReport, KeptVersion, LoadedArtifact, MAX_SIGNATURE_BYTES, Metric, ModelValidator, NewFile,
    Planned, PromotionGate, Registry, RepairReport, RetentionOutcome, RetentionPlan, RetentionPolicy, SignatureCheck,
    SignaturePolicy, SignedVersion, StoredRetention, StoredSource, StoredVersion, VerifyReport, VersionNumbers,
    VersionSigner, read_events,
};

/// sha256 of `bytes` as lower-case hex, the digest format used throughout
/// the registry (artifacts, metadata, data fingerprints).
pub fn sha256_hex(bytes: &[u8]) -> String {
    metadata::sha256_hex(bytes)
}
