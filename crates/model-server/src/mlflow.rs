//! MLflow's scoring protocol (`mlflow models serve`, SageMaker-style
//! deployments): `POST /invocations` with exactly one of `inputs`,
//! `instances`, `dataframe_split` or `dataframe_records` as JSON, or a
//! `text/csv` table, answered `{"predictions": [...]}`; `GET /ping`,
//! `/health` and `/version`. It serves the first `--serve` model, as an
//! MLflow scoring server serves its one model. Errors are MLflow's
//! `{"error_code": "BAD_REQUEST", "message": "..."}`.

use crate::api::{AppState, content_type_is, read_body, run_prediction, runs_inline};
use crate::kinds::Failure;
use crate::oip::{InputTensor, ProtocolError, TensorData};
use crate::served::Served;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use registry_core::json_kind;
use serde_json::{Map, Value, json};

/// The protocol's routes, to merge into the server's router.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/invocations", post(invocations))
        .route("/ping", get(ping))
        .route("/health", get(ping))
        .route("/version", get(version))
}

/// MLflow's error object.
pub fn error(status: StatusCode, error_code: &str, message: impl Into<String>) -> Response {
    let message: String = message.into();
    (status, Json(json!({"error_code": error_code, "message": message}))).into_response()
}

async fn ping() -> Response {
    "\n".into_response()
}

async fn version() -> Response {
    env!("CARGO_PKG_VERSION").into_response()
}

const FORMATS: [&str; 4] = ["inputs", "instances", "dataframe_split", "dataframe_records"];

/// A table as the request gave it: named columns (`None`: a bare list).
type Columns = Vec<(Option<String>, Vec<Value>)>;

fn bad(message: impl Into<String>) -> String {
    message.into()
}

/// Columns from records (`[{"text": "a"}, ...]`), in first-seen key order.
fn from_records(records: &[Value], what: &str) -> Result<Columns, String> {
    let mut columns: Columns = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let Value::Object(fields) = record else {
            return Err(bad(format!("{what}: record {i} is not an object of column values")));
        };
        for (key, value) in fields {
            match columns.iter_mut().find(|(k, _)| k.as_deref() == Some(key)) {
                Some((_, values)) if values.len() == i => values.push(value.clone()),
                Some(_) => return Err(bad(format!("{what}: record {i} repeats or skips column {key:?}"))),
                None if i == 0 => columns.push((Some(key.clone()), vec![value.clone()])),
                None => {
                    return Err(bad(format!(
                        "{what}: record {i} has column {key:?}, which record 0 lacks"
                    )));
                }
            }
        }
        if let Some((k, _)) = columns.iter().find(|(_, v)| v.len() != i + 1) {
            return Err(bad(format!(
                "{what}: record {i} lacks column {:?}",
                k.as_deref().unwrap_or("")
            )));
        }
    }
    Ok(columns)
}

/// The table a JSON body holds (exactly one of [`FORMATS`]).
fn from_json(body: &[u8]) -> Result<(Columns, Map<String, Value>), String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(bad(format!(
            "the input must be a JSON object with exactly one of the fields {FORMATS:?}"
        )));
    };
    let params = match object.remove("params") {
        None => Map::new(),
        Some(Value::Object(p)) => p,
        Some(other) => return Err(bad(format!("\"params\" must be an object, not {other}"))),
    };
    let given: Vec<&str> = FORMATS.into_iter().filter(|f| object.contains_key(*f)).collect();
    let [format] = given.as_slice() else {
        return Err(bad(format!(
            "the input must be a JSON object with exactly one of the fields {FORMATS:?}; it has {:?}",
            object.keys().collect::<Vec<_>>()
        )));
    };
    let data = object.remove(*format).unwrap_or(Value::Null);
    let columns = match (*format, data) {
        ("inputs", Value::Object(named)) => named
            .into_iter()
            .map(|(k, v)| match v {
                Value::Array(items) => Ok((Some(k), items)),
                other => Ok((Some(k), vec![other])),
            })
            .collect::<Result<Columns, String>>()?,
        ("inputs", Value::Array(items)) => vec![(None, items)],
        ("instances", Value::Array(items)) if items.iter().all(Value::is_object) && !items.is_empty() => {
            from_records(&items, "instances")?
        }
        ("instances", Value::Array(items)) => vec![(None, items)],
        ("dataframe_records", Value::Array(items)) => from_records(&items, "dataframe_records")?,
        ("dataframe_split", Value::Object(mut split)) => {
            let names = match split.remove("columns") {
                Some(Value::Array(names)) => names,
                _ => {
                    return Err(bad(
                        "dataframe_split needs \"columns\": [names] and \"data\": [[row], ...]",
                    ));
                }
            };
            let Some(Value::Array(rows)) = split.remove("data") else {
                return Err(bad("dataframe_split needs \"data\": [[row], ...]"));
            };
            let mut columns: Columns = names
                .iter()
                .map(|n| {
                    (
                        Some(n.as_str().map_or_else(|| n.to_string(), str::to_string)),
                        Vec::with_capacity(rows.len()),
                    )
                })
                .collect();
            for (i, row) in rows.into_iter().enumerate() {
                let Value::Array(cells) = row else {
                    return Err(bad(format!("dataframe_split: row {i} is not a list of cells")));
                };
                if cells.len() != columns.len() {
                    return Err(bad(format!(
                        "dataframe_split: row {i} has {} cells for {} columns",
                        cells.len(),
                        columns.len()
                    )));
                }
                for (column, cell) in columns.iter_mut().zip(cells) {
                    column.1.push(cell);
                }
            }
            columns
        }
        (format, other) => {
            return Err(bad(format!(
                "{format} must be {}, not {}",
                if format == "dataframe_split" {
                    "an object"
                } else {
                    "a list"
                },
                json_kind(&other)
            )));
        }
    };
    Ok((columns, params))
}

/// The table a `text/csv` body holds: a header row, then one row each.
fn from_csv(body: &[u8]) -> Result<Columns, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("the CSV header row cannot be read: {e}")))?
        .clone();
    let mut columns: Columns = headers.iter().map(|h| (Some(h.to_string()), Vec::new())).collect();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("CSV row {} cannot be read: {e}", i + 1)))?;
        for (column, cell) in columns.iter_mut().zip(record.iter()) {
            column.1.push(Value::String(cell.to_string()));
        }
    }
    Ok(columns)
}

/// One JSON value per row of `output` (a scalar for `[N]`, a list for
/// `[N, ...]`).
fn rows(output: &crate::oip::OutputTensor, n: usize) -> Vec<Value> {
    let all: Vec<Value> = match &output.data {
        TensorData::Bytes(v) => v.iter().map(|b| json!(String::from_utf8_lossy(b))).collect(),
        TensorData::Fp32(v) => v.iter().map(|x| json!(x)).collect(),
        TensorData::Fp64(v) => v.iter().map(|x| json!(x)).collect(),
        TensorData::Int32(v) => v.iter().map(|x| json!(x)).collect(),
        TensorData::Int64(v) => v.iter().map(|x| json!(x)).collect(),
        TensorData::Bool(v) => v.iter().map(|x| json!(x)).collect(),
    };
    let per_row = all.len().checked_div(n).unwrap_or(0);
    if output.shape.len() <= 1 || per_row <= 1 {
        return all;
    }
    all.chunks(per_row).map(|c| Value::Array(c.to_vec())).collect()
}

/// The `[N, F]` input of a tensor model from a table: the column named as
/// the input (rows of F numbers), else the only column (rows, or one
/// number each), else every column (F columns of numbers, in order).
fn numeric_input(columns: Columns, spec: &crate::kinds::TensorSpec) -> Result<InputTensor, String> {
    let only = columns.len() == 1;
    let named = columns
        .iter()
        .position(|(k, _)| k.as_deref() == Some(spec.name.as_str()));
    let table: Vec<Vec<Value>> = match (named, only) {
        (Some(i), _) => columns
            .into_iter()
            .nth(i)
            .map(|(_, v)| v)
            .unwrap_or_default()
            .into_iter()
            .map(row_of)
            .collect(),
        (None, true) => columns
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or_default()
            .into_iter()
            .map(row_of)
            .collect(),
        (None, false) => {
            let n = columns.first().map_or(0, |(_, v)| v.len());
            (0..n)
                .map(|r| {
                    columns
                        .iter()
                        .map(|(_, v)| v.get(r).cloned().unwrap_or(Value::Null))
                        .collect()
                })
                .collect()
        }
    };
    let width = table.first().map_or(0, Vec::len);
    let mut flat = Vec::with_capacity(table.len() * width);
    for (r, row) in table.iter().enumerate() {
        if row.len() != width {
            return Err(bad(format!("row {r} has {} values, row 0 has {width}", row.len())));
        }
        for (c, v) in row.iter().enumerate() {
            // CSV cells arrive as text.
            let x = v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
            flat.push(x.ok_or_else(|| bad(format!("row {r}, value {c} is {}, not a number", json_kind(v))))?);
        }
    }
    let data = match spec.datatype {
        "FP32" => TensorData::Fp32(flat.iter().map(|&x| x as f32).collect()),
        "FP64" => TensorData::Fp64(flat),
        "INT64" => TensorData::Int64(flat.iter().map(|&x| x as i64).collect()),
        "INT32" => TensorData::Int32(flat.iter().map(|&x| x as i32).collect()),
        other => {
            return Err(bad(format!(
                "input {:?} is {other}, which /invocations does not fill; use /v2",
                spec.name
            )));
        }
    };
    Ok(InputTensor {
        name: spec.name.clone(),
        shape: vec![table.len() as u64, width as u64],
        data,
    })
}

fn row_of(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        other => vec![other],
    }
}

/// The texts for a text model's input `name`: its column, or the only one.
fn texts_for(columns: Columns, name: &str) -> Result<Vec<Vec<u8>>, String> {
    let names: Vec<String> = columns.iter().map(|(k, _)| k.clone().unwrap_or_default()).collect();
    let only = columns.len() == 1;
    let Some((_, values)) = columns.into_iter().find(|(k, _)| only || k.as_deref() == Some(name)) else {
        return Err(bad(format!(
            "no column {name:?} among {names:?}: this model reads texts from it"
        )));
    };
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.into_bytes()),
            other => Err(bad(format!("row {i} is {}, not a text", json_kind(&other)))),
        })
        .collect()
}

/// Parses, predicts and answers (CPU-bound). The rows labelled and the
/// response body.
fn answer(served: &Served, csv: bool, body: &[u8], max_rows: usize) -> Result<(u64, Value), Failure> {
    let request = |e: String| Failure::Request(ProtocolError(e));
    let (columns, params) = if csv {
        (from_csv(body).map_err(request)?, Map::new())
    } else {
        from_json(body).map_err(request)?
    };
    let probabilities = match params.get("probabilities") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(request(bad(format!(
                "params.probabilities must be true or false, not {other}"
            ))));
        }
    };
    let spec = served
        .model
        .inputs()
        .into_iter()
        .next()
        .ok_or_else(|| request(bad("the model declares no input")))?;
    let input = if spec.datatype == "BYTES" {
        let texts = texts_for(columns, &spec.name).map_err(request)?;
        InputTensor {
            name: spec.name.clone(),
            shape: vec![texts.len() as u64],
            data: TensorData::Bytes(texts),
        }
    } else {
        numeric_input(columns, &spec).map_err(request)?
    };
    let n = input.shape.first().copied().unwrap_or(0);
    if n == 0 {
        return Err(request(bad("no rows to predict")));
    }
    if n > max_rows as u64 {
        return Err(request(bad(format!(
            "{n} rows, more than the {max_rows} one request may hold: split the batch"
        ))));
    }
    let outputs = served.model.infer(vec![input])?;
    // The first output is the prediction (a classifier's label); with
    // params.probabilities, the output that names its labels gives each.
    let first = outputs
        .first()
        .ok_or_else(|| Failure::Model(bad("the model gives no output")))?;
    let labels = rows(first, n as usize);
    let predictions: Vec<Value> = if probabilities {
        let p = outputs
            .iter()
            .find(|o| o.parameters.contains_key("labels"))
            .ok_or_else(|| request(bad("the model gives no probabilities output")))?;
        let names: Vec<String> = p.parameters["labels"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        labels
            .into_iter()
            .zip(rows(p, n as usize))
            .map(|(label, row)| {
                let row = row.as_array().cloned().unwrap_or_default();
                let all: Map<String, Value> = names.iter().cloned().zip(row).collect();
                json!({"label": label, "probabilities": all})
            })
            .collect()
    } else {
        labels
    };
    Ok((n, json!({"predictions": predictions})))
}

async fn invocations(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let csv = content_type_is(&headers, &["text/csv"]);
    if !csv && !content_type_is(&headers, &["application/json"]) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "send application/json (with one of inputs, instances, dataframe_split, dataframe_records) or text/csv",
        );
    }
    let bytes = match read_body(&state.limits, &headers, body).await {
        Ok(bytes) => bytes,
        Err((status, _, message)) => return error(status, "BAD_REQUEST", message),
    };
    let slot = state.models.first();
    let served = slot.current.load_full();
    let max = state.limits.max_texts;
    let inline = runs_inline(&served, bytes.len());
    match run_prediction(&state, inline, move || answer(&served, csv, &bytes, max)).await {
        Ok(Ok((count, body))) => {
            state.metrics.texts.get_or_create(&slot.labels()).inc_by(count);
            Json(body).into_response()
        }
        Ok(Err(e @ Failure::Request(_))) => error(StatusCode::BAD_REQUEST, "BAD_REQUEST", e.message()),
        Ok(Err(e @ Failure::Model(_))) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", e.message()),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &str) -> Result<Vec<String>, String> {
        let (columns, _) = from_json(body.as_bytes())?;
        Ok(texts_for(columns, "text")?
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect())
    }

    #[test]
    fn every_format_gives_the_same_texts() {
        let want = vec!["a".to_string(), "b".to_string()];
        for body in [
            r#"{"inputs": ["a", "b"]}"#,
            r#"{"inputs": {"text": ["a", "b"]}}"#,
            r#"{"instances": ["a", "b"]}"#,
            r#"{"instances": [{"text": "a"}, {"text": "b"}]}"#,
            r#"{"dataframe_records": [{"text": "a"}, {"text": "b"}]}"#,
            r#"{"dataframe_split": {"columns": ["text"], "data": [["a"], ["b"]]}}"#,
            r#"{"dataframe_split": {"index": [0, 1], "columns": ["id", "text"], "data": [[1, "a"], [2, "b"]]}}"#,
        ] {
            assert_eq!(texts(body).unwrap(), want, "{body}");
        }
        let columns = from_csv(b"text\na\n\"b\"\n").unwrap();
        let got: Vec<Vec<u8>> = texts_for(columns, "text").unwrap();
        assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn bad_tables_are_refused_by_name() {
        for (body, phrase) in [
            (r#"["a"]"#, "exactly one of the fields"),
            (r#"{"inputs": ["a"], "instances": ["a"]}"#, "exactly one of the fields"),
            (r#"{"texts": ["a"]}"#, "exactly one of the fields"),
            (r#"{"inputs": [1]}"#, "row 0 is a number, not a text"),
            (r#"{"inputs": {"id": [1], "words": ["a"]}}"#, "no column \"text\""),
            (
                r#"{"dataframe_split": {"columns": ["text"], "data": [["a", "b"]]}}"#,
                "row 0 has 2 cells for 1 columns",
            ),
            (
                r#"{"dataframe_records": [{"text": "a"}, {"other": "b"}]}"#,
                "which record 0 lacks",
            ),
            (r#"{"dataframe_split": ["a"]}"#, "must be an object, not a list"),
            (r#"{"inputs": ["a"], "params": 3}"#, "\"params\" must be an object"),
        ] {
            let e = texts(body).unwrap_err();
            assert!(e.contains(phrase), "{phrase:?} not in {e}");
        }
    }
}
