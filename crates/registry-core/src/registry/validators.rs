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

/// Checks a model's bytes for its `model_type`: `None` if it does not know
/// that type (decided from the type alone, whatever the bytes), else whether
/// the bytes decode into a valid model (with the reason if not).
pub type ModelValidator = Arc<dyn Fn(&str, &[u8]) -> Option<std::result::Result<(), String>> + Send + Sync>;

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

    /// Whether a validator knows `model_type` (asked with no bytes: a
    /// validator answers `None` for types it does not know without looking).
    pub(super) fn knows_model_type(&self, model_type: &str) -> bool {
        self.validators.0.iter().any(|v| v(model_type, &[]).is_some())
    }

    /// Whether any validator is registered (else there is nothing to decode).
    pub(super) fn has_validators(&self) -> bool {
        !self.validators.0.is_empty()
    }

    /// Runs the validators that know `metadata`'s model type on its bytes
    /// (already checked against the digests).
    pub(super) fn validate_model(&self, metadata: &ModelMetadata, bytes: &[u8]) -> Result<()> {
        let Some(model_type) = metadata.info.model_type.as_deref() else {
            return Ok(());
        };
        for validator in &self.validators.0 {
            if let Some(Err(reason)) = validator(model_type, bytes) {
                return Err(RegistryError::InvalidModel {
                    version: metadata.version.to_string(),
                    model_type: model_type.to_string(),
                    reason,
                });
            }
        }
        Ok(())
    }
}
