//! A TCP proxy that cuts the network between HTTP requests, for the S3
//! tests (`#[path]`-included by each).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub enum Cut {
    /// The request never reaches the server (lost on the way).
    BeforeRequest,
    /// The request reaches the server whole, its answer never comes back
    /// (the client cannot tell whether it was applied).
    BeforeAnswer,
}

/// A TCP proxy in front of the server that forwards `budget` whole HTTP
/// requests, then cuts every connection at the next one and refuses new
/// connections: the network dies at that point.
///
/// It cuts between requests, never inside one, because moto (unlike S3,
/// which answers a short body with `IncompleteBody` and stores nothing)
/// stores whatever part of a body arrived before the connection closed;
/// cutting inside a body would test moto, not modelreg.
pub struct CuttingProxy {
    pub address: String,
    pub budget: Arc<AtomicI64>,
    pub sent: Arc<AtomicI64>,
    /// The request line (`GET /bucket/key HTTP/1.1`) of each forwarded request.
    pub requests: Arc<Mutex<Vec<String>>>,
}

/// Splits the first complete request (headers + Content-Length body) off
/// the front of `buffer`.
fn take_request(buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
    assert!(
        !head.contains("transfer-encoding: chunked"),
        "the proxy handles Content-Length bodies only"
    );
    let body = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
    (buffer.len() >= end + body).then(|| buffer.drain(..end + body).collect())
}

impl CuttingProxy {
    pub fn start(upstream: &str, budget: i64, cut: Cut) -> CuttingProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let budget = Arc::new(AtomicI64::new(budget));
        let sent = Arc::new(AtomicI64::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (b, s, log) = (budget.clone(), sent.clone(), requests.clone());
        std::thread::spawn(move || {
            let dead = Arc::new(AtomicBool::new(false));
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if dead.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let server = TcpStream::connect(&upstream).unwrap();
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let answers_dead = dead.clone();
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 8192];
                    loop {
                        let n = match (&s2).read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if answers_dead.load(Ordering::SeqCst) || (&c2).write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c2.shutdown(Shutdown::Both);
                });
                let (b, s, dead, log) = (b.clone(), s.clone(), dead.clone(), log.clone());
                std::thread::spawn(move || {
                    let mut pending = Vec::new();
                    let mut chunk = [0u8; 8192];
                    'connection: loop {
                        let n = match (&client).read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        pending.extend_from_slice(&chunk[..n]);
                        while let Some(request) = take_request(&mut pending) {
                            let fits = b.fetch_sub(1, Ordering::SeqCst) >= 1;
                            if !fits && matches!(cut, Cut::BeforeRequest) {
                                dead.store(true, Ordering::SeqCst);
                                break 'connection;
                            }
                            if (&server).write_all(&request).is_err() {
                                break 'connection;
                            }
                            s.fetch_add(1, Ordering::SeqCst);
                            let line = request.split(|&c| c == b'\r').next().unwrap_or_default();
                            log.lock().unwrap().push(String::from_utf8_lossy(line).into_owned());
                            if !fits {
                                dead.store(true, Ordering::SeqCst);
                                break 'connection;
                            }
                        }
                    }
                    let _ = client.shutdown(Shutdown::Both);
                    // Give a forwarded last request time to be applied before
                    // the server side closes too.
                    std::thread::sleep(Duration::from_millis(50));
                    let _ = server.shutdown(Shutdown::Both);
                });
            }
        });
        CuttingProxy {
            address,
            budget,
            sent,
            requests,
        }
    }
}
