//! `modelreg._native.FollowState`: registry-core's alias follower (the one
//! state machine model-server runs too) for the Python `Follower`, which
//! loads and holds the models in its thread. The registry is read with the
//! GIL released.

use pyo3::prelude::*;
use registry_core::follow::{AliasFollower, FollowTarget, Poll};
use registry_core::{AliasName, RegistryError};
use registry_open::AnyRegistry;
use std::sync::Mutex;

use crate::errors;

/// What one poll asks the Python follower to do: `None` (nothing), or
/// `("load" | "swap_back", version, metadata_sha256)`, or
/// `("unreadable", reason, first)`.
type Action = Option<(String, String, Py<PyAny>)>;

#[pyclass(frozen, module = "modelreg._native")]
pub struct FollowState {
    reg: AnyRegistry,
    state: Mutex<AliasFollower>,
    first: FollowTarget,
}

impl FollowState {
    /// Starts following `alias` on `reg`.
    pub fn start(py: Python<'_>, reg: AnyRegistry, alias: &str) -> PyResult<FollowState> {
        let alias: AliasName = alias.parse().map_err(errors::registry)?;
        let (state, first) = py
            .detach(|| AliasFollower::start(&reg, alias))
            .map_err(errors::registry)?;
        Ok(FollowState {
            reg,
            state: Mutex::new(state),
            first,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut AliasFollower) -> T) -> PyResult<T> {
        let mut state = self.state.lock().map_err(|_| {
            errors::registry(RegistryError::InvalidOption {
                option: "follow".into(),
                reason: "a previous poll panicked; start a new follower".into(),
            })
        })?;
        Ok(f(&mut state))
    }
}

fn target(version: &str, metadata_sha256: &str) -> PyResult<FollowTarget> {
    Ok(FollowTarget {
        version: version.parse().map_err(errors::registry)?,
        metadata_sha256: metadata_sha256.to_string(),
    })
}

#[pymethods]
impl FollowState {
    /// The target to load first: `(version, metadata_sha256)`.
    fn first(&self) -> (String, String) {
        (self.first.version.to_string(), self.first.metadata_sha256.clone())
    }

    /// One poll of the alias (see the module docs for what comes back).
    fn poll(&self, py: Python<'_>) -> PyResult<Action> {
        let polled = py.detach(|| self.with(|state| state.poll(&self.reg)))?;
        Ok(match polled {
            Poll::Unchanged => None,
            // A retry (after the backoff) is a load like any other.
            Poll::Load(t) | Poll::Retry { target: t, .. } => Some((
                "load".into(),
                t.version.to_string(),
                t.metadata_sha256.into_pyobject(py)?.into_any().unbind(),
            )),
            Poll::SwapBack(t) => Some((
                "swap_back".into(),
                t.version.to_string(),
                t.metadata_sha256.into_pyobject(py)?.into_any().unbind(),
            )),
            Poll::Unreadable { reason, first } => Some((
                "unreadable".into(),
                reason,
                pyo3::types::PyBool::new(py, first).to_owned().into_any().unbind(),
            )),
        })
    }

    /// The target loaded and is served now.
    fn loaded(&self, version: &str, metadata_sha256: &str) -> PyResult<()> {
        let t = target(version, metadata_sha256)?;
        self.with(|state| state.loaded(t))
    }

    /// The target failed to load: True if this failure is new (report it).
    fn failed(&self, version: &str, metadata_sha256: &str) -> PyResult<bool> {
        let t = target(version, metadata_sha256)?;
        self.with(|state| state.failed(&t))
    }

    /// The load found the alias moved meanwhile: read it again next poll.
    fn moved(&self) -> PyResult<()> {
        self.with(AliasFollower::moved)
    }
}
