//! Files on the local disk going into a version (`registry add`, Python's
//! `save_file`) and coming out of one (`registry get`, `get_file`).
//!
//! In: a single file, or a directory walked without following anything, so
//! a registered version holds exactly the regular files under the directory
//! and nothing from elsewhere. Symbolic links, devices, FIFOs and sockets
//! are refused rather than skipped: a model directory that silently loses
//! a file is worse than one that fails to register.
//!
//! Out: every file is checked against its digest before it is written, and
//! the result appears at its path in one rename, so a reader of the output
//! sees all of it or nothing, and an existing file is never replaced
//! without `force`.

use crate::error::{RegistryError, Result};
use crate::metadata::{DataFingerprint, MAX_FILES, ModelMetadata, check_file_path};
use crate::registry::{FileSource, Registry};
use crate::sequential::{ReadAhead, Writeback};
use crate::store::{Store, describe_file_type};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

fn invalid(location: &Path, reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidFiles {
        location: location.display().to_string(),
        reason: reason.into(),
    }
}

fn refused(path: &Path, reason: impl Into<String>) -> RegistryError {
    RegistryError::OutputRefused {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn io_error(location: &Path, e: std::io::Error) -> RegistryError {
    crate::store::StoreError::Io {
        location: location.display().to_string(),
        source: e,
    }
    .into()
}

/// The files to register from `path`: a regular file (named by its file
/// name; a symbolic link given as `path` itself is followed, since the user
/// named it) or a directory (every regular file under it, by its relative
/// path, sorted). Refuses symbolic links and special files inside a
/// directory, names a registry key cannot hold, and more than
/// [`MAX_FILES`] files.
pub fn collect(path: &Path) -> Result<Vec<LocalFile>> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => invalid(path, "no such file or directory"),
        _ => io_error(path, e),
    })?;
    if meta.is_file() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| invalid(path, "the file name is not valid UTF-8"))?;
        check_file_path(name).map_err(|reason| invalid(path, reason))?;
        let size = open_regular(path, false)?.1;
        return Ok(vec![LocalFile {
            path: name.to_string(),
            source: path.to_path_buf(),
            size,
            no_follow: false,
        }]);
    }
    if !meta.is_dir() {
        return Err(invalid(
            path,
            format!(
                "it is {}, not a file or a directory",
                describe_file_type(&meta.file_type())
            ),
        ));
    }
    let mut files = Vec::new();
    walk(path, "", &mut files)?;
    if files.is_empty() {
        return Err(invalid(path, "the directory holds no files"));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<LocalFile>) -> Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| io_error(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| invalid(&path, "the file name is not valid UTF-8"))?;
        let relative = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        // Not followed: a link could lead anywhere (outside the directory,
        // to a device), and the registry would keep a copy of whatever it
        // named today.
        let file_type = entry.file_type().map_err(|e| io_error(&path, e))?;
        if file_type.is_dir() {
            walk(&path, &relative, out)?;
        } else if file_type.is_file() {
            check_file_path(&relative).map_err(|reason| invalid(&path, reason))?;
            if out.len() >= MAX_FILES {
                return Err(invalid(dir, format!("more than {MAX_FILES} files")));
            }
            let size = open_regular(&path, true)?.1;
            out.push(LocalFile {
                path: relative,
                source: path,
                size,
                no_follow: true,
            });
        } else {
            return Err(invalid(
                &path,
                format!(
                    "it is {}; only regular files and directories can be registered (copy what it points to into the directory instead)",
                    describe_file_type(&file_type)
                ),
            ));
        }
    }
    Ok(())
}

/// A local file to register, found by [`collect`]: read only when the
/// version is written, in blocks, so a file of any size costs a block of
/// memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Its path inside the version.
    pub path: String,
    /// Where it is on disk.
    pub source: PathBuf,
    /// Its size when it was found; it must still have it when it is read.
    pub size: u64,
    /// Opened without following a link (a file found inside a directory).
    no_follow: bool,
}

impl FileSource for LocalFile {
    fn path(&self) -> &str {
        &self.path
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn location(&self) -> String {
        self.source.display().to_string()
    }
    fn open(&self) -> Result<Box<dyn Read + '_>> {
        Ok(Box::new(ReadAhead::new(open_regular(&self.source, self.no_follow)?.0)))
    }
}

/// Opens a file that must be regular, without blocking (a FIFO swapped in
/// after the directory was read must not hang the reader) and, inside a
/// directory, without following a link swapped in meanwhile; with its size.
fn open_regular(path: &Path, no_follow: bool) -> Result<(File, u64)> {
    let mut flags = libc::O_NONBLOCK;
    if no_follow {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if !meta.is_file() {
        return Err(invalid(
            path,
            format!("it is {}, not a regular file", describe_file_type(&meta.file_type())),
        ));
    }
    Ok((file, meta.len()))
}

/// The text of a small regular file given by a person (`--requirements
/// FILE`), or why it cannot be read: not a regular file, more than
/// `max_bytes` (nothing past that is read) or not UTF-8.
pub fn read_small_text(path: &Path, max_bytes: u64) -> std::result::Result<String, String> {
    let (file, size) = open_regular(path, false).map_err(|e| match e {
        RegistryError::InvalidFiles { reason, .. } => reason,
        other => other.to_string(),
    })?;
    if size > max_bytes {
        return Err(format!("it holds {size} bytes, more than the {max_bytes} it may"));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!("it grew past {max_bytes} bytes while read"));
    }
    String::from_utf8(bytes).map_err(|e| format!("it is not UTF-8 text ({e})"))
}

/// Fingerprints a data file without keeping it: its path as given, base
/// name, size, sha256 (read in 64 KB blocks, so any size fits in memory),
/// and its rows where the format says what a row is: a header line, then
/// one record per line, for CSV and TSV; one record per line for JSON lines
/// (0 for any other format: not counted).
pub fn fingerprint(path: &Path) -> Result<DataFingerprint> {
    use sha2::Digest;
    // A data file that is not there, or not a regular file, is bad input
    // (the caller named it), not a storage failure. Opened non-blocking, so
    // a FIFO is refused below instead of waiting for a writer.
    let opened = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path);
    let mut file = opened.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => invalid(
            path,
            "the training data file does not exist (check the path given as --data, or metadata['data'] in Python)",
        ),
        _ => io_error(path, e),
    })?;
    if let Ok(meta) = file.metadata()
        && !meta.is_file()
    {
        return Err(invalid(
            path,
            format!(
                "the training data is {}, not a regular file",
                describe_file_type(&meta.file_type())
            ),
        ));
    }
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let (mut size, mut lines, mut last) = (0u64, 0u64, b'\n');
    loop {
        let n = file.read(&mut buf).map_err(|e| io_error(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    if last != b'\n' {
        lines += 1;
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let rows = match ext.as_str() {
        "csv" | "tsv" => lines.saturating_sub(1),
        "jsonl" | "ndjson" => lines,
        _ => 0,
    };
    Ok(DataFingerprint {
        name: path
            .file_name()
            .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
        sha256: hasher.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        rows,
        path: Some(path.display().to_string()),
        size: Some(size),
    })
}

/// What [`export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The file or directory that appeared.
    pub path: PathBuf,
    pub files: usize,
    pub bytes: u64,
}

/// The file a directory written by [`export`] holds, so that `--force`
/// replaces only a directory a previous `get` wrote (a registry key never
/// starts with `.`, so it cannot collide with a version's files).
pub const EXPORT_MARKER: &str = ".modelreg-get.json";

/// Writes the files of the version `metadata` describes to `out`: a
/// single-file version as the file `out`, a version of several files as the
/// directory `out` (with an [`EXPORT_MARKER`]), keeping their relative
/// paths. Every file is checked against its digest before it is written;
/// everything is written under a temporary name beside `out` and appears
/// in one rename. An existing `out` is [`RegistryError::OutputExists`]
/// unless `force`, which replaces a regular file, or a directory a previous
/// `get` wrote, in one step; anything else (a device, a FIFO, a link, a
/// directory of other files) is refused by name and left as it was.
pub fn export<S: Store>(registry: &Registry<S>, metadata: &ModelMetadata, out: &Path, force: bool) -> Result<Exported> {
    let files = metadata.stored_files();
    let single = files.len() == 1;
    let out = out.to_path_buf();
    if single && fs::symlink_metadata(&out).is_ok_and(|m| m.is_dir()) {
        return Err(refused(
            &out,
            format!(
                "it is a directory, and version {} is one file; nothing was written (give the file's path, e.g. {})",
                metadata.version,
                out.join(files[0].path).display()
            ),
        ));
    }
    if !force && fs::symlink_metadata(&out).is_ok() {
        return Err(RegistryError::OutputExists {
            path: out.display().to_string(),
        });
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .ok_or_else(|| invalid(&out, "not a file name to write to"))?
        .to_string_lossy()
        .into_owned();
    let tmp = parent.join(format!(".{name}.modelreg-get-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let _ = fs::remove_file(&tmp);
    let written = if single {
        write_single(registry, metadata, files[0].path, &parent, &tmp, &out)
    } else {
        write_tree(registry, metadata, &tmp, &out).and_then(|bytes| {
            let marker = serde_json::json!({
                "version": metadata.version.to_string(),
                "model": registry.model_name().map(|m| m.to_string()),
                "metadata_sha256": metadata.metadata_sha256,
            });
            fs::write(tmp.join(EXPORT_MARKER), format!("{marker}\n"))
                .map(|()| bytes)
                .map_err(|e| io_error(&tmp.join(EXPORT_MARKER), e))
        })
    };
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if let Err(e) = publish(&tmp, &out, force) {
        let _ = fs::remove_dir_all(&tmp);
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(dir) = File::open(&parent) {
        let _ = dir.sync_all();
    }
    Ok(Exported {
        path: out,
        files: files.len(),
        bytes,
    })
}

/// Streams the checked file `path` of the version into `file` and syncs
/// it: the digests are checked as the bytes pass, and a file that fails
/// them is an error (the caller removes the partial output, which has no
/// name or a temporary one until everything passed). Errors name `shown`,
/// the path the user asked for.
fn fill<S: Store>(
    registry: &Registry<S>,
    metadata: &ModelMetadata,
    path: &str,
    file: &mut File,
    shown: &Path,
) -> Result<u64> {
    let mut failed = None;
    let mut writeback = Writeback::default();
    let written = registry.stream_version_file(metadata, path, &mut |block| {
        if failed.is_none() {
            match file.write_all(block) {
                Ok(()) => writeback.wrote(file, block.len()),
                Err(e) => failed = Some(e),
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(io_error(shown, e));
    }
    file.sync_all().map_err(|e| io_error(shown, e))?;
    Ok(written)
}

/// Writes one checked file to `dest`, created (never replacing anything).
fn write_file<S: Store>(
    registry: &Registry<S>,
    metadata: &ModelMetadata,
    path: &str,
    dest: &Path,
    shown: &Path,
) -> Result<u64> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(dest)
        .map_err(|e| io_error(shown, e))?;
    fill(registry, metadata, path, &mut file, shown)
}

/// Writes the single file of a version to `tmp`: first as a file with no
/// name in `dir` (`O_TMPFILE`), given the name `tmp` only once it is
/// complete and synced, so a process killed while writing a model of many
/// gigabytes leaves nothing behind in the user's directory. Where the file
/// system has no unnamed files, `tmp` is written directly.
fn write_single<S: Store>(
    registry: &Registry<S>,
    metadata: &ModelMetadata,
    path: &str,
    dir: &Path,
    tmp: &Path,
    shown: &Path,
) -> Result<u64> {
    let unnamed = OpenOptions::new()
        .write(true)
        .mode(0o666)
        .custom_flags(libc::O_TMPFILE)
        .open(dir);
    let Ok(mut file) = unnamed else {
        return write_file(registry, metadata, path, tmp, shown);
    };
    let written = fill(registry, metadata, path, &mut file, shown)?;
    use std::os::fd::AsRawFd;
    let c = |p: &[u8]| CString::new(p).map_err(|_| invalid(tmp, "the path contains a NUL byte"));
    let from = c(format!("/proc/self/fd/{}", file.as_raw_fd()).as_bytes())?;
    let to = c(tmp.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated paths; linkat only reads them.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc != 0 {
        return Err(io_error(shown, std::io::Error::last_os_error()));
    }
    Ok(written)
}

fn write_tree<S: Store>(registry: &Registry<S>, metadata: &ModelMetadata, root: &Path, out: &Path) -> Result<u64> {
    fs::create_dir(root).map_err(|e| io_error(out, e))?;
    let mut total = 0;
    for file in metadata.stored_files() {
        let (mut dest, mut shown) = (root.to_path_buf(), out.to_path_buf());
        dest.extend(file.path.split('/'));
        shown.extend(file.path.split('/'));
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        }
        total += write_file(registry, metadata, file.path, &dest, &shown)?;
    }
    Ok(total)
}

/// Moves the finished `tmp` to `out`: without `force` only if nothing is
/// there (checked by the kernel in the rename itself, so a file created
/// meanwhile is not replaced); with `force` by exchanging the two in one
/// step and then looking at what came back under the temporary name: a
/// regular file, or a directory holding [`EXPORT_MARKER`], is removed;
/// anything else is exchanged back and refused. No check comes before the
/// act, so nothing swapped in at `out` meanwhile can be destroyed.
fn publish(tmp: &Path, out: &Path, force: bool) -> Result<()> {
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|_| invalid(p, "the path contains a NUL byte"));
    let (from, to) = (c(tmp)?, c(out)?);
    let rename = |flags: libc::c_uint| {
        // SAFETY: both are valid NUL-terminated paths; renameat2 only reads them.
        let rc = unsafe { libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), flags) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let create = || match rename(libc::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(RegistryError::OutputExists {
            path: out.display().to_string(),
        }),
        Err(e) => Err(io_error(out, e)),
    };
    if !force {
        return create();
    }
    match rename(libc::RENAME_EXCHANGE) {
        Ok(()) => {}
        // Nothing there (any more): a plain create.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return create(),
        Err(e) => return Err(io_error(out, e)),
    }
    // What was at `out` is now at `tmp`: ours to inspect, and to remove only
    // if it is what --force may replace.
    let old = fs::symlink_metadata(tmp).map_err(|e| io_error(tmp, e))?;
    let ours = old.is_dir() && fs::symlink_metadata(tmp.join(EXPORT_MARKER)).is_ok_and(|m| m.is_file());
    if old.is_file() {
        fs::remove_file(tmp).map_err(|e| io_error(tmp, e))
    } else if ours {
        fs::remove_dir_all(tmp).map_err(|e| io_error(tmp, e))
    } else {
        // Put it back where it was, untouched, and say what it is.
        rename(libc::RENAME_EXCHANGE).map_err(|e| io_error(out, e))?;
        let what = if old.is_dir() {
            "a directory that no `registry get` wrote (it has no .modelreg-get.json)".to_string()
        } else {
            crate::store::describe_file_type(&old.file_type()).to_string()
        };
        Err(refused(
            out,
            format!(
                "it is {what}; --force replaces only a regular file or a directory a previous `registry get` wrote (nothing was changed: remove it yourself, or choose another --out)"
            ),
        ))
    }
}
