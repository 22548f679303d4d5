//! Concurrency between processes (not just threads): writers saving
//! distinct versions, writers racing for the same versions, movers flipping
//! `production` with compare-and-swap, and readers loading it meanwhile.

mod common;

use common::{Payload, Rng, env, output_lines, role, spawn_child};
use registry_core::{AliasName, Bump, Expect, ModelInfo, ModelVersion, NewFile, Registry, RegistryError};

fn open() -> Registry {
    Registry::open(env("MODELREG_TEST_ROOT")).unwrap()
}

fn payload(v: &ModelVersion, size: usize) -> Payload {
    Payload {
        version: v.to_string(),
        filler: vec![1; size],
    }
}

#[test]
fn child_role() {
    let Some(role) = role() else { return };
    let registry = open();
    let id: u64 = env("MODELREG_TEST_ID").parse().unwrap();
    let production: AliasName = "production".parse().unwrap();
    let mut rng = Rng(id + 17);
    match role.as_str() {
        // 25 distinct versions of its own, then a race on 10 shared ones.
        "writer" => {
            for i in 0..25 {
                let v = ModelVersion::new(id + 1, 0, i);
                registry
                    .save_model(&v, &payload(&v, 20_000), ModelInfo::default())
                    .unwrap();
                println!("saved {v}");
            }
            for i in 0..10 {
                let v = ModelVersion::new(99, 0, i);
                match registry.save_model(&v, &payload(&v, 20_000 + id as usize), ModelInfo::default()) {
                    Ok(_) => println!("won {v}"),
                    Err(RegistryError::VersionExists { .. }) => println!("lost {v}"),
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
        }
        // Flip production between the first writer's versions with --expect.
        "mover" => {
            for _ in 0..40 {
                let current = registry.resolve(&production).unwrap().version;
                let target = ModelVersion::new(1, 0, rng.below(5));
                match registry.point_alias(&production, &target, Expect::Version(current)) {
                    Ok(m) if m.changed => println!("moved {}", m.record.seq),
                    Ok(_) => println!("unchanged"),
                    Err(RegistryError::AliasConflict { .. }) => println!("conflict"),
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
        }
        "reader" => {
            for _ in 0..150 {
                let (model, md): (Payload, _) = registry.get_by_alias(&production).unwrap();
                assert_eq!(
                    model.version,
                    md.version.to_string(),
                    "model paired with another version's metadata"
                );
                let (model, md): (Payload, _) = registry.get_latest_model().unwrap();
                assert_eq!(model.version, md.version.to_string());
                println!("read {}", md.version);
            }
        }
        // Registers three-file versions into the named model "files": 15
        // with the next free version, then a race on 5 shared ones whose
        // first file name differs between adders (so each claims the
        // version by a different file, and the loser takes its files back).
        "adder" => {
            let files = registry.with_model(Some("files".parse().unwrap()));
            let tree = |first: &str| {
                [first, "config.json", "weights/part-0.bin"].map(|path| NewFile {
                    path: path.to_string(),
                    bytes: format!("adder {id} {path}").into_bytes(),
                })
            };
            for _ in 0..15 {
                let md = files
                    .save_files_next(Bump::Patch, &tree("model.onnx"), ModelInfo::default())
                    .unwrap();
                println!("added {}", md.version);
            }
            // In a model of their own: `save_files_next` of the other adder
            // would otherwise pick these numbers too.
            let contest = registry.with_model(Some("contest".parse().unwrap()));
            for i in 0..5 {
                let v = ModelVersion::new(9, 0, i);
                match contest.save_files(&v, &tree(&format!("a{id}.onnx")), ModelInfo::default()) {
                    Ok(_) => println!("won {v}"),
                    Err(RegistryError::VersionExists { .. }) => println!("lost {v}"),
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn processes_race_without_losing_or_mixing_anything() {
    if role().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let registry = Registry::open(&root).unwrap();
    // Seed versions 1.0.0..=1.0.4 and production, so movers and readers
    // have something to work on from the start.
    for i in 0..5 {
        let v = ModelVersion::new(1, 0, i);
        registry
            .save_model(&v, &payload(&v, 100), ModelInfo::default())
            .unwrap();
    }
    let production: AliasName = "production".parse().unwrap();
    registry
        .set_alias(&production, &ModelVersion::new(1, 0, 0), Expect::Nothing)
        .unwrap();

    let vars = |id: u64| {
        vec![
            ("MODELREG_TEST_ROOT", root.display().to_string()),
            ("MODELREG_TEST_ID", id.to_string()),
        ]
    };
    // Writers use major versions 2..=5 (1 is the seeded one).
    let mut children = Vec::new();
    for id in 1..=4 {
        children.push(("writer", spawn_child("child_role", "writer", &vars(id))));
        children.push(("mover", spawn_child("child_role", "mover", &vars(id + 10))));
        children.push(("reader", spawn_child("child_role", "reader", &vars(id + 20))));
    }
    for id in 31..=32 {
        children.push(("adder", spawn_child("child_role", "adder", &vars(id))));
    }
    let lines = output_lines(children);
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();

    // All 100 distinct saves landed.
    let listed = registry.list_versions().unwrap();
    assert_eq!(count("saved "), 100);
    for id in 1..=4u64 {
        for i in 0..25 {
            assert!(listed.contains(&ModelVersion::new(id + 1, 0, i)));
        }
    }
    // Each contested version has exactly one winner, the others were told.
    for i in 0..10 {
        let v = ModelVersion::new(99, 0, i);
        assert_eq!(lines.iter().filter(|l| **l == format!("won {v}")).count(), 1, "{v}");
        assert_eq!(lines.iter().filter(|l| **l == format!("lost {v}")).count(), 3, "{v}");
    }
    // Every move attempt either succeeded or reported a conflict, and the
    // history holds exactly one entry per successful move (+ the first set).
    assert_eq!(count("moved ") + count("unchanged") + count("conflict"), 4 * 40);
    let history = registry.alias_history(&production).unwrap();
    assert_eq!(history.len(), count("moved ") + 1);
    let seqs: Vec<u64> = history.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (1..=history.len() as u64).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
    for pair in history.windows(2) {
        assert_eq!(pair[1].previous.as_ref(), Some(&pair[0].version), "history is a chain");
    }
    assert_eq!(count("read "), 4 * 150);
    // latest ended at the highest version saved.
    assert_eq!(
        registry.resolve(&AliasName::latest()).unwrap().version,
        ModelVersion::new(99, 0, 9)
    );
    let report = registry.verify().unwrap();
    assert!(report.is_ok() && report.leftovers.is_empty(), "{report:#?}");

    // The adders: 30 distinct versions, each holding one adder's files
    // only; each contested version won once, with no loser's file left in it.
    let files = registry.with_model(Some("files".parse().unwrap()));
    let contest = registry.with_model(Some("contest".parse().unwrap()));
    assert_eq!(count("added "), 30);
    assert_eq!(files.list_versions().unwrap().len(), 30);
    assert_eq!(contest.list_versions().unwrap().len(), 5);
    for (model, v) in files
        .list_versions()
        .unwrap()
        .into_iter()
        .map(|v| (&files, v))
        .chain(contest.list_versions().unwrap().into_iter().map(|v| (&contest, v)))
    {
        let stored = model.load_stored_version(&v).unwrap();
        let owners: std::collections::BTreeSet<String> = stored
            .files
            .iter()
            .map(|(_, bytes)| String::from_utf8_lossy(bytes).split(' ').nth(1).unwrap().to_string())
            .collect();
        assert_eq!(owners.len(), 1, "version {v} mixes files of adders {owners:?}");
        assert_eq!(stored.files.len(), 3);
    }
    for i in 0..5 {
        let v = ModelVersion::new(9, 0, i);
        let won = lines.iter().filter(|l| **l == format!("won {v}")).count();
        assert_eq!(won, 1, "{v}");
        let on_disk = std::fs::read_dir(root.join(format!("models/contest/versions/{v}")))
            .unwrap()
            .count();
        assert_eq!(on_disk, 4, "{v}: three files and metadata.json, nothing of the loser");
    }
    for model in [&files, &contest] {
        let report = model.verify().unwrap();
        assert!(report.is_ok() && report.leftovers.is_empty(), "{report:#?}");
    }
    assert_eq!(files.catalog().unwrap().len(), 30);
}
