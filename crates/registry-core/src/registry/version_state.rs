//! States a version is put in and taken out of (deprecated, deleted),
//! each kept the way an alias is: a pointer per version
//! (`deprecations/<v>.json`, `deletions/<v>.json`) moved by
//! compare-and-swap, and every state recorded in `<kind>-history/<v>/`
//! before it is replaced, so each change says who made it, when and why,
//! and can be undone.

use super::Registry;
use super::events::NewEvent;
use super::keys::{self, StateKind};
use crate::error::{RegistryError, Result};
use crate::metadata::{Actor, from_map, parse_versioned};
use crate::names::ModelVersion;
use crate::store::{Pointer, PointerTag, Store, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// The longest reason kept: a sentence or two, not a document.
const MAX_REASON_CHARS: usize = 1000;

/// One state of a version's deprecation or deletion, as stored.
pub(crate) trait StateRecord: Serialize + DeserializeOwned + Clone {
    const KIND: StateKind;
    fn version(&self) -> &ModelVersion;
    /// 1 for the first state, +1 per change.
    fn seq(&self) -> u64;
    /// Deprecated (deleted) in this state, rather than restored.
    fn is_on(&self) -> bool;
    fn reason(&self) -> Option<&str>;
    /// State number `seq`, made now by `by`.
    fn next(version: &ModelVersion, seq: u64, on: bool, reason: Option<&str>, by: &Actor) -> Self;
}

/// Defines the record of one kind of state: the same fields for every
/// kind but the flag's name (`deprecated`, `deleted`), which is what
/// FORMAT.md and older builds read.
/// A kind may add fields of its own (`{ pub field: Type }`), each
/// `Default` in a fresh state.
macro_rules! state_record {
    ($(#[$doc:meta])* $name:ident, $flag:ident, $kind:expr
     $(, { $($(#[$fdoc:meta])* pub $field:ident : $fty:ty),* $(,)? })?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            pub format_version: u32,
            pub version: crate::names::ModelVersion,
            /// 1 for the first state, +1 per change.
            pub seq: u64,
            pub $flag: bool,
            pub reason: Option<String>,
            #[serde(with = "time::serde::rfc3339")]
            pub at: time::OffsetDateTime,
            pub by: crate::metadata::Actor,
            $($($(#[$fdoc])* pub $field: $fty,)*)?
        }

        impl $crate::registry::version_state::StateRecord for $name {
            const KIND: $crate::registry::keys::StateKind = $kind;
            fn version(&self) -> &crate::names::ModelVersion {
                &self.version
            }
            fn seq(&self) -> u64 {
                self.seq
            }
            fn is_on(&self) -> bool {
                self.$flag
            }
            fn reason(&self) -> Option<&str> {
                self.reason.as_deref()
            }
            fn next(
                version: &crate::names::ModelVersion,
                seq: u64,
                on: bool,
                reason: Option<&str>,
                by: &crate::metadata::Actor,
            ) -> Self {
                $name {
                    format_version: crate::metadata::FORMAT_VERSION,
                    version: version.clone(),
                    seq,
                    $flag: on,
                    reason: reason.map(str::to_string),
                    at: time::OffsetDateTime::now_utc(),
                    by: by.clone(),
                    $($($field: Default::default(),)*)?
                }
            }
        }
    };
}
pub(super) use state_record;

impl<S: Store> Registry<S> {
    /// The state pointer of `version`, if it ever changed.
    pub(super) fn read_state<R: StateRecord>(&self, version: &ModelVersion) -> Result<Option<(R, Pointer)>> {
        let key = self.keys.state(R::KIND, version);
        let Some(pointer) = self.store.read_pointer(&key)? else {
            return Ok(None);
        };
        let location = self.store.location(&key);
        let record: R = from_map(parse_versioned(&pointer.bytes, &location)?, &location)?;
        if record.version() != version {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!("it is about version {}, not {version}", record.version()),
            });
        }
        Ok(Some((record, pointer)))
    }

    /// The record of `version` if it is in the state now.
    pub(super) fn state_now<R: StateRecord>(&self, version: &ModelVersion) -> Result<Option<R>> {
        Ok(self.read_state::<R>(version)?.map(|(r, _)| r).filter(R::is_on))
    }

    /// Every version in the state now: one listing and one small read per
    /// version whose state ever changed.
    pub(super) fn states_now<R: StateRecord>(&self) -> Result<BTreeMap<ModelVersion, R>> {
        let mut out = BTreeMap::new();
        for key in self.store.list(&self.keys.states(R::KIND))? {
            let Some(version) = self.keys.state_of(R::KIND, &key) else {
                continue;
            };
            if let Some(record) = self.state_now::<R>(&version)? {
                out.insert(version, record);
            }
        }
        Ok(out)
    }

    /// Puts `version` in the state (`on`) or takes it out, recording the
    /// change; setting the state it already has (with the same reason, if
    /// one is given) changes nothing and returns the current record.
    /// Returns the record and whether this call changed it. `refuse` is
    /// asked about the current record before each attempt (it may change
    /// between attempts): an error it returns is this call's.
    pub(super) fn set_state<R: StateRecord>(
        &self,
        version: &ModelVersion,
        on: bool,
        reason: Option<&str>,
        refuse: impl Fn(&R) -> Option<RegistryError>,
    ) -> Result<(R, bool)> {
        check_reason(version, reason)?;
        loop {
            let current = self.read_state::<R>(version)?;
            if let Some((record, _)) = &current {
                if let Some(refused) = refuse(record) {
                    return Err(refused);
                }
                if record.is_on() == on && (!on || reason.is_none() || record.reason() == reason) {
                    return Ok((record.clone(), false));
                }
            }
            let seq = next_seq(current.as_ref());
            let record = R::next(version, seq, on, reason, self.actor());
            match self.swap_state(current.as_ref(), &record) {
                Ok(_) => return Ok((record, true)),
                Err(RegistryError::Store(StoreError::Conflict { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Records `current` in the history, then swaps the pointer from it to
    /// `record` (whose `seq` follows it): a store conflict is returned as
    /// is, for the caller to read again. Returns the new pointer's tag.
    pub(super) fn swap_state<R: StateRecord>(&self, current: Option<&(R, Pointer)>, record: &R) -> Result<PointerTag> {
        let version = record.version();
        if let Some((record, pointer)) = current {
            self.record_state(record, &pointer.bytes)?;
        }
        let mut bytes = serde_json::to_vec_pretty(&record).map_err(|e| RegistryError::Encode {
            version: version.to_string(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        let tag = self
            .store
            .swap_pointer(&self.keys.state(R::KIND, version), current.map(|(_, p)| &p.tag), &bytes)?;
        self.record_state(record, &bytes)?;
        self.log_event(self.state_event(record, current.map(|(_, p)| p.bytes.as_slice()), &bytes));
        Ok(tag)
    }

    /// The event of a new state (`bytes`, replacing `previous`).
    pub(super) fn state_event<R: StateRecord>(&self, record: &R, previous: Option<&[u8]>, bytes: &[u8]) -> NewEvent {
        let mut event = self.state_event_of(R::KIND, record.version(), record.seq(), previous, bytes);
        event.reason = record.reason().map(str::to_string);
        event
    }

    fn record_state<R: StateRecord>(&self, record: &R, bytes: &[u8]) -> Result<()> {
        let key = self.keys.state_history(R::KIND, record.version(), record.seq());
        match self.store.create(&key, bytes) {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every state the pointer of `version` has had, oldest first.
    pub(super) fn state_history<R: StateRecord>(&self, version: &ModelVersion) -> Result<Vec<R>> {
        let mut out = BTreeMap::new();
        for key in self.store.list(&self.keys.state_history_prefix(R::KIND, version))? {
            let location = self.store.location(&key);
            let bytes = self.store.read_limited(&key, keys::MAX_SMALL_DOCUMENT_BYTES)?;
            let record: R = from_map(parse_versioned(&bytes, &location)?, &location)?;
            out.insert(record.seq(), record);
        }
        if let Some((record, _)) = self.read_state::<R>(version)? {
            out.entry(record.seq()).or_insert(record);
        }
        Ok(out.into_values().collect())
    }
}

/// The `seq` of the state after `current`.
pub(super) fn next_seq<R: StateRecord>(current: Option<&(R, Pointer)>) -> u64 {
    current.map_or(1, |(r, _)| r.seq().saturating_add(1))
}

/// A reason is a sentence or two: refused over [`MAX_REASON_CHARS`].
pub(super) fn check_reason(version: &ModelVersion, reason: Option<&str>) -> Result<()> {
    match reason {
        Some(r) if r.chars().count() > MAX_REASON_CHARS => Err(RegistryError::Encode {
            version: version.to_string(),
            reason: format!("the reason is longer than {MAX_REASON_CHARS} characters; give a sentence or two"),
        }),
        _ => Ok(()),
    }
}
