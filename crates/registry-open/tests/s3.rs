//! The S3 backend against a real S3 protocol server (moto) on 127.0.0.1.
//!
//! Runs only with `--features s3`, and then needs the server:
//! `eval "$(.ci/s3-test-server)"` starts it and exports
//! `MODELREG_S3_TEST_ENDPOINT` / `MODELREG_S3_TEST_BUCKET` (CI does this).
//! Every test works under its own random prefix of the shared bucket.
#![cfg(feature = "s3")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use registry_core::store::{Store, StoreError, conformance};
use registry_core::{AliasName, Expect, ModelInfo, ModelVersion, Registry, RegistryError};
use registry_open::s3::{S3Config, S3Store};
use registry_open::{OpenOptions, open};

#[path = "cutting_proxy.rs"]
mod cutting_proxy;
use cutting_proxy::{Cut, CuttingProxy};

use test_support::{s3_bucket as bucket, s3_endpoint as endpoint, unique};

fn config(prefix: &str, endpoint: &str, max_retries: usize) -> S3Config {
    S3Config {
        bucket: bucket(),
        prefix: prefix.to_string(),
        endpoint: Some(endpoint.to_string()),
        max_retries,
        request_deadline: Duration::from_secs(20),
        multipart_from: 64 << 20,
        part_size: 16 << 20,
    }
}

fn store(prefix: &str) -> S3Store {
    S3Store::connect(config(prefix, &endpoint(), 2)).unwrap()
}

fn registry(prefix: &str) -> Registry<S3Store> {
    Registry::open_store(store(prefix)).unwrap()
}

fn info(score: f64) -> ModelInfo {
    ModelInfo {
        test_score: Some(score),
        ..ModelInfo::default()
    }
}

fn v(text: &str) -> ModelVersion {
    text.parse().unwrap()
}

#[test]
fn s3_store_passes_the_conformance_suite() {
    if !test_support::s3_ready() {
        return;
    }
    conformance::check_store(&store(&unique("conformance")));
}

#[test]
fn a_registry_works_unchanged_on_s3() {
    if !test_support::s3_ready() {
        return;
    }
    let prefix = unique("story");
    let location = format!("s3://{}/{prefix}", bucket());
    let options = OpenOptions {
        s3_endpoint: Some(endpoint()),

        ..Default::default()
    };
    let writer = open(&location, &options).unwrap();
    assert!(matches!(
        writer.get_latest_model::<Vec<u32>>(),
        Err(RegistryError::Empty { .. })
    ));
    writer
        .save_model_json(&v("1.0.0"), &vec![1u32, 2, 3], info(0.7))
        .unwrap();
    writer.save_model(&v("1.1.0"), &vec![4u32, 5], info(0.8)).unwrap();
    let production = "production".parse::<AliasName>().unwrap();
    writer.set_alias(&production, &v("1.0.0"), Expect::Nothing).unwrap();
    writer
        .set_alias(&production, &v("1.1.0"), Expect::Version(v("1.0.0")))
        .unwrap();
    assert!(matches!(
        writer.set_alias(&production, &v("1.0.0"), Expect::Version(v("1.0.0"))),
        Err(RegistryError::AliasConflict { .. })
    ));
    writer.rollback(&production).unwrap();

    // A second client (another machine) sees exactly the same registry.
    let reader = open(&location, &options).unwrap();
    assert_eq!(reader.list_versions().unwrap(), vec![v("1.0.0"), v("1.1.0")]);
    let (model, metadata) = reader.get_latest_model::<Vec<u32>>().unwrap();
    assert_eq!((model, metadata.version), (vec![4, 5], v("1.1.0")));
    let (model, _) = reader.get_by_alias::<Vec<u32>>(&production).unwrap();
    assert_eq!(model, vec![1, 2, 3]);
    let history: Vec<String> = reader
        .alias_history(&production)
        .unwrap()
        .iter()
        .map(|r| r.version.to_string())
        .collect();
    assert_eq!(history, ["1.0.0", "1.1.0", "1.0.0"]);
    assert!(matches!(
        writer.save_model_json(&v("1.0.0"), &vec![9u32], info(0.1)),
        Err(RegistryError::VersionExists { complete: true, .. })
    ));
    let report = reader.verify().unwrap();
    assert!(report.is_ok() && report.leftovers.is_empty(), "{report:?}");
    assert!(reader.location().starts_with(&format!("s3://{}/{prefix}/", bucket())));
}

#[test]
fn a_version_is_deleted_and_restored_on_s3_as_on_disk() {
    if !test_support::s3_ready() {
        return;
    }
    let prefix = unique("delete");
    let reg = registry(&prefix);
    for (version, score) in [("1.0.0", 0.7), ("1.1.0", 0.8), ("1.2.0", 0.9)] {
        reg.save_model(&v(version), &vec![1u32], info(score)).unwrap();
    }
    let production = "production".parse::<AliasName>().unwrap();
    reg.set_alias(&production, &v("1.0.0"), Expect::Nothing).unwrap();
    assert!(matches!(
        reg.delete_version(&v("1.0.0"), None),
        Err(RegistryError::VersionInUse { .. })
    ));
    reg.delete_version(&v("1.1.0"), Some("bad labels")).unwrap();

    // Another client sees the deletion: absent from the catalog, refused.
    let other = registry(&prefix);
    let listed: Vec<ModelVersion> = other
        .catalog()
        .unwrap()
        .into_iter()
        .map(|e| e.unwrap().version)
        .collect();
    assert_eq!(listed, [v("1.0.0"), v("1.2.0")]);
    let err = other.get_model::<Vec<u32>>(&v("1.1.0")).unwrap_err();
    assert!(err.to_string().contains("(bad labels)"), "{err}");
    assert!(matches!(
        other.set_alias(&production, &v("1.1.0"), Expect::Anything),
        Err(RegistryError::VersionDeleted { .. })
    ));
    assert!(other.verify().unwrap().is_ok());

    other.undelete_version(&v("1.1.0")).unwrap();
    assert_eq!(reg.get_model::<Vec<u32>>(&v("1.1.0")).unwrap().0, vec![1]);
    assert_eq!(reg.deletion_history(&v("1.1.0")).unwrap().len(), 2);
}

#[test]
fn gc_removes_a_deleted_versions_objects_on_s3_and_keeps_its_record() {
    if !test_support::s3_ready() {
        return;
    }
    let prefix = unique("gc");
    let reg = registry(&prefix);
    for version in ["1.0.0", "1.1.0"] {
        reg.save_model(&v(version), &vec![7u32; 1000], info(0.5)).unwrap();
    }
    reg.delete_version(&v("1.0.0"), Some("superseded")).unwrap();
    assert!(reg.gc(Duration::from_secs(3600), false).unwrap().collected.is_empty());
    let report = reg.gc(Duration::ZERO, false).unwrap();
    assert_eq!(report.collected.len(), 1, "{report:?}");
    assert!(report.bytes_freed > 1000);
    let left = store(&prefix).list("versions/1.0.0/").unwrap();
    assert!(left.is_empty(), "{left:?}");
    let err = reg.undelete_version(&v("1.0.0")).unwrap_err();
    assert!(err.to_string().contains("`registry gc` removed its files"), "{err}");
    assert!(matches!(
        reg.save_model(&v("1.0.0"), &vec![1u32], info(0.1)),
        Err(RegistryError::VersionCollected { .. })
    ));
    let verify = reg.verify().unwrap();
    assert!(verify.is_ok() && verify.leftovers.is_empty(), "{verify:?}");
    // The log on S3 as on disk: every change, in order.
    let kinds: Vec<String> = reg.events(0, 100).unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["save", "latest", "save", "latest", "delete", "gc_claim", "gc"]);
}

#[test]
fn copying_a_version_between_stores_keeps_it_identical() {
    if !test_support::s3_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let local = Registry::open(dir.path().join("registry")).unwrap();
    local.save_model(&v("2.0.0"), &vec![7u32; 1000], info(0.9)).unwrap();
    let remote = registry(&unique("import"));
    let loaded = local.load_stored_version(&v("2.0.0")).unwrap();
    assert!(remote.import_version(&loaded).unwrap());
    assert!(!remote.import_version(&loaded).unwrap(), "a second copy is a no-op");
    let copied = remote.load_stored_version(&v("2.0.0")).unwrap();
    assert_eq!(copied.files, loaded.files);
    assert_eq!(copied.metadata_bytes, loaded.metadata_bytes);
    assert_eq!(remote.resolve(&AliasName::latest()).unwrap().version, v("2.0.0"));
}

/// Child processes of the tests below re-run this test binary with a role.
#[test]
fn child_role() {
    let Ok(role) = std::env::var("MODELREG_S3_CHILD_ROLE") else {
        return;
    };
    let prefix = std::env::var("MODELREG_S3_CHILD_PREFIX").unwrap();
    let me = std::env::var("MODELREG_S3_CHILD_ID").unwrap();
    let registry = registry(&prefix);
    match role.as_str() {
        "save" => match registry.save_model_json(&v("1.0.0"), &me, info(0.5)) {
            Ok(_) => println!("RESULT won"),
            Err(RegistryError::VersionExists { .. }) => println!("RESULT lost"),
            Err(e) => panic!("unexpected error: {e}"),
        },
        "move" => {
            let production = "production".parse::<AliasName>().unwrap();
            let mut wins = 0;
            for round in 0..8 {
                let current = registry.resolve(&production).unwrap().version;
                let target = if round % 2 == 0 { v("1.0.1") } else { v("1.0.0") };
                // A move to what it names already changes nothing (and
                // writes no history): only real moves count.
                match registry.point_alias(&production, &target, Expect::Version(current)) {
                    Ok(moved) if moved.changed => wins += 1,
                    Ok(_) => {}
                    Err(RegistryError::AliasConflict { .. }) => {}
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
            println!("RESULT {wins}");
        }
        other => panic!("unknown role {other}"),
    }
}

fn run_children(role: &str, prefix: &str, count: usize) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..count)
        .map(|i| {
            Command::new(&exe)
                .args(["child_role", "--exact", "--nocapture", "--test-threads", "1"])
                .env("MODELREG_S3_CHILD_ROLE", role)
                .env("MODELREG_S3_CHILD_PREFIX", prefix)
                .env("MODELREG_S3_CHILD_ID", format!("writer-{i}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "child failed: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
                .lines()
                .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r.trim()))
                .unwrap_or_else(|| panic!("no result in {stdout}"))
                .to_string()
        })
        .collect()
}

#[test]
fn of_eight_processes_saving_one_version_exactly_one_wins() {
    if !test_support::s3_ready() {
        return;
    }
    let prefix = unique("race");
    let results = run_children("save", &prefix, 8);
    assert_eq!(results.iter().filter(|r| *r == "won").count(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|r| *r == "lost").count(), 7, "{results:?}");
    let registry = registry(&prefix);
    let (winner, metadata) = registry.get_latest_model::<String>().unwrap();
    assert!(winner.starts_with("writer-"));
    assert_eq!(metadata.version, v("1.0.0"));
    assert!(registry.verify().unwrap().is_ok());
}

#[test]
fn concurrent_alias_moves_from_processes_lose_no_update() {
    if !test_support::s3_ready() {
        return;
    }
    let prefix = unique("cas");
    let registry = registry(&prefix);
    registry.save_model_json(&v("1.0.0"), &1u32, info(0.5)).unwrap();
    registry.save_model_json(&v("1.0.1"), &2u32, info(0.6)).unwrap();
    let production = "production".parse::<AliasName>().unwrap();
    registry.set_alias(&production, &v("1.0.0"), Expect::Nothing).unwrap();
    let wins: usize = run_children("move", &prefix, 4)
        .iter()
        .map(|r| r.parse::<usize>().unwrap())
        .sum();
    assert!(wins >= 1);
    let history = registry.alias_history(&production).unwrap();
    assert_eq!(history.len(), 1 + wins, "every successful move is in the history, once");
    for (i, record) in history.iter().enumerate() {
        assert_eq!(record.seq, i as u64 + 1);
        if i > 0 {
            assert_eq!(record.previous.as_ref(), Some(&history[i - 1].version));
        }
    }
    assert_eq!(registry.resolve(&production).unwrap().seq, history.len() as u64);
}

/// A server that says yes to every PUT, like an S3 clone without
/// conditional writes.
fn serve_yes_to_everything() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for connection in listener.incoming() {
            let Ok(connection) = connection else { continue };
            std::thread::spawn(move || answer_yes(connection));
        }
    });
    format!("http://{address}")
}

fn answer_yes(connection: TcpStream) {
    let mut reader = BufReader::new(connection.try_clone().unwrap());
    let mut writer = connection;
    let mut etag = 0;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        etag += 1;
        let response = if request_line.starts_with("PUT ") {
            format!("HTTP/1.1 200 OK\r\nETag: \"tag{etag}\"\r\nContent-Length: 0\r\n\r\n")
        } else if request_line.starts_with("DELETE ") {
            "HTTP/1.1 204 No Content\r\n\r\n".to_string()
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
        };
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn a_server_that_ignores_conditional_writes_is_refused_before_any_write() {
    let fake = serve_yes_to_everything();
    let store = S3Store::connect(config("refused", &fake, 0)).unwrap();
    for attempt in 0..2 {
        let err = store.create("versions/1.0.0/model.bin", b"x").unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StoreError::Unsafe { .. }), "{err:?}");
        assert!(
            message.contains("ignores conditional writes"),
            "attempt {attempt}: {message}"
        );
        assert!(message.contains("If-None-Match"), "{message}");
    }
    assert!(matches!(
        store.swap_pointer("aliases/latest.json", None, b"{}"),
        Err(StoreError::Unsafe { .. })
    ));
}

/// How the network dies when a request would cross the byte budget.
/// 150 KB that postcard stores as 150 KB.
fn model() -> Vec<u8> {
    (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn save_through(proxy: &CuttingProxy, prefix: &str) -> Result<(), RegistryError> {
    let registry = Registry::open_store(S3Store::connect(config(prefix, &proxy.address, 0)).unwrap())?;
    registry.save_model(&v("1.0.1"), &model(), info(0.9)).map(|_| ())
}

#[test]
fn a_network_failure_at_any_request_of_a_save_leaves_no_partial_version() {
    if !test_support::s3_ready() {
        return;
    }
    // Count the requests of a whole save, through a proxy that never cuts.
    let measure = CuttingProxy::start(&endpoint(), i64::MAX, Cut::BeforeRequest);
    let prefix = unique("cut-measure");
    registry(&prefix).save_model(&v("1.0.0"), &1u32, info(0.5)).unwrap();
    save_through(&measure, &prefix).unwrap();
    let total = measure.sent.load(Ordering::SeqCst);
    assert!(total >= 8, "a save took only {total} requests");

    let mut cases = 0;
    let mut committed_unanswered = 0;
    let mut succeeded = 0;
    for budget in 0..total {
        for cut in [Cut::BeforeRequest, Cut::BeforeAnswer] {
            cases += 1;
            let prefix = unique(&format!("cut{budget}"));
            let direct = registry(&prefix);
            direct.save_model(&v("1.0.0"), &1u32, info(0.5)).unwrap();
            let proxy = CuttingProxy::start(&endpoint(), budget, cut);
            let outcome = save_through(&proxy, &prefix);
            assert!(proxy.budget.load(Ordering::SeqCst) < 0);
            // A cut after the commit and the move of latest only costs the
            // catalog update, which is best effort: the save succeeded, and
            // must then be whole and latest. Any earlier cut fails it.
            if outcome.is_ok() {
                succeeded += 1;
                assert_eq!(
                    direct.resolve(&AliasName::latest()).unwrap().version,
                    v("1.0.1"),
                    "{cut:?} at request {budget} of {total}: a save reported success before latest moved"
                );
            }
            if check_after_cut(&direct, &format!("{cut:?} at request {budget} of {total}")) {
                committed_unanswered += 1;
            }
        }
    }
    assert_eq!(cases as i64, 2 * total);
    assert!(
        succeeded < cases / 2,
        "{succeeded} of {cases} cut saves succeeded: the cuts miss the save"
    );
    assert!(
        committed_unanswered >= 1,
        "no case lost the answer to an applied commit: the test misses the ambiguous case"
    );
}

/// Whatever a cut left, the registry reads and verifies, 1.0.1 is absent or
/// whole, and repair plus a retried save complete it.
/// Returns whether the cut save's version became visible (its metadata
/// reached the server, the answer did not reach the client).
fn check_after_cut(direct: &Registry<S3Store>, case: &str) -> bool {
    let versions = direct.list_versions().unwrap();
    let visible = versions.contains(&v("1.0.1"));
    if visible {
        let (saved, _) = direct.get_model::<Vec<u8>>(&v("1.0.1")).unwrap();
        assert_eq!(saved, model(), "{case}");
    } else {
        assert!(
            matches!(
                direct.get_model::<Vec<u8>>(&v("1.0.1")),
                Err(RegistryError::VersionNotFound { .. })
            ),
            "{case}"
        );
    }
    let latest = direct.resolve(&AliasName::latest()).unwrap().version;
    assert!(
        versions.contains(&latest),
        "{case}: latest {latest} not among {versions:?}"
    );
    let report = direct.verify().unwrap();
    assert!(report.is_ok(), "{case}: {report:?}");
    // The cut save has returned: no writer is left, so no grace period is
    // needed to tell its leftovers from a live save's.
    direct.repair_older_than(std::time::Duration::ZERO).unwrap();
    match direct.save_model(&v("1.0.1"), &model(), info(0.9)) {
        Ok(_) | Err(RegistryError::VersionExists { complete: true, .. }) => {}
        Err(e) => panic!("{case}: the retried save failed: {e}"),
    }
    assert_eq!(
        direct.resolve(&AliasName::latest()).unwrap().version,
        v("1.0.1"),
        "{case}"
    );
    assert!(direct.verify().unwrap().leftovers.is_empty(), "{case}");
    visible
}
