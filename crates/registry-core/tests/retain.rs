//! Retention: a policy keeps the newest N and the recently saved, never a
//! version an alias names (pre-releases included) or that an alias but
//! `latest` named within the window; its dry run is exactly what the real
//! run deletes; a model's saved policy is applied by gc.

mod common;

use common::{registry_with, v};
use registry_core::{AliasName, ErrorKind, Expect, Registry, RetentionPolicy};
use std::time::Duration;

fn alias(name: &str) -> AliasName {
    name.parse().unwrap()
}

fn versions(planned: &[registry_core::Planned]) -> Vec<String> {
    planned.iter().map(|p| p.version.to_string()).collect()
}

fn keep_last(n: usize, within: Option<u64>) -> RetentionPolicy {
    RetentionPolicy {
        keep_last: Some(n),
        keep_within_secs: within,
    }
}

/// 1.0.0 .. 1.0.5 and 2.0.0-rc.1; production moved 1.0.1 -> 1.0.2,
/// staging on the pre-release.
fn busy_registry() -> (tempfile::TempDir, Registry) {
    let (dir, reg) = registry_with(&["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "2.0.0-rc.1"]);
    reg.set_alias(&alias("production"), &v("1.0.1"), Expect::Nothing)
        .unwrap();
    reg.set_alias(&alias("production"), &v("1.0.2"), Expect::Anything)
        .unwrap();
    reg.set_alias(&alias("staging"), &v("2.0.0-rc.1"), Expect::Nothing)
        .unwrap();
    (dir, reg)
}

#[test]
fn the_dry_run_says_exactly_what_the_real_run_deletes_and_why_each_version_stays() {
    let (_dir, reg) = busy_registry();
    let policy = keep_last(2, None);
    let dry = reg.retain(&policy, true).unwrap();
    assert!(dry.deleted.is_empty());
    // The newest two are 1.0.5 and the pre-release; production's target
    // and the one it left (within the 7 d window) stay; latest's past
    // targets (every save moved it) do not count.
    assert_eq!(versions(&dry.plan.delete), ["1.0.0", "1.0.3", "1.0.4"]);
    let reasons: Vec<(String, String)> = dry
        .plan
        .keep
        .iter()
        .map(|p| (p.version.to_string(), p.reason.clone()))
        .collect();
    let why = |v: &str| reasons.iter().find(|(k, _)| k == v).unwrap().1.clone();
    assert_eq!(why("1.0.2"), "alias production names it");
    assert!(
        why("1.0.1").starts_with("alias production named it 0s ago, within 7d"),
        "{}",
        why("1.0.1")
    );
    assert_eq!(why("2.0.0-rc.1"), "alias staging names it");
    assert_eq!(why("1.0.5"), "alias latest names it");
    assert!(reg.deleted_versions().unwrap().is_empty(), "a dry run deletes nothing");

    let real = reg.retain(&policy, false).unwrap();
    let deleted: Vec<String> = real.deleted.iter().map(ToString::to_string).collect();
    assert_eq!(deleted, versions(&dry.plan.delete));
    let now: Vec<String> = reg
        .deleted_versions()
        .unwrap()
        .keys()
        .map(ToString::to_string)
        .collect();
    assert_eq!(now, deleted);
    let record = reg.deletion(&v("1.0.0")).unwrap().unwrap();
    assert!(record.reason.unwrap().starts_with("retention: not among the newest 2"));
    // Applied again, it has nothing left to delete.
    assert!(reg.retain(&policy, false).unwrap().plan.delete.is_empty());
    assert!(reg.verify().unwrap().is_ok());
}

#[test]
fn keep_within_keeps_recent_saves_and_sets_the_alias_window() {
    let (_dir, reg) = busy_registry();
    // Everything was saved a moment ago: an hour keeps it all.
    let plan = reg.retention_plan(&keep_last(0, Some(3600))).unwrap();
    assert!(plan.delete.is_empty(), "{plan:?}");
    assert!(
        plan.keep
            .iter()
            .any(|p| p.reason.starts_with("saved 0s ago, within 1h"))
    );
    // A window of 0s: only what aliases name now stays, pre-release included.
    let plan = reg.retention_plan(&keep_last(0, Some(0))).unwrap();
    assert_eq!(versions(&plan.delete), ["1.0.0", "1.0.1", "1.0.3", "1.0.4"]);
    assert_eq!(versions(&plan.keep), ["1.0.2", "1.0.5", "2.0.0-rc.1"]);
}

#[test]
fn a_saved_policy_is_applied_by_every_gc_and_a_policy_must_keep_something() {
    let (dir, reg) = busy_registry();
    let err = reg.retention_plan(&RetentionPolicy::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("--keep-last"), "{err}");
    assert!(reg.set_retention_policy(Some(&RetentionPolicy::default())).is_err());
    assert!(reg.retention_policy().unwrap().is_none());

    let policy = keep_last(3, Some(0));
    reg.set_retention_policy(Some(&policy)).unwrap();
    assert_eq!(reg.retention_policy().unwrap().unwrap().policy, policy);
    let raw: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("registry/retention.json")).unwrap()).unwrap();
    assert_eq!(raw["keep_last"], 3);
    assert_eq!(raw["keep_within_secs"], 0);

    let dry = reg.gc(Duration::ZERO, true).unwrap();
    let planned = dry.retention.as_ref().unwrap();
    assert_eq!(versions(&planned.plan.delete), ["1.0.0", "1.0.1", "1.0.3"]);
    assert!(reg.deleted_versions().unwrap().is_empty());

    let report = reg.gc(Duration::ZERO, false).unwrap();
    let collected: Vec<String> = report.collected.iter().map(|c| c.version.to_string()).collect();
    assert_eq!(collected, ["1.0.0", "1.0.1", "1.0.3"]);
    assert!(reg.verify().unwrap().is_ok());

    reg.set_retention_policy(None).unwrap();
    assert!(reg.retention_policy().unwrap().is_none());
    assert!(reg.gc(Duration::ZERO, false).unwrap().retention.is_none());

    // A policy file that keeps nothing (written by hand) is refused, not applied.
    std::fs::write(
        dir.path().join("registry/retention.json"),
        br#"{"format_version": 2, "set_at": "2026-01-01T00:00:00Z", "set_by": {"user": "u", "host": "h"}}"#,
    )
    .unwrap();
    let err = reg.gc(Duration::ZERO, false).unwrap_err();
    assert!(err.to_string().contains("retention.json"), "{err}");
}
