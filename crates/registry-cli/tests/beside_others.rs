//! The CLI in a shared, busy registry: closed pipes, a mistyped
//! `--registry`, damaged versions in `list`, rollback and promotion that
//! mean what they say, and a registry shared by two users.

mod common;

use common::{bin, run, v, workspace};
use registry_core::{DataFingerprint, Expect, ModelInfo, ModelVersion, Registry};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A version evaluated on `data` (a fingerprint) with `test_score`.
fn info(data: Option<&str>, test_score: Option<f64>) -> ModelInfo {
    let mut info = ModelInfo {
        test_score,
        ..ModelInfo::default()
    };
    info.lineage.data = data.map(|d| DataFingerprint {
        name: format!("{d}.tsv"),
        sha256: format!("{d:0>64}"),
        rows: 100,
        path: None,
        size: None,
    });
    info.lineage.seed = Some(42);
    info.lineage.test_size = Some(0.2);
    info
}

fn trained_registry() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let tiny = workspace().join("fixtures/tiny.tsv");
    for _ in 0..2 {
        let out = run(
            "trainer",
            &reg,
            &["--data", tiny.to_str().unwrap(), "--folds", "3", "--quiet"],
        );
        assert!(out.status.success(), "{}", text(&out).1);
    }
    (dir, reg)
}

#[test]
fn a_closed_output_ends_quietly() {
    let (_dir, reg) = trained_registry();
    let cases: [(&str, &[&str]); 7] = [
        ("registry", &["list"]),
        ("registry", &["show", "1.0.0", "--json"]),
        ("registry", &["diff", "1.0.0", "1.0.1"]),
        ("registry", &["history", "latest"]),
        ("registry", &["report", "--out", "-"]),
        ("registry", &["verify"]),
        ("predictor", &["good", "bad", "fine"]),
    ];
    for (tool, args) in cases {
        let mut child = Command::new(bin(tool))
            .args(args)
            .env("MODELREG_DIR", &reg)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command has written anything
        // (`registry list | head -0`).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{tool} {args:?}: {err}");
        assert!(err.is_empty(), "{tool} {args:?} printed: {err}");
    }
}

#[test]
fn a_location_without_a_registry_is_an_error_for_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("regsitry");
    let missing_s = missing.to_str().unwrap();
    let page = dir.path().join("page.html");
    let copy_to = dir.path().join("copy");
    let cases: [(&str, Vec<&str>); 10] = [
        ("registry", vec!["list"]),
        ("registry", vec!["show", "1.0.0"]),
        ("registry", vec!["history", "production"]),
        ("registry", vec!["diff", "1.0.0", "1.0.1"]),
        ("registry", vec!["verify"]),
        ("registry", vec!["verify", "--repair"]),
        ("registry", vec!["report", "--out", page.to_str().unwrap()]),
        ("registry", vec!["promote", "1.0.0", "--to", "production"]),
        ("registry", vec!["copy", missing_s, copy_to.to_str().unwrap()]),
        ("predictor", vec!["good"]),
    ];
    for (tool, args) in &cases {
        let out = run(tool, &missing, args);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(3), "{tool} {args:?}: {err}");
        assert!(
            err.contains("no registry at") && err.contains(missing_s),
            "{tool} {args:?}: {err}"
        );
    }
    assert!(!missing.exists() && !page.exists(), "a failed read created something");
    // The only way in: a first save.
    let tiny = workspace().join("fixtures/tiny.tsv");
    let out = run("trainer", &missing, &["--data", tiny.to_str().unwrap(), "--folds", "3"]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(run("registry", &missing, &["list"]).status.success());
}

#[test]
fn list_shows_the_good_versions_and_marks_a_damaged_one() {
    let (_dir, reg) = trained_registry();
    let metadata = reg.join("versions/1.0.0/metadata.json");
    let damaged = std::fs::read_to_string(&metadata)
        .unwrap()
        .replace("\"test_score\"", "\"test_scor\"");
    std::fs::write(&metadata, damaged).unwrap();
    // With its catalog, list reads no metadata (that is what makes it fast):
    // the damage shows in `show` and `verify`. Without a catalog it trusts,
    // list reads every version's metadata and marks the damaged one.
    let out = run("registry", &reg, &["list"]);
    assert!(out.status.success() && text(&out).0.contains("1.0.0"));
    let _ = std::fs::remove_file(reg.join("catalog.json"));
    std::fs::remove_dir_all(reg.join("catalog.d")).unwrap();
    let out = run("registry", &reg, &["list"]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    let line = |v: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(v))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("1.0.0").contains("DAMAGED") && line("1.0.0").contains("metadata sha256"),
        "{stdout}"
    );
    assert!(
        line("1.0.1").contains("latest") && !line("1.0.1").contains("DAMAGED"),
        "{stdout}"
    );
    let out = run("registry", &reg, &["list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |v: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["version"] == v)
            .cloned()
            .unwrap()
    };
    assert!(
        row("1.0.0")["error"].as_str().unwrap().contains("metadata sha256"),
        "{rows}"
    );
    assert!(row("1.0.1")["error"].is_null(), "{rows}");
    // Finding damage is verify's job.
    assert_eq!(run("registry", &reg, &["verify"]).status.code(), Some(4));
}

#[test]
fn rollback_steps_back_one_move_at_a_time_and_a_repeated_promotion_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let registry = Registry::open(&reg).unwrap();
    for i in 0..3 {
        registry
            .save_model(&ModelVersion::new(1, 0, i), &vec![i as u8; 8], ModelInfo::default())
            .unwrap();
    }
    for target in ["1.0.0", "1.0.1", "1.0.2"] {
        assert!(
            run("registry", &reg, &["promote", target, "--to", "production"])
                .status
                .success()
        );
    }
    let moves = || registry.alias_history(&"production".parse().unwrap()).unwrap().len();
    assert_eq!(moves(), 3);
    let out = run("registry", &reg, &["promote", "1.0.2", "--to", "production"]);
    let (stdout, _) = text(&out);
    assert!(
        out.status.success() && stdout.contains("already points to 1.0.2; nothing changed"),
        "{stdout}"
    );
    assert_eq!(moves(), 3, "a repeated promotion records nothing");

    let out = run("registry", &reg, &["rollback", "production"]);
    assert!(text(&out).0.contains("rolled back 1.0.2 -> 1.0.1"), "{:?}", text(&out));
    let out = run("registry", &reg, &["rollback", "production"]);
    assert!(text(&out).0.contains("rolled back 1.0.1 -> 1.0.0"), "{:?}", text(&out));
    let out = run("registry", &reg, &["rollback", "production"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("no earlier target"), "{:?}", text(&out));
    let out = run("registry", &reg, &["rollback", "production", "--to", "1.0.2"]);
    assert!(text(&out).0.contains("rolled back 1.0.0 -> 1.0.2"), "{:?}", text(&out));
    let out = run("registry", &reg, &["rollback", "production", "--to", "9.9.9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("not an earlier target"), "{:?}", text(&out));
    assert_eq!(moves(), 6, "every move is recorded");
    let history: serde_json::Value =
        serde_json::from_slice(&run("registry", &reg, &["history", "production", "--json"]).stdout).unwrap();
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["promote", "promote", "promote", "rollback", "rollback", "rollback"]
    );
}

#[test]
fn if_better_compares_only_versions_evaluated_on_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let registry = Registry::open(&reg).unwrap();
    let save = |version: &str, info: ModelInfo| {
        registry.save_model(&v(version), &vec![1u8; 8], info).unwrap();
    };
    save("1.0.0", info(Some("films"), Some(0.796)));
    save("1.0.1", info(Some("products"), Some(0.857)));
    save("1.0.2", info(Some("films"), None));
    save("1.0.3", info(Some("films"), Some(0.70)));
    let mut lower_loss = info(Some("films"), Some(0.79));
    lower_loss.metrics.insert("log_loss".into(), serde_json::json!(0.41));
    save("1.0.4", lower_loss);
    let mut base = info(Some("films"), Some(0.796));
    base.metrics.insert("log_loss".into(), serde_json::json!(0.45));
    save("1.0.5", base);
    registry
        .set_alias(&"production".parse().unwrap(), &v("1.0.5"), Expect::Nothing)
        .unwrap();
    let promote = |args: &[&str]| {
        let mut all = vec!["promote"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--to", "production"]);
        run("registry", &reg, &all)
    };
    let production = || registry.resolve(&"production".parse().unwrap()).unwrap().version;

    let out = promote(&["1.0.1", "--if-better"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out).1;
    assert!(
        err.contains("cannot be compared") && err.contains("products.tsv"),
        "{err}"
    );
    let out = promote(&["1.0.2", "--if-better"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("records no test_score"), "{:?}", text(&out));
    let out = promote(&["1.0.3", "--if-better"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("test_score 0.7000 is below 1.0.5's 0.7960"),
        "{:?}",
        text(&out)
    );
    assert_eq!(production(), v("1.0.5"), "every refusal left production alone");

    // A lower log loss is better, whatever the test score says.
    let out = promote(&["1.0.4", "--if-better", "--metric", "log_loss"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(production(), v("1.0.4"));
    let out = promote(&["1.0.3", "--if-better", "--metric", "nope:sideways"]);
    assert_eq!(out.status.code(), Some(2));
    // --force: the data differ, so the scores say nothing; promote anyway.
    let out = promote(&["1.0.1", "--if-better", "--force"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(production(), v("1.0.1"));
}

/// Two users in one group share a registry whose root is group-writable
/// (setgid): what one creates, the other can change. Needs root (to act as
/// a second user); elsewhere it says SKIPPED.
#[test]
fn two_users_share_a_group_writable_registry() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root to run commands as a second user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let reg = dir.path().join("registry");
    let (other_uid, group) = (65534u32, 65534u32);
    std::fs::create_dir(&reg).unwrap();
    std::os::unix::fs::chown(&reg, Some(0), Some(group)).unwrap();
    std::fs::set_permissions(&reg, std::fs::Permissions::from_mode(0o2775)).unwrap();
    // The second user may not reach the build directory (a checkout under
    // /root): run copies of the binaries and the data from the test's own
    // directory.
    let copies = dir.path().join("copies");
    std::fs::create_dir(&copies).unwrap();
    let local = |path: &Path| {
        let copy = copies.join(path.file_name().unwrap());
        std::fs::copy(path, &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        copy
    };
    let tools = [
        ("trainer", local(&bin("trainer"))),
        ("registry", local(&bin("registry"))),
    ];
    let as_user = |uid: u32, tool: &str, args: &[&str]| {
        let path = &tools.iter().find(|(name, _)| *name == tool).unwrap().1;
        let mut cmd = Command::new(path);
        cmd.current_dir(dir.path())
            .args(args)
            .env("MODELREG_DIR", &reg)
            .env("MODELREG_USER", format!("uid{uid}"));
        // SAFETY: umask is async-signal-safe; the child sets the usual
        // 022, which would make every file private to its owner.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0o022);
                Ok(())
            });
        }
        if uid != 0 {
            cmd.uid(uid).gid(group);
        }
        cmd.output().unwrap()
    };
    let tiny = local(&workspace().join("fixtures/tiny.tsv"));
    let tiny = tiny.to_str().unwrap();
    let out = as_user(0, "trainer", &["--data", tiny, "--folds", "3", "--quiet"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = as_user(0, "registry", &["promote", "1.0.0", "--to", "production"]);
    assert!(out.status.success(), "{:?}", text(&out));
    // The other user moves the alias root created, and saves a version.
    let out = as_user(other_uid, "registry", &["promote", "latest", "--to", "staging"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = as_user(other_uid, "registry", &["history", "production"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = as_user(other_uid, "trainer", &["--data", tiny, "--folds", "3", "--quiet"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = as_user(other_uid, "registry", &["promote", "1.0.1", "--to", "production"]);
    assert!(out.status.success(), "{:?}", text(&out));
    // And root moves what the other user created.
    let out = as_user(0, "registry", &["rollback", "production"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = as_user(other_uid, "registry", &["verify"]);
    assert!(out.status.success(), "{:?}", text(&out));
    // Everything the registry made is group-writable and in the group.
    let mut stack = vec![reg.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.file_type().is_symlink() {
                continue;
            }
            use std::os::unix::fs::MetadataExt;
            assert_eq!(meta.gid(), group, "{} is not in the shared group", e.path().display());
            assert!(meta.mode() & 0o020 != 0, "{} is not group-writable", e.path().display());
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
}
