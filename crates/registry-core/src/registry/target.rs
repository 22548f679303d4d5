//! What a person names a model by: a version or an alias.

use super::Registry;
use crate::error::{RegistryError, Result};
use crate::names::{AliasName, ModelVersion};
use crate::store::Store;

impl<S: Store> Registry<S> {
    /// A version (`1.0.2`) as it is, or an alias (`production`, `latest`)
    /// resolved to the version it names now.
    pub fn resolve_target(&self, target: &str) -> Result<ModelVersion> {
        let version_error = match target.parse::<ModelVersion>() {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        match target.parse::<AliasName>() {
            Ok(alias) => Ok(self.resolve(&alias)?.version),
            Err(alias_error) => Err(RegistryError::InvalidTarget {
                input: target.to_string(),
                version_error: version_error.to_string(),
                alias_error: alias_error.to_string(),
            }),
        }
    }
}
