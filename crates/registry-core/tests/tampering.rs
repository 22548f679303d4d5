//! Tampering: flipping any byte of a model or its metadata, truncating or
//! deleting either, or pointing an alias at a missing version is detected
//! by every load and by `verify`, with an error naming the file; and
//! `repair` never deletes or rewrites a complete version.

#![allow(clippy::field_reassign_with_default)]

use registry_core::{AliasName, Expect, ModelInfo, ModelVersion, Registry, RegistryError};

fn setup() -> (tempfile::TempDir, Registry, ModelVersion) {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path().join("registry")).unwrap();
    let v: ModelVersion = "1.0.0".parse().unwrap();
    let mut info = ModelInfo::default();
    info.test_score = Some(0.75);
    registry.save_model(&v, &(0u8..64).collect::<Vec<u8>>(), info).unwrap();
    registry
        .set_alias(&"production".parse().unwrap(), &v, Expect::Anything)
        .unwrap();
    (dir, registry, v)
}

#[test]
fn every_single_bit_flip_is_detected() {
    let (_dir, registry, v) = setup();
    let production: AliasName = "production".parse().unwrap();
    for file in ["model.bin", "metadata.json"] {
        let path = registry.root().join("versions/1.0.0").join(file);
        let original = std::fs::read(&path).unwrap();
        for i in 0..original.len() {
            for bit in [0x01u8, 0x80] {
                let mut bytes = original.clone();
                bytes[i] ^= bit;
                std::fs::write(&path, &bytes).unwrap();
                let err = registry.get_model::<Vec<u8>>(&v).unwrap_err();
                assert!(
                    !matches!(err, RegistryError::Decode { .. }),
                    "{file} byte {i}: reached the decoder: {err}"
                );
                assert!(err.to_string().contains(file), "{file} byte {i}: {err}");
                assert!(registry.get_by_alias::<Vec<u8>>(&production).is_err());
                assert!(!registry.verify().unwrap().is_ok(), "{file} byte {i}: verify missed it");
            }
        }
        std::fs::write(&path, &original).unwrap();
        assert!(registry.verify().unwrap().is_ok());
    }
}

#[test]
fn truncation_deletion_and_dangling_aliases_are_detected() {
    let (_dir, registry, v) = setup();
    let dir = registry.root().join("versions/1.0.0");
    for file in ["model.bin", "metadata.json"] {
        let path = dir.join(file);
        let original = std::fs::read(&path).unwrap();
        // (Not len - 1: that only drops metadata.json's final newline.)
        for len in [0, 1, original.len() / 2, original.len() - 2] {
            std::fs::write(&path, &original[..len]).unwrap();
            let err = registry.get_model::<Vec<u8>>(&v).unwrap_err();
            assert!(err.to_string().contains(file), "{file} cut to {len}: {err}");
            assert!(!registry.verify().unwrap().is_ok());
        }
        std::fs::write(&path, &original).unwrap();
    }

    // The model deleted: loads fail naming it; verify fails; repair keeps
    // the metadata (a complete version is never removed).
    let model = std::fs::read(dir.join("model.bin")).unwrap();
    std::fs::remove_file(dir.join("model.bin")).unwrap();
    let err = registry.get_model::<Vec<u8>>(&v).unwrap_err();
    assert!(err.to_string().contains("model.bin"), "{err}");
    assert!(!registry.verify().unwrap().is_ok());
    registry.repair().unwrap();
    assert!(
        dir.join("metadata.json").exists(),
        "repair removed a version's metadata"
    );
    std::fs::write(dir.join("model.bin"), &model).unwrap();
    assert!(registry.verify().unwrap().is_ok());

    // An alias pointed at a version that does not exist.
    let pointer = registry.root().join("aliases/production.json");
    let text = std::fs::read_to_string(&pointer).unwrap();
    std::fs::write(
        &pointer,
        text.replace("\"version\": \"1.0.0\"", "\"version\": \"7.7.7\""),
    )
    .unwrap();
    let err = registry
        .get_by_alias::<Vec<u8>>(&"production".parse().unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("7.7.7"), "{err}");
    let report = registry.verify().unwrap();
    assert!(
        report.problems.iter().any(|p| p.message.contains("7.7.7")),
        "{report:?}"
    );
}
