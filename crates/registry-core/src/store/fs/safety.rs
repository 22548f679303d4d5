//! Path safety: every object is reached below the root through no
//! symbolic link, and only regular files are read.

use super::{FsStore, StoreError};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The refusal of a symbolic link below the root (met by `open`'s
/// `O_NOFOLLOW` or by the walk down a key's components).
pub(super) fn symlink_refused(path: &Path) -> StoreError {
    StoreError::Unsafe {
        location: path.display().to_string(),
        reason: "it is a symbolic link; the registry never follows links below its root (remove it)".into(),
    }
}

impl FsStore {
    /// The content of an object opened by [`FsStore::open_for_reading`]:
    /// `len` bytes (its size when opened; objects never change), at most.
    pub(super) fn read_open(&self, path: &Path, file: File, len: u64) -> Result<Vec<u8>, StoreError> {
        let mut buf = Vec::new();
        let fits = usize::try_from(len).map_err(|e| e.to_string());
        if let Err(reason) = fits.and_then(|n| {
            buf.try_reserve_exact(n)
                .map_err(|_| "reserving that much memory failed".to_string())
        }) {
            return Err(StoreError::OutOfMemory {
                location: path.display().to_string(),
                size: len,
                reason,
            });
        }
        io::Read::read_to_end(&mut io::Read::take(file, len), &mut buf).map_err(self.io(path))?;
        Ok(buf)
    }

    /// Opens an object for reading, refusing symlinks anywhere below the root.
    pub(super) fn open_for_reading(&self, key: &str) -> Result<(PathBuf, File), StoreError> {
        let path = self.path(key)?;
        // Non-blocking, so that opening a FIFO planted where an object should
        // be returns at once instead of waiting for a writer; the type is
        // checked right after, before a byte is read.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ELOOP) {
                    symlink_refused(&path)
                } else {
                    self.io(&path)(e)
                }
            })?;
        let kind = file.metadata().map_err(self.io(&path))?.file_type();
        if !kind.is_file() {
            return Err(StoreError::Unsafe {
                location: path.display().to_string(),
                reason: format!(
                    "it is not a regular file but {}; the registry reads only regular files (move it away)",
                    crate::store::describe_file_type(&kind)
                ),
            });
        }
        Ok((path, file))
    }

    /// Fails if any existing component of `key` below the root is a symlink.
    pub(super) fn refuse_symlinks(&self, key: &str) -> Result<(), StoreError> {
        let mut p = self.root.clone();
        for part in key.split('/') {
            p.push(part);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => return Err(symlink_refused(&p)),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(())
    }
}
