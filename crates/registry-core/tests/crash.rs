//! Crash safety: a child process saves versions and moves an alias in a loop
//! and is killed with SIGKILL at random moments, 200 times. After every kill
//! the registry must open and verify, every listed version must load,
//! `latest` must name a complete version, and no version the child reported
//! as saved may be missing.

mod common;

use common::{Payload, Rng, env, role, spawn_child};
use registry_core::{AliasName, Bump, Expect, ModelInfo, Registry};
use std::io::{Read, Write};

#[test]
fn child_saver() {
    if role().as_deref() != Some("saver") {
        return;
    }
    let registry = Registry::open(env("MODELREG_TEST_ROOT")).unwrap();
    let production: AliasName = "production".parse().unwrap();
    let mut rng = Rng(env("MODELREG_TEST_SEED").parse().unwrap());
    let mut out = std::io::stdout();
    loop {
        let version = registry.next_version(Bump::Patch).unwrap();
        let payload = Payload {
            version: version.to_string(),
            filler: vec![7; rng.below(300_000) as usize],
        };
        match registry.save_model(&version, &payload, ModelInfo::default()) {
            Ok(md) => {
                writeln!(out, "saved {}", md.version).unwrap();
                out.flush().unwrap();
                if rng.below(2) == 0 {
                    registry.set_alias(&production, &md.version, Expect::Anything).unwrap();
                    writeln!(out, "promoted {}", md.version).unwrap();
                    out.flush().unwrap();
                }
            }
            Err(e) => panic!("save failed: {e}"),
        }
    }
}

#[test]
fn registry_survives_sigkill_at_random_moments() {
    if role().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut reported_saved = Vec::new();
    let kills = 200;
    for round in 0..kills {
        let mut child = spawn_child(
            "child_saver",
            "saver",
            &[
                ("MODELREG_TEST_ROOT", root.display().to_string()),
                ("MODELREG_TEST_SEED", (round + 1).to_string()),
            ],
        );
        std::thread::sleep(std::time::Duration::from_micros(2_000 + rng.below(40_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        let mut stdout = String::new();
        child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(!stderr.contains("panicked"), "round {round}: child failed:\n{stderr}");
        reported_saved.extend(
            stdout
                .lines()
                .filter_map(|l| l.strip_prefix("saved "))
                .map(String::from),
        );

        // The registry opens and verifies after every kill.
        let registry = Registry::open(&root).unwrap();
        let report = registry.verify().unwrap();
        assert!(report.is_ok(), "round {round}: {:#?}", report.problems);
        let listed: Vec<String> = registry
            .list_versions()
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect();
        for v in &reported_saved {
            assert!(
                listed.contains(v),
                "round {round}: reported-saved version {v} is missing"
            );
        }
        if !listed.is_empty() {
            let (model, md): (Payload, _) = match registry.get_latest_model() {
                Ok(x) => x,
                // Every save so far killed after its metadata and before
                // latest was first set (one or several in a row): complete
                // versions latest has yet to name, not damage. A save that
                // reported success had set latest.
                Err(registry_core::RegistryError::Empty { .. }) => {
                    assert!(
                        reported_saved.is_empty(),
                        "round {round}: latest is unset although {reported_saved:?} reported saved"
                    );
                    continue;
                }
                Err(e) => panic!("round {round}: latest does not load: {e}"),
            };
            assert_eq!(model.version, md.version.to_string(), "latest pairs model and metadata");
            assert!(listed.contains(&md.version.to_string()));
        }
        if let Ok((model, md)) = registry.get_by_alias::<Payload>(&"production".parse().unwrap()) {
            assert_eq!(model.version, md.version.to_string());
        }
        // Every so often, repair: it must remove every leftover, and after
        // it verify must find nothing to report.
        if round % 20 == 19 {
            // The writer is dead (killed and waited for), so no grace period
            // is needed to tell its leftovers from a live save.
            registry.repair_older_than(std::time::Duration::ZERO).unwrap();
            let after = registry.verify().unwrap();
            assert!(after.is_ok() && after.leftovers.is_empty(), "round {round}: {after:#?}");
            assert!(no_temp_files(&root), "round {round}: repair left temporary files");
        }
    }
    assert!(
        reported_saved.len() > 50,
        "too few saves completed ({}) for the kills to mean much",
        reported_saved.len()
    );
    eprintln!("{kills} kills, {} saves reported", reported_saved.len());
}

fn no_temp_files(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).unwrap().all(|e| {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let ft = e.file_type().unwrap();
        !name.starts_with(".tmp-") && (!ft.is_dir() || no_temp_files(&e.path()))
    })
}
