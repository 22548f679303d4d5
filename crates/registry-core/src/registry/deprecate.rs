//! Retiring a version without deleting it: a deprecated version stays
//! immutable and loadable by its number, but is hidden from listings,
//! never becomes `latest`, and is refused by a promotion unless forced.
//!
//! Whether a version is deprecated is a pointer per version
//! (`deprecations/<v>.json`) moved by compare-and-swap, and every state is
//! recorded in `deprecations-history/<v>/` before it is replaced, exactly
//! like an alias: so deprecating is recorded and can be undone.

use super::Registry;
use super::keys;
use crate::error::{RegistryError, Result};
use crate::metadata::{Actor, AliasAction, FORMAT_VERSION, from_map, parse_versioned};
use crate::names::{AliasName, ModelVersion};
use crate::store::{Pointer, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// One state of a version's deprecation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeprecationRecord {
    pub format_version: u32,
    pub version: ModelVersion,
    /// 1 for the first state, +1 per change.
    pub seq: u64,
    pub deprecated: bool,
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub by: Actor,
}

/// The longest reason kept: a sentence or two, not a document.
const MAX_REASON_CHARS: usize = 1000;

impl<S: Store> Registry<S> {
    fn read_deprecation(&self, version: &ModelVersion) -> Result<Option<(DeprecationRecord, Pointer)>> {
        let key = self.keys.deprecation(version);
        let Some(pointer) = self.store.read_pointer(&key)? else {
            return Ok(None);
        };
        let location = self.store.location(&key);
        let record: DeprecationRecord = from_map(parse_versioned(&pointer.bytes, &location)?, &location)?;
        if &record.version != version {
            return Err(RegistryError::InvalidMetadata {
                location,
                reason: format!("it is about version {}, not {version}", record.version),
            });
        }
        Ok(Some((record, pointer)))
    }

    /// The deprecation of `version` if it is deprecated now.
    pub fn deprecation(&self, version: &ModelVersion) -> Result<Option<DeprecationRecord>> {
        Ok(self.read_deprecation(version)?.map(|(r, _)| r).filter(|r| r.deprecated))
    }

    /// Every version deprecated now, with why: one listing and one small
    /// read per version ever deprecated.
    pub fn deprecated_versions(&self) -> Result<BTreeMap<ModelVersion, DeprecationRecord>> {
        let mut out = BTreeMap::new();
        for key in self.store.list(&self.keys.deprecations())? {
            let Some(version) = self.keys.deprecation_of(&key) else {
                continue;
            };
            if let Some(record) = self.deprecation(&version)? {
                out.insert(version, record);
            }
        }
        Ok(out)
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
        if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
            return Err(RegistryError::Encode {
                version: version.to_string(),
                reason: format!("the reason is longer than {MAX_REASON_CHARS} characters"),
            });
        }
        let record = loop {
            let current = self.read_deprecation(version)?;
            if let Some((record, _)) = &current
                && record.deprecated == deprecated
                && (!deprecated || reason.is_none() || record.reason.as_deref() == reason)
            {
                break record.clone();
            }
            match self.swap_deprecation(version, current, deprecated, reason) {
                Ok(record) => break record,
                Err(RegistryError::Store(StoreError::Conflict { .. })) => continue,
                Err(e) => return Err(e),
            }
        };
        if deprecated {
            self.move_latest_off(version)?;
        } else {
            self.advance_latest(&metadata, AliasAction::Deprecate)?;
        }
        Ok(record)
    }

    fn swap_deprecation(
        &self,
        version: &ModelVersion,
        current: Option<(DeprecationRecord, Pointer)>,
        deprecated: bool,
        reason: Option<&str>,
    ) -> Result<DeprecationRecord> {
        if let Some((record, pointer)) = &current {
            self.record_deprecation(record, &pointer.bytes)?;
        }
        let record = DeprecationRecord {
            format_version: FORMAT_VERSION,
            version: version.clone(),
            seq: current.as_ref().map_or(1, |(r, _)| r.seq.saturating_add(1)),
            deprecated,
            reason: reason.map(str::to_string),
            at: OffsetDateTime::now_utc(),
            by: self.actor().clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&record).map_err(|e| RegistryError::Encode {
            version: version.to_string(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        self.store.swap_pointer(
            &self.keys.deprecation(version),
            current.as_ref().map(|(_, p)| &p.tag),
            &bytes,
        )?;
        self.record_deprecation(&record, &bytes)?;
        Ok(record)
    }

    fn record_deprecation(&self, record: &DeprecationRecord, bytes: &[u8]) -> Result<()> {
        match self
            .store
            .create(&self.keys.deprecation_history(&record.version, record.seq), bytes)
        {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every state a version's deprecation has had, oldest first.
    pub fn deprecation_history(&self, version: &ModelVersion) -> Result<Vec<DeprecationRecord>> {
        let prefix = self.keys.deprecation_history(version, 0);
        let prefix = prefix
            .rsplit_once('/')
            .map_or(prefix.as_str(), |(dir, _)| dir)
            .to_string()
            + "/";
        let mut out = BTreeMap::new();
        for key in self.store.list(&prefix)? {
            let location = self.store.location(&key);
            let bytes = self.store.read_limited(&key, keys::MAX_SMALL_DOCUMENT_BYTES)?;
            let record: DeprecationRecord = from_map(parse_versioned(&bytes, &location)?, &location)?;
            out.insert(record.seq, record);
        }
        if let Some((record, _)) = self.read_deprecation(version)? {
            out.entry(record.seq).or_insert(record);
        }
        Ok(out.into_values().collect())
    }

    /// The newest release that is not deprecated, among `versions`.
    pub(super) fn newest_live_release<'a>(&self, versions: &'a [ModelVersion]) -> Result<Option<&'a ModelVersion>> {
        let deprecated = self.deprecated_versions()?;
        Ok(versions
            .iter()
            .rev()
            .find(|v| !v.is_prerelease() && !deprecated.contains_key(v)))
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
            let digest = self.metadata_unchecked(&target)?.metadata_sha256;
            match self.swap_alias(&latest, current, &target, &digest, AliasAction::Deprecate) {
                Ok(_) => return self.refresh_latest_view(),
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
