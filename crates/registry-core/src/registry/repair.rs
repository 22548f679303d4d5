//! `repair`: removes what interrupted saves left and moves `latest` to the
//! newest complete version.

use super::Registry;
use super::keys;
use crate::error::Result;
use crate::metadata::AliasAction;
use crate::names::{AliasName, ModelVersion};
use crate::store::{Store, StoreError};
use serde::Serialize;

/// What [`Registry::repair`] changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairReport {
    pub removed: Vec<String>,
    pub latest_moved_to: Option<ModelVersion>,
}

impl<S: Store> Registry<S> {
    /// Removes what interrupted saves left (temporary files, versions without
    /// metadata) and moves `latest` forward to the newest complete version.
    /// Never deletes or rewrites a complete version. Run it when no save is
    /// in progress: a save that has written its model but not yet its
    /// metadata looks exactly like an interrupted one.
    pub fn repair(&self) -> Result<RepairReport> {
        let mut report = RepairReport {
            removed: self.store.remove_leftovers()?,
            ..RepairReport::default()
        };
        let scan = self.scan_versions()?;
        for (version, files) in &scan.incomplete {
            for file in files {
                let key = keys::version_file(version, file);
                match self.store.delete(&key) {
                    Ok(()) | Err(StoreError::NotFound { .. }) => report.removed.push(self.store.location(&key)),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if let Some(newest) = scan.complete.last() {
            let current = self.read_alias_pointer(&AliasName::latest())?;
            if current.as_ref().is_none_or(|(r, _)| r.version < *newest) {
                let metadata = self.metadata(newest)?;
                self.advance_latest(&metadata, AliasAction::Repair)?;
                report.latest_moved_to = Some(newest.clone());
            } else {
                self.refresh_latest_view()?;
            }
        }
        Ok(report)
    }
}
