//! Looking after a cache directory: eviction, and `registry cache
//! list|verify|clear`. These work on the directory alone, whichever
//! registries filled it.

use super::{BLOBS, FsCache, REGISTRIES, is_digest};
use registry_core::store::{FsStore, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One cached file.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobEntry {
    /// Its BLAKE3 digest (its name in `blobs/`).
    pub blake3: String,
    pub size: u64,
    /// When it was last read (or written).
    pub last_used: SystemTime,
    /// The cached versions that hold it: `<registry>: <model> <version> <path>`.
    pub used_by: Vec<String>,
}

/// What `registry cache verify` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheVerifyReport {
    pub checked: usize,
    pub bytes: u64,
    /// Blobs whose bytes did not match their name: removed, each with why.
    pub removed: Vec<(String, String)>,
}

/// The blobs in `root` (name, size, modification time); anything else in
/// `blobs/` (a temporary file being written) is left alone.
fn blobs(root: &Path) -> std::io::Result<Vec<(String, u64, SystemTime)>> {
    let dir = root.join(BLOBS);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Evicted by another process between the listing and the look.
        let Ok(meta) = entry.metadata() else { continue };
        if is_digest(&name) && meta.is_file() {
            found.push((name, meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
        }
    }
    Ok(found)
}

impl FsCache {
    /// Removes the least recently used blobs until they total at most
    /// [`FsCache::max_bytes`], never `keep` (the blob just filled, about to
    /// be read). Returns how many bytes went. A blob another process is
    /// reading stays readable to it (an open file outlives its name) and is
    /// fetched again by the next reader.
    pub fn evict(&self, keep: Option<&str>) -> std::io::Result<u64> {
        let mut found = blobs(&self.root)?;
        let mut total: u64 = found.iter().map(|b| b.1).sum();
        if total <= self.max_bytes {
            return Ok(0);
        }
        found.sort_by_key(|b| b.2);
        let mut freed = 0;
        for (name, size, _) in found {
            if total <= self.max_bytes {
                break;
            }
            if Some(name.as_str()) == keep {
                continue;
            }
            match std::fs::remove_file(self.root.join(BLOBS).join(&name)) {
                Ok(()) => freed += size,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            total -= size;
        }
        Ok(freed)
    }
}

/// Every cached version's files by digest: `digest -> [who holds it]`,
/// read from the cached metadata (documents that do not parse are skipped:
/// the registry checks them when it reads them).
fn holders(root: &Path) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(registries) = std::fs::read_dir(root.join(REGISTRIES)) else {
        return map;
    };
    for registry in registries.flatten() {
        let name = registry.file_name().to_string_lossy().into_owned();
        let mut stack = vec![registry.path()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(kind) = entry.file_type() else { continue };
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file() && entry.file_name() == registry_core::METADATA_FILE {
                    add_holder(&mut map, &name, &path);
                }
            }
        }
    }
    map
}

fn add_holder(map: &mut BTreeMap<String, Vec<String>>, registry: &str, path: &PathBuf) {
    let Ok(bytes) = std::fs::read(path) else { return };
    let Ok(metadata) = registry_core::ModelMetadata::from_json(&bytes, &path.display().to_string()) else {
        return;
    };
    let model = metadata
        .model
        .clone()
        .unwrap_or_else(|| registry_core::ModelName::DEFAULT.to_string());
    for file in metadata.stored_files() {
        if let Some(blake3) = file.blake3 {
            map.entry(blake3.to_string())
                .or_default()
                .push(format!("{registry}: {model} {} {}", metadata.version, file.path));
        }
    }
}

/// The blobs in the cache at `root`, most recently used first.
pub fn list(root: &Path) -> std::io::Result<Vec<BlobEntry>> {
    let mut holders = holders(root);
    let mut entries: Vec<BlobEntry> = blobs(root)?
        .into_iter()
        .map(|(blake3, size, last_used)| BlobEntry {
            used_by: holders.remove(&blake3).unwrap_or_default(),
            blake3,
            size,
            last_used,
        })
        .collect();
    entries.sort_by_key(|b| std::cmp::Reverse(b.last_used));
    Ok(entries)
}

/// Checks every blob of the cache at `root` against its name (BLAKE3),
/// removing those that fail.
pub fn verify(root: &Path) -> std::io::Result<CacheVerifyReport> {
    let store = FsStore::new(root.join(BLOBS));
    let mut report = CacheVerifyReport::default();
    for (name, size, _) in blobs(root)? {
        let mut h = blake3::Hasher::new();
        let outcome = store.read_blocks(&name, size, &mut |block| {
            // One core per block: waking rayon for every block of a
            // stream costs more than it saves (see registry-core's write.rs).
            h.update(block);
        });
        let problem = match outcome {
            Ok(()) => {
                let actual = h.finalize().to_hex().to_string();
                (actual != name).then(|| format!("its bytes have BLAKE3 {actual}"))
            }
            Err(registry_core::store::StoreError::NotFound { .. }) => continue,
            Err(e) => Some(e.to_string()),
        };
        report.checked += 1;
        report.bytes += size;
        if let Some(why) = problem {
            let _ = store.delete(&name);
            report.removed.push((name, why));
        }
    }
    Ok(report)
}

/// Empties the cache at `root` (its blobs and cached documents; nothing
/// else in the directory). Returns the blobs' count and bytes.
pub fn clear(root: &Path) -> std::io::Result<(usize, u64)> {
    let found = blobs(root)?;
    for dir in [BLOBS, REGISTRIES] {
        match std::fs::remove_dir_all(root.join(dir)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok((found.len(), found.iter().map(|b| b.1).sum()))
}
