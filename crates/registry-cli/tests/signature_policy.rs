//! An alias that requires signatures (`registry alias require-signature`,
//! `promote --require-signature`) is refused by every reader without
//! trusted keys, whatever the reader: the policy is checked where an alias
//! is read (registry-core's `resolve`), not by each front end. With another
//! signer's key the version is refused as untrusted; with the signer's key
//! it is read.

mod common;

use common::{ok, run, workspace};
use std::path::{Path, PathBuf};

fn key(name: &str) -> String {
    workspace()
        .join("crates/model-sign/tests/keys")
        .join(name)
        .display()
        .to_string()
}

fn code(reg: &Path, tool: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = run(tool, reg, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    (out.status.code(), err)
}

#[test]
fn every_reader_refuses_a_protected_alias_without_the_right_key() {
    let dir = tempfile::tempdir().unwrap();
    let reg: PathBuf = dir.path().join("registry");
    let tiny = workspace().join("fixtures/tiny.tsv").display().to_string();
    // 1.0.0 and 1.0.1, both signed as they are saved.
    let train = [
        "--data",
        &tiny,
        "--folds",
        "3",
        "--quiet",
        "--sign-key",
        &key("p256.pem"),
    ];
    for _ in 0..2 {
        ok("trainer", &reg, &train);
    }
    let trusted = ["--trusted-key", &key("p256.pub.pem")];
    ok(
        "registry",
        &reg,
        &[
            &trusted[..],
            &["promote", "1.0.0", "--to", "production", "--require-signature"],
        ]
        .concat(),
    );
    let out = dir.path().join("out").display().to_string();
    let readers: Vec<(&str, Vec<&str>)> = vec![
        ("registry", vec!["show", "production"]),
        ("registry", vec!["get", "production", "--out", &out]),
        ("registry", vec!["diff", "production", "1.0.1"]),
        ("predictor", vec!["--alias", "production", "good"]),
    ];
    for (tool, args) in &readers {
        // No key: refused as a usage error (give --trusted-key), naming the policy.
        let (c, err) = code(&reg, tool, args);
        assert_eq!(c, Some(2), "{tool} {args:?}: {err}");
        assert!(err.contains("may only name signed versions"), "{tool} {args:?}: {err}");
        // Another signer's key: refused as untrusted.
        let other_key = key("other.pub.pem");
        let other = [&["--trusted-key", other_key.as_str()][..], &args[..]].concat();
        let (c, err) = code(&reg, tool, &other);
        assert_eq!(c, Some(4), "{tool} {other:?}: {err}");
        assert!(err.contains("refused"), "{tool} {other:?}: {err}");
        // The signer's key: read.
        let right = [&trusted[..], &args[..]].concat();
        let (c, err) = code(&reg, tool, &right);
        assert_eq!(c, Some(0), "{tool} {right:?}: {err}");
        let _ = std::fs::remove_file(&out);
    }
    // Lifting the policy needs the keys too; then the alias reads without.
    let (c, err) = code(&reg, "registry", &["alias", "require-signature", "production", "--off"]);
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("needs --trusted-key"), "{err}");
    ok(
        "registry",
        &reg,
        &[&trusted[..], &["alias", "require-signature", "production", "--off"]].concat(),
    );
    let (c, err) = code(&reg, "registry", &["show", "production"]);
    assert_eq!(c, Some(0), "{err}");
    // A version read by number is not the alias: no policy applies to it.
    let (c, err) = code(&reg, "registry", &["show", "1.0.1"]);
    assert_eq!(c, Some(0), "{err}");
}
