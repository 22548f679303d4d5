//! `model-server`: serves registered models over HTTP and follows their
//! aliases, swapping each model atomically without failing a request.
//!
//! * [`kinds`] holds the model kinds it serves, each behind one small
//!   trait ([`kinds::ServedModel`]: metadata, inputs, outputs, predict);
//! * [`served`] loads one version (type and digests checked before
//!   decoding);
//! * [`models`] holds the served models, one [`models::Slot`] per target;
//! * [`follow`] polls a slot's alias and swaps;
//! * [`api`] holds the routes of modelreg's own `/v1` API, the limits and
//!   JSON errors; [`v2`] the Open Inference Protocol's (decoded by
//!   [`oip`]); [`mlflow`] MLflow's scoring protocol (`/invocations`);
//! * [`batch`] coalesces concurrent calls of a model into one (the
//!   Python kind's dynamic batching);
//! * [`metrics`] keeps what `/metrics` shows.
//!
//! `cli` (with the `cli` feature) holds the command line: its flags,
//! and [`run`] with errors mapped to exit codes; `main.rs` is that with
//! the built-in kinds.
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
pub mod batch;
#[cfg(feature = "cli")]
pub mod cli;
pub mod follow;
pub mod kinds;
/// Connection limits, shared with `registry serve` (the `http-listen` crate).
pub use http_listen as listen;
pub mod log;
pub mod metrics;
pub mod mlflow;
pub mod models;
pub mod oip;
pub mod served;
pub mod v2;

use models::{Models, ServeTarget, Slot};
use registry_core::{AliasName, Target};
use registry_open::AnyRegistry;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What to serve, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The models to serve, each following its alias or pinned to a
    /// version; the first is the one `/v1/*` serves.
    pub serve: Vec<ServeTarget>,
    /// How often each alias pointer is read.
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
    /// The model kinds it serves: the built-in ones, and any the embedding
    /// program adds.
    pub kinds: kinds::Kinds,
    /// How the kinds that batch batch (shown in `/metrics` when set).
    pub batching: Option<batch::Batching>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            serve: vec![ServeTarget {
                model: None,
                target: Target::Alias("production".parse().unwrap_or_else(|_| AliasName::latest())),
            }],
            poll: Duration::from_secs(1),
            limits: api::Limits::default(),
            connections: listen::ConnectionLimits::default(),
            drain_timeout: Duration::from_secs(10),
            retry_after: Duration::from_secs(1),
            kinds: kinds::Kinds::default(),
            batching: None,
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
    #[error("nothing to serve: give at least one model (--serve models:/NAME@ALIAS)")]
    NothingToServe,
}

/// Loads every model, then serves on `listener` until `shutdown`
/// resolves; then stops accepting, lets in-flight requests finish (at most
/// `drain_timeout`) and returns. `registry` may be a handle on any of its
/// models: each target names its own.
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
    let loaded = {
        let registry = registry.clone();
        let options = options.clone();
        tokio::task::spawn_blocking(move || initial(&registry, &options))
            .await
            .map_err(|e| ServeError::Io(std::io::Error::other(e)))??
    };
    let metrics = match &options.batching {
        Some(batching) => metrics::Metrics::default().with_batching(batching),
        None => metrics::Metrics::default(),
    };
    let metrics = Arc::new(metrics);
    let mut slots = Vec::with_capacity(loaded.len());
    let mut followers = Vec::new();
    for (target, handle, first, follow_state) in loaded {
        metrics.set_served(metrics::ServedLabels {
            model: first.model_name.clone(),
            version: first.metadata.version.to_string(),
            alias: first.alias.as_ref().map_or_else(|| "-".into(), ToString::to_string),
        });
        let slot = Slot::new(target, first);
        // Every served model's counters show from the start, at 0.
        let labels = slot.labels();
        let _ = metrics.texts.get_or_create(&labels);
        let _ = metrics.reloads.get_or_create(&labels);
        let _ = metrics.failed_reloads.get_or_create(&labels);
        let _ = metrics.reload_retries.get_or_create(&labels);
        if let Some(state) = follow_state {
            followers.push(Arc::new(follow::Follower::new(
                handle,
                state,
                &slot,
                metrics.clone(),
                options.poll,
                options.kinds.clone(),
            )));
        }
        slots.push(slot);
    }
    let models = Arc::new(Models::new(slots).ok_or(ServeError::NothingToServe)?);
    let accepting = Arc::new(AtomicBool::new(true));
    let state = api::AppState {
        predictions: Arc::new(tokio::sync::Semaphore::new(options.limits.prediction_threads.max(1))),
        models: models.clone(),
        metrics: metrics.clone(),
        limits: options.limits.clone(),
        accepting: accepting.clone(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for follower in followers {
        tokio::spawn(follower.run(stop_rx.clone()));
    }
    let listen = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    for slot in models.slots() {
        let served = slot.current.load();
        log::event(
            "start",
            &[
                ("listen", listen.clone()),
                ("model", served.model_name.clone()),
                (
                    "alias",
                    served.alias.as_ref().map_or_else(|| "-".into(), ToString::to_string),
                ),
                ("version", served.metadata.version.to_string()),
                ("registry", registry.registry_location()),
            ],
        );
    }
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
        metrics.connections.clone(),
    )
    .await;
    log::event(
        "shutdown",
        &[("drained", if drained { "all" } else { "timed out" }.to_string())],
    );
    Ok(())
}

/// A target, its model's registry handle, its first version loaded and
/// (following an alias) the follower's state.
type Loaded = (
    ServeTarget,
    Arc<AnyRegistry>,
    served::Served,
    Option<registry_core::follow::AliasFollower>,
);

/// Loads the first version of every target, in order; the first that
/// cannot be served stops the start.
fn initial(registry: &AnyRegistry, options: &Options) -> Result<Vec<Loaded>, ServeError> {
    if options.serve.is_empty() {
        return Err(ServeError::NothingToServe);
    }
    let mut loaded = Vec::with_capacity(options.serve.len());
    for target in &options.serve {
        let what = target.to_string();
        let failed = |source: served::LoadError| ServeError::Load {
            what: what.clone(),
            source: Box::new(source),
        };
        let handle = Arc::new(registry.with_model(target.model.clone()));
        handle.require_model().map_err(|e| failed(e.into()))?;
        match &target.target {
            Target::Version(v) => {
                let served = served::load(&handle, &options.kinds, v, None, None).map_err(failed)?;
                loaded.push((target.clone(), handle, served, None));
            }
            // A number names one version, fixed as it is resolved here.
            Target::Number(n) => {
                let v = handle.version_by_number(*n, false).map_err(|e| failed(e.into()))?;
                let served = served::load(&handle, &options.kinds, &v, None, None).map_err(failed)?;
                loaded.push((target.clone(), handle, served, None));
            }
            Target::Alias(alias) => {
                let (state, first) = registry_core::follow::AliasFollower::start(&handle, alias.clone())
                    .map_err(|e| failed(e.into()))?;
                let state = state.with_retry(options.retry_after, Duration::from_secs(60));
                let served = served::load(
                    &handle,
                    &options.kinds,
                    &first.version,
                    Some(&first.metadata_sha256),
                    Some(alias),
                )
                .map_err(failed)?;
                loaded.push((target.clone(), handle, served, Some(state)));
            }
        }
    }
    Ok(loaded)
}

pub use http_listen::shutdown_signal;
