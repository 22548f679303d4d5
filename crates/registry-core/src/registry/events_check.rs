//! The event log against the records it reports (events.rs): `verify`
//! checks that every record of a change (alias histories, deprecation and
//! deletion histories, versions' metadata) has its event and every event
//! its record, saying the same thing; `verify --repair` appends the events
//! of records a killed writer left without one.

use super::Registry;
use super::events::{Event, NewEvent};
use super::keys::{self, StateKind};
use super::verify::VerifyReport;
use crate::error::Result;
use crate::metadata::{AliasRecord, from_map, parse_versioned};
use crate::store::{Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How long after its change a record may lack its event before repair
/// appends one: the writer appends it milliseconds after the record, so
/// a record this old without one is a killed writer's.
pub const EVENT_GRACE: Duration = Duration::from_secs(60);

const STATES: [StateKind; 2] = [StateKind::Deprecation, StateKind::Deletion];

/// What the log holds of this model: events by source.
type Logged = BTreeMap<String, Event>;

impl<S: Store> Registry<S> {
    /// This model's events, by the record each reports.
    fn logged(&self) -> Result<(Logged, u64)> {
        let mut out = Logged::new();
        let mut last = 0;
        for event in self.events(0, usize::MAX)? {
            last = event.id;
            if event.model == self.model_label() {
                out.insert(event.source.clone(), event);
            }
        }
        Ok((out, last))
    }

    /// Every record of a change of this model, by key: alias history
    /// entries (and each pointer's current state, whose entry its mover
    /// may not have written yet), state history entries, and the metadata
    /// of every complete version.
    fn change_records(&self, complete: &[crate::names::ModelVersion]) -> Result<BTreeSet<String>> {
        let mut out: BTreeSet<String> = self.store.list(&self.keys.history_root())?.into_iter().collect();
        for key in self.store.list(&self.keys.aliases())? {
            if let Some(alias) = self.keys.alias_of(&key)
                && let Ok(Some((record, _))) = self.read_alias_pointer(&alias)
            {
                out.insert(self.keys.history(&alias, record.seq));
            }
        }
        for kind in STATES {
            out.extend(self.store.list(&self.keys.state_history_root(kind))?);
            for key in self.store.list(&self.keys.states(kind))? {
                let Some(version) = self.keys.state_of(kind, &key) else {
                    continue;
                };
                let seq = serde_json::from_slice::<serde_json::Value>(&self.store.read(&key).unwrap_or_default())
                    .ok()
                    .and_then(|v| v["seq"].as_u64());
                if let Some(seq) = seq {
                    out.insert(self.keys.state_history(kind, &version, seq));
                }
            }
        }
        out.extend(complete.iter().map(|v| self.keys.metadata(v)));
        Ok(out)
    }

    /// `verify`'s look at the log (see the module docs).
    pub(super) fn check_events(
        &self,
        complete: &[crate::names::ModelVersion],
        report: &mut VerifyReport,
    ) -> Result<()> {
        // The head first: it only ever names an event that exists, so one
        // read before the log is never past its end, writers or not.
        let head = self
            .store
            .read_pointer_limited(keys::EVENTS_HEAD, keys::MAX_SMALL_DOCUMENT_BYTES)?
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p.bytes).ok())
            .and_then(|v| v["id"].as_u64())
            .unwrap_or(0);
        let (logged, last) = self.logged()?;
        let records = self.change_records(complete)?;
        for source in records.iter().filter(|s| !logged.contains_key(*s)) {
            report.leftover(
                self.store.location(source),
                "a change without its event in the log (its writer was killed after the change; `verify --repair` appends it once it is a minute old)",
            );
        }
        for (source, event) in &logged {
            let location = self.store.location(&super::events::event_key(event.id));
            if let Some(why) = self.event_disagrees(source, event, &records) {
                report.problem(location, why);
            }
        }
        if head > last {
            report.problem(
                self.store.location(keys::EVENTS_HEAD),
                format!("it says event {head} exists, but the log ends at {last}: new events would leave a gap; remove it (it is only a hint)"),
            );
        }
        Ok(())
    }

    /// Why `event` does not report its record faithfully, if it does not.
    fn event_disagrees(&self, source: &str, event: &Event, records: &BTreeSet<String>) -> Option<String> {
        let id = event.id;
        if let Some((alias, _)) = self.keys.history_of(source) {
            let record = self.alias_record_at(source, &alias)?;
            return (record.version != event.version || Some(&record.alias) != event.alias.as_ref()).then(|| {
                format!(
                    "event {id} says alias {} moved to {}, but its record {source} says {} moved to {}",
                    event.alias.as_ref().map_or("?", |a| a.as_str()),
                    event.version,
                    record.alias,
                    record.version
                )
            });
        }
        let is_state = STATES.iter().any(|k| self.keys.state_history_of(*k, source).is_some());
        if is_state && !records.contains(source) {
            return Some(format!("event {id} reports {source}, which does not exist"));
        }
        if let Some((version, _)) = STATES
            .iter()
            .find_map(|k| self.keys.state_history_of(*k, source))
            .filter(|(v, _)| *v != event.version)
        {
            return Some(format!(
                "event {id} is about version {}, its record {source} about {version}",
                event.version
            ));
        }
        None
    }

    /// The alias record a history key names: its entry, or the pointer
    /// if the entry is not written yet.
    fn alias_record_at(&self, source: &str, alias: &crate::names::AliasName) -> Option<AliasRecord> {
        let location = self.store.location(source);
        match self.store.read_limited(source, keys::MAX_SMALL_DOCUMENT_BYTES) {
            Ok(bytes) => parse_versioned(&bytes, &location)
                .and_then(|m| from_map(m, &location))
                .ok(),
            Err(StoreError::NotFound { .. }) => self.read_alias_pointer(alias).ok().flatten().map(|(r, _)| r),
            Err(_) => None,
        }
    }

    /// `verify --repair`: appends the event of every record older than
    /// `grace` (at most [`EVENT_GRACE`]) that has none. A marker
    /// (`events-backfill/<source>`) made first keeps two repairs from both
    /// appending one. Returns the sources it appended events for.
    pub(super) fn backfill_events(&self, grace: Duration) -> Result<Vec<String>> {
        let grace = grace.min(EVENT_GRACE);
        let (logged, _) = self.logged()?;
        let complete = self.scan_versions()?.complete;
        let mut appended = Vec::new();
        for source in self.change_records(&complete)? {
            if logged.contains_key(&source) || !self.older_than(&source, grace) {
                continue;
            }
            let Some(event) = self.event_of_record(&source)? else {
                continue;
            };
            let marker = format!("{}{source}", keys::EVENTS_BACKFILL);
            match self.store.create(&marker, b"{}\n") {
                Ok(()) => {}
                Err(StoreError::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            self.append_event(event)?;
            appended.push(source);
        }
        Ok(appended)
    }

    /// Whether the record at `source` is older than `grace` (a pointer's
    /// current state, whose entry is not written, by the pointer's age).
    fn older_than(&self, source: &str, grace: Duration) -> bool {
        match self.store.age(source) {
            Ok(Some(age)) => age >= grace,
            Ok(None) => grace.is_zero(),
            Err(_) => true,
        }
    }

    /// The event a record reports, rebuilt from it (None: unreadable).
    fn event_of_record(&self, source: &str) -> Result<Option<NewEvent>> {
        if let Some((alias, _)) = self.keys.history_of(source) {
            return Ok(self.alias_record_at(source, &alias).map(|r| {
                let mut event = self.alias_event(&r);
                event.source = source.to_string();
                event
            }));
        }
        for kind in STATES {
            let Some((version, seq)) = self.keys.state_history_of(kind, source) else {
                continue;
            };
            let read = |seq: u64| {
                let key = self.keys.state_history(kind, &version, seq);
                self.store
                    .read_limited(&key, keys::MAX_SMALL_DOCUMENT_BYTES)
                    .or_else(|_| {
                        self.store
                            .read_limited(&self.keys.state(kind, &version), keys::MAX_SMALL_DOCUMENT_BYTES)
                    })
                    .ok()
            };
            let Some(bytes) = read(seq) else { return Ok(None) };
            let previous = seq.checked_sub(1).filter(|s| *s > 0).and_then(read);
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let mut event = self.state_event_of(kind, &version, seq, previous.as_deref(), &bytes);
            event.reason = value["reason"].as_str().map(str::to_string);
            return Ok(Some(event));
        }
        // A version's metadata.
        let Some(version) = self.keys.metadata_of(source) else {
            return Ok(None);
        };
        Ok(self.metadata_unchecked(&version).ok().map(|md| self.save_event(&md)))
    }
}
