//! Three servers on one s3:// registry converge on a new production
//! version within two poll intervals (in the default build, against the local
//! S3 server: `eval "$(.ci/s3-test-server)"`).
#![cfg(feature = "s3")]

mod common;

use registry_core::{AliasName, Expect};
use std::time::{Duration, Instant};

#[test]
fn three_servers_on_one_bucket_converge_within_two_polls() {
    if !test_support::s3_ready() {
        return;
    }
    let endpoint = test_support::s3_endpoint();
    let remote = test_support::s3_registry("serve");
    let options = registry_open::OpenOptions {
        s3_endpoint: Some(endpoint.clone()),

        ..Default::default()
    };
    let registry = registry_open::open(&remote, &options).unwrap();
    common::save(&registry, "1.0.0", 1.0);
    common::save(&registry, "1.0.1", 0.1);
    let production: AliasName = "production".parse().unwrap();
    registry
        .set_alias(&production, &common::v("1.0.0"), Expect::Nothing)
        .unwrap();

    let poll = Duration::from_millis(500);
    let mut servers = Vec::new();
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_model-server"))
            .args(["--registry", &remote, "--s3-endpoint", &endpoint])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--poll", "0.5"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        servers.push((child, format!("http://127.0.0.1:{port}")));
    }
    let agent = ureq::agent();
    let version = |url: &str| -> Option<String> {
        let (_, body) = common::get(&agent, &format!("{url}/v1/model"));
        body["model"]["version"].as_str().map(str::to_string)
    };
    for (_, url) in &servers {
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent.get(&format!("{url}/readyz")).call().is_err() {
            assert!(Instant::now() < deadline, "{url} never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(version(url).as_deref(), Some("1.0.0"));
    }
    registry
        .set_alias(&production, &common::v("1.0.1"), Expect::Anything)
        .unwrap();
    let moved = Instant::now();
    let mut pending: Vec<&str> = servers.iter().map(|(_, u)| u.as_str()).collect();
    while !pending.is_empty() {
        pending.retain(|url| version(url).as_deref() != Some("1.0.1"));
        assert!(
            moved.elapsed() <= 2 * poll,
            "{} server(s) still on 1.0.0 after two polls",
            pending.len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    for (mut child, _) in servers {
        // SAFETY: kill with a valid pid and signal.
        unsafe { kill(child.id() as i32, 15) };
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
}

#[path = "../../registry-open/tests/cutting_proxy.rs"]
mod cutting_proxy;

/// A model-server on `remote` through `endpoint` with `cache`, serving
/// `what`; its URL once ready (or what it printed if it stopped first).
fn start_cached(remote: &str, endpoint: &str, cache: &std::path::Path, what: &[&str]) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_model-server"))
        .args(["--registry", remote, "--s3-endpoint", endpoint])
        .args(["--cache-dir", cache.to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--poll", "0.5"])
        .args(what)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{url}/readyz")).call().is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut said = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut said).unwrap();
            panic!("model-server {what:?} stopped ({status}) before it was ready: {said}");
        }
        assert!(Instant::now() < deadline, "{url} never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, url)
}

/// SIGTERM, a clean exit, and what the server wrote on stderr.
fn stop(child: std::process::Child) -> String {
    // SAFETY: kill with a valid pid and signal.
    unsafe { kill(child.id() as i32, 15) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_restarted_server_loads_from_its_cache_and_a_pinned_one_needs_no_store() {
    use cutting_proxy::{Cut, CuttingProxy};
    use std::sync::atomic::Ordering;
    if !test_support::s3_ready() {
        return;
    }
    let endpoint = test_support::s3_endpoint();
    let remote = test_support::s3_registry("serve-cache");
    let options = registry_open::OpenOptions {
        s3_endpoint: Some(endpoint.clone()),
        ..Default::default()
    };
    let registry = registry_open::open(&remote, &options).unwrap();
    common::save(&registry, "1.0.0", 1.0);
    registry
        .set_alias(&"production".parse().unwrap(), &common::v("1.0.0"), Expect::Nothing)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // One proxy for every start: the cache keys its documents by endpoint.
    let proxy = CuttingProxy::start(&endpoint, i64::MAX, Cut::BeforeRequest);
    let reads_of_version = |from: usize| -> Vec<String> {
        proxy.requests.lock().unwrap()[from..]
            .iter()
            .filter(|line| line.contains("/versions/1.0.0/"))
            .cloned()
            .collect()
    };
    let agent = ureq::agent();
    let served = |url: &str| -> Option<String> {
        let (_, body) = common::get(&agent, &format!("{url}/v1/model"));
        body["model"]["version"].as_str().map(str::to_string)
    };

    // The first start downloads the version (and fills the cache).
    let (child, url) = start_cached(&remote, &proxy.address, &cache, &["--alias", "production"]);
    assert_eq!(served(&url).as_deref(), Some("1.0.0"));
    stop(child);
    assert!(
        !reads_of_version(0).is_empty(),
        "the first start read the version from the store"
    );

    // A restart reads the alias (a pointer) and nothing of the version.
    let before = proxy.requests.lock().unwrap().len();
    let (child, url) = start_cached(&remote, &proxy.address, &cache, &["--alias", "production"]);
    assert_eq!(served(&url).as_deref(), Some("1.0.0"));
    stop(child);
    let log = proxy.requests.lock().unwrap()[before..].to_vec();
    assert!(
        log.iter().any(|line| line.contains("/aliases/production")),
        "the alias is still read: {log:?}"
    );
    assert_eq!(
        reads_of_version(before),
        Vec::<String>::new(),
        "no read of the version's files or metadata"
    );

    // With the store unreachable, a pinned version still serves from the
    // cache and says so.
    proxy.budget.store(0, Ordering::SeqCst);
    let before = proxy.requests.lock().unwrap().len();
    let (child, url) = start_cached(&remote, &proxy.address, &cache, &["--version", "1.0.0"]);
    assert_eq!(served(&url).as_deref(), Some("1.0.0"));
    let (status, body) = common::post(
        &agent,
        &format!("{url}/v1/predict"),
        r#"{"texts": ["a fine, moving film"]}"#,
    );
    assert_eq!(status, 200, "{body}");
    let said = stop(child);
    assert!(
        said.contains("modelreg cache:"),
        "the cache says it served alone: {said}"
    );
    assert_eq!(
        proxy.requests.lock().unwrap().len(),
        before,
        "nothing reached the store"
    );
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
