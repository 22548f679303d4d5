//! The catalog: derived, never the source of truth, checked and rebuilt.

#![allow(clippy::field_reassign_with_default)]

mod common;

use common::v;
use registry_core::{CatalogRow, ModelInfo, NewFile, Registry};
use std::fs;

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

fn versions(reg: &Registry) -> Vec<String> {
    reg.catalog()
        .unwrap()
        .into_iter()
        .map(|e| e.unwrap().version.to_string())
        .collect()
}

#[test]
fn every_save_lands_in_the_catalog_with_its_scores() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path().join("registry")).unwrap();
    save(&reg, "1.0.0", 0.7);
    save(&reg, "1.1.0-rc.1", 0.8);
    save(&reg, "1.1.0", 0.9);
    let stored: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("registry/catalog.json")).unwrap()).unwrap();
    assert_eq!(stored["rows"].as_array().unwrap().len(), 3);
    let rows: Vec<CatalogRow> = reg.catalog().unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(rows[2].test_score, Some(0.9));
    assert_eq!(rows[2].metrics.get("f1"), Some(&(0.9 - 0.1)));
    assert!(!rows[2].metrics.contains_key("per_label"));
    assert_eq!(rows[2], CatalogRow::of(&reg.metadata(&v("1.1.0")).unwrap()));
    assert!(reg.verify().unwrap().leftovers.is_empty());
}

#[test]
fn a_stale_or_damaged_catalog_is_noticed_listed_around_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path().join("registry")).unwrap();
    save(&reg, "1.0.0", 0.7);
    save(&reg, "1.1.0", 0.9);
    let catalog = dir.path().join("registry/catalog.json");
    let good = fs::read(&catalog).unwrap();

    // A writer died after moving latest to 1.1.0, before the catalog: the
    // catalog lacks latest, so readers list the versions instead.
    let mut doc: serde_json::Value = serde_json::from_slice(&good).unwrap();
    doc["rows"].as_array_mut().unwrap().pop();
    fs::write(&catalog, serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(versions(&reg), ["1.0.0", "1.1.0"]);
    let report = reg.verify().unwrap();
    assert!(report.is_ok());
    assert!(
        report.leftovers[0].message.contains("lacks 1 version"),
        "{:?}",
        report.leftovers
    );
    let repaired = reg.repair_older_than(std::time::Duration::ZERO).unwrap();
    assert!(repaired.catalog_rebuilt);
    assert_eq!(fs::read(&catalog).unwrap(), good);

    // Garbage in place of the catalog: listing still works, repair replaces it.
    fs::write(&catalog, b"\x00not json").unwrap();
    assert_eq!(versions(&reg), ["1.0.0", "1.1.0"]);
    assert!(!reg.verify().unwrap().leftovers.is_empty());
    reg.repair_older_than(std::time::Duration::ZERO).unwrap();
    assert_eq!(fs::read(&catalog).unwrap(), good);

    // Gone: the next save folds in every version.
    fs::remove_file(&catalog).unwrap();
    save(&reg, "1.2.0", 0.95);
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&catalog).unwrap()).unwrap();
    assert_eq!(doc["rows"].as_array().unwrap().len(), 3);
    assert!(reg.verify().unwrap().leftovers.is_empty());
}

#[test]
fn a_catalog_that_lies_about_a_score_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path().join("registry")).unwrap();
    save(&reg, "1.0.0", 0.7);
    let catalog = dir.path().join("registry/catalog.json");
    let text = fs::read_to_string(&catalog).unwrap();
    fs::write(&catalog, text.replace("\"test_score\":0.7", "\"test_score\":0.99")).unwrap();
    let report = reg.verify().unwrap();
    assert!(
        report.leftovers[0].message.contains("differs on 1"),
        "{:?}",
        report.leftovers
    );
    assert!(report.catalog_stale);
    // show reads the metadata, the source of truth; repair's cheap check
    // (the names) passes, a rebuild fixes the rows.
    assert_eq!(reg.metadata(&v("1.0.0")).unwrap().info.test_score, Some(0.7));
    assert!(
        !reg.repair_older_than(std::time::Duration::ZERO)
            .unwrap()
            .catalog_rebuilt
    );
    reg.rebuild_catalog().unwrap();
    assert!(reg.verify().unwrap().leftovers.is_empty());
}
