//! `registry serve` killed (SIGKILL) in the middle of an upload and of a
//! `create_model_version`: the registry verifies after every kill, no
//! half-uploaded file is listed or served, and every listed version loads
//! whole.

#![cfg(feature = "mlflow")]

mod common;

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const BIG: usize = 48 << 20;

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(registry: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = common::command("registry", registry)
            .args(["serve", "--listen", &addr])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "registry serve did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, addr }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// One request on its own connection; (status, body).
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.addr,
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&response[..split]).to_string();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, response[split + 4..].to_vec())
    }

    fn json(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, bytes) = self.request(method, &format!("/api/2.0/mlflow/{path}"), body.to_string().as_bytes());
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_eq!(status, 200, "{path}: {value}");
        value
    }
}

fn verify_clean(registry: &Path) {
    let out = common::ok("registry", registry, &["--json", "verify"]);
    let report: Value = serde_json::from_str(&out).unwrap();
    // One model: the report itself; several: under "models".
    let models = report["models"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![report.clone()]);
    for model in models {
        assert_eq!(model["problems"], json!([]), "{out}");
    }
}

/// Every listed version of `model` loads with every digest checked.
fn versions_load(registry: &Path, model: &str, dir: &Path) -> usize {
    let out = common::run("registry", registry, &["--model", model, "--json", "list"]);
    if !out.status.success() {
        return 0;
    }
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    for (i, v) in listed.iter().enumerate() {
        let to = dir.join(format!("got-{}-{i}", std::process::id()));
        let target = format!("models:/{model}/{}", v["version"].as_str().unwrap());
        common::ok("registry", registry, &["get", &target, "--out", to.to_str().unwrap()]);
        // A version of one file is written as that file.
        assert_eq!(std::fs::metadata(&to).unwrap().len(), BIG as u64);
        std::fs::remove_file(&to).unwrap();
    }
    listed.len()
}

#[test]
fn a_kill_during_an_upload_or_a_registration_leaves_a_registry_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("reg");
    let server = Server::start(&registry);
    let run = server.json("POST", "runs/create", json!({"experiment_id": "0"}));
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    server.json("POST", "registered-models/create", json!({"name": "big"}));
    let upload = format!("/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model/model.bin");

    // Killed with half the body sent.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "PUT {upload} HTTP/1.1\r\nhost: x\r\ncontent-length: {BIG}\r\n\r\n"
    )
    .unwrap();
    stream.write_all(&vec![7u8; BIG / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.kill();
    drop(stream);
    verify_clean(&registry);
    let server = Server::start(&registry);
    let (status, _) = server.request("GET", &upload, b"");
    assert_eq!(status, 404, "a file never uploaded whole is not served");

    // Uploaded whole, then registrations killed at increasing delays.
    let (status, body) = server.request("PUT", &upload, &vec![7u8; BIG]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let create = json!({"name": "big", "source": format!("runs:/{run_id}/model"), "run_id": run_id}).to_string();
    let mut server = server;
    let mut killed_with = Vec::new();
    for delay_ms in [0u64, 5, 20, 50, 80, 95, 110, 125, 140, 160, 200] {
        let mut stream = TcpStream::connect(&server.addr).unwrap();
        write!(
            stream,
            "POST /api/2.0/mlflow/model-versions/create HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{create}",
            create.len()
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        server.kill();
        drop(stream);
        verify_clean(&registry);
        killed_with.push(versions_load(&registry, "big", dir.path()));
        server = Server::start(&registry);
    }
    // And one that is let finish: READY when it returns, and it loads.
    let done = server.json("POST", "model-versions/create", serde_json::from_str(&create).unwrap());
    assert_eq!(done["model_version"]["status"], "READY");
    server.kill();
    verify_clean(&registry);
    let total = versions_load(&registry, "big", dir.path());
    assert!(total > *killed_with.last().unwrap(), "{killed_with:?} then {total}");
    eprintln!("versions listed after each kill: {killed_with:?}, then {total}");
}
