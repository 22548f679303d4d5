//! Retiring without deleting: alias deletion and version deprecation are
//! recorded and can be undone; versions stay immutable.

mod common;

use common::{registry_with, v};
use registry_core::{AliasAction, AliasName, Expect, ModelInfo, NewFile, PromotionGate, RegistryError};

#[test]
fn a_deleted_alias_resolves_to_nothing_and_a_rollback_restores_it() {
    let (_dir, reg) = registry_with(&["1.0.0", "1.1.0"]);
    let production: AliasName = "production".parse().unwrap();
    reg.set_alias(&production, &v("1.0.0"), Expect::Nothing).unwrap();

    let err = reg.delete_alias(&production, Expect::Version(v("1.1.0"))).unwrap_err();
    assert!(matches!(err, RegistryError::AliasConflict { .. }), "{err}");
    let deleted = reg.delete_alias(&production, Expect::Anything).unwrap();
    assert_eq!(deleted.action, AliasAction::Delete);
    let err = reg.resolve(&production).unwrap_err();
    assert!(
        err.to_string().contains("was deleted") && err.to_string().contains("rollback"),
        "{err}"
    );
    assert!(reg.list_aliases().unwrap().iter().all(|a| a.alias != production));
    assert!(matches!(
        reg.delete_alias(&production, Expect::Anything),
        Err(RegistryError::AliasDeleted { .. })
    ));
    assert!(reg.verify().unwrap().is_ok());

    // Undone: the alias names what it named before, and the history keeps all.
    assert_eq!(reg.rollback(&production).unwrap().version, v("1.0.0"));
    assert_eq!(reg.resolve(&production).unwrap().version, v("1.0.0"));
    let actions: Vec<AliasAction> = reg
        .alias_history(&production)
        .unwrap()
        .iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [AliasAction::Promote, AliasAction::Delete, AliasAction::Rollback]
    );

    // Deleted, then set anew like an alias that never existed.
    reg.delete_alias(&production, Expect::Anything).unwrap();
    reg.set_alias(&production, &v("1.1.0"), Expect::Nothing).unwrap();
    assert_eq!(reg.resolve(&production).unwrap().version, v("1.1.0"));
    assert!(matches!(
        reg.delete_alias(&AliasName::latest(), Expect::Anything),
        Err(RegistryError::ReservedAlias { .. })
    ));
}

#[test]
fn a_deprecated_version_leaves_latest_and_is_not_promoted_unless_forced() {
    let (_dir, reg) = registry_with(&["1.0.0", "1.1.0"]);
    let latest = AliasName::latest();
    assert_eq!(reg.resolve(&latest).unwrap().version, v("1.1.0"));

    let record = reg.set_deprecated(&v("1.1.0"), true, Some("leaks test data")).unwrap();
    assert!(record.deprecated);
    assert_eq!(reg.resolve(&latest).unwrap().version, v("1.0.0"));
    assert_eq!(
        reg.deprecated_versions().unwrap().keys().collect::<Vec<_>>(),
        [&v("1.1.0")]
    );
    // Still immutable and loadable by number; verify and repair leave latest be.
    assert!(reg.load_stored_version(&v("1.1.0")).is_ok());
    assert!(reg.verify().unwrap().leftovers.is_empty());
    reg.repair_older_than(std::time::Duration::ZERO).unwrap();
    assert_eq!(reg.resolve(&latest).unwrap().version, v("1.0.0"));

    let production: AliasName = "production".parse().unwrap();
    let err = reg
        .promote(&production, &v("1.1.0"), Expect::Anything, &PromotionGate::default())
        .unwrap_err();
    assert!(err.to_string().contains("deprecated: leaks test data"), "{err}");
    let forced = PromotionGate {
        force: true,
        ..PromotionGate::default()
    };
    reg.promote(&production, &v("1.1.0"), Expect::Anything, &forced)
        .unwrap();

    // A newer save is latest as usual; restoring 1.1.0 does not move latest back.
    reg.save_files(
        &v("1.2.0"),
        &[NewFile {
            path: "model.onnx".into(),
            bytes: b"1.2.0".to_vec(),
        }],
        ModelInfo::default(),
    )
    .unwrap();
    reg.set_deprecated(&v("1.1.0"), false, None).unwrap();
    assert!(reg.deprecation(&v("1.1.0")).unwrap().is_none());
    assert_eq!(reg.resolve(&latest).unwrap().version, v("1.2.0"));
    let history = reg.deprecation_history(&v("1.1.0")).unwrap();
    assert_eq!(history.iter().map(|r| r.deprecated).collect::<Vec<_>>(), [true, false]);
    assert!(matches!(
        reg.set_deprecated(&v("9.9.9"), true, None),
        Err(RegistryError::VersionNotFound { .. })
    ));
}

#[test]
fn restoring_the_newest_version_moves_latest_forward_again() {
    let (_dir, reg) = registry_with(&["1.0.0", "2.0.0"]);
    reg.set_deprecated(&v("2.0.0"), true, None).unwrap();
    assert_eq!(reg.resolve(&AliasName::latest()).unwrap().version, v("1.0.0"));
    reg.set_deprecated(&v("2.0.0"), false, None).unwrap();
    assert_eq!(reg.resolve(&AliasName::latest()).unwrap().version, v("2.0.0"));
    assert!(reg.verify().unwrap().is_ok());
}
