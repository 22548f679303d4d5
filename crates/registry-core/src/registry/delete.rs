//! Deleting a version: refused while any alias names it; recorded (who,
//! when, why) in a per-version pointer with history like a deprecation
//! (version_state.rs); from then on the version is absent from the
//! catalog and from `latest`'s candidates, and every load, promotion and
//! rollback of it is [`RegistryError::VersionDeleted`]. Its files stay
//! until `gc` (gc.rs) claims them (the record's `collection`), so until
//! then `undelete` restores it.
//!
//! Deleting and promoting race: a promotion checks the version before it
//! moves its alias, a deletion checks the aliases before it records
//! itself, and one may pass the other's check just before the other's
//! write. So each looks again after its own write (the store is strongly
//! consistent, so at least one of two writers sees the other): a deletion
//! that finds an alias naming the version undoes itself and is refused;
//! a promotion that finds the version deleted restores it. Either way no
//! alias is left naming a deleted version, and the history says so.

use super::Registry;
use super::hook_calls::HookEvent;
use super::keys::StateKind;
use crate::error::{RegistryError, Result};
use crate::hooks::HookName;
use crate::metadata::Actor;
use crate::metadata::AliasAction;
use crate::names::{AliasName, ModelVersion};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

super::version_state::state_record!(
    /// One state of a version's deletion.
    DeletionRecord,
    deleted,
    StateKind::Deletion,
    {
        /// Set once `gc` claimed the version's files: from then on it
        /// cannot be undeleted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub collection: Option<Collection>,
    }
);

/// `gc`'s claim on a deleted version's files (gc.rs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    pub state: CollectionState,
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    pub by: Actor,
    /// The bytes removed, once collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionState {
    /// A gc is removing the files (or was killed doing it: the next one
    /// finishes).
    Collecting,
    /// The files are gone; the record stays, so the number is never reused.
    Collected,
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl DeletionRecord {
    /// The error every load of the deleted version gives.
    pub fn to_error(&self) -> RegistryError {
        let version = &self.version;
        let restore = match &self.collection {
            None => format!("`registry undelete {version}` restores it (until `registry gc` removes its files)"),
            Some(c) if c.state == CollectionState::Collecting => format!(
                "`registry gc` is removing its files (since {}), so it cannot be restored",
                rfc3339(c.at)
            ),
            Some(c) => format!(
                "`registry gc` removed its files on {}, so it cannot be restored",
                rfc3339(c.at)
            ),
        };
        RegistryError::VersionDeleted {
            version: version.to_string(),
            at: rfc3339(self.at),
            by: format!("{}@{}", self.by.user, self.by.host),
            reason: self.reason.clone(),
            restore,
        }
    }

    /// Whether gc has claimed (or removed) the files.
    pub fn is_collected(&self) -> bool {
        self.collection.is_some()
    }
}

impl<S: Store> Registry<S> {
    /// The deletion of `version` if it is deleted now.
    pub fn deletion(&self, version: &ModelVersion) -> Result<Option<DeletionRecord>> {
        self.state_now(version)
    }

    /// Every version deleted now, with who, when and why.
    pub fn deleted_versions(&self) -> Result<BTreeMap<ModelVersion, DeletionRecord>> {
        self.states_now()
    }

    /// Every state a version's deletion has had, oldest first.
    pub fn deletion_history(&self, version: &ModelVersion) -> Result<Vec<DeletionRecord>> {
        self.state_history(version)
    }

    /// Every version that has a deletion record (deleted now, restored,
    /// or collected): one listing, no reads.
    pub(super) fn ever_deleted(&self) -> Result<Vec<ModelVersion>> {
        let kind = StateKind::Deletion;
        Ok(self
            .store
            .list(&self.keys.states(kind))?
            .iter()
            .filter_map(|key| self.keys.state_of(kind, key))
            .collect())
    }

    /// [`RegistryError::VersionCollected`] if gc claimed `version`'s
    /// files: its number is taken for good.
    pub(super) fn refuse_collected(&self, version: &ModelVersion) -> Result<()> {
        match self.deletion(version)?.and_then(|r| r.collection) {
            Some(c) => Err(RegistryError::VersionCollected {
                version: version.to_string(),
                at: rfc3339(c.at),
            }),
            None => Ok(()),
        }
    }

    /// [`RegistryError::VersionDeleted`] if `version` is deleted.
    pub(super) fn refuse_deleted(&self, version: &ModelVersion) -> Result<()> {
        match self.deletion(version)? {
            Some(record) => Err(record.to_error()),
            None => Ok(()),
        }
    }

    /// Deletes `version` (see the module docs): refused while an alias
    /// names it, and for a version already deleted.
    pub fn delete_version(&self, version: &ModelVersion, reason: Option<&str>) -> Result<DeletionRecord> {
        super::version_state::check_reason(version, reason)?;
        // It must exist (and its metadata parse), whoever signed it.
        self.metadata_unchecked(version)?;
        self.refuse_deleted(version)?;
        self.refuse_named(version)?;
        let event = HookEvent {
            action: "delete",
            version,
            alias: None,
            previous: None,
            reason,
        };
        self.pre_hook(HookName::PreDelete, &event)?;
        let (record, changed) = self.set_state::<DeletionRecord>(version, true, reason, |_| None)?;
        if !changed {
            return Err(record.to_error());
        }
        if let Err(refused) = self.refuse_named(version) {
            let undo = "undone: an alias was moved to it meanwhile";
            self.set_state::<DeletionRecord>(version, false, Some(undo), |_| None)?;
            return Err(refused);
        }
        Ok(record)
    }

    /// Restores a deleted version whose files gc has not claimed.
    pub fn undelete_version(&self, version: &ModelVersion) -> Result<DeletionRecord> {
        self.metadata_unchecked(version)?;
        if self.deletion(version)?.is_none() {
            return Err(RegistryError::NotDeleted {
                version: version.to_string(),
            });
        }
        // Asked again at the swap: a gc that claims it first wins.
        let claimed = |r: &DeletionRecord| r.is_collected().then(|| r.to_error());
        Ok(self.set_state::<DeletionRecord>(version, false, None, claimed)?.0)
    }

    /// After an alias was moved to `version`: if a deletion of it slipped
    /// in meanwhile (see the module docs), restore it. The mover holds a
    /// pin on the version (pins.rs), so a gc that claimed it meanwhile
    /// sees the pin and backs off: its claim is overridden here too.
    pub(super) fn restore_if_deleted_meanwhile(&self, alias: &AliasName, version: &ModelVersion) -> Result<()> {
        if self.deletion(version)?.is_some() {
            let reason = format!("undone: alias {alias} was moved to it meanwhile");
            self.set_state::<DeletionRecord>(version, false, Some(&reason), |_| None)?;
        }
        Ok(())
    }

    /// [`RegistryError::VersionInUse`] if any alias (`latest` included)
    /// names `version`, saying how to move it.
    fn refuse_named(&self, version: &ModelVersion) -> Result<()> {
        if let Some(record) = self.alias_naming(version)? {
            let how = if record.alias.is_latest() {
                format!(
                    "`registry deprecate {version}` moves latest back to the newest release before it (or save a newer version)"
                )
            } else {
                let alias = &record.alias;
                format!(
                    "`registry promote OTHER_VERSION --to {alias}` moves it, `registry alias delete {alias}` removes it"
                )
            };
            return Err(RegistryError::VersionInUse {
                version: version.to_string(),
                alias: format!("alias {}", record.alias),
                how,
            });
        }
        Ok(())
    }

    /// An alias (`latest` included) that names `version` now, if any.
    pub(super) fn alias_naming(&self, version: &ModelVersion) -> Result<Option<crate::metadata::AliasRecord>> {
        Ok(self
            .list_aliases()?
            .into_iter()
            .find(|r| r.version == *version && r.action != AliasAction::Delete))
    }
}
