//! Copying a registry to another store (local to S3,
//! S3 to local, one bucket to another).
//!
//! Versions are copied as they are, both files byte for byte (never
//! re-encoded, so fields this build does not know survive), so a copy
//! answers "which model is this?" exactly as the original does. Every model
//! is checked three times: against its digest when read from FROM, before it
//! is written to TO, and read back from TO afterwards. Nothing in TO is ever
//! replaced: a version that exists in both with different contents is
//! reported and left alone. Aliases other than `latest` (which follows the
//! newest version by itself) are copied only when asked, since moving
//! `production` is a decision, not a side effect.

use crate::error::{RegistryError, Result};
use crate::names::{AliasName, ModelVersion};
use crate::registry::{Expect, Registry};
use crate::store::Store;
use serde::Serialize;

/// What [`copy`] did.
#[derive(Debug, Default, Serialize)]
pub struct CopyReport {
    pub copied: Vec<ModelVersion>,
    /// Already in TO, identical.
    pub present: Vec<ModelVersion>,
    /// In both, with different contents: left alone.
    pub conflicting: Vec<ModelVersion>,
    /// Damaged in FROM (a digest mismatch, invalid metadata, a file that is
    /// not a regular one, ...): not copied, with the reason.
    pub damaged: Vec<(ModelVersion, String)>,
    /// Versions deleted in FROM, left out.
    pub deleted: Vec<ModelVersion>,
    /// Aliases moved in TO: (alias, from, to).
    pub aliases_moved: Vec<(String, Option<ModelVersion>, ModelVersion)>,
}

/// Copies every version of `from` into `to` (see the module docs); with
/// `with_aliases`, also points `to`'s aliases where `from`'s point.
pub fn copy<A: Store, B: Store>(from: &Registry<A>, to: &Registry<B>, with_aliases: bool) -> Result<CopyReport> {
    let mut report = CopyReport::default();
    let deleted = from.deleted_versions()?;
    for version in from.list_versions()? {
        // A deleted version is not copied: it is on its way out.
        if deleted.contains_key(&version) {
            report.deleted.push(version);
            continue;
        }
        // A damaged source version is reported and skipped: the healthy
        // ones are still copied.
        // Streamed store to store; the copy is checked against every
        // recorded digest before its commit point, then its metadata is
        // read back.
        match to.import_from(from, &version) {
            Ok(true) => {
                let source = from.metadata(&version)?.metadata_sha256;
                let back = to.metadata(&version)?.metadata_sha256;
                if back != source {
                    return Err(RegistryError::IntegrityMismatch {
                        location: to.version_location(&version),
                        what: "copy read back (metadata sha256)",
                        expected: source,
                        actual: back,
                    });
                }
                report.copied.push(version);
            }
            Ok(false) => report.present.push(version),
            Err(RegistryError::VersionExists { .. }) => report.conflicting.push(version),
            // A damaged source version is reported and skipped: the healthy
            // ones are still copied.
            Err(e @ (RegistryError::IntegrityMismatch { .. } | RegistryError::InvalidMetadata { .. })) => {
                report.damaged.push((version, e.to_string()))
            }
            Err(e @ RegistryError::Store(_)) if !is_damage(&e) => return Err(e),
            Err(e @ RegistryError::Store(_)) => report.damaged.push((version, e.to_string())),
            Err(e) => return Err(e),
        }
    }
    if with_aliases {
        for record in from.list_aliases()? {
            let skipped = report.conflicting.contains(&record.version)
                || report.damaged.iter().any(|(v, _)| *v == record.version);
            if record.alias == AliasName::latest() || skipped {
                continue;
            }
            let current = match to.resolve(&record.alias) {
                Ok(r) => Some(r.version),
                Err(RegistryError::AliasNotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            if current.as_ref() == Some(&record.version) {
                continue;
            }
            let expect = match &current {
                Some(v) => Expect::Version(v.clone()),
                None => Expect::Nothing,
            };
            to.set_alias(&record.alias, &record.version, expect)?;
            report
                .aliases_moved
                .push((record.alias.to_string(), current, record.version));
        }
    }
    Ok(report)
}

/// Whether a store error reading a version means the version is damaged
/// (skip it) rather than that the store cannot be read (stop).
fn is_damage(e: &RegistryError) -> bool {
    use crate::store::StoreError;
    matches!(
        e,
        RegistryError::Store(StoreError::NotFound { .. } | StoreError::Unsafe { .. } | StoreError::TooLarge { .. })
    )
}
