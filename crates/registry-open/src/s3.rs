//! [`Store`] on S3-compatible object storage, through the `object_store` crate.
//!
//! Each trait method is one request or a small fixed number of them:
//!
//! | method | requests |
//! |---|---|
//! | `create` | `PUT` with `If-None-Match: *` |
//! | `read`, `read_pointer` | `GET` |
//! | `swap_pointer` | `PUT` with `If-Match: <etag>` (or `If-None-Match: *` for a new pointer) |
//! | `list`, `list_groups` | `LIST` (one per 1,000 keys) |
//! | `delete` | `HEAD` + `DELETE` (repair only) |
//!
//! Why it is safe: S3 makes every single `PUT` atomic and durable when it
//! returns, the registry's commit point (a version's `metadata.json`) is one
//! object, and the two conditional headers give exactly the two primitives the
//! trait asks for (create-if-absent, compare-and-swap). Servers that accept
//! the headers but ignore them would silently break both, so before the first
//! write of a process [`S3Store`] probes the server once and refuses to write
//! if a second create of the same key, or an update with a wrong ETag,
//! succeeds.
//!
//! Retried requests: `object_store` retries a request whose connection
//! failed. If the first attempt of a conditional `PUT` did land, the retry
//! is refused (412) although the write is ours. Every write therefore
//! carries a unique `x-amz-meta-modelreg-writer` value, and a refused write
//! whose object carries our value counts as done.
//!
//! The store is synchronous like the trait: it owns a small tokio runtime
//! and blocks on each request. Two worker threads, so that the parts of a
//! multipart upload go out while the caller reads and digests the next one.

mod large;
mod uploads;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, BackoffConfig, ClientOptions, GetOptions, ObjectStore, ObjectStoreExt,
    PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion,
};
use registry_core::store::{Pointer, PointerRead, PointerTag, Store, StoreError, UploadSweep, validate_key};

/// The metadata key that names the writer of an object.
const WRITER_ATTRIBUTE: &str = "modelreg-writer";
/// Keys under this prefix belong to the store itself (the conditional-write
/// probe); their first component starts with '.', so listings never show them.
const PROBE_DIR: &str = ".modelreg-probe";

/// How to reach one registry in one bucket.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    /// Key prefix of the registry inside the bucket, without leading or
    /// trailing '/'; empty for the bucket's root.
    pub prefix: String,
    /// An S3-compatible server instead of AWS, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// Retries of a failed request (connection errors, 5xx, throttling).
    pub max_retries: usize,
    /// Give up on a request (with its retries) after this long.
    pub request_deadline: Duration,
    /// Objects of at least this many bytes are uploaded in parts
    /// (`MODELREG_S3_MULTIPART_FROM`, default 64 MiB); AWS refuses a single
    /// PUT over 5 GiB.
    pub multipart_from: u64,
    /// The size of each part (`MODELREG_S3_PART_SIZE`, default 16 MiB; S3
    /// wants at least 5 MiB for every part but the last). Memory is about
    /// this times [`PARTS_IN_FLIGHT`] + 1.
    pub part_size: usize,
}

/// Parts uploaded at once by one multipart upload.
pub const PARTS_IN_FLIGHT: usize = 2;

impl S3Config {
    /// Credentials and region come from the usual `AWS_*` variables
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_REGION`, `AWS_ENDPOINT_URL`, ...); `endpoint`, when given, wins
    /// over the environment's.
    pub fn from_env(bucket: &str, prefix: &str, endpoint: Option<&str>) -> S3Config {
        S3Config {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            endpoint: endpoint
                .map(str::to_string)
                .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
                .filter(|e| !e.is_empty()),
            max_retries: 4,
            request_deadline: Duration::from_secs(60),
            multipart_from: env_size("MODELREG_S3_MULTIPART_FROM").unwrap_or(64 << 20),
            part_size: env_size("MODELREG_S3_PART_SIZE").map_or(16 << 20, |n| n as usize),
        }
    }
}

/// A size from the environment: bytes, or with a K, M or G suffix (binary).
fn env_size(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (i, 'K' | 'k') => (&text[..i], 1u64 << 10),
        (i, 'M' | 'm') => (&text[..i], 1 << 20),
        (i, 'G' | 'g') => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// A registry store in an S3 bucket. See the module docs.
pub struct S3Store {
    client: Arc<dyn ObjectStore>,
    /// The same client, for what only S3 has (aborting uploads).
    s3: Arc<AmazonS3>,
    uploads: uploads::UploadLister,
    runtime: tokio::runtime::Runtime,
    bucket: String,
    prefix: String,
    /// The outcome of the conditional-write probe, run before the first write.
    writes_checked: OnceLock<Result<(), String>>,
    multipart_from: u64,
    part_size: usize,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Builds the client; no request is sent until the first operation.
    pub fn connect(config: S3Config) -> Result<S3Store, String> {
        // reqwest's rustls has no crypto provider of its own in this build
        // (see Cargo.toml); an error only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: config.max_retries,
                retry_timeout: config.request_deadline,
            })
            .with_client_options(ClientOptions::new().with_timeout(config.request_deadline));
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
            if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
                // S3-compatible servers ignore the region but the signature needs one.
                builder = builder.with_region("us-east-1");
            }
        }
        let uploads = uploads::UploadLister::new(&builder, &config.bucket, config.request_deadline);
        let s3 = Arc::new(builder.build().map_err(|e| e.to_string())?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the I/O runtime: {e}"))?;
        Ok(S3Store {
            client: s3.clone(),
            s3,
            uploads,
            runtime,
            bucket: config.bucket,
            prefix: config.prefix,
            writes_checked: OnceLock::new(),
            multipart_from: config.multipart_from,
            // S3's floor for every part but the last.
            part_size: config.part_size.max(5 << 20),
        })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    /// The key of `path` relative to the registry prefix.
    fn key_of<'a>(&self, path: &'a Path) -> Option<&'a str> {
        let full = path.as_ref();
        if self.prefix.is_empty() {
            Some(full)
        } else {
            full.strip_prefix(self.prefix.as_str())?.strip_prefix('/')
        }
    }

    fn remote_error(&self, key: &str, err: object_store::Error) -> StoreError {
        let location = self.location(key);
        match err {
            object_store::Error::NotFound { .. } => StoreError::NotFound { location },
            other => StoreError::Remote {
                location,
                reason: describe(&other),
            },
        }
    }

    /// Refuses every write unless the server honours `If-None-Match: *` and
    /// `If-Match`. Runs once per process, before the first write.
    fn ensure_conditional_writes(&self) -> Result<(), StoreError> {
        let outcome = self.writes_checked.get_or_init(|| self.runtime.block_on(self.probe()));
        outcome.clone().map_err(|reason| StoreError::Unsafe {
            location: self.location(""),
            reason,
        })
    }

    async fn probe(&self) -> Result<(), String> {
        let path = self.path(&format!("{PROBE_DIR}/{}", unique_writer()));
        let put = |mode: PutMode, body: &'static [u8]| {
            let path = path.clone();
            async move {
                self.client
                    .put_opts(&path, PutPayload::from_static(body), PutOptions::from(mode))
                    .await
            }
        };
        let first = put(PutMode::Create, b"probe 1")
            .await
            .map_err(|e| format!("the conditional-write probe could not write {path}: {}", describe(&e)))?;
        let second = put(PutMode::Create, b"probe 2").await;
        let wrong_tag = UpdateVersion {
            e_tag: Some("\"modelreg-probe-never-an-etag\"".to_string()),
            version: None,
        };
        let third = put(PutMode::Update(wrong_tag), b"probe 3").await;
        let _ = self.client.delete(&path).await;
        let _ = first;
        match second {
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Ok(_) => {
                return Err(format!(
                    "the server ignores conditional writes: a second create of {path} with `If-None-Match: *` succeeded, so two writers could both save the same version. Use a server that honours If-None-Match and If-Match (AWS S3, MinIO, Cloudflare R2, moto)"
                ));
            }
            Err(e) => return Err(format!("the conditional-write probe failed: {}", describe(&e))),
        }
        match third {
            Err(object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }) => Ok(()),
            Ok(_) => Err(format!(
                "the server ignores `If-Match`: an update of {path} with a wrong ETag succeeded, so two concurrent alias moves could both win. Use a server that honours If-None-Match and If-Match (AWS S3, MinIO, Cloudflare R2, moto)"
            )),
            Err(e) => Err(format!("the conditional-write probe failed: {}", describe(&e))),
        }
    }

    /// A conditional PUT tagged with a fresh writer id. A refusal is checked
    /// against the object's writer id: if the object is ours, an earlier
    /// attempt of this very request landed and the write counts as done.
    async fn conditional_put(&self, key: &str, bytes: &[u8], mode: PutMode) -> Result<Option<String>, Refused> {
        let writer = unique_writer();
        let mut attributes = Attributes::new();
        attributes.insert(
            Attribute::Metadata(WRITER_ATTRIBUTE.into()),
            AttributeValue::from(writer.clone()),
        );
        let options = PutOptions {
            mode,
            attributes,
            ..PutOptions::default()
        };
        let path = self.path(key);
        match self
            .client
            .put_opts(&path, PutPayload::from(bytes.to_vec()), options)
            .await
        {
            Ok(result) => Ok(result.e_tag),
            Err(
                e @ (object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. }
                | object_store::Error::NotModified { .. }),
            ) => {
                let head = self
                    .client
                    .get_opts(
                        &path,
                        GetOptions {
                            head: true,
                            ..GetOptions::default()
                        },
                    )
                    .await;
                match head {
                    Ok(found)
                        if found
                            .attributes
                            .get(&Attribute::Metadata(WRITER_ATTRIBUTE.into()))
                            .is_some_and(|v| v.as_ref() == writer) =>
                    {
                        Ok(found.meta.e_tag)
                    }
                    Ok(_) => Err(Refused::Condition),
                    Err(object_store::Error::NotFound { .. }) => Err(Refused::Vanished),
                    Err(_) => Err(Refused::Other(e)),
                }
            }
            Err(e) => Err(Refused::Other(e)),
        }
    }
}

enum Refused {
    /// The precondition failed: someone else's object is there.
    Condition,
    /// Refused (e.g. 409 while another conditional write was in flight), yet
    /// no object exists now: safe to try again.
    Vanished,
    Other(object_store::Error),
}

/// One line for a person: object_store's errors nest their cause.
fn describe(err: &object_store::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Unique per call: process, host, time and a counter.
fn unique_writer() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // Read once per process, not per write.
    static HOST: OnceLock<String> = OnceLock::new();
    let host = HOST.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        host.trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(32)
            .collect()
    });
    format!(
        "{host}-{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A refused create is retried this often when the object turns out not to
/// exist (a 409 from a conflicting in-flight write that then failed).
const CREATE_ATTEMPTS: usize = 5;

impl Store for S3Store {
    fn location(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}/{key}", self.bucket)
        } else {
            format!("s3://{}/{}/{key}", self.bucket, self.prefix)
        }
    }

    fn create(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        validate_key(key)?;
        self.ensure_conditional_writes()?;
        for _ in 0..CREATE_ATTEMPTS {
            match self.runtime.block_on(self.conditional_put(key, bytes, PutMode::Create)) {
                Ok(_) => return Ok(()),
                Err(Refused::Condition) => {
                    return Err(StoreError::AlreadyExists {
                        location: self.location(key),
                    });
                }
                Err(Refused::Vanished) => continue,
                Err(Refused::Other(e)) => return Err(self.remote_error(key, e)),
            }
        }
        Err(StoreError::Remote {
            location: self.location(key),
            reason: format!("{CREATE_ATTEMPTS} conditional creates were refused although the object does not exist"),
        })
    }

    fn create_from(&self, key: &str, src: &mut dyn std::io::Read, size: u64) -> Result<(), StoreError> {
        validate_key(key)?;
        if size < self.multipart_from {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(src, self.multipart_from), &mut bytes).map_err(
                |source| StoreError::Io {
                    location: self.location(key),
                    source,
                },
            )?;
            return self.create(key, &bytes);
        }
        self.create_in_parts(key, src)
    }

    fn open_sized(&self, key: &str, expected: u64) -> Result<Box<dyn std::io::Read + Send + '_>, StoreError> {
        validate_key(key)?;
        self.open_stream(key, expected)
    }

    fn read_blocks(&self, key: &str, expected: u64, f: &mut dyn FnMut(&[u8])) -> Result<(), StoreError> {
        validate_key(key)?;
        self.read_stream_blocks(key, expected, f)
    }

    fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        validate_key(key)?;
        let path = self.path(key);
        self.runtime
            .block_on(async { self.client.get(&path).await?.bytes().await })
            .map(|b| b.to_vec())
            .map_err(|e| self.remote_error(key, e))
    }

    fn read_limited(&self, key: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        validate_key(key)?;
        let path = self.path(key);
        // The size comes with the response headers: a too-large object is
        // refused before its body is read.
        let fetched = self.runtime.block_on(async {
            let result = self.client.get(&path).await?;
            if result.meta.size > limit {
                return Ok(Err(result.meta.size));
            }
            Ok::<_, object_store::Error>(Ok(result.bytes().await?))
        });
        match fetched {
            Ok(Ok(bytes)) => Ok(bytes.to_vec()),
            Ok(Err(size)) => Err(StoreError::TooLarge {
                location: self.location(key),
                size,
                limit,
            }),
            Err(e) => Err(self.remote_error(key, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // object_store lists whole path segments: list the directory part of
        // `prefix` and keep the keys that start with all of it.
        let dir = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let listed = match (self.prefix.is_empty(), dir.is_empty()) {
            (true, true) => None,
            (true, false) => Some(Path::from(dir)),
            (false, true) => Some(Path::from(self.prefix.as_str())),
            (false, false) => Some(self.path(dir)),
        };
        let metas: Vec<_> = self
            .runtime
            .block_on(self.client.list(listed.as_ref()).try_collect())
            .map_err(|e| self.remote_error(prefix, e))?;
        let mut keys: Vec<String> = metas
            .iter()
            .filter_map(|meta| self.key_of(&meta.location))
            .filter(|key| key.starts_with(prefix) && !key.split('/').any(|part| part.starts_with('.')))
            .map(str::to_string)
            .collect();
        keys.sort_unstable();
        Ok(keys)
    }

    fn read_pointer_limited(&self, key: &str, limit: u64) -> Result<Option<Pointer>, StoreError> {
        validate_key(key)?;
        let path = self.path(key);
        let fetched = self.runtime.block_on(async {
            let result = self.client.get(&path).await?;
            if result.meta.size > limit {
                return Ok((None, Some(result.meta.size)));
            }
            let tag = result.meta.e_tag.clone();
            Ok::<_, object_store::Error>((Some((result.bytes().await?, tag)), None))
        });
        match fetched {
            Ok((None, size)) => Err(StoreError::TooLarge {
                location: self.location(key),
                size: size.unwrap_or(0),
                limit,
            }),
            Ok((Some((bytes, Some(tag))), _)) => Ok(Some(Pointer {
                bytes: bytes.to_vec(),
                tag: PointerTag(tag),
            })),
            Ok((Some((_, None)), _)) => Err(StoreError::Remote {
                location: self.location(key),
                reason: "the server returned no ETag, which compare-and-swap needs".to_string(),
            }),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.remote_error(key, e)),
        }
    }

    /// A conditional GET (`If-None-Match: <ETag>`): an unchanged pointer
    /// answers 304 with no body.
    fn read_pointer_if_changed(&self, key: &str, known: Option<&PointerTag>) -> Result<PointerRead, StoreError> {
        let Some(known) = known else {
            return self.read_pointer(key).map(PointerRead::Changed);
        };
        validate_key(key)?;
        let path = self.path(key);
        let limit = registry_core::store::MAX_POINTER_BYTES;
        let fetched = self.runtime.block_on(async {
            let options = GetOptions {
                if_none_match: Some(known.0.clone()),
                ..GetOptions::default()
            };
            let result = self.client.get_opts(&path, options).await?;
            if result.meta.size > limit {
                return Ok(Err(result.meta.size));
            }
            let tag = result.meta.e_tag.clone();
            Ok::<_, object_store::Error>(Ok((result.bytes().await?, tag)))
        });
        match fetched {
            Err(object_store::Error::NotModified { .. }) => Ok(PointerRead::Unchanged),
            Err(object_store::Error::NotFound { .. }) => Ok(PointerRead::Changed(None)),
            Err(e) => Err(self.remote_error(key, e)),
            Ok(Err(size)) => Err(StoreError::TooLarge {
                location: self.location(key),
                size,
                limit,
            }),
            // Some servers ignore If-None-Match and send the body anyway.
            Ok(Ok((_, Some(tag)))) if tag == known.0 => Ok(PointerRead::Unchanged),
            Ok(Ok((bytes, Some(tag)))) => Ok(PointerRead::Changed(Some(Pointer {
                bytes: bytes.to_vec(),
                tag: PointerTag(tag),
            }))),
            Ok(Ok((_, None))) => Err(StoreError::Remote {
                location: self.location(key),
                reason: "the server returned no ETag, which compare-and-swap needs".to_string(),
            }),
        }
    }

    fn swap_pointer(&self, key: &str, expected: Option<&PointerTag>, new: &[u8]) -> Result<PointerTag, StoreError> {
        validate_key(key)?;
        self.ensure_conditional_writes()?;
        let mode = match expected {
            None => PutMode::Create,
            Some(tag) => PutMode::Update(UpdateVersion {
                e_tag: Some(tag.0.clone()),
                version: None,
            }),
        };
        match self.runtime.block_on(self.conditional_put(key, new, mode)) {
            Ok(Some(tag)) => Ok(PointerTag(tag)),
            Ok(None) => Err(StoreError::Remote {
                location: self.location(key),
                reason: "the server returned no ETag, which compare-and-swap needs".to_string(),
            }),
            Err(Refused::Condition | Refused::Vanished) => Err(StoreError::Conflict {
                location: self.location(key),
            }),
            Err(Refused::Other(e)) => Err(self.remote_error(key, e)),
        }
    }

    fn age(&self, key: &str) -> Result<Option<std::time::Duration>, StoreError> {
        validate_key(key)?;
        let path = self.path(key);
        let meta = self
            .runtime
            .block_on(self.client.head(&path))
            .map_err(|e| self.remote_error(key, e))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        // Seconds are enough for a grace period of minutes or hours; a
        // server clock ahead of ours makes an object look new: kept.
        let seconds = (now - meta.last_modified.timestamp()).max(0) as u64;
        Ok(Some(std::time::Duration::from_secs(seconds)))
    }

    fn abort_stale_uploads(&self, prefix: &str, older_than: Duration) -> Result<UploadSweep, StoreError> {
        self.sweep_uploads(prefix, older_than)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let path = self.path(key);
        self.runtime
            .block_on(async {
                self.client.head(&path).await?;
                self.client.delete(&path).await
            })
            .map_err(|e| self.remote_error(key, e))
    }
}
