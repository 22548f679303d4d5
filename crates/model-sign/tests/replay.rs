//! A signed version replayed elsewhere: copied byte for byte into another
//! model, or under another version number. Since `metadata.json` names
//! its model and version and the signature covers `metadata.json`, every
//! reader refuses the copy, with or without keys. A version saved before
//! the model was recorded still verifies where it is, and in a copy, and
//! `show` says it is not bound; the signature's subject, when it names a
//! model, must name the one it is read from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use model_sign::{KeySigner, TrustedKeys};
use registry_core::{ModelName, ModelVersion, NewFile, Registry, RegistryError};

fn key_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keys").join(name)
}

fn trusted() -> Arc<TrustedKeys> {
    Arc::new(TrustedKeys::from_files(&[key_path("p256.pub.pem")]).unwrap())
}

fn signer() -> KeySigner {
    KeySigner::from_file(&key_path("p256.pem"), None).unwrap()
}

fn model(name: &str) -> Option<ModelName> {
    Some(name.parse().unwrap())
}

fn v(s: &str) -> ModelVersion {
    s.parse().unwrap()
}

/// A registry with model `spam`'s signed 1.0.0 and an unrelated `fraud`.
fn registry(root: &Path) -> Registry {
    let base = Registry::open(root).unwrap().with_signer(Arc::new(signer()));
    let files = [NewFile {
        path: "model.onnx".into(),
        bytes: b"spam weights".to_vec(),
    }];
    base.with_model(model("spam"))
        .save_files(&v("1.0.0"), &files, Default::default())
        .unwrap();
    base.with_model(model("fraud"))
        .save_files(&v("0.1.0"), &files, Default::default())
        .unwrap();
    Registry::open(root).unwrap()
}

fn invalid(e: RegistryError) -> String {
    match e {
        RegistryError::InvalidMetadata { reason, .. } => reason,
        other => panic!("expected InvalidMetadata, got {other}"),
    }
}

#[test]
fn a_signed_version_copied_into_another_model_or_version_is_refused_by_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let plain = registry(&root);
    let source = root.join("models/spam/versions/1.0.0");
    test_support::copy_dir(&source, &root.join("models/fraud/versions/1.0.0"));
    test_support::copy_dir(&source, &root.join("models/spam/versions/2.0.0"));

    let checking = plain.with_model(None).with_signature_check(trusted());
    for reader in [&plain, &checking] {
        // The source verifies where it was signed.
        let spam = reader.with_model(model("spam"));
        assert!(spam.metadata(&v("1.0.0")).is_ok());
        let fraud = reader.with_model(model("fraud"));
        let reason = invalid(fraud.metadata(&v("1.0.0")).unwrap_err());
        assert!(
            reason.contains("saved as version 1.0.0 of model spam but lives in model fraud"),
            "{reason}"
        );
        let reason = invalid(spam.metadata(&v("2.0.0")).unwrap_err());
        assert!(reason.contains("says version 1.0.0"), "{reason}");
        // verify names both copies as damage.
        assert!(!fraud.verify().unwrap().is_ok());
        assert!(!spam.verify().unwrap().is_ok());
    }

    // Importing spam's version into fraud of another registry is refused
    // before anything is written.
    let stored = plain
        .with_model(model("spam"))
        .load_stored_version(&v("1.0.0"))
        .unwrap();
    let other = Registry::open(dir.path().join("other"))
        .unwrap()
        .for_model(model("fraud"));
    let reason = invalid(other.import_version(&stored).unwrap_err());
    assert!(reason.contains("can only be copied into model spam"), "{reason}");
    assert!(!dir.path().join("other/models/fraud/versions/1.0.0").exists());
}

/// Rewrites `version` of `registry` as a version saved before metadata
/// named its model, signed under `subject`.
fn as_old_version(registry: &Registry, root: &Path, version: &str, subject: &str) {
    let mut metadata = registry.metadata(&v(version)).unwrap();
    metadata.model = None;
    let bytes = metadata.seal().unwrap();
    let dir = root.join("models/spam/versions").join(version);
    std::fs::write(dir.join("metadata.json"), &bytes).unwrap();
    let weights = std::fs::read(dir.join("model.onnx")).unwrap();
    let signature = signer().sign_files(subject, &[("model.onnx", &weights), ("metadata.json", &bytes)]);
    std::fs::write(dir.join("model.sig"), signature).unwrap();
}

#[test]
fn an_old_unbound_version_keeps_verifying_but_a_subject_naming_another_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let plain = registry(&root);
    let spam = plain.with_model(model("spam"));
    let checking = plain.with_model(None).with_signature_check(trusted());

    // Signed before the model was named: the subject is the bare version.
    as_old_version(&spam, &root, "1.0.0", "1.0.0");
    assert!(checking.with_model(model("spam")).metadata(&v("1.0.0")).is_ok());
    test_support::copy_dir(
        &root.join("models/spam/versions/1.0.0"),
        &root.join("models/fraud/versions/1.0.0"),
    );
    // Not bound: the copy verifies too (what SECURITY.md says of them).
    let fraud = checking.with_model(model("fraud"));
    assert!(fraud.metadata(&v("1.0.0")).unwrap().model.is_none());

    // A subject naming spam, over a version read from fraud, is refused.
    as_old_version(&spam, &root, "1.0.0", "spam@1.0.0");
    std::fs::copy(
        root.join("models/spam/versions/1.0.0/model.sig"),
        root.join("models/fraud/versions/1.0.0/model.sig"),
    )
    .unwrap();
    std::fs::copy(
        root.join("models/spam/versions/1.0.0/metadata.json"),
        root.join("models/fraud/versions/1.0.0/metadata.json"),
    )
    .unwrap();
    assert!(checking.with_model(model("spam")).metadata(&v("1.0.0")).is_ok());
    match fraud.metadata(&v("1.0.0")).unwrap_err() {
        RegistryError::SignatureRefused { reason, .. } => {
            assert!(
                reason.contains("made for \"spam@1.0.0\", not for \"fraud@1.0.0\""),
                "{reason}"
            );
        }
        other => panic!("expected a refused signature, got {other}"),
    }
}

#[test]
fn a_new_signature_names_the_model_and_version_in_its_subject() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let _ = registry(&root);
    let signature = std::fs::read(root.join("models/spam/versions/1.0.0/model.sig")).unwrap();
    let manifest = model_sign::verify(&signature, trusted().keys()).unwrap();
    assert_eq!(manifest.name, "spam@1.0.0");
    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("models/spam/versions/1.0.0/metadata.json")).unwrap()).unwrap();
    assert_eq!(metadata["model"], "spam");
    assert_eq!(metadata["version"], "1.0.0");
}
