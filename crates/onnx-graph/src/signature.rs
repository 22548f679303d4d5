//! The inputs and outputs an ONNX graph declares, as a server answers
//! them: what `registry show` lists for an ONNX version.

use crate::{decode, prepare, shape_of};
use serde::Serialize;

/// One declared tensor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorDecl {
    pub name: String,
    /// The Open Inference Protocol's name of its element type (`FP32`,
    /// `INT64`, `BYTES`, ...), or what it is when it is not a tensor.
    pub datatype: String,
    /// `-1` for a dimension of any size; empty when the graph gives none.
    pub shape: Vec<i64>,
    /// The class labels, for probabilities and label outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// How it is answered when that differs from the declaration (a
    /// ZipMap'd output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A graph's inputs and outputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signature {
    pub inputs: Vec<TensorDecl>,
    pub outputs: Vec<TensorDecl>,
}

/// The protocol's name of an ONNX `TensorProto.DataType`.
pub fn type_name(elem_type: i32) -> String {
    match elem_type {
        1 => "FP32",
        2 => "UINT8",
        3 => "INT8",
        4 => "UINT16",
        5 => "INT16",
        6 => "INT32",
        7 => "INT64",
        8 => "BYTES",
        9 => "BOOL",
        10 => "FP16",
        11 => "FP64",
        12 => "UINT32",
        13 => "UINT64",
        16 => "BF16",
        other => return format!("ONNX type {other}"),
    }
    .into()
}

fn dims(shape: &[Option<usize>]) -> Vec<i64> {
    shape
        .iter()
        .map(|d| d.and_then(|n| i64::try_from(n).ok()).unwrap_or(-1))
        .collect()
}

/// What the graph in `bytes` takes and answers, once it has passed the
/// checks a server makes before building it (refused otherwise, with the
/// same reason the server gives).
pub fn signature(bytes: &[u8]) -> Result<Signature, String> {
    let declared = decode(bytes)?;
    let mut prepared = declared.clone();
    let (outputs, _) = prepare(&mut prepared)?;
    let graph = declared.graph.as_ref().ok_or("the file holds no graph")?;
    let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs = graph
        .input
        .iter()
        .filter(|v| !initializers.contains(&v.name.as_str()))
        .map(|v| {
            let (datatype, shape) = match shape_of(v) {
                Some((elem, shape)) => (type_name(elem), dims(&shape)),
                None => ("not a tensor".into(), Vec::new()),
            };
            TensorDecl {
                name: v.name.clone(),
                datatype,
                shape,
                labels: None,
                note: None,
            }
        })
        .collect();
    let outputs = graph
        .output
        .iter()
        .zip(outputs)
        .map(|(v, served)| {
            let declared = shape_of(v);
            match (&served.labels, declared) {
                // A ZipMap (a map per row) cut off: its input is answered.
                (Some(labels), _) => TensorDecl {
                    name: served.name.clone(),
                    datatype: "FP32".into(),
                    shape: vec![-1, i64::try_from(labels.len()).ok().filter(|&k| k > 0).unwrap_or(-1)],
                    labels: Some(labels.clone()),
                    note: Some(
                        "declared as a map per row (ZipMap); answered as the [N, K] probabilities it maps".into(),
                    ),
                },
                (None, Some((elem, shape))) => TensorDecl {
                    name: v.name.clone(),
                    datatype: type_name(elem),
                    shape: dims(&shape),
                    labels: served.strings.clone(),
                    note: None,
                },
                (None, None) => TensorDecl {
                    name: v.name.clone(),
                    datatype: "not a tensor".into(),
                    shape: Vec::new(),
                    labels: None,
                    note: None,
                },
            }
        })
        .collect();
    Ok(Signature { inputs, outputs })
}
