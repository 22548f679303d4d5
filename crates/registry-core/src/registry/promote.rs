//! Promotion: moving an alias, with the checks a team wants before a model
//! serves (the policy lives here, not in a front end, so the CLI, the
//! Python package and the server apply the same rules).

use super::{Expect, Registry};
use crate::error::{RegistryError, Result};
use crate::metadata::AliasRecord;
use crate::names::{AliasName, ModelVersion};
use crate::store::Store;

/// What must hold before [`Registry::promote`] moves an alias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromotionGate {
    /// Refuse a candidate whose test score is below that of the version
    /// the alias names now (when both have one).
    pub if_better: bool,
}

impl<S: Store> Registry<S> {
    /// Points `alias` at `version` if `expect` holds and the `gate` lets it
    /// through; a refusal is [`RegistryError::PromotionRefused`] and
    /// changes nothing.
    pub fn promote(
        &self,
        alias: &AliasName,
        version: &ModelVersion,
        expect: Expect,
        gate: &PromotionGate,
    ) -> Result<AliasRecord> {
        if gate.if_better {
            self.check_if_better(alias, version)?;
        }
        self.set_alias(alias, version, expect)
    }

    fn check_if_better(&self, alias: &AliasName, version: &ModelVersion) -> Result<()> {
        let current = match self.resolve(alias) {
            Ok(current) => current,
            Err(RegistryError::AliasNotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let candidate = self.metadata(version)?.info.test_score;
        let incumbent = self.metadata(&current.version)?.info.test_score;
        if let (Some(c), Some(i)) = (candidate, incumbent)
            && c < i
        {
            return Err(RegistryError::PromotionRefused {
                alias: alias.to_string(),
                version: version.to_string(),
                reason: format!("its test score {c:.4} is below {}'s {i:.4}", current.version),
            });
        }
        Ok(())
    }
}
