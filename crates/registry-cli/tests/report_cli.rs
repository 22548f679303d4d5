//! `registry report` and `registry show --card` from the command line.

mod common;

use std::process::{Command, Output};

use registry_core::{Expect, ModelInfo, ModelVersion, Registry};

fn registry_cmd(root: &std::path::Path, args: &[&str]) -> Output {
    Command::new(common::bin("registry"))
        .env_remove("MODELREG_DIR")
        .arg("--registry")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

fn filled(root: &std::path::Path) {
    let registry = Registry::open(root).unwrap();
    for i in 0..3u64 {
        let mut info = ModelInfo {
            test_score: Some(0.7 + i as f64 / 100.0),
            cv_score: Some(0.69 + i as f64 / 100.0),
            cv_std: Some(0.01),
            ..ModelInfo::default()
        };
        info.metrics.insert("labels".into(), serde_json::json!(["neg", "pos"]));
        info.metrics
            .insert("confusion".into(), serde_json::json!([[40, 10], [12, 38]]));
        registry
            .save_model(&ModelVersion::new(1, 0, i), &vec![i; 4], info)
            .unwrap();
    }
    registry
        .set_alias(
            &"production".parse().unwrap(),
            &ModelVersion::new(1, 0, 1),
            Expect::Nothing,
        )
        .unwrap();
}

#[test]
fn report_writes_one_page_and_card_prints_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    filled(&root);
    let out = dir.path().join("report.html");
    let written = registry_cmd(&root, &["report", "--out", out.to_str().unwrap()]);
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let stdout = String::from_utf8_lossy(&written.stdout);
    assert!(
        stdout.starts_with(&format!("wrote {} (3 versions, 2 aliases, ", out.display())),
        "{stdout}"
    );
    let page = std::fs::read_to_string(&out).unwrap();
    assert_eq!(page.matches("<tr data-version=").count(), 3);
    assert!(page.ends_with("</html>\n"));

    let to_stdout = registry_cmd(&root, &["report", "--out", "-"]);
    assert!(String::from_utf8_lossy(&to_stdout.stdout).starts_with("<!doctype html>"));

    let card = registry_cmd(&root, &["show", "production", "--card"]);
    assert!(card.status.success());
    let text = String::from_utf8_lossy(&card.stdout).into_owned();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "[TIME]");
    settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
    settings.add_filter(r"trained by \| [^|]+\|", "trained by | [USER] |");
    settings.bind(|| insta::assert_snapshot!("show_card", text));
}

#[test]
fn report_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    filled(&root);
    let bad = registry_cmd(&root, &["report", "--out", "/nonexistent-dir/report.html"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("cannot write /nonexistent-dir/report.html"), "{err}");
    let both = registry_cmd(&root, &["show", "1.0.0", "--card", "--json"]);
    assert!(!both.status.success());
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot be used with"));
    let missing = registry_cmd(&root, &["show", "9.9.9", "--card"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("1.0.0, 1.0.1, 1.0.2"));
}

/// A registry of named models only was reported as "0 versions": without
/// --model the report shows every model, each with its own ids; with
/// --model, that model alone.
#[test]
fn report_shows_every_model() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let base = Registry::open(&root).unwrap();
    for (model, count) in [("spam", 2u64), ("ham", 1)] {
        let registry = base.with_model(Some(model.parse().unwrap()));
        for i in 0..count {
            registry
                .save_model(&ModelVersion::new(1, 0, i), &vec![i; 4], ModelInfo::default())
                .unwrap();
        }
    }
    let out = dir.path().join("report.html");
    let written = registry_cmd(&root, &["report", "--out", out.to_str().unwrap()]);
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let stdout = String::from_utf8_lossy(&written.stdout);
    assert!(
        stdout.starts_with(&format!(
            "wrote {} (2 models: ham 1 version, 1 alias; spam 2 versions, 1 alias, ",
            out.display()
        )),
        "{stdout}"
    );
    let page = std::fs::read_to_string(&out).unwrap();
    assert_eq!(page.matches("<tr data-version=").count(), 3);
    for id in ["spam-versions", "ham-versions", "spam-card-1.0.1", "ham-card-1.0.0"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(page.contains("<tr data-model=\"spam\">") && page.contains("<tr data-model=\"ham\">"));
    assert!(!page.contains("id=\"versions\""), "ids are per model");

    let json = registry_cmd(&root, &["--json", "report", "--out", out.to_str().unwrap()]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["versions"], 3);
    assert_eq!(value["models"][1]["model"], "spam");
    assert_eq!(value["models"][1]["versions"], 2);

    let one = registry_cmd(&root, &["--model", "spam", "report", "--out", out.to_str().unwrap()]);
    assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stderr));
    assert!(
        String::from_utf8_lossy(&one.stdout).contains("(2 versions, 1 alias, "),
        "{}",
        String::from_utf8_lossy(&one.stdout)
    );
    let page = std::fs::read_to_string(&out).unwrap();
    assert_eq!(page.matches("<tr data-version=").count(), 2);
    assert!(page.contains("<h1 class=\"model-title\">Model registry: spam</h1>"));
}
