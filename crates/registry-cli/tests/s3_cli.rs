//! The three binaries against an s3:// registry on a local S3 server
//! (in the default build; start the server with `eval "$(.ci/s3-test-server)"`).
#![cfg(feature = "s3")]

mod common;

use std::process::Output;

/// This test binary's own cache directory (not the user's ~/.cache).
fn test_cache() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn run(bin: &str, registry: &str, args: &[&str]) -> Output {
    common::command(bin, registry)
        .env("MODELREG_S3_ENDPOINT", test_support::s3_endpoint())
        .env("MODELREG_CACHE", test_cache())
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

#[path = "../../registry-open/tests/cutting_proxy.rs"]
mod cutting_proxy;

/// A binary on `registry` through `endpoint`, with its own cache `cache`.
fn cached(bin: &str, registry: &str, endpoint: &str, cache: &std::path::Path, args: &[&str]) -> Output {
    common::command(bin, registry)
        .env("MODELREG_S3_ENDPOINT", endpoint)
        .env("MODELREG_CACHE", cache)
        .env("MODELREG_USER", "ci@s3-test")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_pinned_version_read_once_needs_no_store_afterwards() {
    use cutting_proxy::{Cut, CuttingProxy};
    use std::sync::atomic::Ordering;
    if !test_support::s3_ready() {
        return;
    }
    let remote = test_support::s3_registry("cache-cli");
    ok(
        "trainer",
        &remote,
        &["--data", "fixtures/tiny.tsv", "--folds", "3", "--quiet"],
    );
    ok(
        "registry",
        &remote,
        &["promote", "1.0.0", "--to", "production", "--expect", "none"],
    );
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let proxy = CuttingProxy::start(&test_support::s3_endpoint(), i64::MAX, Cut::BeforeRequest);
    let through = |bin: &str, args: &[&str]| cached(bin, &remote, &proxy.address, &cache, args);
    let succeeds = |what: &str, out: Output| common::succeeded(what, out);

    // Two processes fill one empty cache at once.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (a_out, b_out) = std::thread::scope(|s| {
        let one = s.spawn(|| through("registry", &["get", "1.0.0", "--out", a.to_str().unwrap()]));
        let two = s.spawn(|| through("registry", &["get", "1.0.0", "--out", b.to_str().unwrap()]));
        (one.join().unwrap(), two.join().unwrap())
    });
    succeeds("first get", a_out);
    succeeds("second get", b_out);
    let listed = succeeds("cache list", through("registry", &["cache", "list", "--json"]));
    let listed: serde_json::Value = serde_json::from_str(listed.trim()).unwrap();
    let blobs = listed["blobs"].as_array().unwrap();
    assert!(!blobs.is_empty(), "{listed}");
    assert!(
        blobs.iter().all(|b| b["used_by"].to_string().contains("1.0.0")),
        "every cached file names its version: {listed}"
    );
    let checked = succeeds("cache verify", through("registry", &["cache", "verify"]));
    assert!(checked.contains("0 damaged"), "{checked}");

    // Read again: the pinned version, by the registry and the predictor,
    // makes no request at all.
    let before = proxy.sent.load(Ordering::SeqCst);
    let c = dir.path().join("c");
    let again = through("registry", &["get", "1.0.0", "--out", c.to_str().unwrap()]);
    let note = String::from_utf8_lossy(&again.stderr).to_string();
    succeeds("cached get", again);
    assert_eq!(note.matches("modelreg cache:").count(), 1, "said once: {note}");
    assert!(note.contains("needs no request"), "{note}");
    let predicted = succeeds(
        "cached predict",
        through(
            "predictor",
            &["--version", "1.0.0", "--json", "a wonderful, moving film"],
        ),
    );
    assert!(predicted.contains("\"version\":\"1.0.0\""), "{predicted}");
    assert_eq!(
        proxy.sent.load(Ordering::SeqCst),
        before,
        "pinned reads were served by the cache alone"
    );
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&c).unwrap(),
        "the model file, as first read"
    );

    // The network goes: an alias needs its pointer, so it fails, naming
    // the store; the pinned version still loads.
    proxy.budget.store(0, Ordering::SeqCst);
    let alias = through(
        "predictor",
        &["--alias", "production", "--json", "a wonderful, moving film"],
    );
    assert!(!alias.status.success());
    let why = String::from_utf8_lossy(&alias.stderr).to_string();
    assert!(why.contains(&remote) && why.contains("failed"), "{why}");
    let offline = succeeds(
        "offline predict",
        through(
            "predictor",
            &["--version", "1.0.0", "--json", "a wonderful, moving film"],
        ),
    );
    assert!(offline.contains("\"version\":\"1.0.0\""), "{offline}");
    let d = dir.path().join("d");
    succeeds(
        "offline get",
        through("registry", &["get", "1.0.0", "--out", d.to_str().unwrap()]),
    );

    // Damage one cached blob: the next read with the store back detects it,
    // says so and fetches it again.
    let blobs_dir = cache.join("blobs");
    let victim = std::fs::read_dir(&blobs_dir).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&victim, &bytes).unwrap();
    let healthy = CuttingProxy::start(&test_support::s3_endpoint(), i64::MAX, Cut::BeforeRequest);
    // A new proxy is a new address, so the cache keeps its documents apart
    // (another server, another registry); blobs are shared by digest, so
    // the damaged one is still found.
    let e = dir.path().join("e");
    let repaired = cached(
        "registry",
        &remote,
        &healthy.address,
        &cache,
        &["get", "1.0.0", "--out", e.to_str().unwrap()],
    );
    let said = String::from_utf8_lossy(&repaired.stderr).to_string();
    succeeds("get after damage", repaired);
    assert!(
        said.contains(&victim.display().to_string()),
        "the damaged blob is named: {said}"
    );
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&e).unwrap(),
        "the model file, as first read"
    );
    let cleared = succeeds("cache clear", through("registry", &["cache", "clear"]));
    assert!(cleared.starts_with("removed "), "{cleared}");
    assert!(
        std::fs::read_dir(&blobs_dir).map_or(true, |d| d.count() == 0),
        "cleared"
    );
}
