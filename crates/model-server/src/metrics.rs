//! `/metrics`: requests by route and status, latency, texts predicted, the
//! served version, reloads. Prometheus's own client library encodes them.

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

/// Every metric the server keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub texts: Counter,
    pub served: Family<ServedLabels, Gauge>,
    pub reloads: Counter,
    pub failed_reloads: Counter,
    pub reload_retries: Counter,
    pub connections_refused: Counter,
    pub connections_open: Gauge,
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
        let texts = Counter::default();
        let served = Family::<ServedLabels, Gauge>::default();
        let reloads = Counter::default();
        let failed_reloads = Counter::default();
        let reload_retries = Counter::default();
        let connections_refused = Counter::default();
        let connections_open = Gauge::default();
        registry.register("requests", "HTTP requests by route and status", requests.clone());
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival to its response",
            latency.clone(),
        );
        registry.register("texts_predicted", "Texts labelled by /v1/predict", texts.clone());
        registry.register("served_model", "The version being served (always 1)", served.clone());
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
            connections_refused.clone(),
        );
        registry.register(
            "connections_open",
            "Client connections open now",
            connections_open.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            texts,
            served,
            reloads,
            failed_reloads,
            reload_retries,
            connections_refused,
            connections_open,
        }
    }
}

impl Metrics {
    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Marks `labels` as the one version served.
    pub fn set_served(&self, labels: ServedLabels) {
        self.served.clear();
        self.served.get_or_create(&labels).set(1);
    }
}
