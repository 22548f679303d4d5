//! The event log: every change appended once, ids without gaps or
//! duplicates under concurrent writers (processes), each event agreeing
//! with the record of its change, and verify checking both ways.

mod common;

use common::{output_lines, registry_with, role, spawn_child, v};
use registry_core::{AliasName, Bump, Expect, ModelInfo, ModelName, Registry};
use std::collections::BTreeSet;
use std::time::Duration;

fn alias(name: &str) -> AliasName {
    name.parse().unwrap()
}

fn kinds(reg: &Registry, since: u64) -> Vec<String> {
    reg.events(since, 1000)
        .unwrap()
        .into_iter()
        .map(|e| {
            format!(
                "{} {}{}",
                e.kind,
                e.version,
                e.alias.map(|a| format!(" {a}")).unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn every_kind_of_change_is_logged_once_in_order() {
    let (_dir, reg) = registry_with(&["1.0.0", "1.0.1", "2.0.0-rc.1"]);
    let production = alias("production");
    let start = reg.events(0, 1000).unwrap().len() as u64;
    assert_eq!(
        kinds(&reg, 0),
        [
            "save 1.0.0",
            "latest 1.0.0 latest",
            "save 1.0.1",
            "latest 1.0.1 latest",
            "save 2.0.0-rc.1"
        ]
    );
    reg.set_alias(&production, &v("1.0.0"), Expect::Nothing).unwrap();
    reg.set_alias(&production, &v("1.0.1"), Expect::Anything).unwrap();
    reg.rollback(&production).unwrap();
    reg.delete_alias(&production, Expect::Anything).unwrap();
    reg.set_deprecated(&v("1.0.1"), true, Some("overfit")).unwrap();
    reg.set_deprecated(&v("1.0.1"), false, None).unwrap();
    reg.delete_version(&v("2.0.0-rc.1"), Some("abandoned")).unwrap();
    reg.undelete_version(&v("2.0.0-rc.1")).unwrap();
    reg.delete_version(&v("2.0.0-rc.1"), None).unwrap();
    reg.gc(Duration::ZERO, false).unwrap();
    assert_eq!(
        kinds(&reg, start),
        [
            "promote 1.0.0 production",
            "promote 1.0.1 production",
            "rollback 1.0.0 production",
            "alias_delete 1.0.0 production",
            "deprecate 1.0.1",
            "latest 1.0.0 latest",
            "undeprecate 1.0.1",
            "latest 1.0.1 latest",
            "delete 2.0.0-rc.1",
            "undelete 2.0.0-rc.1",
            "delete 2.0.0-rc.1",
            "gc_claim 2.0.0-rc.1",
            "gc 2.0.0-rc.1",
        ]
    );
    let events = reg.events(0, 1000).unwrap();
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=events.len() as u64).collect::<Vec<_>>());
    let deprecated = events.iter().find(|e| e.kind == "deprecate").unwrap();
    assert_eq!(deprecated.reason.as_deref(), Some("overfit"));
    assert_eq!(deprecated.source, "deprecations-history/1.0.1/0000000001.json");
    let rollback = events.iter().find(|e| e.kind == "rollback").unwrap();
    assert_eq!(rollback.previous, Some(v("1.0.1")));
    assert_eq!(rollback.source, "history/production/0000000003.json");
    assert_eq!(reg.events(events.len() as u64 - 2, 10).unwrap().len(), 2, "--since");
    let verify = reg.verify().unwrap();
    assert!(verify.is_ok() && verify.leftovers.is_empty(), "{verify:?}");
}

#[test]
fn one_log_serves_every_model_and_verify_finds_an_event_that_lies() {
    let (dir, reg) = registry_with(&["1.0.0"]);
    let spam = reg.with_model(Some("spam".parse::<ModelName>().unwrap()));
    spam.save_model(&v("3.0.0"), &"weights".to_string(), ModelInfo::default())
        .unwrap();
    let events = reg.events(0, 100).unwrap();
    let models: Vec<&str> = events.iter().map(|e| e.model.as_str()).collect();
    assert_eq!(models, ["default", "default", "spam", "spam"]);
    assert_eq!(events[2].source, "models/spam/versions/3.0.0/metadata.json");
    assert!(spam.verify().unwrap().is_ok());

    // An event edited to name another version than its record.
    let path = dir.path().join("registry/events/00000000000000000002.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"1.0.0\"", "\"9.9.9\"");
    std::fs::write(&path, text).unwrap();
    let verify = reg.verify().unwrap();
    assert_eq!(verify.problems.len(), 1, "{verify:?}");
    assert!(
        verify.problems[0]
            .message
            .contains("event 2 says alias latest moved to 9.9.9"),
        "{verify:?}"
    );

    // A head past the log's end is a problem (new events would leave a gap).
    std::fs::write(dir.path().join("registry/events-head.json"), b"{\"id\": 99}").unwrap();
    let verify = spam.verify().unwrap();
    assert!(
        verify.problems.iter().any(|p| p.message.contains("would leave a gap")),
        "{verify:?}"
    );
}

#[test]
fn child_role() {
    let Some(role) = role() else { return };
    assert_eq!(role, "writer");
    let reg = Registry::open(common::env("MODELREG_TEST_ROOT")).unwrap();
    let id = common::env("MODELREG_TEST_ID");
    let target = alias(&format!("team{id}"));
    for round in 0..25 {
        let md = reg
            .save_next(Bump::Patch, &format!("{id}-{round}"), ModelInfo::default())
            .unwrap();
        reg.set_alias(&target, &md.version, Expect::Anything).unwrap();
        println!("saved {}", md.version);
    }
}

#[test]
fn concurrent_writers_leave_no_gap_no_duplicate_and_no_change_unlogged() {
    if role().is_some() {
        return;
    }
    let (dir, reg) = registry_with(&["1.0.0"]);
    let root = dir.path().join("registry");
    let children: Vec<_> = (0..4)
        .map(|id| {
            let vars = [
                ("MODELREG_TEST_ROOT", root.display().to_string()),
                ("MODELREG_TEST_ID", id.to_string()),
            ];
            ("writer", spawn_child("child_role", "writer", &vars))
        })
        .collect();
    let saves = output_lines(children)
        .iter()
        .filter(|l| l.starts_with("saved "))
        .count();
    assert_eq!(saves, 100);

    let events = reg.events(0, 10_000).unwrap();
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=events.len() as u64).collect::<Vec<_>>(), "no gap");
    let sources: BTreeSet<&str> = events.iter().map(|e| e.source.as_str()).collect();
    assert_eq!(sources.len(), events.len(), "no change logged twice");
    // Each save: its version, latest (unless a newer save got there
    // first), and its team's alias.
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count("save"), 101);
    assert_eq!(count("promote"), 100);
    let latest_moves = reg.alias_history(&AliasName::latest()).unwrap().len();
    assert_eq!(count("latest"), latest_moves, "as many as latest's history has");
    let verify = reg.verify().unwrap();
    assert!(verify.is_ok() && verify.leftovers.is_empty(), "{verify:?}");
}
