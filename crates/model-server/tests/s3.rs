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

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
