//! ONNX models (`registry add model.onnx --type onnx`), run by tract in
//! pure Rust. skl2onnx's default classifier exports end in `ZipMap` (a map
//! per row), which tract refuses; it is cut off here and its input, the
//! `[N, K]` probabilities, is answered instead, with the class labels in
//! the output's parameters.
//!
//! The bytes are untrusted like any registry content: the file's declared
//! size is capped before it is read, the graph is checked before tract sees
//! it (`onnx_graph::prepare`: an op list without the ops whose output size
//! comes from data, bounded initializers, no external data, no subgraphs),
//! and tract's load and optimisation run first in a forked probe
//! under an address-space limit and a deadline (`probe.rs`), so a graph that
//! would exhaust memory or loop costs a refused version, not the server.
//! Panics in tract are caught at load and at every run.

use super::{Failure, ModelKind, Prediction, ServedModel, TensorSpec};
use crate::oip::{InputTensor, OutputTensor, ProtocolError, TensorData};
use onnx_graph::{Output, onnx_file, prepare, shape_of};
use registry_core::{ModelMetadata, RegistryError};
use registry_open::AnyRegistry;
use serde_json::{Map, json};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use tract_onnx::prelude::*;

pub use onnx_graph::{MAX_ONNX_BYTES, MODEL_TYPE};

/// The most rows (a free input dimension's size) a request may send, and
/// so the batch at which every tensor of a graph is sized when it loads.
pub const MAX_ROWS: u64 = 100_000;
/// The largest tensor a graph may make at [`MAX_ROWS`]: a graph that would
/// make a larger one (a constant concatenated with itself until it holds
/// terabytes, a [N, N] product) is refused at load, so a request can never
/// make the server allocate it.
pub const MAX_TENSOR_BYTES: u64 = 1 << 30;

pub struct Onnx;

impl ModelKind for Onnx {
    fn model_type(&self) -> String {
        MODEL_TYPE.into()
    }

    fn accepts(&self, metadata: &ModelMetadata) -> bool {
        metadata.info.model_type.as_deref() == Some(MODEL_TYPE) && onnx_file(metadata).is_some()
    }

    fn load(
        &self,
        registry: &AnyRegistry,
        metadata: ModelMetadata,
    ) -> Result<(Box<dyn ServedModel>, ModelMetadata), RegistryError> {
        let invalid = |reason: String| RegistryError::InvalidModel {
            version: metadata.version.to_string(),
            model_type: MODEL_TYPE.into(),
            reason,
        };
        let Some((path, size)) = onnx_file(&metadata) else {
            return Err(invalid("it holds no .onnx file".into()));
        };
        if size > MAX_ONNX_BYTES {
            return Err(invalid(format!(
                "{path} declares {size} bytes, more than the {MAX_ONNX_BYTES} an ONNX model may have here; nothing was read"
            )));
        }
        let bytes = registry.read_version_file(&metadata, &path, <[u8]>::to_vec)?;
        let model = OnnxModel::load(&bytes).map_err(|e| invalid(format!("{path}: {e}")))?;
        Ok((Box::new(model), metadata))
    }
}

/// A graph input, as requests must send it.
#[derive(Debug, Clone)]
struct Input {
    name: String,
    datatype: DatumType,
    /// `None`: a dimension of any size.
    shape: Vec<Option<usize>>,
}

pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    inputs: Vec<Input>,
    outputs: Vec<Output>,
    output_facts: Vec<TypedFact>,
    labels: Vec<String>,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

fn protocol_type(dt: DatumType) -> &'static str {
    match dt {
        DatumType::F32 => "FP32",
        DatumType::F64 => "FP64",
        DatumType::I32 => "INT32",
        DatumType::I64 => "INT64",
        DatumType::Bool => "BOOL",
        DatumType::String => "BYTES",
        // As output_of answers them.
        other if other.is_integer() || other == DatumType::TDim => "INT64",
        _ => "FP32",
    }
}

fn datum_of(elem_type: i32) -> Result<DatumType, String> {
    // ONNX TensorProto.DataType numbers.
    Ok(match elem_type {
        1 => DatumType::F32,
        6 => DatumType::I32,
        7 => DatumType::I64,
        9 => DatumType::Bool,
        11 => DatumType::F64,
        8 => DatumType::String,
        other => return Err(format!("input data type {other} is not one this server sends")),
    })
}

impl OnnxModel {
    /// Checks, prepares and loads a graph (module docs).
    pub fn load(bytes: &[u8]) -> Result<OnnxModel, String> {
        let onnx = tract_onnx::onnx();
        let mut proto = onnx_graph::decode(bytes)?;
        let (outputs, labels) = prepare(&mut proto)?;
        let graph = proto.graph.as_ref().ok_or("the file holds no graph")?;
        let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let mut inputs = Vec::new();
        for v in graph.input.iter().filter(|v| !initializers.contains(&v.name.as_str())) {
            let (elem, shape) = shape_of(v).ok_or_else(|| format!("input {:?} is not a tensor", v.name))?;
            inputs.push(Input {
                name: v.name.clone(),
                datatype: datum_of(elem)?,
                shape,
            });
        }
        if inputs.is_empty() {
            return Err("the graph takes no input".into());
        }
        // Probe first: an optimisation that would exhaust memory or not end
        // kills a child process, not this one.
        super::probe::bounded(|| build(&onnx, &proto, &inputs).map(|_| ()))?;
        let plan = build(&onnx, &proto, &inputs)?;
        check_sizes(plan.model(), &inputs)?;
        let output_facts = (0..plan.model().outputs.len())
            .map(|i| plan.model().output_fact(i).cloned())
            .collect::<TractResult<Vec<_>>>()
            .map_err(|e| e.to_string())?;
        Ok(OnnxModel {
            plan,
            inputs,
            outputs,
            output_facts,
            labels,
        })
    }
}

/// tract's load, typing and optimisation, with every unknown dimension a
/// symbol (panics caught).
fn build(
    onnx: &tract_onnx::Onnx,
    proto: &onnx_graph::pb::ModelProto,
    inputs: &[Input],
) -> Result<Arc<TypedRunnableModel>, String> {
    let run = || -> TractResult<Arc<TypedRunnableModel>> {
        let mut model = onnx.model_for_proto_model(proto)?;
        for (i, input) in inputs.iter().enumerate() {
            let dims: TVec<TDim> = input
                .shape
                .iter()
                .enumerate()
                .map(|(d, n)| match n {
                    Some(n) => n.to_dim(),
                    None => model.symbols.sym(&symbol_name(i, d)).to_dim(),
                })
                .collect();
            model.set_input_fact(i, InferenceFact::dt_shape(input.datatype, dims))?;
        }
        model.into_optimized()?.into_runnable()
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(plan)) => Ok(plan),
        Ok(Err(e)) => Err(format!("tract cannot run it: {e:#}")),
        Err(_) => Err("tract stopped on it (a panic, caught)".into()),
    }
}

/// The name of the symbol standing for input `i`'s dimension `d`.
fn symbol_name(i: usize, d: usize) -> String {
    format!("d{i}_{d}")
}

/// Every tensor of the optimised graph, sized with each free input
/// dimension at [`MAX_ROWS`], is within [`MAX_TENSOR_BYTES`].
fn check_sizes(model: &TypedModel, inputs: &[Input]) -> Result<(), String> {
    let mut values = SymbolValues::default();
    for (i, input) in inputs.iter().enumerate() {
        for (d, n) in input.shape.iter().enumerate() {
            if n.is_none() {
                values.set(&model.symbols.sym(&symbol_name(i, d)), MAX_ROWS as i64);
            }
        }
    }
    for node in model.nodes() {
        for output in &node.outputs {
            let fact = &output.fact;
            let mut bytes = fact.datum_type.size_of() as u64;
            for dim in fact.shape.iter() {
                let n = dim.eval_to_i64(&values).ok().and_then(|n| u64::try_from(n).ok()).ok_or_else(|| {
                    format!(
                        "node {:?} makes a tensor whose size does not follow from the inputs' shapes ({dim}); it is not served",
                        node.name
                    )
                })?;
                bytes = bytes.saturating_mul(n);
            }
            if bytes > MAX_TENSOR_BYTES {
                return Err(format!(
                    "node {:?} makes a tensor of {} MiB at {MAX_ROWS} rows, more than the {} MiB one tensor may have here",
                    node.name,
                    bytes >> 20,
                    MAX_TENSOR_BYTES >> 20
                ));
            }
        }
    }
    Ok(())
}

fn tensor_of(input: &Input, tensor: InputTensor) -> Result<Tensor, ProtocolError> {
    let what = format!("input {:?}", input.name);
    if tensor.shape.len() != input.shape.len()
        || tensor
            .shape
            .iter()
            .zip(&input.shape)
            .any(|(&got, want)| want.is_some_and(|w| w as u64 != got))
    {
        return Err(ProtocolError(format!(
            "{what} has shape {:?}; this model takes {}",
            tensor.shape,
            shape_text(&input.shape)
        )));
    }
    let free = tensor.shape.iter().zip(&input.shape).filter(|(_, want)| want.is_none());
    if let Some(rows) = free.map(|(&got, _)| got).find(|&got| got > MAX_ROWS) {
        return Err(ProtocolError(format!(
            "{what}: {rows} rows, more than the {MAX_ROWS} one request may send; split the batch"
        )));
    }
    let shape: Vec<usize> = tensor.shape.iter().map(|&d| d as usize).collect();
    let wrong = |got: &str| {
        ProtocolError(format!(
            "{what} is {got}; this model takes {}",
            protocol_type(input.datatype)
        ))
    };
    let made = match (input.datatype, tensor.data) {
        (DatumType::F32, TensorData::Fp32(v)) => Tensor::from_shape(&shape, &v),
        // JSON numbers arrive as FP64 only when declared so; FP32 models
        // also take FP64 data converted.
        (DatumType::F32, TensorData::Fp64(v)) => {
            Tensor::from_shape(&shape, &v.iter().map(|&x| x as f32).collect::<Vec<_>>())
        }
        (DatumType::F64, TensorData::Fp64(v)) => Tensor::from_shape(&shape, &v),
        (DatumType::I64, TensorData::Int64(v)) => Tensor::from_shape(&shape, &v),
        (DatumType::I32, TensorData::Int32(v)) => Tensor::from_shape(&shape, &v),
        (DatumType::Bool, TensorData::Bool(v)) => Tensor::from_shape(&shape, &v),
        (DatumType::String, TensorData::Bytes(v)) => {
            let texts: Vec<String> = v
                .into_iter()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect();
            tract_ndarray::ArrayD::from_shape_vec(tract_ndarray::IxDyn(&shape), texts)
                .map(Tensor::from)
                .map_err(|e| TractError::msg(e.to_string()))
        }
        (_, data) => return Err(wrong(data.datatype())),
    };
    made.map_err(|e| ProtocolError(format!("{what}: {e}")))
}

fn shape_text(shape: &[Option<usize>]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.map_or("-1".into(), |n| n.to_string())).collect();
    format!("[{}]", dims.join(", "))
}

/// A tensor's elements in row-major order.
fn elements<T: Datum + Clone>(tensor: &Tensor) -> TractResult<Vec<T>> {
    Ok(tensor.try_as_plain_ram()?.as_slice::<T>()?.to_vec())
}

fn output_of(tensor: &Tensor, output: &Output) -> Result<OutputTensor, ProtocolError> {
    let shape: Vec<u64> = tensor.shape().iter().map(|&d| d as u64).collect();
    let failed = |e: TractError| ProtocolError(format!("output {:?}: {e}", output.name));
    let data = match tensor.datum_type() {
        DatumType::F32 => TensorData::Fp32(elements::<f32>(tensor).map_err(failed)?),
        DatumType::F64 => TensorData::Fp64(elements::<f64>(tensor).map_err(failed)?),
        DatumType::I64 => TensorData::Int64(elements::<i64>(tensor).map_err(failed)?),
        DatumType::I32 => TensorData::Int32(elements::<i32>(tensor).map_err(failed)?),
        DatumType::Bool => TensorData::Bool(elements::<bool>(tensor).map_err(failed)?),
        DatumType::String => TensorData::Bytes(
            elements::<String>(tensor)
                .map_err(failed)?
                .into_iter()
                .map(String::into_bytes)
                .collect(),
        ),
        // Other integers (and tract's symbolic dimensions) as INT64, other
        // floats as FP32.
        other if other.is_integer() || other == DatumType::TDim => {
            let cast = tensor
                .cast_to::<i64>()
                .map_err(|_| ProtocolError(format!("output {:?} is {other:?}", output.name)))?;
            TensorData::Int64(elements::<i64>(&cast).map_err(failed)?)
        }
        other => {
            let cast = tensor
                .cast_to::<f32>()
                .map_err(|_| ProtocolError(format!("output {:?} is {other:?}", output.name)))?;
            TensorData::Fp32(elements::<f32>(&cast).map_err(failed)?)
        }
    };
    let data = match (&output.strings, data) {
        (Some(strings), TensorData::Int64(indices)) => TensorData::Bytes(
            indices
                .iter()
                .map(|&i| {
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| strings.get(i))
                        .map(|s| s.as_bytes().to_vec())
                        .ok_or_else(|| ProtocolError(format!("output {:?}: class {i} has no label", output.name)))
                })
                .collect::<Result<_, _>>()?,
        ),
        (_, data) => data,
    };
    let mut parameters = Map::new();
    if let Some(labels) = &output.labels {
        parameters.insert("labels".into(), json!(labels));
    }
    Ok(OutputTensor {
        name: output.name.clone(),
        shape,
        data,
        parameters,
    })
}

impl ServedModel for OnnxModel {
    fn model_type(&self) -> String {
        MODEL_TYPE.into()
    }

    fn inputs(&self) -> Vec<TensorSpec> {
        self.inputs
            .iter()
            .map(|i| TensorSpec {
                name: i.name.clone(),
                datatype: protocol_type(i.datatype),
                shape: i.shape.iter().map(|d| d.map_or(-1, |n| n as i64)).collect(),
            })
            .collect()
    }

    fn outputs(&self) -> Vec<TensorSpec> {
        self.outputs
            .iter()
            .zip(&self.output_facts)
            .map(|(o, fact)| TensorSpec {
                name: o.name.clone(),
                datatype: if o.strings.is_some() {
                    "BYTES"
                } else {
                    protocol_type(fact.datum_type)
                },
                shape: fact.shape.iter().map(|d| d.to_i64().unwrap_or(-1)).collect(),
            })
            .collect()
    }

    fn labels(&self) -> &[String] {
        &self.labels
    }

    fn predict(&self, _texts: &[String], _probabilities: bool) -> Result<Vec<Prediction>, Failure> {
        Err(ProtocolError(format!(
            "this is an ONNX model: it takes tensors ({}), not texts; send them to /v2/models/NAME/infer",
            self.inputs
                .iter()
                .map(|i| format!("{} {} {}", i.name, protocol_type(i.datatype), shape_text(&i.shape)))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into())
    }

    fn infer(&self, inputs: Vec<InputTensor>) -> Result<Vec<OutputTensor>, Failure> {
        let checked = || -> Result<_, ProtocolError> {
            if inputs.len() != self.inputs.len() {
                return Err(ProtocolError(format!(
                    "{} inputs; this model takes {}: {}",
                    inputs.len(),
                    self.inputs.len(),
                    self.inputs
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let mut given: Vec<Option<InputTensor>> = inputs.into_iter().map(Some).collect();
            let mut values = TVec::new();
            for input in &self.inputs {
                let found = given
                    .iter_mut()
                    .find(|t| t.as_ref().is_some_and(|t| t.name == input.name))
                    .and_then(Option::take)
                    .ok_or_else(|| {
                        ProtocolError(format!(
                            "no input {:?} (this model takes {})",
                            input.name,
                            self.inputs
                                .iter()
                                .map(|i| i.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                values.push(tensor_of(input, found)?.into_tvalue());
            }
            let outputs = match catch_unwind(AssertUnwindSafe(|| self.plan.run(values))) {
                Ok(Ok(outputs)) => outputs,
                Ok(Err(e)) => return Err(ProtocolError(format!("the model cannot run on this input: {e}"))),
                Err(_) => {
                    return Err(ProtocolError(
                        "the model stopped on this input (a panic in tract, caught)".into(),
                    ));
                }
            };
            outputs
                .iter()
                .zip(&self.outputs)
                .map(|(t, o)| output_of(t, o))
                .collect()
        };
        checked().map_err(Failure::from)
    }
}
