//! Signed versions: where a signature lives (`versions/<v>/model.sig`),
//! when it is written and when it is checked. The cryptography and the
//! signature format live in the `model-sign` crate, behind two traits, so
//! this crate stays free of both.
//!
//! * A registry handle with a [`VersionSigner`] signs every version it
//!   saves: the signature is written after the files and before
//!   `metadata.json`, so a version is never visible unsigned.
//! * A handle with a [`SignatureCheck`] (trusted keys) checks the signature
//!   whenever it reads a version's metadata — every load, promotion, copy
//!   and `verify` goes through that read — and refuses an unsigned version,
//!   an untrusted signer, or a file list that differs from the signed one.
//! * A model's policy (`policy.json`) can name aliases that may only point
//!   to signed versions: a handle without trusted keys refuses to load
//!   them or move them, instead of skipping the check.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Registry, keys};
use crate::error::{RegistryError, Result};
use crate::metadata::{Actor, METADATA_FILE, ModelMetadata, SIGNATURE_FILE, from_map, parse_versioned};
use crate::names::{AliasName, ModelVersion};
use crate::store::{Store, StoreError};

/// The most bytes `model.sig` may have (see `model-sign`).
pub const MAX_SIGNATURE_BYTES: u64 = 8 << 20;

/// Writes signatures.
pub trait VersionSigner: Send + Sync + std::fmt::Debug {
    /// The signature file for the version `name` (`MODEL@VERSION`, the
    /// in-toto subject's name) made of `files` (relative path and the
    /// sha256 of its bytes, `metadata.json` included), or why it cannot be
    /// made. Digests, not bytes: a file of any size is signed without
    /// holding it.
    fn sign(&self, name: &str, files: &[(&str, [u8; 32])]) -> std::result::Result<Vec<u8>, String>;
}

/// What a signature check sees of a version.
pub struct SignedVersion<'a> {
    pub version: &'a ModelVersion,
    /// The model it is read from ([`crate::ModelName::DEFAULT`] for the
    /// root's), which the signature's subject must name if it names one.
    pub model: &'a str,
    /// `model.sig` as stored; `None`: the version is not signed.
    pub signature: Option<&'a [u8]>,
    /// `metadata.json` exactly as stored.
    pub metadata_bytes: &'a [u8],
    pub metadata: &'a ModelMetadata,
    /// Every file in the version's directory (relative paths), so that a
    /// file added after signing is noticed.
    pub present: &'a [String],
}

/// Decides whether a version's signature is acceptable.
pub trait SignatureCheck: Send + Sync {
    /// `Ok(who signed it)`, or `Err(why it is refused)`.
    fn check(&self, version: &SignedVersion<'_>) -> std::result::Result<String, String>;
}

/// A registry handle's signer and check.
#[derive(Clone, Default)]
pub(crate) struct Signatures {
    signer: Option<Arc<dyn VersionSigner>>,
    check: Option<Arc<dyn SignatureCheck>>,
}

impl std::fmt::Debug for Signatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signatures")
            .field("signer", &self.signer.is_some())
            .field("check", &self.check.is_some())
            .finish()
    }
}

/// A model's signature policy, `policy.json` beside its aliases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignaturePolicy {
    pub format_version: u32,
    /// Aliases that may only name signed versions.
    pub signed_aliases: Vec<AliasName>,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
    pub changed_by: Actor,
}

impl<S: Store> Registry<S> {
    /// This handle signs every version it saves with `signer`.
    pub fn with_signer(mut self, signer: Arc<dyn VersionSigner>) -> Self {
        self.signatures.signer = Some(signer);
        self
    }

    /// This handle checks the signature of every version it reads with
    /// `check` (see the module docs).
    pub fn with_signature_check(mut self, check: Arc<dyn SignatureCheck>) -> Self {
        self.signatures.check = Some(check);
        self
    }

    /// Whether this handle checks signatures.
    pub fn checks_signatures(&self) -> bool {
        self.signatures.check.is_some()
    }

    /// `model.sig` for the files of a version about to be committed.
    pub(super) fn sign_new(&self, metadata: &ModelMetadata, metadata_bytes: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(signer) = &self.signatures.signer else {
            return Ok(None);
        };
        self.sign_with(signer.as_ref(), metadata, metadata_bytes).map(Some)
    }

    /// Signs the digests `metadata` records (and `metadata.json` itself).
    fn sign_with(
        &self,
        signer: &dyn VersionSigner,
        metadata: &ModelMetadata,
        metadata_bytes: &[u8],
    ) -> Result<Vec<u8>> {
        use sha2::Digest;
        let version = &metadata.version;
        let encode = |reason: String| RegistryError::Encode {
            version: version.to_string(),
            reason: format!("cannot sign it: {reason}"),
        };
        let mut files: Vec<(&str, [u8; 32])> = Vec::new();
        for file in metadata.stored_files() {
            files.push((
                file.path,
                sha256_bytes(file.sha256).ok_or_else(|| encode(format!("{} has no valid sha256", file.path)))?,
            ));
        }
        files.push((METADATA_FILE, sha2::Sha256::digest(metadata_bytes).into()));
        signer.sign(&self.subject_name(version), &files).map_err(encode)
    }

    /// Signs an existing version with `signer`: every file is checked
    /// against the metadata's digests first (block by block, so a file of
    /// any size), and `model.sig` is created if absent (a version is signed
    /// once: [`RegistryError::AlreadySigned`]).
    pub fn sign_version(&self, version: &ModelVersion, signer: &dyn VersionSigner) -> Result<()> {
        let (metadata_bytes, metadata) = self.read_metadata_unchecked(version)?;
        for file in metadata.stored_files() {
            self.check_streamed(version, &file, true)?;
        }
        let signature = self.sign_with(signer, &metadata, &metadata_bytes)?;
        let key = self.keys.version_file(version, SIGNATURE_FILE);
        match self.store.create(&key, &signature) {
            Ok(()) => Ok(()),
            Err(StoreError::AlreadyExists { .. }) => Err(RegistryError::AlreadySigned {
                version: version.to_string(),
                location: self.store.location(&key),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// What a signature made here names as its subject: `MODEL@VERSION`.
    fn subject_name(&self, version: &ModelVersion) -> String {
        format!("{}@{version}", self.model_label())
    }

    /// `model.sig` of `version` as stored, if it is signed.
    pub fn signature(&self, version: &ModelVersion) -> Result<Option<Vec<u8>>> {
        let key = self.keys.version_file(version, SIGNATURE_FILE);
        // Cached once present; a missing one is asked for every time
        // (`registry sign` may add it).
        match self.read_document(&key, MAX_SIGNATURE_BYTES) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// With a signature check: `version`'s signature is acceptable, or
    /// [`RegistryError::SignatureRefused`]. Without one: nothing to do.
    pub(super) fn check_signature(
        &self,
        version: &ModelVersion,
        metadata_bytes: &[u8],
        metadata: &ModelMetadata,
    ) -> Result<()> {
        let Some(check) = &self.signatures.check else {
            return Ok(());
        };
        let signature = self.signature(version)?;
        let prefix = self.keys.version_prefix(version);
        let present: Vec<String> = self
            .store
            .list(&prefix)?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let seen = SignedVersion {
            version,
            model: self.model_label(),
            signature: signature.as_deref(),
            metadata_bytes,
            metadata,
            present: &present,
        };
        check
            .check(&seen)
            .map(|_| ())
            .map_err(|reason| RegistryError::SignatureRefused {
                version: version.to_string(),
                location: self.store.location(&self.keys.version_file(version, SIGNATURE_FILE)),
                reason,
            })
    }

    /// The model's signature policy (`None`: no alias requires signatures).
    pub fn signature_policy(&self) -> Result<Option<SignaturePolicy>> {
        let key = self.keys.policy();
        let Some(pointer) = self.store.read_pointer_limited(&key, keys::MAX_METADATA_BYTES)? else {
            return Ok(None);
        };
        let location = self.store.location(&key);
        from_map(parse_versioned(&pointer.bytes, &location)?, &location).map(Some)
    }

    /// Requires (or no longer requires) signed versions behind `alias`.
    pub fn set_signature_required(&self, alias: &AliasName, required: bool) -> Result<SignaturePolicy> {
        self.ensure_marker()?;
        let key = self.keys.policy();
        loop {
            let current = self.store.read_pointer_limited(&key, keys::MAX_METADATA_BYTES)?;
            let mut aliases = match &current {
                Some(pointer) => {
                    let location = self.store.location(&key);
                    let policy: SignaturePolicy = from_map(parse_versioned(&pointer.bytes, &location)?, &location)?;
                    policy.signed_aliases
                }
                None => Vec::new(),
            };
            aliases.retain(|a| a != alias);
            if required {
                aliases.push(alias.clone());
                aliases.sort();
            }
            let policy = SignaturePolicy {
                format_version: crate::metadata::BASE_FORMAT_VERSION,
                signed_aliases: aliases,
                changed_at: OffsetDateTime::now_utc(),
                changed_by: self.actor().clone(),
            };
            let bytes = serde_json::to_vec_pretty(&policy).map_err(|e| RegistryError::Encode {
                version: "policy.json".into(),
                reason: e.to_string(),
            })?;
            match self.store.swap_pointer(&key, current.as_ref().map(|p| &p.tag), &bytes) {
                Ok(_) => return Ok(policy),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Refuses to read or move `alias` without trusted keys when the
    /// model's policy requires signatures for it.
    pub(super) fn check_alias_policy(&self, alias: &AliasName) -> Result<()> {
        if self.checks_signatures() {
            return Ok(());
        }
        match self.signature_policy()? {
            Some(policy) if policy.signed_aliases.contains(alias) => Err(RegistryError::SignatureRequired {
                alias: alias.to_string(),
                location: self.store.location(&self.keys.policy()),
            }),
            _ => Ok(()),
        }
    }
}

/// A sha256 digest written as 64 hex digits, as bytes.
fn sha256_bytes(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
