//! Where the registry calls its hooks (crate::hooks), and with what: the
//! event about to happen (pre) or that happened (post), as JSON.

use super::Registry;
use crate::error::{RegistryError, Result};
use crate::hooks::{HookName, HookRun};
use crate::names::{AliasName, ModelVersion};
use crate::store::Store;
use serde_json::{Value, json};

/// What a change is, for its hooks.
pub(super) struct HookEvent<'a> {
    pub action: &'a str,
    pub version: &'a ModelVersion,
    pub alias: Option<&'a AliasName>,
    pub previous: Option<&'a ModelVersion>,
    pub reason: Option<&'a str>,
}

impl<'a> HookEvent<'a> {
    /// A promotion or rollback of `alias` to `version` (from `previous`).
    pub(super) fn of_move(
        action: &'a str,
        version: &'a ModelVersion,
        alias: &'a AliasName,
        previous: Option<&'a ModelVersion>,
    ) -> Self {
        HookEvent {
            action,
            version,
            alias: Some(alias),
            previous,
            reason: None,
        }
    }
}

impl<S: Store> Registry<S> {
    fn hook_json(&self, hook: HookName, e: &HookEvent<'_>) -> Value {
        let actor = self.actor();
        json!({
            "hook": hook.as_str(),
            "action": e.action,
            "registry": self.location(),
            "model": self.model_label(),
            "version": e.version.to_string(),
            "alias": e.alias.map(|a| a.to_string()),
            "previous": e.previous.map(|v| v.to_string()),
            "reason": e.reason,
            "by": actor,
        })
    }

    /// Runs a `pre-*` hook: its failure is [`RegistryError::HookRefused`],
    /// and the caller changes nothing.
    pub(super) fn pre_hook(&self, hook: HookName, event: &HookEvent<'_>) -> Result<()> {
        let Some(hooks) = &self.hooks else { return Ok(()) };
        match hooks.run(hook, &self.hook_json(hook, event)) {
            HookRun::Absent | HookRun::Passed => Ok(()),
            HookRun::Failed { reason, output } => Err(RegistryError::HookRefused {
                hook: hook.as_str().to_string(),
                change: format!("{} version {}", event.action, event.version),
                reason,
                output,
            }),
        }
    }

    /// Runs a `post-*` hook: the change is made; a failure is the hook
    /// runner's to report.
    pub(super) fn post_hook(&self, hook: HookName, event: &HookEvent<'_>) {
        if let Some(hooks) = &self.hooks {
            let _ = hooks.run(hook, &self.hook_json(hook, event));
        }
    }
}
