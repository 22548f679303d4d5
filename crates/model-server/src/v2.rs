//! The Open Inference Protocol v2 over REST (KServe, Triton, MLServer):
//! health, server and model metadata, model readiness and inference, for
//! every served model by its registry name (`default` for the model
//! without one), with the `/versions/{version}` forms. Errors are the
//! protocol's `{"error": "..."}`; nothing a client sends makes a 5xx.

use crate::api::{AppState, content_type_is, read_body, run_prediction, runs_inline};
use crate::kinds::Failure;
use crate::models::{NotServed, Slot};
use crate::oip::{self, EncodedResponse};
use crate::served::Served;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The binary tensor data extension's header: the length of the JSON part.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// The protocol's routes, to merge into the server's router.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/versions/{version}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/versions/{version}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route("/v2/models/{name}/versions/{version}/infer", post(infer))
}

/// The protocol's error object with `status`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let message: String = message.into();
    (status, Json(json!({"error": message}))).into_response()
}

fn not_served(e: NotServed) -> Response {
    error(StatusCode::NOT_FOUND, e.0)
}

/// The model (and version) a path names: `(name)` or `(name, version)`.
type ModelPath = Result<Path<Vec<String>>, PathRejection>;

/// What serves the model (and version) `path` names, now.
fn resolve(state: &AppState, path: ModelPath) -> Result<(&Slot, Arc<Served>), Box<Response>> {
    let refused = |r: Response| Box::new(r);
    let Path(parts) = path.map_err(|e| refused(error(StatusCode::BAD_REQUEST, format!("bad path: {e}"))))?;
    match parts.as_slice() {
        [name] => {
            let slot = state.models.named(name).map_err(|e| refused(not_served(e)))?;
            Ok((slot, slot.current.load_full()))
        }
        [name, version] => state.models.version(name, version).map_err(|e| refused(not_served(e))),
        _ => Err(refused(error(StatusCode::NOT_FOUND, "no such model path"))),
    }
}

async fn server_metadata() -> Response {
    Json(json!({
        "name": "modelreg model-server",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data"],
    }))
    .into_response()
}

async fn live() -> Response {
    Json(json!({"live": true})).into_response()
}

/// Ready once every model loaded (they all did before the server listened)
/// and until shutdown begins.
async fn ready(State(state): State<AppState>) -> Response {
    if state.accepting.load(Ordering::Relaxed) {
        Json(json!({"ready": true})).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ready": false}))).into_response()
    }
}

async fn model_ready(State(state): State<AppState>, path: ModelPath) -> Response {
    match resolve(&state, path) {
        Ok((slot, _)) => {
            Json(json!({"name": slot.name(), "ready": state.accepting.load(Ordering::Relaxed)})).into_response()
        }
        Err(response) => *response,
    }
}

async fn model_metadata(State(state): State<AppState>, path: ModelPath) -> Response {
    let versioned = matches!(&path, Ok(Path(parts)) if parts.len() == 2);
    let (slot, served) = match resolve(&state, path) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let model = &served.model;
    let labels = model.labels();
    let outputs: Vec<Value> = model
        .outputs()
        .into_iter()
        .map(|o| {
            let mut tensor = json!(o);
            // The order of a probabilities output's columns.
            if o.shape.len() == 2 && o.shape[1] == labels.len() as i64 {
                tensor["parameters"] = json!({"labels": labels});
            }
            tensor
        })
        .collect();
    let versions = if versioned {
        vec![served.metadata.version.to_string()]
    } else {
        state.models.versions_of(slot.name())
    };
    Json(json!({
        "name": slot.name(),
        "versions": versions,
        "platform": model.model_type(),
        "inputs": model.inputs(),
        "outputs": outputs,
        "parameters": {
            "version": served.metadata.version.to_string(),
            "alias": served.alias.as_ref().map(ToString::to_string),
            "labels": labels,
        },
    }))
    .into_response()
}

async fn infer(State(state): State<AppState>, path: ModelPath, headers: HeaderMap, body: Body) -> Response {
    // JSON, or JSON followed by binary tensors; tritonclient may send
    // either without a Content-Type.
    if headers.contains_key(header::CONTENT_TYPE)
        && !content_type_is(&headers, &["application/json", "application/octet-stream"])
    {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the inference request as application/json (or application/octet-stream with Inference-Header-Content-Length)",
        );
    }
    let header_length = match headers.get(HEADER_LENGTH) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|v| v.trim().parse::<usize>().ok()) {
            Some(n) => Some(n),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Inference-Header-Content-Length must be the JSON header's length in bytes",
                );
            }
        },
    };
    let (slot, served) = match resolve(&state, path) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let labels = slot.labels();
    let bytes = match read_body(&state.limits, &headers, body).await {
        Ok(bytes) => bytes,
        Err((status, _, message)) => return error(status, message),
    };
    // Every element takes at least a byte of the body, so the body's cap
    // bounds any tensor; texts have their own cap, as on /v1.
    let (max_elements, max_texts) = (state.limits.max_body_bytes, state.limits.max_texts);
    let name = slot.name().to_string();
    let inline = runs_inline(&served, bytes.len());
    let work = move || -> Result<(u64, EncodedResponse), Failure> {
        let request = oip::parse_infer(&bytes, header_length, max_elements)?;
        if let Some(texts) = request
            .inputs
            .iter()
            .find(|i| matches!(i.data, oip::TensorData::Bytes(_)) && i.data.len() > max_texts)
        {
            return Err(oip::ProtocolError(format!(
                "input {:?} holds {} texts, more than the {max_texts} one request may hold: split the batch",
                texts.name,
                texts.data.len()
            ))
            .into());
        }
        let count = request
            .inputs
            .first()
            .map_or(0, |i| i.shape.first().copied().unwrap_or(0));
        let outputs = served.model.infer(request.inputs.clone())?;
        let version = served.metadata.version.to_string();
        Ok((count, oip::encode_response(&name, &version, &request, outputs)?))
    };
    match run_prediction(&state, inline, work).await {
        Ok(Ok((count, encoded))) => {
            state.metrics.texts.get_or_create(&labels).inc_by(count);
            respond(encoded)
        }
        Ok(Err(e)) => error(e.status(StatusCode::BAD_REQUEST), e.message()),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

fn respond(encoded: EncodedResponse) -> Response {
    let mut response = Body::from(encoded.body).into_response();
    let headers = response.headers_mut();
    match encoded.header_length {
        Some(n) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(HEADER_LENGTH, HeaderValue::from(n));
        }
        None => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
    }
    response
}
