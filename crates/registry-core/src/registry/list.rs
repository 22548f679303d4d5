//! Listing versions, and choosing the next one.

use super::Registry;
use super::keys;
use crate::error::Result;
use crate::names::{Bump, ModelVersion};
use crate::store::Store;
use std::collections::BTreeMap;

/// What `versions/` holds: complete versions (with metadata), interrupted
/// saves (files without metadata) and names that are not versions.
#[derive(Default)]
pub(super) struct VersionScan {
    pub complete: Vec<ModelVersion>,
    pub incomplete: Vec<(ModelVersion, Vec<String>)>,
    pub stray: Vec<String>,
}

impl<S: Store> Registry<S> {
    /// All complete versions, in semver precedence order (oldest first).
    /// Interrupted saves are not listed.
    pub fn list_versions(&self) -> Result<Vec<ModelVersion>> {
        let mut versions: Vec<ModelVersion> = self
            .store
            .list_groups(&self.keys.versions(), Some(keys::METADATA_FILE))?
            .iter()
            .filter_map(|g| g.parse().ok())
            .collect();
        versions.sort();
        Ok(versions)
    }

    pub(super) fn scan_versions(&self) -> Result<VersionScan> {
        let mut scan = VersionScan::default();
        let mut seen_files: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let listed = self.store.list(&self.keys.versions())?;
        for key in &listed {
            let rest = &key[self.keys.versions().len()..];
            let (dir, file) = rest.split_once('/').unwrap_or((rest, ""));
            seen_files.entry(dir).or_default().push(file);
        }
        for (dir, files) in seen_files {
            match dir.parse::<ModelVersion>() {
                Ok(v) if files.contains(&keys::METADATA_FILE) => scan.complete.push(v),
                Ok(v) => scan.incomplete.push((v, files.iter().map(|f| f.to_string()).collect())),
                Err(_) => scan.stray.push(format!("{}{dir}", &self.keys.versions())),
            }
        }
        scan.complete.sort();
        scan.incomplete.sort();
        Ok(scan)
    }

    /// The version after the highest one ever started (interrupted saves
    /// and versions gc removed count, so a version number is never
    /// reused), or `1.0.0`.
    pub fn next_version(&self, bump: Bump) -> Result<ModelVersion> {
        let scan = self.scan_versions()?;
        // Versions gc removed count too (their deletion records stay).
        let collected = self.ever_deleted()?;
        let highest = scan
            .complete
            .iter()
            .chain(scan.incomplete.iter().map(|(v, _)| v))
            .chain(&collected)
            .max();
        Ok(match highest {
            Some(v) => v.bumped(bump),
            None => ModelVersion::new(1, 0, 0),
        })
    }
}
