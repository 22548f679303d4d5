//! Group-shared registries: what the store creates is group-writable
//! whatever the creator's umask, as git does with
//! `core.sharedRepository=group`.

use super::FsStore;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Files of a group-shared registry: read and write for the owner and the
/// group, read for others (the root's own mode decides what others see).
const SHARED_FILE_MODE: u32 = 0o664;
/// Directories of a group-shared registry; setgid, so that what anyone
/// creates inside belongs to the registry's group, not the creator's.
pub(super) const SHARED_DIR_MODE: u32 = 0o2775;

impl FsStore {
    /// Whether the registry is shared by a group: its root is
    /// group-writable (`chmod g+w`, best with setgid: `chmod 2775`). Then
    /// what the store creates is group-writable too, whatever the creator's
    /// umask, as git does with `core.sharedRepository=group`. Asked at each
    /// write (one `stat`), so a registry made shared later is honoured.
    pub(super) fn shared(&self) -> bool {
        fs::metadata(&self.root).is_ok_and(|m| m.permissions().mode() & 0o020 != 0)
    }

    /// Gives a directory the store created the shared mode, if shared.
    pub(super) fn share(&self, dir: &Path, mode: u32) -> io::Result<()> {
        if self.shared() {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }

    /// Gives a file the store created the shared mode, if shared (`fchmod`
    /// ignores the umask, which `open`'s mode does not).
    pub(super) fn share_file(&self, file: &File) -> io::Result<()> {
        if self.shared() {
            file.set_permissions(fs::Permissions::from_mode(SHARED_FILE_MODE))?;
        }
        Ok(())
    }
}
