//! The whole workflow through the real binaries, on a temporary registry and
//! the tiny fixture: train twice, predict by latest / version / alias,
//! promote, gate, roll back, history, diff, verify, and the error paths.

use std::process::Command;

mod common;

use common::{bin, fails, ok, redact, run};

const TINY: &str = "fixtures/tiny.tsv";

#[test]
fn train_predict_promote_rollback_verify() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");

    // No registry yet: said so, with how to make one.
    let err = fails("predictor", &reg, &["hello"], 3);
    assert!(err.contains("no registry at") && err.contains("trainer"), "{err}");

    // Train twice: two versions, latest is the second.
    let first: serde_json::Value =
        serde_json::from_str(&ok("trainer", &reg, &["--data", TINY, "--json", "--folds", "3"])).unwrap();
    assert_eq!(first["version"], "1.0.0");
    for key in ["test_score", "cv_score", "cv_std", "hyperparameters", "path"] {
        assert!(!first[key].is_null(), "--json lacks {key}");
    }
    let summary = ok(
        "trainer",
        &reg,
        &[
            "--data",
            TINY,
            "--folds",
            "3",
            "--tag",
            "team=nlp",
            "--description",
            "second",
        ],
    );
    assert!(summary.contains("registered version 1.0.1"), "{summary}");
    let list = ok("registry", &reg, &["list"]);
    assert!(list.contains("1.0.0") && list.contains("1.0.1"), "{list}");
    assert!(
        list.lines()
            .find(|l| l.starts_with("1.0.1"))
            .unwrap()
            .contains("latest")
    );

    // Predict: latest, an explicit version, an alias; several texts; stdin.
    let out = ok("predictor", &reg, &["this is great", "terrible, awful waste"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        let (label, p) = l.split_once('\t').unwrap();
        assert!(label == "positive" || label == "negative");
        let p: f64 = p.parse().unwrap();
        assert!((0.5..=1.0).contains(&p), "{l}");
    }
    let json = ok("predictor", &reg, &["--version", "1.0.0", "--json", "great"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["version"], "1.0.0");
    assert_eq!(v["text"], "great");
    let err = fails("predictor", &reg, &["--alias", "production", "x"], 3);
    assert!(err.contains("alias \"production\" not found"), "{err}");

    ok("registry", &reg, &["promote", "1.0.0", "--to", "production"]);
    let out = ok("predictor", &reg, &["--alias", "production", "--json", "fine"]);
    assert!(out.contains("\"version\":\"1.0.0\""), "{out}");
    let mut child = Command::new(bin("predictor"))
        .env("MODELREG_DIR", &reg)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"good\nbad\r\n\nlovely\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        4,
        "one answer per line"
    );

    // Compare-and-swap and the promotion gate.
    let err = fails(
        "registry",
        &reg,
        &["promote", "1.0.1", "--to", "production", "--expect", "1.0.1"],
        1,
    );
    assert!(err.contains("moved by someone else"), "{err}");
    ok(
        "registry",
        &reg,
        &[
            "promote",
            "1.0.1",
            "--to",
            "production",
            "--expect",
            "1.0.0",
            "--if-better",
        ],
    );
    // The gate: a version that scored lower than production is refused and
    // production stays where it was.
    let weak = registry_core::ModelInfo {
        test_score: Some(0.01),
        ..registry_core::ModelInfo::default()
    };
    registry_core::Registry::open(&reg)
        .unwrap()
        .save_model(&"0.0.1".parse().unwrap(), &vec![0u8; 4], weak)
        .unwrap();
    let err = fails(
        "registry",
        &reg,
        &["promote", "0.0.1", "--to", "production", "--if-better"],
        1,
    );
    assert!(
        err.contains("not promoting") && err.contains("alias unchanged"),
        "{err}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok("registry", &reg, &["show", "production", "--json"])).unwrap();
    assert_eq!(shown["version"], "1.0.1");
    let history = ok("registry", &reg, &["history", "production"]);
    assert_eq!(history.lines().count(), 3, "{history}");
    let back = ok("registry", &reg, &["rollback", "production"]);
    assert!(back.contains("1.0.1 -> 1.0.0"), "{back}");
    let shown: serde_json::Value =
        serde_json::from_str(&ok("registry", &reg, &["show", "production", "--json"])).unwrap();
    assert_eq!(shown["version"], "1.0.0");
    assert_eq!(shown["lineage"]["data"]["name"], "tiny.tsv");
    assert_eq!(shown["lineage"]["created_by"]["user"], "tester");
    assert!(
        shown["path"]
            .as_str()
            .unwrap()
            .ends_with("versions/1.0.0/metadata.json")
    );

    // Same data and seed, so the same model: only what differs is shown,
    // unless --all.
    let diff = ok("registry", &reg, &["diff", "1.0.0", "1.0.1"]);
    assert!(
        diff.contains("description") && !diff.contains("artifact.sha256"),
        "{diff}"
    );
    let diff = ok("registry", &reg, &["diff", "1.0.0", "1.0.1", "--all"]);
    assert!(diff.contains("artifact.sha256"), "{diff}");
    let verify = ok("registry", &reg, &["verify"]);
    assert!(verify.contains("0 problems"), "{verify}");

    // Errors: unknown version lists what exists; bad names; damage.
    let err = fails("predictor", &reg, &["--version", "9.9.9", "x"], 3);
    assert!(err.contains("available: 0.0.1, 1.0.0, 1.0.1"), "{err}");
    let err = fails("registry", &reg, &["promote", "../../etc", "--to", "production"], 2);
    assert!(err.contains("invalid version"), "{err}");
    let err = fails("registry", &reg, &["promote", "1.0.0", "--to", "../x"], 2);
    assert!(err.contains("invalid alias"), "{err}");
    let err = fails("trainer", &reg, &["--data", TINY, "--version", "1.0.0"], 1);
    assert!(err.contains("already exists"), "{err}");
    let err = fails("trainer", &reg, &["--data", "fixtures/nope.tsv"], 2);
    assert!(err.contains("nope.tsv"), "{err}");

    // A registry path that is not a directory.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = fails("predictor", &file, &["x"], 5);
    assert!(err.contains("not-a-dir"), "{err}");
    let err = fails("registry", &file, &["list"], 5);
    assert!(err.contains("not-a-dir"), "{err}");

    let model = reg.join("versions/1.0.1/model.bin");
    let mut bytes = std::fs::read(&model).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&model, bytes).unwrap();
    let err = fails("predictor", &reg, &["x"], 4);
    assert!(
        err.contains("versions/1.0.1/model.bin") && err.contains("blake3"),
        "{err}"
    );
    let verify = run("registry", &reg, &["verify"]);
    assert_eq!(verify.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("PROBLEM"));
}

#[test]
fn help_and_messages_are_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    insta::assert_snapshot!("registry_help", ok("registry", &reg, &["--help"]));
    insta::assert_snapshot!("trainer_help", ok("trainer", &reg, &["--help"]));
    insta::assert_snapshot!("predictor_help", ok("predictor", &reg, &["--help"]));
    insta::assert_snapshot!("list_no_registry", redact(&fails("registry", &reg, &["list"], 3), &reg));
    insta::assert_snapshot!(
        "predict_no_registry",
        redact(&fails("predictor", &reg, &["x"], 3), &reg)
    );
    ok("trainer", &reg, &["--data", TINY, "--folds", "3", "--quiet"]);
    insta::assert_snapshot!("list_one", redact(&ok("registry", &reg, &["list"]), &reg));
    let show = ok("registry", &reg, &["show", "1.0.0"]);
    let show: Vec<String> = show
        .lines()
        .map(|l| match l.split_once(':') {
            Some((k, _)) if ["created", "trained by", "code", "artifact", "metadata"].contains(&k) => {
                format!("{k}: [redacted]")
            }
            _ => l.to_string(),
        })
        .collect();
    insta::assert_snapshot!("show_version", show.join("\n"));
    insta::assert_snapshot!(
        "unknown_alias",
        redact(&fails("registry", &reg, &["show", "staging"], 3), &reg)
    );
}
