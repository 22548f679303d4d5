//! The server: hot swaps under load without a failed request, a broken
//! version never swapped in, every bad input a 4xx JSON error, the OpenAPI
//! document matching the responses, and a clean exit on SIGTERM.

mod common;

use common::{Server, get, post, two_versions, v};
use model_server::Options;
use registry_core::{AliasName, Expect, ModelInfo, NewFile, Registry};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn options(poll_ms: u64) -> Options {
    Options {
        poll: Duration::from_millis(poll_ms),
        ..Options::default()
    }
}

fn wait_for_version(agent: &ureq::Agent, server: &Server, version: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = get(agent, &server.url("/v1/model"));
        if body["model"]["version"] == version {
            return;
        }
        assert!(Instant::now() < deadline, "never switched to {version}: {body}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// (started, finished, status, version) of one request.
type Record = (Instant, Instant, u16, String);

#[test]
fn the_alias_flips_under_load_and_no_request_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_versions(dir.path());
    let poll = Duration::from_millis(20);
    let server = Server::start(&root, options(20));
    let registry = Registry::open(&root).unwrap();
    let production: AliasName = "production".parse().unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let records: Arc<Mutex<Vec<Record>>> = Arc::default();
    let clients: Vec<_> = (0..16)
        .map(|i| {
            let (stop, records, url) = (stop.clone(), records.clone(), server.url("/v1/predict"));
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
                let body = format!(r#"{{"texts": ["a fine film {i}", "a dull mess"]}}"#);
                let mut mine = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let (status, answer) = post(&agent, &url, &body);
                    let version = answer["model"]["version"].as_str().unwrap_or("").to_string();
                    assert_eq!(answer["predictions"].as_array().map(Vec::len).unwrap_or(2), 2);
                    mine.push((started, Instant::now(), status, version));
                }
                records.lock().unwrap().extend(mine);
            })
        })
        .collect();

    // 100 flips, 150 ms apart: at least 15 s of load.
    // (before the move began, after it was durable, target)
    let mut flips: Vec<(Instant, Instant, String)> = Vec::new();
    let started = Instant::now();
    for i in 0..100 {
        let target = if i % 2 == 0 { "1.0.1" } else { "1.0.0" };
        let before = Instant::now();
        registry.set_alias(&production, &v(target), Expect::Anything).unwrap();
        flips.push((before, Instant::now(), target.to_string()));
        std::thread::sleep(Duration::from_millis(150));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let records = records.lock().unwrap();
    assert!(started.elapsed() >= Duration::from_secs(10));
    assert!(records.len() > 1000, "only {} requests", records.len());
    let failed: Vec<&Record> = records.iter().filter(|r| r.2 != 200).collect();
    assert!(
        failed.is_empty(),
        "{} failed requests, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    assert!(records.iter().all(|r| r.3 == "1.0.0" || r.3 == "1.0.1"));

    // After each flip, requests that start once a poll (and a margin for a
    // busy 2-core machine) has passed, and end before the next flip, are
    // answered by the new version.
    let margin = poll + Duration::from_millis(80);
    let mut checked = 0;
    for (i, (_, at, target)) in flips.iter().enumerate() {
        let next = flips.get(i + 1).map_or(Instant::now(), |f| f.0);
        for r in records.iter().filter(|r| r.0 >= *at + margin && r.1 <= next) {
            assert_eq!(&r.3, target, "flip {i}: a request {:?} after it got {}", r.0 - *at, r.3);
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} requests fell in the checked windows");
    let (_, metrics) = get(&ureq::agent(), &server.url("/metrics"));
    let metrics = metrics.as_str().unwrap().to_string();
    let reloads = metric(&metrics, "modelserver_reloads_total");
    assert!(reloads >= 95.0, "{reloads} reloads for 100 flips");
    server.stop().unwrap();
}

/// The sum of a metric's series (one per served model), -1 if it has none.
fn metric(text: &str, name: &str) -> f64 {
    let values: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix(name))
        .filter(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        .filter_map(|rest| rest.rsplit(' ').next()?.trim().parse().ok())
        .collect();
    if values.is_empty() { -1.0 } else { values.iter().sum() }
}

#[test]
fn a_broken_or_foreign_version_is_never_swapped_in() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_versions(dir.path());
    let server = Server::start(&root, options(20));
    let agent = ureq::agent();
    let registry = Registry::open(&root).unwrap();
    let production: AliasName = "production".parse().unwrap();

    // Digests consistent, bytes not a model: sealed like that.
    let broken = ModelInfo {
        model_type: Some(textclf::model_type()),
        ..ModelInfo::default()
    };
    registry.save_model(&v("1.0.2"), &vec![7u8; 100], broken).unwrap();
    registry.set_alias(&production, &v("1.0.2"), Expect::Anything).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (status, body) = get(&agent, &server.url("/v1/model"));
    assert_eq!((status, body["model"]["version"].as_str()), (200, Some("1.0.0")));
    let (status, _) = get(&agent, &server.url("/readyz"));
    assert_eq!(status, 200);
    let (_, metrics) = get(&agent, &server.url("/metrics"));
    assert_eq!(
        metric(metrics.as_str().unwrap(), "modelserver_failed_reloads_total"),
        1.0,
        "counted once, not per poll"
    );

    // A scikit-learn file: refused by type.
    let sklearn = NewFile {
        path: "model.joblib".into(),
        bytes: b"joblib".to_vec(),
    };
    registry
        .save_files(&v("1.0.3"), &[sklearn], ModelInfo::default())
        .unwrap();
    registry.set_alias(&production, &v("1.0.3"), Expect::Anything).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (_, metrics) = get(&agent, &server.url("/metrics"));
    assert_eq!(
        metric(metrics.as_str().unwrap(), "modelserver_failed_reloads_total"),
        2.0
    );

    // A good version is picked up as usual.
    registry.set_alias(&production, &v("1.0.1"), Expect::Anything).unwrap();
    wait_for_version(&agent, &server, "1.0.1");
    let (_, body) = post(&agent, &server.url("/v1/predict"), r#"{"texts": ["great"]}"#);
    assert_eq!(body["model"]["version"], "1.0.1");
    assert_eq!(body["model"]["alias"], "production");
    server.stop().unwrap();
}

/// A version that fails to load for a moment (its file briefly gone) is
/// retried with backoff while the alias names it, each attempt counted, and
/// `/readyz` says "degraded" (still a 200: the old version serves) until it
/// loads. Before, it was never retried and `/readyz` said "ready".
#[test]
fn a_transient_load_failure_is_retried_and_readyz_says_degraded_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_versions(dir.path());
    let server = Server::start(
        &root,
        Options {
            poll: Duration::from_millis(200),
            retry_after: Duration::from_millis(100),
            ..Options::default()
        },
    );
    let agent = ureq::agent();
    let registry = Registry::open(&root).unwrap();
    let production: AliasName = "production".parse().unwrap();
    // The first poll runs at start; the move comes between two polls, and
    // the file goes right after it (the move itself checks the file).
    std::thread::sleep(Duration::from_millis(100));
    registry.set_alias(&production, &v("1.0.1"), Expect::Anything).unwrap();
    let model = root.join("versions/1.0.1/model.bin");
    let aside = dir.path().join("aside.bin");
    std::fs::rename(&model, &aside).unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = get(&agent, &server.url("/readyz"));
        assert_eq!(status, 200);
        if body["status"] == "degraded" {
            break body;
        }
        assert!(Instant::now() < deadline, "never degraded: {body}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(body["model"]["version"], "1.0.0", "{body}");
    assert!(body["reason"].as_str().unwrap().contains("1.0.1"), "{body}");
    // Retried (100 ms, 200 ms, 400 ms, ...), each attempt counted, the
    // failure itself counted once.
    std::thread::sleep(Duration::from_millis(700));
    let (_, metrics) = get(&agent, &server.url("/metrics"));
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(metric(&metrics, "modelserver_reload_retries_total") >= 1.0, "{metrics}");
    assert_eq!(metric(&metrics, "modelserver_failed_reloads_total"), 1.0);

    // The file is back: the next retry serves it, and /readyz is ready again.
    std::fs::rename(&aside, &model).unwrap();
    wait_for_version(&agent, &server, "1.0.1");
    let (status, body) = get(&agent, &server.url("/readyz"));
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
    server.stop().unwrap();
}

#[test]
fn bad_input_is_a_4xx_json_error_and_never_a_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_versions(dir.path());
    let mut opts = options(1000);
    opts.limits.max_body_bytes = 64 * 1024;
    opts.limits.max_texts = 100;
    let server = Server::start(&root, opts);
    let agent = ureq::agent();
    let url = server.url("/v1/predict");
    let many = format!(r#"{{"texts": [{}]}}"#, vec!["\"x\""; 101].join(","));
    let huge = format!(r#"{{"texts": ["{}"]}}"#, "a".repeat(70_000));
    let cases: Vec<(&str, Option<&str>, String, u16, &str)> = vec![
        (
            "no content type",
            None,
            r#"{"texts": ["x"]}"#.into(),
            415,
            "unsupported_media_type",
        ),
        (
            "text/plain",
            Some("text/plain"),
            r#"{"texts": ["x"]}"#.into(),
            415,
            "unsupported_media_type",
        ),
        (
            "malformed JSON",
            Some("application/json"),
            r#"{"texts": ["x""#.into(),
            400,
            "malformed_json",
        ),
        (
            "not JSON at all",
            Some("application/json"),
            "texts=x".into(),
            400,
            "malformed_json",
        ),
        (
            "texts not a list",
            Some("application/json"),
            r#"{"texts": "x"}"#.into(),
            422,
            "invalid_request",
        ),
        (
            "no texts",
            Some("application/json"),
            r#"{}"#.into(),
            422,
            "invalid_request",
        ),
        (
            "empty list",
            Some("application/json"),
            r#"{"texts": []}"#.into(),
            422,
            "empty_texts",
        ),
        (
            "a number as text",
            Some("application/json"),
            r#"{"texts": [1]}"#.into(),
            422,
            "invalid_request",
        ),
        (
            "null as text",
            Some("application/json"),
            r#"{"texts": [null]}"#.into(),
            422,
            "invalid_request",
        ),
        (
            "unknown field",
            Some("application/json"),
            r#"{"texts": ["x"], "k": 1}"#.into(),
            422,
            "invalid_request",
        ),
        (
            "a JSON array",
            Some("application/json"),
            r#"["x"]"#.into(),
            422,
            "invalid_request",
        ),
        ("too many texts", Some("application/json"), many, 413, "too_many_texts"),
        ("body too large", Some("application/json"), huge, 413, "body_too_large"),
    ];
    for (name, content_type, body, status, code) in cases {
        let mut request = agent.post(&url);
        if let Some(ct) = content_type {
            request = request.set("Content-Type", ct);
        }
        let response = match request.send_string(&body) {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{name}: {e}"),
        };
        let got = response.status();
        let answer: serde_json::Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
        assert_eq!(got, status, "{name}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{name}: {answer}");
        assert!(
            answer["error"]["message"].as_str().is_some_and(|m| m.len() > 10),
            "{name}: {answer}"
        );
    }
    for (method, path, status) in [
        ("GET", "/v1/predict", 405),
        ("GET", "/nope", 404),
        ("DELETE", "/v1/model", 405),
    ] {
        let (got, answer) = match agent.request(method, &server.url(path)).call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(got, status, "{method} {path}");
        assert!(serde_json::from_str::<serde_json::Value>(&answer).unwrap()["error"]["code"].is_string());
    }

    // Good input: in order, every label's probability on request.
    let (status, answer) = post(
        &agent,
        &url,
        r#"{"texts": ["wonderful acting", "awful and boring", ""], "probabilities": true}"#,
    );
    assert_eq!(status, 200, "{answer}");
    let predictions = answer["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 3);
    assert_eq!(predictions[0]["label"], "positive");
    assert_eq!(predictions[1]["label"], "negative");
    let sum: f64 = predictions[0]["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-9);
    server.stop().unwrap();
}

/// Each documented response schema's required fields are in the answers.
#[test]
fn the_openapi_document_matches_the_responses() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_versions(dir.path());
    let server = Server::start(&root, options(1000));
    let agent = ureq::agent();
    let (status, doc) = get(&agent, &server.url("/openapi.json"));
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let required = |name: &str| -> Vec<String> {
        schema(name)["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let has_all = |value: &serde_json::Value, name: &str| {
        for field in required(name) {
            assert!(value.get(&field).is_some(), "{name}.{field} missing from {value}");
        }
    };
    let (_, predicted) = post(&agent, &server.url("/v1/predict"), r#"{"texts": ["fine"]}"#);
    has_all(&predicted, "PredictResponse");
    has_all(&predicted["model"], "ModelId");
    has_all(&predicted["predictions"][0], "Prediction");
    let (_, model) = get(&agent, &server.url("/v1/model"));
    has_all(&model, "ModelInfo");
    let (_, ready) = get(&agent, &server.url("/readyz"));
    has_all(&ready, "Ready");
    let (_, health) = get(&agent, &server.url("/healthz"));
    has_all(&health, "Status");
    let (_, error) = post(&agent, &server.url("/v1/predict"), "{");
    has_all(&error, "Error");
    for field in ["code", "message"] {
        assert!(error["error"][field].is_string(), "{error}");
    }
    // Every documented GET answers, for the model and version served.
    for (path, operations) in doc["paths"].as_object().unwrap() {
        if operations.get("get").is_some() {
            let path = path.replace("{name}", "default").replace("{version}", "1.0.0");
            let (status, _) = get(&agent, &server.url(&path));
            assert_eq!(status, 200, "{path}");
        }
    }
    let (_, inferred) = post(
        &agent,
        &server.url("/v2/models/default/infer"),
        r#"{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["fine"]}]}"#,
    );
    has_all(&inferred, "V2InferResponse");
    has_all(&inferred["outputs"][0], "V2ResponseOutput");
    let (_, v2_error) = get(&agent, &server.url("/v2/models/nope"));
    assert!(v2_error["error"].is_string(), "{v2_error}");
    let (_, metrics) = get(&agent, &server.url("/metrics"));
    let metrics = metrics.as_str().unwrap();
    for name in [
        "modelserver_requests_total{",
        "modelserver_request_duration_seconds_bucket{",
        "modelserver_texts_predicted_total",
        "modelserver_served_model{",
        "modelserver_reloads_total",
        "modelserver_failed_reloads_total",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    assert!(metrics.contains(r#"version="1.0.0""#), "{metrics}");
    server.stop().unwrap();
}

#[test]
fn sigterm_drains_and_exits_zero_with_one_log_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_versions(dir.path());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_model-server"))
        .args([
            "--registry",
            root.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--poll", "0.05", "--drain-timeout", "5"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let agent = ureq::agent();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while agent.get(&format!("{url}/readyz")).call().is_err() {
        assert!(Instant::now() < deadline, "the server never became ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let registry = Registry::open(&root).unwrap();
    registry
        .set_alias(&"production".parse().unwrap(), &v("1.0.1"), Expect::Anything)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, body) = get(&agent, &format!("{url}/v1/model"));
        if body["model"]["version"] == "1.0.1" {
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill with a valid pid and signal.
    assert_eq!(unsafe { libc_kill(child.id() as i32, 15) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    let events: Vec<String> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(events, ["start", "reload", "shutdown"], "{log}");
}

/// What every tool says of a version it cannot serve, the server says at
/// start-up with the same exit code (the error kind's): an undecodable
/// model is damage (4, it exited 2 before), another model type is bad input
/// (2, named by type).
#[test]
fn a_version_it_cannot_serve_is_refused_at_start_with_the_tools_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_versions(dir.path());
    let registry = Registry::open(&root).unwrap();
    let broken = ModelInfo {
        model_type: Some(textclf::model_type()),
        ..ModelInfo::default()
    };
    registry.save_model(&v("1.0.2"), &vec![7u8; 100], broken).unwrap();
    let sklearn = ModelInfo {
        model_type: Some("sklearn".into()),
        ..ModelInfo::default()
    };
    let file = NewFile {
        path: "model.joblib".into(),
        bytes: b"joblib".to_vec(),
    };
    registry.save_files(&v("1.0.3"), &[file], sklearn).unwrap();
    for (version, code, says) in [
        ("1.0.2", 4, "not a textclf model this build can read"),
        ("1.0.3", 2, "holds a sklearn model"),
        ("9.9.9", 3, "not found"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_model-server"))
            .args(["--registry", root.to_str().unwrap(), "--version", version])
            .args(["--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{version}: {err}");
        assert!(err.contains(says) && err.contains(version), "{version}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A protected alias (`registry alias require-signature`) is not served
/// without trusted keys: the policy is checked where the alias is read.
/// Before, the server served it and then followed it to unsigned versions.
#[test]
fn a_protected_alias_is_not_served_without_trusted_keys() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_versions(dir.path());
    let registry = Registry::open(&root).unwrap();
    registry
        .set_signature_required(&"production".parse().unwrap(), true)
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_model-server"))
        .args(["--registry", root.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env_remove("MODELREG_TRUSTED_KEYS")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("may only name signed versions"), "{err}");
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}
