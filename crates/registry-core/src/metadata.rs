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

/// The on-disk format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Everything known about one saved version: `versions/<v>/metadata.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    pub format_version: u32,
    pub version: ModelVersion,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub artifact: ArtifactInfo,
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
}

/// Identifies the training data without storing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFingerprint {
    pub name: String,
    pub sha256: String,
    pub rows: u64,
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
    /// Fills `metadata_sha256` and returns the pretty JSON to store.
    pub(crate) fn seal(&mut self) -> Result<Vec<u8>> {
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
        from_map(map, location)
    }
}
