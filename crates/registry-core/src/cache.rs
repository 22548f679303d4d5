//! The hook a local cache of a remote registry plugs into.
//!
//! A version never changes once committed, so what a reader fetched of it
//! (its `metadata.json`, its signature, its files) can be kept on local disk
//! and used again without asking the store. The registry owns *what* may be
//! cached and checks every byte it gets from the cache as it checks the
//! store's (size and digest on every load); an implementation
//! (`registry-cache`) owns *where* and *how much*: its layout, eviction and
//! reporting.
//!
//! What is cached, and why it is safe:
//!
//! * **Files, by BLAKE3 digest** ([`ReadCache::blobs`]): content-addressed,
//!   so a blob is the same bytes whichever version, model or registry
//!   recorded that digest. Files recorded with sha256 only (saved before
//!   BLAKE3 was recorded) are not cached.
//! * **Committed documents, by store key** ([`ReadCache::document`]): a
//!   version's `metadata.json` (immutable: it is the commit point), its
//!   signature once present (a missing one is asked of the store every
//!   time, since `registry sign` may add it), and the registry's format
//!   marker.
//!
//! Alias pointers (`latest`, `production`) are never cached: they move.

use crate::store::FsStore;

/// A local cache of a registry's immutable content. Every method is a hint:
/// a cache that cannot answer or cannot write costs a store request, never
/// a failure of the read.
pub trait ReadCache: Send + Sync + std::fmt::Debug {
    /// A committed document of this registry (by its store key), if cached.
    fn document(&self, key: &str) -> Option<Vec<u8>>;
    /// Keeps a committed document the store returned.
    fn put_document(&self, key: &str, bytes: &[u8]);
    /// Whether any document under `prefix` is cached: a named model the
    /// cache holds versions of exists (models are never renamed).
    fn has_documents_under(&self, prefix: &str) -> bool;
    /// The store holding blobs under their BLAKE3 digest (lower-case hex),
    /// or `None` when a file of `size` bytes is not to be cached (larger
    /// than the whole cache, or the cache is unusable).
    fn blobs(&self, size: u64) -> Option<&FsStore>;
    /// A blob was read: the least recently used ones go first.
    fn used(&self, blake3: &str);
    /// A blob of `size` bytes was added and checked: make room if needed.
    fn filled(&self, blake3: &str, size: u64);
    /// A blob (by digest) or a document (by key) failed its check or could
    /// not be written (`reason`): it is removed, and the read goes to the
    /// store instead. Implementations say so.
    fn damaged(&self, what: &str, reason: &str);
}
