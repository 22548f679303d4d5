//! Reading a model by mapping its file instead of copying it.

use std::fs::File;

/// A whole file mapped read-only, with every page mapped up front
/// (`MAP_POPULATE`: one system call instead of a fault per 4 KB page).
///
/// Sound because the registry never changes a created file: objects are
/// written to a temporary file and linked into place, never truncated or
/// rewritten. Someone else truncating a model file *while* it is mapped
/// would end the process with SIGBUS; the window is the few milliseconds a
/// model takes to decode, and the size checked afterwards catches a file
/// truncated before.
pub(super) struct MappedFile {
    ptr: *mut libc::c_void,
    len: usize,
}

impl MappedFile {
    pub(super) fn map(file: &File, len: usize) -> Option<MappedFile> {
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

    pub(super) fn bytes(&self) -> &[u8] {
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
