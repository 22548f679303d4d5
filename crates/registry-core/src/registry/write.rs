//! Writing a version: its files streamed into the store in blocks and
//! digested on the way (so a file of any size costs a block of memory and
//! one read), then its signature and metadata (the commit point), then
//! `latest`. Every save, registration and copy goes through here.

use super::{NewFile, Registry, keys};
use crate::error::{RegistryError, Result};
use crate::metadata::{FileInfo, ModelMetadata};
use crate::names::ModelVersion;
use crate::store::{Store, StoreError};
use sha2::Digest;
use std::io::Read;

/// A file to write into a version: its path there, how many bytes it
/// holds, and a stream of them. Implemented for in-memory [`NewFile`]s,
/// for local files (`local_files::LocalFile`) and for another registry's
/// stored files (copies), so that the registry itself knows nothing of
/// where bytes come from.
pub trait FileSource {
    /// The path inside the version directory.
    fn path(&self) -> &str;
    /// How many bytes the stream must yield: one that yields another
    /// number (a file changed while it was read) fails the save.
    fn size(&self) -> u64;
    /// Where the bytes come from, for messages.
    fn location(&self) -> String;
    /// A fresh stream of the bytes (a retried save opens it again).
    fn open(&self) -> Result<Box<dyn Read + '_>>;
}

impl FileSource for NewFile {
    fn path(&self) -> &str {
        &self.path
    }
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn location(&self) -> String {
        format!("the bytes given for {}", self.path)
    }
    fn open(&self) -> Result<Box<dyn Read + '_>> {
        Ok(Box::new(self.bytes.as_slice()))
    }
}

/// Bytes already in memory under a path (artifacts, imported copies).
pub(super) struct InMemory<'a> {
    pub path: &'a str,
    pub bytes: &'a [u8],
}

impl FileSource for InMemory<'_> {
    fn path(&self) -> &str {
        self.path
    }
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn location(&self) -> String {
        format!("the bytes of {}", self.path)
    }
    fn open(&self) -> Result<Box<dyn Read + '_>> {
        Ok(Box::new(self.bytes))
    }
}

/// A file already in a store, read as a save copies it: another
/// registry's (a copy's source), or a front end's staging area.
pub struct StoredSource<'a> {
    pub store: &'a dyn Store,
    pub key: String,
    pub path: String,
    pub size: u64,
}

impl FileSource for StoredSource<'_> {
    fn path(&self) -> &str {
        &self.path
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn location(&self) -> String {
        self.store.location(&self.key)
    }
    fn open(&self) -> Result<Box<dyn Read + '_>> {
        Ok(self.store.open_sized(&self.key, self.size)?)
    }
}

/// A stream that digests what passes through it (sha256, and BLAKE3 on
/// every core for large blocks) and stops at the size announced, keeping
/// the source's own error so a failed read is reported as the source's,
/// not the store's.
struct Digesting<'a> {
    inner: Box<dyn Read + 'a>,
    sha256: sha2::Sha256,
    blake3: blake3::Hasher,
    seen: u64,
    limit: u64,
    failed: Option<std::io::Error>,
    progress: Option<Box<dyn crate::progress::Transfer>>,
}

impl Read for Digesting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = (self.limit - self.seen).min(buf.len() as u64) as usize;
        if room == 0 {
            return Ok(0);
        }
        let n = match self.inner.read(&mut buf[..room]) {
            Ok(n) => n,
            Err(e) => {
                let copy = std::io::Error::new(e.kind(), e.to_string());
                self.failed = Some(e);
                return Err(copy);
            }
        };
        let block = &buf[..n];
        // sha256 on this thread, BLAKE3 (SIMD, faster than sha256 on one
        // core) on another. Not rayon: waking the pool for every block of a
        // stream cost more system time than both digests together (an
        // add of 1 GiB: 4.0 s, 2.8 s of it system time, before; 2.2 s after).
        std::thread::scope(|s| {
            if block.len() >= 1 << 20 {
                s.spawn(|| self.blake3.update(block));
            } else {
                self.blake3.update(block);
            }
            self.sha256.update(block);
        });
        self.seen += n as u64;
        if let Some(p) = &mut self.progress {
            p.advance(n as u64);
        }
        Ok(n)
    }
}

impl<S: Store> Registry<S> {
    /// [`RegistryError::VersionExists`] if `version` is committed already.
    pub(super) fn ensure_absent(&self, version: &ModelVersion) -> Result<()> {
        if self
            .store
            .list(&self.keys.version_prefix(version))?
            .iter()
            .any(|k| k.ends_with(keys::METADATA_FILE))
        {
            return Err(self.version_exists(version, true));
        }
        // A number gc freed is never reused: a reader pinned to it (a
        // deployment, a cache) must never get other bytes under it.
        self.refuse_collected(version)
    }

    pub(super) fn version_exists(&self, version: &ModelVersion, complete: bool) -> RegistryError {
        RegistryError::VersionExists {
            version: version.to_string(),
            location: self.store.location(&self.keys.version_prefix(version)),
            complete,
        }
    }

    /// Takes back the files a failed save created: no reader can see them
    /// without metadata, so the registry is left as it was.
    pub(super) fn undo(&self, created: &[String]) {
        for key in created {
            let _ = self.store.delete(key);
        }
    }

    /// Creates `files` under `version`, in order, each streamed from its
    /// source and digested on the way; returns what the metadata records
    /// of each, and the keys created. Whoever creates the first file owns
    /// the version: meeting a file it did not create, or any failure,
    /// removes what this call created. A source that yields another number
    /// of bytes than it announced (changed while read) fails the save.
    pub(super) fn write_sources<F: FileSource>(
        &self,
        version: &ModelVersion,
        files: &[F],
    ) -> Result<(Vec<FileInfo>, Vec<String>)> {
        let mut infos = Vec::with_capacity(files.len());
        let mut created: Vec<String> = Vec::with_capacity(files.len() + 2);
        for file in files {
            match self.write_source(version, file) {
                Ok((info, key)) => {
                    infos.push(info);
                    created.push(key);
                }
                Err(e) => {
                    self.undo(&created);
                    return Err(e);
                }
            }
        }
        Ok((infos, created))
    }

    fn write_source<F: FileSource>(&self, version: &ModelVersion, file: &F) -> Result<(FileInfo, String)> {
        let key = self.keys.version_file(version, file.path());
        let size = file.size();
        let mut src = Digesting {
            inner: file.open()?,
            sha256: sha2::Sha256::new(),
            blake3: blake3::Hasher::new(),
            seen: 0,
            limit: size,
            failed: None,
            progress: crate::progress::begin(|| format!("write {}", file.path()), size),
        };
        let changed = |actual: String| RegistryError::InvalidFiles {
            location: file.location(),
            reason: format!(
                "it changed while it was being registered ({size} bytes when it was opened, {actual} read); nothing was saved: register it again once it stops changing"
            ),
        };
        match self.store.create_from(&key, &mut src, size) {
            Ok(()) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                let complete = self.store.read(&self.keys.metadata(version)).is_ok();
                return Err(self.version_exists(version, complete));
            }
            Err(e) => {
                return Err(match src.failed.take() {
                    Some(source) => StoreError::Io {
                        location: file.location(),
                        source,
                    }
                    .into(),
                    // The store names its temporary object; say which
                    // file of which version that was, and from where.
                    None => match e {
                        StoreError::Io { source, .. } => StoreError::Io {
                            location: format!(
                                "{} (writing file {} of version {version} from {})",
                                self.store.location(&key),
                                file.path(),
                                file.location()
                            ),
                            source,
                        }
                        .into(),
                        e => e.into(),
                    },
                });
            }
        }
        // The object holds exactly what was digested: check that this was
        // all of the source, and all it announced.
        let mut probe = [0u8; 1];
        let more = src.inner.read(&mut probe).unwrap_or(0);
        if src.seen != size || more != 0 {
            let _ = self.store.delete(&key);
            return Err(changed(if more != 0 {
                format!("more than {size}")
            } else {
                src.seen.to_string()
            }));
        }
        let info = FileInfo {
            path: file.path().to_string(),
            size,
            sha256: src.sha256.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            blake3: src.blake3.finalize().to_hex().to_string(),
        };
        Ok((info, key))
    }

    /// Finishes a save whose files are written (`created`): the signature
    /// (made from the metadata's digests, before the commit point, so a
    /// version is never visible unsigned), `metadata.json` (the commit
    /// point), a check that the files are still the ones written, and
    /// `latest`. A failure before the commit point removes `created`.
    pub(super) fn commit_written(
        &self,
        metadata: &ModelMetadata,
        metadata_bytes: &[u8],
        mut created: Vec<String>,
    ) -> Result<()> {
        let version = &metadata.version;
        let signature = match self.sign_new(metadata, metadata_bytes) {
            Ok(s) => s,
            Err(e) => {
                self.undo(&created);
                return Err(e);
            }
        };
        if let Some(signature) = &signature {
            let key = self.keys.version_file(version, crate::metadata::SIGNATURE_FILE);
            match self.store.create(&key, signature) {
                Ok(()) => created.push(key),
                Err(e) => {
                    self.undo(&created);
                    return Err(match e {
                        StoreError::AlreadyExists { .. } => self.version_exists(version, false),
                        e => e.into(),
                    });
                }
            }
        }
        // The commit point: from here on the version exists.
        match self.store.create(&self.keys.metadata(version), metadata_bytes) {
            Ok(()) => {}
            Err(StoreError::AlreadyExists { .. }) => return Err(self.version_exists(version, true)),
            Err(e) => {
                self.undo(&created);
                return Err(e.into());
            }
        }
        // Still ours? A file removed or replaced between our writes (by a
        // repair with a grace period shorter than this save took, or by
        // hand) must not be reported as a successful save; and `latest` must
        // not move to it. Read in blocks (BLAKE3 only), so a large file
        // costs a block of memory.
        for file in metadata.stored_files() {
            if let Err(e) = self.check_streamed(version, &file, false) {
                return Err(RegistryError::CommitLost {
                    version: version.to_string(),
                    location: self.store.location(&self.keys.version_file(version, file.path)),
                    reason: e.to_string(),
                });
            }
        }
        self.log_event(self.save_event(metadata));
        // The version is committed; a failure from here on (a full disk
        // while recording latest's history, say) must not read as "nothing
        // was saved".
        let moved = self
            .advance_latest(metadata, crate::metadata::AliasAction::Save)
            .map_err(|source| RegistryError::LatestNotMoved {
                version: version.to_string(),
                source: Box::new(source),
            });
        self.add_to_catalog(metadata);
        let event = super::hook_calls::HookEvent {
            action: "save",
            version,
            alias: None,
            previous: None,
            reason: None,
        };
        self.post_hook(crate::hooks::HookName::PostSave, &event);
        moved
    }
}
