//! `registry serve`: the subset of MLflow's REST API that the `mlflow`
//! client uses to log a model, register it, move its aliases and load it,
//! answered from a modelreg registry. Versions registered through it are
//! the registry's own immutable versions, aliases its compare-and-swapped
//! aliases with history, and loads go through its read path (digests,
//! signature policy). See docs/MLFLOW.md for the endpoints and the
//! mapping of MLflow's integer versions to semver.

mod artifacts;
pub mod error;
mod fields;
mod filter;
mod logged;
mod models;
mod page;
mod publish;
pub mod records;
mod request;
mod routes;
mod search;
mod staging;
mod tracking;
mod versions;

use error::{ApiError, ApiResult};
use registry_open::AnyRegistry;
use std::sync::Arc;
use std::time::Duration;

pub use http_listen::{ConnectionLimits, shutdown_signal};
pub use models::{ModelRecord, record_key};
pub use publish::model_type_of;
pub use tracking::{KeyValue, LOG_MODEL_HISTORY_TAG};
pub use versions::{RUN_TAG, SOURCE_TAG};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Refuse every write (403 PERMISSION_DENIED).
    pub read_only: bool,
    /// The bearer token every request (or, with `public_reads`, every
    /// write) must carry, as the client sends `MLFLOW_TRACKING_TOKEN`.
    pub token: Option<String>,
    pub public_reads: bool,
    /// The largest artifact an upload may carry.
    pub max_artifact_bytes: u64,
    pub connections: ConnectionLimits,
    /// How long open requests may take to finish at shutdown.
    pub drain_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            read_only: false,
            token: None,
            public_reads: false,
            max_artifact_bytes: 16 * 1024 * 1024 * 1024,
            connections: ConnectionLimits::default(),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// What every request reads: the registry and the options.
pub struct Server {
    pub registry: AnyRegistry,
    pub options: Options,
    /// Each model's recorded version numbers as last read, by the tag of
    /// what was read: a look-up re-reads the record but parses it only
    /// when it changed.
    numbers: std::sync::Mutex<std::collections::HashMap<String, NumbersSeen>>,
}

type NumbersSeen = (
    Option<registry_core::store::PointerTag>,
    Arc<registry_core::VersionNumbers>,
);

impl Server {
    fn new(registry: AnyRegistry, options: Options) -> Server {
        Server {
            registry,
            options,
            numbers: Default::default(),
        }
    }

    /// `name`'s recorded version numbers (see [`Server::numbers`]).
    fn recorded_numbers(&self, name: &str, registry: &AnyRegistry) -> ApiResult<Arc<registry_core::VersionNumbers>> {
        let known = self
            .numbers
            .lock()
            .map_err(|_| ApiError::internal("a request failed while holding the numbers"))?
            .get(name)
            .cloned();
        match registry.recorded_numbers_if_changed(known.as_ref().and_then(|(t, _)| t.as_ref()))? {
            None => Ok(known.map(|(_, n)| n).unwrap_or_default()),
            Some((tag, numbers)) => {
                let numbers = Arc::new(numbers);
                if let Ok(mut map) = self.numbers.lock() {
                    map.insert(name.to_string(), (tag, numbers.clone()));
                }
                Ok(numbers)
            }
        }
    }

    fn records(&self) -> records::Records<'_> {
        records::Records::new(self.registry.store().as_ref())
    }
}

type Shared = Arc<Server>;

/// Runs `f` on the blocking pool: the registry's reads and writes are
/// synchronous (a disk, or an object store through its own client).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the request's worker failed: {e}")))?
}

/// The router, for tests that drive it without a socket.
pub fn router(registry: AnyRegistry, options: Options) -> axum::Router {
    routes::router(Arc::new(Server::new(registry, options)))
}

/// Serves on `listener` until `shutdown` resolves, then drains.
pub async fn run(
    registry: AnyRegistry,
    options: Options,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (limit, _) = http_listen::fit_to_fd_limit(options.connections.max_connections);
    let limits = ConnectionLimits {
        max_connections: limit,
        ..options.connections.clone()
    };
    let drain = options.drain_timeout;
    let router = router(registry, options);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    http_listen::serve(
        listener,
        router,
        limits,
        stop_rx,
        drain,
        http_listen::ConnectionMetrics::default(),
    )
    .await;
    Ok(())
}
