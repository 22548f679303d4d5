//! Following an alias: registry-core's [`AliasFollower`] decides (poll,
//! load, swap back, report a failure once); this wraps it in a tokio
//! interval and an `ArcSwap`, loading on the blocking pool. A target that
//! fails to load is not swapped in (the previous version keeps serving), is
//! logged and counted, and is not retried until the alias moves again.

use crate::kinds::Kinds;
use crate::log;
use crate::metrics::{Metrics, ModelLabels, ServedLabels};
use crate::models::Slot;
use crate::served::{LoadError, Served, load};
use arc_swap::ArcSwap;
use registry_core::AliasName;
use registry_core::follow::{AliasFollower, FollowTarget, Poll};
use registry_open::AnyRegistry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What swaps are made of: the model served now, the one before it (kept,
/// so an alias flipping back and forth swaps without loading), and the
/// state machine that decides.
pub struct Follower {
    pub registry: Arc<AnyRegistry>,
    pub alias: AliasName,
    pub current: Arc<ArcSwap<Served>>,
    pub metrics: Arc<Metrics>,
    pub poll: Duration,
    kinds: Kinds,
    /// Its series in `/metrics`.
    labels: ModelLabels,
    previous: Mutex<Option<Arc<Served>>>,
    state: Mutex<AliasFollower>,
    /// What `/readyz` says while the alias names a version that is not
    /// served (it failed to load and is being retried).
    pub degraded: Arc<ArcSwap<Option<String>>>,
}

fn target_of(served: &Served) -> FollowTarget {
    FollowTarget {
        version: served.metadata.version.clone(),
        metadata_sha256: served.metadata.metadata_sha256.clone(),
    }
}

impl Follower {
    /// A follower of `state`'s alias for `slot` (its model's registry
    /// handle `registry`), which serves the target `state` started with.
    pub fn new(
        registry: Arc<AnyRegistry>,
        mut state: AliasFollower,
        slot: &Slot,
        metrics: Arc<Metrics>,
        poll: Duration,
        kinds: Kinds,
    ) -> Follower {
        state.loaded(target_of(&slot.current.load()));
        Follower {
            registry,
            alias: state.alias().clone(),
            current: slot.current.clone(),
            metrics,
            poll,
            kinds,
            labels: slot.labels(),
            previous: Mutex::new(None),
            state: Mutex::new(state),
            degraded: slot.degraded.clone(),
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
        let Ok(mut state) = self.state.lock() else { return };
        self.step(&mut state);
        let degraded = state.degraded().map(|t| {
            format!(
                "model {}: alias {} names version {}, which failed to load (retrying); serving {}",
                self.labels.model,
                self.alias,
                t.version,
                self.current.load().metadata.version
            )
        });
        if self.degraded.load().as_ref() != &degraded {
            self.degraded.store(Arc::new(degraded));
        }
    }

    fn step(&self, state: &mut AliasFollower) {
        let (target, kept) = match state.poll(&self.registry) {
            Poll::Unchanged => return,
            Poll::Unreadable { reason, first } => {
                if first {
                    self.report_failure("-", &reason);
                }
                return;
            }
            Poll::SwapBack(target) => {
                let kept = self.previous.lock().ok().and_then(|p| p.clone());
                (target, kept)
            }
            Poll::Load(target) => (target, None),
            Poll::Retry { target, .. } => {
                self.metrics.reload_retries.get_or_create(&self.labels).inc();
                (target, None)
            }
        };
        let next = match kept {
            Some(kept) if target_of(&kept) == target => Ok(kept),
            _ => load(
                &self.registry,
                &self.kinds,
                &target.version,
                Some(&target.metadata_sha256),
                Some(&self.alias),
            )
            .map(Arc::new),
        };
        match next {
            Ok(next) => {
                state.loaded(target);
                let current = self.current.load_full();
                let from = current.metadata.version.to_string();
                self.current.store(next.clone());
                if let Ok(mut p) = self.previous.lock() {
                    *p = Some(current);
                }
                self.metrics.reloads.get_or_create(&self.labels).inc();
                self.metrics.set_served(ServedLabels {
                    model: next.model_name.clone(),
                    version: next.metadata.version.to_string(),
                    alias: self.alias.to_string(),
                });
                log::event(
                    "reload",
                    &[
                        ("model", next.model_name.clone()),
                        ("alias", self.alias.to_string()),
                        ("from", from),
                        ("to", next.metadata.version.to_string()),
                    ],
                );
            }
            // Caught mid-move: the next poll sees where the alias went.
            Err(LoadError::Moved { .. }) => state.moved(),
            Err(e) => {
                let reason = e.to_string();
                if state.failed(&target) {
                    self.report_failure(&target.version.to_string(), &reason);
                }
            }
        }
    }

    /// Logs and counts a failure (the state machine says when it is new).
    fn report_failure(&self, version: &str, reason: &str) {
        self.metrics.failed_reloads.get_or_create(&self.labels).inc();
        log::event(
            "reload_failed",
            &[
                ("model", self.labels.model.clone()),
                ("alias", self.alias.to_string()),
                ("version", version.to_string()),
                ("serving", self.current.load().metadata.version.to_string()),
                ("reason", reason.to_string()),
            ],
        );
    }
}
