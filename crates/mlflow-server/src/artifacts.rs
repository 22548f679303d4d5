//! `/api/2.0/mlflow-artifacts/artifacts`: uploads into the staging area,
//! listings, and downloads, of staged files and of registered versions'.
//!
//! An upload is spooled to a local file (memory stays bounded whatever its
//! size), digested on the way, then created in the store in one piece;
//! only then does the manifest list it. A download of a version's file
//! goes through the registry's read path (digests, signature policy) and
//! is sent only once it verified: a client never receives bytes the
//! registry would refuse.

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::records::Records;
use crate::staging::{self, StagedFile, StagedPath, check_segment};
use crate::versions::model_handle;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use registry_core::ModelVersion;
use registry_core::store::StoreError;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::time::Duration;

/// Files up to this size are answered from memory; larger ones from a
/// verified copy on local disk.
const IN_MEMORY: u64 = 8 * 1024 * 1024;
/// How long an upload may go without a byte arriving.
const UPLOAD_STALL: Duration = Duration::from_secs(60);

/// What an artifact path under `mlflow-artifacts:/` names.
enum Named {
    Staged(StagedPath),
    /// `registry/<model>/<version>/<file>` (file `""`: the version).
    Version {
        model: String,
        version: ModelVersion,
        file: String,
    },
    /// `registry` or `registry/<model>`: listings only.
    Registry {
        model: Option<String>,
    },
}

fn name(path: &str) -> ApiResult<Named> {
    let trimmed = path.trim_end_matches('/');
    if trimmed == "registry" {
        return Ok(Named::Registry { model: None });
    }
    if let Some(rest) = trimmed.strip_prefix("registry/") {
        let segments: Vec<&str> = rest.split('/').collect();
        for s in &segments {
            check_segment(s, path)?;
        }
        return match segments.as_slice() {
            [model] => Ok(Named::Registry {
                model: Some(model.to_string()),
            }),
            [model, version, file @ ..] => Ok(Named::Version {
                model: model.to_string(),
                version: version
                    .parse()
                    .map_err(|e: registry_core::RegistryError| ApiError::invalid(e.to_string()))?,
                file: file.join("/"),
            }),
            [] => Ok(Named::Registry { model: None }),
        };
    }
    match staging::parse(trimmed)? {
        Some(staged) => Ok(Named::Staged(staged)),
        None => Err(ApiError::not_found(format!(
            "artifact path {path:?} names nothing here: artifacts live under <experiment>/<run id>/artifacts/, <experiment>/models/<model id>/artifacts/ and registry/<model>/<version>/"
        ))),
    }
}

/// `PUT .../artifacts/<path>`.
pub async fn upload(State(s): State<Shared>, Path(path): Path<String>, request: Request) -> ApiResult<Json> {
    let Named::Staged(staged) = name(&path)? else {
        return Err(ApiError::invalid(format!(
            "artifact path {path:?}: uploads go under a run's or a logged model's artifacts; registered versions are immutable"
        )));
    };
    if staged.rel.is_empty() {
        return Err(ApiError::invalid(format!(
            "artifact path {path:?} names a directory, not a file"
        )));
    }
    let s2 = s.clone();
    let root = staged.root.clone();
    crate::blocking(move || root.check_exists(&s2.records())).await?;
    let max = s.options.max_artifact_bytes;
    let mut spool = tempfile::tempfile().map_err(|e| ApiError::internal(format!("no room to spool an upload: {e}")))?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut body = request.into_body();
    loop {
        let frame = match tokio::time::timeout(UPLOAD_STALL, body.frame()).await {
            Err(_) => {
                return Err(ApiError::invalid(format!(
                    "the upload of {path:?} stalled: no bytes for {} s",
                    UPLOAD_STALL.as_secs()
                )));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(ApiError::invalid(format!("the upload of {path:?} broke off: {e}"))),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        size += data.len() as u64;
        if size > max {
            return Err(ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "INVALID_PARAMETER_VALUE",
                format!("{path:?} is larger than the {max} bytes an artifact may have here (--max-artifact-bytes)"),
            ));
        }
        hasher.update(&data);
        spool
            .write_all(&data)
            .map_err(|e| ApiError::internal(format!("spooling an upload failed: {e}")))?;
    }
    let sha256 = format!("{:x}", hasher.finalize());
    crate::blocking(move || {
        let records = s.records();
        let key = staged.root.file_key(&staged.rel);
        spool
            .rewind()
            .map_err(|e| ApiError::internal(format!("spooling an upload failed: {e}")))?;
        let file = StagedFile { size, sha256 };
        match records.store().create_from(&key, &mut spool, size) {
            Ok(()) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                // Uploaded before: the same bytes again is a retry.
                let manifest = staged.root.manifest(&records)?;
                if manifest.get(&staged.rel) != Some(&file) {
                    return Err(ApiError::exists(format!(
                        "artifact {path:?} was uploaded already with other bytes; staged files are immutable (log the model again)"
                    )));
                }
            }
            Err(e) => return Err(e.into()),
        }
        records.upsert(&staged.root.manifest_key(), staging::Manifest::new, |m| {
            m.insert(staged.rel.clone(), file.clone());
            Ok(())
        })?;
        Ok(())
    })
    .await?;
    Ok(axum::Json(json!({})))
}

type Json = axum::Json<Value>;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    path: Option<String>,
}

/// `GET .../artifacts?path=<dir>`: the entries directly under `dir`.
pub fn list(s: &crate::Server, q: ListQuery) -> ApiResult<Value> {
    let path = q.path.unwrap_or_default();
    let mut entries: Vec<(String, bool, Option<u64>)> = Vec::new();
    let children = |all: Vec<(String, u64)>, under: &str, entries: &mut Vec<(String, bool, Option<u64>)>| {
        let prefix = if under.is_empty() {
            String::new()
        } else {
            format!("{under}/")
        };
        for (p, size) in all {
            let Some(rest) = p.strip_prefix(&prefix) else { continue };
            match rest.split_once('/') {
                Some((dir, _)) => {
                    if !entries.iter().any(|(n, d, _)| *d && n == dir) {
                        entries.push((dir.to_string(), true, None));
                    }
                }
                None => entries.push((rest.to_string(), false, Some(size))),
            }
        }
    };
    if path.trim_matches('/').is_empty() {
        entries.push(("registry".into(), true, None));
    } else {
        match name(&path) {
            Ok(Named::Registry { model: None }) => {
                for m in crate::models::model_names(s)? {
                    entries.push((m, true, None));
                }
            }
            Ok(Named::Registry { model: Some(model) }) => {
                for v in model_handle(s, &model)?.list_versions()? {
                    entries.push((v.to_string(), true, None));
                }
            }
            Ok(Named::Version { model, version, file }) => {
                let metadata = model_handle(s, &model)?.metadata(&version)?;
                let files: Vec<(String, u64)> = metadata
                    .stored_files()
                    .iter()
                    .map(|f| (f.path.to_string(), f.size))
                    .collect();
                children(files, &file, &mut entries);
            }
            Ok(Named::Staged(staged)) => {
                let manifest = staged.root.manifest(&s.records())?;
                children(
                    manifest.into_iter().map(|(p, f)| (p, f.size)).collect(),
                    &staged.rel,
                    &mut entries,
                );
            }
            // A directory above the roots (an experiment's): nothing is
            // listed there, as a client finds nothing it logged.
            Err(e) if e.code == "RESOURCE_DOES_NOT_EXIST" => {}
            Err(e) => return Err(e),
        }
    }
    let files: Vec<Value> = entries
        .into_iter()
        .map(|(path, is_dir, size)| match size {
            Some(n) => json!({"path": path, "is_dir": is_dir, "file_size": n}),
            None => json!({"path": path, "is_dir": is_dir}),
        })
        .collect();
    Ok(if files.is_empty() {
        json!({})
    } else {
        json!({"files": files})
    })
}

/// The bytes of a download, checked: in memory or in a local file.
enum Verified {
    Bytes(Vec<u8>),
    File(std::fs::File, u64),
}

fn read_verified(s: &crate::Server, path: &str) -> ApiResult<Verified> {
    match name(path)? {
        Named::Version { model, version, file } => {
            let registry = model_handle(s, &model)?;
            let metadata = registry.metadata(&version)?;
            let Some(entry) = metadata.stored_files().into_iter().find(|f| f.path == file) else {
                return Err(ApiError::not_found(format!(
                    "version {version} of {model} has no file {file:?}"
                )));
            };
            let size = entry.size;
            if size <= IN_MEMORY {
                let bytes = registry.read_version_file(&metadata, &file, <[u8]>::to_vec)?;
                return Ok(Verified::Bytes(bytes));
            }
            let mut out =
                tempfile::tempfile().map_err(|e| ApiError::internal(format!("no room for a download: {e}")))?;
            let mut failed = None;
            registry.stream_version_file(&metadata, &file, &mut |block| {
                if failed.is_none()
                    && let Err(e) = out.write_all(block)
                {
                    failed = Some(e);
                }
            })?;
            if let Some(e) = failed {
                return Err(ApiError::internal(format!("copying a download failed: {e}")));
            }
            Ok(Verified::File(out, size))
        }
        Named::Staged(staged) => {
            let records: Records<'_> = s.records();
            let manifest = staged.root.manifest(&records)?;
            let Some(file) = manifest.get(&staged.rel) else {
                return Err(ApiError::not_found(format!("no artifact {path:?} was uploaded")));
            };
            let key = staged.root.file_key(&staged.rel);
            let mut reader = records.store().open_sized(&key, file.size)?;
            let io = |e: std::io::Error| {
                ApiError::from(registry_core::RegistryError::from(StoreError::Io {
                    location: records.store().location(&key),
                    source: e,
                }))
            };
            let check = |sha256: String| {
                if sha256 == file.sha256 {
                    Ok(())
                } else {
                    Err(ApiError::new(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "DATA_LOSS",
                        format!("the staged artifact {path:?} no longer matches the sha256 recorded at its upload"),
                    ))
                }
            };
            if file.size <= IN_MEMORY {
                let mut memory = Vec::new();
                check(copy_hashed(&mut reader, &mut memory).map_err(io)?)?;
                Ok(Verified::Bytes(memory))
            } else {
                let mut disk =
                    tempfile::tempfile().map_err(|e| ApiError::internal(format!("no room for a download: {e}")))?;
                check(copy_hashed(&mut reader, &mut disk).map_err(io)?)?;
                Ok(Verified::File(disk, file.size))
            }
        }
        Named::Registry { .. } => Err(ApiError::invalid(format!(
            "{path:?} is a directory: list it with ?path="
        ))),
    }
}

/// Copies `from` into `to`, returning the sha256 of what passed.
fn copy_hashed(from: &mut dyn Read, to: &mut dyn Write) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = from.read(&mut buffer)?;
        if n == 0 {
            return Ok(format!("{:x}", hasher.finalize()));
        }
        hasher.update(&buffer[..n]);
        to.write_all(&buffer[..n])?;
    }
}

/// `GET .../artifacts/<path>`.
pub async fn download(State(s): State<Shared>, Path(path): Path<String>) -> ApiResult<Response> {
    let verified = crate::blocking(move || read_verified(&s, &path)).await?;
    let octets = [(header::CONTENT_TYPE, "application/octet-stream")];
    Ok(match verified {
        Verified::Bytes(bytes) => (octets, bytes).into_response(),
        Verified::File(mut file, size) => {
            file.rewind()
                .map_err(|e| ApiError::internal(format!("reading a download failed: {e}")))?;
            let file = tokio::fs::File::from_std(file);
            let stream = tokio_util::io::ReaderStream::new(file);
            (
                octets,
                [(header::CONTENT_LENGTH, size.to_string())],
                Body::from_stream(stream),
            )
                .into_response()
        }
    })
}
