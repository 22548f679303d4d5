//! Webhooks: the registry's events (registry-core's event log) delivered
//! to HTTP receivers, signed, at least once.
//!
//! A webhook is `webhooks/<id>.json` at the registry's root: its URL, its
//! secret, the kinds of events it wants and the last event id when it was
//! added (it gets what comes after). The outbox is the event log itself:
//! an event is pending for a webhook until `webhooks/<id>/delivered/<event>`
//! exists, written after the receiver answered 2xx; `webhooks/<id>/cursor.json`
//! (the id below which everything was delivered) spares reading old events.
//! Events are durable before anyone tries to deliver them, so a delivery
//! that never happened (a receiver down, a deliverer killed) is retried by
//! the next `registry webhook deliver` or server, with the same delivery id.
//!
//! Deliveries are signed as MLflow's webhooks are (mlflow/webhooks/delivery.py),
//! with modelreg's header names: `X-Modelreg-Delivery-Id` (stable across
//! retries), `X-Modelreg-Timestamp` (Unix seconds) and
//! `X-Modelreg-Signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.

mod deliver;

pub use deliver::{Delivery, Notifier, deliver_pending, sign, spawn_deliverer, test_delivery};

use registry_core::store::{Store, StoreError};
use registry_core::{Actor, Event, read_events};
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// The kinds of events a webhook can ask for (registry-core's events.rs).
pub const EVENT_KINDS: [&str; 12] = [
    "save",
    "latest",
    "promote",
    "rollback",
    "alias_delete",
    "deprecate",
    "undeprecate",
    "delete",
    "undelete",
    "gc_claim",
    "gc_released",
    "gc",
];

/// What a webhook gets unless told otherwise.
pub const DEFAULT_EVENTS: [&str; 4] = ["promote", "rollback", "delete", "save"];

const ROOT: &str = "webhooks/";
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("invalid webhook URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("unknown event kind {kind:?} in --events: use any of {}", EVENT_KINDS.join(", "))]
    UnknownEvent { kind: String },
    #[error("invalid webhook secret: {reason}")]
    InvalidSecret { reason: String },
    #[error("no webhook {which:?}: `registry webhook list` shows them")]
    NotFound { which: String },
    #[error("a webhook for {url} exists already ({id}): `registry webhook remove {id}` first to change it")]
    Exists { url: String, id: String },
    #[error("webhook {location} cannot be read: {reason}")]
    Damaged { location: String, reason: String },
    #[error(transparent)]
    Registry(#[from] registry_core::RegistryError),
}

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        WebhookError::Registry(e.into())
    }
}

impl WebhookError {
    /// What kind of failure this is (registry-core's one table).
    pub fn kind(&self) -> registry_core::ErrorKind {
        use registry_core::ErrorKind as K;
        match self {
            WebhookError::InvalidUrl { .. }
            | WebhookError::UnknownEvent { .. }
            | WebhookError::InvalidSecret { .. } => K::InvalidInput,
            WebhookError::NotFound { .. } => K::NotFound,
            WebhookError::Exists { .. } => K::Refused,
            WebhookError::Damaged { .. } => K::Integrity,
            WebhookError::Registry(e) => e.kind(),
        }
    }
}

pub type Result<T, E = WebhookError> = std::result::Result<T, E>;

/// One webhook, as `webhooks/<id>.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    /// The HMAC key. Anyone who can read the registry can read it (see
    /// docs/SECURITY.md).
    pub secret: String,
    pub events: Vec<String>,
    /// The last event id when it was added: it gets the ones after.
    pub since: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: time::OffsetDateTime,
    pub added_by: Actor,
}

impl Webhook {
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|k| k == kind)
    }
}

fn config_key(id: &str) -> String {
    format!("{ROOT}{id}.json")
}

pub(crate) fn delivered_key(id: &str, event: u64) -> String {
    format!("{ROOT}{id}/delivered/{event:020}")
}

pub(crate) fn cursor_key(id: &str) -> String {
    format!("{ROOT}{id}/cursor.json")
}

/// Checks a receiver URL: http or https, a host, nothing else.
pub fn check_url(url: &str) -> Result<()> {
    let bad = |reason: &str| WebhookError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("it must start with http:// or https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(bad("it names no host"));
    }
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "it holds spaces or control characters, or is longer than 2048 characters",
        ));
    }
    if host.contains('@') {
        return Err(bad(
            "credentials in the URL would be stored in the clear; use the secret",
        ));
    }
    Ok(())
}

/// Parses `--events promote,rollback`: known kinds only, each once.
pub fn parse_events(text: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for kind in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if !EVENT_KINDS.contains(&kind) {
            return Err(WebhookError::UnknownEvent { kind: kind.to_string() });
        }
        if !out.iter().any(|k| k == kind) {
            out.push(kind.to_string());
        }
    }
    if out.is_empty() {
        return Err(WebhookError::UnknownEvent { kind: text.to_string() });
    }
    Ok(out)
}

/// The id of a webhook to `url`: stable, so adding one twice is refused.
fn id_of(url: &str) -> String {
    let digest = sha2::Sha256::digest(url.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Adds a webhook to `url` that gets `events` from now on.
pub fn add(store: &dyn Store, url: &str, secret: &str, events: Vec<String>, by: Actor) -> Result<Webhook> {
    check_url(url)?;
    if secret.len() < 16 || secret.len() > 1024 {
        return Err(WebhookError::InvalidSecret {
            reason: "give 16 to 1024 characters (e.g. `openssl rand -hex 32`)".into(),
        });
    }
    let since = last_event_id(store)?;
    let hook = Webhook {
        id: id_of(url),
        url: url.to_string(),
        secret: secret.to_string(),
        events,
        since,
        added_at: time::OffsetDateTime::now_utc(),
        added_by: by,
    };
    let bytes = serde_json::to_vec_pretty(&hook).map_err(|e| WebhookError::Damaged {
        location: config_key(&hook.id),
        reason: e.to_string(),
    })?;
    match store.create(&config_key(&hook.id), &bytes) {
        Ok(()) => Ok(hook),
        Err(StoreError::AlreadyExists { .. }) => Err(WebhookError::Exists {
            url: url.to_string(),
            id: hook.id,
        }),
        Err(e) => Err(e.into()),
    }
}

/// The id of the newest event (0: none), reading on from the head hint.
fn last_event_id(store: &dyn Store) -> Result<u64> {
    let mut last = 0;
    loop {
        let batch = read_events(store, last, 1000)?;
        match batch.last() {
            Some(e) => last = e.id,
            None => return Ok(last),
        }
        if batch.len() < 1000 {
            return Ok(last);
        }
    }
}

/// Every webhook of the registry.
pub fn list(store: &dyn Store) -> Result<Vec<Webhook>> {
    let mut out = Vec::new();
    for key in store.list(ROOT)? {
        let Some(id) = key.strip_prefix(ROOT).and_then(|k| k.strip_suffix(".json")) else {
            continue;
        };
        if id.contains('/') {
            continue;
        }
        out.push(read(store, id)?);
    }
    Ok(out)
}

fn read(store: &dyn Store, id: &str) -> Result<Webhook> {
    let key = config_key(id);
    let bytes = match store.read_limited(&key, MAX_CONFIG_BYTES) {
        Ok(b) => b,
        Err(StoreError::NotFound { .. }) => return Err(WebhookError::NotFound { which: id.to_string() }),
        Err(e) => return Err(e.into()),
    };
    let hook: Webhook = serde_json::from_slice(&bytes).map_err(|e| WebhookError::Damaged {
        location: store.location(&key),
        reason: e.to_string(),
    })?;
    check_url(&hook.url).map_err(|e| WebhookError::Damaged {
        location: store.location(&key),
        reason: e.to_string(),
    })?;
    Ok(hook)
}

/// The webhook with this id or URL.
pub fn find(store: &dyn Store, which: &str) -> Result<Webhook> {
    let id = if which.contains("://") {
        id_of(which)
    } else {
        which.to_string()
    };
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(WebhookError::NotFound {
            which: which.to_string(),
        });
    }
    read(store, &id)
}

/// Removes a webhook and its delivery records.
pub fn remove(store: &dyn Store, which: &str) -> Result<Webhook> {
    let hook = find(store, which)?;
    store.delete(&config_key(&hook.id))?;
    for key in store.list(&format!("{ROOT}{}/", hook.id))? {
        let _ = store.delete(&key);
    }
    Ok(hook)
}

/// The events waiting for `hook`, oldest first: after its cursor, of a
/// kind it wants, without a delivery record. At most `limit`.
pub fn pending(store: &dyn Store, hook: &Webhook, limit: usize) -> Result<Vec<Event>> {
    let mut since = cursor(store, &hook.id).max(hook.since);
    let mut out = Vec::new();
    loop {
        let batch = read_events(store, since, 1000)?;
        let Some(last) = batch.last().map(|e| e.id) else { break };
        for event in batch {
            if hook.wants(&event.kind) && !delivered(store, &hook.id, event.id)? {
                out.push(event);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        since = last;
    }
    Ok(out)
}

fn delivered(store: &dyn Store, id: &str, event: u64) -> Result<bool> {
    match store.read_limited(&delivered_key(id, event), MAX_CONFIG_BYTES) {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The id below which every event was delivered (0: none recorded).
fn cursor(store: &dyn Store, id: &str) -> u64 {
    store
        .read_pointer_limited(&cursor_key(id), MAX_CONFIG_BYTES)
        .ok()
        .flatten()
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p.bytes).ok())
        .and_then(|v| v["delivered_through"].as_u64())
        .unwrap_or(0)
}

/// Moves the cursor forward to `through` (never back); best effort.
pub(crate) fn advance_cursor(store: &dyn Store, id: &str, through: u64) {
    for _ in 0..8 {
        let Ok(current) = store.read_pointer_limited(&cursor_key(id), MAX_CONFIG_BYTES) else {
            return;
        };
        let now = current
            .as_ref()
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p.bytes).ok())
            .and_then(|v| v["delivered_through"].as_u64())
            .unwrap_or(0);
        if now >= through {
            return;
        }
        let bytes = format!("{{\"delivered_through\": {through}}}\n");
        match store.swap_pointer(&cursor_key(id), current.as_ref().map(|p| &p.tag), bytes.as_bytes()) {
            Err(StoreError::Conflict { .. }) => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_event_lists_are_checked() {
        assert!(check_url("https://ci.example/hook?x=1").is_ok());
        assert!(check_url("http://127.0.0.1:8080/").is_ok());
        for bad in [
            "ftp://x",
            "http://",
            "https://:80/",
            "http://a b",
            "http://u:p@host/",
            "hook",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_events("promote, rollback,promote").unwrap(),
            ["promote", "rollback"]
        );
        assert!(parse_events("promote,nope").is_err());
        assert!(parse_events(",").is_err());
    }
}
