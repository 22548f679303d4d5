//! `verify`: re-checks every version, alias and history entry, and reports
//! damage (problems) apart from the harmless remains of interrupted saves
//! (leftovers). It only reads.

use super::CatalogRow;
use super::Registry;
use super::keys;
use super::list::VersionScan;
use crate::error::Result;
use crate::metadata::{AliasRecord, from_map, parse_versioned};
use crate::names::{AliasName, ModelVersion};
use crate::store::Store;
use serde::Serialize;
use std::collections::BTreeMap;

/// One thing `verify` found, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub location: String,
    pub message: String,
}

/// The result of [`Registry::verify`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub versions_checked: usize,
    pub aliases_checked: usize,
    /// Damage: a changed or missing file, a dangling alias. Never expected.
    pub problems: Vec<Finding>,
    /// Remains of interrupted saves and moves: harmless, ignored by reads,
    /// removed by [`Registry::repair`].
    pub leftovers: Vec<Finding>,
    /// The catalog differs from the versions (one of the leftovers):
    /// [`Registry::rebuild_catalog`] rewrites it.
    pub catalog_stale: bool,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub(super) fn problem(&mut self, location: String, message: impl Into<String>) {
        self.problems.push(Finding {
            location,
            message: message.into(),
        });
    }

    pub(super) fn leftover(&mut self, location: String, message: impl Into<String>) {
        self.leftovers.push(Finding {
            location,
            message: message.into(),
        });
    }
}

/// The metadata digest of every version that verified.
type Verified = BTreeMap<ModelVersion, String>;

impl<S: Store> Registry<S> {
    /// Re-checks every version (metadata digest, model size and every
    /// recorded digest), every alias and every history entry. Reads only;
    /// see [`Registry::repair`].
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        self.check_marker()?;
        let scan = self.scan_versions()?;
        let (mut verified, rows) = self.check_versions(&scan, &mut report);
        self.check_interrupted_saves(&scan, &mut report);
        self.check_deletions(&scan, &mut report)?;
        self.check_events(&scan.complete, &mut report)?;
        self.check_stray_names(&scan, &mut report);
        self.check_aliases(&scan, &mut verified, &mut report)?;
        self.check_history(&mut report)?;
        let drift = self.catalog_drift(&rows)?;
        let location = self.store.location(&self.keys.catalog());
        if let Some(lies) = drift.lies() {
            report.catalog_stale = true;
            report.problem(
                location.clone(),
                format!("the catalog lies: {lies} (listing goes by the catalog, so it showed them; `verify --repair` rebuilds it from the metadata)"),
            );
        }
        if let Some(lag) = drift.lag() {
            report.catalog_stale = true;
            report.leftover(
                location,
                format!("{lag} (the catalog is derived and only speeds up listing; readers go around it; `verify --repair` rebuilds it)"),
            );
        }
        Ok(report)
    }

    /// Every complete version: its metadata, then its model against every
    /// digest the metadata records.
    /// Also returns the catalog rows the verified metadata makes, for the
    /// catalog check (so no metadata is read twice).
    fn check_versions(&self, scan: &VersionScan, report: &mut VerifyReport) -> (Verified, Vec<CatalogRow>) {
        let mut verified = Verified::new();
        let mut rows = Vec::new();
        for version in &scan.complete {
            report.versions_checked += 1;
            match self.verify_version_metadata(version) {
                Ok(metadata) => {
                    rows.push(CatalogRow::of(&metadata));
                    verified.insert(version.clone(), metadata.metadata_sha256);
                }
                Err(e) => report.problem(self.store.location(&self.keys.version_prefix(version)), e.to_string()),
            }
        }
        (verified, rows)
    }

    /// One version's metadata and files, every digest checked, and its
    /// artifact (if any) validated as its model type; its metadata digest
    /// if all is well.
    fn verify_version(&self, version: &ModelVersion) -> Result<String> {
        Ok(self.verify_version_metadata(version)?.metadata_sha256)
    }

    fn verify_version_metadata(&self, version: &ModelVersion) -> Result<crate::metadata::ModelMetadata> {
        // A deleted version is still checked: its bytes stay until gc.
        let metadata = self.read_metadata_kept(version)?.1;
        self.check_content(&metadata, true)?;
        Ok(metadata)
    }

    fn check_interrupted_saves(&self, scan: &VersionScan, report: &mut VerifyReport) {
        for (version, files) in &scan.incomplete {
            let collecting = self.deletion(version).ok().flatten().is_some_and(|r| r.is_collected());
            let what = if collecting {
                "interrupted gc of deleted version"
            } else {
                "interrupted save of version"
            };
            let fix = if collecting {
                "`registry gc` finishes it"
            } else {
                "`verify --repair` removes it"
            };
            report.leftover(
                self.store.location(&self.keys.version_prefix(version)),
                format!(
                    "{what} {version}: {} without metadata.json (not listed; {fix})",
                    files.join(", ")
                ),
            );
        }
    }

    /// Every deleted version still has its files until gc claims them: a
    /// deleted version gone without gc's record was removed by other hands.
    /// One gc removed is expected, not damage.
    fn check_deletions(&self, scan: &VersionScan, report: &mut VerifyReport) -> Result<()> {
        for (version, record) in self.deleted_versions()? {
            if record.is_collected() || scan.complete.contains(&version) {
                continue;
            }
            // Saved after the listing? Or claimed by a gc meanwhile (its
            // claim comes before it removes anything, so a look at the
            // record after the metadata's absence settles it)?
            let present = self.store.read(&self.keys.metadata(&version)).is_ok();
            if present || self.deletion(&version)?.is_none_or(|r| r.is_collected()) {
                continue;
            }
            report.problem(
                self.store.location(&self.keys.version_prefix(&version)),
                format!(
                    "version {version} is deleted but its files are missing, and gc did not remove them (removed by hand?); nothing can restore it: `registry undelete` will fail"
                ),
            );
        }
        Ok(())
    }

    fn check_stray_names(&self, scan: &VersionScan, report: &mut VerifyReport) {
        for stray in &scan.stray {
            report.problem(
                self.store.location(stray),
                "not a valid version directory name (move it out of versions/)",
            );
        }
    }

    /// Every alias pointer: well-formed, naming a version that verified,
    /// with that version's metadata digest; and `latest` up to date.
    fn check_aliases(&self, scan: &VersionScan, verified: &mut Verified, report: &mut VerifyReport) -> Result<()> {
        let mut latest_seen = false;
        for key in self.store.list(&self.keys.aliases())? {
            let location = self.store.location(&key);
            let Some(alias) = self.keys.alias_of(&key) else {
                report.problem(
                    location,
                    "not an alias pointer (expected aliases/<name>.json); move it away",
                );
                continue;
            };
            report.aliases_checked += 1;
            match self.read_alias_pointer(&alias) {
                Ok(Some((record, _))) => {
                    // The versions were listed before the aliases were read:
                    // a version saved and promoted in between is checked now,
                    // not reported missing.
                    if !verified.contains_key(&record.version)
                        && let Ok(digest) = self.verify_version(&record.version)
                    {
                        verified.insert(record.version.clone(), digest);
                    }
                    check_alias_target(&record, verified, &location, report);
                    if alias.is_latest() {
                        latest_seen = true;
                        self.check_latest(&record, scan, report)?;
                    }
                }
                Ok(None) => {}
                Err(e) => report.problem(location, e.to_string()),
            }
        }
        if !latest_seen {
            // Not listed is not absent: the store lists regular files only,
            // so something else where the pointer belongs (a FIFO, a device)
            // is read by name, refused, and reported as damage.
            let latest = AliasName::latest();
            if let Err(e) = self.read_alias_pointer(&latest) {
                report.problem(self.store.location(&self.keys.alias(&latest)), e.to_string());
                latest_seen = true;
            }
        }
        if !latest_seen && self.newest_live_release(&scan.complete)?.is_some() {
            report.leftover(
                self.store.location(&self.keys.alias(&AliasName::latest())),
                "versions exist but latest was never set (a first save was interrupted; `verify --repair` sets it)",
            );
        }
        Ok(())
    }

    /// `latest` names the newest complete version, and the `latest/` view
    /// (where the store keeps one) shows it.
    fn check_latest(&self, record: &AliasRecord, scan: &VersionScan, report: &mut VerifyReport) -> Result<()> {
        let latest = AliasName::latest();
        if let Some(newest) = self.newest_live_release(&scan.complete)?
            && *newest > record.version
        {
            report.leftover(
                self.store.location(&self.keys.alias(&latest)),
                format!(
                    "latest names {} but {newest} is newer (a save was interrupted before moving latest; `verify --repair` moves it)",
                    record.version
                ),
            );
        }
        let view = self.store.read_view(&self.keys.latest_view())?;
        let want = self.keys.version_dir(&record.version);
        if let Some(view) = view
            && view != want
        {
            report.leftover(
                self.store.location(latest.as_str()),
                format!("the latest/ view shows {view} instead of {want} (`verify --repair` refreshes it)"),
            );
        }
        Ok(())
    }

    /// Every history entry parses as an alias record.
    fn check_history(&self, report: &mut VerifyReport) -> Result<()> {
        for key in self.store.list(&self.keys.history_root())? {
            let location = self.store.location(&key);
            let parsed = self
                .store
                .read_limited(&key, keys::MAX_SMALL_DOCUMENT_BYTES)
                .map_err(Into::into)
                .and_then(|bytes| {
                    parse_versioned(&bytes, &location).and_then(|m| from_map::<AliasRecord>(m, &location))
                });
            if let Err(e) = parsed {
                report.problem(location, e.to_string());
            }
        }
        Ok(())
    }
}

/// The alias names a version that verified, and records its metadata digest.
fn check_alias_target(record: &AliasRecord, verified: &Verified, location: &str, report: &mut VerifyReport) {
    let alias = &record.alias;
    match verified.get(&record.version) {
        None => report.problem(
            location.to_string(),
            format!(
                "alias {alias} points to version {}, which is missing or damaged",
                record.version
            ),
        ),
        Some(digest) if *digest != record.metadata_sha256 => report.problem(
            location.to_string(),
            format!(
                "alias {alias} recorded metadata sha256 {} for version {}, but it is now {digest}",
                record.metadata_sha256, record.version
            ),
        ),
        Some(_) => {}
    }
}
