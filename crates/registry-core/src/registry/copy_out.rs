//! A version's file written into a local file (`registry get`, Python's
//! `get_file`): copied by the kernel where the store is local, as `cp`
//! does, so the bytes never pass through this process, then checked where
//! they landed; streamed through the digest otherwise.

use super::Registry;
use super::load::size_mismatch;
use super::load::{FileDigest, find_file};
use crate::error::Result;
use crate::metadata::{ModelMetadata, StoredFile};
use crate::store::{READ_BLOCK, Store};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

impl<S: Store> Registry<S> {
    /// Writes the file `path` of a loaded version to `out` (empty, open
    /// for reading and writing) and returns its size. The digest (BLAKE3
    /// where recorded, else sha256) is checked on what `out` holds at the
    /// end, so, as with [`Self::stream_version_file`], the caller keeps
    /// `out` unnamed or under a temporary name until this returns `Ok`.
    /// The inner error is `out`'s (a full disk), for the caller to name.
    pub fn write_version_file(&self, metadata: &ModelMetadata, path: &str, out: &mut File) -> Result<io::Result<u64>> {
        let file = find_file(metadata, path)?;
        // A remote version read through the cache streams (the cache's own
        // checks and refetching live there).
        if self.blob_cache(&file).is_none() {
            let key = self.keys.version_file(&metadata.version, file.path);
            let mut progress = crate::progress::begin(|| format!("read {path}"), file.size);
            let copied = self
                .store
                .copy_to_file(&key, file.size, out, &mut |n| {
                    if let Some(p) = &mut progress {
                        p.advance(n);
                    }
                })
                .map_err(size_mismatch)?;
            match copied {
                Ok(true) => {
                    let digest = match check_written(out, &file) {
                        Ok(digest) => digest,
                        Err(e) => return Ok(Err(e)),
                    };
                    digest.check(&file, || self.store.location(&key))?;
                    return Ok(Ok(file.size));
                }
                Ok(false) => {}
                Err(e) => return Ok(Err(e)),
            }
        }
        let mut failed = None;
        let size = self.stream_version_file(metadata, path, &mut |block| {
            if failed.is_none()
                && let Err(e) = out.write_all(block)
            {
                failed = Some(e);
            }
        })?;
        Ok(failed.map_or(Ok(size), Err))
    }
}

/// The digest of the first `file.size` bytes of `out`, read back in
/// blocks (from the page cache: they were just written). A shorter `out`
/// digests what it has, and fails the check.
fn check_written(out: &File, file: &StoredFile<'_>) -> io::Result<FileDigest> {
    let mut digest = FileDigest::new(file);
    let mut block = vec![0u8; READ_BLOCK.min(file.size.max(1) as usize)];
    let mut at = 0u64;
    while at < file.size {
        let want = ((file.size - at) as usize).min(block.len());
        let n = match out.read_at(&mut block[..want], at) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        digest.update(&block[..n]);
        at += n as u64;
    }
    Ok(digest)
}
