//! `model-server`: serves a registered model over HTTP and follows an
//! alias, swapping models atomically without failing a request.
//!
//! * [`kinds`] holds the model kinds it serves, each behind one small
//!   trait ([`kinds::ServedModel`]: metadata, inputs, outputs, predict);
//! * [`served`] loads one version (type and digests checked before
//!   decoding);
//! * [`follow`] polls the alias and swaps;
//! * [`api`] holds the routes, limits and JSON errors;
//! * [`metrics`] keeps what `/metrics` shows.
//!
//! `main.rs` parses arguments and calls [`run`].
//!
//! ```
//! use registry_core::{Expect, ModelInfo, Registry};
//! use std::sync::Arc;
//! use textclf::{ClassifierConfig, TextClassifier, VectorizerConfig};
//!
//! // A registry whose production alias names a text classifier.
//! let dir = tempfile::tempdir()?;
//! let root = dir.path().join("registry");
//! let texts = ["a great film", "great fun", "a dull film", "dull and slow"];
//! let labels: Vec<String> = ["pos", "pos", "neg", "neg"].iter().map(|s| s.to_string()).collect();
//! let model = TextClassifier::fit(&texts, &labels, VectorizerConfig::default(),
//!     ClassifierConfig::MultinomialNb { alpha: 1.0 })?;
//! let info = ModelInfo { model_type: Some(textclf::model_type()), ..ModelInfo::default() };
//! let writer = Registry::open(&root)?;
//! writer.save_model(&"1.0.0".parse()?, &model, info)?;
//! writer.set_alias(&"production".parse()?, &"1.0.0".parse()?, Expect::Nothing)?;
//!
//! // Serve it on a free port until the shutdown future resolves (here: at once).
//! let registry = Arc::new(registry_open::open(root.to_str().unwrap(), &Default::default())?);
//! let runtime = tokio::runtime::Runtime::new()?;
//! runtime.block_on(async {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//!     model_server::run(registry.clone(), model_server::Options::default(), listener, async {}).await
//! })?;
//! drop(runtime);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod api;
pub mod follow;
pub mod kinds;
pub mod listen;
mod log;
pub mod metrics;
pub mod served;

use arc_swap::ArcSwap;
use registry_core::{AliasName, ModelVersion};
use registry_open::AnyRegistry;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What to serve, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Follow this alias, or pin `version`.
    pub alias: AliasName,
    pub version: Option<ModelVersion>,
    /// How often the alias pointer is read.
    pub poll: Duration,
    pub limits: api::Limits,
    /// Open connections, header-read and idle timeouts.
    pub connections: listen::ConnectionLimits,
    /// How long in-flight requests may take to finish after a shutdown
    /// signal before the server exits anyway.
    pub drain_timeout: Duration,
    /// How long after a failed load of the alias's target it is tried
    /// again (doubling with each attempt, up to a minute).
    pub retry_after: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            alias: "production".parse().unwrap_or_else(|_| AliasName::latest()),
            version: None,
            poll: Duration::from_secs(1),
            limits: api::Limits::default(),
            connections: listen::ConnectionLimits::default(),
            drain_timeout: Duration::from_secs(10),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot serve {what}: {source}")]
    Load {
        what: String,
        #[source]
        source: Box<served::LoadError>,
    },
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// Loads the model, then serves on `listener` until `shutdown` resolves;
/// then stops accepting, lets in-flight requests finish (at most
/// `drain_timeout`) and returns.
///
/// The caller keeps a handle on `registry` and drops it outside the
/// runtime: an S3 store owns a runtime of its own, which tokio refuses to
/// drop from async code.
pub async fn run(
    registry: Arc<AnyRegistry>,
    options: Options,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let first = {
        let registry = registry.clone();
        let options = options.clone();
        tokio::task::spawn_blocking(move || initial(&registry, &options))
            .await
            .map_err(|e| ServeError::Io(std::io::Error::other(e)))??
    };
    let (first, follow_state) = first;
    let metrics = Arc::new(metrics::Metrics::default());
    metrics.set_served(metrics::ServedLabels {
        model: first.model_name.clone(),
        version: first.metadata.version.to_string(),
        alias: first.alias.as_ref().map_or_else(|| "-".into(), ToString::to_string),
    });
    let current = Arc::new(ArcSwap::from_pointee(first));
    let accepting = Arc::new(AtomicBool::new(true));
    let degraded = Arc::new(ArcSwap::from_pointee(None));
    let state = api::AppState {
        predictions: Arc::new(tokio::sync::Semaphore::new(options.limits.prediction_threads.max(1))),
        degraded: degraded.clone(),
        current: current.clone(),
        metrics: metrics.clone(),
        limits: options.limits.clone(),
        accepting: accepting.clone(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(state) = follow_state {
        let follower = Arc::new(follow::Follower::new(
            registry.clone(),
            state,
            current.clone(),
            metrics.clone(),
            options.poll,
            degraded,
        ));
        tokio::spawn(follower.run(stop_rx.clone()));
    }
    let served = current.load();
    log::event(
        "start",
        &[
            (
                "listen",
                listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            ),
            ("model", served.model_name.clone()),
            (
                "alias",
                served.alias.as_ref().map_or_else(|| "-".into(), ToString::to_string),
            ),
            ("version", served.metadata.version.to_string()),
            ("registry", registry.registry_location()),
        ],
    );
    drop(served);
    let (connections, lowered) = listen::fit_to_fd_limit(options.connections.max_connections);
    if lowered {
        log::event(
            "max_connections_lowered",
            &[
                ("wanted", options.connections.max_connections.to_string()),
                ("max_connections", connections.to_string()),
                ("why", "the open-file limit (ulimit -n) leaves room for no more".into()),
            ],
        );
    }
    let limits = listen::ConnectionLimits {
        max_connections: connections,
        ..options.connections.clone()
    };
    // The shutdown signal stops the follower, turns /readyz to 503 and
    // starts the drain.
    tokio::spawn(async move {
        shutdown.await;
        accepting.store(false, Ordering::Relaxed);
        let _ = stop_tx.send(true);
    });
    let drained = listen::serve(
        listener,
        api::router(state),
        limits,
        stop_rx,
        options.drain_timeout,
        metrics,
    )
    .await;
    log::event(
        "shutdown",
        &[("drained", if drained { "all" } else { "timed out" }.to_string())],
    );
    Ok(())
}

/// The first model served, and (following an alias) the follower's state.
fn initial(
    registry: &AnyRegistry,
    options: &Options,
) -> Result<(served::Served, Option<registry_core::follow::AliasFollower>), ServeError> {
    match &options.version {
        Some(v) => served::load(registry, v, None, None)
            .map(|s| (s, None))
            .map_err(|source| ServeError::Load {
                what: format!("version {v}"),
                source: Box::new(source),
            }),
        None => {
            let what = format!("alias {}", options.alias);
            let failed = |source: served::LoadError| ServeError::Load {
                what: what.clone(),
                source: Box::new(source),
            };
            let (state, target) = registry_core::follow::AliasFollower::start(registry, options.alias.clone())
                .map_err(|e| failed(e.into()))?;
            let state = state.with_retry(options.retry_after, Duration::from_secs(60));
            let served = served::load(
                registry,
                &target.version,
                Some(&target.metadata_sha256),
                Some(&options.alias),
            )
            .map_err(failed)?;
            Ok((served, Some(state)))
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
