//! The model kinds the server can serve, each behind [`ServedModel`]. A
//! new kind (ONNX, a Python object) is one file here with a [`ModelKind`]
//! and one line in [`KINDS`]; the routes, limits, metrics and alias
//! following do not change.

mod textclf;

use registry_core::{ModelMetadata, ModelName, RegistryError};
use registry_open::AnyRegistry;

/// A tensor the model takes or gives, as inference protocols describe it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TensorSpec {
    pub name: &'static str,
    /// Open Inference Protocol data type: `BYTES`, `FP32`, `INT64`, ...
    pub datatype: &'static str,
    /// `-1` for a dimension of any size (the batch).
    pub shape: Vec<i64>,
}

/// One input's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index into [`ServedModel::labels`] of the most likely label.
    pub label: usize,
    pub probability: f64,
    /// Every label's probability, in [`ServedModel::labels`]' order, when asked for.
    pub probabilities: Option<Vec<f64>>,
}

/// A loaded, validated model the server can answer with.
pub trait ServedModel: Send + Sync + std::fmt::Debug {
    /// The registry's model type it was loaded as.
    fn model_type(&self) -> String;
    /// What it takes.
    fn inputs(&self) -> Vec<TensorSpec>;
    /// What it gives.
    fn outputs(&self) -> Vec<TensorSpec>;
    /// The labels it predicts, in the order of every probability vector.
    fn labels(&self) -> &[String];
    /// Predictions for a batch of texts, in order. CPU work: called off the
    /// async threads.
    fn predict(&self, texts: &[String], probabilities: bool) -> Vec<Prediction>;
}

/// How to recognise and load one kind of model.
pub trait ModelKind: Sync {
    /// The model type this kind serves, for messages.
    fn model_type(&self) -> String;
    /// Whether this kind serves the version `metadata` describes.
    fn accepts(&self, metadata: &ModelMetadata) -> bool;
    /// Loads it, its bytes checked against their digests before decoding.
    fn load(
        &self,
        registry: &AnyRegistry,
        metadata: ModelMetadata,
    ) -> Result<(Box<dyn ServedModel>, ModelMetadata), RegistryError>;
}

/// Every kind this build serves, tried in order.
pub static KINDS: &[&dyn ModelKind] = &[&textclf::TextClf];

/// Loads `metadata`'s version with the first kind that accepts it; a
/// version no kind serves is refused by name, before any byte is read.
pub fn load(
    registry: &AnyRegistry,
    metadata: ModelMetadata,
) -> Result<(Box<dyn ServedModel>, ModelMetadata), RegistryError> {
    if let Some(kind) = KINDS.iter().find(|k| k.accepts(&metadata)) {
        return kind.load(registry, metadata);
    }
    Err(RegistryError::WrongModelType {
        version: metadata.version.to_string(),
        model: registry
            .model_name()
            .map_or(ModelName::DEFAULT, ModelName::as_str)
            .to_string(),
        held: metadata.holds(),
        expected: KINDS.iter().map(|k| k.model_type()).collect::<Vec<_>>().join(" or "),
    })
}
