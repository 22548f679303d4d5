//! Following an alias: poll its pointer, load a new target in the
//! background, validate it, then swap it in atomically. A target that fails
//! to load is not swapped in (the previous version keeps serving), is
//! logged and counted, and is not retried until the alias moves again.

use crate::log;
use crate::metrics::{Metrics, ServedLabels};
use crate::served::{LoadError, Served, load};
use arc_swap::ArcSwap;
use registry_core::AliasName;
use registry_core::store::PointerTag;
use registry_open::AnyRegistry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What swaps are made of: the model served now, the one before it (kept,
/// so an alias flipping back and forth swaps without loading), and the
/// target that last failed.
pub struct Follower {
    pub registry: Arc<AnyRegistry>,
    pub alias: AliasName,
    pub current: Arc<ArcSwap<Served>>,
    pub metrics: Arc<Metrics>,
    pub poll: Duration,
    previous: Mutex<Option<Arc<Served>>>,
    /// What last failed (a target's version and digest, or why the alias
    /// could not be read), so each failure is counted and logged once.
    failed: Mutex<Option<String>>,
    /// The alias pointer's tag when it was last settled: polls send it, so
    /// an unchanged pointer costs a 304 on S3.
    known: Mutex<Option<PointerTag>>,
}

impl Follower {
    pub fn new(
        registry: Arc<AnyRegistry>,
        alias: AliasName,
        current: Arc<ArcSwap<Served>>,
        metrics: Arc<Metrics>,
        poll: Duration,
    ) -> Follower {
        Follower {
            registry,
            alias,
            current,
            metrics,
            poll,
            previous: Mutex::new(None),
            failed: Mutex::new(None),
            known: Mutex::new(None),
        }
    }

    /// Polls until `stop` fires.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.poll);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => return,
            }
            let me = self.clone();
            // Registry reads are blocking I/O (and decoding is CPU work).
            let _ = tokio::task::spawn_blocking(move || me.check()).await;
        }
    }

    /// One poll: if the alias names something other than what is served,
    /// swap it in.
    pub fn check(&self) {
        let known = self.known.lock().ok().and_then(|k| k.clone());
        let (record, tag) = match self.registry.resolve_if_changed(&self.alias, known.as_ref()) {
            // The pointer is as it was at the last poll that settled it.
            Ok(None) => return,
            Ok(Some(found)) => found,
            Err(e) => {
                self.fail(format!("resolve: {e}"), "-", &e.to_string());
                return;
            }
        };
        // Settled unless the load below is caught mid-move: then the next
        // poll must read the pointer again.
        let settle = |this: &Self| {
            if let Ok(mut k) = this.known.lock() {
                *k = Some(tag.clone());
            }
        };
        let target = (record.version.clone(), record.metadata_sha256.clone());
        let key = format!("{}#{}", target.0, target.1);
        let current = self.current.load_full();
        if (current.key().0, current.key().1) == (&target.0, target.1.as_str()) {
            settle(self);
            // Back on what is served: a target that failed before is worth
            // another try when the alias moves to it again.
            if let Ok(mut failed) = self.failed.lock() {
                *failed = None;
            }
            return;
        }
        if self.failed.lock().is_ok_and(|f| f.as_deref() == Some(key.as_str())) {
            settle(self);
            return;
        }
        let kept = self.previous.lock().ok().and_then(|p| p.clone());
        let next = match kept {
            Some(p) if (p.key().0, p.key().1) == (&target.0, target.1.as_str()) => Ok(p),
            _ => load(&self.registry, &target.0, Some(&target.1), Some(&self.alias)).map(Arc::new),
        };
        match next {
            Ok(next) => {
                settle(self);
                let from = current.metadata.version.to_string();
                self.current.store(next.clone());
                if let Ok(mut p) = self.previous.lock() {
                    *p = Some(current);
                }
                if let Ok(mut failed) = self.failed.lock() {
                    *failed = None;
                }
                self.metrics.reloads.inc();
                self.metrics.set_served(ServedLabels {
                    model: next.model_name.clone(),
                    version: next.metadata.version.to_string(),
                    alias: self.alias.to_string(),
                });
                log::event(
                    "reload",
                    &[
                        ("alias", self.alias.to_string()),
                        ("from", from),
                        ("to", next.metadata.version.to_string()),
                    ],
                );
            }
            // Caught mid-move: the next poll sees where the alias went.
            Err(LoadError::Moved { .. }) => {}
            Err(e) => {
                settle(self);
                self.fail(key, &target.0.to_string(), &e.to_string());
            }
        }
    }

    fn fail(&self, key: String, version: &str, reason: &str) {
        if let Ok(mut failed) = self.failed.lock() {
            // Counted and logged once per target, not once per poll.
            if failed.as_deref() == Some(key.as_str()) {
                return;
            }
            *failed = Some(key);
        }
        self.metrics.failed_reloads.inc();
        log::event(
            "reload_failed",
            &[
                ("alias", self.alias.to_string()),
                ("version", version.to_string()),
                ("serving", self.current.load().metadata.version.to_string()),
                ("reason", reason.to_string()),
            ],
        );
    }
}
