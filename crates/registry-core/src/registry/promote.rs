//! Promotion: moving an alias, with the checks a team wants before a model
//! serves (the policy lives here, not in a front end, so the CLI, the
//! Python package and the server apply the same rules).

use super::{AliasMove, Expect, Registry};
use crate::error::{RegistryError, Result};
use crate::metadata::ModelMetadata;
use crate::names::{AliasName, ModelVersion};
use crate::store::Store;

/// What must hold before [`Registry::promote`] moves an alias.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromotionGate {
    /// Refuse a candidate that scores worse than the version the alias names
    /// now. Scores are compared only between versions evaluated the same way
    /// (same data fingerprint, split seed and test size); a candidate that
    /// cannot be compared, or has no score, is refused too.
    pub if_better: bool,
    /// The score to compare; `None`: `test_score`, higher is better.
    pub metric: Option<Metric>,
    /// Promote a deprecated version, and (with `if_better`) one whose
    /// scores cannot be compared (different data, no score recorded). A
    /// comparable, worse score is still refused.
    pub force: bool,
}

/// A recorded score and which way is better.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// `test_score`, `cv_score`, or a key of the version's `metrics`.
    pub name: String,
    pub higher_is_better: bool,
}

impl std::str::FromStr for Metric {
    type Err = RegistryError;

    /// `NAME`, `NAME:max` or `NAME:min`. Without a suffix, names that say
    /// loss or error (`log_loss`, `rmse`, `mae`, `error_rate`, …) are
    /// lower-is-better and everything else higher-is-better.
    fn from_str(text: &str) -> Result<Metric> {
        let (name, direction) = match text.rsplit_once(':') {
            Some((name, "max")) => (name, Some(true)),
            Some((name, "min")) => (name, Some(false)),
            Some(_) => {
                return Err(RegistryError::InvalidMetric {
                    input: text.to_string(),
                    reason: "the direction after ':' must be max or min".into(),
                });
            }
            None => (text, None),
        };
        if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
            return Err(RegistryError::InvalidMetric {
                input: text.to_string(),
                reason: "a metric name is 1-64 letters, digits, '_', '-' or '.'".into(),
            });
        }
        let lower = ["loss", "error", "mse", "rmse", "mae", "mape", "perplexity"];
        let higher_is_better = direction.unwrap_or_else(|| !lower.iter().any(|w| name.to_lowercase().contains(w)));
        Ok(Metric {
            name: name.to_string(),
            higher_is_better,
        })
    }
}

impl Metric {
    fn test_score() -> Metric {
        Metric {
            name: "test_score".into(),
            higher_is_better: true,
        }
    }

    /// The value `md` records for this metric.
    fn value(&self, md: &ModelMetadata) -> Option<f64> {
        match self.name.as_str() {
            "test_score" => md.info.test_score,
            "cv_score" => md.info.cv_score,
            name => md.info.metrics.get(name).and_then(serde_json::Value::as_f64),
        }
        .filter(|v| v.is_finite())
    }
}

impl<S: Store> Registry<S> {
    /// Points `alias` at `version` if `expect` holds and the `gate` lets it
    /// through; a refusal is [`RegistryError::PromotionRefused`] and changes
    /// nothing. Promoting the version the alias already names changes
    /// nothing either (`changed: false`).
    pub fn promote(
        &self,
        alias: &AliasName,
        version: &ModelVersion,
        expect: Expect,
        gate: &PromotionGate,
    ) -> Result<AliasMove> {
        self.check_not_deprecated(alias, version, gate.force)?;
        if gate.if_better {
            self.check_if_better(alias, version, gate)?;
        }
        self.point_alias(alias, version, expect)
    }

    fn check_if_better(&self, alias: &AliasName, version: &ModelVersion, gate: &PromotionGate) -> Result<()> {
        let current = match self.resolve(alias) {
            Ok(current) => current,
            Err(RegistryError::AliasNotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        if current.version == *version {
            return Ok(());
        }
        let refuse = |reason: String| RegistryError::PromotionRefused {
            alias: alias.to_string(),
            version: version.to_string(),
            reason,
        };
        let metric = gate.metric.clone().unwrap_or_else(Metric::test_score);
        let candidate = self.metadata(version)?;
        let incumbent = self.metadata(&current.version)?;
        let (c, i) = match (metric.value(&candidate), metric.value(&incumbent)) {
            (Some(c), Some(i)) => (c, i),
            _ if gate.force => return Ok(()),
            (None, _) => {
                return Err(refuse(format!(
                    "it records no {} to compare (--force promotes it anyway)",
                    metric.name
                )));
            }
            (Some(_), None) => {
                return Err(refuse(format!(
                    "{} (which {alias} names now) records no {} to compare (--force promotes anyway)",
                    current.version, metric.name
                )));
            }
        };
        if let Some(difference) = evaluation_difference(&candidate, &incumbent) {
            if gate.force {
                return Ok(());
            }
            return Err(refuse(format!(
                "its {} cannot be compared with {}'s: {difference} (--force promotes it anyway)",
                metric.name, current.version
            )));
        }
        let worse = if metric.higher_is_better { c < i } else { c > i };
        if worse {
            return Err(refuse(format!(
                "its {} {c:.4} is {} {}'s {i:.4}",
                metric.name,
                if metric.higher_is_better { "below" } else { "above" },
                current.version
            )));
        }
        Ok(())
    }
}

/// Why two versions' scores do not measure the same thing, if they don't:
/// they must have been evaluated on the same data, split the same way.
fn evaluation_difference(a: &ModelMetadata, b: &ModelMetadata) -> Option<String> {
    let (la, lb) = (&a.info.lineage, &b.info.lineage);
    let describe = |md: &ModelMetadata| {
        md.info
            .lineage
            .data
            .as_ref()
            .map_or("no recorded data".to_string(), |d| {
                format!("{} (sha256 {})", d.name, &d.sha256[..d.sha256.len().min(12)])
            })
    };
    match (&la.data, &lb.data) {
        (Some(da), Some(db)) if da.sha256 == db.sha256 => {}
        _ => {
            return Some(format!(
                "{} was evaluated on {}, {} on {}",
                a.version,
                describe(a),
                b.version,
                describe(b)
            ));
        }
    }
    if la.seed != lb.seed {
        return Some(format!("different split seeds ({:?} and {:?})", la.seed, lb.seed));
    }
    if la.test_size != lb.test_size {
        return Some(format!(
            "different test sizes ({:?} and {:?})",
            la.test_size, lb.test_size
        ));
    }
    None
}
