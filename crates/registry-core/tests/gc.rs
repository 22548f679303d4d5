//! gc: only versions deleted longer ago than the grace period lose their
//! files; a collected version is gone for good (never undeleted, its
//! number never reused) and says so; a version being moved to (pinned) or
//! named is kept; a killed gc is finished by the next; verify knows the
//! difference between gc's work and damage. The race against everything
//! else is in registry-open's tests/gc_race.rs.

mod common;

use common::{registry_with, v};
use registry_core::{AliasName, Bump, CollectionState, ErrorKind, Expect, ModelInfo, NewFile, RegistryError};
use std::path::Path;
use std::time::Duration;

fn root(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("registry")
}

fn alias(name: &str) -> AliasName {
    name.parse().unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn gc_removes_only_versions_deleted_longer_ago_than_the_grace_period() {
    let (dir, reg) = registry_with(&["1.0.0", "1.0.1", "1.0.2"]);
    reg.delete_version(&v("1.0.0"), Some("bad data")).unwrap();
    reg.delete_version(&v("1.0.1"), None).unwrap();

    // Within the grace period: kept, restorable, and the report says so.
    let report = reg.gc(HOUR, false).unwrap();
    assert!(report.collected.is_empty(), "{report:?}");
    assert_eq!(report.kept.len(), 2);
    assert!(
        report.kept[0].reason.contains("within the grace period of 1h"),
        "{}",
        report.kept[0].reason
    );

    // A dry run says what would go, and how much, and removes nothing.
    let dry = reg.gc(Duration::ZERO, true).unwrap();
    let would: Vec<String> = dry.collected.iter().map(|c| c.version.to_string()).collect();
    assert_eq!(would, ["1.0.0", "1.0.1"]);
    // model.onnx (5 bytes each) and metadata.json.
    assert!(dry.bytes_freed > 2 * 5 + 2 * 300, "{}", dry.bytes_freed);
    assert!(root(&dir).join("versions/1.0.0/model.onnx").is_file());

    let report = reg.gc(Duration::ZERO, false).unwrap();
    let removed: Vec<String> = report.collected.iter().map(|c| c.version.to_string()).collect();
    assert_eq!(removed, ["1.0.0", "1.0.1"]);
    assert_eq!(
        report.bytes_freed, dry.bytes_freed,
        "the dry run predicted the real one"
    );
    assert_eq!(report.collected[0].files, 2, "model.onnx and metadata.json");
    assert!(!root(&dir).join("versions/1.0.0").exists());
    assert!(!root(&dir).join("versions/1.0.1").exists());
    assert!(
        root(&dir).join("versions/1.0.2/model.onnx").is_file(),
        "live versions untouched"
    );

    // The record stays, marked collected with the bytes it freed.
    let record = reg.deletion(&v("1.0.0")).unwrap().unwrap();
    let collection = record.collection.as_ref().unwrap();
    assert_eq!(collection.state, CollectionState::Collected);
    assert_eq!(collection.bytes, Some(report.collected[0].bytes));
    assert_eq!(
        record.reason.as_deref(),
        Some("bad data"),
        "the deletion's reason survives"
    );

    // A second gc finds nothing; verify finds nothing wrong.
    assert!(reg.gc(Duration::ZERO, false).unwrap().collected.is_empty());
    let verify = reg.verify().unwrap();
    assert!(verify.is_ok(), "{:?}", verify.problems);
    assert!(verify.leftovers.is_empty(), "{:?}", verify.leftovers);
}

#[test]
fn a_collected_version_says_so_is_never_restored_and_its_number_is_never_reused() {
    let (_dir, reg) = registry_with(&["1.0.0", "1.0.1", "1.0.2"]);
    let production = alias("production");
    reg.set_alias(&production, &v("1.0.2"), Expect::Nothing).unwrap();
    reg.set_alias(&production, &v("1.0.1"), Expect::Anything).unwrap();
    reg.set_alias(&production, &v("1.0.0"), Expect::Anything).unwrap();
    reg.set_alias(&production, &v("1.0.2"), Expect::Anything).unwrap();
    // Deleted last, so the newest is the one a save would reuse.
    reg.delete_version(&v("1.0.0"), Some("leaked labels")).unwrap();
    reg.gc(Duration::ZERO, false).unwrap();

    let err = reg.get_model::<String>(&v("1.0.0")).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Deleted, "{text}");
    assert!(text.contains("leaked labels"), "{text}");
    assert!(text.contains("`registry gc` removed its files on"), "{text}");
    assert!(text.contains("cannot be restored"), "{text}");

    let err = reg.undelete_version(&v("1.0.0")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deleted, "{err}");
    let err = reg.set_alias(&production, &v("1.0.0"), Expect::Anything).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deleted, "{err}");
    let err = reg.rollback_to(&production, &v("1.0.0")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deleted, "{err}");
    let err = reg.delete_version(&v("1.0.0"), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deleted, "{err}");

    // Its number is taken: an explicit save is refused, a bumped one skips it.
    let file = NewFile {
        path: "model.onnx".into(),
        bytes: b"other bytes".to_vec(),
    };
    let err = reg
        .save_files(&v("1.0.0"), std::slice::from_ref(&file), ModelInfo::default())
        .unwrap_err();
    assert!(matches!(err, RegistryError::VersionCollected { .. }), "{err}");
    assert!(err.to_string().contains("never reused"), "{err}");
    assert_eq!(err.kind(), ErrorKind::VersionExists);

    // The newest version, collected, is skipped too.
    reg.set_alias(&production, &v("1.0.1"), Expect::Anything).unwrap();
    reg.set_deprecated(&v("1.0.2"), true, None).unwrap();
    reg.delete_version(&v("1.0.2"), None).unwrap();
    reg.gc(Duration::ZERO, false).unwrap();
    let saved = reg.save_files_next(Bump::Patch, &[file], ModelInfo::default()).unwrap();
    assert_eq!(saved.version, v("1.0.3"));
    assert!(reg.verify().unwrap().is_ok());
}

/// Writes a pin by hand where a mover would (pins.rs): what a promotion
/// under way looks like to gc.
fn plant_pin(root: &Path, version: &str) -> std::path::PathBuf {
    let dir = root.join("pins").join(version);
    std::fs::create_dir_all(&dir).unwrap();
    let pin = dir.join("elsewhere-1-1-0.json");
    std::fs::write(&pin, br#"{"version":"x"}"#).unwrap();
    pin
}

fn age_file(path: &Path, by: Duration) {
    let when = std::time::SystemTime::now() - by;
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(when).unwrap();
}

#[test]
fn a_version_being_moved_to_is_kept_and_a_killed_movers_pin_only_delays_gc() {
    let (dir, reg) = registry_with(&["1.0.0", "1.0.1"]);
    reg.delete_version(&v("1.0.0"), None).unwrap();
    let pin = plant_pin(&root(&dir), "1.0.0");

    let report = reg.gc(Duration::ZERO, false).unwrap();
    assert!(report.collected.is_empty(), "{report:?}");
    assert!(
        report.kept[0].reason.contains("being moved to it"),
        "{}",
        report.kept[0].reason
    );
    // The claim was taken back: still deleted, still restorable.
    let record = reg.deletion(&v("1.0.0")).unwrap().unwrap();
    assert!(record.collection.is_none(), "{record:?}");
    assert!(root(&dir).join("versions/1.0.0/model.onnx").is_file());

    // A pin older than an hour is a killed mover's: removed, and the
    // version collected.
    age_file(&pin, Duration::from_secs(2 * 3600));
    let report = reg.gc(Duration::ZERO, false).unwrap();
    assert_eq!(report.collected.len(), 1, "{report:?}");
    assert!(!pin.exists());
    assert!(reg.verify().unwrap().is_ok());
}

#[test]
fn the_next_gc_finishes_a_killed_one_and_verify_calls_it_a_leftover_meanwhile() {
    let (dir, reg) = registry_with(&["1.0.0", "1.0.1"]);
    reg.delete_version(&v("1.0.0"), None).unwrap();
    // What a gc killed after its claim and its first removal leaves: the
    // record says collecting, metadata.json is gone, model.onnx is not.
    let pointer = root(&dir).join("deletions/1.0.0.json");
    let mut record: serde_json::Value = serde_json::from_slice(&std::fs::read(&pointer).unwrap()).unwrap();
    record["seq"] = serde_json::json!(2);
    record["collection"] = serde_json::json!({
        "state": "collecting",
        "at": "2026-01-01T00:00:00Z",
        "by": {"user": "gc", "host": "killed"}
    });
    std::fs::write(&pointer, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    std::fs::remove_file(root(&dir).join("versions/1.0.0/metadata.json")).unwrap();

    let err = reg.undelete_version(&v("1.0.0")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deleted, "{err}");
    let verify = reg.verify().unwrap();
    assert!(verify.is_ok(), "{:?}", verify.problems);
    assert!(
        verify
            .leftovers
            .iter()
            .any(|l| l.message.contains("interrupted gc of deleted version 1.0.0")),
        "{:?}",
        verify.leftovers
    );

    let report = reg.gc(HOUR, false).unwrap();
    assert_eq!(
        report.collected.len(),
        1,
        "a claim is finished whatever the grace: {report:?}"
    );
    assert!(!root(&dir).join("versions/1.0.0").exists());
    let record = reg.deletion(&v("1.0.0")).unwrap().unwrap();
    assert_eq!(record.collection.unwrap().state, CollectionState::Collected);
    // The record written by hand above has no event; repair appends it.
    let verify = reg.verify().unwrap();
    assert!(verify.is_ok() && verify.leftovers.len() == 1, "{verify:?}");
    assert!(
        verify.leftovers[0]
            .location
            .ends_with("deletions-history/1.0.0/0000000002.json")
    );
    reg.repair_older_than(Duration::ZERO).unwrap();
    let verify = reg.verify().unwrap();
    assert!(verify.is_ok() && verify.leftovers.is_empty(), "{verify:?}");
    let kinds: Vec<String> = reg.events(0, 100).unwrap().into_iter().map(|e| e.kind).collect();
    assert!(
        kinds.ends_with(&["gc".to_string(), "gc_claim".to_string()]),
        "{kinds:?}"
    );
}

#[test]
fn verify_tells_a_deleted_version_removed_by_hand_from_one_gc_removed() {
    let (dir, reg) = registry_with(&["1.0.0", "1.0.1", "1.0.2"]);
    reg.delete_version(&v("1.0.0"), None).unwrap();
    reg.delete_version(&v("1.0.1"), None).unwrap();
    reg.gc(Duration::ZERO, false).unwrap();
    assert!(reg.verify().unwrap().is_ok());

    // Save and delete one more, then remove it by hand.
    let file = NewFile {
        path: "model.onnx".into(),
        bytes: b"x".to_vec(),
    };
    reg.save_files(&v("0.9.0"), &[file], ModelInfo::default()).unwrap();
    reg.delete_version(&v("0.9.0"), None).unwrap();
    std::fs::remove_dir_all(root(&dir).join("versions/0.9.0")).unwrap();
    let verify = reg.verify().unwrap();
    assert_eq!(verify.problems.len(), 1, "{:?}", verify.problems);
    assert!(
        verify.problems[0].message.contains("gc did not remove them"),
        "{}",
        verify.problems[0].message
    );
}

#[test]
fn a_catalog_row_of_a_collected_version_is_lag_not_a_lie() {
    let (dir, reg) = registry_with(&["1.0.0", "1.0.1"]);
    reg.rebuild_catalog().unwrap();
    let catalog = std::fs::read(root(&dir).join("catalog.json")).unwrap();
    reg.delete_version(&v("1.0.0"), None).unwrap();
    reg.gc(Duration::ZERO, false).unwrap();
    // A compaction that read the versions before gc removed one writes
    // its row back.
    std::fs::write(root(&dir).join("catalog.json"), catalog).unwrap();
    let verify = reg.verify().unwrap();
    assert!(verify.is_ok(), "{:?}", verify.problems);
    assert!(verify.catalog_stale);
    let versions: Vec<String> = reg
        .catalog()
        .unwrap()
        .into_iter()
        .map(|e| e.unwrap().version.to_string())
        .collect();
    assert_eq!(versions, ["1.0.1"]);
}
