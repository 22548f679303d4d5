//! Writing the catalog (see catalog.rs): a save adds its segment and, once
//! there are [`COMPACT_AT`] of them, folds them into `catalog.json`;
//! `verify --repair` rebuilds it from every version's metadata. Every
//! write is best effort for saves (the version is complete whatever
//! happens here, and readers fill a missing row) and a compare-and-swap,
//! so any number of writers can do it at once.

use super::Registry;
use super::catalog::{COMPACT_AT, CatalogDoc, CatalogRow, StoredCatalog};
use crate::error::{RegistryError, Result};
use crate::metadata::{FORMAT_VERSION, ModelMetadata};
use crate::store::{PointerTag, Store, StoreError};

/// How often a compaction or rebuild retries against others doing the
/// same before leaving it to the next one.
const CATALOG_RETRIES: usize = 16;

impl<S: Store> Registry<S> {
    /// After a save: its row as a segment (one small object, whatever the
    /// number of versions), then a compaction if the segments are many.
    pub(super) fn add_to_catalog(&self, metadata: &ModelMetadata) {
        let row = CatalogRow::of(metadata);
        let Ok(bytes) = serde_json::to_vec(&row) else { return };
        let key = self.keys.catalog_segment(&metadata.version);
        match self.store.create(&key, &bytes) {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(_) => return,
        }
        if self
            .store
            .list(&self.keys.catalog_segments())
            .is_ok_and(|segments| segments.len() >= COMPACT_AT)
        {
            let _ = self.compact_catalog();
        }
    }

    /// Folds every segment into `catalog.json` (dropping rows of versions
    /// that do not exist), then deletes the segments it folded. A segment
    /// written meanwhile is kept: it was not read, so it is not deleted.
    pub fn compact_catalog(&self) -> Result<()> {
        for _ in 0..CATALOG_RETRIES {
            let stored = self.read_stored_catalog(true)?;
            let listed = self.list_versions()?;
            let StoredCatalog {
                mut rows,
                segments,
                base,
                ..
            } = stored;
            let mut kept = Vec::with_capacity(listed.len());
            for v in listed {
                match rows.remove(&v) {
                    Some(row) => kept.push(row),
                    None => {
                        if let Ok(md) = self.metadata_unchecked(&v) {
                            kept.push(CatalogRow::of(&md));
                        }
                    }
                }
            }
            if self.replace_catalog(kept, base.as_ref().map(|p| &p.tag), &segments)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Writes `rows` as `catalog.json` if it is still in state `expected`,
    /// then deletes `folded` (the segments the rows include): `false` if
    /// another writer changed it first (read again and retry).
    fn replace_catalog(&self, rows: Vec<CatalogRow>, expected: Option<&PointerTag>, folded: &[String]) -> Result<bool> {
        match self.write_catalog(rows, expected) {
            Err(RegistryError::Store(StoreError::Conflict { .. })) => Ok(false),
            Err(e) => Err(e),
            Ok(()) => {
                for key in folded {
                    let _ = self.store.delete(key);
                }
                Ok(true)
            }
        }
    }

    fn write_catalog(&self, rows: Vec<CatalogRow>, expected: Option<&PointerTag>) -> Result<()> {
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

    /// Rewrites the catalog from every version's metadata (`verify
    /// --repair`), and deletes the segments it replaced. Safe beside
    /// saves: a compare-and-swap like theirs, and a segment written after
    /// it listed them is kept.
    pub fn rebuild_catalog(&self) -> Result<()> {
        for _ in 0..CATALOG_RETRIES {
            let segments = self.store.list(&self.keys.catalog_segments())?;
            let tag = match self
                .store
                .read_pointer_limited(&self.keys.catalog(), super::catalog::MAX_CATALOG_BYTES)
            {
                Ok(Some(pointer)) => Some(pointer.tag),
                Ok(None) => None,
                // Unreadable (too large, not a file): it is derived, so it
                // is replaced rather than repaired.
                Err(_) => {
                    let _ = self.store.delete(&self.keys.catalog());
                    None
                }
            };
            let mut rows = Vec::new();
            for v in self.list_versions()? {
                if let Ok(md) = self.metadata_unchecked(&v) {
                    rows.push(CatalogRow::of(&md));
                }
            }
            if self.replace_catalog(rows, tag.as_ref(), &segments)? {
                return Ok(());
            }
        }
        Ok(())
    }
}
