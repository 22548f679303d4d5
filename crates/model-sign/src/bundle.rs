//! The signature file: a sigstore bundle (v0.3, JSON) holding a DSSE
//! envelope over an in-toto statement whose predicate
//! (`https://model_signing/signature/v1.0`) lists every file of the model
//! with its sha256, as the OpenSSF model-signing tool writes it for its
//! `key` method (no certificate, no transparency log).
//!
//! A signature file is untrusted input like everything in a registry:
//! its size is bounded, every field the verification relies on is checked,
//! and the payload is only parsed after its signature verified.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::SignError;
use crate::keys::{PrivateKey, PublicKey, hex};

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// The most bytes a signature file may have: a version lists at most
/// 10,000 files (~150 bytes each in the payload, base64 on top).
pub const MAX_SIGNATURE_BYTES: u64 = 8 << 20;
/// The most resources a statement may list (files plus `metadata.json`).
const MAX_RESOURCES: usize = registry_core::MAX_FILES + 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    media_type: String,
    verification_material: VerificationMaterial,
    dsse_envelope: Option<Envelope>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key: Option<KeyId>,
    #[serde(default)]
    tlog_entries: Vec<Value>,
    /// Present when signed with a certificate or by sigstore: not this method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x509_certificate_chain: Option<Value>,
}

#[derive(Serialize, Deserialize)]
struct KeyId {
    #[serde(default)]
    hint: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload: String,
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
struct EnvelopeSignature {
    sig: String,
    #[serde(default)]
    keyid: Option<String>,
}

/// What a verified signature says: the model's name, the files it covers
/// with their sha256, the paths the signer ignored, and which key signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    /// path -> sha256 (lower-case hex)
    pub files: BTreeMap<String, String>,
    pub ignore_paths: Vec<String>,
    /// The hint (sha256 of the PEM) of the trusted key that verified it.
    pub key: String,
}

/// DSSE's pre-authentication encoding: what is actually signed.
fn pae(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {PAYLOAD_TYPE} {} ", PAYLOAD_TYPE.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Signs `files` (path and the sha256 of its bytes) as the model `name`:
/// the bundle's JSON bytes. Only digests are signed, so a file of any size
/// is signed without holding it.
pub fn sign(name: &str, files: &[(&str, [u8; 32])], key: &PrivateKey) -> Vec<u8> {
    let mut sorted: Vec<(&str, [u8; 32])> = files.to_vec();
    // The reference tool lists resources in path order; the subject's
    // digest is the sha256 of the resources' digests in that order.
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut root = Sha256::new();
    for (_, digest) in &sorted {
        root.update(digest);
    }
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": hex(&root.finalize())}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": false,
                "ignore_paths": [crate::SIGNATURE_FILE],
            },
            "resources": sorted
                .iter()
                .map(|(path, digest)| json!({"name": path, "algorithm": "sha256", "digest": hex(digest)}))
                .collect::<Vec<_>>(),
        },
    });
    let payload = statement.to_string().into_bytes();
    let signature = key.sign(&pae(&payload));
    let bundle = Bundle {
        media_type: BUNDLE_MEDIA_TYPE.into(),
        verification_material: VerificationMaterial {
            public_key: Some(KeyId {
                hint: Some(key.public_key().hint()),
            }),
            tlog_entries: Vec::new(),
            certificate: None,
            x509_certificate_chain: None,
        },
        dsse_envelope: Some(Envelope {
            payload: STANDARD.encode(&payload),
            payload_type: PAYLOAD_TYPE.into(),
            signatures: vec![EnvelopeSignature {
                sig: STANDARD.encode(signature),
                keyid: Some(String::new()),
            }],
        }),
    };
    let mut out = serde_json::to_vec_pretty(&bundle).unwrap_or_default();
    out.push(b'\n');
    out
}

fn malformed(reason: impl Into<String>) -> SignError {
    SignError::Malformed(reason.into())
}

/// Checks a signature file against `trusted` keys and returns what it
/// signs. Fails if it is malformed, signed by none of the keys, or its
/// statement is not a model-signing v1.0 `files` manifest.
pub fn verify(bytes: &[u8], trusted: &[PublicKey]) -> Result<Manifest, SignError> {
    if bytes.len() as u64 > MAX_SIGNATURE_BYTES {
        return Err(malformed(format!(
            "{} bytes, more than the {MAX_SIGNATURE_BYTES} a signature may have",
            bytes.len()
        )));
    }
    let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| malformed(format!("not a sigstore bundle: {e}")))?;
    if bundle.media_type != BUNDLE_MEDIA_TYPE {
        return Err(malformed(format!(
            "media type {:?}, expected {BUNDLE_MEDIA_TYPE}",
            bundle.media_type
        )));
    }
    let material = &bundle.verification_material;
    if material.certificate.is_some() || material.x509_certificate_chain.is_some() {
        return Err(SignError::Untrusted(
            "it was signed with a certificate (sigstore or PKI), not a key; this registry verifies key signatures"
                .into(),
        ));
    }
    let envelope = bundle
        .dsse_envelope
        .ok_or_else(|| malformed("no DSSE envelope (a message signature is not a model signature)"))?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(malformed(format!(
            "payload type {:?}, expected {PAYLOAD_TYPE}",
            envelope.payload_type
        )));
    }
    let payload = STANDARD
        .decode(envelope.payload.as_bytes())
        .map_err(|e| malformed(format!("the payload is not base64: {e}")))?;
    let [signature] = envelope.signatures.as_slice() else {
        return Err(malformed(format!(
            "{} signatures in the envelope, expected one",
            envelope.signatures.len()
        )));
    };
    let der = STANDARD
        .decode(signature.sig.as_bytes())
        .map_err(|e| malformed(format!("the signature is not base64: {e}")))?;
    let hint = material
        .public_key
        .as_ref()
        .and_then(|k| k.hint.clone())
        .unwrap_or_default();
    let message = pae(&payload);
    // With a hint, only the key it names is tried (as the reference tool);
    // without one, every trusted key.
    let signer = trusted
        .iter()
        .filter(|k| hint.is_empty() || k.hint() == hint)
        .find(|k| k.verify(&message, &der))
        .ok_or_else(|| {
            SignError::Untrusted(if trusted.iter().any(|k| k.hint() == hint) {
                "the signature does not verify with the key it names: the signed statement was changed, or it is not a signature".into()
            } else {
                format!(
                    "it was signed by a key that is not trusted (key hint {}); trusted: {}",
                    if hint.is_empty() { "absent" } else { &hint[..16.min(hint.len())] },
                    trusted.iter().map(|k| k.hint()[..16].to_string()).collect::<Vec<_>>().join(", ")
                )
            })
        })?;
    let mut manifest = parse_statement(&payload)?;
    manifest.key = signer.hint();
    Ok(manifest)
}

fn parse_statement(payload: &[u8]) -> Result<Manifest, SignError> {
    let statement: Value =
        serde_json::from_slice(payload).map_err(|e| malformed(format!("the signed payload is not JSON: {e}")))?;
    let field = |v: &Value, name: &str| -> Result<String, SignError> {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| malformed(format!("the statement has no string {name:?}")))
    };
    if field(&statement, "_type")? != STATEMENT_TYPE {
        return Err(malformed(format!("statement type is not {STATEMENT_TYPE}")));
    }
    let predicate_type = field(&statement, "predicateType")?;
    if predicate_type != PREDICATE_TYPE {
        return Err(malformed(format!(
            "predicate type {predicate_type:?}; this tool reads {PREDICATE_TYPE}"
        )));
    }
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let [subject] = subjects else {
        return Err(malformed(format!("{} subjects, expected one", subjects.len())));
    };
    let name = field(subject, "name")?;
    let root = subject
        .pointer("/digest/sha256")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the subject has no sha256 digest"))?;
    let serialization = statement
        .pointer("/predicate/serialization")
        .ok_or_else(|| malformed("the predicate has no serialization"))?;
    let method = field(serialization, "method")?;
    if method != "files" {
        return Err(malformed(format!(
            "serialization method {method:?}: this tool verifies the \"files\" method (one digest per file)"
        )));
    }
    let hash_type = field(serialization, "hash_type")?;
    if hash_type != "sha256" {
        return Err(malformed(format!("hash type {hash_type:?}, expected sha256")));
    }
    let ignore_paths = serialization
        .get("ignore_paths")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let resources = statement
        .pointer("/predicate/resources")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("the predicate has no resources"))?;
    if resources.len() > MAX_RESOURCES {
        return Err(malformed(format!(
            "{} resources, more than {MAX_RESOURCES}",
            resources.len()
        )));
    }
    let mut files = BTreeMap::new();
    let mut digest_of_digests = Sha256::new();
    for resource in resources {
        let path = field(resource, "name")?;
        if field(resource, "algorithm")? != "sha256" {
            return Err(malformed(format!("resource {path:?} is not hashed with sha256")));
        }
        let digest = field(resource, "digest")?;
        let raw =
            decode_hex32(&digest).ok_or_else(|| malformed(format!("resource {path:?}: digest is not sha256 hex")))?;
        digest_of_digests.update(raw);
        if files.insert(path.clone(), digest.to_ascii_lowercase()).is_some() {
            return Err(malformed(format!("resource {path:?} is listed twice")));
        }
    }
    if hex(&digest_of_digests.finalize()) != root.to_ascii_lowercase() {
        return Err(malformed("the subject digest does not match the listed resources"));
    }
    Ok(Manifest {
        name,
        files,
        ignore_paths,
        key: String::new(),
    })
}

fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
