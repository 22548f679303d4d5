//! Aliases: pointers moved by compare-and-swap, each state recorded in an
//! append-only history before it is replaced.

use super::hook_calls::HookEvent;
use super::keys;
use super::{AliasMove, Expect, Registry};
use crate::error::{RegistryError, Result};
use crate::hooks::HookName;
use crate::metadata::{AliasAction, AliasRecord, BASE_FORMAT_VERSION, FORMAT_VERSION, from_map, parse_versioned};
use crate::names::{AliasName, ModelVersion};
use crate::store::{Pointer, PointerRead, PointerTag, Store, StoreError};
use std::collections::BTreeMap;
use time::OffsetDateTime;

impl<S: Store> Registry<S> {
    pub(super) fn read_alias_pointer(&self, alias: &AliasName) -> Result<Option<(AliasRecord, Pointer)>> {
        let key = self.keys.alias(alias);
        let Some(pointer) = self.store.read_pointer(&key)? else {
            return Ok(None);
        };
        self.parse_alias_pointer(alias, pointer).map(Some)
    }

    /// For a poller (the model server): `Ok(None)` while `alias` is still in
    /// the state `known` (on S3 a conditional GET: no body is transferred),
    /// else what it names now and the tag to pass next time. A deleted or
    /// missing alias is the error [`Registry::resolve`] gives.
    pub fn resolve_if_changed(
        &self,
        alias: &AliasName,
        known: Option<&PointerTag>,
    ) -> Result<Option<(AliasRecord, PointerTag)>> {
        match self.store.read_pointer_if_changed(&self.keys.alias(alias), known)? {
            PointerRead::Unchanged => Ok(None),
            PointerRead::Changed(Some(pointer)) => {
                // Checked when the pointer changed (an unchanged poll costs
                // nothing more); a follower's first read is a change.
                self.check_alias_policy(alias)?;
                let (record, pointer) = self.parse_alias_pointer(alias, pointer)?;
                if record.action == AliasAction::Delete {
                    // The deletion's error; set again meanwhile: the next poll sees it.
                    return self.resolve(alias).map(|_| None);
                }
                Ok(Some((record, pointer.tag)))
            }
            // The missing alias's error; created meanwhile: the next poll sees it.
            PointerRead::Changed(None) => self.resolve(alias).map(|_| None),
        }
    }

    fn parse_alias_pointer(&self, alias: &AliasName, pointer: Pointer) -> Result<(AliasRecord, Pointer)> {
        let location = self.store.location(&self.keys.alias(alias));
        let record: AliasRecord = from_map(parse_versioned(&pointer.bytes, &location)?, &location)?;
        if &record.alias != alias {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!("it names alias {:?}, not {alias:?}", record.alias.as_str()),
            });
        }
        Ok((record, pointer))
    }

    /// What `alias` points to now: one read, whatever the number of versions.
    pub fn resolve(&self, alias: &AliasName) -> Result<AliasRecord> {
        // The signature policy is part of reading an alias, so no reader
        // (CLI, server, Python) can follow a protected alias without keys.
        self.check_alias_policy(alias)?;
        match self.read_alias_pointer(alias)? {
            Some((record, _)) if record.action == AliasAction::Delete => Err(RegistryError::AliasDeleted {
                alias: alias.to_string(),
                version: record.version.to_string(),
                by: format!("{}@{}", record.moved_by.user, record.moved_by.host),
                at: record
                    .moved_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            }),
            Some((record, _)) => Ok(record),
            None if alias.is_latest() => {
                let versions = self.list_versions()?;
                if !versions.is_empty() && versions.iter().all(ModelVersion::is_prerelease) {
                    return Err(RegistryError::OnlyPreReleases {
                        root: self.location(),
                        versions: versions.iter().map(ToString::to_string).collect(),
                    });
                }
                Err(RegistryError::Empty { root: self.location() })
            }
            None => Err(RegistryError::AliasNotFound {
                alias: alias.to_string(),
                root: self.location(),
                available: self
                    .list_aliases()
                    .map(|a| a.into_iter().map(|r| r.alias.to_string()).collect())
                    .unwrap_or_default(),
            }),
        }
    }

    /// Every alias and what it points to, `latest` included; deleted
    /// aliases are not listed.
    pub fn list_aliases(&self) -> Result<Vec<AliasRecord>> {
        let mut out = Vec::new();
        for key in self.store.list(&self.keys.aliases())? {
            let Some(name) = self.keys.alias_of(&key) else {
                continue;
            };
            if let Some((record, _)) = self.read_alias_pointer(&name)?
                && record.action != AliasAction::Delete
            {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Deletes `alias` if it currently matches `expect`: it resolves to
    /// nothing from now on, and the deletion is recorded in its history like
    /// any move, so [`Registry::rollback`] restores it. `latest` is
    /// reserved.
    pub fn delete_alias(&self, alias: &AliasName, expect: Expect) -> Result<AliasRecord> {
        if alias.is_latest() {
            return Err(RegistryError::ReservedAlias {
                alias: alias.to_string(),
            });
        }
        loop {
            let current = self.read_alias_pointer(alias)?;
            let record = match &current {
                Some((record, _)) if record.action != AliasAction::Delete => record.clone(),
                // Absent, or deleted already: resolve says which (and if
                // it was set meanwhile, look again).
                _ => match self.resolve(alias) {
                    Err(e) => return Err(e),
                    Ok(_) => continue,
                },
            };
            if let Expect::Version(v) = &expect
                && *v != record.version
            {
                return Err(RegistryError::AliasConflict {
                    alias: alias.to_string(),
                    expected: Some(v.to_string()),
                    actual: Some(record.version.to_string()),
                });
            }
            match self.swap_alias(
                alias,
                current,
                &record.version,
                &record.metadata_sha256,
                AliasAction::Delete,
            ) {
                Ok(deleted) => return Ok(deleted),
                Err(RegistryError::Store(StoreError::Conflict { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Records `current` in the history, then swaps the pointer to `target`.
    /// A store conflict is returned as is, for the caller to retry or report.
    pub(super) fn swap_alias(
        &self,
        alias: &AliasName,
        current: Option<(AliasRecord, Pointer)>,
        target: &ModelVersion,
        metadata_sha256: &str,
        action: AliasAction,
    ) -> Result<AliasRecord> {
        if let Some((record, pointer)) = &current {
            self.record_history(record, &pointer.bytes)?;
        }
        let record = AliasRecord {
            // Older builds cannot read a deletion: they refuse it by format.
            format_version: match action {
                AliasAction::Delete | AliasAction::Deprecate | AliasAction::Import => FORMAT_VERSION,
                _ => BASE_FORMAT_VERSION,
            },
            alias: alias.clone(),
            seq: match &current {
                None => 1,
                // Checked: a wrapped sequence number would overwrite nothing
                // (history is create-only) but silently lose the new entry.
                Some((r, _)) => r.seq.checked_add(1).ok_or_else(|| RegistryError::InvalidMetadata {
                    location: self.store.location(&self.keys.alias(alias)),
                    reason: format!("its seq is {}, the largest there is: the alias cannot move again (recreate it under another name)", r.seq),
                })?,
            },
            version: target.clone(),
            previous: current.as_ref().map(|(r, _)| r.version.clone()),
            metadata_sha256: metadata_sha256.to_string(),
            moved_at: OffsetDateTime::now_utc(),
            moved_by: self.actor().clone(),
            action,
        };
        let mut bytes = serde_json::to_vec_pretty(&record).map_err(|e| RegistryError::Encode {
            version: target.to_string(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        self.store
            .swap_pointer(&self.keys.alias(alias), current.as_ref().map(|(_, p)| &p.tag), &bytes)?;
        // Best effort: the next mover records this state if we die here.
        self.record_history(&record, &bytes)?;
        self.log_event(self.alias_event(&record));
        Ok(record)
    }

    pub(super) fn record_history(&self, record: &AliasRecord, bytes: &[u8]) -> Result<()> {
        match self.store.create(&self.keys.history(&record.alias, record.seq), bytes) {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Points `alias` at `version` if it currently matches `expect`; an
    /// unexpected current target is [`RegistryError::AliasConflict`] and
    /// changes nothing. `latest` is reserved. Pointing an alias at the
    /// version it already names changes nothing (no history entry) and
    /// returns its current record; [`Registry::point_alias`] says which.
    pub fn set_alias(&self, alias: &AliasName, version: &ModelVersion, expect: Expect) -> Result<AliasRecord> {
        Ok(self.point_alias(alias, version, expect)?.record)
    }

    /// [`Registry::set_alias`], telling whether anything changed.
    pub fn point_alias(&self, alias: &AliasName, version: &ModelVersion, expect: Expect) -> Result<AliasMove> {
        self.check_alias_policy(alias)?;
        self.move_alias(alias, version, expect, AliasAction::Promote)
    }

    /// Points `alias` at `version` as an import records it: where the
    /// alias of the registry imported from points (history action `import`).
    pub fn import_alias(&self, alias: &AliasName, version: &ModelVersion) -> Result<AliasMove> {
        self.check_alias_policy(alias)?;
        self.move_alias(alias, version, Expect::Anything, AliasAction::Import)
    }

    pub(super) fn move_alias(
        &self,
        alias: &AliasName,
        version: &ModelVersion,
        expect: Expect,
        action: AliasAction,
    ) -> Result<AliasMove> {
        if alias.is_latest() {
            return Err(RegistryError::ReservedAlias {
                alias: alias.to_string(),
            });
        }
        // Pinned before the look for a deletion in `metadata`, held until
        // the move is made: gc cannot take it meanwhile (pins.rs).
        let _pin = self.pin(version)?;
        let metadata = self.metadata(version)?;
        // Never point an alias at a version whose files do not verify, or
        // whose model does not decode as the type it claims (where a
        // validator knows it).
        self.check_content(&metadata, false)?;
        let promotion = matches!(
            action,
            AliasAction::Promote | AliasAction::Rollback | AliasAction::Import
        );
        let verb = if action == AliasAction::Rollback {
            "rollback"
        } else {
            "promote"
        };
        if promotion {
            let current = self.read_alias_pointer(alias)?.map(|(r, _)| r.version);
            self.pre_hook(
                HookName::PrePromote,
                &HookEvent::of_move(verb, version, alias, current.as_ref()),
            )?;
        }
        loop {
            let current = self.read_alias_pointer(alias)?;
            // A deleted alias is expected like one that never existed.
            let live = current.as_ref().filter(|(r, _)| r.action != AliasAction::Delete);
            let actual = live.map(|(r, _)| r.version.clone());
            let matches = match &expect {
                Expect::Anything => true,
                Expect::Nothing => actual.is_none(),
                Expect::Version(v) => actual.as_ref() == Some(v),
            };
            if !matches {
                return Err(RegistryError::AliasConflict {
                    alias: alias.to_string(),
                    expected: match &expect {
                        Expect::Version(v) => Some(v.to_string()),
                        _ => None,
                    },
                    actual: actual.map(|v| v.to_string()),
                });
            }
            if let Some((record, _)) = live
                && record.version == *version
                && record.metadata_sha256 == metadata.metadata_sha256
            {
                return Ok(AliasMove {
                    record: record.clone(),
                    changed: false,
                });
            }
            match self.swap_alias(alias, current, version, &metadata.metadata_sha256, action) {
                Ok(record) => {
                    self.restore_if_deleted_meanwhile(alias, version)?;
                    if promotion {
                        let event = HookEvent::of_move(verb, version, alias, record.previous.as_ref());
                        self.post_hook(HookName::PostPromote, &event);
                    }
                    return Ok(AliasMove { record, changed: true });
                }
                // Someone moved it between our read and our swap: read it
                // again, and report a conflict only if the expectation no
                // longer holds (it may have moved away and back).
                Err(RegistryError::Store(StoreError::Conflict { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves `alias` back to its previous distinct target. Rollbacks undo
    /// moves one at a time: two rollbacks after promoting 1.0.0, 1.0.1 and
    /// 1.0.2 leave the alias at 1.0.0 (not back at 1.0.2).
    pub fn rollback(&self, alias: &AliasName) -> Result<AliasRecord> {
        // Undoing a deletion restores the alias to what it named.
        if let Some((record, _)) = self.read_alias_pointer(alias)?
            && record.action == AliasAction::Delete
        {
            return Ok(self
                .move_alias(alias, &record.version, Expect::Nothing, AliasAction::Rollback)?
                .record);
        }
        let current = self.resolve(alias)?;
        let stack = undo_stack(&self.alias_history(alias)?);
        let Some(previous) = stack.len().checked_sub(2).map(|i| stack[i].clone()) else {
            return Err(RegistryError::NothingToRollBack {
                alias: alias.to_string(),
            });
        };
        self.rollback_move(alias, &previous, current.version)
    }

    /// Moves `alias` back to `version`, one of its earlier targets.
    pub fn rollback_to(&self, alias: &AliasName, version: &ModelVersion) -> Result<AliasRecord> {
        let current = self.resolve(alias)?;
        let history = self.alias_history(alias)?;
        if current.version == *version || !history.iter().any(|r| r.version == *version) {
            let earlier: Vec<String> = undo_stack(&history)
                .iter()
                .filter(|v| **v != current.version)
                .map(ToString::to_string)
                .collect();
            return Err(RegistryError::NotAnEarlierTarget {
                alias: alias.to_string(),
                version: version.to_string(),
                current: current.version.to_string(),
                earlier,
            });
        }
        self.rollback_move(alias, version, current.version)
    }

    fn rollback_move(&self, alias: &AliasName, to: &ModelVersion, from: ModelVersion) -> Result<AliasRecord> {
        Ok(self
            .move_alias(alias, to, Expect::Version(from), AliasAction::Rollback)?
            .record)
    }

    /// Every state `alias` has had, oldest first.
    pub fn alias_history(&self, alias: &AliasName) -> Result<Vec<AliasRecord>> {
        let current = self.read_alias_pointer(alias)?;
        let prefix = self.keys.history_prefix(alias);
        let mut out: BTreeMap<u64, AliasRecord> = BTreeMap::new();
        for key in self.store.list(&prefix)? {
            let location = self.store.location(&key);
            let bytes = self.store.read_limited(&key, keys::MAX_SMALL_DOCUMENT_BYTES)?;
            let record: AliasRecord = from_map(parse_versioned(&bytes, &location)?, &location)?;
            out.insert(record.seq, record);
        }
        match current {
            Some((record, _)) => {
                out.entry(record.seq).or_insert(record);
            }
            None if out.is_empty() => {
                return Err(RegistryError::AliasNotFound {
                    alias: alias.to_string(),
                    root: self.location(),
                    available: self.list_aliases()?.into_iter().map(|r| r.alias.to_string()).collect(),
                });
            }
            None => {}
        }
        Ok(out.into_values().collect())
    }
}

/// The targets an alias can roll back through, oldest first: each move
/// pushes its target, each rollback pops back to the target it returned to.
fn undo_stack(history: &[AliasRecord]) -> Vec<ModelVersion> {
    let mut stack: Vec<ModelVersion> = Vec::new();
    for record in history {
        match record.action {
            // A deletion is undone by restoring, not by stepping back.
            AliasAction::Delete => {}
            AliasAction::Rollback => match stack.iter().rposition(|v| *v == record.version) {
                Some(at) => stack.truncate(at + 1),
                None => stack.push(record.version.clone()),
            },
            _ if stack.last() == Some(&record.version) => {}
            _ => stack.push(record.version.clone()),
        }
    }
    stack
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Actor;

    fn record(seq: u64, version: &str, action: AliasAction) -> AliasRecord {
        AliasRecord {
            format_version: BASE_FORMAT_VERSION,
            alias: "production".parse().unwrap(),
            seq,
            version: version.parse().unwrap(),
            previous: None,
            metadata_sha256: String::new(),
            moved_at: OffsetDateTime::UNIX_EPOCH,
            moved_by: Actor {
                user: "u".into(),
                host: "h".into(),
            },
            action,
        }
    }

    fn versions(stack: &[ModelVersion]) -> Vec<String> {
        stack.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn rollbacks_undo_one_move_each() {
        use AliasAction::{Promote, Rollback};
        let h = [
            record(1, "1.0.0", Promote),
            record(2, "1.0.1", Promote),
            record(3, "1.0.2", Promote),
        ];
        assert_eq!(versions(&undo_stack(&h)), ["1.0.0", "1.0.1", "1.0.2"]);
        let mut h = h.to_vec();
        h.push(record(4, "1.0.1", Rollback));
        assert_eq!(versions(&undo_stack(&h)), ["1.0.0", "1.0.1"]);
        h.push(record(5, "1.0.0", Rollback));
        assert_eq!(versions(&undo_stack(&h)), ["1.0.0"]);
        // Moving forward again, and a repeated target, push once.
        h.push(record(6, "1.0.2", Promote));
        h.push(record(7, "1.0.2", Promote));
        assert_eq!(versions(&undo_stack(&h)), ["1.0.0", "1.0.2"]);
        // A rollback to a target no longer on the stack (rollback --to an
        // undone one) goes on top.
        h.push(record(8, "1.0.1", Rollback));
        assert_eq!(versions(&undo_stack(&h)), ["1.0.0", "1.0.2", "1.0.1"]);
    }
}
