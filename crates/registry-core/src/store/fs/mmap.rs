//! Reading a model by mapping its file instead of copying it.

use std::fs::File;

/// The largest file whose pages are all mapped up front.
const POPULATE_UP_TO: usize = 256 << 20;

/// A whole file mapped read-only. Up to [`POPULATE_UP_TO`] every page is
/// mapped up front (`MAP_POPULATE`: one system call instead of a fault per
/// 4 KB page, the cold start of a model); a larger file is faulted in as it
/// is read, sequentially, so a multi-GB file never has to fit in memory at
/// once (its pages are the page cache's, reclaimable).
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
        let populate = if len <= POPULATE_UP_TO { libc::MAP_POPULATE } else { 0 };
        // SAFETY: a fresh private read-only mapping of an open file; the
        // result is checked before use and unmapped exactly once in Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | populate,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        if populate == 0 {
            // SAFETY: advice on the mapping just made; failure is harmless.
            unsafe {
                libc::madvise(ptr, len, libc::MADV_SEQUENTIAL);
            }
        }
        Some(MappedFile { ptr, len })
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
