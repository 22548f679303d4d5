//! The trainer binary's own front door (its full workflows run from
//! registry-cli's tests): a missing dataset is refused (exit 2, invalid
//! input) with its path named, and nothing is registered. Being an
//! integration test also makes `cargo test` build the binary, which the
//! other crates' tests and CI's scripts run.

use std::process::Command;

#[test]
fn a_missing_dataset_is_refused_by_path_and_registers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("missing.tsv");
    let registry = dir.path().join("registry");
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .arg("--data")
        .arg(&data)
        .arg("--registry")
        .arg(&registry)
        .arg("--quiet")
        .env("MODELREG_USER", "tester")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}"); // invalid input
    assert!(stderr.contains(&*data.to_string_lossy()), "{stderr}");
    assert!(!registry.join("versions").exists(), "{stderr}");
}
