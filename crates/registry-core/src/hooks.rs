//! Hooks: programs run around a registry's changes, git-style
//! (`hooks/pre-promote`, `pre-delete`, `post-promote`, `post-save`).
//! The registry says when (here: before a promotion or rollback moves its
//! alias, before a deletion is recorded, after either succeeded, after a
//! save); a [`Hooks`] says how (registry-open runs the executables of a
//! local registry's `hooks/` directory, with its ownership rules). A
//! `pre-*` hook that fails vetoes the change, which then changes nothing;
//! a `post-*` failure is the runner's to report and undoes nothing.

use serde_json::Value;

/// The moments a hook can run at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookName {
    PrePromote,
    PreDelete,
    PostPromote,
    PostSave,
}

impl HookName {
    /// The hook's file name.
    pub fn as_str(self) -> &'static str {
        match self {
            HookName::PrePromote => "pre-promote",
            HookName::PreDelete => "pre-delete",
            HookName::PostPromote => "post-promote",
            HookName::PostSave => "post-save",
        }
    }

    /// Whether a failure vetoes the change.
    pub fn is_pre(self) -> bool {
        matches!(self, HookName::PrePromote | HookName::PreDelete)
    }
}

/// What running a hook came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookRun {
    /// No such hook: nothing ran.
    Absent,
    /// It ran and succeeded.
    Passed,
    /// It failed (non-zero exit, timeout), or was refused (not safe to
    /// run): `reason` says which, `output` is what it printed.
    Failed { reason: String, output: String },
}

/// Runs a registry's hooks.
pub trait Hooks: Send + Sync + std::fmt::Debug {
    /// Runs `hook` with `event` (JSON: the change about to be made, or
    /// made) and says how it went.
    fn run(&self, hook: HookName, event: &Value) -> HookRun;
}
