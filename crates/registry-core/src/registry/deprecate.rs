//! Retiring a version without deleting it: a deprecated version stays
//! immutable and loadable by its number, but is hidden from listings,
//! never becomes `latest`, and is refused by a promotion unless forced.
//! Recorded and undone like every version state (version_state.rs).

use super::Registry;
use super::keys::StateKind;
use crate::error::{RegistryError, Result};
use crate::metadata::AliasAction;
use crate::names::{AliasName, ModelVersion};
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;

super::version_state::state_record!(
    /// One state of a version's deprecation.
    DeprecationRecord,
    deprecated,
    StateKind::Deprecation
);

impl<S: Store> Registry<S> {
    /// The deprecation of `version` if it is deprecated now.
    pub fn deprecation(&self, version: &ModelVersion) -> Result<Option<DeprecationRecord>> {
        self.state_now(version)
    }

    /// Every version deprecated now, with why.
    pub fn deprecated_versions(&self) -> Result<BTreeMap<ModelVersion, DeprecationRecord>> {
        self.states_now()
    }

    /// Deprecates `version` (with an optional reason), or with `deprecated`
    /// false restores it. Recorded in its deprecation history; setting the
    /// state it already has changes nothing. If `latest` names a version
    /// being deprecated, it moves back to the newest release that is not;
    /// a restored version newer than `latest` moves it forward.
    pub fn set_deprecated(
        &self,
        version: &ModelVersion,
        deprecated: bool,
        reason: Option<&str>,
    ) -> Result<DeprecationRecord> {
        let metadata = self.metadata_unchecked(version)?;
        let (record, _) = self.set_state::<DeprecationRecord>(version, deprecated, reason, |_| None)?;
        if deprecated {
            self.move_latest_off(version)?;
        } else {
            self.advance_latest(&metadata, AliasAction::Deprecate)?;
        }
        Ok(record)
    }

    /// Every state a version's deprecation has had, oldest first.
    pub fn deprecation_history(&self, version: &ModelVersion) -> Result<Vec<DeprecationRecord>> {
        self.state_history(version)
    }

    /// The newest release that is neither deprecated nor deleted, among
    /// `versions`.
    pub(super) fn newest_live_release<'a>(&self, versions: &'a [ModelVersion]) -> Result<Option<&'a ModelVersion>> {
        let deprecated = self.deprecated_versions()?;
        let deleted = self.deleted_versions()?;
        Ok(versions
            .iter()
            .rev()
            .find(|v| !v.is_prerelease() && !deprecated.contains_key(v) && !deleted.contains_key(v)))
    }

    /// If `latest` names `version` (just deprecated), moves it back to the
    /// newest release that is not deprecated; with none, it stays.
    fn move_latest_off(&self, version: &ModelVersion) -> Result<()> {
        let latest = AliasName::latest();
        loop {
            let current = self.read_alias_pointer(&latest)?;
            let Some((record, _)) = &current else { return Ok(()) };
            if record.version != *version {
                return Ok(());
            }
            let versions = self.list_versions()?;
            let Some(target) = self.newest_live_release(&versions)?.cloned() else {
                return Ok(());
            };
            // Pinned, then checked, as every move is (pins.rs): a deletion
            // since the listing sends latest to the next candidate.
            let _pin = self.pin(&target)?;
            if self.deletion(&target)?.is_some() {
                continue;
            }
            let digest = self.metadata_unchecked(&target)?.metadata_sha256;
            match self.swap_alias(&latest, current, &target, &digest, AliasAction::Deprecate) {
                Ok(_) => {
                    self.restore_if_deleted_meanwhile(&latest, &target)?;
                    return self.refresh_latest_view();
                }
                Err(RegistryError::Store(StoreError::Conflict { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Refuses to point an alias at a deprecated version unless `force`.
    pub(super) fn check_not_deprecated(&self, alias: &AliasName, version: &ModelVersion, force: bool) -> Result<()> {
        match self.deprecation(version)? {
            Some(record) if !force => Err(RegistryError::PromotionRefused {
                alias: alias.to_string(),
                version: version.to_string(),
                reason: format!(
                    "it is deprecated{} (since {} by {}@{}); --force promotes it anyway, `registry deprecate {version} --undo` restores it",
                    record.reason.map(|r| format!(": {r}")).unwrap_or_default(),
                    record
                        .at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    record.by.user,
                    record.by.host
                ),
            }),
            _ => Ok(()),
        }
    }
}
