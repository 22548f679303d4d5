//! `metadata.json` and alias records: what the registry knows about a model.
//!
//! Both are JSON so that people and other tools can read them without this
//! crate. Each carries a `format_version`; readers refuse a newer one rather
//! than guess. `metadata.json` also carries `metadata_sha256`, a digest of
//! its own content (canonical JSON without that field), so that an edited or
//! damaged metadata file is detected just like a damaged model file.

mod digest;
mod document;
mod environment;
mod user;

pub use digest::{CANONICALIZATION, canonical_bytes};
pub(crate) use digest::{blake3_hex, from_map, parse_versioned, sha256_hex};
pub(crate) use document::check_file_path;
pub use environment::{Environment, MAX_REQUIREMENT_CHARS, MAX_REQUIREMENTS};
pub use user::{FILLED_METADATA_KEYS, USER_METADATA_KEYS, json_kind};

use crate::error::{RegistryError, Result};
use crate::names::{AliasName, ModelVersion};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The newest on-disk format this build reads and writes. Each document
/// carries the oldest format that can read it, so older builds keep reading
/// everything they can: 1 for the registry marker, alias records and a
/// version whose only file is its `artifact`; 2 for a version with
/// registered `files` (format 1 readers would miss them, so they refuse it
/// and say to upgrade).
pub const FORMAT_VERSION: u32 = 2;

/// The format of documents that use nothing added since format 1.
pub(crate) const BASE_FORMAT_VERSION: u32 = 1;

/// Everything known about one saved version: `versions/<v>/metadata.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    pub format_version: u32,
    pub version: ModelVersion,
    /// The model this version was saved into (`"default"` for the
    /// registry's root). Sealed with the rest, so a signature over
    /// `metadata.json` vouches for this model's version only: a copy placed
    /// in another model is refused by every reader. Absent in versions
    /// saved before it was recorded (not bound to a model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// The model the registry encoded itself ([`crate::Registry::save_model`]
    /// and friends); absent in a version of registered files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<ArtifactInfo>,
    /// Files registered as they are (`registry add`, format 2): a single
    /// file, or a directory's files with their relative paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
    #[serde(flatten)]
    pub info: ModelInfo,
    /// sha256 of this document's canonical JSON without this field.
    #[serde(default)]
    pub metadata_sha256: String,
    /// How `metadata_sha256` canonicalises the document: `"rfc8785"` (the
    /// JSON Canonicalization Scheme) for every version saved by this build;
    /// absent in versions sealed before, whose digest uses serde_json's
    /// compact output with sorted keys (`legacy`), and which still verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonicalization: Option<String>,
    /// Fields this build does not know (written by a newer release or
    /// another tool), kept so that reading and writing the document again
    /// loses nothing. Must come after `info`, which takes its own fields
    /// first.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `trainer 0.1.0 (commit abc123…)`: how cards and `registry show` name the code.
impl std::fmt::Display for CodeInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let commit = self.git_commit.as_deref().unwrap_or("unknown");
        write!(f, "{} {} (commit {commit})", self.name, self.version)
    }
}

/// The model file of a version and how to check and decode it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    /// File name inside `versions/<v>/`, e.g. `model.bin`.
    pub file: String,
    pub encoding: Encoding,
    pub size: u64,
    pub sha256: String,
    /// BLAKE3 of the same bytes (hex); absent in versions saved before it
    /// was added. Loads check it instead of `sha256` when present: it is
    /// as strong and ~3x faster (0.31 ms instead of 1.1 ms for the 2 MB
    /// default model, a third of a command-line prediction). `sha256` stays
    /// for everyone else's tools (`sha256sum`), and `verify` checks both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
}

/// One registered file of a version: where it is under `versions/<v>/`,
/// and what its bytes must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Relative path inside the version directory, `/`-separated
    /// (`model.pt`, `tokenizer/vocab.json`).
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub blake3: String,
}

/// A file of a version, whichever way it was stored: what checking and
/// copying need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredFile<'a> {
    pub path: &'a str,
    pub size: u64,
    pub sha256: &'a str,
    pub blake3: Option<&'a str>,
}

/// A version's metadata file, its commit point.
pub const METADATA_FILE: &str = "metadata.json";
/// A version's signature file (OpenSSF model-signing), never one of its
/// registered files.
pub const SIGNATURE_FILE: &str = "model.sig";

/// The most files one version may list: a model directory has a handful;
/// the cap keeps a hostile `metadata.json` from making a reader check
/// millions of names.
pub const MAX_FILES: usize = 10_000;

/// How the artifact's bytes encode the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// serde via `postcard` (compact, fast): [`crate::Registry::save_model`].
    Postcard,
    /// serde via JSON: [`crate::Registry::save_model_json`].
    Json,
    /// Bytes the registry does not interpret (ONNX, a custom format):
    /// [`crate::Registry::save_artifact`].
    Raw,
}

/// What the caller knows about a model when saving it. Everything is
/// optional, so a crate storing its own model type fills what it has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelInfo {
    /// What kind of model this is, e.g. `textclf.TextClassifier/5` (the
    /// part after `/` is the model's own format version).
    pub model_type: Option<String>,
    pub hyperparameters: Map<String, Value>,
    /// Mean cross-validation score of the chosen hyperparameters.
    pub cv_score: Option<f64>,
    /// Standard deviation of the cross-validation scores.
    pub cv_std: Option<f64>,
    /// Score on data held out from all training and selection.
    pub test_score: Option<f64>,
    /// Free-form metrics: per-label precision/recall, confusion matrix, ….
    pub metrics: Map<String, Value>,
    pub lineage: Lineage,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// How a Python object became the artifact's bytes (`pickle`, `joblib`,
    /// `bytes`, `textclf`, or `custom:module.Class`): the Python package
    /// loads with it. Absent for everything else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serializer: Option<String>,
    /// The Python, platform and packages it was saved with (Python saves;
    /// `registry add --requirements`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
}

/// Where a model came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lineage {
    pub data: Option<DataFingerprint>,
    /// Filled with the registry's [`Actor`] when left empty.
    pub created_by: Option<Actor>,
    pub code: Option<CodeInfo>,
    pub seed: Option<u64>,
    pub folds: Option<u32>,
    /// The share of the data held out for `test_score`: with `data` and
    /// `seed`, what makes two versions' test scores comparable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_size: Option<f64>,
    pub duration_seconds: Option<f64>,
    /// The version this one was derived from or replaces, if any.
    pub parent_version: Option<ModelVersion>,
    /// The search-space file the model was selected with, as given, and
    /// its sha256 (absent: the trainer's default grid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid_sha256: Option<String>,
    /// The MLflow run that logged it (versions registered through
    /// `registry serve` or imported by `registry import-mlflow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRef>,
}

/// An MLflow run, by id and experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    pub run_id: String,
    pub experiment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_name: Option<String>,
    /// Where the run was tracked, for imported versions (the MLflow server's URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_uri: Option<String>,
    /// The run's tags (the version's own are the metadata's `tags`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Identifies the training data without storing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFingerprint {
    /// The file's base name (`train.tsv`).
    pub name: String,
    pub sha256: String,
    /// Data rows (records); 0 where the format's rows were not counted
    /// (a file `registry add --data` does not know how to read).
    pub rows: u64,
    /// The path as it was given (`d1/train.tsv`), so two files of the same
    /// name are told apart; absent in versions saved before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The file's size in bytes; absent in versions saved before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// The program that produced a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeInfo {
    pub name: String,
    pub version: String,
    pub git_commit: Option<String>,
}

/// Who did something, and on which machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: String,
    pub host: String,
}

impl Actor {
    /// The current OS user and host name (`unknown` where unavailable).
    pub fn current() -> Actor {
        let user = std::env::var("MODELREG_USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(whoami::username);
        let host = whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into());
        Actor { user, host }
    }
}

/// What an alias move was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AliasAction {
    /// `latest` moved by a save.
    Save,
    Promote,
    Rollback,
    /// `latest` moved forward by `verify --repair` after an interrupted save.
    Repair,
    /// The alias was deleted (`registry alias delete`): it resolves to
    /// nothing, and `version` is what it named, so a rollback restores it.
    /// Written with format_version 2 (older builds do not know the action).
    Delete,
    /// `latest` moved back because the version it named was deprecated (or
    /// forward again when it was restored).
    Deprecate,
    /// Moved to where another registry's alias points (`registry
    /// import-mlflow`). Written with format_version 2.
    Import,
}

/// One state of an alias: the content of `aliases/<name>.json`, and of each
/// entry of its history `history/<name>/<seq>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub format_version: u32,
    pub alias: AliasName,
    /// 1 for the first state, +1 per move: the history has no gaps.
    pub seq: u64,
    pub version: ModelVersion,
    pub previous: Option<ModelVersion>,
    /// Digest of the target's metadata, so a pointer can never silently pair
    /// with a different metadata file.
    pub metadata_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub moved_at: OffsetDateTime,
    pub moved_by: Actor,
    pub action: AliasAction,
}

/// The root marker `registry.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RegistryMarker {
    pub format_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}
