//! `/metrics`: requests by route and status, latency, and per served model
//! the texts predicted, the version served and its reloads. Prometheus's
//! own client library encodes them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServedLabels {
    pub model: String,
    pub version: String,
    pub alias: String,
}

/// One served model: its name and the alias followed (`-` for a pinned
/// version), so two aliases of one model have series of their own.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
    pub alias: String,
}

/// Every metric the server keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub texts: Family<ModelLabels, Counter>,
    pub served: Family<ServedLabels, Gauge>,
    /// The series of `served` set now, one per served model.
    served_now: std::sync::Mutex<Vec<ServedLabels>>,
    pub reloads: Family<ModelLabels, Counter>,
    pub failed_reloads: Family<ModelLabels, Counter>,
    pub reload_retries: Family<ModelLabels, Counter>,
    pub connections: http_listen::ConnectionMetrics,
}

/// 50 µs to ~1.6 s, doubling: a prediction takes microseconds, a slow
/// client's body seconds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("modelserver");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let texts = Family::<ModelLabels, Counter>::default();
        let served = Family::<ServedLabels, Gauge>::default();
        let reloads = Family::<ModelLabels, Counter>::default();
        let failed_reloads = Family::<ModelLabels, Counter>::default();
        let reload_retries = Family::<ModelLabels, Counter>::default();
        let connections = http_listen::ConnectionMetrics::default();
        registry.register("requests", "HTTP requests by route and status", requests.clone());
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival to its response",
            latency.clone(),
        );
        registry.register(
            "texts_predicted",
            "Inputs predicted, by served model (every protocol)",
            texts.clone(),
        );
        registry.register(
            "served_model",
            "The version each served model serves (always 1)",
            served.clone(),
        );
        registry.register("reloads", "Versions swapped in after the alias moved", reloads.clone());
        registry.register(
            "failed_reloads",
            "Versions the alias named that failed to load or validate (the previous one kept serving)",
            failed_reloads.clone(),
        );
        registry.register(
            "reload_retries",
            "Attempts to load again a version that failed while the alias still names it (backoff from --retry-after, doubling to 60 s)",
            reload_retries.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections answered 503 and closed because --max-connections were open",
            connections.refused.clone(),
        );
        registry.register(
            "connections_open",
            "Client connections open now",
            connections.open.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            texts,
            served,
            served_now: std::sync::Mutex::new(Vec::new()),
            reloads,
            failed_reloads,
            reload_retries,
            connections,
        }
    }
}

impl Metrics {
    /// These metrics and the batching ones (for a server whose models
    /// batch: `python -m modelreg serve`).
    pub fn with_batching(mut self, batching: &crate::batch::Batching) -> Metrics {
        let stats = &batching.stats;
        self.registry.register(
            "batches",
            "Model calls made by the dynamic batcher",
            stats.batches.clone(),
        );
        self.registry.register(
            "batch_size",
            "Inputs (texts, rows) per model call of the dynamic batcher",
            stats.sizes.clone(),
        );
        self.registry.register(
            "batches_split_after_failure",
            "Batches whose model call failed and that were run again call by call",
            stats.split_after_failure.clone(),
        );
        self.registry.register(
            "batch_max_size",
            "Most inputs in one model call (--max-batch-size)",
            stats.max_size.clone(),
        );
        self.registry.register(
            "batch_max_wait_seconds",
            "Longest a call waits for others to join its batch (--max-batch-wait)",
            stats.max_wait_seconds.clone(),
        );
        self
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Marks `labels` as the version its model (and alias) serves, in
    /// place of the one it served before.
    pub fn set_served(&self, labels: ServedLabels) {
        let Ok(mut now) = self.served_now.lock() else { return };
        now.retain(|old| {
            let same = old.model == labels.model && old.alias == labels.alias;
            if same {
                self.served.remove(old);
            }
            !same
        });
        self.served.get_or_create(&labels).set(1);
        now.push(labels);
    }
}
