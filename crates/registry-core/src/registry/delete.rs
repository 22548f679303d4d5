//! Deleting a version: refused while any alias names it; recorded (who,
//! when, why) in a per-version pointer with history like a deprecation
//! (version_state.rs); from then on the version is absent from the
//! catalog and from `latest`'s candidates, and every load, promotion and
//! rollback of it is [`RegistryError::VersionDeleted`]. Its files stay
//! until `gc`, so `undelete` restores it.
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
use super::keys::StateKind;
use crate::error::{RegistryError, Result};
use crate::metadata::AliasAction;
use crate::names::{AliasName, ModelVersion};
use crate::store::Store;
use std::collections::BTreeMap;

super::version_state::state_record!(
    /// One state of a version's deletion.
    DeletionRecord,
    deleted,
    StateKind::Deletion
);

impl DeletionRecord {
    /// The error every load of the deleted version gives.
    pub fn to_error(&self) -> RegistryError {
        RegistryError::VersionDeleted {
            version: self.version.to_string(),
            at: self
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            by: format!("{}@{}", self.by.user, self.by.host),
            reason: self.reason.clone(),
        }
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
        let (record, changed) = self.set_state::<DeletionRecord>(version, true, reason)?;
        if !changed {
            return Err(record.to_error());
        }
        if let Err(refused) = self.refuse_named(version) {
            self.set_state::<DeletionRecord>(version, false, Some("undone: an alias was moved to it meanwhile"))?;
            return Err(refused);
        }
        Ok(record)
    }

    /// Restores a deleted version (its files are still there until gc).
    pub fn undelete_version(&self, version: &ModelVersion) -> Result<DeletionRecord> {
        self.metadata_unchecked(version)?;
        if self.deletion(version)?.is_none() {
            return Err(RegistryError::NotDeleted {
                version: version.to_string(),
            });
        }
        Ok(self.set_state::<DeletionRecord>(version, false, None)?.0)
    }

    /// After an alias was moved to `version`: if a deletion of it slipped
    /// in meanwhile (see the module docs), restore it.
    pub(super) fn restore_if_deleted_meanwhile(&self, alias: &AliasName, version: &ModelVersion) -> Result<()> {
        if self.deletion(version)?.is_some() {
            let reason = format!("undone: alias {alias} was moved to it meanwhile");
            self.set_state::<DeletionRecord>(version, false, Some(&reason))?;
        }
        Ok(())
    }

    /// [`RegistryError::VersionInUse`] if any alias (`latest` included)
    /// names `version`, saying how to move it.
    fn refuse_named(&self, version: &ModelVersion) -> Result<()> {
        for record in self.list_aliases()? {
            if record.version != *version || record.action == AliasAction::Delete {
                continue;
            }
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
}
