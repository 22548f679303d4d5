//! Directories, temporary files and the sweep of leftovers: a write goes
//! to a temporary name carrying host and pid, so a killed writer's
//! leftovers can be told from a live writer's work and removed safely.

use super::sharing::SHARED_DIR_MODE;
use super::{FsStore, StoreError};
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
/// Temporary files are `.tmp-<host>-<pid>-<n>x<nanos>`.
const TEMP_PREFIX: &str = ".tmp-";
/// Leftovers of writers on other hosts (a shared network filesystem) are
/// only removed once they are this old, since their pid cannot be checked.
const FOREIGN_LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl FsStore {
    /// `mkdir -p`, fsyncing the parent of every directory it creates.
    /// Returns the directories it created, outermost first.
    pub(super) fn ensure_dir(&self, dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
        let mut created = Vec::new();
        self.ensure_dir_into(dir, &mut created)?;
        Ok(created)
    }

    pub(super) fn ensure_dir_into(&self, dir: &Path, created: &mut Vec<PathBuf>) -> Result<(), StoreError> {
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
            Err(e) if e.kind() == ErrorKind::AlreadyExists => match fs::symlink_metadata(dir) {
                Ok(m) if m.is_dir() => Ok(()),
                // Made by another and removed again since (a transient
                // directory's parent, emptied by another's
                // delete_transient): NotFound, which create_transient
                // answers by trying again.
                Err(gone) if gone.kind() == ErrorKind::NotFound => Err(self.io(dir)(gone)),
                _ => Err(self.io(dir)(e)),
            },
            Err(e) => Err(self.io(dir)(e)),
        }
    }

    /// Removes the directories a failed write created, if still empty, so
    /// that a failure leaves the tree as it found it.
    pub(super) fn undo_dirs(created: &[PathBuf]) {
        for dir in created.iter().rev() {
            if fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }

    pub(super) fn temp_path(&self, dir: &Path) -> PathBuf {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        dir.join(format!("{TEMP_PREFIX}{}-{}-{n}x{nanos}", self.host, std::process::id()))
    }

    /// Writes `bytes` to a new temporary file in `dir` and fsyncs it.
    pub(super) fn write_temp(&self, dir: &Path, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        self.write_temp_with(dir, &mut |f| f.write_all(bytes))
    }

    /// [`Self::write_temp`] from a stream, in blocks of [`READ_BLOCK`]
    /// bytes: what is written is never held whole.
    pub(super) fn write_temp_from(&self, dir: &Path, src: &mut dyn io::Read) -> Result<PathBuf, StoreError> {
        let mut block = vec![0u8; crate::store::READ_BLOCK];
        let mut writeback = crate::sequential::Writeback::default();
        self.write_temp_with(dir, &mut |f| loop {
            let n = match src.read(&mut block) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            f.write_all(&block[..n])?;
            writeback.wrote(f, n);
        })
    }

    /// A new temporary file in `dir` (shared as the registry is), filled
    /// by `fill` and fsynced; removed again if anything fails.
    fn write_temp_with(
        &self,
        dir: &Path,
        fill: &mut dyn FnMut(&mut File) -> io::Result<()>,
    ) -> Result<PathBuf, StoreError> {
        let tmp = self.temp_path(dir);
        let result = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o644).open(&tmp)?;
            self.share_file(&f)?;
            fill(&mut f)?;
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

    /// Is this temporary file a leftover of a writer that is gone?
    pub(super) fn is_dead_leftover(&self, name: &str, path: &Path) -> bool {
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

    pub(super) fn sweep_dir(&self, dir: &Path, removed: &mut Vec<String>) -> Result<(), StoreError> {
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

fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
