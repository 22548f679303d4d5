//! Aliases from Python: promote, roll back, history, resolve, follow.

use super::{NativeRegistry, parse, to_json};
use crate::errors;
use pyo3::prelude::*;
use registry_core::{AliasName, Expect, ModelVersion, PromotionGate};

#[pymethods]
impl NativeRegistry {
    /// Points `alias` at `version` (`registry promote`): returns the
    /// alias's record (JSON) and whether anything changed.
    #[pyo3(signature = (version, alias, expect=None, if_better=false, metric=None, force=false))]
    #[allow(clippy::too_many_arguments)]
    fn promote(
        &self,
        py: Python<'_>,
        version: &str,
        alias: &str,
        expect: Option<&str>,
        if_better: bool,
        metric: Option<&str>,
        force: bool,
    ) -> PyResult<(String, bool)> {
        let alias: AliasName = parse(alias)?;
        let expect = Expect::from_option(expect).map_err(errors::registry)?;
        let gate = PromotionGate {
            if_better,
            metric: metric.map(parse).transpose()?,
            force,
        };
        let moved = py
            .detach(|| {
                let version = self.reg.resolve_target(version)?;
                self.reg.promote(&alias, &version, expect, &gate)
            })
            .map_err(errors::registry)?;
        Ok((to_json(&moved.record)?, moved.changed))
    }

    /// Moves `alias` back one step, or to `to` (`registry rollback`).
    #[pyo3(signature = (alias, to=None))]
    fn rollback(&self, py: Python<'_>, alias: &str, to: Option<&str>) -> PyResult<String> {
        let alias: AliasName = parse(alias)?;
        let to: Option<ModelVersion> = to.map(parse).transpose()?;
        let record = py
            .detach(|| match &to {
                Some(v) => self.reg.rollback_to(&alias, v),
                None => self.reg.rollback(&alias),
            })
            .map_err(errors::registry)?;
        to_json(&record)
    }

    /// Every state `alias` has had, oldest first (JSON list).
    fn history(&self, py: Python<'_>, alias: &str) -> PyResult<String> {
        let alias: AliasName = parse(alias)?;
        let history = py.detach(|| self.reg.alias_history(&alias)).map_err(errors::registry)?;
        to_json(&history)
    }

    /// Every alias's current state (JSON list).
    fn aliases(&self, py: Python<'_>) -> PyResult<String> {
        let aliases = py.detach(|| self.reg.list_aliases()).map_err(errors::registry)?;
        to_json(&aliases)
    }

    /// What `alias` names now (JSON record).
    fn resolve(&self, py: Python<'_>, alias: &str) -> PyResult<String> {
        let alias: AliasName = parse(alias)?;
        let record = py.detach(|| self.reg.resolve(&alias)).map_err(errors::registry)?;
        to_json(&record)
    }

    /// The state machine a follower of `alias` runs (registry-core's, as
    /// model-server's), on this registry's store.
    fn follow_state(&self, py: Python<'_>, alias: &str) -> PyResult<crate::follow::FollowState> {
        crate::follow::FollowState::start(py, self.reg.with_model(self.reg.model_name().cloned()), alias)
    }
}
