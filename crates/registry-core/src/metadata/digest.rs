//! Digests and canonical JSON: how a document's own digest is computed,
//! and how a stored document is parsed with its format version checked.

use super::FORMAT_VERSION;
use crate::error::{RegistryError, Result};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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

pub(super) fn canonical_digest(doc: Map<String, Value>, location: &str) -> Result<String> {
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
