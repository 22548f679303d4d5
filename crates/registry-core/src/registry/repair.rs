//! `repair`: removes what interrupted saves left and moves `latest` to the
//! newest complete version.
//!
//! Safe beside running writers: a save's model file exists for a moment
//! before its metadata, and looks exactly like the leftover of a killed
//! save. So, like `git gc --prune=<date>`, repair removes such a file only
//! once it is older than a grace period (an hour by default), long past any
//! save in progress; temporary files of the store's own are removed only when
//! their writer is gone. A save that finds its model gone after committing
//! fails loudly instead of reporting success ([`RegistryError::CommitLost`]).
//!
//! [`RegistryError::CommitLost`]: crate::RegistryError::CommitLost

use super::Registry;
use crate::error::Result;
use crate::metadata::AliasAction;
use crate::names::{AliasName, ModelVersion};
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::time::Duration;

/// How old a leftover of an interrupted save must be before repair removes
/// it, unless told otherwise: far longer than any save takes.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// What [`Registry::repair`] changed, and what it left alone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairReport {
    pub removed: Vec<String>,
    /// Files of unfinished saves younger than the grace period (or of
    /// unknown age): a save may still be writing them.
    pub kept: Vec<String>,
    /// Unfinished uploads (S3 multipart) older than the grace period,
    /// aborted: what writers killed mid-upload left on the server.
    pub uploads_aborted: Vec<String>,
    pub latest_moved_to: Option<ModelVersion>,
    /// Changes whose writer was killed before it appended their event to
    /// the log: appended now (their records' keys).
    pub events_appended: Vec<String>,
    /// The catalog listed other versions than exist, and was rebuilt.
    pub catalog_rebuilt: bool,
}

impl<S: Store> Registry<S> {
    /// [`Registry::repair_older_than`] with the default grace period of an
    /// hour: safe to run at any time, beside any number of writers.
    pub fn repair(&self) -> Result<RepairReport> {
        self.repair_older_than(DEFAULT_GRACE)
    }

    /// Removes what interrupted saves left (the store's temporary files of
    /// writers that are gone, unfinished uploads and versions without
    /// metadata whose files are all older than `grace`) and moves `latest` forward to the newest
    /// complete version. Never deletes or rewrites a complete version.
    pub fn repair_older_than(&self, grace: Duration) -> Result<RepairReport> {
        let mut report = RepairReport {
            removed: self.store.remove_leftovers()?,
            ..RepairReport::default()
        };
        let uploads = self.store.abort_stale_uploads(&self.keys.versions(), grace)?;
        report.uploads_aborted = uploads.aborted;
        report.kept.extend(uploads.kept);
        let saves = self.remove_interrupted_saves(grace)?;
        report.removed.extend(saves.removed);
        report.kept.extend(saves.kept);
        let scan = self.scan_versions()?;
        report.events_appended = self.backfill_events(grace)?;
        if self.catalog_incomplete()? {
            self.rebuild_catalog()?;
            report.catalog_rebuilt = true;
        }
        if let Some(newest) = self.newest_live_release(&scan.complete)? {
            let current = self.read_alias_pointer(&AliasName::latest())?;
            if current.as_ref().is_none_or(|(r, _)| r.version < *newest) {
                let metadata = self.metadata_unchecked(newest)?;
                self.advance_latest(&metadata, AliasAction::Repair)?;
                report.latest_moved_to = Some(newest.clone());
            } else {
                self.refresh_latest_view()?;
            }
        }
        Ok(report)
    }

    /// Removes the files of every save that never wrote its metadata whose
    /// files are all older than `grace` (repair and gc); `removed` and
    /// `kept` say which.
    pub(super) fn remove_interrupted_saves(&self, grace: Duration) -> Result<RepairReport> {
        let mut report = RepairReport::default();
        for (version, files) in &self.scan_versions()?.incomplete {
            self.remove_interrupted_save(version, files, grace, &mut report)?;
        }
        Ok(report)
    }

    /// Removes the files of one save that never wrote its metadata, if every
    /// one of them is older than `grace`; otherwise keeps them all.
    fn remove_interrupted_save(
        &self,
        version: &ModelVersion,
        files: &[String],
        grace: Duration,
        report: &mut RepairReport,
    ) -> Result<()> {
        let keys: Vec<String> = files.iter().map(|f| self.keys.version_file(version, f)).collect();
        for key in &keys {
            let old_enough = match self.store.age(key) {
                Ok(Some(age)) => age >= grace,
                Ok(None) => false,
                // Gone already: its save finished or someone removed it.
                Err(StoreError::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            if !old_enough {
                report.kept.extend(keys.iter().map(|k| self.store.location(k)));
                return Ok(());
            }
        }
        // Re-checked just before deleting: a save that committed meanwhile
        // (its metadata appeared) is complete and is left alone.
        if self.store.read(&self.keys.metadata(version)).is_ok() {
            return Ok(());
        }
        for key in &keys {
            match self.store.delete(key) {
                Ok(()) | Err(StoreError::NotFound { .. }) => report.removed.push(self.store.location(key)),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
