//! The model kinds the server can serve, each behind [`ServedModel`]. A
//! new kind (ONNX, a Python object) is one file here with a [`ModelKind`]
//! and one line in [`KINDS`]; the routes, limits, metrics and alias
//! following do not change.

pub mod onnx;
mod probe;
mod textclf;

use crate::oip::{InputTensor, OutputTensor, ProtocolError, TensorData};
use registry_core::{ModelMetadata, ModelName, RegistryError};
use registry_open::AnyRegistry;

/// A tensor the model takes or gives, as inference protocols describe it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TensorSpec {
    pub name: String,
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

/// Why a prediction failed: the request (a 4xx; the model is fine) or
/// the model itself (a 500: it raised, or gave what it declares it does
/// not).
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Request(ProtocolError),
    Model(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Request(e) => &e.0,
            Failure::Model(m) => m,
        }
    }

    /// The HTTP status it deserves; `request` is the one for a request's
    /// fault (400 or 422, by route).
    pub fn status(&self, request: axum::http::StatusCode) -> axum::http::StatusCode {
        match self {
            Failure::Request(_) => request,
            Failure::Model(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ProtocolError> for Failure {
    fn from(e: ProtocolError) -> Failure {
        Failure::Request(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
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
    /// Predictions for a batch of texts, in order (an error for a model
    /// that does not take texts). CPU work: called off the async threads.
    fn predict(&self, texts: &[String], probabilities: bool) -> Result<Vec<Prediction>, Failure>;
    /// The Open Inference Protocol's view: input tensors in, output tensors
    /// out, each checked against [`ServedModel::inputs`]. CPU work.
    fn infer(&self, inputs: Vec<InputTensor>) -> Result<Vec<OutputTensor>, Failure>;
    /// Whether a call may wait on others (a batching model holds a call
    /// until its batch is full or its wait is over): such a model is never
    /// run on the threads that read requests, whatever the body's size.
    fn waits(&self) -> bool {
        false
    }
}

/// The texts of a text model's one `BYTES` input (`spec`), shaped `[N]` or
/// `[N, 1]`, each valid UTF-8: what [`ServedModel::infer`] of a text model
/// reads, with an error naming what the request got wrong.
pub fn texts_of(mut inputs: Vec<InputTensor>, spec: &TensorSpec) -> Result<Vec<String>, ProtocolError> {
    let described = || format!("{} ({}, shape [-1])", spec.name, spec.datatype);
    let input = match inputs.len() {
        1 => inputs.remove(0),
        n => {
            return Err(ProtocolError(format!(
                "{n} inputs; this model takes one: {}",
                described()
            )));
        }
    };
    if input.name != spec.name {
        return Err(ProtocolError(format!(
            "input {:?} is not one this model takes; it takes {}",
            input.name,
            described()
        )));
    }
    let shaped = matches!(input.shape.as_slice(), [_] | [_, 1]);
    if !shaped {
        return Err(ProtocolError(format!(
            "input {:?} has shape {:?}; this model takes [N] (or [N, 1]) texts",
            input.name, input.shape
        )));
    }
    let TensorData::Bytes(items) = input.data else {
        return Err(ProtocolError(format!(
            "input {:?} is {}; this model takes BYTES (texts)",
            input.name,
            input.data.datatype()
        )));
    };
    if items.is_empty() {
        return Err(ProtocolError(format!("input {:?} holds no texts", input.name)));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            String::from_utf8(b)
                .map_err(|e| ProtocolError(format!("input {:?}: text {i} is not UTF-8 ({e})", input.name)))
        })
        .collect()
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
pub static KINDS: &[&dyn ModelKind] = &[&textclf::TextClf, &onnx::Onnx];

/// The kinds a server tries, in order: [`KINDS`], then those the program
/// embedding the server adds (the Python package adds Python objects), so
/// a version the built-in kinds serve is served by them wherever it is.
#[derive(Clone, Default)]
pub struct Kinds {
    added: Vec<std::sync::Arc<dyn ModelKind + Send>>,
}

impl Kinds {
    /// These kinds and `kind`, tried after them.
    pub fn with(mut self, kind: std::sync::Arc<dyn ModelKind + Send>) -> Kinds {
        self.added.push(kind);
        self
    }

    fn all(&self) -> impl Iterator<Item = &dyn ModelKind> {
        KINDS
            .iter()
            .copied()
            .chain(self.added.iter().map(|k| k.as_ref() as &dyn ModelKind))
    }
}

impl std::fmt::Debug for Kinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.all().map(|k| k.model_type())).finish()
    }
}

/// Loads `metadata`'s version with the first of `kinds` that accepts it; a
/// version no kind serves is refused by name, before any byte is read.
pub fn load(
    registry: &AnyRegistry,
    kinds: &Kinds,
    metadata: ModelMetadata,
) -> Result<(Box<dyn ServedModel>, ModelMetadata), RegistryError> {
    if let Some(kind) = kinds.all().find(|k| k.accepts(&metadata)) {
        return kind.load(registry, metadata);
    }
    Err(RegistryError::WrongModelType {
        version: metadata.version.to_string(),
        model: registry
            .model_name()
            .map_or(ModelName::DEFAULT, ModelName::as_str)
            .to_string(),
        held: metadata.holds(),
        expected: kinds.all().map(|k| k.model_type()).collect::<Vec<_>>().join(" or "),
    })
}
