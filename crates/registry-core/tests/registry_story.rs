//! A user's story with the registry: save, load, promote, roll back,
//! verify; and each guarantee the crate docs make.

#![allow(clippy::field_reassign_with_default)]

mod common;

use common::v;
use registry_core::store::{MemoryStore, Store};
use registry_core::{
    AliasAction, AliasName, Artifact, Bump, DataFingerprint, Encoding, Expect, ModelInfo, ModelVersion, Registry,
    RegistryError,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Weights {
    name: String,
    w: Vec<f32>,
}

fn alias(s: &str) -> AliasName {
    s.parse().unwrap()
}
fn weights(n: usize) -> Weights {
    Weights {
        name: format!("w{n}"),
        w: (0..n).map(|i| i as f32 * 0.5).collect(),
    }
}
fn info(test: f64) -> ModelInfo {
    let mut i = ModelInfo::default();
    i.test_score = Some(test);
    i.cv_score = Some(test - 0.01);
    i.hyperparameters.insert("C".into(), serde_json::json!(1.0));
    i
}

fn open() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path().join("registry")).unwrap();
    (dir, registry)
}

#[test]
fn save_then_load_latest_version_and_alias() {
    let (_dir, reg) = open();
    assert!(matches!(
        reg.get_latest_model::<Weights>(),
        Err(RegistryError::Empty { .. })
    ));
    reg.save_model(&v("1.0.0"), &weights(3), info(0.8)).unwrap();
    reg.save_model(&v("1.1.0"), &weights(5), info(0.9)).unwrap();

    let (latest, md): (Weights, _) = reg.get_latest_model().unwrap();
    assert_eq!(latest, weights(5));
    assert_eq!(md.version, v("1.1.0"));
    assert_eq!(md.info.test_score, Some(0.9));

    let (old, md): (Weights, _) = reg.get_model(&v("1.0.0")).unwrap();
    assert_eq!(old, weights(3));
    assert_eq!(md.version, v("1.0.0"));

    // The latest/ view shows the newest version's files.
    let root = reg.root().to_path_buf();
    let via_view = std::fs::read(root.join("latest/metadata.json")).unwrap();
    let direct = std::fs::read(root.join("versions/1.1.0/metadata.json")).unwrap();
    assert_eq!(via_view, direct);
    assert!(root.join("latest/model.bin").is_file());
}

#[test]
fn versions_are_immutable() {
    let (_dir, reg) = open();
    reg.save_model(&v("1.0.0"), &weights(3), info(0.8)).unwrap();
    let before = std::fs::read(reg.root().join("versions/1.0.0/model.bin")).unwrap();
    let err = reg.save_model(&v("1.0.0"), &weights(4), info(0.9)).unwrap_err();
    assert!(
        matches!(err, RegistryError::VersionExists { complete: true, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("1.0.0") && msg.contains("immutable"), "{msg}");
    assert_eq!(
        std::fs::read(reg.root().join("versions/1.0.0/model.bin")).unwrap(),
        before
    );
    let (m, _): (Weights, _) = reg.get_model(&v("1.0.0")).unwrap();
    assert_eq!(m, weights(3));
}

#[test]
fn latest_never_moves_backwards() {
    let (_dir, reg) = open();
    reg.save_model(&v("2.0.0"), &weights(1), info(0.8)).unwrap();
    reg.save_model(&v("1.5.0"), &weights(2), info(0.8)).unwrap();
    reg.save_model(&v("2.0.0-rc.1"), &weights(3), info(0.8)).unwrap();
    assert_eq!(reg.resolve(&AliasName::latest()).unwrap().version, v("2.0.0"));
    assert_eq!(
        reg.list_versions().unwrap(),
        vec![v("1.5.0"), v("2.0.0-rc.1"), v("2.0.0")]
    );
}

#[test]
fn list_versions_uses_semver_precedence() {
    let reg = Registry::with_store(MemoryStore::new());
    for s in [
        "1.10.0",
        "1.2.0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-beta.11",
        "1.0.0-beta.2",
        "1.0.0",
    ] {
        reg.save_model(&v(s), &weights(1), ModelInfo::default()).unwrap();
    }
    let listed: Vec<String> = reg.list_versions().unwrap().iter().map(|v| v.to_string()).collect();
    assert_eq!(
        listed,
        [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0",
            "1.2.0",
            "1.10.0"
        ]
    );
}

#[test]
fn next_version_bumps_the_highest() {
    let reg = Registry::with_store(MemoryStore::new());
    assert_eq!(reg.next_version(Bump::Patch).unwrap(), v("1.0.0"));
    assert_eq!(reg.next_version(Bump::Major).unwrap(), v("1.0.0"));
    reg.save_model(&v("1.2.3"), &weights(1), ModelInfo::default()).unwrap();
    reg.save_model(&v("0.9.0"), &weights(1), ModelInfo::default()).unwrap();
    assert_eq!(reg.next_version(Bump::Patch).unwrap(), v("1.2.4"));
    assert_eq!(reg.next_version(Bump::Minor).unwrap(), v("1.3.0"));
    assert_eq!(reg.next_version(Bump::Major).unwrap(), v("2.0.0"));
    reg.save_model(&v("1.3.0-rc.1"), &weights(1), ModelInfo::default())
        .unwrap();
    assert_eq!(reg.next_version(Bump::Patch).unwrap(), v("1.3.0"));
    let saved = reg.save_next(Bump::Patch, &weights(2), ModelInfo::default()).unwrap();
    assert_eq!(saved.version, v("1.3.0"));
}

#[test]
fn invalid_versions_and_aliases_are_rejected() {
    for bad in [
        "",
        "../x",
        "/etc",
        "1.0.0/../../x",
        "1.0",
        "v1.0.0",
        "1.0.0\0",
        "1.0.0+build.1",
        "01.0.0",
    ] {
        let err = bad.parse::<ModelVersion>().unwrap_err();
        assert!(matches!(err, RegistryError::InvalidVersion { .. }), "{bad:?}: {err}");
        assert!(err.to_string().contains("semver"), "{err}");
    }
    let long = "a".repeat(65);
    for bad in [
        "",
        "../x",
        "/etc",
        "Production",
        "prod/../x",
        "prod\0",
        "1prod",
        "prod.json",
        long.as_str(),
    ] {
        let err = bad.parse::<AliasName>().unwrap_err();
        assert!(matches!(err, RegistryError::InvalidAlias { .. }), "{bad:?}: {err}");
    }
}

#[test]
fn promote_rollback_and_history() {
    let (_dir, reg) = open();
    for (s, score) in [("1.0.0", 0.7), ("1.1.0", 0.8), ("1.2.0", 0.9)] {
        reg.save_model(&v(s), &weights(2), info(score)).unwrap();
    }
    let prod = alias("production");
    assert!(matches!(reg.resolve(&prod), Err(RegistryError::AliasNotFound { .. })));
    reg.set_alias(&prod, &v("1.0.0"), Expect::Nothing).unwrap();
    reg.set_alias(&prod, &v("1.2.0"), Expect::Version(v("1.0.0"))).unwrap();

    // A stale expectation is refused and changes nothing.
    let err = reg
        .set_alias(&prod, &v("1.1.0"), Expect::Version(v("1.0.0")))
        .unwrap_err();
    match &err {
        RegistryError::AliasConflict { expected, actual, .. } => {
            assert_eq!(expected.as_deref(), Some("1.0.0"));
            assert_eq!(actual.as_deref(), Some("1.2.0"));
        }
        other => panic!("{other}"),
    }
    assert_eq!(reg.resolve(&prod).unwrap().version, v("1.2.0"));

    let back = reg.rollback(&prod).unwrap();
    assert_eq!(back.version, v("1.0.0"));
    assert_eq!(back.action, AliasAction::Rollback);
    let (_, md): (Weights, _) = reg.get_by_alias(&prod).unwrap();
    assert_eq!(md.version, v("1.0.0"));

    let history = reg.alias_history(&prod).unwrap();
    let moves: Vec<(u64, Option<String>, String)> = history
        .iter()
        .map(|r| (r.seq, r.previous.as_ref().map(|p| p.to_string()), r.version.to_string()))
        .collect();
    assert_eq!(
        moves,
        vec![
            (1, None, "1.0.0".into()),
            (2, Some("1.0.0".into()), "1.2.0".into()),
            (3, Some("1.2.0".into()), "1.0.0".into()),
        ]
    );
    // latest keeps its own history of saves.
    assert_eq!(reg.alias_history(&AliasName::latest()).unwrap().len(), 3);
}

#[test]
fn latest_is_reserved_and_unknown_targets_are_refused() {
    let (_dir, reg) = open();
    reg.save_model(&v("1.0.0"), &weights(2), info(0.7)).unwrap();
    let err = reg
        .set_alias(&AliasName::latest(), &v("1.0.0"), Expect::Anything)
        .unwrap_err();
    assert!(matches!(err, RegistryError::ReservedAlias { .. }));
    let err = reg
        .set_alias(&alias("staging"), &v("9.9.9"), Expect::Anything)
        .unwrap_err();
    match err {
        RegistryError::VersionNotFound { available, .. } => assert_eq!(available, vec!["1.0.0".to_string()]),
        other => panic!("{other}"),
    }
    assert!(matches!(
        reg.rollback(&alias("staging")),
        Err(RegistryError::AliasNotFound { .. })
    ));
    reg.set_alias(&alias("staging"), &v("1.0.0"), Expect::Nothing).unwrap();
    assert!(matches!(
        reg.rollback(&alias("staging")),
        Err(RegistryError::NothingToRollBack { .. })
    ));
}

#[test]
fn raw_artifacts_and_json_models() {
    let reg = Registry::with_store(MemoryStore::new());
    let onnx = Artifact {
        extension: "onnx".into(),
        encoding: Encoding::Raw,
        bytes: vec![8, 7, 0, 1, 2],
    };
    let md = reg.save_artifact(&v("1.0.0"), onnx, ModelInfo::default()).unwrap();
    assert_eq!(md.artifact.as_ref().map(|a| a.file.as_str()), Some("model.onnx"));
    let loaded = reg.load_artifact(&v("1.0.0")).unwrap();
    assert_eq!(loaded.bytes, vec![8, 7, 0, 1, 2]);
    assert!(matches!(
        reg.get_model::<Weights>(&v("1.0.0")),
        Err(RegistryError::Decode { .. })
    ));

    reg.save_model_json(&v("1.0.1"), &weights(2), ModelInfo::default())
        .unwrap();
    let raw = reg.store().read("versions/1.0.1/model.json").unwrap();
    assert!(serde_json::from_slice::<Weights>(&raw).is_ok());
    let (w, _): (Weights, _) = reg.get_model(&v("1.0.1")).unwrap();
    assert_eq!(w, weights(2));
}

#[test]
fn every_load_checks_size_and_sha256() {
    let (_dir, reg) = open();
    reg.save_model(&v("1.0.0"), &weights(100), info(0.7)).unwrap();
    let model = reg.root().join("versions/1.0.0/model.bin");
    let mut bytes = std::fs::read(&model).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x01;
    std::fs::write(&model, &bytes).unwrap();
    let err = reg.get_latest_model::<Weights>().unwrap_err();
    match &err {
        RegistryError::IntegrityMismatch {
            location,
            expected,
            actual,
            ..
        } => {
            assert!(location.ends_with("versions/1.0.0/model.bin"), "{location}");
            assert_ne!(expected, actual);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("model.bin"));
    bytes.truncate(n - 3);
    std::fs::write(&model, &bytes).unwrap();
    assert!(matches!(
        reg.get_model::<Weights>(&v("1.0.0")),
        Err(RegistryError::IntegrityMismatch { what: "size", .. })
    ));
    let report = reg.verify().unwrap();
    assert!(!report.is_ok());
    assert_eq!(
        report.problems.len(),
        2,
        "the version and the alias pointing at it: {report:?}"
    );
}

#[test]
fn edited_metadata_is_detected() {
    let (_dir, reg) = open();
    reg.save_model(&v("1.0.0"), &weights(2), info(0.7)).unwrap();
    let path = reg.root().join("versions/1.0.0/metadata.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace("\"test_score\": 0.7", "\"test_score\": 0.99");
    assert_ne!(text, edited);
    std::fs::write(&path, edited).unwrap();
    let err = reg.metadata(&v("1.0.0")).unwrap_err();
    assert!(matches!(err, RegistryError::IntegrityMismatch { .. }), "{err}");
    assert!(!reg.verify().unwrap().is_ok());
}

#[test]
fn newer_formats_are_refused_with_a_clear_error() {
    let (_dir, reg) = open();
    reg.save_model(&v("1.0.0"), &weights(2), info(0.7)).unwrap();
    let path = reg.root().join("versions/1.0.0/metadata.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"format_version\": 1", "\"format_version\": 7")).unwrap();
    let err = reg.metadata(&v("1.0.0")).unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::UnsupportedFormat {
                found: 7,
                supported: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade"));
}

#[test]
fn verify_passes_on_a_healthy_registry_and_repair_removes_interrupted_saves() {
    let (_dir, reg) = open();
    reg.save_model(&v("1.0.0"), &weights(2), info(0.7)).unwrap();
    reg.set_alias(&alias("production"), &v("1.0.0"), Expect::Anything)
        .unwrap();
    let report = reg.verify().unwrap();
    assert!(report.is_ok() && report.leftovers.is_empty(), "{report:?}");
    assert_eq!((report.versions_checked, report.aliases_checked), (1, 2));

    // An interrupted save: the model file without metadata, and a temp file.
    let dir = reg.root().join("versions/1.0.1");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.bin"), b"half").unwrap();
    std::fs::write(dir.join(".tmp-otherhost-1-1x1"), b"half").unwrap();
    assert_eq!(reg.list_versions().unwrap(), vec![v("1.0.0")]);
    assert_eq!(
        reg.next_version(Bump::Patch).unwrap(),
        v("1.0.2"),
        "never reuse a started version"
    );
    let report = reg.verify().unwrap();
    assert!(report.is_ok(), "leftovers are not damage: {report:?}");
    assert_eq!(report.leftovers.len(), 1);

    // Young: it may be a save still running, so the default grace period
    // (an hour) keeps it.
    let repaired = reg.repair().unwrap();
    assert!(repaired.removed.is_empty(), "{repaired:?}");
    assert!(
        repaired.kept.iter().any(|r| r.ends_with("versions/1.0.1/model.bin")),
        "{repaired:?}"
    );
    assert_eq!(reg.verify().unwrap().leftovers.len(), 1);
    // Two hours old: nobody is still writing it.
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(dir.join("model.bin"))
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    let repaired = reg.repair().unwrap();
    assert!(
        repaired.removed.iter().any(|r| r.ends_with("versions/1.0.1/model.bin")),
        "{repaired:?}"
    );
    assert!(reg.verify().unwrap().leftovers.is_empty());
    let (w, _): (Weights, _) = reg.get_model(&v("1.0.0")).unwrap();
    assert_eq!(w, weights(2), "repair never touches a complete version");
}

#[test]
fn repair_moves_a_lagging_latest_forward() {
    let (_dir, reg) = open();
    reg.save_model(&v("1.0.0"), &weights(2), info(0.7)).unwrap();
    // Simulate a save killed after its metadata was written but before
    // latest moved: copy the version under a new name, with fixed metadata.
    let other = Registry::with_store(MemoryStore::new());
    let md = other.save_model(&v("1.0.1"), &weights(3), info(0.8)).unwrap();
    let model = other.store().read("versions/1.0.1/model.bin").unwrap();
    let meta = other.store().read("versions/1.0.1/metadata.json").unwrap();
    let dir = reg.root().join("versions/1.0.1");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.bin"), model).unwrap();
    std::fs::write(dir.join("metadata.json"), meta).unwrap();
    assert_eq!(reg.resolve(&AliasName::latest()).unwrap().version, v("1.0.0"));
    let report = reg.verify().unwrap();
    assert!(report.is_ok());
    // latest lags, the catalog lacks the version and the log its save
    // (its save died first).
    assert_eq!(report.leftovers.len(), 3, "{report:?}");
    assert!(report.leftovers[0].message.contains("without its event"), "{report:?}");
    // No grace: the save's event is appended at once (by default only a
    // minute after the change, when its writer is surely gone).
    let repaired = reg.repair_older_than(std::time::Duration::ZERO).unwrap();
    assert_eq!(repaired.events_appended, ["versions/1.0.1/metadata.json"]);
    assert_eq!(repaired.latest_moved_to, Some(md.version));
    assert!(repaired.catalog_rebuilt);
    assert_eq!(reg.resolve(&AliasName::latest()).unwrap().action, AliasAction::Repair);
    let r = reg.verify().unwrap();
    assert!(r.is_ok() && r.leftovers.is_empty(), "{r:?}");
}

#[test]
fn metadata_records_lineage_and_fills_created_by() {
    let reg = Registry::with_store(MemoryStore::new());
    let mut i = info(0.8);
    i.lineage.data = Some(DataFingerprint {
        name: "reviews.tsv".into(),
        sha256: "ab".repeat(32),
        rows: 10,
        path: None,
        size: None,
    });
    i.tags.insert("team".into(), "search".into());
    let md = reg.save_model(&v("1.0.0"), &weights(1), i).unwrap();
    assert!(md.info.lineage.created_by.is_some());
    let reread = reg.metadata(&v("1.0.0")).unwrap();
    assert_eq!(reread, md);
    assert_eq!(reread.info.lineage.data.unwrap().rows, 10);
}

#[test]
fn load_decoded_checks_before_decoding_small_and_mapped_artifacts() {
    let (_dir, reg) = open();
    // 1 KB is read; 600 KB goes through the filesystem store's mapping.
    for (version, size) in [("1.0.0", 1_000usize), ("1.0.1", 600_000)] {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 253) as u8).collect();
        let artifact = registry_core::Artifact {
            extension: "bin".into(),
            encoding: registry_core::Encoding::Raw,
            bytes: bytes.clone(),
        };
        reg.save_artifact(&v(version), artifact, info(0.7)).unwrap();
        let (decoded, metadata) = reg.load_decoded(&v(version), |b| b.to_vec()).unwrap();
        assert_eq!(decoded, bytes);
        assert_eq!(metadata.version, v(version));
        let (via_alias, _) = reg.load_alias_decoded(&alias("latest"), |b| b.len()).unwrap();
        assert_eq!(via_alias, size);

        let path = reg.root().join(format!("versions/{version}/model.bin"));
        let mut flipped = bytes.clone();
        flipped[size / 3] ^= 0x40;
        std::fs::write(&path, &flipped).unwrap();
        let err = reg
            .load_decoded(&v(version), |_| {
                panic!("decode must not see bytes that fail the checksum")
            })
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::IntegrityMismatch { what: "blake3", .. }),
            "{err}"
        );
        assert!(!reg.verify().unwrap().is_ok());
        std::fs::write(&path, &bytes[..size - 1]).unwrap();
        let err = reg
            .load_decoded(&v(version), |_| panic!("decode must not see a truncated file"))
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::IntegrityMismatch { what: "size", .. }),
            "{err}"
        );
        std::fs::write(&path, &bytes).unwrap();
    }
}

#[test]
fn an_alias_at_the_largest_sequence_number_refuses_to_move_instead_of_wrapping() {
    let (_dir, reg) = open();
    reg.save_model(&v("1.0.0"), &weights(2), info(0.7)).unwrap();
    reg.save_model(&v("1.0.1"), &weights(3), info(0.8)).unwrap();
    reg.set_alias(&alias("production"), &v("1.0.0"), Expect::Nothing)
        .unwrap();
    let pointer = reg.root().join("aliases/production.json");
    let text = std::fs::read_to_string(&pointer).unwrap();
    std::fs::write(
        &pointer,
        text.replace("\"seq\": 1,", &format!("\"seq\": {},", u64::MAX)),
    )
    .unwrap();
    let err = reg
        .set_alias(&alias("production"), &v("1.0.1"), Expect::Anything)
        .unwrap_err();
    assert!(err.to_string().contains("the largest there is"), "{err}");
    assert_eq!(reg.resolve(&alias("production")).unwrap().version, v("1.0.0"));
    let history = reg.alias_history(&alias("production")).unwrap();
    assert!(history.iter().all(|r| r.seq != 0), "no wrapped entry: {history:?}");
}

#[test]
fn a_pre_release_never_becomes_latest_by_itself() {
    let (_dir, reg) = open();
    // Only pre-releases: latest is unset, and the message says why.
    reg.save_model(&v("3.0.0-rc.1"), &weights(1), info(0.9)).unwrap();
    let err = reg.resolve(&AliasName::latest()).unwrap_err();
    assert!(
        matches!(err, RegistryError::OnlyPreReleases { .. }) && err.to_string().contains("3.0.0-rc.1"),
        "{err}"
    );
    // A release moves it; a newer pre-release does not.
    reg.save_model(&v("1.0.0"), &weights(2), info(0.8)).unwrap();
    reg.save_model(&v("1.1.0-beta.2"), &weights(3), info(0.8)).unwrap();
    assert_eq!(reg.resolve(&AliasName::latest()).unwrap().version, v("1.0.0"));
    let (w, _): (Weights, _) = reg.get_latest_model().unwrap();
    assert_eq!(w, weights(2), "the default prediction uses the release");
    // Repair does not move it to a pre-release, and verify sees nothing amiss.
    let repaired = reg.repair().unwrap();
    assert_eq!(repaired.latest_moved_to, None);
    let report = reg.verify().unwrap();
    assert!(report.is_ok() && report.leftovers.is_empty(), "{report:?}");
    // An alias can still point at a pre-release.
    reg.set_alias(&alias("staging"), &v("3.0.0-rc.1"), Expect::Nothing)
        .unwrap();
    assert_eq!(reg.resolve(&alias("staging")).unwrap().version, v("3.0.0-rc.1"));
}
