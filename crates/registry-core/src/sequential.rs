//! Large files read or written from start to end: the kernel is told to
//! read ahead and to start writing back as we go, so that the disk works
//! while this process digests a block, as it does for a kernel copy (`cp`),
//! and what has been written is dropped from the page cache behind the
//! writer. Measured on 1 GiB (docs/PERFORMANCE.md, "Large files"): an add
//! with the page cache dropped went from 2.7x `cp` + `sync` to 1.4x; a get
//! with it kept from 2.2-3.1 s to 0.6 s.

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

/// How far behind the writer its written blocks are waited for and
/// dropped from the page cache.
const WRITE_BEHIND: u64 = 16 << 20;

/// Where a file written in order has been handed to writeback, and
/// released from the page cache.
#[derive(Default)]
pub(crate) struct Writeback {
    written: u64,
    released: u64,
}

impl Writeback {
    /// `n` more bytes were written to `file` at the end of what came
    /// before: start writing them out now, without waiting for it, so the
    /// disk works while the next block is read and digested and the fsync
    /// at the end has little left to do. Once a range is [`WRITE_BEHIND`]
    /// behind, wait for it to be on disk and drop it from the page cache
    /// (as `dd oflag=nocache`): the file's pages are then the same few
    /// reused, where a multi-GB file would otherwise take as many fresh
    /// pages as it has bytes, and evict everything else (on this VM fresh
    /// pages cost system time on first touch: a `get` of 1 GiB with caches
    /// kept ran 3.9x a `cp`). Advice only: a failure here is met again by
    /// the fsync.
    pub(crate) fn wrote(&mut self, file: &File, n: usize) {
        let fd = file.as_raw_fd();
        // SAFETY: a valid descriptor and ranges inside the file.
        unsafe {
            libc::sync_file_range(
                fd,
                self.written as libc::off64_t,
                n as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.written += n as u64;
        if self.written >= self.released + 2 * WRITE_BEHIND {
            let upto = self.written - WRITE_BEHIND;
            let len = (upto - self.released) as libc::off64_t;
            // SAFETY: as above.
            unsafe {
                libc::sync_file_range(
                    fd,
                    self.released as libc::off64_t,
                    len,
                    libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER,
                );
                libc::posix_fadvise(
                    fd,
                    self.released as libc::off_t,
                    len as libc::off_t,
                    libc::POSIX_FADV_DONTNEED,
                );
            }
            self.released = upto;
        }
    }
}
