//! The catalog: one derived document summarising every version of a model
//! (scores, data, tags, type), so that listing 10,000 versions reads one
//! object instead of 10,000 (one GET instead of one per version on S3).
//!
//! Like git's packed-refs, it is never the source of truth. Each save,
//! after committing and moving `latest`, folds into the catalog by
//! compare-and-swap every complete version it lacks (its own, and any a
//! crashed or older writer left out). A reader trusts the catalog only if
//! it holds the version `latest` names, with the same metadata digest (one
//! more small read): a save that died after moving `latest` but before
//! updating the catalog, or a build that does not keep one, fails that
//! check, and the reader lists the versions and reads the metadata of any
//! the catalog lacks instead. What the check cannot see is a save that
//! died before moving `latest` (or a pre-release): `verify` reports it,
//! and the next save or `verify --repair` folds it in. `verify` compares
//! the catalog with every version's metadata; `--repair` rebuilds it.

use super::Registry;
use crate::error::{RegistryError, Result};
use crate::metadata::{DataFingerprint, FORMAT_VERSION, ModelMetadata, parse_versioned};
use crate::names::ModelVersion;
use crate::store::{Pointer, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The largest catalog read: ~300 bytes a version, so room for 100,000+.
const MAX_CATALOG_BYTES: u64 = crate::store::MAX_LARGE_POINTER_BYTES;

/// How often a save retries folding its version into a catalog that others
/// are updating at the same moment before leaving it to readers.
const CATALOG_RETRIES: usize = 16;

/// What listing needs to know about one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogRow {
    pub version: ModelVersion,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// Ties the row to the metadata it was made from.
    pub metadata_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv_score: Option<f64>,
    /// The numeric metrics (lists and tables stay in the metadata).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataFingerprint>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub files: usize,
    pub size: u64,
}

impl CatalogRow {
    pub fn of(md: &ModelMetadata) -> CatalogRow {
        CatalogRow {
            version: md.version.clone(),
            timestamp: md.timestamp,
            metadata_sha256: md.metadata_sha256.clone(),
            model_type: md.info.model_type.clone(),
            test_score: md.info.test_score,
            cv_score: md.info.cv_score,
            metrics: md
                .info
                .metrics
                .iter()
                .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
                .collect(),
            data: md.info.lineage.data.clone(),
            tags: md.info.tags.clone(),
            files: md.stored_files().len(),
            size: md.total_size(),
        }
    }
}

/// `catalog.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CatalogDoc {
    format_version: u32,
    rows: Vec<CatalogRow>,
}

/// A version's row, or why its metadata could not be read (listing shows
/// the damage instead of hiding the version).
pub type CatalogEntry = std::result::Result<CatalogRow, (ModelVersion, String)>;

impl<S: Store> Registry<S> {
    /// The catalog's rows and the tag of the state read (for a writer's
    /// compare-and-swap).
    fn read_catalog(&self) -> Result<Option<(Vec<CatalogRow>, Pointer)>> {
        let key = self.keys.catalog();
        let Some(pointer) = self.store.read_pointer_limited(&key, MAX_CATALOG_BYTES)? else {
            return Ok(None);
        };
        let rows = self.parse_catalog(&pointer.bytes)?;
        Ok(Some((rows, pointer)))
    }

    /// The catalog's rows, for readers: without the state's tag, which a
    /// store that tags by content would digest the whole catalog for.
    fn read_catalog_rows(&self) -> Result<Option<Vec<CatalogRow>>> {
        match self.store.read_limited(&self.keys.catalog(), MAX_CATALOG_BYTES) {
            Ok(bytes) => self.parse_catalog(&bytes).map(Some),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn parse_catalog(&self, bytes: &[u8]) -> Result<Vec<CatalogRow>> {
        let key = self.keys.catalog();
        let location = self.store.location(&key);
        // Parsed straight into rows: going through a JSON value first took
        // three times as long for 10,000 rows. The format is checked after,
        // from the parsed number (a newer catalog that does not parse is
        // ignored by readers just the same).
        let doc: CatalogDoc = match serde_json::from_slice(bytes) {
            Ok(doc) => doc,
            Err(e) => {
                // For the message: a newer format, or what is wrong where.
                parse_versioned(bytes, &location)?;
                return Err(RegistryError::InvalidMetadata {
                    location,
                    reason: e.to_string(),
                });
            }
        };
        if doc.format_version > FORMAT_VERSION {
            return Err(RegistryError::UnsupportedFormat {
                location,
                found: doc.format_version,
                supported: FORMAT_VERSION,
            });
        }
        Ok(doc.rows)
    }

    /// Every complete version's row, oldest first: the catalog's rows for
    /// the versions that exist, and the metadata of any it lacks. A catalog
    /// that cannot be read is ignored (it is derived); a version whose
    /// metadata cannot be read is an `Err` entry.
    pub fn catalog(&self) -> Result<Vec<CatalogEntry>> {
        let rows = match self.read_catalog_rows() {
            Ok(Some(rows)) => rows,
            Ok(None) | Err(RegistryError::InvalidMetadata { .. }) | Err(RegistryError::UnsupportedFormat { .. }) => {
                Vec::new()
            }
            Err(RegistryError::Store(StoreError::TooLarge { .. })) => Vec::new(),
            Err(e) => return Err(e),
        };
        // An unreadable `latest` (damaged, a FIFO) only means the catalog
        // is not trusted: listing still works, `verify` reports it.
        if let Ok(Some((latest, _))) = self.read_alias_pointer(&crate::names::AliasName::latest())
            && latest.action != crate::metadata::AliasAction::Delete
            && rows
                .binary_search_by(|r| r.version.cmp(&latest.version))
                .is_ok_and(|at| rows[at].metadata_sha256 == latest.metadata_sha256)
            && rows.windows(2).all(|w| w[0].version < w[1].version)
        {
            return Ok(rows.into_iter().map(Ok).collect());
        }
        let mut known: BTreeMap<ModelVersion, CatalogRow> = rows.into_iter().map(|r| (r.version.clone(), r)).collect();
        Ok(self
            .list_versions()?
            .into_iter()
            .map(|v| match known.remove(&v) {
                Some(row) => Ok(row),
                None => self
                    .metadata_unchecked(&v)
                    .map(|md| CatalogRow::of(&md))
                    .map_err(|e| (v, e.to_string())),
            })
            .collect())
    }

    /// Folds every complete version the catalog lacks into it (after a
    /// save: its own, and any a crashed or older writer left out). Best
    /// effort: the versions are complete whatever happens here, and readers
    /// fill a missing row. Costs one listing, which the save already paid
    /// for when it chose its version.
    pub(super) fn update_catalog(&self) {
        for _ in 0..CATALOG_RETRIES {
            let Ok(current) = self.read_catalog() else { return };
            let Ok(versions) = self.list_versions() else { return };
            let (rows, tag) = match current {
                Some((rows, pointer)) => (rows, Some(pointer.tag)),
                None => (Vec::new(), None),
            };
            let mut known: BTreeMap<ModelVersion, CatalogRow> =
                rows.into_iter().map(|r| (r.version.clone(), r)).collect();
            let mut added = false;
            for v in versions {
                if !known.contains_key(&v)
                    && let Ok(md) = self.metadata_unchecked(&v)
                {
                    known.insert(v, CatalogRow::of(&md));
                    added = true;
                }
            }
            if !added {
                return;
            }
            match self.write_catalog(known.into_values().collect(), tag.as_ref()) {
                Err(RegistryError::Store(StoreError::Conflict { .. })) => continue,
                _ => return,
            }
        }
    }

    fn write_catalog(&self, rows: Vec<CatalogRow>, expected: Option<&crate::store::PointerTag>) -> Result<()> {
        let doc = CatalogDoc {
            format_version: FORMAT_VERSION,
            rows,
        };
        let bytes = serde_json::to_vec(&doc).map_err(|e| RegistryError::Encode {
            version: "catalog".into(),
            reason: e.to_string(),
        })?;
        self.store.swap_pointer(&self.keys.catalog(), expected, &bytes)?;
        Ok(())
    }

    /// The rows the catalog should hold, made from every readable version's
    /// metadata.
    fn rebuilt_rows(&self) -> Result<Vec<CatalogRow>> {
        let mut rows = Vec::new();
        for v in self.list_versions()? {
            if let Ok(md) = self.metadata_unchecked(&v) {
                rows.push(CatalogRow::of(&md));
            }
        }
        Ok(rows)
    }

    /// Why the catalog differs from `want` (the rows of every readable
    /// version), if it does: for `verify`. A missing catalog is not a
    /// difference.
    pub(super) fn catalog_drift(&self, want: Vec<CatalogRow>) -> Result<Option<String>> {
        let stored = match self.read_catalog_rows() {
            Ok(Some(rows)) => rows,
            Ok(None) => return Ok(None),
            Err(e) => return Ok(Some(e.to_string())),
        };
        if stored == want {
            return Ok(None);
        }
        let stored: BTreeMap<_, _> = stored.iter().map(|r| (&r.version, r)).collect();
        let missing = want.iter().filter(|r| !stored.contains_key(&r.version)).count();
        let differing = want
            .iter()
            .filter(|r| stored.get(&r.version).is_some_and(|s| *s != *r))
            .count();
        let extra = stored.len() + missing - want.len();
        Ok(Some(format!(
            "the catalog lacks {missing} version(s), differs on {differing} and lists {extra} that do not exist"
        )))
    }

    /// Whether the catalog lists other versions than exist (or cannot be
    /// read): a check of names only, for `repair`, which rebuilds it then.
    /// Rows that differ from their metadata are `verify`'s to find (it
    /// reads every metadata anyway); `verify --repair` rebuilds then too.
    pub(super) fn catalog_incomplete(&self) -> Result<bool> {
        let rows = match self.read_catalog_rows() {
            Ok(Some(rows)) => rows,
            Ok(None) => return Ok(!self.list_versions()?.is_empty()),
            Err(_) => return Ok(true),
        };
        let listed = self.list_versions()?;
        Ok(rows.len() != listed.len() || rows.iter().zip(&listed).any(|(r, v)| r.version != *v))
    }

    /// Rewrites the catalog from every version's metadata (`verify
    /// --repair`). Safe beside saves: a compare-and-swap like theirs.
    pub fn rebuild_catalog(&self) -> Result<()> {
        for _ in 0..CATALOG_RETRIES {
            let tag = match self.read_catalog() {
                Ok(Some((_, pointer))) => Some(pointer.tag),
                Ok(None) => None,
                // Unreadable (damaged, too large, garbage): it is derived,
                // so it is replaced rather than repaired.
                Err(_) => {
                    let _ = self.store.delete(&self.keys.catalog());
                    None
                }
            };
            match self.write_catalog(self.rebuilt_rows()?, tag.as_ref()) {
                Err(RegistryError::Store(StoreError::Conflict { .. })) => continue,
                other => return other,
            }
        }
        Ok(())
    }
}
