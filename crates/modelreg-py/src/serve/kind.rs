//! The Python model kind of `python -m modelreg serve`: a version saved
//! with a pickle or joblib serializer, served by model-server's library
//! behind the same [`ServedModel`] trait as its own kinds.
//!
//! Its bytes are read by the registry's one read path (digests checked,
//! signature policy applied where the alias is resolved) before Python
//! sees them; `modelreg._serving` unpickles them and calls the object.
//! Every call goes through a [`Batcher`]: concurrent requests enter Python
//! once per batch, holding the GIL for that call only.

use model_server::batch::{Batcher, Batching};
use model_server::kinds::{Failure, ModelKind, Prediction, ServedModel, TensorSpec, texts_of};
use model_server::oip::{InputTensor, OutputTensor, ProtocolError, TensorData};
use pyo3::exceptions::{PyIndexError, PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use registry_core::{ModelMetadata, RegistryError};
use registry_open::AnyRegistry;
use std::collections::HashMap;

/// The serializers whose bytes this kind unpickles; a custom one's object
/// is given with `--serializer MODULE:OBJECT`.
const SERIALIZERS: &[&str] = &["pickle", "joblib"];

pub struct PythonKind {
    pub batching: Batching,
    /// The custom serializers given (`custom:...`, as versions record them).
    pub custom: Vec<String>,
}

impl ModelKind for PythonKind {
    fn model_type(&self) -> String {
        let mut known: Vec<&str> = SERIALIZERS.to_vec();
        known.extend(self.custom.iter().map(String::as_str));
        format!(
            "a Python object saved with serializer {} (a custom one is served when given as --serializer MODULE:OBJECT)",
            known.join(" or ")
        )
    }

    fn accepts(&self, metadata: &ModelMetadata) -> bool {
        metadata
            .info
            .serializer
            .as_deref()
            .is_some_and(|s| SERIALIZERS.contains(&s) || self.custom.iter().any(|c| c == s))
    }

    fn load(
        &self,
        registry: &AnyRegistry,
        metadata: ModelMetadata,
    ) -> Result<(Box<dyn ServedModel>, ModelMetadata), RegistryError> {
        let version = metadata.version.to_string();
        let invalid = |reason: String| RegistryError::InvalidModel {
            version: version.clone(),
            model_type: metadata.info.serializer.clone().unwrap_or_default(),
            reason,
        };
        let metadata_json = serde_json::to_string(&metadata).map_err(|e| invalid(e.to_string()))?;
        let (decoded, metadata) = crate::registry::load::model_bytes(registry, metadata.clone(), |bytes| {
            Python::attach(|py| -> PyResult<(Py<PyAny>, Description)> {
                let serving = py.import("modelreg._serving")?;
                let model = serving.call_method1("decode", (PyBytes::new(py, bytes), &metadata_json))?;
                let described: (Option<Vec<String>>, bool, Option<usize>, String) =
                    serving.call_method1("describe", (&model,))?.extract()?;
                Ok((model.unbind(), Description::from(described)))
            })
        })?;
        let (model, description) = decoded.map_err(|e| invalid(Python::attach(|py| python_error(py, &e))))?;
        let served = PyModel::start(model, description, &version, &self.batching)
            .map_err(|e| invalid(format!("cannot start its batcher: {e}")))?;
        Ok((Box::new(served), metadata))
    }
}

/// What `modelreg._serving.describe` found the object to be.
#[derive(Debug, Clone)]
struct Description {
    /// `classes_`, as text: a classifier's labels.
    labels: Option<Vec<String>>,
    /// It has `predict_proba` (and `classes_`).
    probabilities: bool,
    /// `n_features_in_`: it takes rows of numbers, not texts.
    features: Option<usize>,
    /// Its type, for messages.
    type_name: String,
}

impl From<(Option<Vec<String>>, bool, Option<usize>, String)> for Description {
    fn from((labels, probabilities, features, type_name): (Option<Vec<String>>, bool, Option<usize>, String)) -> Self {
        Description {
            labels,
            probabilities,
            features,
            type_name,
        }
    }
}

/// One input's answer: the predicted value and, for a classifier asked for
/// them, every class's probability.
#[derive(Debug, Clone)]
pub struct Answer {
    value: Value,
    probabilities: Option<Vec<f64>>,
}

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Number(f64),
}

impl Value {
    /// As a label: the text, or the number as `classes_` names it (`2`).
    fn text(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Number(x) => x.to_string(),
        }
    }
}

/// What a batch holds: texts, or rows of numbers.
#[derive(Debug)]
enum Input {
    Texts(Batcher<String, Answer>),
    Rows(Batcher<Vec<f64>, Answer>),
}

#[derive(Debug)]
struct PyModel {
    description: Description,
    labels: Vec<String>,
    index: HashMap<String, usize>,
    input: Input,
}

/// A Python exception as a message: its type and text.
fn python_error(py: Python<'_>, e: &PyErr) -> String {
    let name = e
        .get_type(py)
        .name()
        .map_or_else(|_| "Exception".to_string(), |n| n.to_string());
    format!("{name}: {}", e.value(py))
}

/// A Python exception as the request's fault (the model refused its input:
/// a ValueError, TypeError, KeyError, IndexError) or the model's (500).
fn failure(py: Python<'_>, e: &PyErr) -> Failure {
    let message = python_error(py, e);
    let refused = [
        e.is_instance_of::<PyValueError>(py),
        e.is_instance_of::<PyTypeError>(py),
        e.is_instance_of::<PyKeyError>(py),
        e.is_instance_of::<PyIndexError>(py),
    ];
    if refused.iter().any(|&r| r) {
        Failure::Request(ProtocolError(format!("the model refused the input: {message}")))
    } else {
        Failure::Model(format!("the model raised {message}"))
    }
}

/// Runs `modelreg._serving.run` on a batch: the one entry into Python.
fn run_batch(
    model: &Py<PyAny>,
    inputs: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyList>>,
    probabilities: bool,
    numeric: bool,
) -> Result<Vec<Answer>, Failure> {
    Python::attach(|py| {
        let called = py
            .import("modelreg._serving")
            .and_then(|serving| serving.call_method1("run", (model.bind(py), inputs(py)?, probabilities, numeric)));
        let answered = called.and_then(|r| r.extract::<(Vec<Bound<'_, PyAny>>, Option<Vec<Vec<f64>>>)>());
        let (values, probs) = answered.map_err(|e| failure(py, &e))?;
        let mut probs = probs.map(Vec::into_iter);
        values
            .into_iter()
            .map(|v| {
                let value = match v.extract::<f64>() {
                    Ok(x) if !v.is_instance_of::<pyo3::types::PyBool>() => Value::Number(x),
                    _ => Value::Text(v.str().map_or_else(|_| String::new(), |s| s.to_string())),
                };
                Ok(Answer {
                    value,
                    probabilities: probs.as_mut().and_then(Iterator::next),
                })
            })
            .collect()
    })
}

impl PyModel {
    fn start(
        model: Py<PyAny>,
        description: Description,
        version: &str,
        batching: &Batching,
    ) -> std::io::Result<PyModel> {
        let labels = description.labels.clone().unwrap_or_default();
        let index = labels.iter().enumerate().map(|(i, l)| (l.clone(), i)).collect();
        let input = match description.features {
            None => Input::Texts(Batcher::start(
                version,
                batching,
                Box::new(move |texts: &[String], p| run_batch(&model, |py| PyList::new(py, texts), p, false)),
            )?),
            Some(_) => Input::Rows(Batcher::start(
                version,
                batching,
                Box::new(move |rows: &[Vec<f64>], p| run_batch(&model, |py| PyList::new(py, rows), p, true)),
            )?),
        };
        Ok(PyModel {
            description,
            labels,
            index,
            input,
        })
    }

    fn input_spec(&self) -> TensorSpec {
        match self.description.features {
            None => TensorSpec {
                name: "text".into(),
                datatype: "BYTES",
                shape: vec![-1],
            },
            Some(n) => TensorSpec {
                name: "input".into(),
                datatype: "FP64",
                shape: vec![-1, n as i64],
            },
        }
    }

    /// The rows of a numeric input `[N, F]`, each of the F numbers the
    /// model was fitted on.
    fn rows_of(&self, mut inputs: Vec<InputTensor>, features: usize) -> Result<Vec<Vec<f64>>, ProtocolError> {
        let spec = self.input_spec();
        if inputs.len() != 1 {
            return Err(ProtocolError(format!(
                "{} inputs; this model takes one: {} (FP64, shape [-1, {features}])",
                inputs.len(),
                spec.name
            )));
        }
        let input = inputs.remove(0);
        let width = match input.shape.as_slice() {
            [_, f] => *f as usize,
            [_] if features == 1 => 1,
            shape => {
                return Err(ProtocolError(format!(
                    "input {:?} has shape {shape:?}; this model takes [N, {features}] rows",
                    input.name
                )));
            }
        };
        if width != features {
            return Err(ProtocolError(format!(
                "input {:?} has rows of {width} numbers; this model was fitted on {features}",
                input.name
            )));
        }
        let flat: Vec<f64> = match input.data {
            TensorData::Fp64(v) => v,
            TensorData::Fp32(v) => v.into_iter().map(f64::from).collect(),
            TensorData::Int64(v) => v.into_iter().map(|x| x as f64).collect(),
            TensorData::Int32(v) => v.into_iter().map(f64::from).collect(),
            other => {
                return Err(ProtocolError(format!(
                    "input {:?} is {}; this model takes numbers",
                    input.name,
                    other.datatype()
                )));
            }
        };
        if flat.is_empty() {
            return Err(ProtocolError(format!("input {:?} holds no rows", input.name)));
        }
        Ok(flat.chunks(features).map(<[f64]>::to_vec).collect())
    }

    fn answers(&self, inputs: Vec<InputTensor>, probabilities: bool) -> Result<Vec<Answer>, Failure> {
        match (&self.input, self.description.features) {
            (Input::Texts(batcher), _) => batcher.call(texts_of(inputs, &self.input_spec())?, probabilities),
            (Input::Rows(batcher), Some(features)) => batcher.call(self.rows_of(inputs, features)?, probabilities),
            (Input::Rows(_), None) => Err(Failure::Model("rows without a feature count".into())),
        }
    }
}

impl ServedModel for PyModel {
    fn model_type(&self) -> String {
        format!("python ({})", self.description.type_name)
    }

    fn inputs(&self) -> Vec<TensorSpec> {
        vec![self.input_spec()]
    }

    fn outputs(&self) -> Vec<TensorSpec> {
        let mut outputs = vec![TensorSpec {
            name: "label".into(),
            datatype: if self.description.labels.is_some() {
                "BYTES"
            } else {
                "FP64"
            },
            shape: vec![-1],
        }];
        if self.description.probabilities {
            outputs.push(TensorSpec {
                name: "probabilities".into(),
                datatype: "FP64",
                shape: vec![-1, self.labels.len() as i64],
            });
        }
        outputs
    }

    fn labels(&self) -> &[String] {
        &self.labels
    }

    fn waits(&self) -> bool {
        true
    }

    fn predict(&self, texts: &[String], probabilities: bool) -> Result<Vec<Prediction>, Failure> {
        let Input::Texts(batcher) = &self.input else {
            return Err(ProtocolError(format!(
                "this model ({}) takes rows of numbers, not texts: send them to /v2/models/NAME/infer or /invocations",
                self.description.type_name
            ))
            .into());
        };
        if self.description.labels.is_none() {
            return Err(ProtocolError(format!(
                "this model ({}) has no classes_ to name a label with: use /v2/models/NAME/infer or /invocations",
                self.description.type_name
            ))
            .into());
        }
        let answers = batcher.call(texts.to_vec(), true)?;
        answers
            .into_iter()
            .map(|a| {
                let text = a.value.text();
                let label = *self.index.get(&text).ok_or_else(|| {
                    Failure::Model(format!("the model predicted {text:?}, which is not in its classes_"))
                })?;
                let probability = a
                    .probabilities
                    .as_ref()
                    .and_then(|p| p.get(label).copied())
                    .unwrap_or(1.0);
                Ok(Prediction {
                    label,
                    probability,
                    probabilities: a.probabilities.filter(|_| probabilities),
                })
            })
            .collect()
    }

    fn infer(&self, inputs: Vec<InputTensor>) -> Result<Vec<OutputTensor>, Failure> {
        let answers = self.answers(inputs, self.description.probabilities)?;
        let n = answers.len() as u64;
        // A classifier's labels are texts (as classes_ are named); a
        // regressor's predictions numbers, unless it gives texts.
        let numbers: Option<Vec<f64>> = answers
            .iter()
            .map(|a| match a.value {
                Value::Number(x) if self.description.labels.is_none() => Some(x),
                _ => None,
            })
            .collect();
        let label = match numbers {
            Some(numbers) => TensorData::Fp64(numbers),
            None => TensorData::Bytes(answers.iter().map(|a| a.value.text().into_bytes()).collect()),
        };
        let mut outputs = vec![OutputTensor {
            name: "label".into(),
            shape: vec![n],
            data: label,
            parameters: serde_json::Map::new(),
        }];
        if self.description.probabilities {
            let k = self.labels.len();
            let mut flat = Vec::with_capacity(answers.len() * k);
            for a in &answers {
                match &a.probabilities {
                    Some(p) if p.len() == k => flat.extend_from_slice(p),
                    _ => {
                        return Err(Failure::Model(format!(
                            "predict_proba gave a row that is not one probability per class ({k})"
                        )));
                    }
                }
            }
            let mut parameters = serde_json::Map::new();
            parameters.insert("labels".into(), serde_json::json!(self.labels));
            outputs.push(OutputTensor {
                name: "probabilities".into(),
                shape: vec![n, k as u64],
                data: TensorData::Fp64(flat),
                parameters,
            });
        }
        Ok(outputs)
    }
}
