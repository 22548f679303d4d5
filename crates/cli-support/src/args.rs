//! The options every binary takes, as clap argument groups.

use registry_core::{Bump, ModelName, choose_model};
use registry_open::{AnyRegistry, OpenError, OpenOptions};
use std::path::PathBuf;
use std::sync::Arc;

/// The `--registry`, `--s3-endpoint`, `--model` and `--trusted-key`
/// options every modelreg binary takes (`#[command(flatten)]` it into a
/// clap parser).
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Registry: a directory, or s3://bucket/prefix (in a build with the `s3` feature).
    #[arg(
        long,
        global = true,
        env = "MODELREG_DIR",
        hide_env_values = true,
        default_value = "registry"
    )]
    pub registry: String,
    /// S3-compatible server for s3:// registries, e.g. http://127.0.0.1:9000 (default: AWS_ENDPOINT_URL, else AWS).
    #[arg(long, global = true, env = "MODELREG_S3_ENDPOINT", hide_env_values = true)]
    pub s3_endpoint: Option<String>,
    /// Model within the registry, e.g. spam (default: the registry's default model; see `registry models`).
    #[arg(long, global = true, env = "MODELREG_MODEL", hide_env_values = true)]
    pub model: Option<String>,
    /// Public key (PEM) whose signatures are trusted; repeatable (MODELREG_TRUSTED_KEYS: paths separated by ':'). With any, only versions signed by one of them are loaded, promoted or verified.
    #[arg(
        long = "trusted-key",
        global = true,
        env = registry_open::TRUSTED_KEYS_ENV,
        hide_env_values = true,
        value_delimiter = ':'
    )]
    pub trusted_keys: Vec<PathBuf>,
    /// Local cache of remote (s3://) registries: versions read once load from here, pinned ones with no request to the store (default: MODELREG_CACHE, else ~/.cache/modelreg; bounded by MODELREG_CACHE_MAX, default 10GB).
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Read a remote registry without the local cache.
    #[arg(long, global = true, conflicts_with = "cache_dir")]
    pub no_cache: bool,
}

impl RegistryArgs {
    pub fn options(&self) -> OpenOptions {
        OpenOptions {
            s3_endpoint: self.s3_endpoint.clone(),
            cache: (!self.no_cache).then(|| registry_open::CacheSettings {
                dir: self.cache_dir.clone(),
            }),
        }
    }

    /// Opens the registry these options name (created by its first save),
    /// checking signatures if trusted keys are given.
    pub fn open(&self) -> Result<AnyRegistry, OpenError> {
        registry_open::with_trusted_keys(
            registry_open::open(&self.registry, &self.options())?,
            &self.trusted_keys,
        )
    }

    /// Opens the registry these options name, which must exist: for
    /// commands that only read (see [`registry_open::open_existing`]).
    pub fn open_existing(&self) -> Result<AnyRegistry, OpenError> {
        registry_open::with_trusted_keys(
            registry_open::open_existing(&self.registry, &self.options())?,
            &self.trusted_keys,
        )
    }

    /// The model to work on: `--model` / `MODELREG_MODEL`, or the model a
    /// `models:/` URI among `targets` names (they must agree).
    pub fn model<'a>(&self, targets: impl IntoIterator<Item = &'a str>) -> Result<Option<ModelName>, OpenError> {
        Ok(choose_model(self.model.as_deref(), targets)?)
    }

    /// [`RegistryArgs::open`] for the model [`RegistryArgs::model`] picks
    /// (created by its first save): for commands that write.
    pub fn open_model<'a>(&self, targets: impl IntoIterator<Item = &'a str>) -> Result<AnyRegistry, OpenError> {
        let model = self.model(targets)?;
        Ok(self.open()?.for_model(model))
    }

    /// [`RegistryArgs::open_existing`] for the model [`RegistryArgs::model`]
    /// picks, which must exist: for commands that read.
    pub fn open_existing_model<'a>(
        &self,
        targets: impl IntoIterator<Item = &'a str>,
    ) -> Result<AnyRegistry, OpenError> {
        let model = self.model(targets)?;
        let registry = self.open_existing()?.for_model(model);
        registry.require_model()?;
        Ok(registry)
    }
}

/// The options of the commands that save: sign the new version.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SignArgs {
    /// Private key (PEM, ECDSA P-256/P-384/P-521) to sign the new version with, in the OpenSSF model-signing format.
    #[arg(long, env = "MODELREG_SIGN_KEY", hide_env_values = true)]
    pub sign_key: Option<PathBuf>,
    /// Name of the environment variable holding the password of an encrypted --sign-key.
    #[arg(long, requires = "sign_key")]
    pub key_password_env: Option<String>,
}

impl SignArgs {
    /// The signer these options name, if any.
    pub fn signer(&self) -> Result<Option<Arc<model_sign::KeySigner>>, OpenError> {
        let Some(path) = &self.sign_key else {
            return Ok(None);
        };
        let password = match &self.key_password_env {
            Some(var) => Some(std::env::var(var).map_err(|_| {
                model_sign::SignError::Key(format!(
                    "--key-password-env {var}: the environment variable {var} is not set"
                ))
            })?),
            None => None,
        };
        Ok(Some(Arc::new(model_sign::KeySigner::from_file(
            path,
            password.as_deref().map(str::as_bytes),
        )?)))
    }
}

/// `--bump major|minor|patch`: which part of the highest existing version a
/// save increments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BumpArg {
    Major,
    Minor,
    #[default]
    Patch,
}

impl From<BumpArg> for Bump {
    fn from(b: BumpArg) -> Bump {
        match b {
            BumpArg::Major => Bump::Major,
            BumpArg::Minor => Bump::Minor,
            BumpArg::Patch => Bump::Patch,
        }
    }
}
