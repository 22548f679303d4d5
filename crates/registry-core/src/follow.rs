//! Following an alias: the decisions every follower makes, whatever it
//! serves and however it waits (model-server on a tokio interval, the
//! Python package in a thread). As tantivy keeps its `ReloadPolicy` in the
//! library, the rules live here once:
//!
//! * a poll reads the alias pointer conditionally (on S3 a GET that
//!   transfers nothing while it is unchanged) and compares its target,
//!   version *and* metadata digest, with what is served;
//! * a new target is loaded by the caller and swapped in only once it
//!   loaded ([`AliasFollower::loaded`]); the previous target is kept, so an
//!   alias flipping back swaps without loading ([`Poll::SwapBack`]);
//! * a target that fails to load is retried with exponential backoff (from
//!   1 s, doubling to 60 s: [`AliasFollower::with_retry`]) while the alias
//!   still names it ([`Poll::Retry`]: a transient failure, a file briefly
//!   unreadable or a network cut, heals by itself), and each failure (of a
//!   target, or of reading the alias for one reason) is reported once, not
//!   once per attempt ([`AliasFollower::failed`]); while it lasts the
//!   follower is [`AliasFollower::degraded`];
//! * a load that finds the alias moved meanwhile settles nothing, so the
//!   next poll reads the pointer again ([`AliasFollower::moved`]).
//!
//! ```
//! use registry_core::follow::{AliasFollower, Poll};
//! use registry_core::store::MemoryStore;
//! use registry_core::{Expect, ModelInfo, Registry};
//!
//! let registry = Registry::open_store(MemoryStore::new())?;
//! let (v1, v2) = ("1.0.0".parse()?, "1.0.1".parse()?);
//! registry.save_model(&v1, &"one", ModelInfo::default())?;
//! registry.save_model(&v2, &"two", ModelInfo::default())?;
//! let production = "production".parse()?;
//! registry.set_alias(&production, &v1, Expect::Nothing)?;
//!
//! let (mut follower, first) = AliasFollower::start(&registry, production.clone())?;
//! assert_eq!(first.version, v1);              // load it, then:
//! follower.loaded(first);
//! assert_eq!(follower.poll(&registry), Poll::Unchanged);
//!
//! registry.set_alias(&production, &v2, Expect::Anything)?;
//! let Poll::Load(next) = follower.poll(&registry) else { panic!() };
//! assert_eq!(next.version, v2);               // load it; it failed:
//! assert!(follower.failed(&next));         // reported once,
//! assert_eq!(follower.poll(&registry), Poll::Unchanged); // retried only after a backoff
//! assert_eq!(follower.degraded(), Some(&next));          // meanwhile: degraded
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::Result;
use crate::names::{AliasName, ModelVersion};
use crate::registry::Registry;
use crate::store::{PointerTag, Store};
use std::time::{Duration, Instant};

/// A version as an alias named it: the version and the digest of its
/// metadata, which together identify the bytes served.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FollowTarget {
    pub version: ModelVersion,
    pub metadata_sha256: String,
}

/// What a poll asks the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Nothing: the alias is as it was, names what is served, or names a
    /// target that already failed.
    Unchanged,
    /// Load this target, then call [`AliasFollower::loaded`],
    /// [`AliasFollower::failed`] or [`AliasFollower::moved`].
    Load(FollowTarget),
    /// The alias names the target served before the current one: swap the
    /// kept model back in (no load), then call [`AliasFollower::loaded`].
    SwapBack(FollowTarget),
    /// The alias still names a target that failed to load, and its backoff
    /// is over: load it again (`attempt` counts from 2), then report as
    /// for [`Poll::Load`].
    Retry { target: FollowTarget, attempt: u32 },
    /// The alias could not be read; `first` is true the first time this
    /// reason is seen (log and count it then).
    Unreadable { reason: String, first: bool },
}

/// What last failed.
#[derive(Debug, Clone, PartialEq)]
enum Failed {
    /// Reading the alias, for this reason.
    Unreadable(String),
    /// Loading this target: so many attempts, the next one not before `retry_at`.
    Target {
        target: FollowTarget,
        attempts: u32,
        retry_at: Instant,
    },
}

/// The state of one follower: what is served, what was served before, what
/// failed, and the pointer's tag as last settled.
#[derive(Debug, Clone)]
pub struct AliasFollower {
    alias: AliasName,
    current: Option<FollowTarget>,
    previous: Option<FollowTarget>,
    failed: Option<Failed>,
    /// The first retry's delay, and the longest (doubling in between).
    retry: (Duration, Duration),
    /// The tag sent with each poll: the pointer as last settled.
    known: Option<PointerTag>,
    /// The tag of the pointer the pending [`Poll`] came from.
    pending: Option<PointerTag>,
}

impl AliasFollower {
    /// A follower of `alias` and the target to load first; the caller loads
    /// it and calls [`AliasFollower::loaded`] (a failure here is the
    /// caller's to report: nothing is served yet).
    pub fn start<S: Store>(registry: &Registry<S>, alias: AliasName) -> Result<(AliasFollower, FollowTarget)> {
        let record = registry.resolve(&alias)?;
        let follower = AliasFollower {
            alias,
            current: None,
            previous: None,
            failed: None,
            retry: (Duration::from_secs(1), Duration::from_secs(60)),
            known: None,
            pending: None,
        };
        let target = FollowTarget {
            version: record.version,
            metadata_sha256: record.metadata_sha256,
        };
        Ok((follower, target))
    }

    /// Retries a failed target after `first`, doubling up to `longest`.
    pub fn with_retry(mut self, first: Duration, longest: Duration) -> AliasFollower {
        self.retry = (first, longest.max(first));
        self
    }

    /// The target the alias names but that is not served, because it failed
    /// to load (and is being retried): a server says "degraded".
    pub fn degraded(&self) -> Option<&FollowTarget> {
        match &self.failed {
            Some(Failed::Target { target, .. }) => Some(target),
            _ => None,
        }
    }

    /// A due retry of the failed target, if any.
    fn due_retry(&self) -> Option<Poll> {
        match &self.failed {
            Some(Failed::Target {
                target,
                attempts,
                retry_at,
            }) if Instant::now() >= *retry_at => Some(Poll::Retry {
                target: target.clone(),
                attempt: attempts + 1,
            }),
            _ => None,
        }
    }

    /// The alias followed.
    pub fn alias(&self) -> &AliasName {
        &self.alias
    }

    /// The target served now, once one has loaded.
    pub fn current(&self) -> Option<&FollowTarget> {
        self.current.as_ref()
    }

    /// One poll of the alias: what the caller should do now.
    pub fn poll<S: Store>(&mut self, registry: &Registry<S>) -> Poll {
        let (record, tag) = match registry.resolve_if_changed(&self.alias, self.known.as_ref()) {
            Ok(None) => return self.due_retry().unwrap_or(Poll::Unchanged),
            Ok(Some(found)) => found,
            Err(e) => {
                let reason = e.to_string();
                let first = self.failed.as_ref() != Some(&Failed::Unreadable(reason.clone()));
                self.failed = Some(Failed::Unreadable(reason.clone()));
                return Poll::Unreadable { reason, first };
            }
        };
        let target = FollowTarget {
            version: record.version,
            metadata_sha256: record.metadata_sha256,
        };
        if self.current.as_ref() == Some(&target) {
            // Back on what is served: a target that failed before is worth
            // another try when the alias moves to it again.
            self.known = Some(tag);
            self.failed = None;
            return Poll::Unchanged;
        }
        if matches!(&self.failed, Some(Failed::Target { target: t, .. }) if *t == target) {
            self.known = Some(tag);
            return self.due_retry().unwrap_or(Poll::Unchanged);
        }
        self.pending = Some(tag);
        if self.previous.as_ref() == Some(&target) {
            return Poll::SwapBack(target);
        }
        Poll::Load(target)
    }

    /// `target` loaded and is served now; what was served becomes the
    /// previous target.
    pub fn loaded(&mut self, target: FollowTarget) {
        if let Some(tag) = self.pending.take() {
            self.known = Some(tag);
        }
        self.previous = self.current.replace(target);
        self.failed = None;
    }

    /// `target` could not be loaded: it is retried after a backoff that
    /// doubles with each attempt, while the alias names it. True if this
    /// failure is new (log and count it), false for a failed retry.
    pub fn failed(&mut self, target: &FollowTarget) -> bool {
        if let Some(tag) = self.pending.take() {
            self.known = Some(tag);
        }
        let attempts = match &self.failed {
            Some(Failed::Target {
                target: t, attempts, ..
            }) if t == target => attempts + 1,
            _ => 1,
        };
        let (first, longest) = self.retry;
        let delay = first
            .checked_mul(1u32 << (attempts - 1).min(20))
            .map_or(longest, |d| d.min(longest));
        self.failed = Some(Failed::Target {
            target: target.clone(),
            attempts,
            retry_at: Instant::now() + delay,
        });
        attempts == 1
    }

    /// The load found the alias moved meanwhile (the version's metadata no
    /// longer matches the digest the alias named): nothing is settled, so
    /// the next poll reads the pointer again.
    pub fn moved(&mut self) {
        self.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Expect;
    use crate::store::MemoryStore;
    use crate::{ModelInfo, RegistryError};

    fn registry() -> (Registry<MemoryStore>, AliasName) {
        let registry = Registry::open_store(MemoryStore::new()).unwrap();
        for v in ["1.0.0", "1.0.1", "1.0.2"] {
            registry
                .save_model(&v.parse().unwrap(), &v, ModelInfo::default())
                .unwrap();
        }
        let alias: AliasName = "production".parse().unwrap();
        registry
            .set_alias(&alias, &"1.0.0".parse().unwrap(), Expect::Nothing)
            .unwrap();
        (registry, alias)
    }

    fn point(registry: &Registry<MemoryStore>, alias: &AliasName, v: &str) {
        registry
            .set_alias(alias, &v.parse().unwrap(), Expect::Anything)
            .unwrap();
    }

    #[test]
    fn a_move_is_loaded_once_and_a_flip_back_swaps_without_loading() {
        let (registry, alias) = registry();
        let (mut f, first) = AliasFollower::start(&registry, alias.clone()).unwrap();
        f.loaded(first);
        assert_eq!(f.poll(&registry), Poll::Unchanged);
        assert_eq!(f.poll(&registry), Poll::Unchanged);
        point(&registry, &alias, "1.0.1");
        let Poll::Load(t) = f.poll(&registry) else { panic!() };
        assert_eq!(t.version.to_string(), "1.0.1");
        f.loaded(t);
        assert_eq!(f.poll(&registry), Poll::Unchanged);
        point(&registry, &alias, "1.0.0");
        let Poll::SwapBack(t) = f.poll(&registry) else { panic!() };
        assert_eq!(t.version.to_string(), "1.0.0");
        f.loaded(t);
        assert_eq!(f.current().map(|t| t.version.to_string()).as_deref(), Some("1.0.0"));
    }

    #[test]
    fn a_failed_target_is_reported_once_and_retried_when_the_alias_returns_to_it() {
        let (registry, alias) = registry();
        let (mut f, first) = AliasFollower::start(&registry, alias.clone()).unwrap();
        f.loaded(first);
        point(&registry, &alias, "1.0.1");
        let Poll::Load(bad) = f.poll(&registry) else { panic!() };
        assert!(f.failed(&bad));
        for _ in 0..3 {
            assert_eq!(f.poll(&registry), Poll::Unchanged);
        }
        // Away and back: worth another try.
        point(&registry, &alias, "1.0.0");
        assert_eq!(f.poll(&registry), Poll::Unchanged);
        point(&registry, &alias, "1.0.1");
        assert_eq!(f.poll(&registry), Poll::Load(bad.clone()));
        assert!(f.failed(&bad), "a new failure after the alias moved");
    }

    #[test]
    fn a_failed_target_is_retried_with_backoff_while_the_alias_names_it() {
        let (registry, alias) = registry();
        let (f, first) = AliasFollower::start(&registry, alias.clone()).unwrap();
        let mut f = f.with_retry(Duration::from_millis(30), Duration::from_millis(100));
        f.loaded(first);
        point(&registry, &alias, "1.0.1");
        let Poll::Load(t) = f.poll(&registry) else { panic!() };
        assert!(f.failed(&t));
        assert_eq!(f.degraded(), Some(&t));
        assert_eq!(f.poll(&registry), Poll::Unchanged, "not before the backoff");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(
            f.poll(&registry),
            Poll::Retry {
                target: t.clone(),
                attempt: 2
            }
        );
        assert!(!f.failed(&t), "a failed retry is not a new failure");
        // The second backoff is twice the first.
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(f.poll(&registry), Poll::Unchanged);
        std::thread::sleep(Duration::from_millis(30));
        let Poll::Retry { attempt: 3, .. } = f.poll(&registry) else {
            panic!()
        };
        f.loaded(t);
        assert_eq!(f.degraded(), None);
        assert_eq!(f.poll(&registry), Poll::Unchanged);
    }

    #[test]
    fn an_unreadable_alias_is_reported_once_per_reason() {
        let (registry, alias) = registry();
        let (mut f, first) = AliasFollower::start(&registry, alias.clone()).unwrap();
        f.loaded(first);
        registry.delete_alias(&alias, Expect::Anything).unwrap();
        let firsts: Vec<bool> = (0..3)
            .map(|_| match f.poll(&registry) {
                Poll::Unreadable { first, .. } => first,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(firsts, [true, false, false]);
        point(&registry, &alias, "1.0.2");
        assert!(matches!(f.poll(&registry), Poll::Load(t) if t.version.to_string() == "1.0.2"));
    }

    #[test]
    fn a_load_caught_mid_move_reads_the_pointer_again() {
        let (registry, alias) = registry();
        let (mut f, first) = AliasFollower::start(&registry, alias.clone()).unwrap();
        f.loaded(first);
        point(&registry, &alias, "1.0.1");
        let Poll::Load(t) = f.poll(&registry) else { panic!() };
        f.moved();
        // Unsettled: the same pointer is read again and asked for again.
        assert_eq!(f.poll(&registry), Poll::Load(t));
    }

    #[test]
    fn starting_on_a_missing_alias_is_the_registry_error() {
        let (registry, _) = registry();
        let err = AliasFollower::start(&registry, "staging".parse().unwrap()).unwrap_err();
        assert!(matches!(err, RegistryError::AliasNotFound { .. }), "{err}");
    }
}
