//! Model validators: how a registry that knows nothing of model types can
//! still refuse a version whose bytes do not decode as the type they claim.
//!
//! Digests prove a version's bytes are the ones sealed, not that they are a
//! valid model: anyone who can write the registry can seal hostile bytes.
//! A front end that knows a model type (the CLI knows textclf's) registers
//! a validator; `verify` and every alias move then decode the versions of
//! that type and report those that do not validate, before anyone serves
//! them.

use super::Registry;
use crate::error::{RegistryError, Result};
use crate::metadata::ModelMetadata;
use crate::store::Store;
use std::sync::Arc;

/// What a front end that knows a model type checks of every version of it:
/// first what its metadata declares (read before a byte of the model is:
/// the encoding, the declared size, that there is an artifact at all), then
/// whether the artifact's bytes decode into a valid model. A reader of that
/// type must refuse nothing these pass, so `verify` and the reader agree.
#[derive(Clone)]
pub struct ModelValidator {
    model_type: String,
    declared: Check<ModelMetadata>,
    decode: Check<[u8]>,
}

/// One check of a validator: the reason when it refuses.
type Check<T> = Arc<dyn Fn(&T) -> std::result::Result<(), String> + Send + Sync>;

impl ModelValidator {
    /// A validator of `model_type`: `declared` checks a version's metadata,
    /// `decode` its artifact's bytes (already checked against the digests);
    /// each gives the reason when it refuses.
    pub fn new(
        model_type: impl Into<String>,
        declared: impl Fn(&ModelMetadata) -> std::result::Result<(), String> + Send + Sync + 'static,
        decode: impl Fn(&[u8]) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        ModelValidator {
            model_type: model_type.into(),
            declared: Arc::new(declared),
            decode: Arc::new(decode),
        }
    }

    /// The model type this validator knows.
    pub fn model_type(&self) -> &str {
        &self.model_type
    }
}

/// The validators a registry runs.
#[derive(Clone, Default)]
pub(super) struct Validators(Vec<ModelValidator>);

impl std::fmt::Debug for Validators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} model validator(s)", self.0.len())
    }
}

impl<S: Store> Registry<S> {
    /// Adds a validator run by `verify` and before every alias move (see the
    /// module docs).
    pub fn with_validator(mut self, validator: ModelValidator) -> Self {
        self.validators.0.push(validator);
        self
    }

    /// Whether a validator knows `model_type`.
    pub(super) fn knows_model_type(&self, model_type: &str) -> bool {
        self.validators.0.iter().any(|v| v.model_type == model_type)
    }

    /// The validators that know `metadata`'s model type.
    fn validators_of<'a>(&'a self, metadata: &'a ModelMetadata) -> impl Iterator<Item = &'a ModelValidator> + 'a {
        let model_type = metadata.info.model_type.as_deref();
        self.validators
            .0
            .iter()
            .filter(move |v| Some(v.model_type.as_str()) == model_type)
    }

    fn invalid(metadata: &ModelMetadata, validator: &ModelValidator, reason: String) -> RegistryError {
        RegistryError::InvalidModel {
            version: metadata.version.to_string(),
            model_type: validator.model_type.clone(),
            reason,
        }
    }

    /// Runs the metadata checks of the validators that know `metadata`'s
    /// model type: before any of its bytes are read.
    pub(super) fn validate_declared(&self, metadata: &ModelMetadata) -> Result<()> {
        for validator in self.validators_of(metadata) {
            (validator.declared)(metadata).map_err(|reason| Self::invalid(metadata, validator, reason))?;
        }
        Ok(())
    }

    /// Whether a validator would decode `metadata`'s artifact.
    pub(super) fn decodes_artifact(&self, metadata: &ModelMetadata) -> bool {
        metadata.artifact.is_some() && self.validators_of(metadata).next().is_some()
    }

    /// Runs the decoders of the validators that know `metadata`'s model type
    /// on its artifact's bytes (already checked against the digests).
    pub(super) fn validate_model(&self, metadata: &ModelMetadata, bytes: &[u8]) -> Result<()> {
        for validator in self.validators_of(metadata) {
            (validator.decode)(bytes).map_err(|reason| Self::invalid(metadata, validator, reason))?;
        }
        Ok(())
    }
}
