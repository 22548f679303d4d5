//! Opens a model registry from what a person types after `--registry`.
//!
//! Every binary of modelreg (trainer, predictor, registry) takes the same
//! `--registry` / `MODELREG_DIR` argument, and it may name either a local
//! directory or, in a build with the `s3` feature, an S3-compatible bucket
//! (`s3://bucket/prefix`). This crate is the one place that tells the two
//! apart, so the binaries stay the same whatever the backend.
//!
//! Why a feature: the S3 client (object_store, tokio, an HTTP and TLS stack)
//! triples the build time of the workspace, and most users keep the registry
//! on a local disk. A default build refuses an `s3://` location with a message
//! that says how to get a build that accepts it.
//!
//! ```
//! use registry_open::{OpenOptions, open, open_existing};
//!
//! let dir = tempfile::tempdir()?;
//! let location = dir.path().join("registry");
//! let location = location.to_str().unwrap();
//! // A directory: nothing is created until the first save.
//! let registry = open(location, &OpenOptions::default())?;
//! assert!(registry.list_versions()?.is_empty());
//! // Commands that read refuse a location with no registry.
//! assert!(open_existing(location, &OpenOptions::default()).is_err());
//! // A location that is neither a path nor s3://bucket/prefix is refused by name.
//! let err = open("gs://bucket/models", &OpenOptions::default()).unwrap_err();
//! assert!(err.to_string().contains("unsupported scheme"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod hooks;
#[cfg(feature = "s3")]
pub mod s3;

use std::path::PathBuf;
use std::sync::Arc;

use registry_core::cache::ReadCache;
use registry_core::store::{FsStore, Store};
use registry_core::{Registry, RegistryError};

/// A registry whose backend was chosen at run time.
pub type AnyRegistry = Registry<Box<dyn Store>>;

/// Where a registry lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on a local (or mounted) filesystem.
    Local(PathBuf),
    /// `s3://bucket/prefix`: objects under `prefix/` in `bucket`.
    S3 { bucket: String, prefix: String },
}

/// Settings that only some backends use.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// An S3-compatible server to talk to instead of AWS (MinIO, R2, a local
    /// test server): `http://127.0.0.1:9000`. `None` uses `AWS_ENDPOINT_URL`
    /// / `AWS_ENDPOINT` if set, else AWS itself.
    pub s3_endpoint: Option<String>,
    /// Read a remote registry's immutable content through the local cache
    /// (registry-cache); `None` reads the store alone. Local registries are
    /// never cached: they are local already.
    pub cache: Option<CacheSettings>,
}

/// Where the cache is (`--cache-dir`; `None`: `MODELREG_CACHE`, else
/// `~/.cache/modelreg`). Its bound is `MODELREG_CACHE_MAX`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheSettings {
    pub dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid registry location {location:?}: {reason}")]
    InvalidLocation { location: String, reason: String },
    #[error(
        "{location} is an S3 location, but this build has no S3 support (it was built with `--no-default-features`): rebuild with the default features (for example `cargo install --path crates/registry-cli`)"
    )]
    S3NotBuilt { location: String },
    #[error("cannot set up the S3 client for {location}: {reason}")]
    S3Setup { location: String, reason: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{0}")]
    Key(#[from] model_sign::SignError),
    #[error(transparent)]
    Cache(#[from] registry_cache::CacheError),
    #[error("{0}")]
    Hooks(String),
}

impl OpenError {
    /// What kind of failure this is (registry-core's one table).
    pub fn kind(&self) -> registry_core::ErrorKind {
        use registry_core::ErrorKind as K;
        match self {
            OpenError::InvalidLocation { .. } => K::InvalidName,
            OpenError::S3NotBuilt { .. } => K::Unsupported,
            OpenError::S3Setup { .. } => K::Storage,
            OpenError::Registry(e) => e.kind(),
            OpenError::Key(_) => K::InvalidInput,
            OpenError::Cache(e) => e.kind(),
            OpenError::Hooks(_) => K::InvalidInput,
        }
    }

    /// A stable, machine-readable name of the error.
    pub fn code(&self) -> &'static str {
        match self {
            OpenError::InvalidLocation { .. } => "invalid_location",
            OpenError::S3NotBuilt { .. } => "s3_not_built",
            OpenError::S3Setup { .. } => "s3_setup",
            OpenError::Registry(e) => e.code(),
            OpenError::Key(_) => "invalid_key_file",
            OpenError::Cache(_) => "cache",
            OpenError::Hooks(_) => "invalid_hook_timeout",
        }
    }
}

impl Location {
    /// Parses a `--registry` argument. Anything that does not start with a
    /// URL scheme is a local path.
    pub fn parse(text: &str) -> Result<Location, OpenError> {
        let invalid = |reason: &str| OpenError::InvalidLocation {
            location: text.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("no bucket name: write s3://BUCKET or s3://BUCKET/PREFIX"));
            }
            if !bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
            {
                return Err(invalid(
                    "a bucket name has only lower-case letters, digits, '-' and '.' (S3's naming rules)",
                ));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|part| part.is_empty() && !prefix.is_empty()) {
                return Err(invalid("the prefix has an empty path component ('//')"));
            }
            if prefix.split('/').any(|part| part == "." || part == "..") {
                return Err(invalid("the prefix may not contain '.' or '..' components"));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(invalid(&format!(
                "unsupported scheme {scheme:?}: use a directory path or s3://bucket/prefix"
            )));
        }
        if text.is_empty() {
            return Err(invalid("empty: give a directory path or s3://bucket/prefix"));
        }
        Ok(Location::Local(PathBuf::from(text)))
    }
}

/// The environment variable naming the trusted public keys (paths
/// separated by ':'), read the same way by every front end.
pub const TRUSTED_KEYS_ENV: &str = "MODELREG_TRUSTED_KEYS";

/// The trusted keys [`TRUSTED_KEYS_ENV`] names (none if it is unset).
pub fn trusted_keys_from_env() -> Vec<PathBuf> {
    std::env::var_os(TRUSTED_KEYS_ENV)
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `registry` checking signatures against the public keys in `paths`
/// (unchanged when there are none).
pub fn with_trusted_keys(registry: AnyRegistry, paths: &[PathBuf]) -> Result<AnyRegistry, OpenError> {
    if paths.is_empty() {
        return Ok(registry);
    }
    let keys = model_sign::TrustedKeys::from_files(paths)?;
    Ok(registry.with_signature_check(Arc::new(keys)))
}

/// Opens the registry at `location` (nothing is created until the first
/// save). Local directories get [`FsStore`]; `s3://` URLs get
/// [`s3::S3Store`] in a build with the `s3` feature.
pub fn open(location: &str, options: &OpenOptions) -> Result<AnyRegistry, OpenError> {
    let registry = Registry::open_store(store(location, options)?)?;
    let registry = match cache(location, options)? {
        Some(cache) => registry.with_cache(cache),
        None => registry,
    };
    with_hooks(registry, location)
}

/// A local registry runs the hooks in its `hooks/` directory (hooks.rs);
/// a remote one has none (its objects are not programs to run here).
/// Either delivers its webhooks.
fn with_hooks(registry: AnyRegistry, location: &str) -> Result<AnyRegistry, OpenError> {
    // Webhooks on every store: each event appended gets a first delivery
    // attempt (registry-webhooks).
    #[cfg(feature = "webhooks")]
    let registry = registry.with_event_listener(std::sync::Arc::new(registry_webhooks::Notifier::default()));
    Ok(match Location::parse(location)? {
        Location::Local(root) => registry.with_hooks(std::sync::Arc::new(
            hooks::LocalHooks::new(root).map_err(OpenError::Hooks)?,
        )),
        Location::S3 { .. } => registry,
    })
}

/// Like [`open`], but a location holding no registry is an error
/// ([`RegistryError::NoRegistry`]) instead of an empty registry, so that a
/// mistyped `--registry` fails loudly in every command that reads.
///
/// A remote registry opened with [`OpenOptions::cache`] reads its immutable
/// content through the local cache: a registry and model already cached
/// open without a request to the store.
pub fn open_existing(location: &str, options: &OpenOptions) -> Result<AnyRegistry, OpenError> {
    let store = store(location, options)?;
    let cache = cache(location, options)?;
    with_hooks(Registry::open_existing_cached(store, cache)?, location)
}

fn store(location: &str, options: &OpenOptions) -> Result<Box<dyn Store>, OpenError> {
    Ok(match Location::parse(location)? {
        Location::Local(path) => Box::new(FsStore::new(path)),
        Location::S3 { bucket, prefix } => s3_store(location, &bucket, &prefix, options)?,
    })
}

/// The cache for a remote `location`, if `options` ask for one. A cache
/// directory that cannot be made costs a warning and the cache, never the
/// read; a malformed `MODELREG_CACHE_MAX` is an error (a typo should not
/// silently fill a disk).
fn cache(location: &str, options: &OpenOptions) -> Result<Option<Arc<dyn ReadCache>>, OpenError> {
    let Some(settings) = &options.cache else {
        return Ok(None);
    };
    if matches!(Location::parse(location)?, Location::Local(_)) {
        return Ok(None);
    }
    let max = registry_cache::max_bytes_from_env()?;
    let server = options
        .s3_endpoint
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT").ok());
    let opened = registry_cache::cache_dir(settings.dir.as_deref())
        .and_then(|dir| registry_cache::FsCache::open(&dir, location, server.as_deref(), max));
    match opened {
        Ok(cache) => Ok(Some(Arc::new(cache))),
        Err(e) => {
            eprintln!("warning: reading {location} without a local cache: {e}");
            Ok(None)
        }
    }
}

#[cfg(feature = "s3")]
fn s3_store(location: &str, bucket: &str, prefix: &str, options: &OpenOptions) -> Result<Box<dyn Store>, OpenError> {
    let config = s3::S3Config::from_env(bucket, prefix, options.s3_endpoint.as_deref());
    let store = s3::S3Store::connect(config).map_err(|reason| OpenError::S3Setup {
        location: location.to_string(),
        reason,
    })?;
    Ok(Box::new(store))
}

#[cfg(not(feature = "s3"))]
fn s3_store(location: &str, _: &str, _: &str, _: &OpenOptions) -> Result<Box<dyn Store>, OpenError> {
    Err(OpenError::S3NotBuilt {
        location: location.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(Location::parse("registry").unwrap(), Location::Local("registry".into()));
        assert_eq!(
            Location::parse("/tmp/a b/registry").unwrap(),
            Location::Local("/tmp/a b/registry".into())
        );
        assert_eq!(
            Location::parse("s3://models").unwrap(),
            Location::S3 {
                bucket: "models".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            Location::parse("s3://models/team-a/registry/").unwrap(),
            Location::S3 {
                bucket: "models".into(),
                prefix: "team-a/registry".into()
            }
        );
    }

    #[test]
    fn bad_locations_say_what_is_wrong() {
        for (text, needle) in [
            ("s3://", "no bucket name"),
            ("s3:///prefix", "no bucket name"),
            ("s3://Models/x", "lower-case"),
            ("s3://m/a//b", "empty path component"),
            ("s3://m/a/../b", "'..'"),
            ("gs://bucket/x", "unsupported scheme \"gs\""),
            ("", "empty"),
        ] {
            let err = Location::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn a_minimal_build_says_how_to_get_s3() {
        let err = open("s3://bucket/models", &OpenOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--no-default-features"), "{err}");
    }

    #[test]
    fn local_directories_open_without_creating_anything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry");
        let registry = open(path.to_str().unwrap(), &OpenOptions::default()).unwrap();
        assert!(registry.list_versions().unwrap().is_empty());
        assert!(!path.exists());
    }
}
