//! Signed versions in a registry: signed as they are saved or afterwards,
//! checked on every read with trusted keys, and refused — with the reason —
//! when unsigned, signed by another key, or changed since signing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use model_sign::{KeySigner, PrivateKey, PublicKey, SignError, TrustedKeys};
use registry_core::{AliasName, Expect, NewFile, Registry, RegistryError};

fn key_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keys").join(name)
}

fn signer(name: &str) -> Arc<KeySigner> {
    Arc::new(KeySigner::from_file(&key_path(name), None).unwrap())
}

fn trusted(names: &[&str]) -> Arc<TrustedKeys> {
    let paths: Vec<PathBuf> = names.iter().map(|n| key_path(n)).collect();
    Arc::new(TrustedKeys::from_files(&paths).unwrap())
}

fn files() -> Vec<NewFile> {
    vec![
        NewFile {
            path: "model.onnx".into(),
            bytes: b"onnx bytes".to_vec(),
        },
        NewFile {
            path: "tokenizer/vocab.txt".into(),
            bytes: b"a\nb\n".to_vec(),
        },
    ]
}

fn refused(e: RegistryError) -> String {
    match e {
        RegistryError::SignatureRefused { reason, .. } => reason,
        other => panic!("expected a refused signature, got {other}"),
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("registry");
        Fixture { _dir: dir, root }
    }

    fn plain(&self) -> Registry {
        Registry::open(&self.root).unwrap()
    }

    fn signing(&self, key: &str) -> Registry {
        self.plain().with_signer(signer(key))
    }

    fn checking(&self, keys: &[&str]) -> Registry {
        self.plain().with_signature_check(trusted(keys))
    }

    fn version_dir(&self, v: &str) -> PathBuf {
        self.root.join("versions").join(v)
    }
}

#[test]
fn a_version_signed_as_it_is_saved_loads_with_its_key() {
    let f = Fixture::new();
    let v = "1.0.0".parse().unwrap();
    f.signing("p256.pem")
        .save_files(&v, &files(), Default::default())
        .unwrap();
    assert!(f.version_dir("1.0.0").join("model.sig").is_file());
    let reg = f.checking(&["p256.pub.pem"]);
    let md = reg.metadata(&v).unwrap();
    let bytes = reg.read_version_file(&md, "model.onnx", <[u8]>::to_vec).unwrap();
    assert_eq!(bytes, b"onnx bytes");
    assert!(reg.verify().unwrap().is_ok());
}

#[test]
fn every_curve_and_key_format_signs_and_verifies() {
    for (private, public) in [
        ("p256.pem", "p256.pub.pem"),
        ("p384.pem", "p384.pub.pem"),
        ("p521.pem", "p521.pub.pem"),
        ("other-pkcs8.pem", "other.pub.pem"),
    ] {
        let f = Fixture::new();
        let v = "1.0.0".parse().unwrap();
        f.signing(private).save_files(&v, &files(), Default::default()).unwrap();
        f.checking(&[public])
            .metadata(&v)
            .unwrap_or_else(|e| panic!("{private}: {e}"));
        let other = if public == "other.pub.pem" {
            "p256.pub.pem"
        } else {
            "other.pub.pem"
        };
        assert!(refused(f.checking(&[other]).metadata(&v).unwrap_err()).contains("not trusted"));
    }
}

#[test]
fn an_encrypted_key_needs_its_password() {
    let path = key_path("p256-encrypted.pem");
    let err = KeySigner::from_file(&path, None).unwrap_err().to_string();
    assert!(err.contains("encrypted") && err.contains("password"), "{err}");
    let err = KeySigner::from_file(&path, Some(b"wrong")).unwrap_err().to_string();
    assert!(err.contains("password does not decrypt"), "{err}");
    let key = KeySigner::from_file(&path, Some(b"secret")).unwrap();
    let plain = KeySigner::from_file(&key_path("p256.pem"), None).unwrap();
    assert_eq!(key.public_key().hint(), plain.public_key().hint());
}

#[test]
fn keys_in_the_wrong_format_are_refused_by_name() {
    let read = |name: &str| std::fs::read_to_string(key_path(name)).unwrap();
    let cases: [(Result<(), SignError>, &str); 6] = [
        (PrivateKey::from_pem(&read("rsa.pem"), None).map(|_| ()), "RSA"),
        (
            PrivateKey::from_pem(&read("p256.pub.pem"), None).map(|_| ()),
            "public key",
        ),
        (PublicKey::from_pem(&read("p256.pem")).map(|_| ()), "private key"),
        (PrivateKey::from_pem("", None).map(|_| ()), "no PEM block"),
        (
            PrivateKey::from_pem(
                "-----BEGIN EC PRIVATE KEY-----\n!!!\n-----END EC PRIVATE KEY-----\n",
                None,
            )
            .map(|_| ()),
            "malformed",
        ),
        (
            PublicKey::from_pem(&read("rsa.pem").replace("PRIVATE", "PUBLIC")).map(|_| ()),
            "PUBLIC KEY",
        ),
    ];
    for (result, expected) in cases {
        let err = result.unwrap_err().to_string();
        assert!(
            err.contains(expected) || err.to_lowercase().contains(&expected.to_lowercase()),
            "{err} lacks {expected}"
        );
    }
    let missing = KeySigner::from_file(&key_path("absent.pem"), None)
        .unwrap_err()
        .to_string();
    assert!(missing.contains("absent.pem"), "{missing}");
}

#[test]
fn unsigned_and_untrusted_versions_are_refused() {
    let f = Fixture::new();
    let v1 = "1.0.0".parse().unwrap();
    let v2 = "1.1.0".parse().unwrap();
    f.plain().save_files(&v1, &files(), Default::default()).unwrap();
    f.signing("other.pem")
        .save_files(&v2, &files(), Default::default())
        .unwrap();
    let reg = f.checking(&["p256.pub.pem"]);
    assert!(refused(reg.metadata(&v1).unwrap_err()).contains("not signed"));
    assert!(refused(reg.metadata(&v2).unwrap_err()).contains("not trusted"));
    let report = reg.verify().unwrap();
    assert_eq!(
        report.problems.iter().filter(|p| p.message.contains("refused")).count(),
        2
    );
    let production: AliasName = "production".parse().unwrap();
    assert!(matches!(
        reg.set_alias(&production, &v1, Expect::Anything),
        Err(RegistryError::SignatureRefused { .. })
    ));
    // Signing afterwards makes it acceptable; a second signature is refused.
    f.plain().sign_version(&v1, signer("p256.pem").as_ref()).unwrap();
    reg.metadata(&v1).unwrap();
    assert!(matches!(
        f.plain().sign_version(&v1, signer("p256.pem").as_ref()),
        Err(RegistryError::AlreadySigned { .. })
    ));
    reg.set_alias(&production, &v1, Expect::Anything).unwrap();
}

#[test]
fn changed_added_and_unsigned_files_are_refused() {
    let f = Fixture::new();
    let v = "1.0.0".parse().unwrap();
    f.signing("p256.pem")
        .save_files(&v, &files(), Default::default())
        .unwrap();
    let reg = f.checking(&["p256.pub.pem"]);
    let dir = f.version_dir("1.0.0");

    // A file added beside the signed ones.
    std::fs::write(dir.join("extra.bin"), b"payload").unwrap();
    assert!(refused(reg.metadata(&v).unwrap_err()).contains("extra.bin"));
    std::fs::remove_file(dir.join("extra.bin")).unwrap();
    reg.metadata(&v).unwrap();

    // metadata.json rewritten by someone with write access (its own
    // digest made consistent): the signature no longer covers it.
    let meta = dir.join("metadata.json");
    let original = std::fs::read(&meta).unwrap();
    let mut md: registry_core::ModelMetadata = serde_json::from_slice(&original).unwrap();
    md.info.description = Some("swapped".into());
    let resealed = md.seal().unwrap();
    std::fs::write(&meta, &resealed).unwrap();
    assert!(refused(reg.metadata(&v).unwrap_err()).contains("metadata.json was changed"));
    std::fs::write(&meta, &original).unwrap();

    // A changed byte in a model file: its digest no longer matches the
    // signed metadata, so the read fails before anything is decoded.
    let md = reg.metadata(&v).unwrap();
    std::fs::write(dir.join("model.onnx"), b"ONNX bytes").unwrap();
    assert!(matches!(
        reg.read_version_file(&md, "model.onnx", <[u8]>::to_vec),
        Err(RegistryError::IntegrityMismatch { .. })
    ));
}

#[test]
fn a_signature_over_another_file_list_is_refused() {
    let f = Fixture::new();
    let v = "1.0.0".parse().unwrap();
    f.plain().save_files(&v, &files(), Default::default()).unwrap();
    let dir = f.version_dir("1.0.0");
    let metadata = std::fs::read(dir.join("metadata.json")).unwrap();
    let key = signer("p256.pem");
    // Missing a file the version has.
    let partial = key.sign_files("1.0.0", &[("metadata.json", &metadata), ("model.onnx", b"onnx bytes")]);
    std::fs::write(dir.join("model.sig"), &partial).unwrap();
    let reg = f.checking(&["p256.pub.pem"]);
    assert!(refused(reg.metadata(&v).unwrap_err()).contains("tokenizer/vocab.txt is not covered"));
    // Covering a file the version does not have.
    let more = key.sign_files(
        "1.0.0",
        &[
            ("metadata.json", &metadata),
            ("model.onnx", b"onnx bytes"),
            ("tokenizer/vocab.txt", b"a\nb\n"),
            ("weights.bin", b"w"),
        ],
    );
    std::fs::write(dir.join("model.sig"), &more).unwrap();
    assert!(refused(reg.metadata(&v).unwrap_err()).contains("weights.bin"));
}

#[test]
fn malformed_signature_files_are_refused_with_the_reason() {
    let f = Fixture::new();
    let v = "1.0.0".parse().unwrap();
    f.signing("p256.pem")
        .save_files(&v, &files(), Default::default())
        .unwrap();
    let sig = f.version_dir("1.0.0").join("model.sig");
    let good = std::fs::read_to_string(&sig).unwrap();
    let reg = f.checking(&["p256.pub.pem"]);
    let mut bundle: serde_json::Value = serde_json::from_str(&good).unwrap();
    bundle["dsseEnvelope"]["payload"] = "bm90IGpzb24=".into();
    let cases = [
        (b"garbage".to_vec(), "not a sigstore bundle"),
        (good.as_bytes()[..good.len() / 2].to_vec(), "not a sigstore bundle"),
        (good.replace("v0.3+json", "v9+json").into_bytes(), "media type"),
        (serde_json::to_vec(&bundle).unwrap(), "does not verify"),
    ];
    for (bytes, expected) in cases {
        std::fs::write(&sig, &bytes).unwrap();
        let reason = refused(reg.metadata(&v).unwrap_err());
        assert!(reason.contains(expected), "{reason} lacks {expected}");
    }
    std::fs::write(&sig, vec![b' '; (model_sign::MAX_SIGNATURE_BYTES + 1) as usize]).unwrap();
    assert!(reg.metadata(&v).is_err());
}

#[test]
fn a_policy_makes_every_reader_of_an_alias_need_trusted_keys() {
    let f = Fixture::new();
    let v1 = "1.0.0".parse().unwrap();
    let v2 = "1.1.0".parse().unwrap();
    f.signing("p256.pem")
        .save_files(&v1, &files(), Default::default())
        .unwrap();
    f.plain().save_files(&v2, &files(), Default::default()).unwrap();
    let production: AliasName = "production".parse().unwrap();
    let checked = f.checking(&["p256.pub.pem"]);
    checked.set_alias(&production, &v1, Expect::Anything).unwrap();
    checked.set_signature_required(&production, true).unwrap();

    let plain = f.plain();
    assert!(matches!(
        plain.alias_metadata(&production),
        Err(RegistryError::SignatureRequired { .. })
    ));
    assert!(matches!(
        plain.set_alias(&production, &v2, Expect::Anything),
        Err(RegistryError::SignatureRequired { .. })
    ));
    assert_eq!(checked.alias_metadata(&production).unwrap().version, v1);
    assert!(matches!(
        checked.set_alias(&production, &v2, Expect::Anything),
        Err(RegistryError::SignatureRefused { .. })
    ));
    // Other aliases are not affected; the policy can be lifted.
    let staging: AliasName = "staging".parse().unwrap();
    plain.set_alias(&staging, &v2, Expect::Anything).unwrap();
    checked.set_signature_required(&production, false).unwrap();
    plain.alias_metadata(&production).unwrap();
}
