//! `metadata.json` and alias records: what the registry knows about a model.
//!
//! Both are JSON so that people and other tools can read them without this
//! crate. Each carries a `format_version`; readers refuse a newer one rather
//! than guess. `metadata.json` also carries `metadata_sha256`, a digest of
//! its own content (canonical JSON without that field), so that an edited or
//! damaged metadata file is detected just like a damaged model file.

use crate::error::{RegistryError, Result};
use crate::names::{AliasName, ModelVersion};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
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

pub(crate) fn blake3_hex(bytes: &[u8]) -> String {
    // Large models are hashed on every core: a 5 MB pipeline's check is most
    // of a load's own cost. The digest does not depend on the split.
    const PARALLEL_FROM: usize = 1 << 20;
    if bytes.len() >= PARALLEL_FROM {
        return blake3::Hasher::new()
            .update_rayon(bytes)
            .finalize()
            .to_hex()
            .to_string();
    }
    blake3::hash(bytes).to_hex().to_string()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The canonicalisation of new versions: RFC 8785 (JCS).
pub const CANONICALIZATION: &str = "rfc8785";

/// The canonical bytes `metadata_sha256` is the sha256 of: the document
/// without that field, in the form its `canonicalization` names.
pub fn canonical_bytes(mut doc: Map<String, Value>, location: &str) -> Result<Vec<u8>> {
    doc.remove("metadata_sha256");
    match doc.get("canonicalization") {
        // RFC 8785: sorted keys by UTF-16 code units, no whitespace, numbers
        // as ECMAScript prints them; precise enough for any implementation.
        Some(Value::String(c)) if c == CANONICALIZATION => {
            use canon_json::CanonJsonSerialize;
            Value::Object(doc)
                .to_canon_json_vec()
                .map_err(|e| RegistryError::InvalidMetadata {
                    location: location.to_string(),
                    reason: format!("cannot be canonicalised (RFC 8785): {e}"),
                })
        }
        // Sealed before RFC 8785 was adopted: serde_json's Map is a
        // BTreeMap (no `preserve_order`), so this is sorted keys, no
        // whitespace, serde_json's number formatting.
        None => Ok(serde_json::to_vec(&Value::Object(doc)).unwrap_or_default()),
        Some(other) => Err(RegistryError::InvalidMetadata {
            location: location.to_string(),
            reason: format!("unknown canonicalization {other} (this build knows {CANONICALIZATION:?})"),
        }),
    }
}

fn canonical_digest(doc: Map<String, Value>, location: &str) -> Result<String> {
    Ok(sha256_hex(&canonical_bytes(doc, location)?))
}

/// Parses JSON, reporting line and column on failure, and refuses formats
/// newer than this build.
pub(crate) fn parse_versioned(bytes: &[u8], location: &str) -> Result<Map<String, Value>> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| RegistryError::InvalidMetadata {
        location: location.to_string(),
        reason: format!("{e} (it is not valid JSON)"),
    })?;
    let Value::Object(map) = value else {
        return Err(RegistryError::InvalidMetadata {
            location: location.to_string(),
            reason: "expected a JSON object".into(),
        });
    };
    match map.get("format_version").and_then(Value::as_u64) {
        Some(v) if v > FORMAT_VERSION as u64 => Err(RegistryError::UnsupportedFormat {
            location: location.to_string(),
            found: v.min(u32::MAX as u64) as u32,
            supported: FORMAT_VERSION,
        }),
        Some(_) => Ok(map),
        None => Err(RegistryError::InvalidMetadata {
            location: location.to_string(),
            reason: "missing or non-numeric \"format_version\"".into(),
        }),
    }
}

pub(crate) fn from_map<T: serde::de::DeserializeOwned>(map: Map<String, Value>, location: &str) -> Result<T> {
    serde_json::from_value(Value::Object(map)).map_err(|e| RegistryError::InvalidMetadata {
        location: location.to_string(),
        reason: e.to_string(),
    })
}

impl ModelMetadata {
    /// Fills `metadata_sha256` and returns the pretty JSON to store. Public
    /// for tools and tests that write a consistent document by hand: a
    /// valid digest proves nothing about who wrote it (see model-sign).
    pub fn seal(&mut self) -> Result<Vec<u8>> {
        self.canonicalization = Some(CANONICALIZATION.to_string());
        let map = self.to_map()?;
        self.metadata_sha256 = canonical_digest(map, &format!("the metadata of version {}", self.version))?;
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| RegistryError::Encode {
            version: self.version.to_string(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    fn to_map(&self) -> Result<Map<String, Value>> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => unreachable!("a struct serialises to an object"),
            Err(e) => Err(RegistryError::Encode {
                version: self.version.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Parses and checks a stored `metadata.json`: format, self-digest and
    /// fields. `location` is used in errors.
    pub fn from_json(bytes: &[u8], location: &str) -> Result<ModelMetadata> {
        let map = parse_versioned(bytes, location)?;
        let stored = map
            .get("metadata_sha256")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let actual = canonical_digest(map.clone(), location)?;
        if stored != actual {
            return Err(RegistryError::IntegrityMismatch {
                location: location.to_string(),
                what: "metadata sha256",
                expected: if stored.is_empty() { "(missing)".into() } else { stored },
                actual,
            });
        }
        let metadata: ModelMetadata = from_map(map, location)?;
        metadata.check_files(location)?;
        Ok(metadata)
    }

    /// Every file of the version: the artifact (if any), then the
    /// registered files, in the order recorded.
    pub fn stored_files(&self) -> Vec<StoredFile<'_>> {
        let artifact = self.artifact.iter().map(|a| StoredFile {
            path: &a.file,
            size: a.size,
            sha256: &a.sha256,
            blake3: a.blake3.as_deref(),
        });
        let files = self.files.iter().map(|f| StoredFile {
            path: &f.path,
            size: f.size,
            sha256: &f.sha256,
            blake3: Some(&f.blake3),
        });
        artifact.chain(files).collect()
    }

    /// The total size of the version's files.
    pub fn total_size(&self) -> u64 {
        self.stored_files().iter().map(|f| f.size).sum()
    }

    /// The file list is untrusted input like everything else in the
    /// document: every path a valid relative key that is not one of the
    /// registry's own names, no path twice or inside another file's path,
    /// digests well-formed, at least one file, and format 2 for `files`.
    fn check_files(&self, location: &str) -> Result<()> {
        let invalid = |reason: String| RegistryError::InvalidMetadata {
            location: location.to_string(),
            reason,
        };
        let files = self.stored_files();
        if files.is_empty() {
            return Err(invalid("it lists no files (neither \"artifact\" nor \"files\")".into()));
        }
        if files.len() > MAX_FILES {
            return Err(invalid(format!(
                "it lists {} files, more than {MAX_FILES}",
                files.len()
            )));
        }
        if !self.files.is_empty() && self.format_version < 2 {
            return Err(invalid("\"files\" needs format_version 2".into()));
        }
        let mut paths: Vec<&str> = Vec::with_capacity(files.len());
        for f in &files {
            check_file_path(f.path).map_err(|reason| invalid(format!("file {:?}: {reason}", f.path)))?;
            let hex = |d: &str| d.len() == 64 && d.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !hex(f.sha256) || f.blake3.is_some_and(|b| !hex(b)) {
                return Err(invalid(format!(
                    "file {:?}: a digest is not 64 lower-case hex digits",
                    f.path
                )));
            }
            paths.push(f.path);
        }
        paths.sort_unstable();
        for pair in paths.windows(2) {
            if pair[0] == pair[1] {
                return Err(invalid(format!("file {:?} is listed twice", pair[0])));
            }
            if pair[1].strip_prefix(pair[0]).is_some_and(|rest| rest.starts_with('/')) {
                return Err(invalid(format!(
                    "{:?} is a file and a directory ({:?})",
                    pair[0], pair[1]
                )));
            }
        }
        Ok(())
    }
}

/// Whether `path` can name a file of a version: a valid storage key (so no
/// `..`, no absolute path, no hidden names), and not the registry's own
/// `metadata.json` or `model.sig` at the top of the version directory.
pub(crate) fn check_file_path(path: &str) -> std::result::Result<(), String> {
    crate::store::validate_key(path).map_err(|e| match e {
        crate::store::StoreError::InvalidKey { reason, .. } => format!(
            "{reason} (file paths are relative, '/'-separated, made of A-Z a-z 0-9 . _ + -, with no component starting with '.')"
        ),
        other => other.to_string(),
    })?;
    if path == METADATA_FILE || path == SIGNATURE_FILE {
        return Err(format!(
            "{path:?} is reserved for the registry's own use; rename the file"
        ));
    }
    Ok(())
}

/// The keys a person's metadata document may hold: the fields of
/// [`ModelInfo`] a user fills (the registry fills the rest).
pub const USER_METADATA_KEYS: [&str; 8] = [
    "model_type",
    "hyperparameters",
    "metrics",
    "test_score",
    "cv_score",
    "cv_std",
    "description",
    "tags",
];

impl ModelInfo {
    /// Reads the metadata a person writes (`registry add --metadata
    /// FILE.json`, Python's `save_model(..., metadata)`): a JSON object with
    /// only [`USER_METADATA_KEYS`]. An unknown key is refused by name, since
    /// a typo such as `hyperparams` would otherwise be dropped without a
    /// word; a score must be a finite number. The error says which key is
    /// wrong and why.
    pub fn from_user_json(value: Value) -> std::result::Result<ModelInfo, String> {
        let Value::Object(map) = value else {
            return Err(format!("expected a JSON object, got {}", json_kind(&value)));
        };
        if let Some(unknown) = map.keys().find(|k| !USER_METADATA_KEYS.contains(&k.as_str())) {
            return Err(format!(
                "unknown key {unknown:?} (known: {})",
                USER_METADATA_KEYS.join(", ")
            ));
        }
        for key in ["test_score", "cv_score", "cv_std"] {
            match map.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {}
                Some(other) => return Err(format!("{key} must be a finite number, not {other}")),
            }
        }
        for key in ["hyperparameters", "metrics", "tags"] {
            if let Some(v) = map.get(key).filter(|v| !v.is_object() && !v.is_null()) {
                return Err(format!("{key} must be an object (a dict), not {}", json_kind(v)));
            }
        }
        if let Some((k, v)) = map
            .get("tags")
            .and_then(Value::as_object)
            .and_then(|tags| tags.iter().find(|(_, v)| !v.is_string()))
        {
            return Err(format!("tag {k:?} must be a string, not {}", json_kind(v)));
        }
        let map: Map<String, Value> = map.into_iter().filter(|(_, v)| !v.is_null()).collect();
        serde_json::from_value(Value::Object(map)).map_err(|e| e.to_string())
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
