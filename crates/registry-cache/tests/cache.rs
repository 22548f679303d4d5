//! The cache seen through the registry: which requests a cached read still
//! makes, damaged blobs, eviction, and several fillers at once.

use registry_cache::FsCache;
use registry_core::cache::ReadCache;
use registry_core::store::{MemoryStore, Pointer, PointerTag, Store, StoreError};
use registry_core::{AliasName, Expect, ModelInfo, ModelName, ModelVersion, NewFile, Registry};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A store that records every request made of it (key and kind).
#[derive(Debug, Default)]
struct Counting {
    inner: MemoryStore,
    requests: Mutex<Vec<String>>,
    /// With `down`, every request fails as an unreachable server would.
    down: std::sync::atomic::AtomicBool,
}

impl Counting {
    fn note(&self, what: &str, key: &str) -> Result<(), StoreError> {
        self.requests.lock().unwrap().push(format!("{what} {key}"));
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                location: key.to_string(),
                source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "store is down"),
            });
        }
        Ok(())
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

impl Store for Counting {
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }
    fn create(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.note("create", key)?;
        self.inner.create(key, bytes)
    }
    fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.note("read", key)?;
        self.inner.read(key)
    }
    fn open_sized(&self, key: &str, expected: u64) -> Result<Box<dyn std::io::Read + Send + '_>, StoreError> {
        self.note("read", key)?;
        self.inner.open_sized(key, expected)
    }
    fn read_limited(&self, key: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        self.note("read", key)?;
        self.inner.read_limited(key, limit)
    }
    fn read_into(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        self.note("read", key)?;
        self.inner.read_into(key, f)
    }
    fn read_sized_into(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        self.note("read", key)?;
        self.inner.read_sized_into(key, expected, f)
    }
    fn read_blocks(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        self.note("read", key)?;
        self.inner.read_blocks(key, expected, f)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.note("list", prefix)?;
        self.inner.list(prefix)
    }
    fn list_groups(&self, prefix: &str, containing: Option<&str>) -> Result<Vec<String>, StoreError> {
        self.note("list", prefix)?;
        self.inner.list_groups(prefix, containing)
    }
    fn read_pointer_limited(&self, key: &str, limit: u64) -> Result<Option<Pointer>, StoreError> {
        self.note("pointer", key)?;
        self.inner.read_pointer_limited(key, limit)
    }
    fn swap_pointer(&self, key: &str, expected: Option<&PointerTag>, new: &[u8]) -> Result<PointerTag, StoreError> {
        self.note("swap", key)?;
        self.inner.swap_pointer(key, expected, new)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.note("delete", key)?;
        self.inner.delete(key)
    }
}

/// A store shared by several registry handles (each test opens "a new
/// process" as a fresh handle on the same store and cache directory).
#[derive(Debug, Clone)]
struct Shared(Arc<Counting>);

impl Store for Shared {
    fn location(&self, key: &str) -> String {
        format!("mem://test/{key}")
    }
    fn create(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.0.create(key, bytes)
    }
    fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.0.read(key)
    }
    fn open_sized(&self, key: &str, expected: u64) -> Result<Box<dyn std::io::Read + Send + '_>, StoreError> {
        self.0.open_sized(key, expected)
    }
    fn read_limited(&self, key: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        self.0.read_limited(key, limit)
    }
    fn read_into(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        self.0.read_into(key, f)
    }
    fn read_sized_into(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        self.0.read_sized_into(key, expected, f)
    }
    fn read_blocks(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        self.0.read_blocks(key, expected, f)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.0.list(prefix)
    }
    fn list_groups(&self, prefix: &str, containing: Option<&str>) -> Result<Vec<String>, StoreError> {
        self.0.list_groups(prefix, containing)
    }
    fn read_pointer_limited(&self, key: &str, limit: u64) -> Result<Option<Pointer>, StoreError> {
        self.0.read_pointer_limited(key, limit)
    }
    fn swap_pointer(&self, key: &str, expected: Option<&PointerTag>, new: &[u8]) -> Result<PointerTag, StoreError> {
        self.0.swap_pointer(key, expected, new)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key)
    }
}

fn model() -> Option<ModelName> {
    Some("spam".parse().unwrap())
}

/// A registry with model `spam` holding versions 1.0.0.. of `sizes` bytes each.
fn filled(sizes: &[usize]) -> Shared {
    let store = Shared(Arc::new(Counting::default()));
    let registry = Registry::open_store(store.clone()).unwrap().for_model(model());
    for (i, size) in sizes.iter().enumerate() {
        let bytes: Vec<u8> = (0..*size).map(|b| (b * 7 + i * 13) as u8).collect();
        let v: ModelVersion = format!("1.{i}.0").parse().unwrap();
        let file = NewFile {
            path: "weights.bin".into(),
            bytes,
        };
        registry.save_files(&v, &[file], ModelInfo::default()).unwrap();
    }
    store.0.take();
    store
}

/// A fresh handle on `store` through the cache at `dir`: what a new process does.
fn open(store: &Shared, dir: &std::path::Path, max: u64) -> (Registry<Shared>, Arc<FsCache>) {
    let cache = Arc::new(FsCache::open(dir, "mem://test", None, max).unwrap());
    let shared: Arc<dyn ReadCache> = cache.clone();
    let registry = Registry::open_existing_cached(store.clone(), Some(shared))
        .unwrap()
        .for_model(model());
    registry.require_model().unwrap();
    (registry, cache)
}

/// Loads `version`'s weights as a predictor does: metadata, then the checked bytes.
fn load(registry: &Registry<Shared>, version: &str) -> Vec<u8> {
    let metadata = registry.metadata(&version.parse().unwrap()).unwrap();
    registry
        .read_version_file(&metadata, "weights.bin", <[u8]>::to_vec)
        .unwrap()
}

fn file_reads(requests: &[String]) -> usize {
    requests.iter().filter(|r| r.ends_with("weights.bin")).count()
}

#[test]
fn a_pinned_version_read_once_loads_with_no_request_at_all() {
    let store = filled(&[300_000]);
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = open(&store, dir.path(), 1 << 30);
    let first = load(&registry, "1.0.0");
    let requests = store.0.take();
    assert_eq!(file_reads(&requests), 1, "{requests:?}");

    // A new process: opening, the model check, metadata and bytes all from the cache.
    let (registry, _) = open(&store, dir.path(), 1 << 30);
    assert_eq!(load(&registry, "1.0.0"), first);
    assert_eq!(store.0.take(), Vec::<String>::new());

    // With the store down, too.
    store.0.down.store(true, Ordering::SeqCst);
    let (registry, _) = open(&store, dir.path(), 1 << 30);
    assert_eq!(load(&registry, "1.0.0"), first);
    // ...while what is not cached fails, naming the store's error.
    let err = registry.metadata(&"9.9.9".parse().unwrap()).unwrap_err().to_string();
    assert!(err.contains("store is down"), "{err}");
}

#[test]
fn an_alias_still_reads_its_pointer_then_uses_the_cache() {
    let store = filled(&[1000, 2000]);
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = open(&store, dir.path(), 1 << 30);
    let production: AliasName = "production".parse().unwrap();
    Registry::open_store(store.clone())
        .unwrap()
        .for_model(model())
        .set_alias(&production, &"1.0.0".parse().unwrap(), Expect::Nothing)
        .unwrap();
    let metadata = registry.alias_metadata(&production).unwrap();
    registry.read_version_file(&metadata, "weights.bin", |_| ()).unwrap();
    store.0.take();
    let metadata = registry.alias_metadata(&production).unwrap();
    registry.read_version_file(&metadata, "weights.bin", |_| ()).unwrap();
    let requests = store.0.take();
    assert!(requests.iter().all(|r| r.starts_with("pointer ")), "{requests:?}");
    assert!(!requests.is_empty());
}

#[test]
fn a_damaged_blob_is_detected_reported_and_fetched_again() {
    let store = filled(&[50_000]);
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = open(&store, dir.path(), 1 << 30);
    let good = load(&registry, "1.0.0");
    let blob = registry_cache::list(dir.path()).unwrap().remove(0);
    let path = dir.path().join("blobs").join(&blob.blake3);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    store.0.take();

    assert_eq!(load(&registry, "1.0.0"), good);
    assert_eq!(file_reads(&store.0.take()), 1, "fetched again from the store");
    assert_eq!(std::fs::read(&path).unwrap(), good, "the blob was replaced");

    // `registry cache verify` finds a damaged blob too, and removes it.
    std::fs::write(&path, b"not the bytes").unwrap();
    let report = registry_cache::verify(dir.path()).unwrap();
    assert_eq!(report.checked, 1);
    assert_eq!(report.removed.len(), 1, "{report:?}");
    assert!(!path.exists());
}

#[test]
fn the_least_recently_used_blobs_go_first_and_the_total_stays_bounded() {
    let store = filled(&[100_000, 100_000, 100_000]);
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = open(&store, dir.path(), 250_000);
    load(&registry, "1.0.0");
    std::thread::sleep(std::time::Duration::from_millis(20));
    load(&registry, "1.1.0");
    std::thread::sleep(std::time::Duration::from_millis(20));
    load(&registry, "1.0.0"); // used again: 1.1.0 is now the least recent
    std::thread::sleep(std::time::Duration::from_millis(20));
    load(&registry, "1.2.0");
    let left = registry_cache::list(dir.path()).unwrap();
    let total: u64 = left.iter().map(|b| b.size).sum();
    assert!(total <= 250_000, "{left:?}");
    let held: Vec<String> = left.iter().flat_map(|b| b.used_by.clone()).collect();
    assert!(held.iter().any(|h| h.contains("1.0.0")), "{held:?}");
    assert!(held.iter().any(|h| h.contains("1.2.0")), "{held:?}");
    assert!(!held.iter().any(|h| h.contains("1.1.0")), "{held:?}");
    store.0.take();
    load(&registry, "1.1.0");
    assert_eq!(file_reads(&store.0.take()), 1, "an evicted blob is fetched again");

    // A file larger than the whole cache is read from the store, uncached.
    let (small, _) = open(&store, tempfile::tempdir().unwrap().path(), 10);
    load(&small, "1.0.0");
    load(&small, "1.0.0");
    assert_eq!(file_reads(&store.0.take()), 2);
}

#[test]
fn many_fillers_of_one_cache_at_once_all_get_checked_bytes() {
    let store = filled(&[3 << 20, 2 << 20]);
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let plain = Registry::open_store(store.clone()).unwrap().for_model(model());
        let md = plain.metadata(&"1.0.0".parse().unwrap()).unwrap();
        plain.read_version_file(&md, "weights.bin", <[u8]>::to_vec).unwrap()
    };
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for i in 0..8 {
            let (store, dir, expected, done) = (&store, dir.path(), &expected, &done);
            s.spawn(move || {
                let (registry, _) = open(store, dir, 1 << 30);
                let version = if i % 2 == 0 { "1.0.0" } else { "1.1.0" };
                let got = load(&registry, version);
                if version == "1.0.0" {
                    assert_eq!(&got, expected);
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), 8);
    let blobs = registry_cache::list(dir.path()).unwrap();
    assert_eq!(blobs.len(), 2, "{blobs:?}");
    assert_eq!(registry_cache::verify(dir.path()).unwrap().removed, vec![]);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn clear_empties_only_what_the_cache_owns() {
    let store = filled(&[1000]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("unrelated"), b"keep me").unwrap();
    let (registry, _) = open(&store, dir.path(), 1 << 30);
    load(&registry, "1.0.0");
    assert_eq!(registry_cache::clear(dir.path()).unwrap(), (1, 1000));
    assert!(registry_cache::list(dir.path()).unwrap().is_empty());
    assert!(dir.path().join("unrelated").exists());
}
