//! The Open Inference Protocol v2 (KServe, Triton, MLServer) over REST:
//! decoding an inference request and encoding its response, with the
//! binary tensor data extension that `tritonclient.http` uses by default
//! (a JSON header of `Inference-Header-Content-Length` bytes, then each
//! binary tensor's bytes in order).
//!
//! Every declared size (shapes, `binary_data_size`, the header length) is
//! checked against the body that arrived before anything is allocated for
//! it: the body itself is already capped by the server's limits.

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// What a request can get wrong; each is a 400 with `{"error": message}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

fn bad(message: impl Into<String>) -> ProtocolError {
    ProtocolError(message.into())
}

/// A tensor's elements, by data type.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Bytes(Vec<Vec<u8>>),
    Fp32(Vec<f32>),
    Fp64(Vec<f64>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Bool(Vec<bool>),
}

impl TensorData {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::Bytes(v) => v.len(),
            TensorData::Fp32(v) => v.len(),
            TensorData::Fp64(v) => v.len(),
            TensorData::Int32(v) => v.len(),
            TensorData::Int64(v) => v.len(),
            TensorData::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The protocol's name of the data type.
    pub fn datatype(&self) -> &'static str {
        match self {
            TensorData::Bytes(_) => "BYTES",
            TensorData::Fp32(_) => "FP32",
            TensorData::Fp64(_) => "FP64",
            TensorData::Int32(_) => "INT32",
            TensorData::Int64(_) => "INT64",
            TensorData::Bool(_) => "BOOL",
        }
    }

    /// The elements as JSON (`BYTES` as UTF-8 text, else `None`).
    fn to_json(&self) -> Option<Value> {
        Some(match self {
            TensorData::Bytes(v) => {
                let texts: Option<Vec<&str>> = v.iter().map(|b| std::str::from_utf8(b).ok()).collect();
                json!(texts?)
            }
            TensorData::Fp32(v) => json!(v),
            TensorData::Fp64(v) => json!(v),
            TensorData::Int32(v) => json!(v),
            TensorData::Int64(v) => json!(v),
            TensorData::Bool(v) => json!(v),
        })
    }

    /// The elements in the binary extension's layout: little-endian
    /// numbers; `BYTES` as a 4-byte little-endian length before each.
    fn to_binary(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            TensorData::Bytes(v) => {
                for b in v {
                    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                    out.extend_from_slice(b);
                }
            }
            TensorData::Fp32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Fp64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Int32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Int64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b))),
        }
        out
    }
}

/// One input of a request, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTensor {
    pub name: String,
    pub shape: Vec<u64>,
    pub data: TensorData,
}

/// An output a request asks for, and whether in binary.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestedOutput {
    pub name: String,
    pub binary: bool,
}

/// An inference request, decoded and checked for consistency (shapes
/// against element counts, binary sizes against the body).
#[derive(Debug, Clone, PartialEq)]
pub struct InferRequest {
    pub id: Option<String>,
    pub inputs: Vec<InputTensor>,
    /// `None`: every output, in binary if `binary_data_output` was set.
    pub outputs: Option<Vec<RequestedOutput>>,
    pub binary_data_output: bool,
}

#[derive(Deserialize)]
struct RawRequest {
    id: Option<String>,
    #[serde(default)]
    parameters: Map<String, Value>,
    inputs: Vec<RawInput>,
    outputs: Option<Vec<RawOutput>>,
}

#[derive(Deserialize)]
struct RawInput {
    name: String,
    shape: Vec<u64>,
    datatype: String,
    #[serde(default)]
    parameters: Map<String, Value>,
    data: Option<Value>,
}

#[derive(Deserialize)]
struct RawOutput {
    name: String,
    #[serde(default)]
    parameters: Map<String, Value>,
}

/// Extensions a client may ask for that this server does not implement:
/// refused by name rather than ignored (an ignored one would answer
/// something else than was asked).
const UNSUPPORTED: [(&str, &str); 3] = [
    ("shared_memory_region", "the shared-memory extension"),
    ("classification", "the classification extension"),
    ("sequence_id", "the sequence extension"),
];

fn refuse_unsupported(what: &str, parameters: &Map<String, Value>) -> Result<(), ProtocolError> {
    for (key, extension) in UNSUPPORTED {
        if parameters.contains_key(key) {
            return Err(bad(format!(
                "{what} asks for {extension} (parameter {key:?}), which this server does not implement; send the tensor's data in the request"
            )));
        }
    }
    Ok(())
}

fn flag(parameters: &Map<String, Value>, key: &str, what: &str) -> Result<bool, ProtocolError> {
    match parameters.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(bad(format!(
            "{what}: parameter {key:?} must be true or false, not {other}"
        ))),
    }
}

/// Decodes a request body. `header_length` is the request's
/// `Inference-Header-Content-Length` (binary extension): the JSON is that
/// many bytes, the binary tensors follow. `max_elements` caps every input.
pub fn parse_infer(
    body: &[u8],
    header_length: Option<usize>,
    max_elements: usize,
) -> Result<InferRequest, ProtocolError> {
    let (header, mut binary) = match header_length {
        None => (body, &[][..]),
        Some(n) if n <= body.len() => body.split_at(n),
        Some(n) => {
            return Err(bad(format!(
                "Inference-Header-Content-Length is {n}, but the body has only {} bytes",
                body.len()
            )));
        }
    };
    let raw: RawRequest =
        serde_json::from_slice(header).map_err(|e| bad(format!("the inference request is not valid: {e}")))?;
    refuse_unsupported("the request", &raw.parameters)?;
    let binary_data_output = flag(&raw.parameters, "binary_data_output", "the request")?;
    if raw.inputs.is_empty() {
        return Err(bad("\"inputs\" is empty: send at least one input tensor"));
    }
    let mut inputs = Vec::with_capacity(raw.inputs.len().min(64));
    for input in raw.inputs {
        let what = format!("input {:?}", input.name);
        refuse_unsupported(&what, &input.parameters)?;
        let elements = input
            .shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .filter(|&n| n <= max_elements as u64)
            .ok_or_else(|| {
                bad(format!(
                    "{what}: shape {:?} holds more than the {max_elements} elements one input may have; split the batch",
                    input.shape
                ))
            })? as usize;
        let binary_size = match input.parameters.get("binary_data_size") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                bad(format!(
                    "{what}: binary_data_size must be a whole number of bytes, not {v}"
                ))
            })?),
        };
        let data = match (binary_size, input.data) {
            (Some(_), Some(_)) => return Err(bad(format!("{what} has both \"data\" and binary_data_size: send one"))),
            (None, None) => return Err(bad(format!("{what} has no \"data\" (and no binary_data_size)"))),
            (None, Some(data)) => from_json(&what, &input.datatype, data, elements)?,
            (Some(size), None) => {
                let size = usize::try_from(size)
                    .ok()
                    .filter(|&s| s <= binary.len())
                    .ok_or_else(|| {
                        bad(format!(
                            "{what} declares {size} binary bytes, but only {} follow the JSON",
                            binary.len()
                        ))
                    })?;
                let (mine, rest) = binary.split_at(size);
                binary = rest;
                from_binary(&what, &input.datatype, mine, elements)?
            }
        };
        if data.len() != elements {
            return Err(bad(format!(
                "{what}: shape {:?} is {elements} elements, but the data has {}",
                input.shape,
                data.len()
            )));
        }
        inputs.push(InputTensor {
            name: input.name,
            shape: input.shape,
            data,
        });
    }
    if !binary.is_empty() {
        return Err(bad(format!(
            "{} bytes follow the inputs' binary data that no input declares",
            binary.len()
        )));
    }
    let outputs = match raw.outputs {
        None => None,
        Some(list) => {
            let mut outputs = Vec::with_capacity(list.len().min(64));
            for o in list {
                let what = format!("output {:?}", o.name);
                refuse_unsupported(&what, &o.parameters)?;
                let binary = flag(&o.parameters, "binary_data", &what)? || binary_data_output;
                outputs.push(RequestedOutput { name: o.name, binary });
            }
            Some(outputs)
        }
    };
    Ok(InferRequest {
        id: raw.id,
        inputs,
        outputs,
        binary_data_output,
    })
}

/// JSON data, nested or flat, in row-major order.
fn flatten(value: Value, out: &mut Vec<Value>, limit: usize) -> bool {
    match value {
        Value::Array(items) => items.into_iter().all(|v| flatten(v, out, limit)),
        v => {
            out.push(v);
            out.len() <= limit
        }
    }
}

fn from_json(what: &str, datatype: &str, data: Value, elements: usize) -> Result<TensorData, ProtocolError> {
    let mut flat = Vec::new();
    if !flatten(data, &mut flat, elements) {
        return Err(bad(format!(
            "{what}: the data has more than the shape's {elements} elements"
        )));
    }
    let wrong = |i: usize, v: &Value| bad(format!("{what}: element {i} ({v}) is not a {datatype}"));
    macro_rules! numbers {
        ($variant:ident, $get:expr) => {
            TensorData::$variant(
                flat.iter()
                    .enumerate()
                    .map(|(i, v)| $get(v).ok_or_else(|| wrong(i, v)))
                    .collect::<Result<_, _>>()?,
            )
        };
    }
    Ok(match datatype {
        "BYTES" => numbers!(Bytes, |v: &Value| v.as_str().map(|s| s.as_bytes().to_vec())),
        "FP32" => numbers!(Fp32, |v: &Value| v.as_f64().map(|x| x as f32)),
        "FP64" => numbers!(Fp64, Value::as_f64),
        "INT32" => numbers!(Int32, |v: &Value| v.as_i64().and_then(|x| i32::try_from(x).ok())),
        "INT64" => numbers!(Int64, Value::as_i64),
        "BOOL" => numbers!(Bool, Value::as_bool),
        other => return Err(unknown_datatype(what, other)),
    })
}

fn unknown_datatype(what: &str, datatype: &str) -> ProtocolError {
    bad(format!(
        "{what}: data type {datatype:?} is not one this server reads (BYTES, FP32, FP64, INT32, INT64, BOOL)"
    ))
}

fn from_binary(what: &str, datatype: &str, bytes: &[u8], elements: usize) -> Result<TensorData, ProtocolError> {
    fn fixed<const N: usize, T>(
        what: &str,
        bytes: &[u8],
        elements: usize,
        f: fn([u8; N]) -> T,
    ) -> Result<Vec<T>, ProtocolError> {
        if bytes.len() != elements * N {
            return Err(bad(format!(
                "{what}: {} binary bytes for {elements} elements of {N} bytes",
                bytes.len()
            )));
        }
        Ok(bytes
            .chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect())
    }
    Ok(match datatype {
        "BYTES" => {
            let mut items = Vec::with_capacity(elements.min(bytes.len() / 4));
            let mut rest = bytes;
            while !rest.is_empty() {
                if items.len() == elements {
                    return Err(bad(format!(
                        "{what}: the binary data holds more than {elements} elements"
                    )));
                }
                let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                    return Err(bad(format!("{what}: element {} is cut off in its length", items.len())));
                };
                let len = u32::from_le_bytes(*len) as usize;
                if len > tail.len() {
                    return Err(bad(format!(
                        "{what}: element {} declares {len} bytes, but only {} follow",
                        items.len(),
                        tail.len()
                    )));
                }
                let (item, tail) = tail.split_at(len);
                items.push(item.to_vec());
                rest = tail;
            }
            TensorData::Bytes(items)
        }
        "FP32" => TensorData::Fp32(fixed(what, bytes, elements, f32::from_le_bytes)?),
        "FP64" => TensorData::Fp64(fixed(what, bytes, elements, f64::from_le_bytes)?),
        "INT32" => TensorData::Int32(fixed(what, bytes, elements, i32::from_le_bytes)?),
        "INT64" => TensorData::Int64(fixed(what, bytes, elements, i64::from_le_bytes)?),
        "BOOL" => TensorData::Bool(fixed(what, bytes, elements, |[b]: [u8; 1]| b != 0)?),
        other => return Err(unknown_datatype(what, other)),
    })
}

/// One output of a response.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTensor {
    pub name: String,
    pub shape: Vec<u64>,
    pub data: TensorData,
    /// Extra facts about it (a probabilities output names its labels).
    pub parameters: Map<String, Value>,
}

/// An encoded response: its body, and (when any output is binary) the
/// length of its JSON header for `Inference-Header-Content-Length`.
pub struct EncodedResponse {
    pub body: Vec<u8>,
    pub header_length: Option<usize>,
}

/// Encodes the outputs `request` asked for (all of them when it named
/// none), in JSON or binary as asked. An output asked for that the model
/// does not give is an error naming those it gives.
pub fn encode_response(
    model_name: &str,
    model_version: &str,
    request: &InferRequest,
    outputs: Vec<OutputTensor>,
) -> Result<EncodedResponse, ProtocolError> {
    let chosen: Vec<(OutputTensor, bool)> = match &request.outputs {
        None => outputs.into_iter().map(|o| (o, request.binary_data_output)).collect(),
        Some(asked) => {
            let mut outputs: Vec<Option<OutputTensor>> = outputs.into_iter().map(Some).collect();
            let mut chosen = Vec::with_capacity(asked.len());
            for a in asked {
                let found = outputs
                    .iter_mut()
                    .find(|o| o.as_ref().is_some_and(|o| o.name == a.name));
                match found.and_then(Option::take) {
                    Some(o) => chosen.push((o, a.binary)),
                    None => {
                        return Err(bad(format!(
                            "output {:?} is not one this model gives, or is asked for twice (it gives {})",
                            a.name,
                            outputs_named(&outputs)
                        )));
                    }
                }
            }
            chosen
        }
    };
    let mut blobs = Vec::new();
    let mut json_outputs = Vec::with_capacity(chosen.len());
    for (output, binary) in chosen {
        let mut parameters = output.parameters;
        let mut entry = json!({"name": output.name, "datatype": output.data.datatype(), "shape": output.shape});
        // A BYTES output that is not UTF-8 cannot be JSON: it goes in binary.
        let as_json = if binary { None } else { output.data.to_json() };
        match as_json {
            Some(data) => entry["data"] = data,
            None => {
                let blob = output.data.to_binary();
                parameters.insert("binary_data_size".into(), json!(blob.len()));
                blobs.push(blob);
            }
        }
        if !parameters.is_empty() {
            entry["parameters"] = Value::Object(parameters);
        }
        json_outputs.push(entry);
    }
    let mut response = json!({"model_name": model_name, "model_version": model_version, "outputs": json_outputs});
    if let Some(id) = &request.id {
        response["id"] = json!(id);
    }
    let mut body = serde_json::to_vec(&response).map_err(|e| bad(format!("cannot encode the response: {e}")))?;
    let header_length = (!blobs.is_empty()).then_some(body.len());
    for blob in blobs {
        body.extend_from_slice(&blob);
    }
    Ok(EncodedResponse { body, header_length })
}

fn outputs_named(outputs: &[Option<OutputTensor>]) -> String {
    let names: Vec<&str> = outputs.iter().flatten().map(|o| o.name.as_str()).collect();
    if names.is_empty() {
        "no others".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_tensor(items: &[&str]) -> Vec<u8> {
        TensorData::Bytes(items.iter().map(|s| s.as_bytes().to_vec()).collect()).to_binary()
    }

    #[test]
    fn json_and_binary_requests_decode_to_the_same_tensor() {
        let json_body =
            br#"{"id":"7","inputs":[{"name":"text","shape":[2],"datatype":"BYTES","data":["good","bad"]}]}"#;
        let from_json = parse_infer(json_body, None, 10).unwrap();
        let blob = bytes_tensor(&["good", "bad"]);
        let header = format!(
            r#"{{"id":"7","inputs":[{{"name":"text","shape":[2,1],"datatype":"BYTES","parameters":{{"binary_data_size":{}}}}}],"parameters":{{"binary_data_output":true}}}}"#,
            blob.len()
        );
        let mut body = header.clone().into_bytes();
        body.extend_from_slice(&blob);
        let from_binary = parse_infer(&body, Some(header.len()), 10).unwrap();
        assert_eq!(from_json.inputs[0].data, from_binary.inputs[0].data);
        assert!(from_binary.binary_data_output && !from_json.binary_data_output);
        assert_eq!(from_json.id.as_deref(), Some("7"));
    }

    #[test]
    fn every_inconsistency_is_refused_by_name() {
        let cases: [(&[u8], Option<usize>, &str); 10] = [
            (br#"{"inputs":[]}"#, None, "\"inputs\" is empty"),
            (br#"{"inputs":[{"name":"x","shape":[3],"datatype":"BYTES","data":["a"]}]}"#, None, "3 elements, but the data has 1"),
            (br#"{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a","b"]}]}"#, None, "more than the shape's 1"),
            (br#"{"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"FP32","data":[]}]}"#, None, "more than the 10 elements"),
            (br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["a"]}]}"#, None, "element 0 (\"a\") is not a FP32"),
            (br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP16","data":[1]}]}"#, None, "data type \"FP16\""),
            (br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}"#, None, "has no \"data\""),
            (br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}"#, Some(1000), "Inference-Header-Content-Length is 1000"),
            (br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","parameters":{"shared_memory_region":"r"}}]}"#, None, "shared-memory extension"),
            (br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"y","parameters":{"classification":2}}]}"#, None, "classification extension"),
        ];
        for (body, header, phrase) in cases {
            let e = parse_infer(body, header, 10).unwrap_err();
            assert!(e.0.contains(phrase), "{phrase:?} not in {e}");
        }
        // Binary sizes that lie.
        let header = br#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":16}}]}"#;
        let mut body = header.to_vec();
        body.extend_from_slice(&[0u8; 8]);
        let e = parse_infer(&body, Some(header.len()), 10).unwrap_err();
        assert!(e.0.contains("declares 16 binary bytes, but only 8 follow"), "{e}");
        let header = br#"{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":8}}]}"#;
        let mut body = header.to_vec();
        body.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4]);
        let e = parse_infer(&body, Some(header.len()), 10).unwrap_err();
        assert!(e.0.contains("element 0 declares 200 bytes, but only 4 follow"), "{e}");
        let mut body = br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#.to_vec();
        let n = body.len();
        body.extend_from_slice(b"junk");
        let e = parse_infer(&body, Some(n), 10).unwrap_err();
        assert!(e.0.contains("4 bytes follow"), "{e}");
    }

    #[test]
    fn responses_carry_binary_outputs_after_the_json_header() {
        let request = parse_infer(
            br#"{"id":"a","inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"p","parameters":{"binary_data":true}},{"name":"label"}]}"#,
            None,
            10,
        )
        .unwrap();
        let outputs = vec![
            OutputTensor {
                name: "label".into(),
                shape: vec![1],
                data: TensorData::Bytes(vec![b"pos".to_vec()]),
                parameters: Map::new(),
            },
            OutputTensor {
                name: "p".into(),
                shape: vec![1, 2],
                data: TensorData::Fp32(vec![0.25, 0.75]),
                parameters: Map::new(),
            },
        ];
        let encoded = encode_response("m", "1.0.0", &request, outputs.clone()).unwrap();
        let n = encoded.header_length.unwrap();
        let header: Value = serde_json::from_slice(&encoded.body[..n]).unwrap();
        assert_eq!(header["id"], "a");
        assert_eq!(header["outputs"][0]["name"], "p", "in the order asked");
        assert_eq!(header["outputs"][0]["parameters"]["binary_data_size"], 8);
        assert_eq!(header["outputs"][1]["data"], json!(["pos"]));
        assert_eq!(&encoded.body[n..], TensorData::Fp32(vec![0.25, 0.75]).to_binary());

        let missing = parse_infer(
            br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"nope"}]}"#,
            None,
            10,
        )
        .unwrap();
        let e = encode_response("m", "1", &missing, outputs).err().unwrap();
        assert!(e.0.contains("it gives label, p"), "{e}");
    }
}
