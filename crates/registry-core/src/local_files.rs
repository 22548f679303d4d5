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
use crate::registry::{NewFile, Registry};
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
pub fn collect(path: &Path) -> Result<Vec<NewFile>> {
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
        let bytes = read_regular(path, false)?;
        return Ok(vec![NewFile {
            path: name.to_string(),
            bytes,
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

fn walk(dir: &Path, rel: &str, out: &mut Vec<NewFile>) -> Result<()> {
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
            let bytes = read_regular(&path, true)?;
            out.push(NewFile { path: relative, bytes });
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

/// Reads a file that must be regular, opened without blocking (a FIFO
/// swapped in after the directory was read must not hang the reader) and,
/// inside a directory, without following a link swapped in meanwhile.
fn read_regular(path: &Path, no_follow: bool) -> Result<Vec<u8>> {
    let mut flags = libc::O_NONBLOCK;
    if no_follow {
        flags |= libc::O_NOFOLLOW;
    }
    let mut file = OpenOptions::new()
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
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).map_err(|e| io_error(path, e))?;
    Ok(bytes)
}

/// Fingerprints a data file without keeping it: its path as given, base
/// name, size, sha256 (read in 64 KB blocks, so any size fits in memory),
/// and its rows where the format says what a row is: a header line, then
/// one record per line, for CSV and TSV; one record per line for JSON lines
/// (0 for any other format: not counted).
pub fn fingerprint(path: &Path) -> Result<DataFingerprint> {
    use sha2::Digest;
    let mut file = File::open(path).map_err(|e| io_error(path, e))?;
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

/// Writes the files of the version `metadata` describes to `out`: a
/// single-file version as the file `out` (or into `out` if that is an
/// existing directory, as `cp` does), a version of several files as the
/// directory `out`, keeping their relative paths. Every file is checked
/// against its digest before it is written; everything is written under a
/// temporary name beside `out` and appears in one rename. An existing `out`
/// is [`RegistryError::OutputExists`] unless `force`, which replaces it in
/// one step (`RENAME_EXCHANGE` for a directory).
pub fn export<S: Store>(registry: &Registry<S>, metadata: &ModelMetadata, out: &Path, force: bool) -> Result<Exported> {
    let files = metadata.stored_files();
    let single = files.len() == 1;
    let out = match (single, fs::metadata(out)) {
        (true, Ok(m)) if m.is_dir() => out.join(files[0].path),
        _ => out.to_path_buf(),
    };
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
        write_file(registry, metadata, files[0].path, &tmp)
    } else {
        write_tree(registry, metadata, &tmp)
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

/// Writes one checked file to `dest` (created, never replacing anything).
fn write_file<S: Store>(registry: &Registry<S>, metadata: &ModelMetadata, path: &str, dest: &Path) -> Result<u64> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(dest)
        .map_err(|e| io_error(dest, e))?;
    let written = registry.read_version_file(metadata, path, |bytes| {
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map(|()| bytes.len() as u64)
    })?;
    written.map_err(|e| io_error(dest, e))
}

fn write_tree<S: Store>(registry: &Registry<S>, metadata: &ModelMetadata, root: &Path) -> Result<u64> {
    fs::create_dir(root).map_err(|e| io_error(root, e))?;
    let mut total = 0;
    for file in metadata.stored_files() {
        let mut dest = root.to_path_buf();
        dest.extend(file.path.split('/'));
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        }
        total += write_file(registry, metadata, file.path, &dest)?;
    }
    Ok(total)
}

/// Moves the finished `tmp` to `out`: without `force` only if nothing is
/// there (checked by the kernel in the rename itself, so a file created
/// meanwhile is not replaced); with `force` replacing what is there.
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
    if !force {
        return match rename(libc::RENAME_NOREPLACE) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(RegistryError::OutputExists {
                path: out.display().to_string(),
            }),
            Err(e) => Err(io_error(out, e)),
        };
    }
    match fs::symlink_metadata(out) {
        // A directory cannot be renamed over: swap the two in one step,
        // then remove the old one (now at the temporary name).
        Ok(m) if m.is_dir() => {
            rename(libc::RENAME_EXCHANGE).map_err(|e| io_error(out, e))?;
            fs::remove_dir_all(tmp).map_err(|e| io_error(tmp, e))
        }
        _ => fs::rename(tmp, out).map_err(|e| io_error(out, e)),
    }
}
