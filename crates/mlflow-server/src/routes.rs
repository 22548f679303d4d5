//! The route table: every endpoint, whether it reads or writes (a write is
//! refused by `--read-only`, and always needs the token; a read needs it
//! unless `--public-reads`), and MLflow's error shape for paths and
//! methods that are not endpoints.

use crate::error::ApiError;
use crate::request::Req;
use crate::{Shared, artifacts, logged, models, page, publish, search, tracking};
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{Method, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use serde_json::json;

/// A handler of `Fn(&Server, Request) -> ApiResult<Value>` on the blocking pool.
macro_rules! op {
    ($f:path) => {
        |State(s): State<Shared>, Req(r): Req<_>| async move {
            crate::blocking(move || $f(&s, r)).await.map(axum::Json)
        }
    };
}

/// The same, with the logged model's id from the path.
macro_rules! op_id {
    ($f:path) => {
        |State(s): State<Shared>, Path(id): Path<String>, Req(r): Req<_>| async move {
            crate::blocking(move || $f(&s, id, r)).await.map(axum::Json)
        }
    };
}

const API: &str = "/api/2.0/mlflow";

pub fn router(state: Shared) -> Router {
    let w = |m: MethodRouter<Shared>| m.layer(from_fn_with_state(state.clone(), guard_write));
    let r = |m: MethodRouter<Shared>| m.layer(from_fn_with_state(state.clone(), guard_read));
    let at = |p: &str| format!("{API}/{p}");
    Router::new()
        .route("/", r(get(page::report)))
        .route("/health", get(|| async { "OK" }))
        .route("/api/3.0/mlflow/server-info", r(get(server_info)))
        // Experiments and runs.
        .route(
            &at("experiments/get-by-name"),
            r(get(op!(tracking::get_experiment_by_name))),
        )
        .route(&at("experiments/get"), r(get(op!(tracking::get_experiment))))
        .route(&at("experiments/create"), w(post(op!(tracking::create_experiment))))
        .route(&at("runs/create"), w(post(op!(tracking::create_run))))
        .route(&at("runs/get"), r(get(op!(tracking::get_run))))
        .route(&at("runs/update"), w(post(op!(tracking::update_run_request))))
        .route(&at("runs/log-batch"), w(post(op!(tracking::log_batch))))
        .route(&at("runs/log-parameter"), w(post(op!(tracking::log_param))))
        .route(&at("runs/log-metric"), w(post(op!(tracking::log_metric))))
        .route(&at("runs/set-tag"), w(post(op!(tracking::set_tag))))
        .route(&at("runs/outputs"), w(post(op!(logged::log_outputs))))
        .route(&at("runs/log-model"), w(post(op!(tracking::log_model))))
        .route(&at("metrics/get-history"), r(get(op!(tracking::get_metric_history))))
        // Logged models (MLflow 3's log_model).
        .route(&at("logged-models"), w(post(op!(logged::create_logged_model))))
        .route(&at("logged-models/search"), r(post(op!(logged::search_logged_models))))
        .route(
            &at("logged-models/{id}"),
            r(get(|State(s): State<Shared>, Path(id): Path<String>| async move {
                crate::blocking(move || logged::get_logged_model(&s, id))
                    .await
                    .map(axum::Json)
            }))
            .merge(w(patch(op_id!(logged::finalize_logged_model)))),
        )
        .route(
            &at("logged-models/{id}/tags"),
            w(patch(op_id!(logged::set_logged_model_tags))),
        )
        .route(
            &at("logged-models/{id}/params"),
            w(post(op_id!(logged::log_logged_model_params))),
        )
        // Registered models, versions, aliases.
        .route(
            &at("registered-models/create"),
            w(post(op!(models::create_registered_model))),
        )
        .route(&at("registered-models/get"), r(get(op!(models::get_registered_model))))
        .route(
            &at("registered-models/search"),
            r(get(op!(search::search_registered_models))),
        )
        .route(
            &at("registered-models/update"),
            w(patch(op!(models::update_registered_model))),
        )
        .route(
            &at("registered-models/set-tag"),
            w(post(op!(models::set_registered_model_tag))),
        )
        .route(
            &at("registered-models/delete-tag"),
            w(delete(op!(models::delete_registered_model_tag))),
        )
        .route(
            &at("registered-models/get-latest-versions"),
            r(post(op!(models::get_latest_versions)).get(op!(models::get_latest_versions))),
        )
        .route(
            &at("registered-models/alias"),
            r(get(op!(models::get_by_alias)))
                .merge(w(post(op!(models::set_alias))))
                .merge(w(delete(op!(models::delete_alias)))),
        )
        .route(
            &at("model-versions/create"),
            w(post(op!(publish::create_model_version))),
        )
        .route(&at("model-versions/get"), r(get(op!(models::get_model_version))))
        .route(&at("model-versions/search"), r(get(op!(search::search_model_versions))))
        .route(
            &at("model-versions/update"),
            w(patch(op!(models::update_model_version))),
        )
        .route(
            &at("model-versions/set-tag"),
            w(post(op!(models::set_model_version_tag))),
        )
        .route(
            &at("model-versions/delete-tag"),
            w(delete(op!(models::delete_model_version_tag))),
        )
        .route(
            &at("model-versions/get-download-uri"),
            r(get(op!(models::get_download_uri))),
        )
        // Artifacts.
        .route("/api/2.0/mlflow-artifacts/artifacts", r(get(op!(artifacts::list))))
        .route(
            "/api/2.0/mlflow-artifacts/artifacts/{*path}",
            r(get(artifacts::download)).merge(w(put(artifacts::upload))),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> Response {
    // For whoever runs the server: which call of a client is missing.
    eprintln!("registry serve: no endpoint {method} {}", uri.path());
    ApiError::endpoint_not_found(method.as_str(), uri.path()).into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "ENDPOINT_NOT_FOUND",
        format!("{} does not take {method} here", uri.path()),
    )
    .into_response()
}

/// What MLflow 3's client asks a server before it logs: no optional features.
async fn server_info() -> axum::Json<serde_json::Value> {
    axum::Json(json!({
        "store_type": "modelreg",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {},
    }))
}

/// Whether the request carries the token (`Authorization: Bearer <token>`).
fn authorised(s: &Shared, request: &Request) -> bool {
    let Some(token) = &s.options.token else { return true };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    use subtle::ConstantTimeEq;
    given.len() == token.len() && bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

fn unauthenticated(request: &Request) -> Response {
    let missing = !request.headers().contains_key(header::AUTHORIZATION);
    ApiError::unauthenticated(if missing {
        "this server requires a token: set MLFLOW_TRACKING_TOKEN to the contents of its --token-file"
    } else {
        "the token given is not this server's: set MLFLOW_TRACKING_TOKEN to the contents of its --token-file"
    })
    .into_response()
}

async fn guard_read(State(s): State<Shared>, request: Request, next: Next) -> Response {
    if !s.options.public_reads && !authorised(&s, &request) {
        return unauthenticated(&request);
    }
    next.run(request).await
}

async fn guard_write(State(s): State<Shared>, request: Request, next: Next) -> Response {
    if !authorised(&s, &request) {
        return unauthenticated(&request);
    }
    if s.options.read_only {
        return ApiError::read_only().into_response();
    }
    next.run(request).await
}
