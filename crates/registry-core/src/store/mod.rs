//! The storage trait under the registry, and its implementations.
//!
//! A registry needs very little from storage, and asking for little is what
//! lets the same registry run on a local disk, in memory and on an object
//! store. Every operation here maps onto one S3 request (`PUT` with
//! `If-None-Match: *`, `GET`, `LIST`, `PUT` with `If-Match`, `DELETE`), and on
//! a local filesystem onto a write-fsync-link or write-fsync-rename sequence.
//!
//! Keys are `/`-separated relative paths made of the characters
//! `[A-Za-z0-9._+-]` (see [`validate_key`]); no component is empty, `.` or
//! `..`, and no component starts with a `.` (those names are reserved for a
//! store's own temporary and lock files, which listings never show).

mod fs;
mod memory;

// Compiled for tests, and for other crates' tests behind the `conformance`
// feature (as object_store does with its `integration` module): it is test
// code, and panics, so it has no place in a release build.
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use fs::FsStore;
pub use memory::MemoryStore;

use std::path::PathBuf;

/// An opaque token naming one state of a pointer object (an S3 ETag, a
/// content digest, a generation number). Only equality is meaningful.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PointerTag(pub String);

/// A pointer object's bytes together with the tag of that exact state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    pub bytes: Vec<u8>,
    pub tag: PointerTag,
}

/// What [`Store::read_pointer_if_changed`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointerRead {
    /// Still in the state the caller knew (on S3 a conditional GET answered
    /// 304: nothing but headers was transferred).
    Unchanged,
    /// Another state, or gone (`None`).
    Changed(Option<Pointer>),
}

/// What a storage operation can fail with. `location` is what a person can
/// look at: a filesystem path or a URL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{location} does not exist")]
    NotFound { location: String },
    #[error("{location} already exists and objects are never overwritten")]
    AlreadyExists { location: String },
    #[error(
        "{location} was changed by someone else since it was read (compare-and-swap conflict); read it again and retry"
    )]
    Conflict { location: String },
    #[error(
        "{location} is {size} bytes, more than the {limit} such a file can validly hold; refusing to read it (it was written by something other than modelreg: move it away)"
    )]
    TooLarge { location: String, size: u64, limit: u64 },
    #[error(
        "{location} is {actual} bytes, but its version's metadata declares {expected}; refusing to read it (the file was changed or replaced after it was saved: restore it from a backup, or save a new version)"
    )]
    SizeMismatch {
        location: String,
        expected: u64,
        actual: u64,
    },
    #[error(
        "{location} is {size} bytes, more than this process can hold in memory ({reason}); nothing was changed (raise the memory limit of this process, e.g. `ulimit -v`)"
    )]
    OutOfMemory {
        location: String,
        size: u64,
        reason: String,
    },
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("refusing to use {location}: {reason}")]
    Unsafe { location: String, reason: String },
    /// A remote store could not be reached or answered with an error.
    #[error("request to {location} failed: {reason}")]
    Remote { location: String, reason: String },
    #[error("I/O error on {location}: {source}{hint}", hint = io_hint(source))]
    Io {
        location: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_hint(err: &std::io::Error) -> &'static str {
    match err.raw_os_error() {
        // What this one write did, not what the command did: a save whose
        // version committed but whose `latest` could not move says so itself.
        Some(libc::ENOSPC) => " (no space left on the device: free some space and retry; this file was not written)",
        Some(libc::EROFS) => " (the file system is read-only: reads work, writes need a writable registry)",
        Some(libc::EACCES) | Some(libc::EPERM) => {
            " (permission denied: check the owner and mode of the registry directory)"
        }
        _ => "",
    }
}

/// What a file that is not a regular file is, for messages that refuse it:
/// "a FIFO", "a symbolic link", "a character device", ...
pub(crate) fn describe_file_type(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// The block size of [`Store::read_blocks`].
pub const READ_BLOCK: usize = 4 << 20;

/// The largest pointer object (an alias) any store reads: an alias record
/// is a few hundred bytes.
pub const MAX_POINTER_BYTES: u64 = 64 * 1024;

/// The largest pointer object that may be read with
/// [`Store::read_pointer_limited`] (the catalog of a model's versions: ~300
/// bytes a version, so room for 100,000+), and so the most a store that
/// compares contents to swap a pointer reads of the current state.
pub const MAX_LARGE_POINTER_BYTES: u64 = 64 * 1024 * 1024;

/// The few operations a model registry needs from storage.
///
/// Guarantees every implementation must give (checked by
/// `store::conformance::check_store`, behind the `conformance` feature):
///
/// * **Atomic visibility.** A reader sees either all of an object's bytes or
///   none of it; never a prefix, never a mix of two writes.
/// * **Durability.** When a writing method returns `Ok`, the write survives a
///   crash or power loss of the writer (for the filesystem store: data and
///   directory entries are fsynced).
/// * **Immutability of created objects.** Objects written by [`Store::create`]
///   are never replaced; only [`Store::delete`] (used solely by explicit
///   repair) removes them.
/// * **Linearisable pointers.** [`Store::swap_pointer`] is a compare-and-swap:
///   of several concurrent swaps from the same tag, exactly one succeeds.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Where `key` lives, for messages: a path or a URL.
    fn location(&self, key: &str) -> String;

    /// Writes a new object, failing with [`StoreError::AlreadyExists`] if
    /// `key` already exists (whether or not the bytes are equal). Atomic and
    /// durable; of several concurrent creators of one key exactly one
    /// succeeds.
    fn create(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError>;

    /// [`Store::create`] from a stream: the object is everything `src`
    /// yields (`size` is what the caller expects it to yield, for the
    /// store to plan its writes by: an object store uploads a large object
    /// in parts). Same guarantees as `create`, and the object is written in
    /// bounded blocks, never held whole. An error reading `src` fails the
    /// create and leaves nothing behind. The default reads `src` into
    /// memory (at most `size + 1` bytes), then creates.
    fn create_from(&self, key: &str, src: &mut dyn std::io::Read, size: u64) -> Result<(), StoreError> {
        let mut bytes = Vec::new();
        let io = |source| StoreError::Io {
            location: self.location(key),
            source,
        };
        let n = usize::try_from(size).map_err(|_| StoreError::OutOfMemory {
            location: self.location(key),
            size,
            reason: "it does not fit in this process's address space".into(),
        })?;
        bytes.try_reserve_exact(n).map_err(|_| StoreError::OutOfMemory {
            location: self.location(key),
            size,
            reason: "reserving that much memory failed".into(),
        })?;
        std::io::Read::read_to_end(&mut std::io::Read::take(src, size.saturating_add(1)), &mut bytes).map_err(io)?;
        self.create(key, &bytes)
    }

    /// [`Store::create`] of a marker that only matters while its writer
    /// lives (a mover's pin): atomic and exclusive like `create`, visible to
    /// every other process at once, but not made durable (a crash may keep
    /// or lose it, both harmless), which spares a local disk its fsyncs. The
    /// default is `create`.
    fn create_transient(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.create(key, bytes)
    }

    /// Removes what [`Store::create_transient`] made, as cheaply (the
    /// default is `delete`).
    fn delete_transient(&self, key: &str) -> Result<(), StoreError> {
        self.delete(key)
    }

    /// Reads a whole object; [`StoreError::NotFound`] if absent.
    fn read(&self, key: &str) -> Result<Vec<u8>, StoreError>;

    /// A stream of an object of `expected` bytes (its size checked as in
    /// [`Store::read_sized_into`] before a byte is read), for copying an
    /// object of any size in bounded memory. The stream yields at most
    /// `expected` bytes; one that ends early is an I/O error. The default
    /// reads the sized object into memory.
    fn open_sized(&self, key: &str, expected: u64) -> Result<Box<dyn std::io::Read + Send + '_>, StoreError> {
        let mut bytes = None;
        self.read_sized_into(key, expected, &mut |b| bytes = Some(b.to_vec()))?;
        Ok(Box::new(std::io::Cursor::new(bytes.unwrap_or_default())))
    }

    /// Reads a whole object of at most `limit` bytes; a larger one is
    /// [`StoreError::TooLarge`], refused before its bytes are read where the
    /// store can tell the size first. For the registry's small documents
    /// (metadata, history entries), whose size no one else vouches for. The
    /// default reads, then checks.
    fn read_limited(&self, key: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        let bytes = self.read(key)?;
        if bytes.len() as u64 > limit {
            return Err(StoreError::TooLarge {
                location: self.location(key),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes)
    }

    /// Calls `f` once with an object's bytes, which are valid only during
    /// the call; [`StoreError::NotFound`] if absent. For reading a large
    /// object once (a model to decode): the filesystem store maps big files
    /// instead of copying them into fresh memory, which on a cold start
    /// costs a page fault per 4 KB. The default reads and passes the bytes.
    fn read_into(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        f(&self.read(key)?);
        Ok(())
    }

    /// [`Store::read_into`] for an object whose size someone vouches for
    /// (a version's metadata declares each file's size): an object of
    /// another size is [`StoreError::SizeMismatch`], refused before any
    /// memory is reserved for it, so a metadata document that declares
    /// 64 GiB costs nothing. The default reads at most `expected + 1`
    /// bytes ([`Store::read_limited`]), then checks.
    fn read_sized_into(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        let bytes = match self.read_limited(key, expected) {
            Err(StoreError::TooLarge { location, size, .. }) => {
                return Err(StoreError::SizeMismatch {
                    location,
                    expected,
                    actual: size,
                });
            }
            other => other?,
        };
        if bytes.len() as u64 != expected {
            return Err(StoreError::SizeMismatch {
                location: self.location(key),
                expected,
                actual: bytes.len() as u64,
            });
        }
        f(&bytes);
        Ok(())
    }

    /// An object of `expected` bytes (as [`Store::read_sized_into`]) passed
    /// to `f` in consecutive blocks of at most [`READ_BLOCK`] bytes, so a
    /// reader that only digests it (`verify`) holds a block, not the file.
    /// The default reads the sized object and splits it.
    fn read_blocks(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        self.read_sized_into(key, expected, &mut |bytes| bytes.chunks(READ_BLOCK).for_each(&mut *f))
    }

    /// Copies the object of `expected` bytes to the end of `out` without
    /// passing its bytes through this process, where the store can (a
    /// local file: `copy_file_range`, as `cp` does), calling `advance` as
    /// it goes. `Ok(Ok(false))` where it cannot, with nothing written: the
    /// caller streams instead. The outer error is the object's (not found,
    /// a size that differs), the inner one `out`'s (a full disk). Nothing is
    /// checked here: the caller checks what landed in `out`. The default
    /// cannot.
    fn copy_to_file(
        &self,
        _key: &str,
        _expected: u64,
        _out: &std::fs::File,
        _advance: &mut dyn FnMut(u64),
    ) -> Result<std::io::Result<bool>, StoreError> {
        Ok(Ok(false))
    }

    /// Every key that starts with `prefix`, sorted bytewise. `prefix` is a
    /// key prefix, usually ending in `/`; the empty prefix lists everything.
    /// Objects created before the call started are listed; objects being
    /// created concurrently may or may not be. Temporary files and lock files
    /// of the store itself are never listed.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// The group names directly under `prefix`: every `g` for which some key
    /// `prefix + g + "/" + …` exists; with `containing: Some(name)`, only the
    /// groups holding the object `prefix + g + "/" + name`. Sorted bytewise.
    /// The default derives it from [`Store::list`] (one LIST on an object
    /// store); the filesystem store reads one directory and checks one name
    /// per group instead of reading every group's directory.
    fn list_groups(&self, prefix: &str, containing: Option<&str>) -> Result<Vec<String>, StoreError> {
        let mut groups: Vec<String> = Vec::new();
        for key in self.list(prefix)? {
            let Some((group, rest)) = key[prefix.len()..].split_once('/') else {
                continue;
            };
            if containing.is_some_and(|name| rest != name) {
                continue;
            }
            if groups.last().map(String::as_str) != Some(group) {
                groups.push(group.to_string());
            }
        }
        groups.dedup();
        Ok(groups)
    }

    /// Reads a pointer object (a small object that [`Store::swap_pointer`]
    /// replaces) with the tag of the state read; `None` if it does not exist.
    /// Pointers are at most [`MAX_POINTER_BYTES`]; a larger one is
    /// [`StoreError::TooLarge`].
    fn read_pointer(&self, key: &str) -> Result<Option<Pointer>, StoreError> {
        self.read_pointer_limited(key, MAX_POINTER_BYTES)
    }

    /// [`Store::read_pointer`] for a poller: [`PointerRead::Unchanged`] if
    /// the pointer is still in the state `known` names. The default reads
    /// and compares tags; the S3 store sends a conditional GET
    /// (`If-None-Match`), so an unchanged pointer costs no body.
    fn read_pointer_if_changed(&self, key: &str, known: Option<&PointerTag>) -> Result<PointerRead, StoreError> {
        let current = self.read_pointer(key)?;
        Ok(match (&current, known) {
            (Some(p), Some(k)) if p.tag == *k => PointerRead::Unchanged,
            _ => PointerRead::Changed(current),
        })
    }

    /// [`Store::read_pointer`] for a pointer that may hold up to `limit`
    /// bytes (the derived catalog of versions); a larger one is
    /// [`StoreError::TooLarge`], refused before its bytes are read where the
    /// store can tell the size first.
    fn read_pointer_limited(&self, key: &str, limit: u64) -> Result<Option<Pointer>, StoreError>;

    /// Replaces a pointer object if it is still in the state `expected`
    /// (`None`: it must not exist yet), returning the new state's tag.
    /// Atomic and durable. If the pointer changed in between, nothing is
    /// written and [`StoreError::Conflict`] is returned.
    fn swap_pointer(&self, key: &str, expected: Option<&PointerTag>, new: &[u8]) -> Result<PointerTag, StoreError>;

    /// How long ago the object at `key` was written, if this store can
    /// tell (`None`: it cannot); [`StoreError::NotFound`] if it is absent.
    /// Repair removes the leftovers of an interrupted save only once they
    /// are older than a grace period, since a live writer's files look the
    /// same as a dead one's (git's `gc --prune=<date>` works the same way).
    /// The default cannot tell.
    fn age(&self, key: &str) -> Result<Option<std::time::Duration>, StoreError> {
        let _ = key;
        Ok(None)
    }

    /// Removes an object. Used only by explicit repair of interrupted writes
    /// (`verify --repair`), never by a normal save. Deleting an absent key is
    /// [`StoreError::NotFound`].
    fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Optional convenience for people and outside tools: make the objects
    /// under `target_prefix` browsable under `view` (the filesystem store
    /// points a symlink `view -> target_prefix`, swapped atomically). Nothing
    /// in this crate ever reads through a view. The default does nothing.
    fn publish_view(&self, view: &str, target_prefix: &str) -> Result<(), StoreError> {
        let _ = (view, target_prefix);
        Ok(())
    }

    /// Where `view` currently points, if this store keeps views.
    fn read_view(&self, view: &str) -> Result<Option<String>, StoreError> {
        let _ = view;
        Ok(None)
    }

    /// Removes leftovers of interrupted writes that the store itself made
    /// (temporary files of writers that are no longer running). Returns what
    /// was removed. The default has nothing to remove.
    fn remove_leftovers(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    /// Aborts the store's unfinished uploads under `prefix` (multipart
    /// uploads on S3, whose parts a killed writer leaves on the server,
    /// billed and in no listing) begun at least `older_than` ago; younger
    /// ones may belong to a running save and are kept. Used only by
    /// explicit repair. The default has no such uploads.
    fn abort_stale_uploads(&self, prefix: &str, older_than: std::time::Duration) -> Result<UploadSweep, StoreError> {
        let _ = (prefix, older_than);
        Ok(UploadSweep::default())
    }
}

/// What [`Store::abort_stale_uploads`] did: locations of the uploads it
/// aborted, and of those it kept as too young (or of unknown age).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadSweep {
    pub aborted: Vec<String>,
    pub kept: Vec<String>,
}

/// A boxed store is a store, so a program can choose its backend at run time
/// (`Registry<Box<dyn Store>>`) and still use every registry operation.
impl<T: Store + ?Sized> Store for Box<T> {
    fn location(&self, key: &str) -> String {
        (**self).location(key)
    }
    fn create(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        (**self).create(key, bytes)
    }
    fn create_transient(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        (**self).create_transient(key, bytes)
    }
    fn delete_transient(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete_transient(key)
    }
    fn create_from(&self, key: &str, src: &mut dyn std::io::Read, size: u64) -> Result<(), StoreError> {
        (**self).create_from(key, src, size)
    }
    fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        (**self).read(key)
    }
    fn open_sized(&self, key: &str, expected: u64) -> Result<Box<dyn std::io::Read + Send + '_>, StoreError> {
        (**self).open_sized(key, expected)
    }
    fn read_into(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        (**self).read_into(key, f)
    }
    fn read_limited(&self, key: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        (**self).read_limited(key, limit)
    }
    fn read_sized_into(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        (**self).read_sized_into(key, expected, f)
    }
    fn read_blocks(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        (**self).read_blocks(key, expected, f)
    }
    fn copy_to_file(
        &self,
        key: &str,
        expected: u64,
        out: &std::fs::File,
        advance: &mut dyn FnMut(u64),
    ) -> Result<std::io::Result<bool>, StoreError> {
        (**self).copy_to_file(key, expected, out, advance)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        (**self).list(prefix)
    }
    fn list_groups(&self, prefix: &str, containing: Option<&str>) -> Result<Vec<String>, StoreError> {
        (**self).list_groups(prefix, containing)
    }
    fn read_pointer(&self, key: &str) -> Result<Option<Pointer>, StoreError> {
        (**self).read_pointer(key)
    }
    fn read_pointer_limited(&self, key: &str, limit: u64) -> Result<Option<Pointer>, StoreError> {
        (**self).read_pointer_limited(key, limit)
    }
    fn read_pointer_if_changed(&self, key: &str, known: Option<&PointerTag>) -> Result<PointerRead, StoreError> {
        (**self).read_pointer_if_changed(key, known)
    }
    fn swap_pointer(&self, key: &str, expected: Option<&PointerTag>, new: &[u8]) -> Result<PointerTag, StoreError> {
        (**self).swap_pointer(key, expected, new)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key)
    }
    fn age(&self, key: &str) -> Result<Option<std::time::Duration>, StoreError> {
        (**self).age(key)
    }
    fn publish_view(&self, view: &str, target_prefix: &str) -> Result<(), StoreError> {
        (**self).publish_view(view, target_prefix)
    }
    fn read_view(&self, view: &str) -> Result<Option<String>, StoreError> {
        (**self).read_view(view)
    }
    fn remove_leftovers(&self) -> Result<Vec<String>, StoreError> {
        (**self).remove_leftovers()
    }
    fn abort_stale_uploads(&self, prefix: &str, older_than: std::time::Duration) -> Result<UploadSweep, StoreError> {
        (**self).abort_stale_uploads(prefix, older_than)
    }
}

/// Checks that `key` is a well-formed storage key (see the module docs).
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let bad = |reason: &str| {
        Err(StoreError::InvalidKey {
            key: key.to_string(),
            reason: reason.to_string(),
        })
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    for part in key.split('/') {
        if part.is_empty() {
            return bad("empty path component");
        }
        if part.starts_with('.') {
            return bad("components may not start with '.'");
        }
        if let Some(c) = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')))
        {
            return bad(&format!("character {c:?} is not allowed"));
        }
    }
    Ok(())
}

/// A filesystem path with the key appended, for messages and for the
/// filesystem store.
pub(crate) fn key_path(root: &std::path::Path, key: &str) -> PathBuf {
    let mut p = root.to_path_buf();
    for part in key.split('/') {
        p.push(part);
    }
    p
}
