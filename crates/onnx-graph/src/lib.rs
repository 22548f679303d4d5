//! What an ONNX file holds, and the checks made on it before a graph is
//! built: one owner for model-server, which runs graphs with tract, and
//! `registry show`, which lists the inputs and outputs a version declares.
//!
//! The bytes are untrusted like any registry content. [`decode`] reads the
//! protobuf (tract's own types); [`prepare`] refuses what a server must not
//! build: too many nodes, initializers whose declared sizes are too large or
//! whose data lives in another file, subgraphs, and ops outside
//! [`ALLOWED_OPS`] (left out: ops whose output size comes from data). It
//! also cuts a trailing `ZipMap` (skl2onnx's default classifier exports end
//! in one, which tract refuses), so its input, the `[N, K]` probabilities,
//! is answered in its place with the class labels, and it turns string class
//! labels into indices mapped back on the way out.

mod signature;

pub use signature::{Signature, TensorDecl, signature};
pub use tract_onnx::pb;

use registry_core::ModelMetadata;
use tract_onnx::prelude::Framework as _;

/// The model type `registry add --type onnx` records.
pub const MODEL_TYPE: &str = "onnx";

/// The largest ONNX file this build loads (skl2onnx's exports are KBs to a
/// few MBs); a version declaring more is refused before it is read.
pub const MAX_ONNX_BYTES: u64 = 256 << 20;

/// Nodes and initializer elements one graph may have.
pub const MAX_NODES: usize = 100_000;
pub const MAX_INITIALIZER_ELEMENTS: u64 = 64 << 20;

/// The ops a served graph may use: scikit-learn's exports and the usual
/// element-wise, reduction and linear-algebra ops. Left out on purpose:
/// ops whose output size is read from data (ConstantOfShape, Expand, Tile,
/// Range, Pad, Resize, OneHot, NonZero), control flow and sequences.
pub const ALLOWED_OPS: &[&str] = &[
    "Abs",
    "Add",
    "And",
    "ArgMax",
    "ArgMin",
    "BatchNormalization",
    "Cast",
    "Ceil",
    "Clip",
    "Concat",
    "Constant",
    "Div",
    "Equal",
    "Erf",
    "Exp",
    "Flatten",
    "Floor",
    "Gather",
    "Gemm",
    "Greater",
    "GreaterOrEqual",
    "Identity",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "Mean",
    "Min",
    "Mul",
    "Neg",
    "Not",
    "Or",
    "Pow",
    "Reciprocal",
    "ReduceL2",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Round",
    "Shape",
    "Sigmoid",
    "Sign",
    "Slice",
    "Softmax",
    "Softplus",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    "Where",
    "Xor",
    // ai.onnx.ml
    "LinearClassifier",
    "LinearRegressor",
    "Normalizer",
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "ZipMap",
];

/// The file of a version that holds its ONNX graph: its one `.onnx` file,
/// or `model.onnx` among several.
pub fn onnx_file(metadata: &ModelMetadata) -> Option<(String, u64)> {
    let files = metadata.stored_files();
    let onnx: Vec<_> = files.iter().filter(|f| f.path.ends_with(".onnx")).collect();
    let chosen = match onnx.as_slice() {
        [one] => Some(*one),
        _ => onnx.iter().copied().find(|f| f.path == "model.onnx"),
    };
    chosen.map(|f| (f.path.to_string(), f.size))
}

/// A graph output, as answered once the graph is prepared.
#[derive(Debug, Clone)]
pub struct Output {
    pub name: String,
    /// The class labels of a ZipMap'd probabilities output.
    pub labels: Option<Vec<String>>,
    /// A string label output, computed as class indices (tract's
    /// classifiers cannot give strings) and answered as these labels.
    pub strings: Option<Vec<String>>,
}

/// Reads an ONNX file's protobuf.
pub fn decode(bytes: &[u8]) -> Result<pb::ModelProto, String> {
    tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| format!("not an ONNX model: {e}"))
}

pub fn attr_labels(node: &pb::NodeProto) -> Option<Vec<String>> {
    for a in &node.attribute {
        match a.name.as_str() {
            "classlabels_strings" if !a.strings.is_empty() => {
                return Some(
                    a.strings
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect(),
                );
            }
            "classlabels_int64s" | "classlabels_ints" if !a.ints.is_empty() => {
                return Some(a.ints.iter().map(ToString::to_string).collect());
            }
            _ => {}
        }
    }
    None
}

/// The checks made before a graph is built (crate docs), and the cut of
/// a trailing ZipMap: the names of the outputs answered, with ZipMap's
/// labels where one was cut.
pub fn prepare(proto: &mut pb::ModelProto) -> Result<(Vec<Output>, Vec<String>), String> {
    let graph = proto.graph.as_mut().ok_or("the file holds no graph")?;
    if graph.node.len() > MAX_NODES {
        return Err(format!(
            "{} nodes, more than the {MAX_NODES} a graph may have here",
            graph.node.len()
        ));
    }
    let mut elements = 0u64;
    for t in &graph.initializer {
        if t.data_location == Some(1) || !t.external_data.is_empty() {
            return Err(format!(
                "initializer {:?} keeps its data in another file, which is not read",
                t.name
            ));
        }
        let n = t
            .dims
            .iter()
            .try_fold(1u64, |n, &d| u64::try_from(d).ok().and_then(|d| n.checked_mul(d)))
            .ok_or_else(|| format!("initializer {:?} has dimensions {:?}", t.name, t.dims))?;
        elements = elements.saturating_add(n);
    }
    if elements > MAX_INITIALIZER_ELEMENTS {
        return Err(format!(
            "its initializers hold {elements} elements, more than the {MAX_INITIALIZER_ELEMENTS} a graph may have here"
        ));
    }
    let mut labels = Vec::new();
    for node in &graph.node {
        if !ALLOWED_OPS.contains(&node.op_type.as_str()) {
            return Err(format!(
                "op {:?} (node {:?}) is not one this server runs (ops whose output size comes from data, control flow and sequences are refused)",
                node.op_type, node.name
            ));
        }
        if node.attribute.iter().any(|a| a.g.is_some() || !a.graphs.is_empty()) {
            return Err(format!("node {:?} holds a subgraph, which is not run", node.name));
        }
        if labels.is_empty()
            && let Some(l) = attr_labels(node)
        {
            labels = l;
        }
    }
    // Each ZipMap must be a graph output's producer; its input is answered
    // in its place.
    let mut outputs: Vec<Output> = graph
        .output
        .iter()
        .map(|o| Output {
            name: o.name.clone(),
            labels: None,
            strings: None,
        })
        .collect();
    // String class labels: the classifier gives indices, which are turned
    // back into its labels on the way out (tract's classifiers cannot look
    // strings up). A string graph output is such a label output.
    let mut string_labels = None;
    for node in graph.node.iter_mut() {
        let ints_name = match node.op_type.as_str() {
            "LinearClassifier" => "classlabels_ints",
            "TreeEnsembleClassifier" => "classlabels_int64s",
            _ => continue,
        };
        if let Some(a) = node
            .attribute
            .iter_mut()
            .find(|a| a.name == "classlabels_strings" && !a.strings.is_empty())
        {
            string_labels = Some(
                a.strings
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>(),
            );
            let n = a.strings.len() as i64;
            *a = pb::AttributeProto {
                name: ints_name.into(),
                r#type: 7,
                ints: (0..n).collect(),
                ..Default::default()
            };
        }
    }
    if let Some(strings) = &string_labels {
        for (o, out) in graph.output.iter_mut().zip(outputs.iter_mut()) {
            if shape_of(o).is_some_and(|(elem, _)| elem == 8) {
                out.strings = Some(strings.clone());
                o.r#type = None;
            }
        }
    }
    let zipmaps: Vec<pb::NodeProto> = graph.node.iter().filter(|n| n.op_type == "ZipMap").cloned().collect();
    for zip in &zipmaps {
        let (Some(from), Some(to)) = (zip.input.first(), zip.output.first()) else {
            return Err("a ZipMap node without its input or output".into());
        };
        let consumed = graph.node.iter().any(|n| n.input.contains(to));
        let Some(position) = graph.output.iter().position(|o| &o.name == to).filter(|_| !consumed) else {
            return Err(format!(
                "ZipMap {:?} feeds other nodes; only a trailing ZipMap is served",
                zip.name
            ));
        };
        graph.output[position] = pb::ValueInfoProto {
            name: from.clone(),
            ..Default::default()
        };
        outputs[position].labels = Some(attr_labels(zip).unwrap_or_else(|| labels.clone()));
    }
    graph.node.retain(|n| n.op_type != "ZipMap");
    Ok((outputs, labels))
}

pub fn shape_of(v: &pb::ValueInfoProto) -> Option<(i32, Vec<Option<usize>>)> {
    let Some(pb::type_proto::Value::TensorType(t)) = v.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let dims = t.shape.as_ref().map_or_else(Vec::new, |s| {
        s.dim
            .iter()
            .map(|d| match d.value {
                Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) if v > 0 => Some(v as usize),
                _ => None,
            })
            .collect()
    });
    Some((t.elem_type, dims))
}
