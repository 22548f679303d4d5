//! Sending: one signed POST per event and webhook, recorded once the
//! receiver answered 2xx; and the first attempt a command makes right
//! after its change ([`Notifier`]), which never fails the change.

use super::{Result, Webhook, advance_cursor, delivered_key, list, pending};
use base64::Engine;
use hmac::{Hmac, Mac};
use registry_core::store::{Store, StoreError};
use registry_core::{Event, EventListener};
use serde::Serialize;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a command's own attempt may take, per webhook: a receiver
/// that is down costs a refused connection; one that hangs, this.
pub const INLINE_TIMEOUT: Duration = Duration::from_millis(750);

/// What one delivery attempt came to.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub webhook: String,
    pub event: u64,
    pub delivery_id: String,
    /// The receiver's status, or why there was none.
    pub outcome: std::result::Result<u16, String>,
}

impl Delivery {
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Ok(s) if (200..300).contains(&s))
    }
}

/// `v1,<base64 HMAC-SHA256 of "{delivery_id}.{timestamp}.{body}">`.
pub fn sign(secret: &str, delivery_id: &str, timestamp: u64, body: &[u8]) -> String {
    // An HMAC key may be any length, so this never fails; if it did, an
    // empty signature is one every receiver refuses.
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{delivery_id}.{timestamp}.").as_bytes());
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag))
}

/// POSTs `body` to the webhook, signed; the status, or why none came.
fn post(
    hook: &Webhook,
    kind: &str,
    delivery_id: &str,
    body: &[u8],
    timeout: Duration,
) -> std::result::Result<u16, String> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .build()
        .into();
    agent
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .header("User-Agent", concat!("modelreg/", env!("CARGO_PKG_VERSION")))
        .header("X-Modelreg-Event", kind)
        .header("X-Modelreg-Delivery-Id", delivery_id)
        .header("X-Modelreg-Timestamp", timestamp.to_string())
        .header("X-Modelreg-Signature", sign(&hook.secret, delivery_id, timestamp, body))
        .send(body)
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// Delivers what is pending for `hook`, oldest first, at most `max`
/// events, stopping at the first that fails (so a receiver sees one
/// webhook's events in order). Each delivered event is recorded; a retry
/// of one that failed carries the same delivery id.
pub fn deliver_pending(store: &dyn Store, hook: &Webhook, timeout: Duration, max: usize) -> Result<Vec<Delivery>> {
    let mut out = Vec::new();
    for event in pending(store, hook, max)? {
        let delivery_id = format!("{}-{}", hook.id, event.id);
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let outcome = post(hook, &event.kind, &delivery_id, &body, timeout);
        let delivery = Delivery {
            webhook: hook.id.clone(),
            event: event.id,
            delivery_id,
            outcome,
        };
        let ok = delivery.ok();
        out.push(delivery);
        if !ok {
            break;
        }
        match store.create(&delivered_key(&hook.id, event.id), b"{}\n") {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        advance_cursor(store, &hook.id, event.id);
    }
    Ok(out)
}

/// `registry webhook test`: a signed delivery of a made-up event of kind
/// `test`, not recorded.
pub fn test_delivery(hook: &Webhook, timeout: Duration) -> Delivery {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let delivery_id = format!("{}-test-{nanos:x}", hook.id);
    let body = serde_json::json!({
        "kind": "test",
        "webhook": hook.id,
        "message": "a test delivery from `registry webhook test`",
    });
    let body = serde_json::to_vec(&body).unwrap_or_default();
    Delivery {
        webhook: hook.id.clone(),
        event: 0,
        outcome: post(hook, "test", &delivery_id, &body, timeout),
        delivery_id,
    }
}

/// A command's first attempt at delivering each event it appends: short,
/// and never failing the change (a failure is one line on stderr; the
/// event stays pending for `registry webhook deliver` and the servers).
#[derive(Debug, Default)]
pub struct Notifier {
    hooks: OnceLock<Vec<Webhook>>,
    /// Webhooks that failed once in this process: not tried again by it
    /// (a gc appending hundreds of events must not wait on a dead
    /// receiver hundreds of times); their events stay pending.
    failed: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// How many pending events a command's own attempt sends at most (a
/// backlog is `deliver`'s and the servers' to send).
const INLINE_MAX: usize = 4;

impl EventListener for Notifier {
    fn appended(&self, store: &dyn Store, event: &Event) {
        let hooks = self.hooks.get_or_init(|| list(store).unwrap_or_default());
        for hook in hooks.iter().filter(|h| h.wants(&event.kind)) {
            if self.failed.lock().is_ok_and(|f| f.contains(&hook.id)) {
                continue;
            }
            let deliveries = deliver_pending(store, hook, INLINE_TIMEOUT, INLINE_MAX).unwrap_or_default();
            if let Some(failed) = deliveries.iter().find(|d| !d.ok()) {
                if let Ok(mut f) = self.failed.lock() {
                    f.insert(hook.id.clone());
                }
                let why = match &failed.outcome {
                    Ok(status) => format!("it answered {status}"),
                    Err(e) => e.clone(),
                };
                eprintln!(
                    "note: webhook {} ({}) did not take event {}: {why}; it stays pending (`registry webhook deliver` retries)",
                    hook.id, hook.url, failed.event
                );
            }
        }
    }
}

/// The longest wait between two attempts at a webhook that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What a long-running process (model-server) does for webhooks: every
/// second (every 10 s while there are none), delivers what is pending to
/// each webhook whose backoff has
/// passed; a webhook that fails waits 1 s, then 2, 4, … up to 5 min
/// before its next attempt, and is back to none once it takes an event.
/// `report` is told of each failure (the server's log). Runs until the
/// process ends.
pub fn spawn_deliverer<S: Store + 'static>(
    registry: std::sync::Arc<registry_core::Registry<S>>,
    report: impl Fn(&Webhook, &Delivery, Duration) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut waits: std::collections::HashMap<String, (std::time::Instant, Duration)> = Default::default();
        loop {
            let store: &dyn Store = registry.store();
            let now = std::time::Instant::now();
            let hooks = list(store).unwrap_or_default();
            // A registry without webhooks is looked at every 10 s (one
            // listing; on S3 one request), one with some every second.
            let pause = if hooks.is_empty() {
                Duration::from_secs(10)
            } else {
                Duration::from_secs(1)
            };
            for hook in hooks {
                if waits.get(&hook.id).is_some_and(|(next, _)| now < *next) {
                    continue;
                }
                let deliveries = deliver_pending(store, &hook, Duration::from_secs(10), 100).unwrap_or_default();
                match deliveries.iter().find(|d| !d.ok()) {
                    None => {
                        waits.remove(&hook.id);
                    }
                    Some(failed) => {
                        let delay = waits
                            .get(&hook.id)
                            .map_or(Duration::from_secs(1), |(_, d)| (*d * 2).min(MAX_BACKOFF));
                        report(&hook, failed, delay);
                        waits.insert(hook.id.clone(), (std::time::Instant::now() + delay, delay));
                    }
                }
            }
            std::thread::sleep(pause);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::sign;

    /// The value Python's hmac and base64 give (as MLflow's
    /// mlflow/webhooks/delivery.py computes it), for
    /// `hmac.new(secret, f"{id}.{ts}.{body}", sha256)`.
    #[test]
    fn signatures_match_what_pythons_hmac_computes() {
        let sig = sign(
            "0123456789abcdef-secret",
            "abc-7",
            1_700_000_000,
            br#"{"kind":"promote"}"#,
        );
        assert_eq!(sig, "v1,LTC41llrqiYnZnU5uni2z4chg9h+ieYHS8kaoYeiH5o=");
    }
}
