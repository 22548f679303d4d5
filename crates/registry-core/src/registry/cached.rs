//! Reads through a [`ReadCache`]: a version's committed documents and its
//! files (by BLAKE3 digest) come from local disk when the cache has them,
//! and go into it when it has not. Every byte from the cache is checked
//! against the metadata exactly as the store's bytes are; a blob that
//! fails is reported, dropped and fetched again from the store.

use super::Registry;
use crate::cache::ReadCache;
use crate::error::{RegistryError, Result};
use crate::metadata::StoredFile;
use crate::store::{FsStore, Store, StoreError};
use std::io::Read;

/// A stream that computes BLAKE3 of what passes through it (on every core
/// for large blocks), keeping the source's own error.
struct Blake3Reader<'a> {
    inner: Box<dyn Read + Send + 'a>,
    hasher: blake3::Hasher,
    seen: u64,
    failed: Option<std::io::Error>,
    progress: Option<Box<dyn crate::progress::Transfer>>,
}

impl Read for Blake3Reader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                let copy = std::io::Error::new(e.kind(), e.to_string());
                self.failed = Some(e);
                return Err(copy);
            }
        };
        let block = &buf[..n];
        // One core: see `Digesting` in write.rs on rayon per block.
        self.hasher.update(block);
        self.seen += n as u64;
        if let Some(p) = &mut self.progress {
            p.advance(n as u64);
        }
        Ok(n)
    }
}

impl<S: Store> Registry<S> {
    /// The cache and its blob store for `file`, if it is to be read
    /// through one: a cache is set, the file has a BLAKE3 digest, and the
    /// cache takes a file of its size.
    pub(super) fn blob_cache<'a>(&'a self, file: &StoredFile<'a>) -> Option<(&'a dyn ReadCache, &'a FsStore, &'a str)> {
        let cache = self.cache.as_deref()?;
        let blake3 = file.blake3?;
        let blobs = cache.blobs(file.size)?;
        Some((cache, blobs, blake3))
    }

    /// Makes sure the cache holds the blob of `file` (of `version`):
    /// `Ok(true)` when it does (already, or filled now and checked),
    /// `Ok(false)` when the cache could not take it (the read then goes to
    /// the store). A failure of the store is the read's failure; bytes
    /// from the store that do not match the metadata are
    /// [`RegistryError::IntegrityMismatch`] naming the store's object.
    pub(super) fn fill_blob(
        &self,
        (cache, blobs, blake3): (&dyn ReadCache, &FsStore, &str),
        version: &crate::names::ModelVersion,
        file: &StoredFile<'_>,
    ) -> Result<bool> {
        let key = self.keys.version_file(version, file.path);
        let location = self.store.location(&key);
        let src = self
            .store
            .open_sized(&key, file.size)
            .map_err(super::load::size_mismatch)?;
        let mut src = Blake3Reader {
            inner: Box::new(src.take(file.size)),
            hasher: blake3::Hasher::new(),
            seen: 0,
            failed: None,
            progress: crate::progress::begin(|| format!("cache {}", file.path), file.size),
        };
        match blobs.create_from(blake3, &mut src, file.size) {
            Ok(()) => {}
            // Another process filled it first: the same bytes by digest
            // (and checked again when read).
            Err(StoreError::AlreadyExists { .. }) => return Ok(true),
            Err(e) => {
                return match src.failed.take() {
                    Some(source) => Err(StoreError::Io { location, source }.into()),
                    // The cache's own disk failed (full, read-only): the
                    // read goes to the store and the cache stays as it was.
                    None => {
                        cache.damaged(blake3, &format!("cannot be written: {e}"));
                        Ok(false)
                    }
                };
            }
        }
        let actual = src.hasher.finalize().to_hex().to_string();
        let mismatch = if src.seen != file.size {
            Some(("size", format!("{} bytes", file.size), format!("{} bytes", src.seen)))
        } else if actual != blake3 {
            Some(("blake3", blake3.to_string(), actual))
        } else {
            None
        };
        if let Some((what, expected, actual)) = mismatch {
            let _ = blobs.delete(blake3);
            return Err(RegistryError::IntegrityMismatch {
                location,
                what,
                expected,
                actual,
            });
        }
        cache.filled(blake3, file.size);
        Ok(true)
    }

    /// Reads `file` of `version` from the cache (filling it first if it
    /// lacks the blob) and calls `f` with its checked bytes: `Ok(None)`
    /// when the cache could not serve it, so the caller reads the store.
    /// `f` is called only on bytes that passed the checks.
    pub(super) fn read_through_cache<T, F: FnOnce(&[u8]) -> T>(
        &self,
        cached: (&dyn ReadCache, &FsStore, &str),
        version: &crate::names::ModelVersion,
        file: &StoredFile<'_>,
        all: bool,
        f: &mut Option<F>,
    ) -> Result<Option<T>> {
        let (cache, blobs, blake3) = cached;
        for attempt in 0..2 {
            match super::load::read_checked_at(blobs, blake3, file, all, f) {
                Ok(out) => {
                    cache.used(blake3);
                    return Ok(Some(out));
                }
                Err(RegistryError::Store(StoreError::NotFound { .. })) => {}
                // Damaged (another size or digest), or unreadable: dropped
                // and fetched again.
                Err(e) => cache.damaged(blake3, &e.to_string()),
            }
            if attempt == 0 && !self.fill_blob(cached, version, file)? {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// A committed document (by store key) from the cache, else from the
    /// store (read with `limit`), kept in the cache once read.
    pub(super) fn read_document(&self, key: &str, limit: u64) -> std::result::Result<Vec<u8>, StoreError> {
        if let Some(cache) = self.cache.as_deref()
            && let Some(bytes) = cache.document(key)
        {
            return Ok(bytes);
        }
        let bytes = self.store.read_limited(key, limit)?;
        if let Some(cache) = self.cache.as_deref() {
            cache.put_document(key, &bytes);
        }
        Ok(bytes)
    }
}
