//! Helpers the workspace's tests share, so each is written once: the local
//! S3 test server (`eval "$(.ci/s3-test-server)"` sets its variables),
//! prefixes no other test run uses, and a small tmpfs for disk-full tests. A dev-dependency only; it depends on no
//! crate of the workspace, so any crate's tests can use it.
//!
//! ```
//! let a = test_support::unique("story");
//! let b = test_support::unique("story");
//! assert!(a.starts_with("story-") && a != b);
//! ```

pub mod browser;
pub mod disk;

use std::sync::atomic::{AtomicU64, Ordering};

/// A name no other test (in this process or another) uses: `name`, the
/// process id, the time, and a counter.
pub fn unique(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{}-{nanos:x}-{n}", std::process::id())
}

/// Whether the local S3 server's variables are set. Without them an S3
/// test is skipped with a note on stderr, so `cargo test --workspace --all-features` runs
/// offline; with `MODELREG_REQUIRE_S3=1` (CI sets it) a missing server fails
/// the test instead, so CI cannot pass by skipping. Call it first:
/// `if !test_support::s3_ready() { return; }`.
pub fn s3_ready() -> bool {
    if std::env::var_os("MODELREG_S3_TEST_ENDPOINT").is_some() {
        return true;
    }
    let how =
        "run `eval \"$(.ci/s3-test-server)\"` first (it starts moto on 127.0.0.1 and sets MODELREG_S3_TEST_ENDPOINT)";
    if std::env::var_os("MODELREG_REQUIRE_S3").is_some_and(|v| v != "0") {
        panic!("MODELREG_REQUIRE_S3 is set but no local S3 server is: {how}");
    }
    eprintln!("skipped: this S3 test needs a local S3 server; {how}");
    false
}

/// The local S3 server's address; a test that needs it fails with how to
/// start one.
pub fn s3_endpoint() -> String {
    std::env::var("MODELREG_S3_TEST_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "the S3 tests need a local S3 server: run `eval \"$(.ci/s3-test-server)\"` first (it sets MODELREG_S3_TEST_ENDPOINT)"
        )
    })
}

/// The test bucket (`MODELREG_S3_TEST_BUCKET`, default `modelreg-test`).
pub fn s3_bucket() -> String {
    std::env::var("MODELREG_S3_TEST_BUCKET").unwrap_or_else(|_| "modelreg-test".to_string())
}

/// A fresh registry location in the test bucket: `s3://BUCKET/NAME-...`.
pub fn s3_registry(name: &str) -> String {
    format!("s3://{}/{}", s3_bucket(), unique(name))
}

/// `cp -r`, symbolic links copied as links: a test's own copy of a
/// registry or version directory to damage or replay.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
