//! A local cache of remote registries (`MODELREG_CACHE`, default
//! `~/.cache/modelreg`), so that a version read once loads again from local
//! disk, and a pinned version (`models:/NAME/VERSION`) loads with no request
//! to the store at all, even with the store unreachable: versions never
//! change once committed.
//!
//! The layout follows Hugging Face's hub cache: file contents are stored
//! once, by digest, whichever versions, models and registries hold them;
//! per registry, a snapshot of each version's committed documents names
//! them.
//!
//! ```text
//! <cache>/blobs/<blake3>                                  a file's bytes
//! <cache>/registries/<location>-<id>/<store key>          metadata.json, model.sig, the marker
//! ```
//!
//! * **Atomic and safe with many processes.** Blobs and documents are
//!   written by [`FsStore`]: a temporary file, fsync, then linked into place
//!   only if absent, so two processes filling the same blob both succeed
//!   and a reader never sees part of one.
//! * **Verified.** A blob is checked against its digest as it is written
//!   and again on every load (by the registry, as it checks the store's
//!   bytes); one that fails is reported on stderr, removed and fetched
//!   again.
//! * **Bounded.** Blobs total at most [`FsCache::max_bytes`]
//!   (`MODELREG_CACHE_MAX`, default 10 GB), the least recently used going
//!   first; a file larger than that is read from the store, uncached.
//!   Documents are a few KB per version and are not counted.
//!
//! Which reads use it, and why others do not, is registry-core's `cache`
//! module; opening a registry with one is registry-open's.

mod manage;
mod size;

pub use manage::{BlobEntry, CacheVerifyReport, clear, list, verify};
pub use size::parse_size;

use registry_core::cache::ReadCache;
use registry_core::store::{FsStore, Store};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The environment variable naming the cache directory.
pub const CACHE_ENV: &str = "MODELREG_CACHE";
/// The environment variable bounding the blobs' total size ("10GB", "500MiB", bytes).
pub const CACHE_MAX_ENV: &str = "MODELREG_CACHE_MAX";
/// The default bound: 10 GB.
pub const DEFAULT_MAX_BYTES: u64 = 10_000_000_000;

const BLOBS: &str = "blobs";
const REGISTRIES: &str = "registries";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "cache directory {path}: {source} (set --cache-dir or {CACHE_ENV} to another directory, or pass --no-cache)"
    )]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{CACHE_MAX_ENV}={value:?}: {reason}")]
    InvalidMax { value: String, reason: String },
    #[error(
        "no cache directory: neither {CACHE_ENV} nor HOME is set (set --cache-dir or {CACHE_ENV}, or pass --no-cache)"
    )]
    NoHome,
}

impl CacheError {
    /// What kind of failure this is (registry-core's one table).
    pub fn kind(&self) -> registry_core::ErrorKind {
        match self {
            CacheError::Io { .. } => registry_core::ErrorKind::Storage,
            CacheError::InvalidMax { .. } | CacheError::NoHome => registry_core::ErrorKind::InvalidInput,
        }
    }
}

/// The cache directory: `explicit` (`--cache-dir`), else `MODELREG_CACHE`,
/// else `$XDG_CACHE_HOME/modelreg`, else `~/.cache/modelreg`.
pub fn cache_dir(explicit: Option<&Path>) -> Result<PathBuf, CacheError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var(CACHE_ENV) {
        return Ok(dir);
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Ok(dir.join("modelreg"));
    }
    var("HOME")
        .map(|h| h.join(".cache").join("modelreg"))
        .ok_or(CacheError::NoHome)
}

/// The bound on the blobs' total size: `MODELREG_CACHE_MAX`, else 10 GB.
pub fn max_bytes_from_env() -> Result<u64, CacheError> {
    match std::env::var(CACHE_MAX_ENV) {
        Ok(value) if !value.trim().is_empty() => {
            parse_size(&value).map_err(|reason| CacheError::InvalidMax { value, reason })
        }
        _ => Ok(DEFAULT_MAX_BYTES),
    }
}

/// The cache at a directory, seen from one registry (whose documents it
/// keeps apart from other registries'; blobs are shared by all).
#[derive(Debug)]
pub struct FsCache {
    root: PathBuf,
    blobs: FsStore,
    documents: FsStore,
    max_bytes: u64,
    /// What was already reported damaged, so each is said once.
    reported: Mutex<HashSet<String>>,
}

impl FsCache {
    /// The cache at `root` for the registry at `location` (as typed, with
    /// the server it lives on, e.g. an S3 endpoint: the same bucket name on
    /// two servers is two registries). Creates its directories.
    pub fn open(root: &Path, location: &str, server: Option<&str>, max_bytes: u64) -> Result<FsCache, CacheError> {
        let id = registry_id(location, server);
        let blobs = root.join(BLOBS);
        let documents = root.join(REGISTRIES).join(id);
        for dir in [&blobs, &documents] {
            std::fs::create_dir_all(dir).map_err(|source| CacheError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        Ok(FsCache {
            root: root.to_path_buf(),
            blobs: FsStore::new(blobs),
            documents: FsStore::new(documents),
            max_bytes,
            reported: Mutex::new(HashSet::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn blob_path(&self, blake3: &str) -> PathBuf {
        self.blobs.root().join(blake3)
    }

    fn say_once(&self, what: &str, message: &str) {
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if reported.insert(what.to_string()) {
            eprintln!("modelreg cache: {message}");
        }
    }
}

/// `<location with unsafe characters replaced>-<16 hex of BLAKE3(server, location)>`:
/// readable, and distinct for distinct registries.
fn registry_id(location: &str, server: Option<&str>) -> String {
    let mut h = blake3::Hasher::new();
    h.update(server.unwrap_or("").as_bytes());
    h.update(b"\0");
    h.update(location.as_bytes());
    let hash = h.finalize().to_hex();
    let slug: String = location
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' })
        .take(80)
        .collect();
    format!("{}-{}", slug.trim_matches('-'), &hash[..16])
}

/// A BLAKE3 digest as the registry records it: 64 lower-case hex digits.
fn is_digest(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl ReadCache for FsCache {
    fn document(&self, key: &str) -> Option<Vec<u8>> {
        // Committed documents are small; anything larger is not one of ours.
        let hit = self.documents.read_limited(key, 4 << 20).ok();
        if hit.is_some() {
            // Said once: a pinned version read from here makes no request,
            // so this line is how a user learns why an unreachable store
            // did not stop the read (and where the bytes came from).
            self.say_once(
                "hit",
                &format!(
                    "reading cached content of this registry from {} (a pinned version cached there needs no request to the store)",
                    self.root.display()
                ),
            );
        }
        hit
    }

    fn put_document(&self, key: &str, bytes: &[u8]) {
        // Already there (another process, or a damaged copy being
        // replaced): the damaged path deleted it first.
        let _ = self.documents.create(key, bytes);
    }

    fn has_documents_under(&self, prefix: &str) -> bool {
        let dir = self.documents.root().join(prefix.trim_end_matches('/'));
        std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
    }

    fn blobs(&self, size: u64) -> Option<&FsStore> {
        (size <= self.max_bytes).then_some(&self.blobs)
    }

    fn used(&self, blake3: &str) {
        // The modification time is the last use (the access time is often
        // not kept: noatime, relatime).
        if let Ok(f) = std::fs::File::options().append(true).open(self.blob_path(blake3)) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
    }

    fn filled(&self, blake3: &str, _size: u64) {
        if let Err(e) = self.evict(Some(blake3)) {
            self.say_once(
                "evict",
                &format!("cannot make room in {}: {e}", self.blobs.root().display()),
            );
        }
    }

    fn damaged(&self, what: &str, reason: &str) {
        let (path, removed) = if is_digest(what) {
            (self.blob_path(what), self.blobs.delete(what).is_ok())
        } else {
            (self.documents.root().join(what), self.documents.delete(what).is_ok())
        };
        let outcome = if removed {
            "removed; read again from the store"
        } else {
            "read from the store instead"
        };
        self.say_once(what, &format!("{}: {reason}: {outcome}", path.display()));
    }
}
