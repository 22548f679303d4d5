//! Headless Chromium over WebDriver (chromedriver) for the tests that
//! look at pages in a real browser: the report file, and `registry
//! serve`'s live page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (CI installs them and sets
//! MODELREG_REQUIRE_BROWSER=1, which turns a missing browser into a failure;
//! elsewhere the tests say they were skipped). Screenshots go to
//! `target/report-screenshots/` for a person to look at.

use base64::Engine;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

fn find(env: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.into());
    path.exists().then_some(path)
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or `None` (with
    /// a message) when they are not installed and not required.
    pub fn start() -> Option<Browser> {
        let chromium = find("MODELREG_CHROMIUM", "/usr/bin/chromium");
        let driver = find("MODELREG_CHROMEDRIVER", "/usr/bin/chromedriver");
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            let required = std::env::var("MODELREG_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "MODELREG_REQUIRE_BROWSER=1 but chromium/chromedriver are missing: apt-get install chromium chromium-driver"
            );
            eprintln!(
                "SKIPPED: the browser tests need chromium and chromium-driver (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-quic", "--window-size=1200,1500",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let mut browser = Browser {
            driver: child,
            base,
            session: String::new(),
            agent,
            _profile: profile,
        };
        let created = browser.call("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"].as_str().expect("session id").to_string();
        Some(browser)
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self.agent.post(&url).send_json(body.unwrap_or(json!({}))),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let value: Value = response.body_mut().read_json().unwrap();
        assert!(
            value["value"].get("error").is_none(),
            "{method} {path}: {}",
            value["value"]
        );
        value["value"].clone()
    }

    pub fn open(&self, file: &Path) {
        self.goto(&format!("file://{}", file.display()));
    }

    /// Loads `url` (an http:// page of a server under test).
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    pub fn eval(&self, script: &str) -> Value {
        self.call("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    pub fn click(&self, css: &str) {
        let element = self.call("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        let id = element[ELEMENT_KEY].as_str().unwrap().to_string();
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    pub fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap())
            .unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/report-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        println!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
