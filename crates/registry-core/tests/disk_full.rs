//! A save into a registry whose file system fills up fails with an error
//! that says so, and leaves the registry exactly as it was. Needs root to
//! mount a small tmpfs (CI runs as root); elsewhere it says why it skipped.

use registry_core::{ModelInfo, ModelVersion, Registry, RegistryError};
use std::process::Command;
use test_support::disk::{Tmpfs, tree as listing};

/// A registry holding version 1.0.0 (1,000 bytes) on a fresh tmpfs of
/// `size`; `None` (after saying why) where mounting is not allowed.
fn registry_on_tmpfs(size: &str) -> Option<(Tmpfs, std::path::PathBuf, Registry, ModelVersion)> {
    let Some(fs) = Tmpfs::mount(size) else {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs this test as root)");
        return None;
    };
    let root = fs.0.join("registry");
    let registry = Registry::open(&root).unwrap();
    let v1: ModelVersion = "1.0.0".parse().unwrap();
    registry
        .save_model(&v1, &vec![1u8; 1000], ModelInfo::default())
        .unwrap();
    Some((fs, root, registry, v1))
}

#[test]
fn a_full_disk_fails_the_save_and_changes_nothing() {
    let Some((fs, root, registry, v1)) = registry_on_tmpfs("512k") else {
        return;
    };
    let before = listing(&root);

    // Larger than the whole file system: the model write itself fails.
    let err = registry
        .save_model(&"1.0.1".parse().unwrap(), &vec![2u8; 2_000_000], ModelInfo::default())
        .unwrap_err();
    assert!(err.to_string().contains("no space"), "{err}");
    assert!(matches!(err, RegistryError::Store(_)), "{err:?}");
    assert_eq!(listing(&root), before, "nothing left behind");

    // Leave a few pages free and save ever larger models: around the
    // boundary, saves fail while writing the model or, with the model
    // written, while writing its metadata. Every failure must leave the tree
    // exactly as it was; successes are ordinary versions.
    let free = {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&fs.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse::<usize>().ok())
            .unwrap()
    };
    let filler = fs.0.join("filler");
    std::fs::write(&filler, vec![0u8; free.saturating_sub(16 * 4096)]).unwrap();
    let (mut failures, mut saved) = (0, vec![v1.clone()]);
    for (i, size) in (1..=64usize).map(|p| p * 1024).enumerate() {
        let before = listing(&root);
        let version: ModelVersion = format!("2.0.{i}").parse().unwrap();
        match registry.save_model(&version, &vec![3u8; size], ModelInfo::default()) {
            Ok(_) => saved.push(version),
            // Committed, but latest could not record the move: the version
            // is complete and says so; repair moves latest later.
            Err(RegistryError::LatestNotMoved { version: v, source }) => {
                assert!(source.to_string().contains("no space"), "{source}");
                assert_eq!(v, version.to_string());
                saved.push(version);
            }
            Err(e) => {
                assert!(e.to_string().contains("no space"), "{e}");
                assert_eq!(
                    listing(&root),
                    before,
                    "a failed save of {size} bytes left something behind"
                );
                failures += 1;
            }
        }
    }
    assert!(failures > 0, "the disk never filled up");
    assert_eq!(registry.list_versions().unwrap(), saved);

    std::fs::remove_file(&filler).unwrap();
    registry.repair().unwrap();
    let report = registry.verify().unwrap();
    assert!(report.is_ok() && report.leftovers.is_empty(), "{report:?}");
    let (_, md): (Vec<u8>, _) = registry.get_latest_model().unwrap();
    assert_eq!(&md.version, saved.last().unwrap());
    // With space again, the next save works.
    registry
        .save_model(&"3.0.0".parse().unwrap(), &vec![3u8; 4096], ModelInfo::default())
        .unwrap();
}

#[test]
fn a_read_only_registry_serves_reads_and_refuses_writes_clearly() {
    let Some((fs, root, _, v1)) = registry_on_tmpfs("4m") else {
        return;
    };
    let remounted = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&fs.0)
        .status()
        .is_ok_and(|s| s.success());
    assert!(remounted, "remounting read-only failed");
    let before = listing(&root);

    let registry = Registry::open(&root).unwrap();
    let (model, md): (Vec<u8>, _) = registry.get_latest_model().unwrap();
    assert_eq!((model.len(), &md.version), (1000, &v1));
    assert_eq!(registry.list_versions().unwrap(), vec![v1.clone()]);
    assert!(registry.verify().unwrap().is_ok());

    let err = registry
        .save_model(&"1.0.1".parse().unwrap(), &vec![2u8; 10], ModelInfo::default())
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    let err = registry
        .set_alias(&"production".parse().unwrap(), &v1, registry_core::Expect::Anything)
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(listing(&root), before, "nothing changed");
}
