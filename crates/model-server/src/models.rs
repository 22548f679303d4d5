//! The models one process serves: each `--serve` target is a [`Slot`]
//! with its own atomically swapped version and follower; routes find a
//! slot by the registry's model name (and, for the protocols that name
//! one, by version).

use crate::metrics::ModelLabels;
use crate::served::Served;
use arc_swap::ArcSwap;
use registry_core::{ModelName, Target};
use std::sync::Arc;

/// What to serve: a model of the registry (`None`: the default model) and
/// the alias to follow or the version to pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeTarget {
    pub model: Option<ModelName>,
    pub target: Target,
}

impl ServeTarget {
    /// The model's name as the registry and the protocols call it.
    pub fn model_label(&self) -> &str {
        self.model.as_ref().map_or(ModelName::DEFAULT, ModelName::as_str)
    }
}

impl std::fmt::Display for ServeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            Target::Alias(a) => write!(f, "models:/{}@{a}", self.model_label()),
            Target::Version(v) => write!(f, "models:/{}/{v}", self.model_label()),
            Target::Number(n) => write!(f, "models:/{}/{n}", self.model_label()),
        }
    }
}

/// One served model.
pub struct Slot {
    pub target: ServeTarget,
    /// What requests use; swapped whole when the alias moves.
    pub current: Arc<ArcSwap<Served>>,
    /// Why the served version is not the one the followed alias names (it
    /// failed to load and is being retried).
    pub degraded: Arc<ArcSwap<Option<String>>>,
}

impl Slot {
    pub fn new(target: ServeTarget, first: Served) -> Slot {
        Slot {
            target,
            current: Arc::new(ArcSwap::from_pointee(first)),
            degraded: Arc::new(ArcSwap::from_pointee(None)),
        }
    }

    pub fn name(&self) -> &str {
        self.target.model_label()
    }

    /// Its series in `/metrics`.
    pub fn labels(&self) -> ModelLabels {
        ModelLabels {
            model: self.name().to_string(),
            alias: match &self.target.target {
                Target::Alias(a) => a.to_string(),
                Target::Version(_) | Target::Number(_) => "-".into(),
            },
        }
    }
}

/// Every served model, in the order given (the first is the one `/v1/*`
/// and `/invocations` serve).
pub struct Models(Vec<Slot>);

/// A model or version no slot serves: the message names what is served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotServed(pub String);

impl Models {
    /// At least one slot (the server refuses to start with none).
    pub fn new(slots: Vec<Slot>) -> Option<Models> {
        (!slots.is_empty()).then_some(Models(slots))
    }

    pub fn slots(&self) -> &[Slot] {
        &self.0
    }

    /// The first model given.
    pub fn first(&self) -> &Slot {
        &self.0[0]
    }

    fn names(&self) -> String {
        let mut names: Vec<&str> = self.0.iter().map(Slot::name).collect();
        names.dedup();
        names.join(", ")
    }

    /// The first slot serving model `name`.
    pub fn named(&self, name: &str) -> Result<&Slot, NotServed> {
        self.0.iter().find(|s| s.name() == name).ok_or_else(|| {
            NotServed(format!(
                "model {name:?} is not served here (served: {}; the registry's model without a name is \"default\")",
                self.names()
            ))
        })
    }

    /// What serves `version` of model `name` now (any of its slots: two
    /// aliases of one model may serve two versions).
    pub fn version(&self, name: &str, version: &str) -> Result<(&Slot, Arc<Served>), NotServed> {
        self.named(name)?;
        let mut serving = Vec::new();
        for slot in self.0.iter().filter(|s| s.name() == name) {
            let served = slot.current.load_full();
            if served.metadata.version.to_string() == version {
                return Ok((slot, served));
            }
            serving.push(served.metadata.version.to_string());
        }
        Err(NotServed(format!(
            "model {name:?} serves version {} here, not {version:?}",
            serving.join(" and ")
        )))
    }

    /// The versions model `name` serves now.
    pub fn versions_of(&self, name: &str) -> Vec<String> {
        let mut versions: Vec<String> = self
            .0
            .iter()
            .filter(|s| s.name() == name)
            .map(|s| s.current.load().metadata.version.to_string())
            .collect();
        versions.dedup();
        versions
    }

    /// Every slot's reason for being degraded, if any.
    pub fn degraded(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|s| s.degraded.load().as_ref().clone())
            .collect()
    }
}
