//! The event log: every change to any model of the registry, appended by
//! the command that made it as `events/<id>.json`, ids 1, 2, 3, … with
//! no gaps and no duplicates, on every store.
//!
//! An event is created (never replaced) under the first free id after the
//! last one known (`events-head.json`, a hint that only moves forward):
//! a writer that finds an id taken tries the next, so an id is taken only
//! once every id before it was, and a reader reads ids in order until the
//! first absent one without ever listing the log.
//!
//! Each event names its `source`: the record the change itself wrote (an
//! alias's `history/<alias>/<seq>.json`, a deletion's or deprecation's
//! `<kind>-history/<v>/<seq>.json`, a version's `metadata.json`), which
//! is written first and is the truth. So a writer killed between its
//! change and its event loses nothing: `verify` finds the record without
//! an event, and `verify --repair` appends it (events_check.rs).

use super::Registry;
use super::keys::{self, StateKind};
use crate::error::{RegistryError, Result};
use crate::metadata::{Actor, AliasAction, AliasRecord, FORMAT_VERSION, ModelMetadata, from_map, parse_versioned};
use crate::names::{AliasName, ModelVersion};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How many taken ids an append tries past the head before giving up:
/// far more than writers ever append between two head moves.
const MAX_PROBES: u64 = 100_000;

/// The head hint moves every this many ids (and at the first): a writer
/// behind it probes at most this many taken ids, and most appends cost
/// one write, not two.
const HEAD_EVERY: u64 = 8;

/// One change, as `events/<id>.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub format_version: u32,
    pub id: u64,
    /// save, promote, rollback, alias_delete, latest, deprecate,
    /// undeprecate, delete, undelete, gc_claim, gc_released, gc.
    pub kind: String,
    pub model: String,
    pub version: ModelVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<AliasName>,
    /// What the alias named before (alias events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<ModelVersion>,
    /// What moved `latest` (latest events: save, repair, deprecate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<AliasAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The record of the change, relative to the registry's root.
    pub source: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub by: Actor,
}

/// Told of every event a handle appends (after it is in the log), with
/// the store it is in: how webhooks get their first delivery attempt
/// (registry-webhooks). It must not fail or block the change for long.
pub trait EventListener: Send + Sync + std::fmt::Debug {
    fn appended(&self, store: &dyn Store, event: &Event);
}

/// The root key of event `id`: zero-padded so keys sort by id.
pub(super) fn event_key(id: u64) -> String {
    format!("{}{id:020}.json", keys::EVENTS)
}

/// An event before the log gives it an id.
pub(super) struct NewEvent {
    pub kind: String,
    pub version: ModelVersion,
    pub alias: Option<AliasName>,
    pub previous: Option<ModelVersion>,
    pub action: Option<AliasAction>,
    pub reason: Option<String>,
    pub source: String,
    pub at: OffsetDateTime,
    pub by: Actor,
}

/// What an alias record's change is called.
pub(super) fn alias_kind(record: &AliasRecord) -> &'static str {
    match record.action {
        AliasAction::Promote | AliasAction::Import => "promote",
        AliasAction::Rollback => "rollback",
        AliasAction::Delete => "alias_delete",
        AliasAction::Save | AliasAction::Repair | AliasAction::Deprecate => "latest",
    }
}

/// What a deprecation's or deletion's new state is called, from the
/// records as stored (`previous`: the state it replaced).
pub(super) fn state_kind(kind: StateKind, previous: Option<&[u8]>, new: &[u8]) -> &'static str {
    let read = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap_or_default();
    let new = read(new);
    let on = |v: &serde_json::Value| v["deprecated"].as_bool().or(v["deleted"].as_bool()).unwrap_or(false);
    let gc = |v: &serde_json::Value| v["collection"]["state"].as_str().map(str::to_string);
    match kind {
        StateKind::Deprecation if on(&new) => "deprecate",
        StateKind::Deprecation => "undeprecate",
        StateKind::Deletion => match gc(&new).as_deref() {
            Some("collected") => "gc",
            Some(_) => "gc_claim",
            None if !on(&new) => "undelete",
            None if previous.map(read).and_then(|p| gc(&p)).is_some() => "gc_released",
            None => "delete",
        },
    }
}

impl<S: Store> Registry<S> {
    /// The source of an event, as the event names it: the record's key
    /// relative to the registry's root.
    pub(super) fn alias_source(&self, record: &AliasRecord) -> String {
        self.keys.history(&record.alias, record.seq)
    }

    /// The event of an alias record (written by `swap_alias`).
    pub(super) fn alias_event(&self, record: &AliasRecord) -> NewEvent {
        NewEvent {
            kind: alias_kind(record).to_string(),
            version: record.version.clone(),
            alias: Some(record.alias.clone()),
            previous: record.previous.clone(),
            action: (alias_kind(record) == "latest").then_some(record.action),
            reason: None,
            source: self.alias_source(record),
            at: record.moved_at,
            by: record.moved_by.clone(),
        }
    }

    /// The event of state `seq` of a version's deprecation or deletion
    /// (`bytes` as stored, replacing `previous`), made now by this handle.
    pub(super) fn state_event_of(
        &self,
        kind: StateKind,
        version: &ModelVersion,
        seq: u64,
        previous: Option<&[u8]>,
        bytes: &[u8],
    ) -> NewEvent {
        NewEvent {
            kind: state_kind(kind, previous, bytes).to_string(),
            version: version.clone(),
            alias: None,
            previous: None,
            action: None,
            reason: None,
            source: self.keys.state_history(kind, version, seq),
            at: OffsetDateTime::now_utc(),
            by: self.actor().clone(),
        }
    }

    /// The event of a save (its metadata, the commit point).
    pub(super) fn save_event(&self, metadata: &ModelMetadata) -> NewEvent {
        NewEvent {
            kind: "save".into(),
            version: metadata.version.clone(),
            alias: None,
            previous: None,
            action: None,
            reason: None,
            source: self.keys.metadata(&metadata.version),
            at: metadata.timestamp,
            by: metadata
                .info
                .lineage
                .created_by
                .clone()
                .unwrap_or_else(|| self.actor().clone()),
        }
    }

    /// Appends `event` to the registry's log under the next free id, and
    /// returns the id. Every change calls it after writing its own record.
    pub(super) fn append_event(&self, event: NewEvent) -> Result<u64> {
        let mut id = self.events_head()?.saturating_add(1);
        let limit = id.saturating_add(MAX_PROBES);
        let mut doc = Event {
            format_version: FORMAT_VERSION,
            id,
            kind: event.kind,
            model: self.model_label().to_string(),
            version: event.version,
            alias: event.alias,
            previous: event.previous,
            action: event.action,
            reason: event.reason,
            source: event.source,
            at: event.at,
            by: event.by,
        };
        loop {
            doc.id = id;
            let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| RegistryError::Encode {
                version: doc.version.to_string(),
                reason: e.to_string(),
            })?;
            bytes.push(b'\n');
            match self.store.create(&event_key(id), &bytes) {
                Ok(()) => break,
                Err(StoreError::AlreadyExists { .. }) if id < limit => id += 1,
                Err(e) => return Err(e.into()),
            }
        }
        if id == 1 || id.is_multiple_of(HEAD_EVERY) {
            self.advance_events_head(id);
        }
        if let Some(listener) = &self.listener {
            listener.appended(&*self.store, &doc);
        }
        Ok(id)
    }

    /// [`Registry::append_event`] for a change already made: a failure
    /// here must not read as the change failing (it did not), and the
    /// record without its event is what `verify --repair` appends.
    pub(super) fn log_event(&self, event: NewEvent) {
        let _ = self.append_event(event);
    }

    /// The last id the head hint knows to be taken (0: none).
    fn events_head(&self) -> Result<u64> {
        match self
            .store
            .read_pointer_limited(keys::EVENTS_HEAD, keys::MAX_SMALL_DOCUMENT_BYTES)?
        {
            Some(pointer) => Ok(parse_head(&pointer.bytes)),
            None => Ok(0),
        }
    }

    /// Moves the head hint forward to `id` (never back); best effort.
    fn advance_events_head(&self, id: u64) {
        for _ in 0..8 {
            let Ok(current) = self
                .store
                .read_pointer_limited(keys::EVENTS_HEAD, keys::MAX_SMALL_DOCUMENT_BYTES)
            else {
                return;
            };
            if current.as_ref().is_some_and(|p| parse_head(&p.bytes) >= id) {
                return;
            }
            let bytes = format!("{{\"id\": {id}}}\n");
            match self
                .store
                .swap_pointer(keys::EVENTS_HEAD, current.as_ref().map(|p| &p.tag), bytes.as_bytes())
            {
                Err(StoreError::Conflict { .. }) => continue,
                _ => return,
            }
        }
    }

    /// The events after `since`, in id order, at most `limit` of them.
    pub fn events(&self, since: u64, limit: usize) -> Result<Vec<Event>> {
        read_events(&*self.store, since, limit)
    }
}

/// The events of the registry in `store` after `since`, in id order, at
/// most `limit` of them (for readers without a [`Registry`], such as an
/// [`EventListener`]).
pub fn read_events<St: Store + ?Sized>(store: &St, since: u64, limit: usize) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    let mut id = since.saturating_add(1);
    while out.len() < limit {
        let key = event_key(id);
        let bytes = match store.read_limited(&key, keys::MAX_SMALL_DOCUMENT_BYTES) {
            Ok(b) => b,
            Err(StoreError::NotFound { .. }) => break,
            Err(e) => return Err(e.into()),
        };
        let location = store.location(&key);
        let event: Event = from_map(parse_versioned(&bytes, &location)?, &location)?;
        if event.id != id {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!("it holds event {}, not {id}", event.id),
            });
        }
        out.push(event);
        id += 1;
    }
    Ok(out)
}

fn parse_head(bytes: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v["id"].as_u64())
        .unwrap_or(0)
}
