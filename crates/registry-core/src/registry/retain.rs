//! Retention: which versions a policy keeps (the newest N, those saved
//! within a window) and deleting the others (delete.rs: recorded,
//! restorable until gc). Never a version an alias names, or an alias but
//! `latest` (which moves by itself on every save) named within the window
//! (the policy's `keep_within`, else gc's default grace): a version
//! production left yesterday is the one a rollback needs. A model
//! may keep its policy (`retention.json`), which every `gc` applies.

use super::Registry;
use super::gc::{DEFAULT_GC_AGE, about, exact};
use super::keys;
use crate::error::{RegistryError, Result};
use crate::metadata::{Actor, AliasAction, FORMAT_VERSION, from_map, parse_versioned};
use crate::names::{AliasName, ModelVersion};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

/// What to keep: the newest `keep_last` versions (in version order), and
/// every version saved within `keep_within_secs`. At least one is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_secs: Option<u64>,
}

impl RetentionPolicy {
    /// The window within which an alias's past targets are kept.
    fn alias_window(&self) -> Duration {
        self.keep_within_secs.map_or(DEFAULT_GC_AGE, Duration::from_secs)
    }

    /// The policy in words, for messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.keep_last {
            parts.push(format!("the newest {n} version(s)"));
        }
        if let Some(s) = self.keep_within_secs {
            parts.push(format!("those saved within {}", exact(Duration::from_secs(s))));
        }
        parts.push(format!(
            "any an alias names or named within {}",
            exact(self.alias_window())
        ));
        format!("keep {}", parts.join(", "))
    }

    fn check(&self) -> Result<()> {
        if self.keep_last.is_none() && self.keep_within_secs.is_none() {
            return Err(RegistryError::InvalidOption {
                option: "retention".into(),
                reason: "a policy keeps something: give --keep-last N, --keep-within DURATION, or both".into(),
            });
        }
        Ok(())
    }
}

/// `retention.json`: a model's policy, applied by every gc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRetention {
    pub format_version: u32,
    #[serde(flatten)]
    pub policy: RetentionPolicy,
    #[serde(with = "time::serde::rfc3339")]
    pub set_at: OffsetDateTime,
    pub set_by: Actor,
}

/// One version and why the policy keeps or deletes it.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub version: ModelVersion,
    pub reason: String,
}

/// What a policy would do, decided before anything is deleted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionPlan {
    pub policy: String,
    pub delete: Vec<Planned>,
    pub keep: Vec<Planned>,
}

/// A plan carried out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionOutcome {
    pub dry_run: bool,
    pub plan: RetentionPlan,
    /// Deleted by this run.
    pub deleted: Vec<ModelVersion>,
    /// Planned but refused when the time came (an alias moved to it
    /// meanwhile, someone deleted it first).
    pub refused: Vec<Planned>,
}

impl<S: Store> Registry<S> {
    /// What `policy` keeps and deletes of this model now, and why.
    pub fn retention_plan(&self, policy: &RetentionPolicy) -> Result<RetentionPlan> {
        policy.check()?;
        let now = OffsetDateTime::now_utc();
        let named_now = self.named_now()?;
        let named_recently = self.named_since(now - policy.alias_window())?;
        let entries = self.catalog()?;
        let newest_from = entries.len().saturating_sub(policy.keep_last.unwrap_or(0));
        let mut plan = RetentionPlan {
            policy: policy.describe(),
            ..RetentionPlan::default()
        };
        for (i, entry) in entries.into_iter().enumerate() {
            let row = match entry {
                Ok(row) => row,
                Err((version, why)) => {
                    let reason = format!("its metadata cannot be read ({why}); `registry verify` says more");
                    plan.keep.push(Planned { version, reason });
                    continue;
                }
            };
            let age = Duration::try_from(now - row.timestamp).unwrap_or_default();
            let within = policy.keep_within_secs.map(Duration::from_secs);
            let keep = if let Some(alias) = named_now.get(&row.version) {
                Some(format!("alias {alias} names it"))
            } else if policy.keep_last.is_some() && i >= newest_from {
                Some(format!("one of the newest {}", policy.keep_last.unwrap_or(0)))
            } else if let Some(w) = within.filter(|w| age < *w) {
                Some(format!("saved {} ago, within {}", about(age), exact(w)))
            } else {
                named_recently.get(&row.version).map(|(alias, at)| {
                    let ago = Duration::try_from(now - *at).unwrap_or_default();
                    format!(
                        "alias {alias} named it {} ago, within {} (a rollback may need it)",
                        about(ago),
                        exact(policy.alias_window())
                    )
                })
            };
            let version = row.version;
            match keep {
                Some(reason) => plan.keep.push(Planned { version, reason }),
                None => {
                    let mut why = Vec::new();
                    if let Some(n) = policy.keep_last {
                        why.push(format!("not among the newest {n}"));
                    }
                    if let Some(w) = within {
                        why.push(format!("saved {} ago, before {}", about(age), exact(w)));
                    }
                    let reason = why.join(", ");
                    plan.delete.push(Planned { version, reason });
                }
            }
        }
        Ok(plan)
    }

    /// Deletes what [`Registry::retention_plan`] says to (with `dry_run`,
    /// only plans). Each deletion is [`Registry::delete_version`]'s, so one
    /// an alias moved to meanwhile is refused and reported, not forced.
    pub fn retain(&self, policy: &RetentionPolicy, dry_run: bool) -> Result<RetentionOutcome> {
        let plan = self.retention_plan(policy)?;
        let mut outcome = RetentionOutcome {
            dry_run,
            ..RetentionOutcome::default()
        };
        if !dry_run {
            for planned in &plan.delete {
                let reason = format!("retention: {}; {}", planned.reason, plan.policy);
                match self.delete_version(&planned.version, Some(&reason)) {
                    Ok(_) => outcome.deleted.push(planned.version.clone()),
                    Err(e @ (RegistryError::VersionInUse { .. } | RegistryError::VersionDeleted { .. })) => {
                        outcome.refused.push(Planned {
                            version: planned.version.clone(),
                            reason: e.to_string(),
                        })
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        outcome.plan = plan;
        Ok(outcome)
    }

    /// Every version an alias names now, with one alias naming it.
    fn named_now(&self) -> Result<BTreeMap<ModelVersion, AliasName>> {
        Ok(self.list_aliases()?.into_iter().map(|r| (r.version, r.alias)).collect())
    }

    /// Every version an alias but `latest` named at any time since `since`
    /// (deleted aliases included), with the alias and when it last did.
    fn named_since(&self, since: OffsetDateTime) -> Result<BTreeMap<ModelVersion, (AliasName, OffsetDateTime)>> {
        let now = OffsetDateTime::now_utc();
        let mut out: BTreeMap<ModelVersion, (AliasName, OffsetDateTime)> = BTreeMap::new();
        for key in self.store.list(&self.keys.aliases())? {
            // `latest` moves by itself on every save: its past targets
            // are not anyone's choice to roll back to (it names one now,
            // which `named_now` keeps).
            let Some(alias) = self.keys.alias_of(&key).filter(|a| !a.is_latest()) else {
                continue;
            };
            let history = self.alias_history(&alias)?;
            for (i, record) in history.iter().enumerate() {
                if record.action == AliasAction::Delete {
                    continue;
                }
                // It named `record.version` until the next state.
                let until = history.get(i + 1).map_or(now, |next| next.moved_at);
                if until >= since && out.get(&record.version).is_none_or(|(_, at)| *at < until) {
                    out.insert(record.version.clone(), (alias.clone(), until));
                }
            }
        }
        Ok(out)
    }

    /// The model's saved retention policy, if any.
    pub fn retention_policy(&self) -> Result<Option<StoredRetention>> {
        let key = self.keys.retention();
        let Some(pointer) = self.store.read_pointer_limited(&key, keys::MAX_SMALL_DOCUMENT_BYTES)? else {
            return Ok(None);
        };
        let location = self.store.location(&key);
        let stored: StoredRetention = from_map(parse_versioned(&pointer.bytes, &location)?, &location)?;
        stored.policy.check().map_err(|e| RegistryError::InvalidMetadata {
            location,
            reason: e.to_string(),
        })?;
        Ok(Some(stored))
    }

    /// Saves `policy` as the model's (applied by every gc), or removes the
    /// saved one (`None`).
    pub fn set_retention_policy(&self, policy: Option<&RetentionPolicy>) -> Result<Option<StoredRetention>> {
        let key = self.keys.retention();
        let Some(policy) = policy else {
            return match self.store.delete(&key) {
                Ok(()) | Err(StoreError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            };
        };
        policy.check()?;
        self.ensure_marker()?;
        let stored = StoredRetention {
            format_version: FORMAT_VERSION,
            policy: policy.clone(),
            set_at: OffsetDateTime::now_utc(),
            set_by: self.actor().clone(),
        };
        let bytes = serde_json::to_vec_pretty(&stored).map_err(|e| RegistryError::Encode {
            version: "retention.json".into(),
            reason: e.to_string(),
        })?;
        loop {
            let current = self.store.read_pointer_limited(&key, keys::MAX_SMALL_DOCUMENT_BYTES)?;
            match self.store.swap_pointer(&key, current.as_ref().map(|p| &p.tag), &bytes) {
                Ok(_) => return Ok(Some(stored)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
