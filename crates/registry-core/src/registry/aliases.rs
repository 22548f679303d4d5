//! Aliases: pointers moved by compare-and-swap, each state recorded in an
//! append-only history before it is replaced.

use super::keys;
use super::{Expect, Registry};
use crate::error::{RegistryError, Result};
use crate::metadata::{AliasAction, AliasRecord, FORMAT_VERSION, from_map, parse_versioned};
use crate::names::{AliasName, ModelVersion};
use crate::store::{Pointer, Store, StoreError};
use std::collections::BTreeMap;
use time::OffsetDateTime;

impl<S: Store> Registry<S> {
    pub(super) fn read_alias_pointer(&self, alias: &AliasName) -> Result<Option<(AliasRecord, Pointer)>> {
        let key = keys::alias(alias);
        let Some(pointer) = self.store.read_pointer(&key)? else {
            return Ok(None);
        };
        let location = self.store.location(&key);
        let record: AliasRecord = from_map(parse_versioned(&pointer.bytes, &location)?, &location)?;
        if &record.alias != alias {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!("it names alias {:?}, not {alias:?}", record.alias.as_str()),
            });
        }
        Ok(Some((record, pointer)))
    }

    /// What `alias` points to now: one read, whatever the number of versions.
    pub fn resolve(&self, alias: &AliasName) -> Result<AliasRecord> {
        match self.read_alias_pointer(alias)? {
            Some((record, _)) => Ok(record),
            None if alias.is_latest() => Err(RegistryError::Empty { root: self.location() }),
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

    /// Every alias and what it points to, `latest` included.
    pub fn list_aliases(&self) -> Result<Vec<AliasRecord>> {
        let mut out = Vec::new();
        for key in self.store.list(keys::ALIASES)? {
            let Some(name) = keys::alias_of(&key) else {
                continue;
            };
            if let Some((record, _)) = self.read_alias_pointer(&name)? {
                out.push(record);
            }
        }
        Ok(out)
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
            format_version: FORMAT_VERSION,
            alias: alias.clone(),
            seq: current.as_ref().map_or(1, |(r, _)| r.seq + 1),
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
            .swap_pointer(&keys::alias(alias), current.as_ref().map(|(_, p)| &p.tag), &bytes)?;
        // Best effort: the next mover records this state if we die here.
        self.record_history(&record, &bytes)?;
        Ok(record)
    }

    pub(super) fn record_history(&self, record: &AliasRecord, bytes: &[u8]) -> Result<()> {
        match self.store.create(&keys::history(&record.alias, record.seq), bytes) {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Points `alias` at `version` if it currently matches `expect`; an
    /// unexpected current target is [`RegistryError::AliasConflict`] and
    /// changes nothing. `latest` is reserved.
    pub fn set_alias(&self, alias: &AliasName, version: &ModelVersion, expect: Expect) -> Result<AliasRecord> {
        self.move_alias(alias, version, expect, AliasAction::Promote)
    }

    pub(super) fn move_alias(
        &self,
        alias: &AliasName,
        version: &ModelVersion,
        expect: Expect,
        action: AliasAction,
    ) -> Result<AliasRecord> {
        if alias.is_latest() {
            return Err(RegistryError::ReservedAlias {
                alias: alias.to_string(),
            });
        }
        let metadata = self.metadata(version)?;
        // Never point an alias at a version whose model does not verify.
        self.load_with_metadata(metadata.clone())?;
        loop {
            let current = self.read_alias_pointer(alias)?;
            let actual = current.as_ref().map(|(r, _)| r.version.clone());
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
            match self.swap_alias(alias, current, version, &metadata.metadata_sha256, action) {
                Ok(record) => return Ok(record),
                // Someone moved it between our read and our swap: with an
                // expectation that is a conflict to report, never to hide.
                Err(RegistryError::Store(StoreError::Conflict { .. })) if expect == Expect::Anything => continue,
                Err(RegistryError::Store(StoreError::Conflict { .. })) => {
                    let actual = self.read_alias_pointer(alias)?.map(|(r, _)| r.version.to_string());
                    return Err(RegistryError::AliasConflict {
                        alias: alias.to_string(),
                        expected: match &expect {
                            Expect::Version(v) => Some(v.to_string()),
                            _ => None,
                        },
                        actual,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves `alias` back to the version it pointed to before its last move.
    pub fn rollback(&self, alias: &AliasName) -> Result<AliasRecord> {
        let current = self.resolve(alias)?;
        let Some(previous) = current.previous.clone() else {
            return Err(RegistryError::NothingToRollBack {
                alias: alias.to_string(),
            });
        };
        self.move_alias(
            alias,
            &previous,
            Expect::Version(current.version),
            AliasAction::Rollback,
        )
    }

    /// Every state `alias` has had, oldest first.
    pub fn alias_history(&self, alias: &AliasName) -> Result<Vec<AliasRecord>> {
        let current = self.read_alias_pointer(alias)?;
        let prefix = keys::history_prefix(alias);
        let mut out: BTreeMap<u64, AliasRecord> = BTreeMap::new();
        for key in self.store.list(&prefix)? {
            let location = self.store.location(&key);
            let bytes = self.store.read(&key)?;
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
