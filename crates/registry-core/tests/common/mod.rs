//! Helpers for tests that run registry code in child processes: the test
//! binary re-executes itself, running one `#[test]` function that acts as the
//! child when `MODELREG_CHILD_ROLE` is set (and returns at once otherwise).

#![allow(dead_code)]

use registry_core::ModelVersion;
use serde::{Deserialize, Serialize};
use std::process::{Child, Command, Stdio};

/// The model type the children save: it names its own version, so a reader
/// can tell whether the model it got belongs to the metadata it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub version: String,
    pub filler: Vec<u8>,
}

pub fn role() -> Option<String> {
    std::env::var("MODELREG_CHILD_ROLE").ok()
}

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("child needs {name}"))
}

/// Starts this test binary running only `test_name`, as a child with `role`.
pub fn spawn_child(test_name: &str, role: &str, vars: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env("MODELREG_CHILD_ROLE", role)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child")
}

/// Waits for every child (reading its output meanwhile, so that a child
/// printing more than a pipe holds cannot block), asserts each succeeded,
/// and returns all their standard-output lines.
pub fn output_lines(children: Vec<(&str, Child)>) -> Vec<String> {
    let mut lines = Vec::new();
    for (role, child) in children {
        let out = child.wait_with_output().expect("wait for child");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{role} failed:\n{err}");
        lines.extend(String::from_utf8_lossy(&out.stdout).lines().map(String::from));
    }
    lines
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A version from a literal the test knows is valid.
pub fn v(s: &str) -> ModelVersion {
    s.parse().unwrap()
}

/// A registry in a fresh temporary directory holding `versions`, each one
/// file `model.onnx` whose bytes are the version's name.
pub fn registry_with(versions: &[&str]) -> (tempfile::TempDir, registry_core::Registry) {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry_core::Registry::open(dir.path().join("registry")).unwrap();
    for version in versions {
        let file = registry_core::NewFile {
            path: "model.onnx".into(),
            bytes: version.as_bytes().to_vec(),
        };
        reg.save_files(&v(version), &[file], registry_core::ModelInfo::default())
            .unwrap();
    }
    (dir, reg)
}
