//! `model-sign`: signed registry versions, in the format of the OpenSSF
//! model-signing project (`model_signing sign key` / `verify key`).
//!
//! A signature (`versions/<v>/model.sig`) is a sigstore bundle holding a
//! DSSE envelope over an in-toto statement that lists every file of the
//! version — its model files and `metadata.json` — with its sha256,
//! signed with an ECDSA key (P-256, P-384 or P-521). Because the format is
//! the reference tool's, `model_signing verify key` accepts a version signed
//! here, and a version directory signed by `model_signing sign key` is
//! accepted here.
//!
//! What a signature adds to the digests the registry already checks: the
//! digests prove the bytes are the ones sealed in `metadata.json`; the
//! signature proves who sealed `metadata.json` (and so every file it lists).
//! See docs/SECURITY.md.
//!
//! [`KeySigner`] and [`TrustedKeys`] plug into `registry_core::Registry`
//! (`with_signer`, `with_signature_check`); the cryptography is RustCrypto's
//! (`p256`, `p384`, `p521`, `ecdsa`, `sha2`), nothing here is hand-written.
//!
//! ```
//! use model_sign::{KeySigner, TrustedKeys};
//! use registry_core::store::MemoryStore;
//! use registry_core::{ModelInfo, Registry, RegistryError};
//! use std::{path::Path, sync::Arc};
//!
//! // The test suite's throwaway keys (`openssl ecparam -name prime256v1 -genkey`).
//! let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keys");
//! let signer = Arc::new(KeySigner::from_file(&keys.join("p256.pem"), None)?);
//! let writer = Registry::open_store(MemoryStore::new())?.with_signer(signer);
//! writer.save_model(&"1.0.0".parse()?, &"weights", ModelInfo::default())?;
//!
//! // A reader with the signer's public key accepts it; with another key, not.
//! let trusted = TrustedKeys::from_files(&[keys.join("p256.pub.pem")])?;
//! let reader = writer.with_model(None).with_signature_check(Arc::new(trusted));
//! assert!(reader.metadata(&"1.0.0".parse()?).is_ok());
//! let others = TrustedKeys::from_files(&[keys.join("other.pub.pem")])?;
//! let stranger = writer.with_model(None).with_signature_check(Arc::new(others));
//! let refused = stranger.metadata(&"1.0.0".parse()?).unwrap_err();
//! assert!(matches!(refused, RegistryError::SignatureRefused { .. }), "{refused}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bundle;
mod keys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use registry_core::{METADATA_FILE, SignatureCheck, SignedVersion, VersionSigner};
use sha2::{Digest, Sha256};

pub use bundle::{MAX_SIGNATURE_BYTES, Manifest, verify};
pub use keys::{PrivateKey, PublicKey};
pub use registry_core::SIGNATURE_FILE;

/// Why a key or a signature was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{0}")]
    Key(String),
    #[error("the signature is malformed: {0}")]
    Malformed(String),
    #[error("{0}")]
    Untrusted(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
}

/// The most bytes a key file may have (a PEM key is well under 4 KB).
const MAX_KEY_BYTES: u64 = 64 * 1024;

fn read_key_file(path: &Path) -> Result<String, SignError> {
    use std::io::Read;
    let io = |source| SignError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    file.take(MAX_KEY_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| SignError::KeyFile {
            path: path.to_path_buf(),
            reason: format!("not a PEM text file: {e}"),
        })?;
    Ok(text)
}

/// Signs versions with one private key.
pub struct KeySigner {
    key: PrivateKey,
}

impl std::fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySigner({:?})", self.key.public_key())
    }
}

impl KeySigner {
    /// Reads a private key in PEM (`password`: for an encrypted one).
    pub fn from_file(path: &Path, password: Option<&[u8]>) -> Result<KeySigner, SignError> {
        let text = read_key_file(path)?;
        let key = PrivateKey::from_pem(&text, password).map_err(|e| SignError::KeyFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(KeySigner { key })
    }

    pub fn new(key: PrivateKey) -> KeySigner {
        KeySigner { key }
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The signature file for `files` (path, bytes) of the model `name`.
    pub fn sign_files(&self, name: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
        use sha2::Digest;
        let digests: Vec<(&str, [u8; 32])> = files
            .iter()
            .map(|(path, bytes)| (*path, sha2::Sha256::digest(bytes).into()))
            .collect();
        bundle::sign(name, &digests, &self.key)
    }
}

impl VersionSigner for KeySigner {
    fn sign(&self, name: &str, files: &[(&str, [u8; 32])]) -> Result<Vec<u8>, String> {
        Ok(bundle::sign(name, files, &self.key))
    }
}

/// The public keys whose signatures are accepted.
#[derive(Clone, Debug)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl TrustedKeys {
    pub fn new(keys: Vec<PublicKey>) -> TrustedKeys {
        TrustedKeys { keys }
    }

    /// Reads public keys in PEM, one per file.
    pub fn from_files(paths: &[PathBuf]) -> Result<TrustedKeys, SignError> {
        let keys = paths
            .iter()
            .map(|path| {
                PublicKey::from_pem(&read_key_file(path)?).map_err(|e| SignError::KeyFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedKeys { keys })
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Checks a version against its signature: signed by one of these
    /// keys, and the signed file list is exactly the version's files
    /// (`metadata.json` and every file it lists) with the same sha256 —
    /// nothing changed, added or removed since signing. Returns the hint of
    /// the key that signed it.
    pub fn check_version(&self, version: &SignedVersion<'_>) -> Result<String, String> {
        let signature = version
            .signature
            .ok_or_else(|| format!("it is not signed (no {SIGNATURE_FILE}); sign it with `registry sign`"))?;
        let manifest = verify(signature, &self.keys).map_err(|e| e.to_string())?;
        check_subject(&manifest.name, version.model, &version.version.to_string())?;
        let mut expected: BTreeMap<&str, String> = version
            .metadata
            .stored_files()
            .iter()
            .map(|f| (f.path, f.sha256.to_string()))
            .collect();
        let metadata_digest = keys::hex(&Sha256::digest(version.metadata_bytes));
        expected.insert(METADATA_FILE, metadata_digest);
        for (path, digest) in &manifest.files {
            match expected.get(path.as_str()) {
                None => {
                    return Err(format!(
                        "the signature covers {path}, which the version does not have (removed since signing?)"
                    ));
                }
                Some(actual) if actual != digest => {
                    return Err(format!(
                        "{path} was changed since it was signed (signed sha256 {}, now {})",
                        &digest[..12],
                        &actual[..12]
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(path) = expected.keys().find(|p| !manifest.files.contains_key(**p)) {
            return Err(format!("{path} is not covered by the signature (added since signing?)"));
        }
        let ignored = |p: &str| {
            p == SIGNATURE_FILE
                || manifest
                    .ignore_paths
                    .iter()
                    .any(|i| p == i || p.strip_prefix(i.as_str()).is_some_and(|r| r.starts_with('/')))
        };
        if let Some(extra) = version
            .present
            .iter()
            .find(|p| !ignored(p) && !expected.contains_key(p.as_str()))
        {
            return Err(format!(
                "{extra} is in the version's directory but neither in its metadata nor in its signature (added since signing?)"
            ));
        }
        Ok(manifest.key)
    }
}

/// The statement's subject names the version it is read as: `MODEL@VERSION`
/// as signed here, or the bare version as signed before the model was
/// named (and as `model_signing sign` names a version's directory).
fn check_subject(name: &str, model: &str, version: &str) -> Result<(), String> {
    let bound = format!("{model}@{version}");
    if name == bound || name == version {
        return Ok(());
    }
    Err(format!(
        "its signature was made for {name:?}, not for {bound:?} (a signature copied from another model or version?)"
    ))
}

impl SignatureCheck for TrustedKeys {
    fn check(&self, version: &SignedVersion<'_>) -> Result<String, String> {
        self.check_version(version)
    }
}
