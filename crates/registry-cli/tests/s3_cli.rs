//! The three binaries against an s3:// registry on a local S3 server
//! (`--features s3`; start the server with `eval "$(.ci/s3-test-server)"`).
#![cfg(feature = "s3")]

mod common;

use std::process::Output;

fn run(bin: &str, registry: &str, args: &[&str]) -> Output {
    common::command(bin, registry)
        .env("MODELREG_S3_ENDPOINT", test_support::s3_endpoint())
        .env("MODELREG_USER", "ci@s3-test")
        .args(args)
        .output()
        .unwrap()
}

fn ok(bin: &str, registry: &str, args: &[&str]) -> String {
    common::succeeded(&format!("{bin} {args:?}"), run(bin, registry, args))
}

#[test]
fn train_predict_promote_and_copy_on_s3() {
    if !test_support::s3_ready() {
        return;
    }
    let remote = test_support::s3_registry("cli");
    let train = ["--data", "fixtures/tiny.tsv", "--folds", "3", "--quiet"];
    ok("trainer", &remote, &train);
    ok("trainer", &remote, &train);
    let list = ok("registry", &remote, &["list"]);
    assert!(list.contains("1.0.0") && list.contains("1.0.1"), "{list}");

    let predicted = ok("predictor", &remote, &["--json", "a wonderful, moving film"]);
    let line: serde_json::Value = serde_json::from_str(predicted.trim()).unwrap();
    assert_eq!(line["version"], "1.0.1");
    assert!(line["label"].is_string());

    ok(
        "registry",
        &remote,
        &["promote", "1.0.0", "--to", "production", "--expect", "none"],
    );
    let conflict = run(
        "registry",
        &remote,
        &["promote", "1.0.1", "--to", "production", "--expect", "1.0.1"],
    );
    assert!(!conflict.status.success());
    assert!(String::from_utf8_lossy(&conflict.stderr).contains("production"));
    let shown = ok("registry", &remote, &["show", "production"]);
    assert!(shown.contains("version:         1.0.0"), "{shown}");
    assert!(
        shown.contains(&format!("{remote}/versions/1.0.0/metadata.json")),
        "{shown}"
    );
    ok("registry", &remote, &["verify"]);

    // Pull the whole registry down, then push it to a second prefix.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("registry");
    let local = local.to_str().unwrap();
    let copied = ok("registry", local, &["copy", &remote, local, "--aliases"]);
    assert!(copied.contains("copied 2 version(s)"), "{copied}");
    assert!(copied.contains("production: (new) -> 1.0.0"), "{copied}");
    let again = ok("registry", local, &["copy", &remote, local]);
    assert!(
        again.contains("copied 0 version(s)") && again.contains("already there"),
        "{again}"
    );
    ok("registry", local, &["verify"]);
    let remote_show = ok("registry", &remote, &["show", "--json", "1.0.1"]);
    let local_show = ok("registry", local, &["show", "--json", "1.0.1"]);
    let digest = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap()["metadata_sha256"].clone();
    assert_eq!(digest(&remote_show), digest(&local_show));
    let local_prediction = ok(
        "predictor",
        local,
        &["--alias", "production", "--json", "a wonderful, moving film"],
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(local_prediction.trim()).unwrap()["version"],
        "1.0.0"
    );

    let second = format!("{remote}-copy");
    ok("registry", local, &["copy", local, &second]);
    let second_list = ok("registry", &second, &["list"]);
    assert!(
        second_list.contains("1.0.0") && second_list.contains("1.0.1"),
        "{second_list}"
    );
    assert!(
        !second_list.contains("production"),
        "aliases are copied only with --aliases: {second_list}"
    );
}
