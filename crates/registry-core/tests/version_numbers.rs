//! MLflow-style version numbers: given in save order on first sight,
//! recorded, never changed or given twice, also under concurrent writers,
//! and usable in `models:/NAME/N`.

use registry_core::{ModelInfo, ModelName, NewFile, Registry};
use std::sync::Arc;

fn save(registry: &Registry, version: &str) {
    let file = NewFile {
        path: "m.bin".into(),
        bytes: version.as_bytes().to_vec(),
    };
    registry
        .save_files(&version.parse().unwrap(), &[file], ModelInfo::default())
        .unwrap();
}

fn model(dir: &std::path::Path) -> Registry {
    Registry::open(dir)
        .unwrap()
        .for_model(Some("spam".parse::<ModelName>().unwrap()))
}

#[test]
fn numbers_follow_save_order_and_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let registry = model(dir.path());
    save(&registry, "2.0.0");
    save(&registry, "1.5.0"); // saved later, a lower semver
    let numbers = registry.version_numbers(true).unwrap();
    let pairs: Vec<(u64, String)> = numbers.iter().map(|(n, v)| (n, v.to_string())).collect();
    assert_eq!(
        pairs,
        [(1, "2.0.0".to_string()), (2, "1.5.0".to_string())],
        "save order, not semver order"
    );
    // A read without persisting shows what the next numbering will give.
    save(&registry, "3.0.0");
    assert_eq!(
        registry
            .version_numbers(false)
            .unwrap()
            .number(&"3.0.0".parse().unwrap()),
        Some(3)
    );
    assert_eq!(
        registry.recorded_numbers().unwrap().number(&"3.0.0".parse().unwrap()),
        None
    );
    // Deleting a version keeps its number taken.
    registry.delete_version(&"1.5.0".parse().unwrap(), None).unwrap();
    save(&registry, "4.0.0");
    let numbers = registry.version_numbers(true).unwrap();
    assert_eq!(numbers.number(&"2.0.0".parse().unwrap()), Some(1));
    assert_eq!(numbers.number(&"1.5.0".parse().unwrap()), Some(2));
    assert_eq!(numbers.number(&"3.0.0".parse().unwrap()), Some(3));
    assert_eq!(numbers.number(&"4.0.0".parse().unwrap()), Some(4));
    // models:/spam/3 is version 3.0.0, for every front end.
    assert_eq!(registry.resolve_target("models:/spam/3").unwrap().to_string(), "3.0.0");
    let err = registry.resolve_target("models:/spam/9").unwrap_err().to_string();
    assert!(err.contains("9") && err.contains("1 (2.0.0)"), "{err}");
}

#[test]
fn concurrent_numbering_gives_each_version_one_number() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(model(dir.path()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let registry = registry.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let v = format!("{w}.{i}.0");
                    save(&registry, &v);
                    if i % 2 == 0 {
                        registry.number_saved(&v.parse().unwrap()).unwrap();
                    } else {
                        registry.version_numbers(true).unwrap();
                    }
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    for _ in 0..20 {
        seen.push(registry.version_numbers(true).unwrap());
    }
    for w in writers {
        w.join().unwrap();
    }
    let last = registry.version_numbers(true).unwrap();
    assert_eq!(last.iter().count(), 40);
    let mut versions: Vec<String> = last.iter().map(|(_, v)| v.to_string()).collect();
    versions.sort();
    versions.dedup();
    assert_eq!(versions.len(), 40, "no version numbered twice");
    // Every number seen while they raced is the number it still has.
    for earlier in &seen {
        for (n, v) in earlier.iter() {
            assert_eq!(last.version(n), Some(v), "number {n} changed");
        }
    }
}
