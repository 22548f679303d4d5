//! Deleting versions: refused while an alias names one, recorded, then
//! absent from the catalog and latest's candidates, refused by every load,
//! promotion and rollback, and restored by undelete; and a deletion racing
//! a promotion never leaves an alias naming a deleted version.

mod common;

use common::v;
use registry_core::{AliasName, ErrorKind, Expect, ModelInfo, NewFile, Registry, RegistryError};
use std::sync::Barrier;

fn registry_with(versions: &[&str]) -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path().join("registry")).unwrap();
    for version in versions {
        save(&reg, version);
    }
    (dir, reg)
}

fn save(reg: &Registry, version: &str) {
    let file = NewFile {
        path: "model.onnx".into(),
        bytes: version.as_bytes().to_vec(),
    };
    reg.save_files(&v(version), &[file], ModelInfo::default()).unwrap();
}

fn alias(name: &str) -> AliasName {
    name.parse().unwrap()
}

fn listed(reg: &Registry) -> Vec<String> {
    reg.catalog()
        .unwrap()
        .into_iter()
        .map(|e| e.unwrap().version.to_string())
        .collect()
}

#[test]
fn a_version_an_alias_names_is_not_deleted_and_the_refusal_says_how_to_move_it() {
    let (_dir, reg) = registry_with(&["1.0.0", "1.1.0"]);
    reg.set_alias(&alias("production"), &v("1.0.0"), Expect::Nothing)
        .unwrap();

    let err = reg.delete_version(&v("1.0.0"), None).unwrap_err();
    assert!(matches!(err, RegistryError::VersionInUse { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("alias production names it"), "{text}");
    assert!(
        text.contains("registry promote OTHER_VERSION --to production"),
        "{text}"
    );
    assert_eq!(err.kind().exit_code(), 1);

    let err = reg.delete_version(&v("1.1.0"), None).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("alias latest names it"), "{text}");
    assert!(text.contains("registry deprecate 1.1.0"), "{text}");

    let err = reg.delete_version(&v("9.9.9"), None).unwrap_err();
    assert!(matches!(err, RegistryError::VersionNotFound { .. }), "{err}");
    assert!(reg.deleted_versions().unwrap().is_empty(), "a refusal changed nothing");
    assert_eq!(listed(&reg), ["1.0.0", "1.1.0"]);
}

#[test]
fn a_deleted_version_is_hidden_refused_everywhere_and_restored_by_undelete() {
    let (_dir, reg) = registry_with(&["1.0.0", "1.1.0", "1.2.0"]);
    let production = alias("production");
    // production named 1.1.0 once: a rollback would return to it.
    reg.set_alias(&production, &v("1.1.0"), Expect::Nothing).unwrap();
    reg.set_alias(&production, &v("1.0.0"), Expect::Anything).unwrap();

    let record = reg
        .delete_version(&v("1.1.0"), Some("trained on leaked labels"))
        .unwrap();
    assert!(record.deleted);
    assert_eq!(record.reason.as_deref(), Some("trained on leaked labels"));
    assert!(!record.by.user.is_empty());

    // Absent from the catalog; named by deleted_versions.
    assert_eq!(listed(&reg), ["1.0.0", "1.2.0"]);
    assert!(reg.deleted_versions().unwrap().contains_key(&v("1.1.0")));

    // Every load says who deleted it, when and why, with its own kind.
    let err = reg.metadata(&v("1.1.0")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deleted);
    assert_eq!(err.kind().exit_code(), 6);
    assert_eq!(err.kind().http_status(), 410);
    let text = err.to_string();
    for part in [
        "version 1.1.0 was deleted on ",
        "trained on leaked labels",
        "registry undelete 1.1.0",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    assert!(matches!(
        reg.load_artifact(&v("1.1.0")),
        Err(RegistryError::VersionDeleted { .. })
    ));

    // Neither promoted nor rolled back to.
    let err = reg
        .set_alias(&alias("staging"), &v("1.1.0"), Expect::Anything)
        .unwrap_err();
    assert!(matches!(err, RegistryError::VersionDeleted { .. }), "{err}");
    let err = reg.rollback(&production).unwrap_err();
    assert!(matches!(err, RegistryError::VersionDeleted { .. }), "{err}");
    assert_eq!(reg.resolve(&production).unwrap().version, v("1.0.0"));

    // Deleting it again changes nothing and says when it was deleted.
    let err = reg.delete_version(&v("1.1.0"), None).unwrap_err();
    assert!(matches!(err, RegistryError::VersionDeleted { .. }), "{err}");
    // Its bytes are still whole until gc.
    let report = reg.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");

    let restored = reg.undelete_version(&v("1.1.0")).unwrap();
    assert!(!restored.deleted);
    assert_eq!(reg.metadata(&v("1.1.0")).unwrap().version, v("1.1.0"));
    assert_eq!(listed(&reg), ["1.0.0", "1.1.0", "1.2.0"]);
    assert_eq!(reg.rollback(&production).unwrap().version, v("1.1.0"));
    let history = reg.deletion_history(&v("1.1.0")).unwrap();
    assert_eq!(
        history.iter().map(|r| (r.seq, r.deleted)).collect::<Vec<_>>(),
        [(1, true), (2, false)]
    );
    let err = reg.undelete_version(&v("1.1.0")).unwrap_err();
    assert!(matches!(err, RegistryError::NotDeleted { .. }), "{err}");
    let err = reg.undelete_version(&v("1.0.0")).unwrap_err();
    assert!(matches!(err, RegistryError::NotDeleted { .. }), "{err}");
}

#[test]
fn a_deleted_version_is_never_latest_again() {
    let (_dir, reg) = registry_with(&["1.0.0", "1.1.0"]);
    let latest = AliasName::latest();
    // Deprecating moves latest back, so the newest can then be deleted.
    reg.set_deprecated(&v("1.1.0"), true, None).unwrap();
    assert_eq!(reg.resolve(&latest).unwrap().version, v("1.0.0"));
    reg.delete_version(&v("1.1.0"), None).unwrap();
    // Restoring the deprecation does not bring a deleted version back.
    reg.set_deprecated(&v("1.1.0"), false, None).unwrap();
    assert_eq!(reg.resolve(&latest).unwrap().version, v("1.0.0"));
    let repaired = reg.repair_older_than(std::time::Duration::ZERO).unwrap();
    assert_eq!(repaired.latest_moved_to, None);
    assert_eq!(reg.resolve(&latest).unwrap().version, v("1.0.0"));
}

#[test]
fn a_deletion_racing_a_promotion_never_leaves_an_alias_naming_a_deleted_version() {
    let (_dir, reg) = registry_with(&["1.0.0"]);
    let staging = alias("staging");
    let mut deleted = 0;
    let mut promoted = 0;
    for i in 1..=40 {
        let version = format!("1.{i}.0");
        save(&reg, &version);
        // latest names the newest: move it off so only staging can refuse.
        reg.set_deprecated(&v(&version), true, None).unwrap();
        let barrier = Barrier::new(2);
        let (deletion, promotion) = std::thread::scope(|s| {
            let d = s.spawn(|| {
                barrier.wait();
                reg.delete_version(&v(&version), None)
            });
            let p = s.spawn(|| {
                barrier.wait();
                reg.set_alias(&staging, &v(&version), Expect::Anything)
            });
            (d.join().unwrap(), p.join().unwrap())
        });
        deleted += usize::from(deletion.is_ok());
        promoted += usize::from(promotion.is_ok());
        let now_deleted = reg.deletion(&v(&version)).unwrap().is_some();
        let staged = reg.resolve(&staging).map(|r| r.version).ok();
        assert!(
            !(now_deleted && staged == Some(v(&version))),
            "round {i}: staging names deleted {version} ({deletion:?}, {promotion:?})"
        );
        // Whichever won, the loser's error is a refusal, not damage.
        for err in [deletion.err(), promotion.err()].into_iter().flatten() {
            assert!(
                matches!(
                    err,
                    RegistryError::VersionInUse { .. } | RegistryError::VersionDeleted { .. }
                ),
                "round {i}: {err}"
            );
        }
    }
    assert!(deleted + promoted >= 40, "{deleted} deleted, {promoted} promoted");
    assert!(reg.verify().unwrap().is_ok());
}
