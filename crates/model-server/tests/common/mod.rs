//! A registry with real text classifiers, and a server on 127.0.0.1 run on
//! its own runtime for a test.

#![allow(dead_code)]

use model_server::Options;
use registry_core::{ModelInfo, ModelVersion, Registry};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use textclf::{ClassifierConfig, TextClassifier, VectorizerConfig};

pub fn v(s: &str) -> ModelVersion {
    s.parse().unwrap()
}

const TEXTS: [&str; 8] = [
    "a fine, moving film",
    "wonderful acting and a great story",
    "i loved every minute",
    "beautiful and warm",
    "a dull, tedious mess",
    "awful acting and a boring story",
    "i hated every minute",
    "ugly and cold",
];

/// A small text classifier; `alpha` makes each one's bytes differ.
pub fn classifier(alpha: f64) -> TextClassifier {
    let labels: Vec<String> = (0..8)
        .map(|i| if i < 4 { "positive" } else { "negative" }.to_string())
        .collect();
    TextClassifier::fit(
        &TEXTS,
        &labels,
        VectorizerConfig::default(),
        ClassifierConfig::MultinomialNb { alpha },
    )
    .unwrap()
}

/// Saves a textclf model as the trainer does.
pub fn save<S: registry_core::store::Store>(registry: &Registry<S>, version: &str, alpha: f64) {
    let info = ModelInfo {
        model_type: Some(textclf::model_type()),
        test_score: Some(0.75),
        ..ModelInfo::default()
    };
    registry.save_model(&v(version), &classifier(alpha), info).unwrap();
}

/// A registry with textclf versions 1.0.0 and 1.0.1, production on 1.0.0.
pub fn two_versions(dir: &Path) -> PathBuf {
    let root = dir.join("registry");
    let registry = Registry::open(&root).unwrap();
    save(&registry, "1.0.0", 1.0);
    save(&registry, "1.0.1", 0.1);
    registry
        .set_alias(
            &"production".parse().unwrap(),
            &v("1.0.0"),
            registry_core::Expect::Nothing,
        )
        .unwrap();
    root
}

/// A running server; dropping it shuts it down and waits for it.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Server {
    pub fn start(root: &Path, options: Options) -> Server {
        let registry =
            std::sync::Arc::new(registry_open::open_existing(root.to_str().unwrap(), &Default::default()).unwrap());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                model_server::run(registry, options, listener, async {
                    let _ = stopped.await;
                })
                .await
                .map_err(|e| e.to_string())
            })
        });
        let addr = addr_rx.recv().unwrap();
        Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Shuts down and returns what `run` returned.
    pub fn stop(mut self) -> Result<(), String> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().unwrap(),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// POSTs `body` as JSON; (status, parsed body).
pub fn post(agent: &ureq::Agent, url: &str, body: &str) -> (u16, serde_json::Value) {
    let response = agent
        .post(url)
        .set("Content-Type", "application/json")
        .send_string(body);
    read(response)
}

pub fn get(agent: &ureq::Agent, url: &str) -> (u16, serde_json::Value) {
    read(agent.get(url).call())
}

fn read(response: Result<ureq::Response, ureq::Error>) -> (u16, serde_json::Value) {
    let response = match response {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}
