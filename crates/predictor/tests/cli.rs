//! The predictor binary's own front door (its full workflows run from
//! registry-cli's tests): a registry with no model is a "not found" (exit 3)
//! that names the registry. Being an integration test also makes
//! `cargo test` build the binary, which the other crates' tests and CI's
//! scripts run.

use std::process::Command;

#[test]
fn an_empty_registry_is_not_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    std::fs::create_dir(&registry).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_predictor"))
        .arg("--registry")
        .arg(&registry)
        .arg("a great film")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&*registry.to_string_lossy()), "{stderr}");
    assert!(out.stdout.is_empty());
}
