//! Copying a registry to another store (local to S3,
//! S3 to local, one bucket to another).
//!
//! Versions are copied as they are, metadata byte for byte, so a copy
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
    /// Aliases moved in TO: (alias, from, to).
    pub aliases_moved: Vec<(String, Option<ModelVersion>, ModelVersion)>,
}

/// Copies every version of `from` into `to` (see the module docs); with
/// `with_aliases`, also points `to`'s aliases where `from`'s point.
pub fn copy<A: Store, B: Store>(from: &Registry<A>, to: &Registry<B>, with_aliases: bool) -> Result<CopyReport> {
    let mut report = CopyReport::default();
    for version in from.list_versions()? {
        let loaded = from.load_artifact(&version)?;
        match to.import_version(&loaded) {
            Ok(true) => {
                let back = to.load_artifact(&version)?;
                if back.bytes != loaded.bytes || back.metadata != loaded.metadata {
                    return Err(RegistryError::IntegrityMismatch {
                        location: to.version_location(&version),
                        what: "copy read back",
                        expected: loaded.metadata.artifact.sha256.clone(),
                        actual: back.metadata.artifact.sha256,
                    });
                }
                report.copied.push(version);
            }
            Ok(false) => report.present.push(version),
            Err(RegistryError::VersionExists { .. }) => report.conflicting.push(version),
            Err(e) => return Err(e),
        }
    }
    if with_aliases {
        for record in from.list_aliases()? {
            if record.alias == AliasName::latest() || report.conflicting.contains(&record.version) {
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
