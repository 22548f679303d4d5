//! Finding the binaries the CLI tests run.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The path of `registry`, `trainer` or `predictor`, building the other
/// crates' binaries if `cargo test -p registry-cli` ran without them.
pub fn bin(name: &str) -> PathBuf {
    let registry = PathBuf::from(env!("CARGO_BIN_EXE_registry"));
    if name == "registry" {
        return registry;
    }
    let dir = registry.parent().expect("target dir").to_path_buf();
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace())
            .args(["build", "-p", "trainer", "-p", "predictor"]);
        if cfg!(feature = "s3") {
            cmd.args(["--features", "trainer/s3,predictor/s3"]);
        }
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(
            cmd.status().expect("run cargo build").success(),
            "building trainer and predictor failed"
        );
    });
    dir.join(name)
}
