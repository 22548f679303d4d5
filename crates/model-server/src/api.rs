//! The HTTP API: routes, request checks and JSON errors. Every client error
//! is a 4xx with `{"error": {"code", "message"}}`; nothing a client sends
//! makes a 5xx.

use crate::kinds::Failure;
use crate::metrics::{Metrics, RequestLabels, RouteLabels};
use crate::models::Models;
use crate::served::Served;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The OpenAPI 3 document of this API (kept in the repository beside the
/// crate, served at `/openapi.json`).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Request limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most texts in one `/v1/predict` request (413 beyond).
    pub max_texts: usize,
    /// Largest request body in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// How long a client may take to send its body (408 beyond).
    pub body_timeout: Duration,
    /// Predictions of bodies over 16 KiB run at once, each on a thread of
    /// tokio's blocking pool, so the threads answering `/healthz` and
    /// reading requests never wait behind a large one.
    pub prediction_threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_texts: 1000,
            max_body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(10),
            prediction_threads: std::thread::available_parallelism().map_or(2, usize::from),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The served models; `/v1/*` serves the first.
    pub models: Arc<Models>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// False once shutdown began: `/readyz` says so, so a load balancer
    /// stops sending new requests while in-flight ones drain.
    pub accepting: Arc<AtomicBool>,
    /// One permit a running prediction (`Limits::prediction_threads`).
    pub predictions: Arc<tokio::sync::Semaphore>,
}

/// The router with every route, the JSON fallbacks and the metrics layer.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/predict", post(predict))
        .route("/v1/model", get(model))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(crate::v2::routes())
        .merge(crate::mlflow::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// `{"error": {"code": …, "message": …}}` with `status`.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let message: String = message.into();
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

/// Counts every request by route and status, and times it.
async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels { route: route.clone() })
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictRequest {
    texts: Vec<String>,
    #[serde(default)]
    probabilities: bool,
}

/// Whether the request's `Content-Type` is one of `accepted` (media types,
/// parameters such as `charset` aside).
pub fn content_type_is(headers: &HeaderMap, accepted: &[&str]) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| accepted.iter().any(|a| v.trim().eq_ignore_ascii_case(a)))
}

/// A refused body: what `read_body` answers instead of the bytes, as
/// (status, code, message), for each protocol to shape as its errors are.
pub type Refusal = (StatusCode, &'static str, String);

/// Reads a request body within the limits: a declared length past the
/// cap is refused before any of it is read (a chunked body is cut off at
/// the cap as it arrives), and the whole body must arrive within the body
/// timeout.
pub async fn read_body(limits: &Limits, headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, Refusal> {
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is larger than {} bytes: split the batch",
                limits.max_body_bytes
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        // The answer goes out now; the body is read and dropped meanwhile
        // (within the body timeout and a cap), so a client still sending it
        // reads the 413 instead of a reset connection.
        tokio::spawn(discard(body, limits.body_timeout));
        return Err(too_large());
    }
    match tokio::time::timeout(limits.body_timeout, axum::body::to_bytes(body, limits.max_body_bytes)).await {
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("the request body took longer than {:?} to arrive", limits.body_timeout),
        )),
        Ok(Err(e)) if is_length_limit(&e) => Err(too_large()),
        Ok(Err(e)) => Err((
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!("cannot read the body: {e}"),
        )),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// Runs `work` (CPU-bound: parsing and predicting a body of `size` bytes)
/// where it costs least: a small body on the request's own thread, in
/// microseconds (handing it to another thread cost half the requests/s of
/// one-text requests); a larger one on the blocking pool, behind one of
/// the `predictions` permits, so a stream of big batches never holds the
/// threads that read requests and answer `/healthz`. `None` if the work
/// could not run (the server is stopping, or it panicked).
pub async fn run_prediction<T: Send + 'static>(
    state: &AppState,
    inline: bool,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    if inline {
        return Ok(work());
    }
    // The permit closes when the semaphore does, which it never does.
    let permit = state
        .predictions
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| "the server is stopping".to_string())?;
    tokio::task::spawn_blocking(move || {
        let answer = work();
        drop(permit);
        answer
    })
    .await
    .map_err(|e| format!("the prediction stopped: {e}"))
}

async fn predict(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if !content_type_is(&headers, &["application/json"]) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request body as JSON with Content-Type: application/json",
        );
    }
    let bytes = match read_body(&state.limits, &headers, body).await {
        Ok(bytes) => bytes,
        Err((status, code, message)) => return error(status, code, message),
    };
    // The version this request uses, start to end, whatever swaps meanwhile.
    let slot = state.models.first();
    let served = slot.current.load_full();
    let max_texts = state.limits.max_texts;
    let inline = runs_inline(&served, bytes.len());
    match run_prediction(&state, inline, move || answer(&served, &bytes, max_texts)).await {
        Ok((count, response)) => {
            state.metrics.texts.get_or_create(&slot.labels()).inc_by(count);
            response
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "prediction_failed", e),
    }
}

/// Bodies up to this size are parsed and predicted on the request's own
/// thread (a few dozen short texts); larger ones on the blocking pool.
const INLINE_BODY_BYTES: usize = 16 << 10;

/// Whether a body of `size` bytes for `served` runs on the request's own
/// thread ([`run_prediction`]): small, and for a model that never waits
/// on other calls.
pub fn runs_inline(served: &Served, size: usize) -> bool {
    size <= INLINE_BODY_BYTES && !served.model.waits()
}

/// The most of a refused body read and dropped before the connection is
/// closed on the client.
const MAX_DISCARDED_BYTES: usize = 64 << 20;

async fn discard(body: Body, within: Duration) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0usize;
    let _ = tokio::time::timeout(within, async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > MAX_DISCARDED_BYTES {
                break;
            }
        }
    })
    .await;
}

/// Parses, checks and answers one request body (CPU-bound: on the blocking
/// pool). The number of texts labelled (0 on an error) and the response.
fn answer(served: &Served, bytes: &[u8], max_texts: usize) -> (u64, Response) {
    let request: PredictRequest = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        Err(e) if e.is_syntax() || e.is_eof() => {
            return (
                0,
                error(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    format!("the body is not valid JSON: {e}"),
                ),
            );
        }
        Err(e) => {
            return (
                0,
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    format!("{e} (expected {{\"texts\": [\"...\"], \"probabilities\": false}})"),
                ),
            );
        }
    };
    if request.texts.is_empty() {
        return (
            0,
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty_texts",
                "\"texts\" is empty: send at least one text",
            ),
        );
    }
    if request.texts.len() > max_texts {
        return (
            0,
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_texts",
                format!(
                    "{} texts, more than the {} one request may hold: split the batch",
                    request.texts.len(),
                    max_texts
                ),
            ),
        );
    }
    let labels = served.model.labels();
    let predicted = match served.model.predict(&request.texts, request.probabilities) {
        Ok(p) => p,
        Err(e @ Failure::Request(_)) => {
            return (
                0,
                error(StatusCode::UNPROCESSABLE_ENTITY, "not_a_text_model", e.message()),
            );
        }
        Err(e @ Failure::Model(_)) => {
            return (0, error(StatusCode::INTERNAL_SERVER_ERROR, "model_failed", e.message()));
        }
    };
    let predictions: Vec<Value> = predicted
        .into_iter()
        .map(|p| match p.probabilities {
            Some(probs) => {
                let all: serde_json::Map<String, Value> =
                    labels.iter().zip(probs).map(|(l, p)| (l.clone(), json!(p))).collect();
                json!({"label": labels.get(p.label).map_or("", String::as_str), "probability": p.probability, "probabilities": all})
            }
            None => json!({"label": labels.get(p.label).map_or("", String::as_str), "probability": p.probability}),
        })
        .collect();
    let count = predictions.len() as u64;
    (
        count,
        Json(json!({"model": model_id(served), "predictions": predictions})).into_response(),
    )
}

/// Whether reading the body stopped at the size limit (axum wraps the
/// error of `http-body-util`, which it uses underneath).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

pub(crate) fn model_id(served: &Served) -> Value {
    json!({
        "name": served.model_name,
        "version": served.metadata.version.to_string(),
        "alias": served.alias.as_ref().map(ToString::to_string),
    })
}

async fn model(State(state): State<AppState>) -> Response {
    let served = state.models.first().current.load_full();
    let loaded_at = served
        .loaded_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Json(json!({
        "model": model_id(&served),
        "loaded_at": loaded_at,
        "labels": served.model.labels(),
        "model_type": served.model.model_type(),
        "inputs": served.model.inputs(),
        "outputs": served.model.outputs(),
        "metadata": served.metadata,
    }))
    .into_response()
}

async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    if !state.accepting.load(Ordering::Relaxed) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is draining its requests",
        );
    }
    // Every model loaded before the server listened, so it is ready; still
    // a 200 when degraded (the old version serves): an orchestrator reads
    // the body.
    let served = state.models.first().current.load();
    let models: Vec<Value> = state
        .models
        .slots()
        .iter()
        .map(|slot| model_id(&slot.current.load()))
        .collect();
    let degraded = state.models.degraded();
    if degraded.is_empty() {
        Json(json!({"status": "ready", "model": model_id(&served), "models": models}))
    } else {
        Json(json!({"status": "degraded", "model": model_id(&served), "models": models, "reason": degraded.join("; ")}))
    }
    .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route {} (see /openapi.json)", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {} (see /openapi.json)", uri.path()),
    )
}
