//! Webhooks against a receiver on 127.0.0.1 that checks every signature
//! (HMAC-SHA256 over "{delivery id}.{timestamp}.{body}", base64, `v1,`):
//! a receiver down for 6 promotions gets all 6 once it is back and
//! `deliver` runs; a failed delivery is retried with the same delivery id;
//! a promoter killed right after its promotion loses no event.
#![cfg(feature = "webhooks")]

mod common;

use base64::Engine;
use common::{command, fails, ok};
use hmac::{Hmac, Mac};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "0123456789abcdef-test-secret";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    delivery_id: String,
    event: serde_json::Value,
    signature_ok: bool,
}

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// 500 to the first request, 200 after.
    FailFirst,
    Accept,
    /// Never answers the first request; 200 after.
    StallFirst,
}

fn serve(listener: TcpListener, mode: Mode) -> Arc<Mutex<Vec<Received>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(conn) = conn else { continue };
            let seen = seen.clone();
            // One thread per connection: a stalled one holds up no other.
            std::thread::spawn(move || {
                let received = read_request(&conn);
                if let Some(r) = received {
                    seen.lock().unwrap().push(r);
                }
                let status = match mode {
                    Mode::FailFirst if n == 0 => "500 Internal Server Error",
                    Mode::StallFirst if n == 0 => {
                        std::thread::sleep(Duration::from_secs(30));
                        return;
                    }
                    _ => "200 OK",
                };
                let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = (&conn).write_all(reply.as_bytes());
            });
        }
    });
    got
}

fn read_request(conn: &TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(conn);
    let mut headers = std::collections::HashMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let id = headers.get("x-modelreg-delivery-id")?.clone();
    let ts = headers.get("x-modelreg-timestamp")?.clone();
    let sig = headers.get("x-modelreg-signature")?.clone();
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&body);
    let want = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    let fresh = ts.parse::<u64>().ok()?.abs_diff(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    ) < 300;
    Some(Received {
        delivery_id: id,
        event: serde_json::from_slice(&body).ok()?,
        signature_ok: sig == want && fresh,
    })
}

fn registry_with_versions(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let model = dir.path().join("model.onnx");
    std::fs::write(&model, b"onnx").unwrap();
    for _ in 0..n {
        ok("registry", &reg, &["add", model.to_str().unwrap()]);
    }
    (dir, reg)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn add_webhook(reg: &Path, port: u16) -> String {
    let said = ok(
        "registry",
        reg,
        &[
            "webhook",
            "add",
            &format!("http://127.0.0.1:{port}/hook"),
            "--secret",
            SECRET,
            "--events",
            "promote,rollback",
        ],
    );
    said.split_whitespace().nth(2).unwrap().to_string()
}

#[test]
fn a_receiver_down_for_six_promotions_gets_all_six_once_back_each_signed() {
    let (_dir, reg) = registry_with_versions(3);
    let port = free_port();
    let id = add_webhook(&reg, port);
    // Nothing listens on the port: each promotion's own attempt fails fast
    // and says so, and the promotion succeeds.
    for (i, v) in ["1.0.0", "1.0.1", "1.0.2", "1.0.0", "1.0.1", "1.0.2"]
        .iter()
        .enumerate()
    {
        let started = Instant::now();
        let out = command("registry", &reg)
            .args(["promote", v, "--to", "production"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "promotion {i}: {err}");
        assert!(err.contains("stays pending"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a down receiver slowed the command"
        );
    }
    let listed = ok("registry", &reg, &["webhook", "list"]);
    assert!(listed.contains("6 pending"), "{listed}");
    let err = fails("registry", &reg, &["webhook", "deliver", "--timeout", "2s"], 5);
    assert!(err.contains("stay pending"), "{err}");

    // Back up, failing its first request: that event is retried under
    // the same delivery id.
    let got = serve(TcpListener::bind(("127.0.0.1", port)).unwrap(), Mode::FailFirst);
    let first = command("registry", &reg).args(["webhook", "deliver"]).output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    ok("registry", &reg, &["webhook", "deliver"]);
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 7, "{got:#?}");
    assert!(got.iter().all(|r| r.signature_ok), "{got:#?}");
    assert_eq!(got[0].delivery_id, got[1].delivery_id, "a retry keeps its delivery id");
    let versions: Vec<&str> = got[1..].iter().map(|r| r.event["version"].as_str().unwrap()).collect();
    assert_eq!(
        versions,
        ["1.0.0", "1.0.1", "1.0.2", "1.0.0", "1.0.1", "1.0.2"],
        "in order"
    );
    assert!(
        got[1..]
            .iter()
            .all(|r| r.event["kind"] == "promote" && r.event["alias"] == "production")
    );
    let ids: std::collections::BTreeSet<&str> = got[1..].iter().map(|r| r.delivery_id.as_str()).collect();
    assert_eq!(ids.len(), 6);
    assert!(ok("registry", &reg, &["webhook", "list"]).contains(&format!(
        "{id}  http://127.0.0.1:{port}/hook  promote,rollback  0 pending"
    )));
    // Nothing is sent twice.
    assert!(ok("registry", &reg, &["webhook", "deliver"]).is_empty());
}

#[test]
fn a_promoter_killed_right_after_its_promotion_loses_no_event() {
    let (_dir, reg) = registry_with_versions(2);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    add_webhook(&reg, port);
    let got = serve(listener, Mode::StallFirst);
    let mut promoter = command("registry", &reg)
        .args(["promote", "1.0.1", "--to", "production"])
        .spawn()
        .unwrap();
    // SIGKILLed once the alias moved, while its own delivery attempt
    // waits on the receiver.
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the promotion's delivery attempt never came");
        std::thread::sleep(Duration::from_millis(5));
    }
    promoter.kill().unwrap();
    let status = promoter.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "killed, not finished"
    );
    assert!(reg.join("aliases/production.json").is_file());
    assert!(ok("registry", &reg, &["webhook", "list"]).contains("1 pending"));

    ok("registry", &reg, &["webhook", "deliver"]);
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[1].delivery_id, got[0].delivery_id, "the retry is the same delivery");
    assert!(got[1].signature_ok && got[1].event["kind"] == "promote" && got[1].event["version"] == "1.0.1");
    assert!(ok("registry", &reg, &["webhook", "list"]).contains("0 pending"));
}

#[test]
fn test_and_remove_and_bad_urls_and_secrets_are_refused_clearly() {
    let (_dir, reg) = registry_with_versions(1);
    for (url, why) in [
        ("ftp://example.com/x", "must start with http:// or https://"),
        ("http://", "names no host"),
        ("http://user:pw@example.com/", "credentials in the URL"),
        ("http://exa mple.com/", "spaces"),
    ] {
        let err = fails("registry", &reg, &["webhook", "add", url, "--secret", SECRET], 2);
        assert!(err.contains(why), "{url}: {err}");
    }
    let err = fails(
        "registry",
        &reg,
        &["webhook", "add", "http://127.0.0.1:9/", "--secret", "short"],
        2,
    );
    assert!(err.contains("16 to 1024 characters"), "{err}");
    let err = fails(
        "registry",
        &reg,
        &[
            "webhook",
            "add",
            "http://127.0.0.1:9/",
            "--secret",
            SECRET,
            "--events",
            "promote,explode",
        ],
        2,
    );
    assert!(err.contains("unknown event kind \"explode\""), "{err}");
    assert!(ok("registry", &reg, &["webhook", "list"]).contains("no webhooks"));

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = serve(listener, Mode::Accept);
    let id = add_webhook(&reg, port);
    let err = fails(
        "registry",
        &reg,
        &[
            "webhook",
            "add",
            &format!("http://127.0.0.1:{port}/hook"),
            "--secret",
            SECRET,
        ],
        1,
    );
    assert!(err.contains("exists already"), "{err}");
    let said = ok("registry", &reg, &["webhook", "test", &id]);
    assert!(said.contains("delivered (200)"), "{said}");
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(got[0].signature_ok && got[0].event["kind"] == "test", "{got:?}");
    assert!(ok("registry", &reg, &["webhook", "remove", &id]).contains("removed webhook"));
    let err = fails("registry", &reg, &["webhook", "test", &id], 3);
    assert!(err.contains("no webhook"), "{err}");
}

#[test]
fn model_server_delivers_what_is_pending_in_the_background_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let tiny = common::workspace().join("fixtures/tiny.tsv");
    for _ in 0..2 {
        let out = command("trainer", &reg)
            .args(["--data", tiny.to_str().unwrap(), "--folds", "3", "--quiet"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    ok("registry", &reg, &["promote", "1.0.0", "--to", "production"]);
    let port = free_port();
    add_webhook(&reg, port);
    ok("registry", &reg, &["promote", "1.0.1", "--to", "production"]);
    assert!(ok("registry", &reg, &["webhook", "list"]).contains("1 pending"));

    let listen = format!("127.0.0.1:{}", free_port());
    let mut server = command("model-server", &reg)
        .args(["--alias", "production", "--listen", &listen])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It tries, fails (nothing listens), backs off; then the receiver is up.
    std::thread::sleep(Duration::from_millis(1500));
    let got = serve(TcpListener::bind(("127.0.0.1", port)).unwrap(), Mode::Accept);
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The receiver has the event the moment the request arrives; the server
    // records the delivery only once the response is back. Killing it in
    // between would leave the event pending (it would be sent again, which is
    // at-least-once working as meant), so wait for the record.
    let mut pending = String::new();
    while Instant::now() < deadline {
        pending = ok("registry", &reg, &["webhook", "list"]);
        if pending.contains("0 pending") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill().unwrap();
    let out = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "model-server delivered nothing; its log: {log}");
    assert!(got[0].signature_ok && got[0].event["version"] == "1.0.1", "{got:?}");
    assert!(
        log.contains("\"event\":\"webhook_failed\""),
        "the failure while it was down is logged: {log}"
    );
    assert!(pending.contains("0 pending"), "{pending}");
}
