//! The local filesystem store: the default backend.
//!
//! Why each step is there:
//!
//! * `create` writes a uniquely named temporary file beside the target,
//!   fsyncs it, then `link(2)`s it to the final name. `link` fails with
//!   `EEXIST` if the name is taken, so creation is atomic *and* never
//!   replaces anything, even against another process; the data is on disk
//!   before the name appears. The directory is fsynced so the name survives
//!   power loss too.
//! * `swap_pointer` holds an exclusive `flock` on a lock file beside the
//!   pointer while it compares and `rename(2)`s; the kernel drops the lock if
//!   the holder is killed, so a crash never wedges an alias.
//! * No path component below the root may be a symlink: a planted link must
//!   not lead a read or a write outside the registry.
//! * A registry whose root is group-writable is shared: files the store
//!   creates are made group-writable (mode 0664) and directories setgid
//!   (2775) whatever the creator's umask, so that every member of the group
//!   can save and promote (git's `core.sharedRepository=group`).
//! * Temporary names carry host and pid, so leftovers of a killed writer can
//!   be told apart from a live writer's work and removed safely.

mod mmap;
mod safety;
mod sharing;
mod temp;

use super::{Pointer, PointerTag, Store, StoreError, key_path, validate_key};
use mmap::MappedFile;
use sha2::{Digest, Sha256};
use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use temp::sync_dir;

/// A [`Store`] on a local directory. Creating one touches nothing on disk;
/// the root directory is made by the first write.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
    host: String,
}

impl FsStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let host = whoami::fallible::hostname()
            .unwrap_or_else(|_| "unknown-host".to_string())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        FsStore {
            root: root.into(),
            host,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(key)?;
        let path = key_path(&self.root, key);
        self.refuse_symlinks(key)?;
        Ok(path)
    }

    fn io(&self, path: &Path) -> impl Fn(io::Error) -> StoreError + '_ {
        let location = path.display().to_string();
        move |source| {
            if source.kind() == ErrorKind::NotFound {
                StoreError::NotFound {
                    location: location.clone(),
                }
            } else {
                StoreError::Io {
                    location: location.clone(),
                    source,
                }
            }
        }
    }

    fn parent_of<'a>(&self, path: &'a Path) -> &'a Path {
        path.parent().unwrap_or(Path::new("."))
    }

    /// Opens an object that must be `expected` bytes. Checked on the open
    /// file, before a page is mapped or a byte is reserved: a metadata
    /// document declaring 64 GiB, or a sparse file of that size, costs one
    /// fstat.
    fn open_checked(&self, key: &str, expected: u64) -> Result<(PathBuf, std::fs::File), StoreError> {
        let (path, file) = self.open_for_reading(key)?;
        let len = file.metadata().map_err(self.io(&path))?.len();
        if len != expected {
            return Err(StoreError::SizeMismatch {
                location: path.display().to_string(),
                expected,
                actual: len,
            });
        }
        Ok((path, file))
    }

    /// Calls `f` with the `len` bytes of an open object: mapped when large
    /// (no copy; pages are faulted in up front only up to a bound, so a
    /// multi-GB file is not forced into memory at once), else read into a
    /// buffer reserved fallibly, so a size the process cannot hold is an
    /// error, never an abort.
    fn pass_bytes(
        &self,
        path: &Path,
        file: std::fs::File,
        len: u64,
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<(), StoreError> {
        /// Smaller files are read: mapping costs more than it saves.
        const MAP_FROM: u64 = 256 * 1024;
        let mapped = if len >= MAP_FROM && len <= usize::MAX as u64 {
            MappedFile::map(&file, len as usize)
        } else {
            None
        };
        match mapped {
            Some(mapped) => f(mapped.bytes()),
            None => f(&self.read_open(path, file, len)?),
        }
        Ok(())
    }

    /// Creates `key` from a temporary file `write` makes (and fsyncs) in
    /// its directory: linked into place, so it appears whole or not at all,
    /// and never over an existing object.
    fn create_with(
        &self,
        key: &str,
        write: &mut dyn FnMut(&Path) -> Result<PathBuf, StoreError>,
    ) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let dir = self.parent_of(&path).to_path_buf();
        // A deletion beside us removes the directories it leaves empty
        // (`delete`), ours included if it was made (or emptied) a moment
        // before our temporary file went in. Nothing was read from the
        // source then (the file could not be opened): make the directory
        // again and retry. Once the file is in, the directory cannot go.
        let mut created = Vec::new();
        let mut attempts = 0;
        let written = loop {
            let step = self.ensure_dir_into(&dir, &mut created).and_then(|()| {
                if path.exists() {
                    return Err(StoreError::AlreadyExists {
                        location: path.display().to_string(),
                    });
                }
                write(&dir)
            });
            match step {
                Err(StoreError::NotFound { .. }) if attempts < 8 && !dir.is_dir() => attempts += 1,
                Err(e @ StoreError::AlreadyExists { .. }) => return Err(e),
                other => break other,
            }
        };
        let tmp = match written {
            Ok(tmp) => tmp,
            Err(e) => {
                Self::undo_dirs(&created);
                return Err(e);
            }
        };
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => sync_dir(&dir).map_err(self.io(&dir)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(StoreError::AlreadyExists {
                location: path.display().to_string(),
            }),
            Err(e) => {
                Self::undo_dirs(&created);
                Err(self.io(&path)(e))
            }
        }
    }

    /// The directory of a transient object: its parent made as any
    /// directory is (once, durably), itself without an fsync (it comes
    /// and goes with the objects in it).
    fn ensure_transient_dir(&self, dir: &Path) -> Result<(), StoreError> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.ensure_dir(parent)?;
        }
        match fs::create_dir(dir) {
            // Gone already (another's delete_transient emptied it): the
            // open that follows finds out, and tries again.
            Ok(()) => match self.share(dir, sharing::SHARED_DIR_MODE) {
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                other => other.map_err(self.io(dir)),
            },
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(self.io(dir)(e)),
        }
    }

    fn walk(&self, dir: &Path, key_prefix: &str, out: &mut Vec<String>) -> Result<(), StoreError> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io(dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(self.io(dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let file_type = entry.file_type().map_err(self.io(dir))?;
            let key = format!("{key_prefix}{name}");
            if file_type.is_dir() {
                self.walk(&entry.path(), &format!("{key}/"), out)?;
            } else if file_type.is_file() {
                out.push(key);
            }
            // Symlinks (the `latest` view, or anything planted) are not objects.
        }
        Ok(())
    }
}

fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn tag_of(bytes: &[u8]) -> PointerTag {
    let digest = Sha256::digest(bytes);
    PointerTag(digest.iter().take(16).map(|b| format!("{b:02x}")).collect())
}

impl Store for FsStore {
    fn location(&self, key: &str) -> String {
        key_path(&self.root, key).display().to_string()
    }

    fn create(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.create_with(key, &mut |dir| self.write_temp(dir, bytes))
    }

    /// Created in place (exclusively, so of two creators one wins) and
    /// never fsynced.
    fn create_transient(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let dir = self.parent_of(&path).to_path_buf();
        // Another's delete_transient removes the directories it leaves
        // empty, ours included between our mkdir and our open: again.
        let mut attempts = 0;
        let mut file = loop {
            let opened = self.ensure_transient_dir(&dir).and_then(|()| {
                fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .open(&path)
                    .map_err(|e| match e.kind() {
                        ErrorKind::AlreadyExists => StoreError::AlreadyExists {
                            location: path.display().to_string(),
                        },
                        _ => self.io(&path)(e),
                    })
            });
            match opened {
                Ok(f) => break f,
                Err(StoreError::NotFound { .. }) if attempts < 32 => attempts += 1,
                Err(e) => return Err(e),
            }
        };
        let written = self
            .share_file(&file)
            .and_then(|()| io::Write::write_all(&mut file, bytes));
        if let Err(e) = written {
            let _ = fs::remove_file(&path);
            return Err(self.io(&path)(e));
        }
        Ok(())
    }

    /// Removed with the directories it leaves empty (as `delete`), with
    /// no fsync: nothing of a transient object is left behind.
    fn delete_transient(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        fs::remove_file(&path).map_err(self.io(&path))?;
        let mut dir = self.parent_of(&path).to_path_buf();
        while dir != self.root && dir.starts_with(&self.root) && fs::remove_dir(&dir).is_ok() {
            dir.pop();
        }
        Ok(())
    }

    fn create_from(&self, key: &str, src: &mut dyn io::Read, _size: u64) -> Result<(), StoreError> {
        self.create_with(key, &mut |dir| self.write_temp_from(dir, src))
    }

    fn open_sized(&self, key: &str, expected: u64) -> Result<Box<dyn io::Read + Send + '_>, StoreError> {
        let (_, file) = self.open_checked(key, expected)?;
        Ok(Box::new(io::Read::take(file, expected)))
    }

    fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let (path, file) = self.open_for_reading(key)?;
        let len = file.metadata().map_err(self.io(&path))?.len();
        self.read_open(&path, file, len)
    }

    fn read_into(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        let (path, file) = self.open_for_reading(key)?;
        let len = file.metadata().map_err(self.io(&path))?.len();
        self.pass_bytes(&path, file, len, f)
    }

    fn read_blocks(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        let (path, file) = self.open_checked(key, expected)?;
        let mut file = crate::sequential::ReadAhead::new(file);
        // No bigger than the file: a small file costs a small buffer.
        let mut block = vec![0u8; super::READ_BLOCK.min(expected.max(1) as usize)];
        let mut seen = 0u64;
        loop {
            let n = io::Read::read(&mut file, &mut block).map_err(self.io(&path))?;
            if n == 0 {
                break;
            }
            seen += n as u64;
            if seen > expected {
                break;
            }
            f(&block[..n]);
        }
        // Objects never change; one that did while being read is damage.
        if seen != expected {
            return Err(StoreError::SizeMismatch {
                location: path.display().to_string(),
                expected,
                actual: seen,
            });
        }
        Ok(())
    }

    fn copy_to_file(
        &self,
        key: &str,
        expected: u64,
        out: &std::fs::File,
        advance: &mut dyn FnMut(u64),
    ) -> Result<io::Result<bool>, StoreError> {
        use std::os::fd::AsRawFd;
        let (path, file) = self.open_checked(key, expected)?;
        let mut done = 0u64;
        while done < expected {
            // Bounded calls, so progress moves and a signal is seen.
            let want = (expected - done).min(64 << 20) as usize;
            // SAFETY: two open descriptors; null offsets use and move each
            // file's own position.
            let n = unsafe {
                libc::copy_file_range(
                    file.as_raw_fd(),
                    std::ptr::null_mut(),
                    out.as_raw_fd(),
                    std::ptr::null_mut(),
                    want,
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                // Not between these two files (another file system on an
                // old kernel, a file system without it): nothing was
                // copied, and the caller streams.
                let unsupported = matches!(
                    e.raw_os_error(),
                    Some(libc::EXDEV | libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP | libc::EBADF)
                );
                if done == 0 && unsupported {
                    return Ok(Ok(false));
                }
                return Ok(Err(e));
            }
            if n == 0 {
                break;
            }
            done += n as u64;
            advance(n as u64);
        }
        // Objects never change; one that shrank while being copied is damage.
        if done != expected {
            return Err(StoreError::SizeMismatch {
                location: path.display().to_string(),
                expected,
                actual: done,
            });
        }
        Ok(Ok(true))
    }

    fn read_sized_into(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        let (path, file) = self.open_checked(key, expected)?;
        self.pass_bytes(&path, file, expected, f)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let (dir_key, _) = match prefix.rfind('/') {
            Some(i) => prefix.split_at(i + 1),
            None => ("", prefix),
        };
        let dir = if dir_key.is_empty() {
            self.root.clone()
        } else {
            let trimmed = dir_key.trim_end_matches('/');
            validate_key(trimmed)?;
            self.refuse_symlinks(trimmed)?;
            key_path(&self.root, trimmed)
        };
        let mut out = Vec::new();
        self.walk(&dir, dir_key, &mut out)?;
        out.retain(|k| k.starts_with(prefix));
        out.sort_unstable();
        Ok(out)
    }

    fn list_groups(&self, prefix: &str, containing: Option<&str>) -> Result<Vec<String>, StoreError> {
        let trimmed = prefix.trim_end_matches('/');
        if !prefix.ends_with('/') || trimmed.is_empty() {
            return Err(StoreError::InvalidKey {
                key: prefix.to_string(),
                reason: "list_groups needs a prefix ending in '/'".into(),
            });
        }
        validate_key(trimmed)?;
        if let Some(name) = containing {
            validate_key(name)?;
        }
        self.refuse_symlinks(trimmed)?;
        let dir = key_path(&self.root, trimmed);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&dir)(e)),
        };
        let mut groups = Vec::new();
        for entry in entries {
            let entry = entry.map_err(self.io(&dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') || !entry.file_type().map_err(self.io(&dir))?.is_dir() {
                continue;
            }
            let keep = match containing {
                None => fs::read_dir(entry.path())
                    .map(|mut d| d.any(|e| e.is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.'))))
                    .unwrap_or(false),
                // One stat per group; a symlink does not count.
                Some(file) => fs::symlink_metadata(entry.path().join(file)).is_ok_and(|m| m.file_type().is_file()),
            };
            if keep {
                groups.push(name);
            }
        }
        groups.sort_unstable();
        Ok(groups)
    }

    fn read_limited(&self, key: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        let (path, file) = self.open_for_reading(key)?;
        let len = file.metadata().map_err(self.io(&path))?.len();
        if len > limit {
            return Err(StoreError::TooLarge {
                location: path.display().to_string(),
                size: len,
                limit,
            });
        }
        self.read_open(&path, file, len)
    }

    fn read_pointer_limited(&self, key: &str, limit: u64) -> Result<Option<Pointer>, StoreError> {
        match self.read_limited(key, limit) {
            Ok(bytes) => {
                let tag = tag_of(&bytes);
                Ok(Some(Pointer { bytes, tag }))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn swap_pointer(&self, key: &str, expected: Option<&PointerTag>, new: &[u8]) -> Result<PointerTag, StoreError> {
        let path = self.path(key)?;
        let dir = self.parent_of(&path).to_path_buf();
        self.ensure_dir(&dir)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let lock_path = dir.join(format!(".{file_name}.lock"));
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o644)
            .open(&lock_path)
            .map_err(self.io(&lock_path))?;
        if lock.metadata().is_ok_and(|m| m.uid() == current_uid()) {
            self.share_file(&lock).map_err(self.io(&lock_path))?;
        }
        lock.lock().map_err(self.io(&lock_path))?;
        let current = self.read_pointer_limited(key, super::MAX_LARGE_POINTER_BYTES)?;
        if current.as_ref().map(|p| &p.tag) != expected {
            return Err(StoreError::Conflict {
                location: path.display().to_string(),
            });
        }
        let tmp = self.write_temp(&dir, new)?;
        if let Err(e) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(self.io(&path)(e));
        }
        sync_dir(&dir).map_err(self.io(&dir))?;
        drop(lock);
        Ok(tag_of(new))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        fs::remove_file(&path).map_err(self.io(&path))?;
        let mut dir = self.parent_of(&path).to_path_buf();
        sync_dir(&dir).map_err(self.io(&dir))?;
        // Remove directories the deletion left empty, up to the root.
        while dir != self.root && dir.starts_with(&self.root) && fs::remove_dir(&dir).is_ok() {
            dir.pop();
            let _ = sync_dir(&dir);
        }
        Ok(())
    }

    fn age(&self, key: &str) -> Result<Option<std::time::Duration>, StoreError> {
        let path = self.path(key)?;
        self.refuse_symlinks(key)?;
        let modified = fs::symlink_metadata(&path)
            .and_then(|m| m.modified())
            .map_err(self.io(&path))?;
        // A clock step back makes a file look new: kept, which is safe.
        Ok(Some(modified.elapsed().unwrap_or_default()))
    }

    fn publish_view(&self, view: &str, target_prefix: &str) -> Result<(), StoreError> {
        validate_key(view)?;
        validate_key(target_prefix.trim_end_matches('/'))?;
        let view_path = key_path(&self.root, view);
        let dir = self.parent_of(&view_path).to_path_buf();
        self.ensure_dir(&dir)?;
        // The link is relative, so the registry can be moved or copied whole.
        let depth = view.matches('/').count();
        let target: PathBuf = std::iter::repeat_n("..", depth)
            .chain(target_prefix.trim_end_matches('/').split('/'))
            .collect();
        if let Ok(m) = fs::symlink_metadata(&view_path)
            && !m.file_type().is_symlink()
        {
            return Err(StoreError::Unsafe {
                location: view_path.display().to_string(),
                reason:
                    "it should be a symbolic link the registry maintains, but is a real file or directory; move it away"
                        .into(),
            });
        }
        let tmp = self.temp_path(&dir);
        std::os::unix::fs::symlink(&target, &tmp).map_err(self.io(&tmp))?;
        if let Err(e) = fs::rename(&tmp, &view_path) {
            let _ = fs::remove_file(&tmp);
            return Err(self.io(&view_path)(e));
        }
        sync_dir(&dir).map_err(self.io(&dir))
    }

    fn read_view(&self, view: &str) -> Result<Option<String>, StoreError> {
        validate_key(view)?;
        let view_path = key_path(&self.root, view);
        match fs::read_link(&view_path) {
            Ok(target) => {
                let parts: Vec<String> = target
                    .components()
                    .filter(|c| !matches!(c, std::path::Component::ParentDir))
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                Ok(Some(parts.join("/")))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
            Err(e) => Err(self.io(&view_path)(e)),
        }
    }

    fn remove_leftovers(&self) -> Result<Vec<String>, StoreError> {
        let mut removed = Vec::new();
        if self.root.is_dir() {
            self.sweep_dir(&self.root.clone(), &mut removed)?;
        }
        Ok(removed)
    }
}
