//! Hooks in a local registry's `hooks/`: a pre-hook vetoes (changing
//! nothing, its output shown), a post-hook gets the event and its failure
//! is reported without undoing anything, a hook that hangs is killed, and
//! a hook not owned by the user (or root) or writable by others is refused,
//! never run.

mod common;

use common::{command, fails, ok};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn registry_with_two_versions() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let model = dir.path().join("model.onnx");
    std::fs::write(&model, b"onnx").unwrap();
    for _ in 0..2 {
        ok("registry", &reg, &["add", model.to_str().unwrap()]);
    }
    (dir, reg)
}

fn hook(reg: &Path, name: &str, script: &str, mode: u32) -> std::path::PathBuf {
    let dir = reg.join("hooks");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn history_len(reg: &Path, alias: &str) -> usize {
    std::fs::read_dir(reg.join("history").join(alias)).map_or(0, |d| d.count())
}

#[test]
fn a_pre_promote_hook_vetoes_and_changes_nothing_and_a_post_hook_sees_the_event() {
    let (dir, reg) = registry_with_two_versions();
    let seen = dir.path().join("seen.json");
    hook(
        &reg,
        "pre-promote",
        r#"read event; [ "$MODELREG_HOOK_VERSION" = 1.0.1 ] && { echo "1.0.1 failed the smoke test" >&2; exit 3; }; exit 0"#,
        0o755,
    );
    hook(&reg, "post-promote", &format!("cat > {}", seen.display()), 0o700);

    let err = fails("registry", &reg, &["promote", "1.0.1", "--to", "production"], 1);
    assert!(
        err.contains("the pre-promote hook refused to promote version 1.0.1"),
        "{err}"
    );
    assert!(err.contains("exited with exit status: 3"), "{err}");
    assert!(err.contains("1.0.1 failed the smoke test"), "{err}");
    assert!(!reg.join("aliases/production.json").exists(), "a veto changes nothing");
    assert!(!seen.exists(), "no post hook after a veto");

    ok("registry", &reg, &["promote", "1.0.0", "--to", "production"]);
    let event: serde_json::Value = serde_json::from_slice(&std::fs::read(&seen).unwrap()).unwrap();
    assert_eq!(event["hook"], "post-promote");
    assert_eq!(event["action"], "promote");
    assert_eq!(event["version"], "1.0.0");
    assert_eq!(event["alias"], "production");
    assert_eq!(event["model"], "default");
    assert_eq!(history_len(&reg, "production"), 1);
}

#[test]
fn a_pre_delete_veto_and_a_failing_post_save_hook_are_reported() {
    let (dir, reg) = registry_with_two_versions();
    ok("registry", &reg, &["promote", "1.0.1", "--to", "production"]);
    hook(&reg, "pre-delete", "echo 'deletions need a ticket'; exit 1", 0o755);
    let err = fails("registry", &reg, &["delete", "1.0.0", "--reason", "old"], 1);
    assert!(
        err.contains("the pre-delete hook refused to delete version 1.0.0"),
        "{err}"
    );
    assert!(err.contains("deletions need a ticket"), "{err}");
    assert!(!reg.join("deletions/1.0.0.json").exists());

    hook(&reg, "post-save", "echo 'chat is down' >&2; exit 1", 0o755);
    let model = dir.path().join("model.onnx");
    let out = command("registry", &reg)
        .args(["add", model.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "a post hook undoes nothing: {err}");
    assert!(
        err.contains("warning: the post-save hook failed") && err.contains("chat is down"),
        "{err}"
    );
    assert!(reg.join("versions/1.0.2/metadata.json").is_file());
}

#[test]
fn a_hook_that_hangs_is_killed_at_the_timeout() {
    let (_dir, reg) = registry_with_two_versions();
    hook(&reg, "pre-promote", "sleep 30", 0o755);
    let started = std::time::Instant::now();
    let out = command("registry", &reg)
        .args(["promote", "1.0.0", "--to", "production"])
        .env("MODELREG_HOOK_TIMEOUT", "0.5")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("did not finish within 0.5 s and was killed"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(!reg.join("aliases/production.json").exists());

    let out = command("registry", &reg)
        .args(["promote", "1.0.0", "--to", "production"])
        .env("MODELREG_HOOK_TIMEOUT", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MODELREG_HOOK_TIMEOUT=\"soon\""));
}

#[test]
fn a_hook_others_can_write_or_another_user_owns_is_refused_and_said_so() {
    let (dir, reg) = registry_with_two_versions();
    let ran = dir.path().join("ran");
    let path = hook(&reg, "pre-promote", &format!("touch {}", ran.display()), 0o775);
    let err = fails("registry", &reg, &["promote", "1.0.0", "--to", "production"], 1);
    assert!(
        err.contains("refused to run it") && err.contains("writable by its group or others"),
        "{err}"
    );
    assert!(err.contains("chmod go-w"), "{err}");
    assert!(!ran.exists(), "a refused hook never runs");

    // A symbolic link is refused too (what it points to is not checked).
    std::fs::remove_file(&path).unwrap();
    let real = hook(&reg, "real-hook", "exit 0", 0o755);
    std::os::unix::fs::symlink(&real, reg.join("hooks/post-promote")).unwrap();
    let out = command("registry", &reg)
        .args(["promote", "1.0.0", "--to", "staging"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("post-promote hook failed") && err.contains("symbolic link"),
        "{err}"
    );

    // Owned by another user: only root can arrange that here.
    if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&real).unwrap()) != 0 {
        eprintln!("skipped the other-owner case: it needs root to chown");
        return;
    }
    let path = hook(&reg, "pre-promote", &format!("touch {}", ran.display()), 0o755);
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    let err = fails("registry", &reg, &["promote", "1.0.1", "--to", "production"], 1);
    assert!(
        err.contains("is owned by uid 65534, not by you (uid 0) or root"),
        "{err}"
    );
    assert!(!ran.exists());
    // Root's own hook runs.
    std::os::unix::fs::chown(&path, Some(0), Some(0)).unwrap();
    ok("registry", &reg, &["promote", "1.0.1", "--to", "production"]);
    assert!(ran.exists());
}
