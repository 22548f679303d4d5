//! Pins: how a mover and `gc` never cross. Every move of an alias to a
//! version (promote, rollback, a save's `latest`, deprecate moving
//! `latest` back) first pins the version (`pins/<v>/<id>.json`), then
//! checks it is not deleted, moves the alias, and unpins. `gc`, having
//! claimed a deleted version (a compare-and-swap of its deletion record),
//! looks for pins and aliases naming it, and backs off if it finds one.
//!
//! Either the mover's check or gc's look sees the other's write (the
//! store is strongly consistent): a pin written after gc looked comes
//! before the mover's check, which then finds the version claimed and
//! refuses it; a pin written before gc looked is found, unless the mover
//! already unpinned, in which case its alias (or the undelete it made,
//! delete.rs) is what gc finds. So gc never removes the files of a version
//! an alias names or is being moved to.
//!
//! A pin whose mover was killed stays until it is older than
//! [`DEFAULT_GRACE`](super::DEFAULT_GRACE), holding that one version off
//! gc until then; gc removes it after.

use super::Registry;
use crate::error::{RegistryError, Result};
use crate::names::ModelVersion;
use crate::store::{Store, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A pin on a version, removed when dropped.
pub(super) struct Pin<'a, S: Store> {
    registry: &'a Registry<S>,
    key: String,
}

impl<S: Store> Drop for Pin<'_, S> {
    fn drop(&mut self) {
        // Best effort: a pin left behind only delays gc of this version
        // by the grace period.
        let _ = self.registry.store.delete_transient(&self.key);
    }
}

/// A name no other pin has: host, process, time and a counter.
fn pin_id(host: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{host}-{}-{nanos:x}-{n}", std::process::id())
}

impl<S: Store> Registry<S> {
    /// Pins `version` until the returned guard is dropped.
    pub(super) fn pin(&self, version: &ModelVersion) -> Result<Pin<'_, S>> {
        let actor = self.actor();
        let key = self.keys.pin(version, &pin_id(&actor.host));
        let body = serde_json::json!({
            "version": version.to_string(),
            "by": actor,
            "pid": std::process::id(),
        });
        let bytes = serde_json::to_vec(&body).map_err(|e| RegistryError::Encode {
            version: version.to_string(),
            reason: e.to_string(),
        })?;
        // Only its writer's lifetime matters: not made durable (a crash
        // leaves a pin gc removes after the grace period, or none).
        self.store.create_transient(&key, &bytes)?;
        Ok(Pin { registry: self, key })
    }

    /// Whether a mover younger than `stale` pins `version` (one of unknown
    /// age counts); older pins are of killed movers, and are removed.
    pub(super) fn is_pinned(&self, version: &ModelVersion, stale: Duration) -> Result<bool> {
        for key in self.store.list(&self.keys.pins(version))? {
            match self.store.age(&key) {
                Ok(Some(age)) if age >= stale => {
                    let _ = self.store.delete(&key);
                }
                Ok(_) => return Ok(true),
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }

    /// Removes every pin older than `stale`, of every version (gc): what
    /// killed movers left. Returns their locations.
    pub(super) fn remove_stale_pins(&self, stale: Duration) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for key in self.store.list(&self.keys.pins_root())? {
            if let Ok(Some(age)) = self.store.age(&key)
                && age >= stale
                && self.store.delete(&key).is_ok()
            {
                removed.push(self.store.location(&key));
            }
        }
        Ok(removed)
    }
}
