//! The examples run to completion as a user would run them (`cargo run -p
//! modelreg-examples --bin NAME`), so `cargo test --workspace --all-features` keeps them
//! working: each must exit 0 and print what it promises.

use std::process::Command;

fn run(bin: &str) -> String {
    let output = Command::new(bin).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{bin} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn custom_model_saves_reloads_and_verifies() {
    let out = run(env!("CARGO_BIN_EXE_custom_model"));
    assert!(out.contains("reloaded 2 centroids from 1.0.0"), "{out}");
    assert!(out.contains("verified 2 versions"), "{out}");
}

#[test]
fn train_and_serve_registers_and_predicts() {
    let out = run(env!("CARGO_BIN_EXE_train_and_serve"));
    assert!(out.contains("registered 1.0.0"), "{out}");
    assert!(out.contains("\"I love it\" -> "), "{out}");
}
