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

use super::{Pointer, PointerTag, Store, StoreError, key_path, validate_key};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
const TEMP_PREFIX: &str = ".tmp-";
/// Leftovers of writers on other hosts (a shared network filesystem) are
/// only removed once they are this old, since their pid cannot be checked.
const FOREIGN_LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Files of a group-shared registry: read and write for the owner and the
/// group, read for others (the root's own mode decides what others see).
const SHARED_FILE_MODE: u32 = 0o664;
/// Directories of a group-shared registry; setgid, so that what anyone
/// creates inside belongs to the registry's group, not the creator's.
const SHARED_DIR_MODE: u32 = 0o2775;

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

    /// The content of an object opened by [`FsStore::open_for_reading`]:
    /// `len` bytes (its size when opened; objects never change), at most.
    fn read_open(&self, path: &Path, file: File, len: usize) -> Result<Vec<u8>, StoreError> {
        let mut buf = Vec::with_capacity(len);
        io::Read::read_to_end(&mut io::Read::take(file, len as u64), &mut buf).map_err(self.io(path))?;
        Ok(buf)
    }

    /// Opens an object for reading, refusing symlinks anywhere below the root.
    fn open_for_reading(&self, key: &str) -> Result<(PathBuf, File), StoreError> {
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
                    StoreError::Unsafe {
                        location: path.display().to_string(),
                        reason: "it is a symbolic link; the registry never follows links below its root (remove it)"
                            .into(),
                    }
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
                    describe_kind(kind)
                ),
            });
        }
        Ok((path, file))
    }

    /// Fails if any existing component of `key` below the root is a symlink.
    fn refuse_symlinks(&self, key: &str) -> Result<(), StoreError> {
        let mut p = self.root.clone();
        for part in key.split('/') {
            p.push(part);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(StoreError::Unsafe {
                        location: p.display().to_string(),
                        reason: "it is a symbolic link; the registry never follows links below its root (remove it)"
                            .into(),
                    });
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(())
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

    /// `mkdir -p`, fsyncing the parent of every directory it creates.
    /// Returns the directories it created, outermost first.
    fn ensure_dir(&self, dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
        let mut created = Vec::new();
        self.ensure_dir_into(dir, &mut created)?;
        Ok(created)
    }

    fn ensure_dir_into(&self, dir: &Path, created: &mut Vec<PathBuf>) -> Result<(), StoreError> {
        // "" is the parent of a relative root such as `registry`: the
        // current directory, which exists.
        if dir.as_os_str().is_empty() || dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.ensure_dir_into(parent, created)?;
        }
        match fs::create_dir(dir) {
            Ok(()) => {
                created.push(dir.to_path_buf());
                if dir != self.root {
                    self.share(dir, SHARED_DIR_MODE).map_err(self.io(dir))?;
                }
                if let Some(parent) = dir.parent() {
                    let parent = if parent.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        parent
                    };
                    sync_dir(parent).map_err(self.io(parent))?;
                }
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
            Err(e) => Err(self.io(dir)(e)),
        }
    }

    /// Removes the directories a failed write created, if still empty, so
    /// that a failure leaves the tree as it found it.
    fn undo_dirs(created: &[PathBuf]) {
        for dir in created.iter().rev() {
            if fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }

    fn temp_path(&self, dir: &Path) -> PathBuf {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        dir.join(format!("{TEMP_PREFIX}{}-{}-{n}x{nanos}", self.host, std::process::id()))
    }

    /// Writes `bytes` to a new temporary file in `dir` and fsyncs it.
    fn write_temp(&self, dir: &Path, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        let tmp = self.temp_path(dir);
        let result = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o644).open(&tmp)?;
            self.share_file(&f)?;
            f.write_all(bytes)?;
            f.sync_all()
        })();
        match result {
            Ok(()) => Ok(tmp),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(self.io(&tmp)(e))
            }
        }
    }

    /// Whether the registry is shared by a group: its root is
    /// group-writable (`chmod g+w`, best with setgid: `chmod 2775`). Then
    /// what the store creates is group-writable too, whatever the creator's
    /// umask, as git does with `core.sharedRepository=group`. Asked at each
    /// write (one `stat`), so a registry made shared later is honoured.
    fn shared(&self) -> bool {
        fs::metadata(&self.root).is_ok_and(|m| m.permissions().mode() & 0o020 != 0)
    }

    /// Gives a directory the store created the shared mode, if shared.
    fn share(&self, dir: &Path, mode: u32) -> io::Result<()> {
        if self.shared() {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }

    /// Gives a file the store created the shared mode, if shared (`fchmod`
    /// ignores the umask, which `open`'s mode does not).
    fn share_file(&self, file: &File) -> io::Result<()> {
        if self.shared() {
            file.set_permissions(fs::Permissions::from_mode(SHARED_FILE_MODE))?;
        }
        Ok(())
    }

    fn parent_of<'a>(&self, path: &'a Path) -> &'a Path {
        path.parent().unwrap_or(Path::new("."))
    }

    /// Is this temporary file a leftover of a writer that is gone?
    fn is_dead_leftover(&self, name: &str, path: &Path) -> bool {
        let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
            return false;
        };
        let mut parts = rest.rsplitn(3, '-');
        let (_, pid, host) = (parts.next(), parts.next(), parts.next());
        match (host, pid.and_then(|p| p.parse::<i32>().ok())) {
            (Some(host), Some(pid)) if host == self.host => !process_alive(pid),
            _ => fs::symlink_metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > FOREIGN_LEFTOVER_AGE),
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

    fn sweep_dir(&self, dir: &Path, removed: &mut Vec<String>) -> Result<(), StoreError> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io(dir)(e)),
        };
        let mut changed = false;
        for entry in entries {
            let entry = entry.map_err(self.io(dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let file_type = entry.file_type().map_err(self.io(dir))?;
            if file_type.is_dir() && !name.starts_with('.') {
                self.sweep_dir(&path, removed)?;
            } else if self.is_dead_leftover(&name, &path) {
                match fs::remove_file(&path) {
                    Ok(()) => {
                        removed.push(path.display().to_string());
                        changed = true;
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(self.io(&path)(e)),
                }
            }
        }
        if changed {
            sync_dir(dir).map_err(self.io(dir))?;
        }
        Ok(())
    }
}

fn describe_kind(kind: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "something else"
    }
}

fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn tag_of(bytes: &[u8]) -> PointerTag {
    let digest = Sha256::digest(bytes);
    PointerTag(digest.iter().take(16).map(|b| format!("{b:02x}")).collect())
}

/// A whole file mapped read-only, with every page mapped up front
/// (`MAP_POPULATE`: one system call instead of a fault per 4 KB page).
///
/// Sound because the registry never changes a created file: objects are
/// written to a temporary file and linked into place, never truncated or
/// rewritten. Someone else truncating a model file *while* it is mapped
/// would end the process with SIGBUS; the window is the few milliseconds a
/// model takes to decode, and the size checked afterwards catches a file
/// truncated before.
struct MappedFile {
    ptr: *mut libc::c_void,
    len: usize,
}

impl MappedFile {
    fn map(file: &File, len: usize) -> Option<MappedFile> {
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh private read-only mapping of an open file; the
        // result is checked before use and unmapped exactly once in Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_POPULATE,
                file.as_raw_fd(),
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then_some(MappedFile { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

impl Store for FsStore {
    fn location(&self, key: &str) -> String {
        key_path(&self.root, key).display().to_string()
    }

    fn create(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let dir = self.parent_of(&path).to_path_buf();
        let created = self.ensure_dir(&dir)?;
        if path.exists() {
            return Err(StoreError::AlreadyExists {
                location: path.display().to_string(),
            });
        }
        let tmp = match self.write_temp(&dir, bytes) {
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

    fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let (path, file) = self.open_for_reading(key)?;
        let len = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
        self.read_open(&path, file, len)
    }

    fn read_into(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        /// Smaller files are read: mapping costs more than it saves.
        const MAP_FROM: u64 = 256 * 1024;
        let (path, file) = self.open_for_reading(key)?;
        let len = file.metadata().map_err(self.io(&path))?.len();
        let mapped = if len >= MAP_FROM && len <= usize::MAX as u64 {
            MappedFile::map(&file, len as usize)
        } else {
            None
        };
        match mapped {
            Some(mapped) => f(mapped.bytes()),
            None => f(&self.read_open(&path, file, len as usize)?),
        }
        Ok(())
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
        self.read_open(&path, file, len as usize)
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
