//! The catalog: derived, never the source of truth; a segment per save,
//! compacted; held against the version listing and `latest`'s metadata by
//! readers, against every version's metadata by `verify`; rebuilt.

#![allow(clippy::field_reassign_with_default)]

mod common;

use common::v;
use registry_core::{CatalogRow, ModelInfo, NewFile, Registry};
use std::fs;
use std::path::Path;
use std::sync::Arc;

fn save(reg: &Registry, version: &str, score: f64) {
    let mut info = ModelInfo::default();
    info.test_score = Some(score);
    info.metrics.insert("f1".into(), serde_json::json!(score - 0.1));
    info.metrics
        .insert("per_label".into(), serde_json::json!([{"label": "a"}]));
    let file = NewFile {
        path: "m.bin".into(),
        bytes: version.as_bytes().to_vec(),
    };
    reg.save_files(&v(version), &[file], info).unwrap();
}

fn rows(reg: &Registry) -> Vec<CatalogRow> {
    reg.catalog().unwrap().into_iter().map(Result::unwrap).collect()
}

fn versions(reg: &Registry) -> Vec<String> {
    rows(reg).iter().map(|r| r.version.to_string()).collect()
}

fn segments(root: &Path) -> usize {
    fs::read_dir(root.join("catalog.d")).map_or(0, |d| d.count())
}

/// Rewrites the row of `version` (in its segment, or in catalog.json).
fn edit_row(root: &Path, version: &str, edit: impl Fn(&mut serde_json::Value)) {
    let segment = root.join("catalog.d").join(format!("{version}.json"));
    if segment.exists() {
        let mut row: serde_json::Value = serde_json::from_slice(&fs::read(&segment).unwrap()).unwrap();
        edit(&mut row);
        fs::write(&segment, serde_json::to_vec(&row).unwrap()).unwrap();
        return;
    }
    let catalog = root.join("catalog.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&catalog).unwrap()).unwrap();
    for row in doc["rows"].as_array_mut().unwrap() {
        if row["version"] == version {
            edit(row);
        }
    }
    fs::write(&catalog, serde_json::to_vec(&doc).unwrap()).unwrap();
}

#[test]
fn every_save_lands_in_the_catalog_with_its_scores_as_one_segment() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let reg = Registry::open(&root).unwrap();
    save(&reg, "1.0.0", 0.7);
    save(&reg, "1.1.0-rc.1", 0.8);
    save(&reg, "1.1.0", 0.9);
    assert_eq!(segments(&root), 3);
    assert!(!root.join("catalog.json").exists());
    let rows = rows(&reg);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].test_score, Some(0.9));
    assert_eq!(rows[2].metrics.get("f1"), Some(&(0.9 - 0.1)));
    assert!(!rows[2].metrics.contains_key("per_label"));
    assert_eq!(rows[2], CatalogRow::of(&reg.metadata(&v("1.1.0")).unwrap()));
    let report = reg.verify().unwrap();
    assert!(report.is_ok() && report.leftovers.is_empty(), "{report:?}");
}

#[test]
fn segments_are_compacted_so_a_save_never_rewrites_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let reg = Registry::open(&root).unwrap();
    let n = registry_core::CATALOG_COMPACT_AT + 10;
    for i in 0..n {
        save(&reg, &format!("1.0.{i}"), 0.5);
    }
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(root.join("catalog.json")).unwrap()).unwrap();
    let compacted = doc["rows"].as_array().unwrap().len();
    assert_eq!(compacted, registry_core::CATALOG_COMPACT_AT);
    assert_eq!(segments(&root), n - compacted);
    assert_eq!(rows(&reg).len(), n);
    let report = reg.verify().unwrap();
    assert!(report.is_ok() && report.leftovers.is_empty(), "{report:?}");
    reg.rebuild_catalog().unwrap();
    assert_eq!(segments(&root), 0);
    assert_eq!(rows(&reg).len(), n);
}

#[test]
fn a_missing_or_damaged_catalog_is_noticed_listed_around_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let reg = Registry::open(&root).unwrap();
    save(&reg, "1.0.0", 0.7);
    save(&reg, "1.1.0", 0.9);

    // A writer died after committing 1.1.0, before its segment: readers
    // read its metadata instead; verify calls it lag, not damage.
    fs::remove_file(root.join("catalog.d/1.1.0.json")).unwrap();
    assert_eq!(versions(&reg), ["1.0.0", "1.1.0"]);
    let report = reg.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert!(
        report.leftovers[0].message.contains("lacks 1 version"),
        "{:?}",
        report.leftovers
    );
    let repaired = reg.repair_older_than(std::time::Duration::ZERO).unwrap();
    assert!(repaired.catalog_rebuilt);
    assert_eq!(segments(&root), 0);
    assert!(reg.verify().unwrap().leftovers.is_empty());

    // Garbage in place of the catalog or a segment: listing still works,
    // verify notes it, repair replaces it.
    let good = fs::read(root.join("catalog.json")).unwrap();
    fs::write(root.join("catalog.json"), b"\x00not json").unwrap();
    fs::create_dir_all(root.join("catalog.d")).unwrap();
    fs::write(root.join("catalog.d/1.0.0.json"), b"{").unwrap();
    assert_eq!(versions(&reg), ["1.0.0", "1.1.0"]);
    let report = reg.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert!(report.leftovers[0].message.contains("cannot be read"), "{report:?}");
    reg.repair_older_than(std::time::Duration::ZERO).unwrap();
    assert_eq!(fs::read(root.join("catalog.json")).unwrap(), good);
    assert_eq!(segments(&root), 0);
}

#[test]
fn a_lying_catalog_is_damage_and_is_not_shown_where_it_can_be_caught() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let reg = Registry::open(&root).unwrap();
    save(&reg, "1.0.0", 0.7);
    save(&reg, "1.1.0", 0.9);
    save(&reg, "1.2.0", 0.8);
    reg.rebuild_catalog().unwrap();
    let honest = fs::read(root.join("catalog.json")).unwrap();

    // latest's own row invents a score: nothing in the catalog is used.
    edit_row(&root, "1.2.0", |r| r["test_score"] = serde_json::json!(0.99));
    edit_row(&root, "1.0.0", |r| r["test_score"] = serde_json::json!(0.98));
    let shown = rows(&reg);
    assert_eq!(shown[2].test_score, Some(0.8));
    assert_eq!(shown[0].test_score, Some(0.7));
    let report = reg.verify().unwrap();
    assert!(!report.is_ok());
    assert!(
        report.problems[0].message.contains("rows for 1.0.0, 1.2.0 differ"),
        "{:?}",
        report.problems
    );

    // A phantom version and a hidden real one: listing goes by the
    // versions that exist.
    fs::write(root.join("catalog.json"), &honest).unwrap();
    let mut doc: serde_json::Value = serde_json::from_slice(&honest).unwrap();
    let rows_json = doc["rows"].as_array_mut().unwrap();
    let mut phantom = rows_json[0].clone();
    phantom["version"] = "9.9.9".into();
    rows_json.remove(1);
    rows_json.push(phantom);
    fs::write(root.join("catalog.json"), serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(versions(&reg), ["1.0.0", "1.1.0", "1.2.0"]);
    let report = reg.verify().unwrap();
    assert!(
        report.problems[0]
            .message
            .contains("it lists 9.9.9, which do not exist"),
        "{:?}",
        report.problems
    );

    // A row other than latest's that lies is shown by a handle without
    // keys (verify catches it, above); with trusted keys listing reads the
    // signed metadata instead.
    fs::write(root.join("catalog.json"), &honest).unwrap();
    edit_row(&root, "1.0.0", |r| r["test_score"] = serde_json::json!(0.98));
    assert_eq!(rows(&reg)[0].test_score, Some(0.98));
    let checking = reg.with_model(None).with_signature_check(Arc::new(AcceptAll));
    let entries = checking.catalog().unwrap();
    assert_eq!(entries[0].as_ref().unwrap().test_score, Some(0.7));
    reg.rebuild_catalog().unwrap();
    assert!(reg.verify().unwrap().is_ok());
}

/// A check that accepts every version (the crate has no cryptography).
struct AcceptAll;

impl registry_core::SignatureCheck for AcceptAll {
    fn check(&self, _: &registry_core::SignedVersion<'_>) -> Result<String, String> {
        Ok("test".into())
    }
}

#[test]
fn verify_beside_saves_reports_no_phantom_and_no_damage() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let reg = Registry::open(&root).unwrap();
    save(&reg, "0.0.1", 0.5);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let root = root.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let reg = Registry::open(&root).unwrap();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 2000 {
                save(&reg, &format!("1.0.{i}"), 0.5);
                i += 1;
            }
            i
        })
    };
    let mut rounds = 0;
    while rounds < 30 {
        let report = reg.verify().unwrap();
        assert!(report.is_ok(), "round {rounds}: {:?}", report.problems);
        rounds += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let saved = writer.join().unwrap();
    assert!(saved > 0);
    assert_eq!(rows(&reg).len(), saved + 1);
}
