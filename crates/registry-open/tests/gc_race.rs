//! `gc --older-than 0s` in a loop beside everything else, between
//! processes, on disk and on S3 (moto): two trainers saving, a promoter
//! moving `production` (and rolling it back), a deleter deleting and
//! undeleting whatever it may, and a predictor loading `production`.
//! No saved version that is not deleted may go missing, no prediction may
//! fail, and `verify` must be clean at the end.
//!
//! 60 s each (`MODELREG_RACE_SECONDS`), so they are `#[ignore]`d in the
//! README's test command and run by their own step of `.ci/run`:
//! `cargo test -p registry-open --all-features --test gc_race -- --ignored`.

use registry_core::{AliasName, Bump, Expect, ModelInfo, ModelVersion, RegistryError};
use registry_open::{AnyRegistry, OpenOptions, open};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn seconds() -> Duration {
    let s = std::env::var("MODELREG_RACE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(s)
}

fn options() -> OpenOptions {
    OpenOptions {
        s3_endpoint: std::env::var("MODELREG_S3_TEST_ENDPOINT").ok(),
        cache: None,
    }
}

fn open_at(location: &str) -> AnyRegistry {
    open(location, &options()).unwrap()
}

fn production() -> AliasName {
    "production".parse().unwrap()
}

/// A small deterministic generator (xorshift64*), so a run reproduces.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    }
}

/// Errors a role meets by design in this race (someone else got there
/// first); anything else is a failure.
fn expected(e: &RegistryError) -> bool {
    matches!(
        e,
        RegistryError::VersionDeleted { .. }
            | RegistryError::VersionInUse { .. }
            | RegistryError::NotDeleted { .. }
            | RegistryError::VersionNotFound { .. }
            | RegistryError::AliasConflict { .. }
            | RegistryError::NothingToRollBack { .. }
    )
}

#[test]
fn child_role() {
    let Ok(role) = std::env::var("MODELREG_GC_CHILD_ROLE") else {
        return;
    };
    let registry = open_at(&std::env::var("MODELREG_GC_CHILD_AT").unwrap());
    let id: u64 = std::env::var("MODELREG_GC_CHILD_ID").unwrap().parse().unwrap();
    let deadline = Instant::now() + seconds();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ id);
    let mut rounds = 0u64;
    while Instant::now() < deadline {
        rounds += 1;
        match role.as_str() {
            "trainer" => {
                let model = format!("trainer {id} round {rounds}");
                match registry.save_next(Bump::Patch, &model, ModelInfo::default()) {
                    Ok(md) => println!("saved {} {model}", md.version),
                    Err(e) => println!("failed save: {e}"),
                }
            }
            "promoter" => {
                let result = if rounds.is_multiple_of(5) {
                    registry.rollback(&production()).map(|_| ())
                } else {
                    let versions = registry.list_versions().unwrap_or_default();
                    let Some(pick) = versions
                        .len()
                        .checked_sub(1 + rng.below(3))
                        .and_then(|i| versions.get(i))
                    else {
                        continue;
                    };
                    registry.set_alias(&production(), pick, Expect::Anything).map(|_| ())
                };
                match result {
                    Err(e) if !expected(&e) => println!("failed promote: {e}"),
                    _ => {}
                }
            }
            "deleter" => {
                let deleted = registry.deleted_versions().unwrap_or_default();
                if rounds.is_multiple_of(4) && !deleted.is_empty() {
                    let pick = deleted.keys().nth(rng.below(deleted.len())).cloned();
                    if let Some(v) = pick {
                        match registry.undelete_version(&v) {
                            Ok(_) => println!("undeleted {v}"),
                            Err(e) if expected(&e) => {}
                            Err(e) => println!("failed undelete: {e}"),
                        }
                    }
                    continue;
                }
                let versions = registry.list_versions().unwrap_or_default();
                let Some(v) = versions.get(rng.below(versions.len())).cloned() else {
                    continue;
                };
                match registry.delete_version(&v, Some("gc race")) {
                    Ok(_) => println!("deleted {v}"),
                    Err(e) if expected(&e) => {}
                    Err(e) => println!("failed delete: {e}"),
                }
            }
            "collector" => match registry.gc(Duration::ZERO, false) {
                Ok(report) => {
                    for c in report.collected {
                        println!("collected {}", c.version);
                    }
                }
                Err(e) => println!("failed gc: {e}"),
            },
            "predictor" => match registry.get_by_alias::<String>(&production()) {
                Ok((model, md)) => println!("predicted {} {model}", md.version),
                Err(e) => println!("failed predict: {e}"),
            },
            other => panic!("unknown role {other}"),
        }
    }
}

/// Runs the race against the registry at `location`, seeded with 1.0.0
/// on `production`, and checks what it left.
fn race(location: &str) {
    let registry = open_at(location);
    let seed = "seed".to_string();
    registry
        .save_model(&ModelVersion::new(1, 0, 0), &seed, ModelInfo::default())
        .unwrap();
    registry
        .set_alias(&production(), &ModelVersion::new(1, 0, 0), Expect::Nothing)
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let roles = ["trainer", "trainer", "promoter", "deleter", "collector", "predictor"];
    let children: Vec<_> = roles
        .iter()
        .enumerate()
        .map(|(id, role)| {
            let child = Command::new(&exe)
                .args(["child_role", "--exact", "--nocapture", "--test-threads=1", "-q"])
                .env("MODELREG_GC_CHILD_ROLE", role)
                .env("MODELREG_GC_CHILD_AT", location)
                .env("MODELREG_GC_CHILD_ID", id.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (*role, child)
        })
        .collect();
    let mut lines = Vec::new();
    for (role, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{role} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lines.extend(String::from_utf8_lossy(&out.stdout).lines().map(String::from));
    }
    let failures: Vec<&String> = lines.iter().filter(|l| l.starts_with("failed")).collect();
    assert!(failures.is_empty(), "{} failures: {failures:#?}", failures.len());

    let saved: BTreeMap<ModelVersion, String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("saved "))
        .map(|rest| {
            let (v, model) = rest.split_once(' ').unwrap();
            (v.parse().unwrap(), model.to_string())
        })
        .collect();
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    let (collected, predicted) = (count("collected "), count("predicted "));
    eprintln!(
        "{location}: {} saves, {} deletions, {} undeletions, {collected} collected, {predicted} predictions",
        saved.len(),
        count("deleted "),
        count("undeleted ")
    );
    // A race in which nothing happens proves nothing.
    assert!(saved.len() >= 20, "only {} saves", saved.len());
    assert!(collected >= 5, "gc collected only {collected} versions");
    assert!(predicted >= 20, "only {predicted} predictions");

    // Every prediction got the model saved under the version it named.
    for line in lines.iter().filter_map(|l| l.strip_prefix("predicted ")) {
        let (v, model) = line.split_once(' ').unwrap();
        let v: ModelVersion = v.parse().unwrap();
        let want = if v == ModelVersion::new(1, 0, 0) {
            Some(&seed)
        } else {
            saved.get(&v)
        };
        assert_eq!(want, Some(&model.to_string()), "prediction from {v}");
    }
    // No saved version that is not deleted went missing; a collected one
    // is gone for good and says so.
    for (v, model) in &saved {
        match registry.deletion(v).unwrap() {
            None => {
                let (got, _) = registry
                    .get_model::<String>(v)
                    .unwrap_or_else(|e| panic!("version {v} is not deleted but does not load: {e}"));
                assert_eq!(&got, model, "version {v}");
            }
            Some(record) if record.is_collected() => {
                assert!(matches!(
                    registry.get_model::<String>(v),
                    Err(RegistryError::VersionDeleted { .. })
                ));
            }
            Some(_) => {}
        }
    }
    let report = registry.verify().unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    // A final gc finishes what the loop left; then verify is still clean.
    registry.gc(Duration::ZERO, false).unwrap();
    let report = registry.verify().unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    let (model, md) = registry.get_by_alias::<String>(&production()).unwrap();
    assert!(model == seed || saved.get(&md.version) == Some(&model));
}

#[test]
#[ignore = "a 60 s race: run by its own step of .ci/run (see the module docs)"]
fn gc_beside_everything_on_disk_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    race(dir.path().join("registry").to_str().unwrap());
}

#[cfg(feature = "s3")]
#[test]
#[ignore = "a 60 s race: run by its own step of .ci/run (see the module docs)"]
fn gc_beside_everything_on_s3_loses_nothing() {
    if !test_support::s3_ready() {
        return;
    }
    let location = format!("s3://{}/{}", test_support::s3_bucket(), test_support::unique("gc-race"));
    race(&location);
}
