//! Large files read or written from start to end: the kernel is told to
//! read ahead and to start writing back as we go, so that the disk works
//! while this process digests a block, as it does for a kernel copy (`cp`).
//! Measured on 1 GiB with the page cache dropped (docs/PERFORMANCE.md,
//! "Large files"): an add went from 2.7x `cp` + `sync` to 1.4x.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;

/// How far ahead of the reader [`ReadAhead`] asks the kernel to read.
const READ_AHEAD: u64 = 16 << 20;

/// A file read from start to end, with the kernel asked to read the next
/// [`READ_AHEAD`] bytes while the caller digests and writes the last block.
/// Without it, an add of a file not in the page cache waited for each
/// 4 MiB read in turn (1 GiB, caches dropped: 2.7x a `cp`, which the
/// kernel's own copy overlaps).
pub(crate) struct ReadAhead {
    file: File,
    pos: u64,
    hinted: u64,
}

impl ReadAhead {
    pub(crate) fn new(file: File) -> ReadAhead {
        // SAFETY: a valid descriptor; advice only, its result changes nothing.
        unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL) };
        ReadAhead {
            file,
            pos: 0,
            hinted: 0,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.pos += n as u64;
        // Ask again once half the window is used, so the kernel always has
        // a few blocks in flight.
        if n > 0 && self.pos + READ_AHEAD / 2 > self.hinted {
            let from = self.hinted.max(self.pos);
            let to = self.pos + READ_AHEAD;
            // SAFETY: a valid descriptor; advice only (WILLNEED starts
            // reads and returns).
            unsafe {
                libc::posix_fadvise(
                    self.file.as_raw_fd(),
                    from as libc::off_t,
                    (to - from) as libc::off_t,
                    libc::POSIX_FADV_WILLNEED,
                )
            };
            self.hinted = to;
        }
        Ok(n)
    }
}

/// Where a file written in order has been handed to writeback.
#[derive(Default)]
pub(crate) struct Writeback {
    written: u64,
}

impl Writeback {
    /// `n` more bytes were written to `file` at the end of what came
    /// before: start writing them out now, without waiting for it, so the
    /// disk works while the next block is read and digested and the fsync
    /// at the end has little left to do. Advice only: a failure here is
    /// met again by the fsync.
    pub(crate) fn wrote(&mut self, file: &File, n: usize) {
        // SAFETY: a valid descriptor and a range inside the file.
        unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                self.written as libc::off64_t,
                n as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
        self.written += n as u64;
    }
}
