//! The Open Inference Protocol v2 over REST, and several models in one
//! process: metadata, readiness and inference for each model by name and
//! version, JSON and binary tensors, the protocol's errors, and two models
//! flipped under load with no failed request.

mod common;

use common::{Server, get, post, save, two_versions, v};
use model_server::Options;
use model_server::models::ServeTarget;
use registry_core::{AliasName, Expect, Registry, Target};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// The default model (production on 1.0.0, 1.0.1 beside it) and model
/// `spam` (production on 2.0.0, 2.0.1 beside it).
fn two_models(dir: &Path) -> PathBuf {
    let root = two_versions(dir);
    let spam = Registry::open(&root).unwrap().for_model(Some("spam".parse().unwrap()));
    save(&spam, "2.0.0", 0.5);
    save(&spam, "2.0.1", 0.2);
    spam.set_alias(&"production".parse().unwrap(), &v("2.0.0"), Expect::Nothing)
        .unwrap();
    root
}

fn target(model: Option<&str>, alias: &str) -> ServeTarget {
    ServeTarget {
        model: model.map(|m| m.parse().unwrap()),
        target: Target::Alias(alias.parse().unwrap()),
    }
}

fn serve_both(root: &Path, poll_ms: u64) -> Server {
    let options = Options {
        serve: vec![target(None, "production"), target(Some("spam"), "production")],
        poll: Duration::from_millis(poll_ms),
        ..Options::default()
    };
    Server::start(root, options)
}

fn texts_request(texts: &[&str]) -> String {
    json!({"id": "r1", "inputs": [{"name": "text", "shape": [texts.len()], "datatype": "BYTES", "data": texts}]})
        .to_string()
}

#[test]
fn every_endpoint_answers_for_every_served_model() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_models(dir.path());
    let server = serve_both(&root, 1000);
    let agent = ureq::agent();

    let (status, meta) = get(&agent, &server.url("/v2"));
    assert_eq!(status, 200);
    assert_eq!(meta["extensions"], json!(["binary_tensor_data"]));
    assert_eq!(
        get(&agent, &server.url("/v2/health/live")),
        (200, json!({"live": true}))
    );
    assert_eq!(
        get(&agent, &server.url("/v2/health/ready")),
        (200, json!({"ready": true}))
    );

    for (name, version) in [("default", "1.0.0"), ("spam", "2.0.0")] {
        let (status, meta) = get(&agent, &server.url(&format!("/v2/models/{name}")));
        assert_eq!(status, 200, "{meta}");
        assert_eq!(meta["name"], name);
        assert_eq!(meta["versions"], json!([version]));
        assert_eq!(meta["platform"], textclf::model_type());
        assert_eq!(
            meta["inputs"],
            json!([{"name": "text", "datatype": "BYTES", "shape": [-1]}])
        );
        assert_eq!(meta["outputs"][1]["name"], "probabilities");
        assert_eq!(meta["outputs"][1]["shape"], json!([-1, 2]));
        let labels = meta["outputs"][1]["parameters"]["labels"].clone();
        assert_eq!(meta["parameters"]["labels"], labels);
        let (status, ready) = get(
            &agent,
            &server.url(&format!("/v2/models/{name}/versions/{version}/ready")),
        );
        assert_eq!((status, ready), (200, json!({"name": name, "ready": true})));

        for path in [
            format!("/v2/models/{name}/infer"),
            format!("/v2/models/{name}/versions/{version}/infer"),
        ] {
            let (status, answer) = post(
                &agent,
                &server.url(&path),
                &texts_request(&["a fine film", "a dull mess"]),
            );
            assert_eq!(status, 200, "{path}: {answer}");
            assert_eq!(answer["model_name"], name);
            assert_eq!(answer["model_version"], version);
            assert_eq!(answer["id"], "r1");
            assert_eq!(answer["outputs"][0]["name"], "label");
            assert_eq!(answer["outputs"][0]["shape"], json!([2]));
            let probabilities = &answer["outputs"][1];
            assert_eq!(probabilities["shape"], json!([2, 2]));
            assert_eq!(probabilities["parameters"]["labels"], labels);
            let p: Vec<f64> = serde_json::from_value(probabilities["data"].clone()).unwrap();
            for row in p.chunks(2) {
                assert!((row[0] + row[1] - 1.0).abs() < 1e-5, "{p:?}");
            }
            // The label is the column with the highest probability.
            let best = if p[0] > p[1] { &labels[0] } else { &labels[1] };
            assert_eq!(&answer["outputs"][0]["data"][0], best);
        }
    }
    // Not served: 404 with the protocol's error string naming what is.
    for path in [
        "/v2/models/ham",
        "/v2/models/spam/versions/2.0.1",
        "/v2/models/ham/ready",
    ] {
        let (status, e) = get(&agent, &server.url(path));
        assert_eq!(status, 404, "{path}");
        assert!(e["error"].as_str().unwrap().contains("serve"), "{path}: {e}");
    }
    let (_, e) = get(&agent, &server.url("/v2/models/ham"));
    assert!(e["error"].as_str().unwrap().contains("served: default, spam"), "{e}");
    // /v1 serves the first model given.
    let (_, model) = get(&agent, &server.url("/v1/model"));
    assert_eq!(model["model"]["name"], "default");
    // /readyz lists every model.
    let (_, ready) = get(&agent, &server.url("/readyz"));
    assert_eq!(ready["models"].as_array().unwrap().len(), 2, "{ready}");
    // Per-model series.
    let (_, metrics) = get(&agent, &server.url("/metrics"));
    let metrics = metrics.as_str().unwrap();
    for series in [
        r#"modelserver_texts_predicted_total{model="spam",alias="production"} 4"#,
        r#"modelserver_texts_predicted_total{model="default",alias="production"} 4"#,
        r#"modelserver_served_model{model="spam",version="2.0.0",alias="production"} 1"#,
        r#"modelserver_reloads_total{model="spam",alias="production"} 0"#,
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }
    server.stop().unwrap();
}

/// A request in the binary tensor data extension, as tritonclient sends
/// it by default: a JSON header, then each BYTES element as a 4-byte
/// little-endian length and its bytes.
fn binary_request(texts: &[&str], outputs: Option<Value>) -> (Vec<u8>, usize) {
    let mut blob = Vec::new();
    for t in texts {
        blob.extend_from_slice(&(t.len() as u32).to_le_bytes());
        blob.extend_from_slice(t.as_bytes());
    }
    let mut header = json!({"inputs": [{"name": "text", "shape": [texts.len(), 1], "datatype": "BYTES", "parameters": {"binary_data_size": blob.len()}}]});
    match outputs {
        Some(o) => header["outputs"] = o,
        None => header["parameters"] = json!({"binary_data_output": true}),
    }
    let mut body = header.to_string().into_bytes();
    let n = body.len();
    body.extend_from_slice(&blob);
    (body, n)
}

fn post_binary(agent: &ureq::Agent, url: &str, body: &[u8], header: usize) -> ureq::Response {
    match agent
        .post(url)
        .set("Content-Type", "application/octet-stream")
        .set("Inference-Header-Content-Length", &header.to_string())
        .send_bytes(body)
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn binary_tensors_in_and_out_and_every_bad_request_is_a_400() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_models(dir.path());
    let server = serve_both(&root, 1000);
    let agent = ureq::agent();
    let url = server.url("/v2/models/spam/infer");

    let (body, n) = binary_request(&["a fine film", "ugly and cold", "é"], None);
    let response = post_binary(&agent, &url, &body, n);
    assert_eq!(response.status(), 200);
    let header: usize = response
        .header("Inference-Header-Content-Length")
        .unwrap()
        .parse()
        .unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    let json: Value = serde_json::from_slice(&bytes[..header]).unwrap();
    let sizes: Vec<usize> = json["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["parameters"]["binary_data_size"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(sizes[1], 3 * 2 * 4, "3 rows of 2 FP32 probabilities");
    assert_eq!(header + sizes.iter().sum::<usize>(), bytes.len());
    let probabilities = &bytes[header + sizes[0]..];
    let first: Vec<f32> = probabilities[..8]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert!((first[0] + first[1] - 1.0).abs() < 1e-5, "{first:?}");

    // One output asked for, in JSON.
    let (body, n) = binary_request(&["fine"], Some(json!([{"name": "label"}])));
    let response = post_binary(&agent, &url, &body, n);
    assert_eq!(response.status(), 200);
    assert!(response.header("Inference-Header-Content-Length").is_none());
    let answer: Value = response.into_json().unwrap();
    assert_eq!(answer["outputs"].as_array().unwrap().len(), 1);

    let too_many = texts_request(&vec!["x"; 1001]);
    let cases: Vec<(String, u16, &str)> = vec![
        ("{".into(), 400, "not valid"),
        (r#"{"inputs": []}"#.into(), 400, "\"inputs\" is empty"),
        (json!({"inputs": [{"name": "words", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}).to_string(), 400, "it takes text (BYTES"),
        (json!({"inputs": [{"name": "text", "shape": [1], "datatype": "FP32", "data": [1.0]}]}).to_string(), 400, "takes BYTES"),
        (json!({"inputs": [{"name": "text", "shape": [2, 2], "datatype": "BYTES", "data": ["a", "b", "c", "d"]}]}).to_string(), 400, "[N] (or [N, 1])"),
        (json!({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["a"]}]}).to_string(), 400, "2 elements, but the data has 1"),
        (json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}], "outputs": [{"name": "logits"}]}).to_string(), 400, "it gives label, probabilities"),
        (too_many, 400, "1001 texts, more than the 1000"),
    ];
    for (body, status, phrase) in cases {
        let (got, e) = post(&agent, &url, &body);
        assert_eq!(got, status, "{body}: {e}");
        assert!(
            e["error"].as_str().is_some_and(|m| m.contains(phrase)),
            "{phrase:?} not in {e}"
        );
    }
    // Binary lies: a header length past the body, sizes past the data.
    let response = post_binary(&agent, &url, b"{}", 100);
    assert_eq!(response.status(), 400);
    let (mut body, n) = binary_request(&["fine"], None);
    body.truncate(body.len() - 2);
    let response = post_binary(&agent, &url, &body, n);
    assert_eq!(response.status(), 400);
    assert!(response.into_string().unwrap().contains("only"));
    // Another content type.
    let response = agent.post(&url).set("Content-Type", "text/plain").send_string("hi");
    let Err(ureq::Error::Status(415, _)) = response else {
        panic!("{response:?}")
    };
    server.stop().unwrap();
}

/// Both models' aliases flipped 50 times each while 8 clients call both
/// over /v2: no request fails, each answer names its own model, and each
/// model ends on its last flip's version.
#[test]
fn two_models_flip_under_load_and_no_request_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_models(dir.path());
    let server = Arc::new(serve_both(&root, 10));
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let (stop, ok, failed, server) = (stop.clone(), ok.clone(), failed.clone(), server.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
                let name = if i % 2 == 0 { "default" } else { "spam" };
                let url = server.url(&format!("/v2/models/{name}/infer"));
                while !stop.load(Ordering::Relaxed) {
                    let (status, answer) = post(&agent, &url, &texts_request(&["a fine film"]));
                    if status == 200 && answer["model_name"] == name {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let base = Registry::open(&root).unwrap();
    let spam = base.with_model(Some("spam".parse().unwrap()));
    let production: AliasName = "production".parse().unwrap();
    for i in 0..50 {
        let (d, s) = if i % 2 == 0 {
            ("1.0.1", "2.0.1")
        } else {
            ("1.0.0", "2.0.0")
        };
        base.set_alias(&production, &v(d), Expect::Anything).unwrap();
        spam.set_alias(&production, &v(s), Expect::Anything).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(
        ok.load(Ordering::Relaxed) > 200,
        "only {} requests",
        ok.load(Ordering::Relaxed)
    );
    let agent = ureq::agent();
    assert_eq!(
        get(&agent, &server.url("/v2/models/default")).1["versions"],
        json!(["1.0.0"])
    );
    assert_eq!(
        get(&agent, &server.url("/v2/models/spam")).1["versions"],
        json!(["2.0.0"])
    );
}
