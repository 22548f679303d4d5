//! The catalog: a derived summary of every version of a model (scores,
//! data, tags, type), so that listing 10,000 versions reads a few objects
//! instead of 10,000 metadata files (one GET instead of one per version on
//! S3).
//!
//! Like git's packed-refs and loose refs, it has two parts, and neither is
//! the source of truth:
//!
//! * `catalog.d/<version>.json`, one row written by each save (created,
//!   never rewritten): a save costs the same whatever the number of
//!   versions;
//! * `catalog.json`, the rows folded together (compacted) by the save that
//!   finds [`COMPACT_AT`] segments, which then deletes the segments it
//!   folded.
//!
//! Readers merge both and hold them against the version listing: a row for
//! a version that does not exist is dropped, a version without a row is
//! read from its metadata, and `latest`'s row is compared with `latest`'s
//! metadata (one more small read) — if it differs, nothing in the catalog
//! is trusted and every version's metadata is read. A handle that checks
//! signatures never uses the catalog: the rows are not signed, the
//! metadata is. In an unsigned registry the rows are as trustworthy as the
//! metadata they summarise (whoever can rewrite one can re-seal the
//! other); `verify` compares every row with its version's sealed metadata
//! and reports any difference or phantom as damage, and `verify --repair`
//! rebuilds the catalog. Segment writing and compaction are in
//! `catalog_write.rs`.

use super::Registry;
use crate::error::{RegistryError, Result};
use crate::metadata::{DataFingerprint, FORMAT_VERSION, ModelMetadata, parse_versioned};
use crate::names::ModelVersion;
use crate::store::{Pointer, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The largest catalog read: ~300 bytes a version, so room for 100,000+.
pub(super) const MAX_CATALOG_BYTES: u64 = crate::store::MAX_LARGE_POINTER_BYTES;

/// The largest segment read (one row).
pub(super) const MAX_SEGMENT_BYTES: u64 = super::keys::MAX_METADATA_BYTES;

/// Segments past which a save compacts them into `catalog.json`: a reader
/// reads at most about this many small objects besides the catalog, and a
/// save pays for rewriting the catalog once every this many saves.
pub const COMPACT_AT: usize = 256;

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
pub(super) struct CatalogDoc {
    pub(super) format_version: u32,
    pub(super) rows: Vec<CatalogRow>,
}

/// A version's row, or why its metadata could not be read (listing shows
/// the damage instead of hiding the version).
pub type CatalogEntry = std::result::Result<CatalogRow, (ModelVersion, String)>;

/// The catalog as stored: `catalog.json` and the segments, merged.
#[derive(Debug, Default)]
pub(super) struct StoredCatalog {
    /// By version; a segment's row replaces the base's.
    pub(super) rows: BTreeMap<ModelVersion, CatalogRow>,
    /// The segment keys read (to delete once folded).
    pub(super) segments: Vec<String>,
    /// `catalog.json`'s state, for a compare-and-swap (`None`: absent).
    pub(super) base: Option<Pointer>,
    /// What could not be read: `catalog.json` or a segment, and why.
    pub(super) unreadable: Vec<(String, String)>,
}

impl<S: Store> Registry<S> {
    pub(super) fn parse_catalog(&self, bytes: &[u8]) -> Result<Vec<CatalogRow>> {
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

    /// `catalog.json` and every segment. With `tagged`, the base is read as
    /// a pointer (its state's tag, for a writer's compare-and-swap; a store
    /// that tags by content digests it). What cannot be read is noted and
    /// skipped: the catalog is derived. Only a failing listing or read of
    /// the store itself is an error.
    pub(super) fn read_stored_catalog(&self, tagged: bool) -> Result<StoredCatalog> {
        let (base_rows, segment_rows, mut stored) = self.read_catalog_parts(tagged)?;
        stored.rows = base_rows.into_iter().map(|r| (r.version.clone(), r)).collect();
        stored.rows.extend(segment_rows);
        Ok(stored)
    }

    /// `catalog.json`'s rows (sorted by version, one per version) and the
    /// segments' rows, apart; `StoredCatalog` with everything but `rows`.
    fn read_catalog_parts(
        &self,
        tagged: bool,
    ) -> Result<(Vec<CatalogRow>, BTreeMap<ModelVersion, CatalogRow>, StoredCatalog)> {
        let mut stored = StoredCatalog::default();
        let mut base_rows = Vec::new();
        let mut segment_rows = BTreeMap::new();
        let key = self.keys.catalog();
        let base = if tagged {
            self.store
                .read_pointer_limited(&key, MAX_CATALOG_BYTES)
                .map(|p| p.map(|p| (p.bytes.clone(), Some(p))))
        } else {
            match self.store.read_limited(&key, MAX_CATALOG_BYTES) {
                Ok(bytes) => Ok(Some((bytes, None))),
                Err(StoreError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        };
        match base {
            Ok(Some((bytes, pointer))) => {
                stored.base = pointer;
                match self.parse_catalog(&bytes) {
                    Ok(mut rows) => {
                        // Written sorted; a hand-edited one may not be.
                        if !rows.windows(2).all(|w| w[0].version < w[1].version) {
                            rows.sort_by(|a, b| a.version.cmp(&b.version));
                            rows.dedup_by(|a, b| a.version == b.version);
                        }
                        base_rows = rows;
                    }
                    Err(e) => stored.unreadable.push((self.store.location(&key), e.to_string())),
                }
            }
            Ok(None) => {}
            Err(e @ (StoreError::TooLarge { .. } | StoreError::Unsafe { .. })) => {
                stored.unreadable.push((self.store.location(&key), e.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
        let prefix = self.keys.catalog_segments();
        for key in self.store.list(&prefix)? {
            let location = self.store.location(&key);
            match self.read_segment(&key) {
                Ok(row) => {
                    segment_rows.insert(row.version.clone(), row);
                }
                Err(reason) => stored.unreadable.push((location, reason)),
            }
            stored.segments.push(key);
        }
        Ok((base_rows, segment_rows, stored))
    }

    /// One segment's row: named after its version, and holding that
    /// version's row.
    fn read_segment(&self, key: &str) -> std::result::Result<CatalogRow, String> {
        let named: ModelVersion = key
            .strip_prefix(&self.keys.catalog_segments())
            .and_then(|name| name.strip_suffix(".json"))
            .and_then(|v| v.parse().ok())
            .ok_or("not named <version>.json")?;
        let bytes = self
            .store
            .read_limited(key, MAX_SEGMENT_BYTES)
            .map_err(|e| e.to_string())?;
        let row: CatalogRow = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if row.version != named {
            return Err(format!("it holds the row of version {}", row.version));
        }
        Ok(row)
    }

    /// Every complete version's row, oldest first: the catalog's rows for
    /// the versions that exist, and the metadata of any it lacks (or of
    /// every version, if `latest`'s row differs from `latest`'s metadata,
    /// or this handle checks signatures). A version whose metadata cannot
    /// be read is an `Err` entry.
    pub fn catalog(&self) -> Result<Vec<CatalogEntry>> {
        // The complete versions (one directory read and one look for each
        // one's metadata.json: on a local disk cheaper than looking into
        // every directory for any file).
        let mut listed = self.list_versions()?;
        // Deleted versions are not in the catalog (their rows stay in the
        // stored one until gc, so undelete needs no rewrite).
        let deleted = self.deleted_versions()?;
        listed.retain(|v| !deleted.contains_key(v));
        let (mut base, mut segments) = if self.checks_signatures() {
            (Vec::new(), BTreeMap::new())
        } else {
            let (base, segments, _) = self.read_catalog_parts(false)?;
            (base, segments)
        };
        let holds = (base.is_empty() && segments.is_empty())
            || self.latest_row_holds(|v| {
                segments.get(v).or_else(|| {
                    base.binary_search_by(|r| r.version.cmp(v))
                        .ok()
                        .and_then(|at| base.get(at))
                })
            });
        if !holds {
            base.clear();
            segments.clear();
        }
        // Both sorted: one pass over the listing and the catalog's rows (a
        // segment's row wins), no map of 10,000 rows.
        let mut base = base.into_iter().peekable();
        Ok(listed
            .into_iter()
            .map(|v| {
                while base.next_if(|r| r.version < v).is_some() {}
                let from_base = base.next_if(|r| r.version == v);
                let row = segments.remove(&v).or(from_base);
                (v, row)
            })
            .filter_map(|(v, row)| match row {
                Some(row) => Some(Ok(row)),
                // With a signature check, `metadata` checks it. A directory
                // without metadata is a save under way (or interrupted),
                // not a version yet.
                None => match self.metadata(&v) {
                    Ok(md) => Some(Ok(CatalogRow::of(&md))),
                    Err(RegistryError::VersionNotFound { .. }) => None,
                    Err(e) => Some(Err((v, e.to_string()))),
                },
            })
            .collect())
    }

    /// Whether the catalog's row for the version `latest` names is the one
    /// its metadata makes (no row, or no `latest`: nothing to hold against).
    fn latest_row_holds<'a>(&self, find: impl Fn(&ModelVersion) -> Option<&'a CatalogRow>) -> bool {
        // An unreadable `latest` (damaged, a FIFO) only means the catalog
        // is not trusted: listing still works, `verify` reports it.
        let latest = match self.read_alias_pointer(&crate::names::AliasName::latest()) {
            Ok(Some((latest, _))) if latest.action != crate::metadata::AliasAction::Delete => latest,
            Ok(_) => return true,
            Err(_) => return false,
        };
        match find(&latest.version) {
            None => true,
            Some(row) => {
                row.metadata_sha256 == latest.metadata_sha256
                    && self
                        .metadata_unchecked(&latest.version)
                        .is_ok_and(|md| CatalogRow::of(&md) == *row)
            }
        }
    }

    /// Why the catalog differs from `want` (the rows of every version that
    /// verified, as `verify` read them), if it does: damage (a row that
    /// differs from its version's metadata, or a row of a version that does
    /// not exist), and harmless lag (versions without a row, unreadable
    /// parts, which readers go around).
    pub(super) fn catalog_drift(&self, want: &[CatalogRow]) -> Result<CatalogDrift> {
        let stored = self.read_stored_catalog(false)?;
        let want: BTreeMap<&ModelVersion, &CatalogRow> = want.iter().map(|r| (&r.version, r)).collect();
        let mut drift = CatalogDrift {
            unreadable: stored.unreadable,
            ..CatalogDrift::default()
        };
        for (version, row) in &stored.rows {
            match want.get(version) {
                Some(w) if *w == row => {}
                Some(_) => drift.differing.push(version.clone()),
                // Not among the versions verify listed: a save may have
                // committed it since; only a version that still does not
                // exist is a phantom.
                None => match self.metadata_unchecked(version) {
                    Ok(md) if CatalogRow::of(&md) == *row => {}
                    Ok(_) => drift.differing.push(version.clone()),
                    Err(RegistryError::VersionNotFound { .. }) => drift.phantoms.push(version.clone()),
                    // Removed by gc: a row readers skip, dropped by the
                    // next compaction.
                    Err(RegistryError::VersionDeleted { .. }) => drift.collected += 1,
                    // Present but unreadable: verify's version check (or
                    // the next one) reports the version itself.
                    Err(_) => {}
                },
            }
        }
        drift.missing = want.keys().filter(|v| !stored.rows.contains_key(**v)).count();
        Ok(drift)
    }

    /// Whether the catalog lists other versions than exist (or cannot be
    /// read): a check of names only, for `repair`, which rebuilds it then.
    /// Rows that differ from their metadata are `verify`'s to find (it
    /// reads every metadata anyway); `verify --repair` rebuilds then too.
    pub(super) fn catalog_incomplete(&self) -> Result<bool> {
        let stored = self.read_stored_catalog(false)?;
        let listed = self.list_versions()?;
        Ok(!stored.unreadable.is_empty()
            || stored.rows.len() != listed.len()
            || stored.rows.keys().zip(&listed).any(|(r, v)| r != v))
    }
}

/// How the stored catalog differs from the versions' metadata.
#[derive(Debug, Default)]
pub(super) struct CatalogDrift {
    /// Rows that say something else than their version's metadata.
    pub(super) differing: Vec<ModelVersion>,
    /// Rows of versions that do not exist.
    pub(super) phantoms: Vec<ModelVersion>,
    /// Versions without a row (a save that died before writing it).
    pub(super) missing: usize,
    /// Rows of versions gc removed (a compaction that raced it kept them).
    pub(super) collected: usize,
    pub(super) unreadable: Vec<(String, String)>,
}

impl CatalogDrift {
    /// The damage, if any: rows that lie.
    pub(super) fn lies(&self) -> Option<String> {
        if self.differing.is_empty() && self.phantoms.is_empty() {
            return None;
        }
        let list = |vs: &[ModelVersion]| vs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let mut parts = Vec::new();
        if !self.differing.is_empty() {
            parts.push(format!(
                "its rows for {} differ from those versions' sealed metadata",
                list(&self.differing)
            ));
        }
        if !self.phantoms.is_empty() {
            parts.push(format!("it lists {}, which do not exist", list(&self.phantoms)));
        }
        Some(parts.join("; "))
    }

    /// The harmless part: rows not written yet, parts that cannot be read.
    pub(super) fn lag(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.missing > 0 {
            parts.push(format!("it lacks {} version(s)", self.missing));
        }
        if self.collected > 0 {
            parts.push(format!("it still lists {} version(s) gc removed", self.collected));
        }
        for (location, reason) in &self.unreadable {
            parts.push(format!("{location} cannot be read ({reason})"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}
