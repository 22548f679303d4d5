//! User stories for models modelreg did not train: a scikit-learn joblib
//! file and an ONNX directory registered, listed, promoted, fetched back,
//! retired; several named models in one registry; `models:/` URIs.

use std::path::Path;

mod common;

use common::{fails, ok, redact, run};

/// Output with the registry path, the temporary directory holding it,
/// timestamps and the host name replaced.
fn clean(s: &str, reg: &Path) -> String {
    let host = String::from_utf8(std::process::Command::new("hostname").output().unwrap().stdout).unwrap();
    let tmp = reg.parent().unwrap().display().to_string();
    redact(s, reg)
        .replace(&tmp, "[tmp]")
        .replace(&format!("tester@{}", host.trim()), "tester@[host]")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

#[test]
fn a_scikit_learn_file_and_an_onnx_directory_live_beside_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let joblib = write(dir.path(), "spam.joblib", b"\x80\x04joblib-bytes");
    let data = write(dir.path(), "d1/train.csv", b"text,label\nwin money,spam\nhi mum,ham\n");
    let onnx_dir = dir.path().join("onnx");
    write(&onnx_dir, "model.onnx", b"onnx-graph");
    write(&onnx_dir, "tokenizer/vocab.json", b"{\"a\": 0}");
    let onnx_dir = onnx_dir.display().to_string();

    // Register: a spam model (scikit-learn) and the default model (ONNX).
    let added = ok(
        "registry",
        &reg,
        &[
            "add",
            &joblib,
            "--model",
            "spam",
            "--type",
            "sklearn",
            "--param",
            "C=1.5",
            "--param",
            "kernel=rbf",
            "--metric",
            "f1=0.88",
            "--test-score",
            "0.91",
            "--data",
            &data,
            "--tag",
            "team=mail",
        ],
    );
    insta::assert_snapshot!("add_joblib", clean(&added, &reg));
    ok(
        "registry",
        &reg,
        &["add", &onnx_dir, "--type", "onnx", "--test-score", "0.8"],
    );
    ok(
        "registry",
        &reg,
        &[
            "add",
            &onnx_dir,
            "--type",
            "onnx",
            "--bump",
            "minor",
            "--test-score",
            "0.85",
        ],
    );
    ok(
        "registry",
        &reg,
        &[
            "add",
            &joblib,
            "--model",
            "spam",
            "--version",
            "2.0.0-rc.1",
            "--test-score",
            "0.95",
        ],
    );
    insta::assert_snapshot!("models", clean(&ok("registry", &reg, &["models"]), &reg));
    insta::assert_snapshot!(
        "show_uri",
        clean(&ok("registry", &reg, &["show", "models:/spam@latest"]), &reg)
    );
    insta::assert_snapshot!(
        "list_spam",
        clean(&ok("registry", &reg, &["list", "--model", "spam"]), &reg)
    );

    // The default model keeps the seed's layout; the named one lives under models/.
    assert!(reg.join("versions/1.1.0/tokenizer/vocab.json").is_file());
    assert!(reg.join("models/spam/versions/1.0.0/spam.joblib").is_file());
    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reg.join("models/spam/versions/1.0.0/metadata.json")).unwrap()).unwrap();
    assert_eq!(metadata["format_version"], 2);
    assert_eq!(metadata["files"][0]["path"], "spam.joblib");
    assert_eq!(metadata["hyperparameters"]["C"], 1.5);
    assert_eq!(metadata["lineage"]["data"]["path"], data.as_str());
    assert_eq!(metadata["lineage"]["data"]["rows"], 2);

    // Fetch: a single file to stdout and to a path, a directory to a new directory.
    let streamed = run("registry", &reg, &["get", "models:/spam/1.0.0", "--out", "-"]);
    assert!(streamed.status.success());
    assert_eq!(streamed.stdout, b"\x80\x04joblib-bytes");
    let out = dir.path().join("fetched");
    ok("registry", &reg, &["get", "latest", "--out", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(out.join("tokenizer/vocab.json")).unwrap(), b"{\"a\": 0}");
    let err = fails("registry", &reg, &["get", "latest", "--out", out.to_str().unwrap()], 1);
    assert!(err.contains("already exists"), "{err}");
    ok(
        "registry",
        &reg,
        &["get", "1.0.0", "--out", out.to_str().unwrap(), "--force"],
    );
    let err = fails("registry", &reg, &["get", "1.0.0", "--out", "-"], 2);
    assert!(err.contains("has 2 files"), "{err}");

    // Promote by URI; the predictor refuses a model type it cannot run.
    ok(
        "registry",
        &reg,
        &["promote", "models:/spam/1.0.0", "--to", "production"],
    );
    let err = fails("predictor", &reg, &["--alias", "models:/spam@production", "hello"], 2);
    assert!(
        err.contains("holds a sklearn model") && err.contains("registry get"),
        "{err}"
    );
    let err = fails("predictor", &reg, &["--version", "production", "hello"], 2);
    assert!(err.contains("use --alias production"), "{err}");

    // Filters, sorting and the JSON form.
    let only = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--json", "list"];
        all.extend_from_slice(args);
        let docs: serde_json::Value = serde_json::from_str(&ok("registry", &reg, &all)).unwrap();
        docs.as_array()
            .unwrap()
            .iter()
            .map(|d| d["version"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(only(&["--where", "test_score>=0.82"]), ["1.1.0"]);
    assert_eq!(only(&["--sort", "test_score", "--desc", "--limit", "1"]), ["1.1.0"]);
    assert_eq!(only(&["--model", "spam", "--tag", "team=mail"]), ["1.0.0"]);
    assert_eq!(
        only(&["--model", "spam", "--type", "sklearn", "--since", "2000-01-01"]),
        ["1.0.0"]
    );
    assert_eq!(only(&["--where", "version>=1.1.0"]), ["1.1.0"]);
    assert_eq!(only(&["--model", "spam", "--where", "f1>0.5"]), ["1.0.0"]);

    // A copy takes every model along, files and all; the aliases only
    // with --aliases, and it says which it left.
    let other = dir.path().join("other");
    let copied = ok(
        "registry",
        &reg,
        &["copy", reg.to_str().unwrap(), other.to_str().unwrap()],
    );
    assert!(copied.contains("copied 2 version(s) of model spam"), "{copied}");
    assert!(
        copied.contains("aliases not copied of model spam: production -> 1.0.0 (give --aliases"),
        "{copied}"
    );
    let listed = ok("registry", &other, &["models"]);
    assert!(listed.contains("spam") && listed.contains("default"), "{listed}");
    ok("registry", &other, &["--model", "spam", "verify"]);
    let out = dir.path().join("copied.joblib");
    ok(
        "registry",
        &other,
        &["get", "models:/spam/1.0.0", "--out", out.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(out).unwrap(), b"\x80\x04joblib-bytes");

    // verify without --model checks every model, each reported.
    let said = ok("registry", &reg, &["verify"]);
    assert!(
        said.contains("model default: checked 2 versions") && said.contains("model spam: checked 2 versions"),
        "{said}"
    );
    std::fs::write(reg.join("models/spam/versions/1.0.0/spam.joblib"), b"tampered").unwrap();
    let err = fails("registry", &reg, &["verify"], 4);
    assert!(err.contains("problem(s)"), "{err}");
    let said = String::from_utf8(run("registry", &reg, &["verify"]).stdout).unwrap();
    assert!(
        said.contains("PROBLEM") && said.contains("models/spam/versions/1.0.0"),
        "{said}"
    );
}

#[test]
fn a_deleted_version_is_hidden_and_refused_with_its_own_exit_code_until_undeleted() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let model = write(dir.path(), "model.onnx", b"onnx");
    for _ in 0..3 {
        ok("registry", &reg, &["add", &model]);
    }
    ok("registry", &reg, &["promote", "1.0.0", "--to", "production"]);

    let err = fails("registry", &reg, &["delete", "1.0.0"], 1);
    assert!(
        err.contains("alias production names it") && err.contains("--to production"),
        "{err}"
    );
    let err = fails("registry", &reg, &["delete", "1.0.2"], 1);
    assert!(
        err.contains("alias latest names it") && err.contains("registry deprecate 1.0.2"),
        "{err}"
    );
    let err = fails("registry", &reg, &["delete", "9.9.9"], 3);
    assert!(err.contains("not found"), "{err}");

    let said = ok(
        "registry",
        &reg,
        &["delete", "1.0.1", "--reason", "trained on leaked data"],
    );
    assert!(
        said.contains("deleted version 1.0.1 (trained on leaked data)"),
        "{said}"
    );
    assert!(said.contains("registry undelete 1.0.1"), "{said}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reg.join("deletions/1.0.1.json")).unwrap()).unwrap();
    assert_eq!(record["deleted"], true);
    assert_eq!(record["reason"], "trained on leaked data");
    assert_eq!(record["seq"], 1);

    let listed = ok("registry", &reg, &["list"]);
    assert!(!listed.contains("1.0.1"), "{listed}");
    let listed = ok("registry", &reg, &["list", "--all"]);
    assert!(
        listed.contains("deleted (until gc; `registry undelete VERSION` restores one): 1.0.1"),
        "{listed}"
    );
    for args in [
        &["show", "1.0.1"][..],
        &["get", "1.0.1", "--out", "-"],
        &["promote", "1.0.1", "--to", "staging"],
        &["delete", "1.0.1"],
    ] {
        let err = fails("registry", &reg, args, 6);
        assert!(
            err.contains("version 1.0.1 was deleted on ") && err.contains("(trained on leaked data)"),
            "{args:?}: {err}"
        );
    }
    let verified = ok("registry", &reg, &["verify"]);
    assert!(verified.contains("0 problems, 0 leftovers"), "{verified}");

    let said = ok("registry", &reg, &["undelete", "1.0.1"]);
    assert!(said.contains("restored"), "{said}");
    assert!(ok("registry", &reg, &["list"]).contains("1.0.1"));
    assert!(ok("registry", &reg, &["show", "1.0.1"]).contains("1.0.1"));
    let err = fails("registry", &reg, &["undelete", "1.0.1"], 1);
    assert!(err.contains("not deleted"), "{err}");
}

#[test]
fn gc_reclaims_deleted_versions_after_the_grace_period_and_says_what_it_freed() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let model = write(dir.path(), "model.onnx", &vec![7u8; 250_000]);
    for _ in 0..3 {
        ok("registry", &reg, &["add", &model]);
    }
    ok("registry", &reg, &["delete", "1.0.0", "--reason", "superseded"]);

    let said = ok("registry", &reg, &["gc"]);
    assert!(
        said.contains("kept deleted version 1.0.0: deleted 0s ago, within the grace period of 7d"),
        "{said}"
    );
    assert!(said.contains("gc removed 0 version(s)"), "{said}");
    let said = ok("registry", &reg, &["gc", "--older-than", "0s", "--dry-run"]);
    assert!(said.contains("would remove version 1.0.0 (2 files, 0.3 MB)"), "{said}");
    assert!(said.contains("nothing was removed"), "{said}");
    assert!(reg.join("versions/1.0.0/model.onnx").is_file());

    let said = ok("registry", &reg, &["gc", "--older-than", "0s", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(doc["collected"][0]["version"], "1.0.0", "{said}");
    assert!(doc["bytes_freed"].as_u64().unwrap() > 250_000, "{said}");
    assert!(!reg.join("versions/1.0.0").exists());

    let err = fails("registry", &reg, &["undelete", "1.0.0"], 6);
    assert!(err.contains("`registry gc` removed its files on"), "{err}");
    let err = fails("registry", &reg, &["get", "1.0.0", "--out", "-"], 6);
    assert!(
        err.contains("(superseded)") && err.contains("cannot be restored"),
        "{err}"
    );
    let err = fails("registry", &reg, &["add", &model, "--version", "1.0.0"], 1);
    assert!(err.contains("never reused"), "{err}");
    let said = ok("registry", &reg, &["verify"]);
    assert!(said.contains("0 problems, 0 leftovers"), "{said}");
    assert!(ok("registry", &reg, &["gc", "--older-than", "0s"]).contains("gc removed 0 version(s)"));
}

#[test]
fn retain_shows_what_it_deletes_deletes_exactly_that_and_a_saved_policy_drives_gc() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let model = write(dir.path(), "model.onnx", b"onnx");
    for _ in 0..5 {
        ok("registry", &reg, &["add", &model]);
    }
    ok("registry", &reg, &["promote", "1.0.0", "--to", "production"]);

    let dry = ok("registry", &reg, &["retain", "--keep-last", "2", "--dry-run"]);
    assert!(dry.contains("would delete 1.0.1: not among the newest 2"), "{dry}");
    assert!(dry.contains("would delete 1.0.2: not among the newest 2"), "{dry}");
    assert!(dry.contains("keep 1.0.0: alias production names it"), "{dry}");
    assert!(dry.contains("keep 1.0.3: one of the newest 2"), "{dry}");
    assert!(dry.contains("nothing was deleted"), "{dry}");
    assert!(ok("registry", &reg, &["list"]).contains("1.0.1"));

    let doc: serde_json::Value =
        serde_json::from_str(&ok("registry", &reg, &["retain", "--keep-last", "2", "--json"])).unwrap();
    assert_eq!(doc["deleted"], serde_json::json!(["1.0.1", "1.0.2"]), "{doc}");
    let listed = ok("registry", &reg, &["list", "--all"]);
    assert!(
        listed.contains("deleted (until gc; `registry undelete VERSION` restores one): 1.0.1, 1.0.2"),
        "{listed}"
    );

    let said = ok(
        "registry",
        &reg,
        &[
            "retain",
            "--keep-last",
            "1",
            "--keep-within",
            "0s",
            "--save",
            "--dry-run",
        ],
    );
    assert!(said.contains("saved as the model's policy"), "{said}");
    assert!(said.contains("would delete 1.0.3"), "{said}");
    let said = ok("registry", &reg, &["gc", "--older-than", "0s"]);
    assert!(said.contains("delete 1.0.3: not among the newest 1"), "{said}");
    for v in ["1.0.1", "1.0.2", "1.0.3"] {
        assert!(said.contains(&format!("removed version {v} ")), "{said}");
    }
    assert!(said.contains("gc removed 3 version(s)"), "{said}");
    assert!(ok("registry", &reg, &["retain", "--clear"]).contains("no retention policy now"));
    assert!(ok("registry", &reg, &["verify"]).contains("0 problems, 0 leftovers"));
}

#[test]
fn registry_events_lists_every_change_and_follows_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let model = write(dir.path(), "model.onnx", b"onnx");
    ok("registry", &reg, &["add", &model]);
    ok("registry", &reg, &["promote", "1.0.0", "--to", "production"]);
    let text = ok("registry", &reg, &["events"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].trim_start().starts_with("1  ") && lines[0].contains("save         default 1.0.0"),
        "{text}"
    );
    assert!(
        lines[2].contains("promote      default 1.0.0 alias production"),
        "{text}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&ok("registry", &reg, &["events", "--since", "2", "--json"])).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc[0]["kind"], "promote");
    assert_eq!(doc[0]["source"], "history/production/0000000001.json");

    // --follow prints what comes later, one JSON object per line.
    let mut follower = std::process::Command::new(common::bin("registry"))
        .args(["events", "--follow", "--json", "--since", "3"])
        .env("MODELREG_DIR", &reg)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    ok("registry", &reg, &["add", &model]);
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(follower.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    follower.kill().unwrap();
    let _ = follower.wait();
    let event: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(event["id"], 4, "{first}");
    assert_eq!(event["kind"], "save");
}

#[test]
fn deprecating_and_deleting_are_recorded_and_undone() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let model = write(dir.path(), "model.onnx", b"onnx");
    for _ in 0..2 {
        ok("registry", &reg, &["add", &model]);
    }
    ok("registry", &reg, &["promote", "1.0.0", "--to", "production"]);

    let said = ok(
        "registry",
        &reg,
        &["deprecate", "1.0.1", "--reason", "trained on leaked data"],
    );
    assert!(said.contains("latest is 1.0.0"), "{said}");
    let listed = ok("registry", &reg, &["list"]);
    assert!(!listed.contains("1.0.1"), "{listed}");
    let listed = ok("registry", &reg, &["list", "--all"]);
    assert!(listed.contains("(deprecated)"), "{listed}");
    let err = fails("registry", &reg, &["promote", "1.0.1", "--to", "production"], 1);
    assert!(err.contains("deprecated: trained on leaked data"), "{err}");
    ok("registry", &reg, &["promote", "1.0.1", "--to", "staging", "--force"]);
    ok("registry", &reg, &["deprecate", "1.0.1", "--undo"]);
    assert!(ok("registry", &reg, &["list"]).contains("1.0.1"));

    let said = ok("registry", &reg, &["alias", "delete", "production"]);
    assert!(said.contains("it named 1.0.0"), "{said}");
    let err = fails("registry", &reg, &["show", "production"], 3);
    assert!(err.contains("was deleted"), "{err}");
    ok("registry", &reg, &["rollback", "production"]);
    assert!(ok("registry", &reg, &["show", "production"]).contains("version:         1.0.0"));
    let history = ok("registry", &reg, &["history", "production"]);
    assert!(history.contains("delete") && history.contains("rollback"), "{history}");
    let verified = ok("registry", &reg, &["verify"]);
    assert!(verified.contains("0 problems, 0 leftovers"), "{verified}");
}

/// `show` lists what an ONNX version takes and answers, as model-server
/// serves it: skl2onnx's ZipMap output as the [N, K] probabilities with the
/// class labels. A file labelled ONNX that is not one is shown, with why
/// its graph cannot be read, and `show` still succeeds.
#[test]
fn show_lists_an_onnx_versions_inputs_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/onnx/iris_logreg_names.onnx");
    let fixture = fixture.to_str().unwrap();
    ok("registry", &reg, &["add", fixture, "--model", "iris", "--type", "onnx"]);
    let shown = ok("registry", &reg, &["show", "models:/iris/1.0.0"]);
    let io: Vec<&str> = shown
        .lines()
        .filter(|l| l.starts_with("input:") || l.starts_with("output:"))
        .collect();
    insta::assert_snapshot!("show_onnx", io.join("\n"));

    let json: serde_json::Value =
        serde_json::from_str(&ok("registry", &reg, &["show", "models:/iris/1.0.0", "--json"])).unwrap();
    assert_eq!(json["onnx"]["inputs"][0]["datatype"], "FP32", "{json}");
    assert_eq!(json["onnx"]["inputs"][0]["shape"], serde_json::json!([-1, 4]), "{json}");
    let probabilities = &json["onnx"]["outputs"][1];
    assert_eq!(probabilities["shape"], serde_json::json!([-1, 3]), "{json}");
    assert_eq!(
        probabilities["labels"],
        serde_json::json!(["setosa", "versicolor", "virginica"]),
        "{json}"
    );

    let fake = write(dir.path(), "fake.onnx", b"onnx-graph");
    ok("registry", &reg, &["add", &fake, "--model", "fake", "--type", "onnx"]);
    let shown = ok("registry", &reg, &["show", "models:/fake/1.0.0"]);
    let line = shown.lines().find(|l| l.starts_with("onnx graph:")).unwrap_or_default();
    assert!(line.contains("not readable: fake.onnx: not an ONNX model"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_str(&ok("registry", &reg, &["show", "models:/fake/1.0.0", "--json"])).unwrap();
    assert!(
        json["onnx"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not an ONNX model"),
        "{json}"
    );
}
