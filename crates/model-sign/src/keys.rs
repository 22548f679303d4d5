//! ECDSA keys in PEM, on the curves the reference tool's `key` method
//! accepts (P-256, P-384, P-521), parsed and used by the RustCrypto crates.
//!
//! Accepted private keys: SEC1 (`EC PRIVATE KEY`, what `openssl ecparam
//! -genkey` writes, with or without its `EC PARAMETERS` block), PKCS#8
//! (`PRIVATE KEY`, `openssl genpkey`) and encrypted PKCS#8 (`ENCRYPTED
//! PRIVATE KEY`, with its password). Public keys: SubjectPublicKeyInfo
//! (`PUBLIC KEY`, `openssl ec -pubout`).

use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};

use crate::SignError;

/// A private key to sign with.
pub enum PrivateKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

/// A public key to verify with.
#[derive(Clone)]
pub enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(Box<p521::ecdsa::VerifyingKey>),
}

/// The PEM blocks of `text`: (label, whole block with its headers).
fn blocks(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else { break };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            break;
        };
        let stop = start + end + end_marker.len();
        out.push((label, &rest[start..stop]));
        rest = &rest[stop..];
    }
    out
}

fn der_of(block: &str, what: &str) -> Result<Vec<u8>, SignError> {
    if block.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(SignError::Key(format!(
            "the {what} is encrypted in OpenSSL's legacy format, which this tool does not read; \
             convert it to encrypted PKCS#8: openssl pkcs8 -topk8 -in KEY.pem -out KEY-pkcs8.pem"
        )));
    }
    pem_rfc7468::decode_vec(block.as_bytes())
        .map(|(_, der)| der)
        .map_err(|e| SignError::Key(format!("the {what}'s PEM block is malformed: {e}")))
}

impl PrivateKey {
    /// Parses a private key in PEM; `password` for an encrypted one.
    pub fn from_pem(text: &str, password: Option<&[u8]>) -> Result<PrivateKey, SignError> {
        let found = blocks(text);
        let Some((label, block)) = found.iter().find(|(label, _)| label.ends_with("PRIVATE KEY")) else {
            return Err(SignError::Key(match found.first() {
                Some((label, _)) if label.contains("PUBLIC KEY") => {
                    "this is a public key; signing needs the private key (its public half goes to --trusted-key)".into()
                }
                Some((label, _)) => format!("no private key in it (found a PEM block {label:?})"),
                None => {
                    "no PEM block in it (expected -----BEGIN EC PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)".into()
                }
            }));
        };
        let der = der_of(block, "key")?;
        match *label {
            "EC PRIVATE KEY" => Self::from_sec1(&der),
            "PRIVATE KEY" => Self::from_pkcs8(&der),
            "ENCRYPTED PRIVATE KEY" => {
                let Some(password) = password else {
                    return Err(SignError::Key(
                        "the key is encrypted and no password was given (set it with --key-password-env VAR)".into(),
                    ));
                };
                let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
                    .map_err(|e| SignError::Key(format!("the encrypted key is malformed: {e}")))?;
                let plain = info
                    .decrypt(password)
                    .map_err(|_| SignError::Key("the password does not decrypt the key".into()))?;
                Self::from_pkcs8(plain.as_bytes())
            }
            other => Err(SignError::Key(format!(
                "a {other} is not supported: use an ECDSA key on P-256, P-384 or P-521 \
                 (openssl ecparam -name prime256v1 -genkey -noout -out key.pem)"
            ))),
        }
    }

    fn from_sec1(der: &[u8]) -> Result<PrivateKey, SignError> {
        Self::first_curve(
            p256::SecretKey::from_sec1_der(der).ok(),
            p384::SecretKey::from_sec1_der(der).ok(),
            p521::SecretKey::from_sec1_der(der).ok(),
            "not an EC key on P-256, P-384 or P-521 (the curves the model-signing key method accepts)",
        )
    }

    fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, SignError> {
        Self::first_curve(
            p256::SecretKey::from_pkcs8_der(der).ok(),
            p384::SecretKey::from_pkcs8_der(der).ok(),
            p521::SecretKey::from_pkcs8_der(der).ok(),
            "not an ECDSA key on P-256, P-384 or P-521 (RSA and Ed25519 keys are not accepted by the model-signing key method)",
        )
    }

    /// The key on whichever curve the DER decoded as (each decoder checks
    /// the curve's identifier, so at most one succeeds), or `none`.
    fn first_curve(
        p256: Option<p256::SecretKey>,
        p384: Option<p384::SecretKey>,
        p521: Option<p521::SecretKey>,
        none: &str,
    ) -> Result<PrivateKey, SignError> {
        match (p256, p384, p521) {
            (Some(k), _, _) => Ok(PrivateKey::P256(k.into())),
            (_, Some(k), _) => Ok(PrivateKey::P384(k.into())),
            (_, _, Some(k)) => p521_signing(k),
            _ => Err(SignError::Key(none.into())),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            PrivateKey::P384(k) => PublicKey::P384(*k.verifying_key()),
            PrivateKey::P521(k) => PublicKey::P521(Box::new(p521::ecdsa::VerifyingKey::from(k))),
        }
    }

    /// A DER-encoded ECDSA signature of `message`, hashed with the curve's
    /// hash (SHA-256, -384, -512), as the reference tool signs.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use ecdsa::signature::Signer;
        match self {
            PrivateKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(message);
                s.to_der().as_bytes().to_vec()
            }
            PrivateKey::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(message);
                s.to_der().as_bytes().to_vec()
            }
            PrivateKey::P521(k) => {
                let s: p521::ecdsa::Signature = k.sign(message);
                s.to_der().as_bytes().to_vec()
            }
        }
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({}, {})", self.curve(), &self.hint()[..16])
    }
}

fn p521_signing(k: p521::SecretKey) -> Result<PrivateKey, SignError> {
    p521::ecdsa::SigningKey::from_bytes(&k.to_bytes())
        .map(PrivateKey::P521)
        .map_err(|e| SignError::Key(format!("not a valid P-521 key: {e}")))
}

impl PublicKey {
    /// Parses a public key in PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(text: &str) -> Result<PublicKey, SignError> {
        let found = blocks(text);
        let Some((_, block)) = found.iter().find(|(label, _)| *label == "PUBLIC KEY") else {
            let private = found.iter().any(|(label, _)| label.contains("PRIVATE KEY"));
            return Err(SignError::Key(match found.first() {
                Some(_) if private => {
                    "this is a private key; give its public half (openssl ec -in key.pem -pubout -out pub.pem)".into()
                }
                Some((label, _)) => format!("no public key in it (found a PEM block {label:?})"),
                None => "no PEM block in it (expected -----BEGIN PUBLIC KEY-----)".into(),
            }));
        };
        let der = der_of(block, "public key")?;
        if let Ok(k) = p256::PublicKey::from_public_key_der(&der) {
            return Ok(PublicKey::P256(k.into()));
        }
        if let Ok(k) = p384::PublicKey::from_public_key_der(&der) {
            return Ok(PublicKey::P384(k.into()));
        }
        if let Ok(k) = p521::PublicKey::from_public_key_der(&der) {
            return p521::ecdsa::VerifyingKey::from_sec1_bytes(&k.to_sec1_bytes())
                .map(|k| PublicKey::P521(Box::new(k)))
                .map_err(|e| SignError::Key(format!("not a valid P-521 key: {e}")));
        }
        Err(SignError::Key(
            "not an ECDSA public key on P-256, P-384 or P-521 (the curves the model-signing key method accepts)".into(),
        ))
    }

    /// The key as PEM SubjectPublicKeyInfo, as the reference tool writes it.
    pub fn to_pem(&self) -> String {
        let pem = match self {
            PublicKey::P256(k) => p256::PublicKey::from(k).to_public_key_pem(LineEnding::LF),
            PublicKey::P384(k) => p384::PublicKey::from(k).to_public_key_pem(LineEnding::LF),
            PublicKey::P521(k) => p521::PublicKey::from_sec1_bytes(&k.to_encoded_point(false).to_bytes())
                .map_err(|_| spki::Error::KeyMalformed)
                .and_then(|k| k.to_public_key_pem(LineEnding::LF)),
        };
        // Encoding a valid key cannot fail; an empty hint only means "try every key".
        pem.unwrap_or_default()
    }

    /// The key's hint in a bundle: sha256 (hex) of its PEM form.
    pub fn hint(&self) -> String {
        hex(&Sha256::digest(self.to_pem().as_bytes()))
    }

    /// Checks a DER-encoded ECDSA signature of `message`.
    pub fn verify(&self, message: &[u8], der: &[u8]) -> bool {
        use ecdsa::signature::Verifier;
        match self {
            PublicKey::P256(k) => p256::ecdsa::Signature::from_der(der).is_ok_and(|s| k.verify(message, &s).is_ok()),
            PublicKey::P384(k) => p384::ecdsa::Signature::from_der(der).is_ok_and(|s| k.verify(message, &s).is_ok()),
            PublicKey::P521(k) => p521::ecdsa::Signature::from_der(der).is_ok_and(|s| k.verify(message, &s).is_ok()),
        }
    }

    pub fn curve(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "P-256",
            PublicKey::P384(_) => "P-384",
            PublicKey::P521(_) => "P-521",
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
